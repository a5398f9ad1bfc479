"""The native model file: one zip holding JSON (architecture, compile settings) and raw .npy arrays.

Layout of a file written by ``model.save(path)`` (any file name works)::

    metadata.json    {"format": "tinygrad_relu", "kind": "model", "format_version": 2, ...}
    config.json      {"class_name": "Sequential", "config": {...}, "compile_config": {...}}
    weights.json     [{"layer", "name", "shape", "dtype", "path"}, ...]  in Keras' weight order
    weights/0.npy ...
    optimizer.json   {"class_name", "config", "state": [{"shape", "dtype", "path"}, ...]}
    optimizer/0.npy ...

``save_weights`` writes the same minus config.json and the optimizer. Arrays are written
and read with ``allow_pickle=False``; nothing in a file is ever executed or imported:
class names are looked up in fixed tables. A file may declare no more than the caps in
``limits.py``; every weight's and optimizer slot's manifest entry is checked against the model
built from the config (count, shapes, dtypes) before any array is read, and no member may
inflate to more than its array, so a truncated, corrupt or hostile file raises ModelFileError
(a ValueError) instead of crashing or eating memory.
"""
import numpy as np

from .. import _registry, losses, metrics as metrics_module, optimizers
from .._version import __version__
from ..layers import Layer
from ..layers.base import skip_initializers
from .archive import Archive, atomic_write, write_json, write_npy
from .limits import MAX_LAYERS, MAX_MEMBERS
from .object_registration import CustomObjectScope
from .serialization_lib import deserialize_layer, renumber_nested_calls

FORMAT_NAME = "tinygrad_relu"
FORMAT_VERSION = 2  # 2: a nested Functional model's calls numbered from 0 in node arguments, as Keras (1: from 1)


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


def build_or_explain(model, message):
    """Build ``model`` from its declared input shape; without one, ValueError(message)."""
    if not model.built:
        try:
            model.build()
        except ValueError:
            raise ValueError(message) from None


def layer_entries(model_config):
    """The model config's list of layers (Sequential and Keras' Functional both keep one), or None."""
    layers = model_config.get("layers") if isinstance(model_config, dict) else None
    return layers if isinstance(layers, list) else None


def check_file_limits(model, config, n_members):
    """Refuse to write a file that load_model would refuse (see limits.py)."""
    layers = layer_entries(config.get("config")) if config is not None else None
    if layers is not None and len(layers) > MAX_LAYERS:
        raise ValueError(f"save: model '{model.name}' has {len(layers)} layers (an input layer included); a model "
                         f"file holds at most {MAX_LAYERS}")
    if n_members > MAX_MEMBERS:
        raise ValueError(f"save: model '{model.name}' needs {n_members} arrays and JSON members (one per weight and "
                         f"optimizer slot); a model file holds at most {MAX_MEMBERS}")


def save_model(model, filepath, overwrite=True):
    """Write architecture, weights, compile settings and optimizer state to ``filepath``."""
    build_or_explain(model, f"save: model '{model.name}' is not built yet; build it (call it on data, "
                             "give the first layer input_shape=, or call model.build) before saving")
    config = {"class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": model._compile_config if model.compiled else None}
    if type(model).__module__.split(".")[0] != "tinygrad_relu":  # a subclassed model: found as a custom object
        config["registered_name"] = _registry.registered_name(type(model))
        config["build_config"] = model.get_build_config()
    entries, arrays = _weights_manifest(model)
    optimizer_json, optimizer_arrays = _optimizer_manifest(model)
    metadata = _metadata("model")
    check_file_limits(model, config, 4 + len(arrays) + len(optimizer_arrays))

    def write(archive):
        write_json(archive, "metadata.json", metadata)
        write_json(archive, "config.json", config)
        _write_weights_and_optimizer(archive, entries, arrays, optimizer_json, optimizer_arrays)

    atomic_write(filepath, write, overwrite, "save")


def _optimizer_manifest(model):
    """(optimizer.json's content, [(path, array)]) of a compiled model's optimizer state, or (None, [])."""
    optimizer = model.optimizer if model.compiled else None
    if optimizer is None:
        return None, []
    if model.trainable_weights and not optimizer.built:
        optimizer.build(model.trainable_weights)
    state_entries, optimizer_arrays = [], []
    for i, array in enumerate(optimizer.get_state()):
        array = np.asarray(array)
        path = f"optimizer/{i}.npy"
        state_entries.append({"shape": list(array.shape), "dtype": array.dtype.name, "path": path})
        optimizer_arrays.append((path, array))
    return {**optimizers.serialize(optimizer), "state": state_entries}, optimizer_arrays


def _write_weights_and_optimizer(archive, entries, arrays, optimizer_json, optimizer_arrays):
    write_json(archive, "weights.json", entries)
    for path, array in arrays:
        write_npy(archive, path, array)
    if optimizer_json is not None:
        write_json(archive, "optimizer.json", optimizer_json)
        for path, array in optimizer_arrays:
            write_npy(archive, path, array)


def save_training_state(model, filepath, training=None, overwrite=True):
    """Write the weights, the optimizer state and ``training`` (a small dict of numbers, e.g. the epoch) to one
    file, atomically: a snapshot to resume an interrupted ``fit`` from (callbacks.BackupAndRestore)."""
    build_or_explain(model, f"save_training_state: model '{model.name}' is not built yet, so it has no weights")
    training = dict(training or {})
    if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in training.items()):
        raise ValueError(f"save_training_state: training must map names to integers, received {training!r}")
    entries, arrays = _weights_manifest(model)
    optimizer_json, optimizer_arrays = _optimizer_manifest(model)
    metadata = {**_metadata("training_state"), "training": training}
    check_file_limits(model, None, 3 + len(arrays) + len(optimizer_arrays))

    def write(archive):
        write_json(archive, "metadata.json", metadata)
        _write_weights_and_optimizer(archive, entries, arrays, optimizer_json, optimizer_arrays)

    atomic_write(filepath, write, overwrite, "save_training_state")


def save_weights(model, filepath, overwrite=True):
    """Write only the weights (Keras' order), with their layer and weight names."""
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights to save")
    entries, arrays = _weights_manifest(model)
    metadata = _metadata("weights")
    check_file_limits(model, None, 2 + len(arrays))

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


def _read_weights(archive, model, into_model=False):
    """The arrays for ``model``'s weights, every manifest entry checked before any array is read.

    ``into_model``: read each array straight into its weight (for a model made for this file,
    which is dropped if loading fails); otherwise nothing is assigned yet.
    """
    manifest = archive.read_json("weights.json")
    if not isinstance(manifest, list):
        raise archive.error("weights.json is not a list")
    expected = model.named_weights()
    if len(manifest) != len(expected):
        raise archive.error(f"it holds {len(manifest)} weight arrays, model '{model.name}' has {len(expected)}")
    paths = []
    for i, (entry, (layer, wname, weight)) in enumerate(zip(manifest, expected)):
        if not isinstance(entry, dict):
            raise archive.error(f"weights.json entry {i} is not an object")
        # Matched by position and class, as Keras 3 does, so weights load into a fresh copy of the
        # architecture even when its automatic layer names differ (dense_2 instead of dense).
        if entry.get("layer_class") != type(layer).__name__ or _leaf(str(entry.get("name"))) != _leaf(wname):
            raise archive.error(f"weight {i} is '{entry.get('name')}' of a {entry.get('layer_class')} layer "
                                f"('{entry.get('layer')}') in the file, but '{wname}' of {type(layer).__name__} "
                                f"'{layer.name}' in the model")
        paths.append(archive.check_array(entry, weight.shape, weight.dtype, f"weight '{layer.name}/{wname}'"))
    return [archive.read_array(path, weight.shape, weight.dtype, f"weight '{layer.name}/{wname}'",
                               out=weight.data if into_model else None)
            for path, (layer, wname, weight) in zip(paths, expected)]


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


def compile_from_config(model, compile_config, archive):
    if not isinstance(compile_config, dict):
        raise archive.error("compile_config is not an object")
    try:
        optimizer = optimizers.deserialize(compile_config.get("optimizer"))
        loss = _revive(compile_config.get("loss"), losses.deserialize, "loss")
        metric_list = _revive(compile_config.get("metrics") or [], metrics_module.deserialize, "metric")
        weighted = _revive(compile_config.get("weighted_metrics") or [], metrics_module.deserialize, "metric")
        loss_weights = compile_config.get("loss_weights")
        if loss_weights is not None and not isinstance(loss_weights, (int, float, list, dict)):
            raise ValueError(f"invalid loss_weights {loss_weights!r}")
        model.compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metric_list,
                      weighted_metrics=weighted or None)
    except (TypeError, ValueError, KeyError) as err:
        raise archive.error(f"invalid compile settings: {err}") from None


def _restore_optimizer(model, archive):
    """Check every slot of the file's optimizer state against the model, then read and assign them."""
    if not archive.has("optimizer.json"):
        return
    spec = archive.read_json("optimizer.json")
    if not isinstance(spec, dict) or not isinstance(spec.get("state"), list):
        raise archive.error("optimizer.json has no 'state' list")
    optimizer = model.optimizer
    if spec.get("class_name") != type(optimizer).__name__:
        raise archive.error(f"the optimizer state is for {spec.get('class_name')!r} but the model compiles with "
                            f"{type(optimizer).__name__}")
    entries, variables = spec["state"], model.trainable_weights
    layout = optimizer.state_layout(variables)
    if len(entries) != len(layout):
        raise archive.error(f"the optimizer state holds {len(entries)} arrays, but {type(optimizer).__name__} "
                            f"for the {len(variables)} trainable weights of model '{model.name}' keeps {len(layout)}")
    paths = [archive.check_array(entry, shape, dtype, f"optimizer state {i}")
             for i, (entry, (shape, dtype)) in enumerate(zip(entries, layout))]
    state = [archive.read_array(path, shape, dtype, f"optimizer state {i}")
             for i, (path, (shape, dtype)) in enumerate(zip(paths, layout))]
    try:
        if variables:
            optimizer.build(variables)  # the slots exist now, so set_state fills them in place
        optimizer.set_state(state)
    except (TypeError, ValueError) as err:
        raise archive.error(f"the optimizer state does not fit model '{model.name}': {err}") from None


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model written by ``save_model``: same predictions, and training continues from it."""
    archive = Archive(filepath, "load_model")
    try:
        version = _read_metadata(archive, ("model",))["format_version"]
        config = archive.read_json("config.json")
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise archive.error("config.json does not describe a model")
        layers = layer_entries(config["config"])
        if layers is not None and len(layers) > MAX_LAYERS:
            raise archive.error(f"config.json declares {len(layers)} layers (an input layer included); a model file "
                                f"holds at most {MAX_LAYERS}")
        if version == 1:
            renumber_nested_calls(config)
        with CustomObjectScope(custom_objects or {}):
            model = rebuild_model(archive, config, custom_objects)
            _read_weights(archive, model, into_model=True)
            if compile and config.get("compile_config") is not None:
                compile_from_config(model, config["compile_config"], archive)
                _restore_optimizer(model, archive)
        return model
    except MemoryError:
        raise archive.error("there is not enough memory for the model it describes") from None
    finally:
        archive.close()


def rebuild_model(archive, config, custom_objects):
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


def load_training_state(model, filepath):
    """Restore what ``save_training_state`` wrote into ``model`` (built or buildable, compiled with the same
    optimizer class): its weights and optimizer state, every array checked before anything changes.
    Returns the ``training`` dict."""
    archive = Archive(filepath, "load_training_state")
    try:
        metadata = _read_metadata(archive, ("training_state",))
        training = metadata.get("training")
        if not isinstance(training, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                     for v in training.values()):
            raise archive.error(f"metadata.json's 'training' is not a dict of integers: {training!r}")
        build_or_explain(model, f"load_training_state: model '{model.name}' is not built yet; build it first "
                                 "(model.build((None, ...)) or call it on data)")
        if not model.compiled:
            raise ValueError(f"load_training_state: model '{model.name}' must be compiled (its optimizer receives "
                             "the saved state)")
        weights = _read_weights(archive, model)
        if not archive.has("optimizer.json"):
            raise archive.error("it holds no optimizer state")
        _restore_optimizer(model, archive)  # checks everything before it sets the state
        _assign_weights(model, weights)
        return dict(training)
    except MemoryError:
        raise archive.error("there is not enough memory to read it") from None
    finally:
        archive.close()


def load_weights(model, filepath):
    """Load weights saved by ``save_weights``, ``save`` or ``save_training_state`` into ``model`` (names and
    shapes must match)."""
    archive = Archive(filepath, "load_weights")
    try:
        _read_metadata(archive, ("weights", "model", "training_state"))
        build_or_explain(model, f"load_weights: model '{model.name}' is not built yet; build it first "
                                 "(model.build((None, ...)) or call it on data)")
        _assign_weights(model, _read_weights(archive, model))
    except MemoryError:
        raise archive.error("there is not enough memory to read its weights") from None
    finally:
        archive.close()
