"""Keras-style layers: ``from tinygrad_relu.layers import Dense, Conv2D, ...``."""
from .base import Layer, reset_uids
from .core import Input, InputLayer, Dense, Flatten, Reshape, Dropout, Activation
from .conv import Conv1D, Conv2D
from .pooling import (MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D)
from .activation import ReLU, LeakyReLU, PReLU, ELU, Softmax
from .normalization import BatchNormalization
from .merging import (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
                      add, subtract, multiply, average, maximum, minimum, concatenate, dot)
from .symbolic import KerasTensor
from .embedding import Embedding
from .masking import Masking
from .rnn_cells import SimpleRNNCell, LSTMCell, GRUCell
from .rnn import RNN, SimpleRNN, LSTM, GRU
from .wrappers import Bidirectional, TimeDistributed
from .. import _registry

# Keras' short aliases
MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
Convolution1D, Convolution2D = Conv1D, Conv2D

# The built-in classes a saved model may name (custom ones are registered or passed as custom_objects).
LAYER_CLASSES = {cls.__name__: cls for cls in (
    InputLayer, Dense, Flatten, Reshape, Dropout, Activation, Conv1D, Conv2D,
    MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    ReLU, LeakyReLU, PReLU, ELU, Softmax, BatchNormalization,
    Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
    Embedding, Masking, SimpleRNNCell, LSTMCell, GRUCell, RNN, SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed)}
_registry.register_layer_classes(LAYER_CLASSES)  # for the layers that hold a layer (layers/nested.py)


def get(name):
    """The layer class called ``name`` (ValueError listing the known ones)."""
    try:
        return LAYER_CLASSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown layer class {name!r}; known layers: {', '.join(sorted(LAYER_CLASSES))}") from None


__all__ = ["Layer", "reset_uids", "get", "LAYER_CLASSES", "Input", "KerasTensor",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"] + sorted(LAYER_CLASSES)
