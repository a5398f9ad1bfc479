"""Zip archives of JSON and .npy members: written atomically, read with every size checked first.

Saving is atomic: the zip goes to a temporary file in the destination's directory, is flushed
and fsynced, then ``os.replace``d over the destination. A process killed at any moment leaves
either the old file or the new one, both complete (and at most its own temporary file, which the
next save to the same path removes).

Reading never unpickles, imports or runs anything: arrays are read with ``allow_pickle=False``,
every member's size is checked against what the caller expects before it is read, and every
array's .npy header is checked before numpy allocates what it claims.
"""
import io
import json
import os
import socket
import struct
import tempfile
import zipfile

import numpy as np

_MAX_JSON_BYTES = 16 * 1024 * 1024
_MAX_MEMBERS = 100_000
_NPY_HEADER_ALLOWANCE = 64 * 1024  # an .npy header is far smaller; anything bigger is not ours
_ALLOWED_DTYPES = {"float16", "float32", "float64", "int32", "int64", "uint8", "bool"}


class ModelFileError(ValueError):
    """A model or weights file that cannot be loaded (truncated, corrupt, or not matching the model)."""


# ---- writing ------------------------------------------------------------------------------------
def write_npy(archive, path, array):
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (not np.ascontiguousarray: it turns a 0-d array into 1-d)
        array = array.copy(order="C")
    with archive.open(path, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def write_json(archive, path, obj):
    archive.writestr(path, json.dumps(obj, indent=1, allow_nan=True))


def _temporary_prefix(basename, pid):
    # The host and pid in the name let a later save recognise the leftovers of a killed one.
    return f".{basename}.{socket.gethostname()}.{pid}."


def _remove_stale_temporaries(directory, basename):
    """Delete temporaries that a killed save of ``basename`` left behind on this host.

    A temporary is stale only when the process that made it is gone; one of a save still
    running (here or, on a shared disk, on another host) is never touched.
    """
    head = f".{basename}.{socket.gethostname()}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        pid_text = name[len(head):].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue  # that process still runs (perhaps saving right now)
        except ProcessLookupError:
            pass
        except (PermissionError, OSError, OverflowError):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def atomic_write(filepath, write_archive, overwrite, who):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{who}: '{filepath}' exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{who}: the directory '{directory}' does not exist")
    _remove_stale_temporaries(directory, os.path.basename(filepath))
    fd, tmp_path = tempfile.mkstemp(prefix=_temporary_prefix(os.path.basename(filepath), os.getpid()),
                                    suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                write_archive(archive)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass



# ---- reading ------------------------------------------------------------------------------------
class Archive:
    """Read-only, size-checked access to the members of a model file."""

    def __init__(self, filepath, who):
        self.filepath = os.fspath(filepath)
        self.who = who
        if not os.path.exists(self.filepath):
            raise FileNotFoundError(f"{who}: no such file: '{self.filepath}'")
        try:
            self.zip = zipfile.ZipFile(self.filepath, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError, struct.error, KeyError, IndexError, OverflowError) as err:
            raise self.error(f"it is not a complete zip archive (truncated or corrupt?): {err}") from None
        infos = self.zip.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise self.error(f"it has {len(infos)} members, more than any model file")
        self.members = {info.filename: info for info in infos}

    def error(self, message):
        return ModelFileError(f"{self.who}: cannot load '{self.filepath}': {message}")

    def close(self):
        self.zip.close()

    def has(self, name):
        return name in self.members

    def read_bytes(self, name, max_size):
        info = self.members.get(name)
        if info is None:
            raise self.error(f"the member '{name}' is missing")
        if info.file_size > max_size:
            raise self.error(f"the member '{name}' is {info.file_size} bytes, more than the {max_size} expected")
        try:
            with self.zip.open(info) as member:
                data = member.read(max_size + 1)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as err:
            raise self.error(f"the member '{name}' is corrupt: {err}") from None
        if len(data) > max_size:
            raise self.error(f"the member '{name}' is larger than its header says")
        return data

    def read_json(self, name):
        data = self.read_bytes(name, _MAX_JSON_BYTES)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise self.error(f"the member '{name}' is not valid JSON: {err}") from None

    def read_array(self, entry, what):
        """An array described by a manifest entry, checked for size, dtype and shape."""
        if not isinstance(entry, dict):
            raise self.error(f"{what}: the manifest entry is not an object")
        shape, dtype, path = entry.get("shape"), entry.get("dtype"), entry.get("path")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise self.error(f"{what}: invalid shape {shape!r} in the manifest")
        if dtype not in _ALLOWED_DTYPES:
            raise self.error(f"{what}: dtype {dtype!r} is not allowed (allowed: {', '.join(sorted(_ALLOWED_DTYPES))})")
        if not isinstance(path, str):
            raise self.error(f"{what}: invalid member path {path!r}")
        shape = tuple(shape)
        nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        data = self.read_bytes(path, nbytes + _NPY_HEADER_ALLOWANCE)
        # The .npy header is checked before np.load: np.load allocates the shape its header
        # claims, so a hostile header claiming terabytes would otherwise be allocated first.
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                header_shape, _, header_dtype = np.lib.format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                header_shape, _, header_dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, EOFError, OSError, TypeError, SyntaxError) as err:
            raise self.error(f"{what}: the array '{path}' has a corrupt .npy header: {err}") from None
        if header_dtype.hasobject or header_dtype.name != dtype:
            raise self.error(f"{what}: the array '{path}' has dtype {header_dtype}, the manifest says {dtype}")
        if tuple(header_shape) != shape:
            raise self.error(f"{what}: the array '{path}' has shape {tuple(header_shape)}, the manifest says {shape}")
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError, TypeError) as err:
            raise self.error(f"{what}: the array '{path}' cannot be read without pickle or is corrupt: {err}") from None
        if not isinstance(array, np.ndarray):
            raise self.error(f"{what}: the member '{path}' is not a single .npy array")
        if array.dtype.name != dtype or array.dtype.hasobject:
            raise self.error(f"{what}: the array '{path}' has dtype {array.dtype}, the manifest says {dtype}")
        if array.shape != shape:
            raise self.error(f"{what}: the array '{path}' has shape {array.shape}, the manifest says {shape}")
        return array


