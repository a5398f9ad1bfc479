"""Model files: one zip holding JSON (architecture, compile settings) and raw .npy arrays.

Layout of a file written by ``model.save(path)`` (any file name works)::

    metadata.json    {"format": "tinygrad_relu", "kind": "model", "format_version": 1, ...}
    config.json      {"class_name": "Sequential", "config": {...}, "compile_config": {...}}
    weights.json     [{"layer", "name", "shape", "dtype", "path"}, ...]  in Keras' weight order
    weights/0.npy ...
    optimizer.json   {"class_name", "config", "state": [{"shape", "dtype", "path"}, ...]}
    optimizer/0.npy ...

``save_weights`` writes the same minus config.json and the optimizer. Arrays are written
and read with ``allow_pickle=False``; nothing in a file is ever executed or imported:
class names are looked up in fixed tables. Every array's size is checked against the
manifest before it is read and its shape and dtype after, so a truncated, corrupt or
hostile file raises ValueError instead of crashing or eating memory.

Saving is atomic: the zip goes to a temporary file in the destination's directory, is
flushed and fsynced, then ``os.replace``d over the destination. A process killed at any
moment leaves either the old file or the new one, both complete (and at most its own
temporary file, which the next save to the same path removes).
"""
import io
import json
import os
import socket
import struct
import tempfile
import zipfile

import numpy as np

FORMAT_NAME = "tinygrad_relu"
FORMAT_VERSION = 1

_MAX_JSON_BYTES = 16 * 1024 * 1024
_MAX_MEMBERS = 100_000
_NPY_HEADER_ALLOWANCE = 64 * 1024  # an .npy header is far smaller; anything bigger is not ours
_ALLOWED_DTYPES = {"float16", "float32", "float64", "int32", "int64", "uint8", "bool"}


class ModelFileError(ValueError):
    """A model or weights file that cannot be loaded (truncated, corrupt, or not matching the model)."""


# ---- writing ------------------------------------------------------------------------------------
def _library_version():
    from . import __version__
    return __version__


def _weights_manifest(model):
    entries, arrays = [], []
    for layer in model.layers:
        for wname, weight in zip(layer.weight_names, layer.weights):
            path = f"weights/{len(arrays)}.npy"
            entries.append({"layer": layer.name, "layer_class": type(layer).__name__, "name": wname, "shape": list(weight.shape),
                            "dtype": weight.dtype.name, "path": path})
            arrays.append((path, weight.data))
    return entries, arrays


def _write_npy(archive, path, array):
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (not np.ascontiguousarray: it turns a 0-d array into 1-d)
        array = array.copy(order="C")
    with archive.open(path, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _metadata(kind):
    return {"format": FORMAT_NAME, "kind": kind, "format_version": FORMAT_VERSION,
            "library_version": _library_version()}


def _write_json(archive, path, obj):
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


def _atomic_write(filepath, write_archive, overwrite, who):
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


def _build_or_explain(model, message):
    """Build ``model`` from its declared input shape; without one, ValueError(message)."""
    if not model.built:
        try:
            model.build()
        except ValueError:
            raise ValueError(message) from None


def save_model(model, filepath, overwrite=True):
    """Write architecture, weights, compile settings and optimizer state to ``filepath``."""
    _build_or_explain(model, f"save: model '{model.name}' is not built yet; build it (call it on data, "
                             "give the first layer input_shape=, or call model.build) before saving")
    config = {"class_name": "Sequential", "config": model.get_config(),
              "compile_config": model._compile_config if model.compiled else None}
    entries, arrays = _weights_manifest(model)
    optimizer_json, optimizer_arrays = None, []
    optimizer = model.optimizer if model.compiled else None
    if optimizer is not None:
        if model.trainable_weights and not optimizer.built:
            optimizer.build(model.trainable_weights)
        from . import optimizers
        state = optimizer.get_state()
        state_entries = []
        for i, array in enumerate(state):
            array = np.asarray(array)
            path = f"optimizer/{i}.npy"
            state_entries.append({"shape": list(array.shape), "dtype": array.dtype.name, "path": path})
            optimizer_arrays.append((path, array))
        optimizer_json = dict(optimizers.serialize(optimizer))
        optimizer_json["state"] = state_entries
    metadata = _metadata("model")

    def write(archive):
        _write_json(archive, "metadata.json", metadata)
        _write_json(archive, "config.json", config)
        _write_json(archive, "weights.json", entries)
        for path, array in arrays:
            _write_npy(archive, path, array)
        if optimizer_json is not None:
            _write_json(archive, "optimizer.json", optimizer_json)
            for path, array in optimizer_arrays:
                _write_npy(archive, path, array)

    _atomic_write(filepath, write, overwrite, "save")


def save_weights(model, filepath, overwrite=True):
    """Write only the weights (Keras' order), with their layer and weight names."""
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights to save")
    entries, arrays = _weights_manifest(model)
    metadata = _metadata("weights")

    def write(archive):
        _write_json(archive, "metadata.json", metadata)
        _write_json(archive, "weights.json", entries)
        for path, array in arrays:
            _write_npy(archive, path, array)

    _atomic_write(filepath, write, overwrite, "save_weights")


# ---- reading ------------------------------------------------------------------------------------
class _Archive:
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


def _read_metadata(archive, kinds):
    metadata = archive.read_json("metadata.json")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise archive.error("it is not a tinygrad_relu model file (metadata.json has no 'format': "
                            f"'{FORMAT_NAME}')")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise archive.error(f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise archive.error(f"it was written in format version {version} by tinygrad_relu "
                            f"{metadata.get('library_version')}; this version reads format {FORMAT_VERSION} "
                            "and older: upgrade tinygrad_relu")
    if version < 1:
        raise archive.error(f"invalid format_version {version}")
    kind = metadata.get("kind")
    if kind not in kinds:
        hint = " (it holds only weights: build the model and call model.load_weights)" if kind == "weights" else ""
        raise archive.error(f"it holds {kind!r}, expected {' or '.join(repr(k) for k in kinds)}{hint}")
    return metadata


def _read_weights(archive, model):
    """The arrays for ``model``'s weights, every name, shape and dtype checked; nothing assigned yet."""
    manifest = archive.read_json("weights.json")
    if not isinstance(manifest, list):
        raise archive.error("weights.json is not a list")
    expected = [(layer, wname, weight) for layer in model.layers
                for wname, weight in zip(layer.weight_names, layer.weights)]
    if len(manifest) != len(expected):
        raise archive.error(f"it holds {len(manifest)} weight arrays, model '{model.name}' has {len(expected)}")
    per_layer = {}
    for i, (entry, (layer, wname, weight)) in enumerate(zip(manifest, expected)):
        if not isinstance(entry, dict):
            raise archive.error(f"weights.json entry {i} is not an object")
        # Matched by position and class, as Keras 3 does, so weights load into a fresh copy of the
        # architecture even when its automatic layer names differ (dense_2 instead of dense).
        if entry.get("layer_class") != type(layer).__name__ or entry.get("name") != wname:
            raise archive.error(f"weight {i} is '{entry.get('name')}' of a {entry.get('layer_class')} layer "
                                f"('{entry.get('layer')}') in the file, but '{wname}' of {type(layer).__name__} "
                                f"'{layer.name}' in the model")
        shape = entry.get("shape")
        if not isinstance(shape, list) or tuple(shape) != weight.shape:
            raise archive.error(f"weight '{layer.name}/{wname}' has shape {shape} in the file but "
                                f"{weight.shape} in the model")
        if entry.get("dtype") != weight.dtype.name:
            raise archive.error(f"weight '{layer.name}/{wname}' has dtype {entry.get('dtype')} in the file but "
                                f"{weight.dtype} in the model")
        array = archive.read_array(entry, f"weight '{layer.name}/{wname}'")
        per_layer.setdefault(layer.name, []).append(array)
    return per_layer


def _assign_weights(model, per_layer):
    for layer in model.layers:
        for target, value in zip(layer.weights, per_layer.get(layer.name, [])):
            target.data[...] = value


def _compile_from_config(model, compile_config, archive):
    from . import losses, metrics as metrics_module, optimizers
    if not isinstance(compile_config, dict):
        raise archive.error("compile_config is not an object")
    try:
        optimizer = optimizers.deserialize(compile_config.get("optimizer"))
        loss = compile_config.get("loss")
        if isinstance(loss, dict):
            loss = losses.deserialize(loss)
        elif loss is not None and not isinstance(loss, str):
            raise ValueError(f"invalid loss {loss!r}")
        metric_list = []
        for m in compile_config.get("metrics") or []:
            if isinstance(m, dict):
                cls = getattr(metrics_module, str(m.get("class_name")), None)
                if not (isinstance(cls, type) and issubclass(cls, metrics_module.Metric)):
                    raise ValueError(f"unknown metric class {m.get('class_name')!r}")
                m = cls.from_config(dict(m.get("config") or {}))
            elif not isinstance(m, str):
                raise ValueError(f"invalid metric {m!r}")
            metric_list.append(m)
        model.compile(optimizer=optimizer, loss=loss, metrics=metric_list)
    except (TypeError, ValueError, KeyError) as err:
        raise archive.error(f"invalid compile settings: {err}") from None


def _restore_optimizer(model, archive):
    if not archive.has("optimizer.json"):
        return
    spec = archive.read_json("optimizer.json")
    if not isinstance(spec, dict) or not isinstance(spec.get("state"), list):
        raise archive.error("optimizer.json has no 'state' list")
    if spec.get("class_name") != type(model.optimizer).__name__:
        raise archive.error(f"the optimizer state is for {spec.get('class_name')!r} but the model compiles with "
                            f"{type(model.optimizer).__name__}")
    state = [archive.read_array(entry, f"optimizer state {i}") for i, entry in enumerate(spec["state"])]
    optimizer = model.optimizer
    try:
        optimizer.set_state(state)
        if model.trainable_weights:
            optimizer.build(model.trainable_weights)  # assigns (and shape-checks) the slots now, not later
    except (TypeError, ValueError) as err:
        raise archive.error(f"the optimizer state does not fit model '{model.name}': {err}") from None


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model written by ``save_model``: same predictions, and training continues from it."""
    from .layers.base import skip_initializers
    from .models import Sequential
    archive = _Archive(filepath, "load_model")
    try:
        _read_metadata(archive, ("model",))
        config = archive.read_json("config.json")
        if not isinstance(config, dict) or config.get("class_name") != "Sequential" \
                or not isinstance(config.get("config"), dict):
            raise archive.error("config.json does not describe a Sequential model")
        try:
            with skip_initializers():
                model = Sequential.from_config(config["config"], custom_objects=custom_objects)
                if not model.built and model.input_shape is not None:
                    model.build()
        except (TypeError, ValueError, NotImplementedError, OverflowError, MemoryError) as err:
            raise archive.error(f"invalid architecture: {err}") from None
        per_layer = _read_weights(archive, model)
        _assign_weights(model, per_layer)
        if compile and config.get("compile_config") is not None:
            _compile_from_config(model, config["compile_config"], archive)
            _restore_optimizer(model, archive)
        return model
    finally:
        archive.close()


def load_weights(model, filepath):
    """Load weights saved by ``save_weights`` or ``save`` into ``model`` (names and shapes must match)."""
    archive = _Archive(filepath, "load_weights")
    try:
        _read_metadata(archive, ("weights", "model"))
        _build_or_explain(model, f"load_weights: model '{model.name}' is not built yet; build it first "
                                 "(model.build((None, ...)) or call it on data)")
        _assign_weights(model, _read_weights(archive, model))
    finally:
        archive.close()
