"""Keras-style models: ``Model`` (Functional and subclassed), ``Sequential``, and loading them back.

    model.py          Model: a Layer that trains, summarizes and saves; subclass it with __init__ + call
    trainer.py        compile / fit / evaluate / predict and the per-batch steps
    compile_utils.py  compile's losses, loss weights and metrics per output, with Keras' log names
    data.py           what fit / evaluate / predict accept, turned into arrays once per call
    sequential.py     Sequential: the stack, its build and its fast forward pass
    functional.py     Functional: Model(inputs, outputs), the graph of layer calls on symbolic tensors
    cloning.py        clone_model: the same architecture with fresh weights
"""
import json

from .. import _registry, saving
from .model import Model
from .sequential import Sequential
from .functional import Functional
from .cloning import clone_model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Read a model file: Keras 3's .keras format or the native one (told apart by content), a model that
    predicts identically and trains on.

    ``custom_objects`` maps names to the user classes and functions the file names (registered ones are
    found without it). Nothing in a file is imported; with ``safe_mode=True`` (the default) nothing in it is
    run either, and a Lambda layer holding Python bytecode is refused: pass ``safe_mode=False`` only for a
    file you trust, as in Keras."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """The model (with fresh weights) a ``model.to_json()`` string describes."""
    data = json.loads(json_string)
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ValueError("model_from_json: expected the JSON of model.to_json()")
    return saving.serialization_lib.deserialize_layer(data, custom_objects)


def model_from_config(config, custom_objects=None):
    """The model a {'class_name', 'config'} dict describes."""
    return saving.serialization_lib.deserialize_layer(config, custom_objects)


__all__ = ["Model", "Sequential", "Functional", "clone_model", "load_model", "model_from_json",
           "model_from_config"]
del _registry
