"""MNIST handwritten digits, as ``keras.datasets.mnist.load_data()``: uint8 images (n, 28, 28), uint8 labels.

Reads the four original IDX gzip files from `path` or from ``~/.tinygrad_relu/datasets/mnist``,
downloading them (sha256-checked) when missing and the network allows.
"""
from ._idx import load_four_files

BASE_URLS = ("https://storage.googleapis.com/cvdf-datasets/mnist/",)
FILES = {  # key -> (file name, sha256 of the published gzip file)
    "train_images": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}


def load_data(path=None):
    """Return ``(x_train, y_train), (x_test, y_test)``; `path` is a folder holding the four files."""
    return load_four_files("mnist", FILES, BASE_URLS, path)
