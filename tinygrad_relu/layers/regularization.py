"""Regularizing layers, active in training only (identities in inference), with Keras' arguments and formulas:

    SpatialDropout1D/2D   Dropout of whole feature maps: one keep-or-drop per (sample, channel), kept ones
                          scaled by 1 / (1 - rate)
    GaussianNoise         x + n,  n ~ N(0, stddev^2)                               dy/dx = 1
    GaussianDropout       x * m,  m ~ N(1, rate / (1 - rate))                      dy/dx = m
    AlphaDropout          a * (x * k + alpha' * (1 - k)) + b, k ~ Bernoulli(1 - rate), alpha' = -SELU's
                          alpha * scale, a and b chosen so a SELU net's mean and variance are kept
                                                                                   dy/dx = a * k
    ActivityRegularization  y = x, adding l1 * sum|x| + l2 * sum(x^2) (per sample) to the loss

The noise is a constant of the graph: the gradient flows to x only. Unseeded layers draw from the
library's generator (``utils.set_random_seed``); a ``seed`` gives a layer a stream of its own.
"""
import math

import numpy as np

from .. import regularizers, utils
from ..tensor import Tensor
from .base import Layer, keeps_shape
from .core import Dropout
from .data_format import standardize_data_format

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _fraction(value, arg, layer, upper_open=False):
    """A number in [0, 1] (or [0, 1) when ``upper_open``); ValueError naming the layer otherwise."""
    valid = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and 0 <= value and (value < 1 if upper_open else value <= 1)
    if not valid:
        bounds = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(f"{type(layer).__name__} '{layer.name}': `{arg}` must be a number in {bounds}, "
                         f"received {arg}={value!r}")
    return float(value)


class _Noise(Layer):
    """A layer that adds noise in training: a seed of its own, or the library's generator."""
    compute_output_shape = keeps_shape

    def _set_seed(self, seed):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__} '{self.name}': `seed` must be an integer or None, "
                             f"received seed={seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _generator(self):
        return self._rng if self._rng is not None else utils.get_rng()

    def _constant(self, values, like):
        return Tensor._make(values.astype(like.dtype, copy=False), False, None)


class SpatialDropout1D(Dropout):
    """Dropout of whole channels of (N, steps, C): one mask value per sample and channel."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def check_input_shape(self, shape):
        self._require_ndim(shape, 3)

    def _mask_shape(self, x):
        return (x.shape[0], 1, x.shape[2])

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        config.pop("trainable")  # (Keras' SpatialDropout constructors refuse the key; it holds no weights)
        return config


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps of (N, H, W, C) (channels_first: (N, C, H, W))."""

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = standardize_data_format(data_format, f"SpatialDropout2D '{self.name}'")

    def check_input_shape(self, shape):
        self._require_ndim(shape, 4)

    def _mask_shape(self, x):
        n, a, _, d = x.shape
        return (n, a, 1, 1) if self.data_format == "channels_first" else (n, 1, 1, d)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        config.pop("trainable")  # (Keras' SpatialDropout constructors refuse the key; it holds no weights)
        config["data_format"] = self.data_format
        return config


class GaussianNoise(_Noise):
    """x + N(0, stddev^2) noise in training."""
    _fast_call = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _fraction(stddev, "stddev", self)  # Keras' bound
        self._set_seed(seed)

    def call(self, x, training=False):
        if not training or self.stddev == 0:
            return x
        return x + self._constant(self._generator().normal(0.0, self.stddev, size=x.shape), x)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """x * N(1, rate / (1 - rate)) noise in training: Dropout's variance with a Gaussian multiplier."""
    _fast_call = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _fraction(rate, "rate", self, upper_open=True)  # rate 1: an infinite stddev
        self._set_seed(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * self._constant(self._generator().normal(1.0, stddev, size=x.shape), x)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_Noise):
    """Dropout for SELU networks: dropped values become SELU's negative saturation, then an affine map
    restores the mean and variance of a standardized input."""
    _fast_call = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _fraction(rate, "rate", self, upper_open=True)  # rate 1: the affine map divides by 0
        if noise_shape is not None:
            noise_shape = tuple(None if n is None else int(n) for n in noise_shape)
        self.noise_shape = noise_shape
        self._set_seed(seed)

    def check_input_shape(self, shape):
        noise = self.noise_shape
        if noise is not None and (len(noise) != len(shape) or any(
                n is not None and n != 1 and s is not None and n != s for n, s in zip(noise, shape))):
            raise ValueError(f"AlphaDropout '{self.name}': noise_shape {noise} does not fit an input of shape "
                             f"{tuple(shape)}: it needs one entry per axis, each None, 1 or the input's size")

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        shape = x.shape if self.noise_shape is None else tuple(
            s if n is None else n for s, n in zip(x.shape, self.noise_shape))
        keep = (self._generator().random(shape) >= self.rate).astype(x.dtype)
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        # a * (x k + alpha' (1 - k)) + b, as one product and one sum of constants
        return x * self._constant(a * keep, x) + self._constant(a * alpha_p * (1 - keep) + b, x)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class ActivityRegularization(Layer):
    """y = x; adds l1 * sum|x| + l2 * sum(x^2), divided by the batch size, to the loss (Keras' activity penalty)."""
    compute_output_shape = keeps_shape

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)  # made from l1 and l2, as Keras does
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = self.activity_regularizer.l1, self.activity_regularizer.l2

    def call(self, x, training=False):
        return x

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        config.update({"l1": self.l1, "l2": self.l2})
        return config
