"""Which format a file is: saving chooses by the file's name, loading by what the file holds.

    name            model.save / save_weights writes        load_model / load_weights reads
    *.keras         Keras 3's model file (keras_format)      either format, recognized by content
    *.weights.h5    Keras' weights file (save_weights only)  Keras' weights file
    any other       the native zip of JSON and .npy          the native file (no HDF5 needed)

A native file named .keras by an earlier version keeps loading: its metadata.json says what it is.
"""
import os

from . import keras_format, native
from .archive import Archive, ModelFileError
from .serialization_lib import SafeModeScope

_LEGACY_H5 = ("save: '{path}' names a legacy Keras 2 HDF5 model file, which is not supported; name it .keras "
              "(Keras 3's format) or give another name for the native format")


def _name(filepath):
    return os.fspath(filepath)


def save_model(model, filepath, overwrite=True):
    """Write the whole model: Keras 3's .keras format for a .keras name, the native format otherwise."""
    path = str(_name(filepath))
    if path.endswith(".keras"):
        return keras_format.save_model(model, filepath, overwrite)
    if path.endswith(".weights.h5"):
        raise ValueError(f"save: '{path}' is a weights file name; use model.save_weights('{path}'), or name the "
                         "model file .keras")
    if path.endswith(".h5") or path.endswith(".hdf5"):
        raise ValueError(_LEGACY_H5.format(path=path))
    return native.save_model(model, filepath, overwrite)


def save_weights(model, filepath, overwrite=True):
    """Write the weights: Keras' weights file for a .weights.h5 name, the native format otherwise."""
    path = str(_name(filepath))
    if path.endswith(".weights.h5"):
        return keras_format.save_weights(model, filepath, overwrite)
    if path.endswith(".keras") or path.endswith(".h5") or path.endswith(".hdf5"):
        raise ValueError(f"save_weights: '{path}': Keras' weights file name ends in .weights.h5 (a .keras file holds "
                         "a whole model: use model.save); any other name gives the native weights file")
    return native.save_weights(model, filepath, overwrite)


def _is_native(filepath, who):
    """Whether a zip file is a native model file (else a Keras one, or neither: the native reader says so)."""
    archive = Archive(filepath, who)
    try:
        if keras_format.is_keras_archive(archive) and not archive.has("weights.json"):
            return False
        return True
    finally:
        archive.close()


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model a file holds, in either format. ``safe_mode=False`` lets a Lambda layer's Python bytecode load
    (it runs code from the file: only for files you trust)."""
    with SafeModeScope(safe_mode):
        if keras_format.is_hdf5(filepath):
            raise ModelFileError(f"load_model: cannot load '{_name(filepath)}': it is an HDF5 file (a Keras weights "
                                 "file, or a legacy Keras 2 model, which is not supported); build the model and call "
                                 "model.load_weights for a weights file")
        if _is_native(filepath, "load_model"):
            return native.load_model(filepath, custom_objects=custom_objects, compile=compile)
        return keras_format.load_model(filepath, custom_objects=custom_objects, compile=compile)


def load_weights(model, filepath):
    """Load weights from a Keras weights file, a .keras file or a native file into ``model``."""
    if keras_format.is_hdf5(filepath) or not _is_native(filepath, "load_weights"):
        return keras_format.load_weights(model, filepath)
    return native.load_weights(model, filepath)
