"""IDX files (the MNIST format) and a download cache with sha256 checks.

IDX: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the values, big-endian, row-major. Files may be gzip-compressed.
"""
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request

import numpy as np

# IDX type code -> big-endian numpy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}


def _open(path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path):
    """Read one IDX file (gzip or plain) into a native-endian numpy array."""
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (header bytes {raw[:4]!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"read_idx: {path} has {len(raw)} bytes but its header (shape {shape}, "
                         f"{dtype.newbyteorder('=')}) needs {expected}: the file is truncated or corrupt")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write an array as IDX; gzip-compressed when `compress` is true or the name ends in .gz."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype}; use one of "
                        f"uint8, int8, int16, int32, float32, float64")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + body)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(subdir):
    """~/.tinygrad_relu/datasets/<subdir> (the root moves with $TINYGRAD_RELU_HOME)."""
    home = os.environ.get("TINYGRAD_RELU_HOME") or os.path.join(os.path.expanduser("~"), ".tinygrad_relu")
    return os.path.join(home, "datasets", subdir)


def offline():
    """True when $TINYGRAD_RELU_OFFLINE is set: never touch the network (tests, CI)."""
    return os.environ.get("TINYGRAD_RELU_OFFLINE", "") not in ("", "0")


def download(url, dest, expected_sha256, timeout=30):
    """Fetch `url` to `dest` through a temporary file; keep it only if its sha256 matches."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        got = sha256(tmp)
        if got != expected_sha256:
            raise ValueError(f"download: {url} has sha256 {got}, expected {expected_sha256}; "
                             f"the file was not kept")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_four_files(dataset, files, base_urls, path):
    """The shared body of mnist/fashion_mnist.load_data.

    `files` maps the four keys train_images, train_labels, test_images, test_labels to
    (file name, sha256). Looks in `path` (or the cache), downloads what is missing unless
    offline, and returns Keras' ((x_train, y_train), (x_test, y_test)).
    """
    directory = os.path.expanduser(str(path)) if path is not None else cache_dir(dataset)
    missing = [name for name, _ in files.values() if not os.path.exists(os.path.join(directory, name))]
    if missing:
        problems = []
        if offline():
            problems.append("downloads are disabled ($TINYGRAD_RELU_OFFLINE is set)")
        else:
            digests = dict(files.values())
            unreachable = set()  # a host that failed once is not asked again for the other files
            for name in missing:
                for base in base_urls:
                    if base in unreachable:
                        continue
                    try:
                        download(base + name, os.path.join(directory, name), digests[name])
                        break
                    except ValueError as exc:  # reached, but the bytes are wrong
                        problems.append(f"{base + name}: {exc}")
                    except (urllib.error.URLError, OSError) as exc:
                        unreachable.add(base)
                        problems.append(f"{base + name}: {exc}")
        missing = [name for name, _ in files.values() if not os.path.exists(os.path.join(directory, name))]
        if missing:
            reason = "; ".join(problems[-2:]) if problems else "unknown error"
            raise FileNotFoundError(
                f"{dataset}.load_data: missing {', '.join(missing)} in {directory} and the download failed "
                f"({reason}). Put the four IDX files ({', '.join(n for n, _ in files.values())}) into "
                f"{directory} (or pass load_data(path=DIR) with a folder holding them); they are at "
                f"{base_urls[0]}<file name>.")
    arrays = {key: read_idx(os.path.join(directory, name)) for key, (name, _) in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[split + "_images"], arrays[split + "_labels"]
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{dataset}.load_data: {split} images have {images.shape[0]} entries "
                             f"but {split} labels have {labels.shape[0]}")
    return (arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"])
