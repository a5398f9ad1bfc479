"""Every script in examples/ runs to the end (reduced sizes via TINYGRAD_RELU_EXAMPLE_SMALL=1)."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_relu.datasets import _idx

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
EXPECTED = ["01_relu_basics.py", "02_backprop_by_hand.py", "03_vanishing_gradients.py", "04_dying_relu.py",
            "05_keras_mlp.py", "06_keras_cnn.py", "07_mnist.py"]


def run_example(path, home, timeout=240):
    env = dict(os.environ)
    env.update({
        "TINYGRAD_RELU_EXAMPLE_SMALL": "1",
        "TINYGRAD_RELU_OFFLINE": "1",      # never download in tests
        "TINYGRAD_RELU_HOME": str(home),   # an empty cache unless the test fills it
        "MPLBACKEND": "Agg",
        # small matrices gain nothing from a second BLAS thread, and on a busy CI box it waits for a core
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    return subprocess.run([sys.executable, str(path)], cwd=str(home), env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_all_expected_examples_exist():
    names = [p.name for p in EXAMPLES]
    missing = [n for n in EXPECTED if n not in names]
    assert not missing, f"examples missing: {missing}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    result = run_example(path, tmp_path)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{path.name} printed nothing"
    assert "Traceback" not in result.stderr


def test_mnist_example_without_data_says_where_to_put_files(tmp_path):
    result = run_example(ROOT / "examples" / "07_mnist.py", tmp_path)
    assert result.returncode == 0
    assert str(tmp_path / "datasets" / "mnist") in result.stdout
    assert "train-images-idx3-ubyte.gz" in result.stdout


def test_mnist_example_trains_on_idx_files(tmp_path):
    """With (synthetic) IDX files in the cache, 07_mnist.py takes its training path."""
    rng = np.random.default_rng(0)

    def images(labels):
        pictures = rng.integers(0, 40, (len(labels), 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):  # a bright bar whose row says the digit
            pictures[i, 2 + 2 * label: 4 + 2 * label, 4:24] = 255
        return pictures

    train_labels = rng.integers(0, 10, 600).astype(np.uint8)
    test_labels = rng.integers(0, 10, 200).astype(np.uint8)
    folder = tmp_path / "datasets" / "mnist"
    folder.mkdir(parents=True)
    _idx.write_idx(folder / "train-images-idx3-ubyte.gz", images(train_labels))
    _idx.write_idx(folder / "train-labels-idx1-ubyte.gz", train_labels)
    _idx.write_idx(folder / "t10k-images-idx3-ubyte.gz", images(test_labels))
    _idx.write_idx(folder / "t10k-labels-idx1-ubyte.gz", test_labels)
    result = run_example(ROOT / "examples" / "07_mnist.py", tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "600 training and 200 test images" in result.stdout
    accuracy = float(result.stdout.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 50  # the bar is easy to read: the net learns it
    assert "dead units" in result.stdout
