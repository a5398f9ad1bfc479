"""The native model file: one zip holding JSON (architecture, compile settings) and raw .npy arrays.

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
"""
import numpy as np

from .. import _registry, losses, metrics as metrics_module, optimizers
from .._version import __version__
from ..layers import Layer
from ..layers.base import skip_initializers
from .archive import Archive, atomic_write, write_json, write_npy
from .object_registration import CustomObjectScope
from .serialization_lib import deserialize_layer

FORMAT_NAME = "tinygrad_relu"
FORMAT_VERSION = 1


def _leaf(name):
    """A weight's own name ('kernel' of 'dense_3/kernel'): nested layers' automatic names may differ between
    a saved model and its rebuilt copy, the weight names and their order do not."""
    return name.rsplit("/", 1)[-1]


def _weights_manifest(model):
    entries, arrays = [], []
    for owner, wname, weight in model.named_weights():
        path = f"weights/{len(arrays)}.npy"
        entries.append({"layer": owner.name, "layer_class": type(owner).__name__, "name": _leaf(wname),
                        "shape": list(weight.shape), "dtype": weight.dtype.name, "path": path})
        arrays.append((path, weight.data))
    return entries, arrays


def _metadata(kind):
    return {"format": FORMAT_NAME, "kind": kind, "format_version": FORMAT_VERSION,
            "library_version": __version__}


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
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": model._compile_config if model.compiled else None}
    if type(model).__module__.split(".")[0] != "tinygrad_relu":  # a subclassed model: found as a custom object
        config["registered_name"] = _registry.registered_name(type(model))
        config["build_config"] = model.get_build_config()
    entries, arrays = _weights_manifest(model)
    optimizer_json, optimizer_arrays = None, []
    optimizer = model.optimizer if model.compiled else None
    if optimizer is not None:
        if model.trainable_weights and not optimizer.built:
            optimizer.build(model.trainable_weights)
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
        write_json(archive, "metadata.json", metadata)
        write_json(archive, "config.json", config)
        write_json(archive, "weights.json", entries)
        for path, array in arrays:
            write_npy(archive, path, array)
        if optimizer_json is not None:
            write_json(archive, "optimizer.json", optimizer_json)
            for path, array in optimizer_arrays:
                write_npy(archive, path, array)

    atomic_write(filepath, write, overwrite, "save")


def save_weights(model, filepath, overwrite=True):
    """Write only the weights (Keras' order), with their layer and weight names."""
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights to save")
    entries, arrays = _weights_manifest(model)
    metadata = _metadata("weights")

    def write(archive):
        write_json(archive, "metadata.json", metadata)
        write_json(archive, "weights.json", entries)
        for path, array in arrays:
            write_npy(archive, path, array)

    atomic_write(filepath, write, overwrite, "save_weights")


# ---- reading ------------------------------------------------------------------------------------
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
    """The arrays for ``model``'s weights, in order, every name, shape and dtype checked; nothing assigned yet."""
    manifest = archive.read_json("weights.json")
    if not isinstance(manifest, list):
        raise archive.error("weights.json is not a list")
    expected = model.named_weights()
    if len(manifest) != len(expected):
        raise archive.error(f"it holds {len(manifest)} weight arrays, model '{model.name}' has {len(expected)}")
    arrays = []
    for i, (entry, (layer, wname, weight)) in enumerate(zip(manifest, expected)):
        if not isinstance(entry, dict):
            raise archive.error(f"weights.json entry {i} is not an object")
        # Matched by position and class, as Keras 3 does, so weights load into a fresh copy of the
        # architecture even when its automatic layer names differ (dense_2 instead of dense).
        if entry.get("layer_class") != type(layer).__name__ or _leaf(str(entry.get("name"))) != _leaf(wname):
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
        arrays.append(archive.read_array(entry, f"weight '{layer.name}/{wname}'"))
    return arrays


def _assign_weights(model, arrays):
    for target, value in zip(model.weights, arrays):
        target.data[...] = value


def _revive(value, deserialize, what):
    """A compile argument as saved: a name, a serialized object, or a list / dict by output name of them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and "class_name" in value:
        return deserialize(value)
    if isinstance(value, list):
        return [_revive(v, deserialize, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _revive(v, deserialize, what) for k, v in value.items()}
    raise ValueError(f"invalid {what} {value!r}")


def _compile_from_config(model, compile_config, archive):
    if not isinstance(compile_config, dict):
        raise archive.error("compile_config is not an object")
    try:
        optimizer = optimizers.deserialize(compile_config.get("optimizer"))
        loss = _revive(compile_config.get("loss"), losses.deserialize, "loss")
        metric_list = _revive(compile_config.get("metrics") or [], metrics_module.deserialize, "metric")
        loss_weights = compile_config.get("loss_weights")
        if loss_weights is not None and not isinstance(loss_weights, (int, float, list, dict)):
            raise ValueError(f"invalid loss_weights {loss_weights!r}")
        model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metric_list)
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
    archive = Archive(filepath, "load_model")
    try:
        _read_metadata(archive, ("model",))
        config = archive.read_json("config.json")
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise archive.error("config.json does not describe a model")
        with CustomObjectScope(custom_objects or {}):
            model = _rebuild(archive, config, custom_objects)
            _assign_weights(model, _read_weights(archive, model))
            if compile and config.get("compile_config") is not None:
                _compile_from_config(model, config["compile_config"], archive)
                _restore_optimizer(model, archive)
        return model
    finally:
        archive.close()


def _rebuild(archive, config, custom_objects):
    """The model config.json describes, with lazy zero weights (they are read next)."""
    name = config.get("class_name")
    if _registry.model_class(name) is None and _registry.custom_object([config.get("registered_name"), name],
                                                                         custom_objects) is None:
        known = ", ".join(_registry.model_class_names()) or "the model classes"
        raise archive.error(f"config.json names the model class {name!r}, which is not one of {known} nor a custom "
                            "object; register it with register_keras_serializable or pass custom_objects "
                            "(tinygrad_relu.models.load_model loads the built-in classes)")
    try:
        with skip_initializers():
            model = deserialize_layer({**config, "build_config": None}, custom_objects)
            build_config = config.get("build_config")
            if not model.built and build_config:
                model.build_from_config(build_config)
            if not model.built and getattr(model, "input_shape", None) is not None:
                model.build()
    except (TypeError, ValueError, NotImplementedError, OverflowError, MemoryError, KeyError) as err:
        raise archive.error(f"invalid architecture: {err}") from None
    if not isinstance(model, Layer) or not hasattr(model, "compile"):
        raise archive.error(f"config.json describes {type(model).__name__}, not a model")
    return model


def load_weights(model, filepath):
    """Load weights saved by ``save_weights`` or ``save`` into ``model`` (names and shapes must match)."""
    archive = Archive(filepath, "load_weights")
    try:
        _read_metadata(archive, ("weights", "model"))
        _build_or_explain(model, f"load_weights: model '{model.name}' is not built yet; build it first "
                                 "(model.build((None, ...)) or call it on data)")
        _assign_weights(model, _read_weights(archive, model))
    finally:
        archive.close()
