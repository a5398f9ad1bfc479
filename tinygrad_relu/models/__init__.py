"""Keras-style models: ``Sequential``, and loading them back.

    model.py       Model: weights, summary, saving; the training half comes from trainer.py
    trainer.py     compile / fit / evaluate / predict and the per-batch steps
    data.py        what fit / evaluate / predict accept, turned into arrays once per call
    sequential.py  Sequential: the stack, its build and its forward pass
"""
import json

from .. import saving
from .model import Model
from .sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True):
    """Read a file written by ``model.save``: a model that predicts identically and trains on."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


def model_from_json(json_string, custom_objects=None):
    data = json.loads(json_string)
    if not isinstance(data, dict) or data.get("class_name") != "Sequential":
        raise ValueError("model_from_json: only Sequential models are supported")
    return Sequential.from_config(data.get("config"), custom_objects=custom_objects)


__all__ = ["Model", "Sequential", "load_model", "model_from_json"]
