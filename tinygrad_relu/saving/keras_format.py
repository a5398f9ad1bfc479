"""Keras 3's files, both ways: the ``.keras`` model file and the ``.weights.h5`` weights file.

A .keras file is a zip of three members, as Keras 3 writes it::

    metadata.json      {"keras_version": ..., "date_saved": ...}
    config.json        the model's config in Keras' spelling, with its compile config (keras_config.py)
    model.weights.h5   every variable, the optimizer's included, in Keras' HDF5 layout (h5_weights.py)

``keras.saving.load_model`` opens the files written here, and ``load_model`` here opens the ones Keras
writes, for every layer this package has. A .weights.h5 file is that HDF5 file alone.

Loading keeps the native format's safety: the zip and its JSON are read with the caps of limits.py;
classes are found by name in this package's tables and the custom objects, never imported; the model is
built from the config with lazy zero weights, then every dataset the model needs is checked (shape,
dtype, storage) before one is read, straight into its weight. A corrupt or hostile file raises
ModelFileError. A Lambda layer's bytecode loads only with ``safe_mode=False``.
"""
import datetime
import io
import os
import warnings

from .._version import __version__
from .archive import Archive, ModelFileError, atomic_write, write_json
from .h5_weights import (Reader, check_optimizer, check_weights, read_optimizer, read_weights, require_h5py,
                         restore_optimizer, write)
from .keras_config import KERAS_VERSION, compile_config_from_keras, model_config
from .limits import MAX_LAYERS
from .native import build_or_explain, check_file_limits, compile_from_config, layer_entries, rebuild_model
from .object_registration import CustomObjectScope

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_H5_OVERHEAD = 16 << 20  # HDF5's own structures in a weights file, beyond the arrays, for a compressed member


def is_keras_archive(archive):
    """Whether an open Archive holds a Keras model (config.json beside Keras' weights)."""
    return archive.has(CONFIG) and (archive.has(WEIGHTS) or archive.has("model.weights.npz"))


# ---- writing ---------------------------------------------------------------------------------------
def _weights_bytes(model, who):
    buffer = io.BytesIO()
    write(model, buffer, who)
    return buffer.getvalue()


def save_model(model, filepath, overwrite=True):
    """Write ``model`` as a Keras 3 .keras file (architecture, weights, compile settings, optimizer state)."""
    require_h5py("save")
    build_or_explain(model, f"save: model '{model.name}' is not built yet; build it (call it on data, give the first "
                            "layer input_shape=, or call model.build) before saving")
    config = model_config(model)
    check_file_limits(model, config, 3)
    weights = _weights_bytes(model, "save")
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": f"tinygrad_relu {__version__}"}

    def write_archive(archive):
        write_json(archive, METADATA, metadata)
        write_json(archive, CONFIG, config)
        archive.writestr(WEIGHTS, weights)

    atomic_write(filepath, write_archive, overwrite, "save")


def save_weights(model, filepath, overwrite=True):
    """Write the model's variables (and its optimizer's) as Keras' .weights.h5 file."""
    require_h5py("save_weights")
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights to save")
    data = _weights_bytes(model, "save_weights")
    atomic_write(filepath, lambda handle: handle.write(data), overwrite, "save_weights", zipped=False)


# ---- reading ---------------------------------------------------------------------------------------
def _expected_bytes(model):
    total = sum(w.data.nbytes for w in model.weights)
    return 3 * total + _H5_OVERHEAD  # the optimizer's slots (Adam keeps two per weight) and HDF5's structures


def _weights_reader(archive, model, who):
    if not archive.has(WEIGHTS):
        if archive.has("model.weights.npz"):
            raise archive.error("its weights are in model.weights.npz (Keras' weights_format='npz'), which is not "
                                "supported; save it from Keras with the default format (h5)")
        raise archive.error(f"it has no {WEIGHTS}")
    handle = archive.member_file(WEIGHTS, _expected_bytes(model))
    try:
        return Reader(handle, f"{archive.filepath}: {WEIGHTS}", who), handle
    except BaseException:
        handle.close()
        raise


def load_model(filepath, custom_objects=None, compile=True):
    """The model a Keras 3 .keras file holds, its weights and (when ``compile``) its optimizer state loaded."""
    require_h5py("load_model")
    archive = Archive(filepath, "load_model")
    reader = handle = None
    try:
        config = archive.read_json(CONFIG)
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise archive.error(f"{CONFIG} does not describe a model")
        layers = layer_entries(config["config"])
        if layers is not None and len(layers) > MAX_LAYERS:
            raise archive.error(f"{CONFIG} declares {len(layers)} layers (an input layer included); a model file "
                                f"holds at most {MAX_LAYERS}")
        with CustomObjectScope(custom_objects or {}):
            model = rebuild_model(archive, config, custom_objects)
            compile_config = config.get("compile_config") if compile else None
            if compile_config:
                try:
                    ours = compile_config_from_keras(compile_config, "compile_config")
                except ValueError as err:
                    raise archive.error(str(err)) from None
                compile_from_config(model, ours, archive)
            reader, handle = _weights_reader(archive, model, "load_model")
            plan = check_weights(reader, model)
            optimizer_plan = check_optimizer(reader, model) if model.compiled else None
            read_weights(reader, plan, into_model=True)
            if optimizer_plan is not None:
                _restore(reader, model, optimizer_plan)
        return model
    except MemoryError:
        raise archive.error("there is not enough memory for the model it describes") from None
    finally:
        if reader is not None:
            reader.close()
        if handle is not None:
            handle.close()
        archive.close()


def _restore(reader, model, optimizer_plan):
    try:
        restore_optimizer(model.optimizer, model.trainable_weights, read_optimizer(reader, optimizer_plan))
    except (TypeError, ValueError) as err:
        if isinstance(err, ModelFileError):
            raise
        raise reader.error(f"the optimizer state does not fit model '{model.name}': {err}") from None


def load_weights(model, filepath):
    """Load a Keras .weights.h5 file, or the weights of a .keras file, into ``model`` (every array checked first).

    Its optimizer's variables load too when the model is compiled with an optimizer they fit; when they do
    not fit, a warning says so and the optimizer is left as it was (Keras' rule)."""
    require_h5py("load_weights")
    build_or_explain(model, f"load_weights: model '{model.name}' is not built yet; build it first "
                            "(model.build((None, ...)) or call it on data)")
    archive = reader = handle = None
    try:
        if is_hdf5(filepath):
            handle = open(filepath, "rb")
            reader = Reader(handle, os.fspath(filepath), "load_weights")
        else:
            archive = Archive(filepath, "load_weights")
            reader, handle = _weights_reader(archive, model, "load_weights")
        plan = check_weights(reader, model)
        optimizer_plan = None
        if model.compiled:
            try:
                optimizer_plan = check_optimizer(reader, model)
            except ModelFileError as err:
                warnings.warn(f"load_weights: the optimizer's variables were not loaded: {err}", stacklevel=3)
        arrays = read_weights(reader, plan, into_model=False)
        for tensor, array in arrays:
            tensor.data[...] = array
        if optimizer_plan is not None:
            _restore(reader, model, optimizer_plan)
    except MemoryError:
        raise ModelFileError(f"load_weights: cannot load '{os.fspath(filepath)}': there is not enough memory to read "
                             "its weights") from None
    finally:
        if reader is not None:
            reader.close()
        if handle is not None:
            handle.close()
        if archive is not None:
            archive.close()


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(filepath):
    """Whether the file starts with HDF5's signature (Keras' weights files and legacy Keras 2 models)."""
    try:
        with open(filepath, "rb") as handle:
            return handle.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE
    except OSError:
        return False


__all__ = ["save_model", "save_weights", "load_model", "load_weights", "is_hdf5", "is_keras_archive"]
