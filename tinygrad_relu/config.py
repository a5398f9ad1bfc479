"""Keras' global settings (``keras.config``): the default float type, the fuzz factor, the backend's name.

Process-wide, as in Keras: ``set_floatx("float64")`` makes every layer, Input and metric created
afterwards compute in float64 (those made before keep their dtype).
"""
import math
import numbers

import numpy as np

_FLOAT_TYPES = ("float32", "float64")  # what the kernels compute in
_settings = {"floatx": "float32", "epsilon": 1e-7}


def floatx():
    """The default float type of new layers and metrics: 'float32' (Keras' default) or 'float64'."""
    return _settings["floatx"]


def set_floatx(value):
    """Make ``value`` ('float32' or 'float64') the float type of the layers and metrics created from now on."""
    try:
        name = np.dtype(value).name
    except TypeError:
        name = None
    if name not in _FLOAT_TYPES:
        raise ValueError(f"set_floatx: the kernels compute in {' and '.join(_FLOAT_TYPES)}; received {value!r}")
    _settings["floatx"] = name


def epsilon():
    """The fuzz factor numeric expressions add to avoid dividing by zero (Keras' 1e-7 by default)."""
    return _settings["epsilon"]


def set_epsilon(value):
    """Set the fuzz factor the metrics read (F1Score, FBetaScore, MeanIoU, AUC's interpolation, ...).

    The crossentropy losses clip probabilities with their own constant, ``losses.EPSILON`` (1e-7)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1 or \
            not math.isfinite(value):
        raise ValueError(f"set_epsilon: expected a number in (0, 1), received {value!r}")
    _settings["epsilon"] = float(value)


def backend():
    """The name of the engine behind the Keras API: this library's own."""
    return "tinygrad_relu"


def image_data_format():
    """'channels_last': the layout every convolution and pooling layer here takes."""
    return "channels_last"
