"""Saving and loading models: the native format (a zip of JSON and .npy, no pickle), read safely.

    archive.py              atomic zip writing; size-checked reading; ModelFileError
    native.py               the model file: architecture, weights, compile settings, optimizer state (and
                            the training-state snapshot BackupAndRestore writes)
    object_registration.py  custom classes and functions a file may name (register_keras_serializable)
    serialization_lib.py    Keras' {'module', 'class_name', 'config', 'registered_name'} form, both ways

This package reads and writes files; it finds the model class a file names in the registry
the model classes join when they are defined, and never imports the models package itself.
"""
from .archive import ModelFileError
from .native import (FORMAT_NAME, FORMAT_VERSION, load_model, load_training_state, load_weights, save_model,
                     save_training_state, save_weights)
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_keras_serializable)
from .serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["ModelFileError", "FORMAT_NAME", "FORMAT_VERSION", "load_model", "load_weights", "save_model",
           "save_weights", "save_training_state", "load_training_state", "CustomObjectScope", "custom_object_scope",
           "get_custom_objects", "get_registered_name", "get_registered_object", "register_keras_serializable",
           "deserialize_keras_object", "serialize_keras_object"]
