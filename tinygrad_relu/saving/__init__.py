"""Saving and loading models: Keras 3's files and the native format, both read safely.

    saving_api.py           which format: by the file's name when saving, by its content when loading
    keras_format.py         Keras 3's .keras model file and .weights.h5 weights file (needs h5py)
    keras_config.py         Keras 3's config.json spelling of a model, and what is read from its compile config
    h5_weights.py           Keras' HDF5 weights layout: the paths of the variables, checked before reading
    native.py               the native file: a zip of JSON and .npy (no HDF5 needed)
    archive.py              atomic zip writing; size-checked reading; ModelFileError
    native.py               (the same) and the training-state snapshot BackupAndRestore writes
    limits.py               what a file may declare
    object_registration.py  custom classes and functions a file may name (register_keras_serializable)
    serialization_lib.py    Keras' {'module', 'class_name', 'config', 'registered_name'} form, both ways

This package reads and writes files; it finds the model class a file names in the registry
the model classes join when they are defined, and never imports the models package itself.
"""
from .archive import ModelFileError
from .native import FORMAT_NAME, FORMAT_VERSION, load_training_state, save_training_state
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_keras_serializable)
from .saving_api import load_model, load_weights, save_model, save_weights
from .serialization_lib import SafeModeScope, deserialize_keras_object, serialize_keras_object

__all__ = ["ModelFileError", "FORMAT_NAME", "FORMAT_VERSION", "load_model", "load_weights", "save_model",
           "save_weights", "save_training_state", "load_training_state", "CustomObjectScope", "custom_object_scope",
           "get_custom_objects", "get_registered_name", "get_registered_object", "register_keras_serializable",
           "deserialize_keras_object", "serialize_keras_object", "SafeModeScope"]
