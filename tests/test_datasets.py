"""Datasets: synthetic generators (shape, determinism, learnable structure) and the IDX loaders."""
import gzip
import os

import numpy as np
import pytest

from tinygrad_relu import datasets
from tinygrad_relu.datasets import _idx, fashion_mnist, mnist


@pytest.mark.parametrize("name", sorted(datasets.GENERATORS))
def test_generator_shapes_dtypes_and_split(name):
    (x, y), (x_test, y_test) = datasets.GENERATORS[name](n_samples=400, seed=3)
    assert x.dtype == np.float32 and x_test.dtype == np.float32
    assert y.dtype == np.int64 and y_test.dtype == np.int64
    assert x.shape == (300, 2) and x_test.shape == (100, 2)
    assert y.shape == (300,) and y_test.shape == (100,)
    assert np.all(np.isfinite(x))
    classes = np.unique(np.concatenate([y, y_test]))
    assert classes[0] == 0 and np.array_equal(classes, np.arange(len(classes)))
    # classes are balanced (within one sample) before the split
    counts = np.bincount(np.concatenate([y, y_test]))
    assert counts.max() - counts.min() <= 1 or name == "xor"


@pytest.mark.parametrize("name", sorted(datasets.GENERATORS))
def test_generator_deterministic_by_seed(name):
    gen = datasets.GENERATORS[name]
    (a, ya), (at, yat) = gen(n_samples=200, seed=7)
    (b, yb), (bt, ybt) = gen(n_samples=200, seed=7)
    (c, _), _ = gen(n_samples=200, seed=8)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert np.array_equal(at, bt) and np.array_equal(yat, ybt)
    assert not np.array_equal(a, c)


def test_spirals_arms_and_not_linearly_separable():
    (x, y), _ = datasets.spirals(n_samples=900, arms=4, noise=0.1, seed=0)
    assert sorted(np.unique(y).tolist()) == [0, 1, 2, 3]
    assert np.abs(x).max() <= 1.0 + 1e-6  # radius never exceeds 1
    # least squares on one-hot targets: the best linear classifier is poor on spirals
    design = np.hstack([x, np.ones((len(x), 1))])
    weights, *_ = np.linalg.lstsq(design, np.eye(4)[y], rcond=None)
    linear_accuracy = np.mean(np.argmax(design @ weights, axis=1) == y)
    assert linear_accuracy < 0.6


def test_circles_radii_and_xor_labels():
    (x, y), _ = datasets.circles(n_samples=400, noise=0.0, factor=0.4, seed=1)
    radius = np.linalg.norm(x, axis=1)
    assert np.allclose(radius[y == 0], 1.0, atol=1e-5)
    assert np.allclose(radius[y == 1], 0.4, atol=1e-5)
    (x, y), _ = datasets.xor(n_samples=400, seed=2)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(np.int64))
    assert np.abs(x).min() >= 0.05 - 1e-6


def test_blobs_explicit_centres():
    centres = [[-5.0, 0.0], [5.0, 0.0]]
    (x, y), _ = datasets.blobs(n_samples=200, centers=centres, cluster_std=0.1, seed=0)
    assert np.all((x[:, 0] > 0) == (y == 1))


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="spirals.*arms"):
        datasets.spirals(arms=1)
    with pytest.raises(ValueError, match="test_fraction"):
        datasets.moons(test_fraction=1.5)
    with pytest.raises(TypeError, match="n_samples"):
        datasets.circles(n_samples=10.5)
    with pytest.raises(ValueError, match="unknown dataset 'cifar'.*spirals"):
        datasets.load("cifar")


# ---- IDX ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    array = (np.arange(60).reshape(3, 4, 5) % 100).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if compress else ""))
    _idx.write_idx(path, array)
    back = _idx.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    assert np.array_equal(back, array)


def test_idx_header_is_big_endian_and_matches_spec(tmp_path):
    path = tmp_path / "labels.idx"
    _idx.write_idx(path, np.array([7, 2, 1], dtype=np.int32))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 1])
    assert raw[4:8] == (3).to_bytes(4, "big")
    assert raw[8:12] == (7).to_bytes(4, "big")


def test_idx_rejects_garbage_and_truncation(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(ValueError, match="not an IDX file"):
        _idx.read_idx(bad)
    short = tmp_path / "short.idx"
    _idx.write_idx(short, np.zeros((4, 4), dtype=np.uint8))
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        _idx.read_idx(short)
    with pytest.raises(TypeError, match="uint16"):
        _idx.write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.uint16))


def _write_fake_mnist(directory, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    parts = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    os.makedirs(directory, exist_ok=True)
    for name, array in parts.items():
        _idx.write_idx(os.path.join(directory, name), array)
    return parts


@pytest.mark.parametrize("module", [mnist, fashion_mnist])
def test_load_data_from_directory(tmp_path, module):
    parts = _write_fake_mnist(tmp_path)
    (x, y), (x_test, y_test) = module.load_data(path=tmp_path)
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.array_equal(x, parts["train-images-idx3-ubyte.gz"])
    assert np.array_equal(y_test, parts["t10k-labels-idx1-ubyte.gz"])
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz") as f:  # really gzip, as published
        assert f.read(4) == bytes([0, 0, 8, 1])


def test_load_data_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_RELU_HOME", str(tmp_path))
    _write_fake_mnist(tmp_path / "datasets" / "mnist", n_train=3, n_test=2)
    (x, _), (x_test, _) = mnist.load_data()
    assert len(x) == 3 and len(x_test) == 2
    assert datasets.load("mnist")[0][0].shape == (3, 28, 28)


def test_load_data_offline_message_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_RELU_HOME", str(tmp_path))
    monkeypatch.setenv("TINYGRAD_RELU_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert str(tmp_path / "datasets" / "fashion-mnist") in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "path=" in message


def test_load_data_mismatched_counts(tmp_path):
    _write_fake_mnist(tmp_path)
    _idx.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="test images have 5.*test labels have 4"):
        mnist.load_data(path=tmp_path)


def test_download_keeps_file_only_when_sha256_matches(tmp_path):
    source = tmp_path / "remote.gz"
    _idx.write_idx(source, np.arange(10, dtype=np.uint8))
    url = source.as_uri()  # file:// through urllib: the same code path as https
    dest = tmp_path / "cache" / "labels.gz"
    with pytest.raises(ValueError, match="sha256"):
        _idx.download(url, str(dest), "0" * 64)
    assert not dest.exists() and os.listdir(dest.parent) == []  # no partial file left behind
    _idx.download(url, str(dest), _idx.sha256(source))
    assert np.array_equal(_idx.read_idx(dest), np.arange(10))


def test_load_data_downloads_missing_files(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    parts = _write_fake_mnist(remote, n_train=4, n_test=2)
    files = {key: (name, _idx.sha256(remote / name)) for key, (name, _) in mnist.FILES.items()}
    monkeypatch.delenv("TINYGRAD_RELU_OFFLINE", raising=False)
    local = tmp_path / "local"
    (x, _), _ = _idx.load_four_files("mnist", files, (remote.as_uri() + "/",), local)
    assert np.array_equal(x, parts["train-images-idx3-ubyte.gz"])
    assert sorted(os.listdir(local)) == sorted(parts)


def test_an_unreachable_host_is_asked_once_not_once_per_file(tmp_path, monkeypatch):
    """Offline, the clear message must come after one failed connection, not four time-outs."""
    import urllib.error
    remote = tmp_path / "remote"
    _write_fake_mnist(remote, n_train=4, n_test=2)
    files = {key: (name, _idx.sha256(remote / name)) for key, (name, _) in mnist.FILES.items()}
    monkeypatch.delenv("TINYGRAD_RELU_OFFLINE", raising=False)
    calls = []

    def unreachable(url, dest, digest, timeout=30):
        calls.append(url)
        if url.startswith("https://dead.invalid/"):
            raise urllib.error.URLError("timed out")
        return real_download(url, dest, digest)

    real_download = _idx.download
    monkeypatch.setattr(_idx, "download", unreachable)
    (x, _), _ = _idx.load_four_files("mnist", files, ("https://dead.invalid/", remote.as_uri() + "/"),
                                      tmp_path / "local")
    assert sum(url.startswith("https://dead.invalid/") for url in calls) == 1
    assert len(calls) == 5 and x.shape[0] == 4  # the other 4 from the mirror that works


def test_published_checksums_are_sha256_hex():
    for module in (mnist, fashion_mnist):
        assert len(module.FILES) == 4
        for name, digest in module.FILES.values():
            assert name.endswith("-ubyte.gz") and len(digest) == 64 and int(digest, 16) >= 0
