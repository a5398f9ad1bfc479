"""Keras-style layers: ``from tinygrad_relu.layers import Dense, Conv2D, ...``."""
from .base import Layer, reset_uids
from .core import Input, InputLayer, Dense, Flatten, Reshape, Dropout, Activation, Identity
from .lambda_layer import Lambda
from .preprocessing import Normalization, Rescaling
from .regularization import (SpatialDropout1D, SpatialDropout2D, GaussianNoise, GaussianDropout, AlphaDropout,
                             ActivityRegularization)
from .reshaping import (UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D, Permute,
                        RepeatVector)
from .conv import Conv1D, Conv2D
from .conv_variants import (Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                            SeparableConv2D)
from .pooling import (MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D)
from .activation import ReLU, LeakyReLU, PReLU, ELU, Softmax
from .normalization import BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization
from .merging import (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot,
                      add, subtract, multiply, average, maximum, minimum, concatenate, dot)
from .symbolic import KerasTensor
from . import op_layer  # noqa: F401  (ops called on KerasTensors add nodes)
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
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D

# The built-in classes a saved model may name (custom ones are registered or passed as custom_objects).
LAYER_CLASSES = {cls.__name__: cls for cls in (
    InputLayer, Dense, Flatten, Reshape, Dropout, Activation, Identity, Lambda, Conv1D, Conv2D,
    UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D, Permute, RepeatVector,
    SpatialDropout1D, SpatialDropout2D, GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization,
    Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
    MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    ReLU, LeakyReLU, PReLU, ELU, Softmax, BatchNormalization, LayerNormalization, GroupNormalization,
    UnitNormalization, Normalization, Rescaling,
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
