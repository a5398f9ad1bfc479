"""Fashion-MNIST (Zalando), as ``keras.datasets.fashion_mnist.load_data()``: same shapes as MNIST.

Reads the four IDX gzip files from `path` or from ``~/.tinygrad_relu/datasets/fashion-mnist``,
downloading them (sha256-checked) from Keras' storage when missing and the network allows.
"""
from ._idx import load_four_files

BASE_URLS = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",)
FILES = {  # key -> (file name, sha256 of the published gzip file)
    "train_images": ("train-images-idx3-ubyte.gz", "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data(path=None):
    """Return ``(x_train, y_train), (x_test, y_test)``; `path` is a folder holding the four files."""
    return load_four_files("fashion-mnist", FILES, BASE_URLS, path)
