"""Keras' ``keras.preprocessing`` functions: ``sequence.pad_sequences``."""
from . import sequence  # noqa: F401
from .sequence import pad_sequences  # noqa: F401

__all__ = ["sequence", "pad_sequences"]
