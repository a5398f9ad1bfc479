"""Zip archives of JSON and .npy members: written atomically, read with every size checked first.

Saving is atomic: the zip goes to a temporary file in the destination's directory, is flushed
and fsynced, then ``os.replace``d over the destination. A process killed at any moment leaves
either the old file or the new one, both complete (and at most its own temporary file, which the
next save to the same path removes). The new file keeps the mode of the one it replaces, or gets
the umask's default for a new file.

Reading never unpickles, imports or runs anything, and checks before it inflates or allocates:
the zip's table of members against the caps in ``limits.py`` (from its end record, before the
table is parsed), every JSON member's size before it is read and its number of values before it
is parsed, every array's manifest entry and member size against the shape and dtype the caller
expects, and the .npy header before the data is read straight into an array of that shape.
"""
import functools
import io
import json
import math
import os
import secrets
import socket
import stat
import struct
import zipfile
import zlib

import numpy as np

from .limits import (
    MAX_CENTRAL_DIRECTORY_BYTES,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    MAX_MEMBERS,
    NPY_HEADER_ALLOWANCE,
)

_ALLOWED_DTYPES = {"float16", "float32", "float64", "int32", "int64", "uint8", "bool"}
_CHUNK = 1 << 20  # arrays are inflated into their destination this many bytes at a time


class ModelFileError(ValueError):
    """A model or weights file that cannot be loaded (truncated, corrupt, or not matching the model)."""


def json_size_problem(data):
    """Why JSON text ``data`` (bytes) is beyond the caps, or None. Cheap: counts bytes, never parses.

    Every value but the root follows a ',' or a ':' or opens a list, so the count below is an
    upper bound on the values (those bytes inside strings count too).
    """
    if len(data) > MAX_JSON_BYTES:
        return f"it is {len(data)} bytes, more than the {MAX_JSON_BYTES} a model file allows per JSON member"
    values = 1 + data.count(b",") + data.count(b":") + data.count(b"[")
    if values > MAX_JSON_VALUES:
        return f"it holds up to {values} values, more than the {MAX_JSON_VALUES} a model file allows per JSON member"
    return None


# ---- writing ------------------------------------------------------------------------------------
def write_npy(archive, path, array):
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (not np.ascontiguousarray: it turns a 0-d array into 1-d)
        array = array.copy(order="C")
    with archive.open(path, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def write_json(archive, path, obj):
    data = json.dumps(obj, indent=1, allow_nan=True).encode("utf-8")
    problem = json_size_problem(data)
    if problem is not None:  # refused now, or the file would be refused when loaded
        raise ValueError(f"save: cannot write {path}: {problem}")
    archive.writestr(path, data)


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


def _create_temporary(directory, prefix):
    """A new empty file in ``directory``: (fd, path).

    Created with mode 0o666, so the operating system applies the umask (and any default ACL) as
    it does to every new file; tempfile.mkstemp would force 0o600 on every saved model.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(directory, f"{prefix}{secrets.token_hex(6)}.tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in '{directory}'")


def atomic_write(filepath, write_archive, overwrite, who, zipped=True):
    """Write ``filepath`` atomically: ``write_archive`` gets a zipfile.ZipFile (``zipped``) or the binary file."""
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{who}: '{filepath}' exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{who}: the directory '{directory}' does not exist")
    try:
        replaced_mode = stat.S_IMODE(os.stat(filepath).st_mode)
    except OSError:
        replaced_mode = None  # a new file: the umask decides, as for any file the user creates
    _remove_stale_temporaries(directory, os.path.basename(filepath))
    fd, tmp_path = _create_temporary(directory, _temporary_prefix(os.path.basename(filepath), os.getpid()))
    try:
        with os.fdopen(fd, "w+b") as handle:
            if replaced_mode is not None:
                os.chmod(tmp_path, replaced_mode)
            if zipped:
                with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                    write_archive(archive)
            else:
                write_archive(handle)
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
@functools.lru_cache(maxsize=64)
def _dtype_name(dtype):
    return np.dtype(dtype).name  # (numpy computes .name in Python: slow once per array of a large model)


@functools.lru_cache(maxsize=4096)
def _npy_header_bytes(shape, dtype):
    """The exact .npy header np.save writes for a C-order array of ``shape`` and ``dtype``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": shape})
    return buffer.getvalue()


_END = struct.Struct("<4s4H2LH")          # the zip's end record (22 bytes), then up to 64 KiB of comment
_END64_LOCATOR, _END64 = 20, struct.Struct("<4sQ2H2L4Q")   # zip64: locator, then the 56-byte end record


def _table_problem(handle):
    """Why the zip's table of members is beyond the caps, or None; found the way zipfile finds it.

    zipfile reads the whole table and makes about 600 bytes of Python objects per entry before
    anyone can count them; here the table's size comes from the end record and its entries are
    counted by their signatures (zipfile parses no entry without one), before zipfile starts.
    """
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail_size = min(size, _END64.size + _END64_LOCATOR + _END.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = len(tail) - _END.size
    if at < 0:
        return None  # (zipfile says what is wrong)
    if not (tail[at:at + 4] == b"PK\x05\x06" and tail[-2:] == b"\0\0"):  # not at the end: after a comment
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _END.size > len(tail):
            return None
    table_bytes, table_end = _END.unpack(tail[at:at + _END.size])[5], size - len(tail) + at
    start64 = at - _END64_LOCATOR - _END64.size
    if start64 >= 0 and tail[at - _END64_LOCATOR:at - _END64_LOCATOR + 4] == b"PK\x06\x07" \
            and tail[start64:start64 + 4] == b"PK\x06\x06":
        table_bytes, table_end = _END64.unpack(tail[start64:start64 + _END64.size])[8], table_end - _END64_LOCATOR - _END64.size
    if table_bytes > MAX_CENTRAL_DIRECTORY_BYTES:
        return (f"its table of members is {table_bytes} bytes, more than the {MAX_CENTRAL_DIRECTORY_BYTES} "
                "a model file may have")
    if table_end - table_bytes < 0:
        return None
    handle.seek(table_end - table_bytes)
    entries = handle.read(table_bytes).count(b"PK\x01\x02")
    if entries > MAX_MEMBERS:
        return f"its table lists {entries} members, more than the {MAX_MEMBERS} a model file may hold"
    return None


class Archive:
    """Read-only access to the members of a model file, every size checked before it is read."""

    def __init__(self, filepath, who):
        self.filepath = os.fspath(filepath)
        self.who = who
        if not os.path.exists(self.filepath):
            raise FileNotFoundError(f"{who}: no such file: '{self.filepath}'")
        try:
            with open(self.filepath, "rb") as handle:
                problem = _table_problem(handle)
            if problem is not None:
                raise self.error(problem)
            self.zip = zipfile.ZipFile(self.filepath, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
                struct.error, KeyError, IndexError, OverflowError) as err:
            raise self.error(f"it is not a complete zip archive (truncated or corrupt?): {err}") from None
        except ModelFileError:
            raise
        except ValueError as err:
            raise self.error(f"it is not a complete zip archive (truncated or corrupt?): {err}") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            self.close()
            raise self.error(f"it has {len(infos)} members, more than the {MAX_MEMBERS} a model file may hold")
        self.members = {}
        for info in infos:
            if info.filename in self.members:  # zipfile would silently read the last one
                self.close()
                raise self.error(f"it holds the member '{info.filename}' twice (a saved file never does)")
            self.members[info.filename] = info

    def error(self, message):
        return ModelFileError(f"{self.who}: cannot load '{self.filepath}': {message}")

    def close(self):
        self.zip.close()

    def has(self, name):
        return name in self.members

    def _member(self, name):
        info = self.members.get(name)
        if info is None:
            raise self.error(f"the member '{name}' is missing")
        return info

    def read_bytes(self, name, max_size):
        info = self._member(name)
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

    def member_file(self, name, max_size):
        """Member ``name`` as a seekable read-only file, its CRC checked: a stored member is read where it lies in
        the archive (nothing is copied), a compressed one is inflated into memory, refused beyond ``max_size``."""
        info = self._member(name)
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            return io.BytesIO(self.read_bytes(name, max_size))
        try:
            handle = open(self.filepath, "rb")
        except OSError as err:
            raise self.error(f"cannot reopen it: {err}") from None
        try:
            handle.seek(info.header_offset)
            header = handle.read(_LOCAL_HEADER.size)
            if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
                raise self.error(f"the member '{name}' has no valid local header")
            fields = _LOCAL_HEADER.unpack(header)
            start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
            window = _Window(handle, start, info.file_size)
            if window.end > os.fstat(handle.fileno()).st_size:
                raise self.error(f"the member '{name}' runs past the end of the file (truncated?)")
            crc = 0
            while True:
                chunk = window.read(_CHUNK)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
            if crc != info.CRC:
                raise self.error(f"the member '{name}' is corrupt (its CRC does not match)")
            window.seek(0)
            return window
        except BaseException:
            handle.close()
            raise

    def read_json(self, name):
        """The parsed member, refused first for its size and number of values, then for its depth."""
        data = self.read_bytes(name, MAX_JSON_BYTES)
        problem = json_size_problem(data)
        if problem is not None:
            raise self.error(f"the member '{name}': {problem}")
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise self.error(f"the member '{name}' is not valid JSON: {err}") from None
        level, depth = [value], 0
        while level:  # one nesting level at a time, iteratively: the lists and objects at this depth
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise self.error(f"the member '{name}' nests lists and objects more than {MAX_JSON_DEPTH} deep")
            inner = []
            for node in level:
                if type(node) is dict:
                    node = node.values()
                elif type(node) is not list:
                    continue
                inner += [child for child in node if type(child) is dict or type(child) is list]
            level = inner
        return value

    def check_array(self, entry, shape, dtype, what):
        """The member path of manifest ``entry`` once it is shown to hold an array of ``shape`` and ``dtype``.

        Nothing is read: the entry must name that shape and dtype, and the member's inflated size
        (from the zip's table) must fit that array and an .npy header.
        """
        if not isinstance(entry, dict):
            raise self.error(f"{what}: the manifest entry is not an object")
        declared, declared_dtype, path = entry.get("shape"), entry.get("dtype"), entry.get("path")
        shape, name = tuple(shape), _dtype_name(dtype)
        if not isinstance(declared, list) or tuple(declared) != shape:
            raise self.error(f"{what} has shape {declared} in the file but {shape} in the model")
        if declared_dtype != name:
            raise self.error(f"{what} has dtype {declared_dtype} in the file but {name} in the model")
        if name not in _ALLOWED_DTYPES:
            raise self.error(f"{what}: dtype {name} is not allowed (allowed: {', '.join(sorted(_ALLOWED_DTYPES))})")
        if not isinstance(path, str):
            raise self.error(f"{what}: invalid member path {path!r}")
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        size = self._member(path).file_size
        if not nbytes < size <= nbytes + NPY_HEADER_ALLOWANCE:
            raise self.error(f"{what}: the member '{path}' is {size} bytes, but an array of shape {shape} and dtype "
                             f"{name} takes {nbytes} bytes and a header")
        return path

    def read_array(self, path, shape, dtype, what, out=None):
        """The array in member ``path``, checked by ``check_array``; read straight into ``out`` when given.

        The .npy header must say ``shape`` and ``dtype`` before anything is allocated for it (it
        is compared with the header np.save writes, else parsed without running code); the data
        then inflates chunk by chunk into the array.
        """
        shape, dtype = tuple(shape), np.dtype(dtype)
        try:
            with self.zip.open(self._member(path)) as member:
                expected = _npy_header_bytes(shape, dtype)
                start = member.read(len(expected))
                source = member
                if start == expected:  # what save writes: nothing to parse
                    fortran_order, header_dtype = False, dtype
                else:
                    source = _Joined(io.BytesIO(start), member)
                    header_shape, fortran_order, header_dtype = self._npy_header(source, path, what)
                    if header_dtype.hasobject or header_dtype.name != dtype.name:
                        raise self.error(f"{what}: the array '{path}' has dtype {header_dtype}, the manifest says "
                                         f"{dtype}")
                    if tuple(header_shape) != shape:
                        raise self.error(f"{what}: the array '{path}' has shape {tuple(header_shape)}, the manifest "
                                         f"says {shape}")
                direct = out is not None and header_dtype == out.dtype and not fortran_order \
                    and out.shape == shape and out.flags.c_contiguous and out.flags.writeable
                array = out if direct else np.empty(shape[::-1] if fortran_order else shape, header_dtype)
                self._inflate_into(source, array, path, what)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as err:
            if isinstance(err, ModelFileError):
                raise
            raise self.error(f"{what}: the member '{path}' is corrupt: {err}") from None
        if fortran_order:
            array = array.T
        if not direct:
            array = array.astype(dtype, copy=False)  # a byte order other than the machine's
            if out is not None:
                out[...] = array
                array = out
        return array

    def _npy_header(self, stream, path, what):
        """(shape, fortran_order, dtype) from the .npy header at the start of ``stream``, parsed without eval."""
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                return np.lib.format.read_array_header_1_0(stream)
            if version in ((2, 0), (3, 0)):
                return np.lib.format.read_array_header_2_0(stream)
            raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, EOFError, OSError, TypeError, SyntaxError) as err:
            raise self.error(f"{what}: the array '{path}' has a corrupt .npy header: {err}") from None

    def _inflate_into(self, source, array, path, what):
        view = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
        done = 0
        while done < len(view):
            chunk = source.read(min(_CHUNK, len(view) - done))
            if not chunk:
                raise self.error(f"{what}: the array '{path}' ends after {done} of its {len(view)} bytes")
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
        if source.read(1):  # (reading to the end also makes zipfile check the member's CRC)
            raise self.error(f"{what}: the array '{path}' has bytes after its data")


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip member's local header: its name and extra field follow


class _Window(io.RawIOBase):
    """Bytes ``start`` .. ``start + size`` of an open file as a read-only, seekable file of its own."""

    def __init__(self, handle, start, size):
        self.handle, self.start, self.size, self.end, self.position = handle, start, size, start + size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=os.SEEK_SET):
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.position = base + offset
        return self.position

    def readinto(self, buffer):
        count = max(0, min(len(buffer), self.size - self.position))
        if not count:
            return 0
        self.handle.seek(self.start + self.position)
        got = self.handle.readinto(memoryview(buffer)[:count])
        self.position += got
        return got

    def close(self):
        if not self.closed:
            self.handle.close()
        super().close()


class _Joined:
    """A read-only stream of ``first`` (a BytesIO) and then ``rest``: a header is parsed from both."""

    def __init__(self, first, rest):
        self.first, self.rest = first, rest

    def read(self, size):
        data = self.first.read(size)
        return data if len(data) == size else data + self.rest.read(size - len(data))
