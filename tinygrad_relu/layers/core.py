"""Core layers: Input, Dense, Flatten, Reshape, Dropout, Activation, Identity (Lambda: lambda_layer.py)."""
import math

import numpy as np

from .. import activations, functional as F, utils
from ..ops import dense as dense_op
from ..tensor import Tensor
from .._state import unique_name
from .base import Layer, keeps_shape
from .kernel_options import fused_activation_name, kernel_options_config, set_kernel_options
from .symbolic import KerasTensor, Node
from .checks import positive_int, shape_str
from .data_format import ChannelsFormat


class InputLayer(Layer):
    """A model's input: holds no weights, and its ``output`` is the symbolic tensor ``Input()`` returns.

    Not listed in a Sequential model's layers; a Functional model lists it first, as Keras does.
    """
    _fast_call = True
    compute_output_shape = keeps_shape

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
        for key in ("sparse", "ragged", "optional"):  # Keras writes these into InputLayer configs
            if kwargs.pop(key, False):
                raise NotImplementedError(f"Input: {key}=True is not supported")
        if shape is None and batch_shape is None:
            raise ValueError("Input: give `shape` (without the batch axis), e.g. Input(shape=(28, 28, 1))")
        if shape is not None and batch_shape is not None:
            raise ValueError("Input: give `shape` or `batch_shape`, not both")
        if batch_shape is None:
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        if any(d is not None and d <= 0 for d in batch_shape):
            raise ValueError(f"Input: every axis of the shape must be positive, received shape {batch_shape[1:]}")
        indices = isinstance(dtype, (str, type, np.dtype)) and np.dtype(dtype).kind in "iu"  # for an Embedding
        super().__init__(name=name or unique_name("input_layer"), dtype=None if indices else dtype, **kwargs)
        if indices:
            self.dtype = np.dtype(dtype).name
        self._batch_input_shape = batch_shape
        self.batch_shape = batch_shape
        self.shape = batch_shape  # as Keras' KerasTensor.shape: batch axis included
        Node(self, (), {}, KerasTensor(batch_shape, self.dtype, name=self.name))  # self.output is its tensor
        self.built = True

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}

    def call(self, x, training=False):
        return x


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
    """Keras' Input(shape=...): a symbolic tensor to call layers on (the Functional API), or to put first in
    Sequential([...]) to fix the input shape."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name,
                      **kwargs).output


class Dense(Layer):
    """y = activation(x @ kernel + bias), kernel of shape (in, units) as in Keras."""
    _fast_call = True
    _supports_masking = True


    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", self.name)
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)

    def check_input_shape(self, shape):
        self._require_min_ndim(shape, 2)
        if self.built:
            self._require_axis(shape, -1, self.kernel.shape[0])

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, "
                             f"received input shape {shape_str(input_shape)}")
        self.kernel = self.add_weight(shape=(in_features, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _fused_activation(self):
        """The activation's name when the fused Dense op computes it, else None."""
        return fused_activation_name(self, dense_op.FUSABLE)

    def _dense(self, x, activation):
        """activation(x @ kernel + bias) through the fused op; x of any rank >= 2 (Keras: last axis)."""
        kernel, bias = self.kernel, self.bias
        if x.data.dtype != kernel.data.dtype:  # mixed precision: numpy's promotion, op by op
            y = F.linear(x, kernel, bias)
            return y if activation == "linear" else activations.ALL_ACTIVATIONS[activation](y)
        if x.ndim == 2:
            return dense_op.dense(x, kernel, bias, activation)
        lead = x.shape[:-1]
        y = dense_op.dense(x.reshape(-1, x.shape[-1]), kernel, bias, activation)
        return y.reshape(lead + (self.units,))

    def call_logits(self, x, training=False):
        return self._dense(x, "linear")

    def call(self, x, training=False):
        name = self._fused_activation()
        if name is None:
            return self.activation(self._dense(x, "linear"))
        return self._dense(x, name)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        config.update(kernel_options_config(self))
        return config


class Flatten(ChannelsFormat, Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...); a 1-D sample becomes (N, 1) as in Keras. With
    data_format="channels_first" the channels are moved last first, so the order matches channels_last's."""
    _fast_call = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._set_data_format(data_format)

    def check_input_shape(self, shape):
        self._require_min_ndim(shape, 1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(math.prod(rest))
        return (input_shape[0], size)

    def call(self, x, training=False):
        if x.ndim > 2:
            x = self._to_last(x)
        return x.reshape(x.shape[0], -1)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Reshape(Layer):
    """Reshape each sample to target_shape (one axis may be -1)."""
    _fast_call = True


    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise TypeError(f"Reshape '{self.name}': target_shape must be a tuple of ints, received {target_shape!r}") from None
        if sum(d == -1 for d in target_shape) > 1 or any(d == 0 or d < -1 for d in target_shape):
            raise ValueError(f"Reshape '{self.name}': target_shape may hold positive sizes and at most one -1, "
                             f"received {target_shape}")
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(math.prod(rest))
        known = int(math.prod(d for d in self.target_shape if d != -1))
        if -1 in self.target_shape:
            if size % known:
                self._incompatible_reshape(input_shape)
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            self._incompatible_reshape(input_shape)
        return self.target_shape

    def _incompatible_reshape(self, input_shape):
        raise ValueError(f"Reshape '{self.name}': the total size of the new shape {self.target_shape} must equal "
                         f"the size of each sample, received input with shape {shape_str(input_shape)}")

    def check_input_shape(self, shape):
        self._require_min_ndim(shape, 1)
        self._resolve(shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(input_shape)

    def call(self, x, training=False):
        return x.reshape((x.shape[0],) + self._resolve(x.shape))

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Dropout(Layer):
    """In training, zero each input with probability `rate` and scale the rest by 1/(1-rate)."""
    _fast_call = True
    _supports_masking = True
    compute_output_shape = keeps_shape


    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout '{self.name}': `rate` must be a number in [0, 1), received rate={rate!r}")
        self.rate = float(rate)
        if noise_shape is not None:
            try:
                noise_shape = tuple(noise_shape)
            except TypeError:
                noise_shape = (noise_shape,)
            if not all(n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0)
                       for n in noise_shape):
                raise ValueError(f"Dropout '{self.name}': `noise_shape` must be a tuple of positive ints or None, "
                                 f"received noise_shape={noise_shape!r}")
            noise_shape = tuple(None if n is None else int(n) for n in noise_shape)
        self.noise_shape = noise_shape
        self.seed = seed
        # a seeded layer draws its own stream; otherwise the global one (utils.set_random_seed)
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def check_input_shape(self, shape):
        """Each axis of noise_shape is None (the input's size), 1 (one mask value shared along it) or the size."""
        noise = self.noise_shape
        if noise is None:
            return
        if len(noise) != len(shape) or any(n is not None and n != 1 and s is not None and n != s
                                           for n, s in zip(noise, shape)):
            raise ValueError(f"Dropout '{self.name}': noise_shape {noise} does not fit an input of shape "
                             f"{shape_str(shape)}: it needs one entry per axis, each None, 1 or the input's size")

    def _mask_shape(self, x):
        """The shape of the keep-or-drop mask: x's, or noise_shape's (None axes: x's size)."""
        if self.noise_shape is None:
            return x.shape
        return tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        rng = self._rng if self._rng is not None else utils.get_rng()
        shape = self._mask_shape(x)
        keep = 1.0 - self.rate
        mask = (rng.random(shape, dtype=np.float64) < keep).astype(x.dtype) / x.dtype.type(keep)
        return x * Tensor._make(mask, False, None)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                       "seed": self.seed})
        return config


class Activation(Layer):
    """Applies an activation function given by name or callable."""
    _fast_call = True
    _supports_masking = True
    compute_output_shape = keeps_shape


    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call_logits(self, x, training=False):
        return x

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Identity(Layer):
    """y = x (a placeholder layer, as Keras' Identity)."""
    _fast_call = True
    compute_output_shape = keeps_shape

    def call(self, x, training=False):
        return x
