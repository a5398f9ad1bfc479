"""Saving and loading models: the native format (a zip of JSON and .npy, no pickle), read safely.

    archive.py   atomic zip writing; size-checked reading; ModelFileError
    native.py    the model file: architecture, weights, compile settings, optimizer state

This package reads and writes files; it finds the model class a file names in the registry
the model classes join when they are defined, and never imports the models package itself.
"""
from .archive import ModelFileError
from .native import FORMAT_NAME, FORMAT_VERSION, load_model, load_weights, save_model, save_weights

__all__ = ["ModelFileError", "FORMAT_NAME", "FORMAT_VERSION", "load_model", "load_weights", "save_model",
           "save_weights"]
