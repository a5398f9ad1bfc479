"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax (thin shells over tinygrad_relu.activations)."""
import math
import numbers

from .. import activations, constraints, initializers, regularizers
from .base import Layer, keeps_shape


def _number(value, arg_name, layer, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{type(layer).__name__} '{layer.name}': `{arg_name}` must be a finite number, "
                         f"received {arg_name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': `{arg_name}` must be >= {minimum}, "
                         f"received {arg_name}={value}")
    return float(value)


class ReLU(Layer):
    """max(x, 0) with Keras' options: f(x) = max_value if x >= max_value, x if threshold <= x,
    negative_slope * (x - threshold) otherwise."""
    _supports_masking = True
    _fast_call = True
    compute_output_shape = keeps_shape


    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number(max_value, "max_value", self, 0.0, allow_none=True)
        self.negative_slope = _number(negative_slope, "negative_slope", self, 0.0)
        self.threshold = _number(threshold, "threshold", self)

    def call(self, x, training=False):
        return activations.relu(x, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class LeakyReLU(Layer):
    """x if x > 0 else negative_slope * x (Keras 3 default slope 0.3)."""
    _fast_call = True
    _supports_masking = True
    compute_output_shape = keeps_shape


    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # the Keras 2 name of the same argument
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _number(negative_slope, "negative_slope", self, 0.0)

    def call(self, x, training=False):
        return activations.leaky_relu(x, negative_slope=self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class PReLU(Layer):
    """x if x > 0 else alpha * x, with a learned alpha per input position (shared along shared_axes)."""
    _supports_masking = True
    _fast_call = True
    compute_output_shape = keeps_shape


    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, int):
            self.shared_axes = (shared_axes,)
        else:
            self.shared_axes = tuple(int(a) for a in shared_axes)
        self.alpha = None

    def check_input_shape(self, shape):
        self._require_min_ndim(shape, 2)
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(shape):
                raise ValueError(f"PReLU '{self.name}': shared_axes {self.shared_axes} must name axes 1..{len(shape) - 1} "
                                 f"of an input of shape {tuple(shape)}")
        if self.built:
            for axis, size in enumerate(self.alpha.shape, start=1):
                if size != 1:
                    self._require_axis(shape, axis, size)

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU '{self.name}': every non-shared axis must be known, received input shape "
                             f"{tuple(input_shape)}")
        self.alpha = self.add_weight(shape=tuple(shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint,
                                     name="alpha")

    def call(self, x, training=False):
        # Keras' formula: relu(x) - alpha * relu(-x)
        return activations.relu(x) - self.alpha * activations.relu(-x)

    def get_config(self):
        config = super().get_config()
        config.update({"alpha_initializer": initializers.serialize(self.alpha_initializer),
                       "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                       "alpha_constraint": constraints.serialize(self.alpha_constraint),
                       "shared_axes": None if self.shared_axes is None else list(self.shared_axes)})
        return config


class ELU(Layer):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    _fast_call = True
    _supports_masking = True
    compute_output_shape = keeps_shape


    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(alpha, "alpha", self)

    def call(self, x, training=False):
        return activations.elu(x, alpha=self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along `axis`."""
    _supports_masking = True
    _fast_call = True
    compute_output_shape = keeps_shape


    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else tuple(axis)

    def output_activation_name(self):
        return "softmax" if self.axis == -1 else None

    def call_logits(self, x, training=False):
        return x

    def call(self, x, training=False):
        return activations.softmax(x, axis=self.axis)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis if isinstance(self.axis, int) else list(self.axis)
        return config
