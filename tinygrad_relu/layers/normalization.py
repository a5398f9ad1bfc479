"""The normalization layers, with Keras' defaults and weight order: BatchNormalization (over the batch),
LayerNormalization and GroupNormalization (per sample), UnitNormalization (to unit L2 norm).

The per-sample ones run one op with a closed-form gradient (ops/normalization.py).
"""
import math
import numbers
import warnings

import numpy as np

from .. import constraints, initializers, regularizers
from ..ops.normalization import L2Normalize, Standardize
from ..tensor import Tensor
from .base import Layer, keeps_shape


class BatchNormalization(Layer):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, per feature along `axis`.

    Training uses the batch's mean and (biased) variance and moves the moving statistics
    toward them: moving = moving * momentum + batch * (1 - momentum), Keras' rule. Inference,
    and training of a frozen layer (trainable=False, as in Keras 3), use the moving ones.
    """
    _fast_call = True
    _supports_masking = True
    compute_output_shape = keeps_shape


    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        kwargs.pop("synchronized", None)  # Keras: the same statistics on one device
        renorm = kwargs.pop("renorm", False)
        for key in ("renorm_clipping", "renorm_momentum"):  # Keras writes them; they act only with renorm=True
            kwargs.pop(key, None)
        super().__init__(**kwargs)
        if renorm:
            raise NotImplementedError(f"BatchNormalization '{self.name}': renorm=True (batch renormalization) is not "
                                      "supported")
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ValueError(f"BatchNormalization '{self.name}': `axis` must be an int, received axis={axis!r}")
        for arg, value, valid, rule in (("momentum", momentum, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
                                        ("epsilon", epsilon, lambda v: 0 < v < math.inf, "a finite positive number")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not valid(value):  # NaN fails too
                raise ValueError(f"BatchNormalization '{self.name}': `{arg}` must be {rule}, received {arg}={value!r}")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _feature_axis(self, ndim):
        return self.axis % ndim

    def check_input_shape(self, shape):
        self._require_min_ndim(shape, 2)
        if not -len(shape) <= self.axis < len(shape) or self.axis % len(shape) == 0:
            raise ValueError(f"BatchNormalization '{self.name}': axis={self.axis} is not a feature axis of an input "
                             f"with shape {tuple(shape)}")
        if self.built:
            self._require_axis(shape, self.axis, self.moving_mean.shape[0])

    def build(self, input_shape):
        features = input_shape[self.axis]
        if features is None:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} of the input must be known, "
                             f"received input shape {tuple(input_shape)}")
        shape = (features,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                               trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def call(self, x, training=False):
        ndim = x.ndim
        feature_axis = self._feature_axis(ndim)
        reduce_axes = tuple(a for a in range(ndim) if a != feature_axis)
        broadcast = [1] * ndim
        broadcast[feature_axis] = x.shape[feature_axis]
        broadcast = tuple(broadcast)

        if training and self.trainable:
            mean = x.mean(axis=reduce_axes, keepdims=True)
            centered = x - mean
            variance = (centered * centered).mean(axis=reduce_axes, keepdims=True)  # biased, as Keras
            m = x.dtype.type(self.momentum)
            # the moving statistics are state, not part of the graph
            self.moving_mean.data[...] = self.moving_mean.data * m + mean.data.reshape(-1) * (1 - m)
            self.moving_variance.data[...] = self.moving_variance.data * m + variance.data.reshape(-1) * (1 - m)
            normalized = centered / (variance + self.epsilon).sqrt()
        else:
            mean = Tensor._make(self.moving_mean.data.reshape(broadcast), False, None)
            inv_std = 1.0 / np.sqrt(self.moving_variance.data.reshape(broadcast) + x.dtype.type(self.epsilon))
            normalized = (x - mean) * Tensor._make(inv_std.astype(x.dtype), False, None)
        if self.scale:
            normalized = normalized * self.gamma.reshape(broadcast)
        if self.center:
            normalized = normalized + self.beta.reshape(broadcast)
        return normalized

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        })
        return config


# ---- per-sample normalization: LayerNormalization, GroupNormalization, UnitNormalization -------------------
def _axis_list(axis, who):
    """An int, or a list of ints (Keras keeps a list when given one)."""
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise TypeError(f"{who}: `axis` must be an int or a list/tuple of ints, received axis={axis!r}")


def _epsilon(value, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"{who}: `epsilon` must be a finite positive number, received epsilon={value!r}")
    return float(value)


class _AffineNormalization(Layer):
    """The learned scale (gamma) and offset (beta) the normalizations share, in Keras' order and names."""
    _fast_call = True

    def _set_affine(self, center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                    beta_constraint, gamma_constraint):
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _build_affine(self, shape, with_beta=True):
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         name="gamma")
        if self.center and with_beta:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        name="beta")

    def _apply_affine(self, y, broadcast):
        if self.gamma is not None:
            y = y * self.gamma.reshape(broadcast)
        if self.beta is not None:
            y = y + self.beta.reshape(broadcast)
        return y

    def _affine_config(self):
        return {"center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}

    def _check_axes(self, shape, axes):
        for axis in axes:
            if not -len(shape) <= axis < len(shape) or axis % len(shape) == 0:
                raise ValueError(f"{type(self).__name__} '{self.name}': axis {axis} is not a feature axis of an input "
                                 f"with shape {tuple(shape)}")


class LayerNormalization(_AffineNormalization):
    """y = gamma * (x - mean) / sqrt(var + epsilon) + beta, mean and variance per sample over ``axis``
    (Keras' defaults: the last axis, epsilon 1e-3); gamma and beta have the shape of those axes."""
    compute_output_shape = keeps_shape

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        rms_scaling = bool(kwargs.pop("rms_scaling", False))
        super().__init__(**kwargs)
        if rms_scaling:
            warnings.warn("LayerNormalization: rms_scaling=True is deprecated in Keras 3 (it scales by the variance, "
                          "not the root mean square); it computes x * gamma / sqrt(var + epsilon) here as there",
                          DeprecationWarning, stacklevel=2)
        self.axis = _axis_list(axis, f"LayerNormalization '{self.name}'")
        self.epsilon = _epsilon(epsilon, f"LayerNormalization '{self.name}'")
        self.rms_scaling = rms_scaling
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint)

    def _axes(self, ndim):
        return sorted(a % ndim for a in (self.axis if isinstance(self.axis, list) else [self.axis]))

    def check_input_shape(self, shape):
        self._check_axes(shape, self.axis if isinstance(self.axis, list) else [self.axis])
        if self.built:
            weight = self.gamma if self.gamma is not None else self.beta
            if weight is not None and tuple(shape[a] for a in self._axes(len(shape))) != weight.shape:
                self._incompatible(f"expected axes {self.axis} of the input to have sizes {weight.shape}", shape)

    def build(self, input_shape):
        shape = tuple(input_shape[a] for a in self._axes(len(input_shape)))
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization '{self.name}': axis {self.axis} of the input must be known, "
                             f"received input shape {tuple(input_shape)}")
        self._build_affine(shape, with_beta=not self.rms_scaling)

    def call(self, x, training=False):
        axes = self._axes(x.ndim)
        broadcast = tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim))
        if self.rms_scaling:  # Keras' deprecated form: x (not centered) over sqrt(var + epsilon)
            centered = x - x.mean(axis=tuple(axes), keepdims=True)
            variance = (centered * centered).mean(axis=tuple(axes), keepdims=True)
            return self._apply_affine(x / (variance + self.epsilon).sqrt(), broadcast)
        return self._apply_affine(Standardize.apply(x, axes=axes, epsilon=self.epsilon), broadcast)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, **self._affine_config(),
                "rms_scaling": self.rms_scaling}


class GroupNormalization(_AffineNormalization):
    """Split the channels (``axis``) into ``groups``; normalize each group of each sample over its channels and
    the other axes: y = gamma * (x - mean) / sqrt(var + epsilon) + beta, gamma and beta per channel.
    groups=-1 is instance normalization (one group per channel); groups=1 is layer normalization over all axes."""
    compute_output_shape = keeps_shape

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (groups <= 0 and groups != -1):
            raise ValueError("GroupNormalization: received an invalid value for argument `groups`, expected a "
                             f"positive integer (or -1 for instance normalization), received groups={groups!r}")
        super().__init__(**kwargs)
        self.groups = int(groups)
        self.axis = _axis_list(axis, f"GroupNormalization '{self.name}'")
        if isinstance(self.axis, list):
            raise TypeError(f"GroupNormalization '{self.name}': `axis` must be one int, received axis={axis!r}")
        self.epsilon = _epsilon(epsilon, f"GroupNormalization '{self.name}'")
        self._set_affine(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         beta_constraint, gamma_constraint)
        self._channels = None

    def check_input_shape(self, shape):
        self._check_axes(shape, [self.axis])
        channels = shape[self.axis]
        if channels is None:
            return
        groups = channels if self.groups == -1 else self.groups
        if channels < groups or channels % groups:
            raise ValueError(f"GroupNormalization '{self.name}': the number of channels ({channels}, axis "
                             f"{self.axis} of input shape {tuple(shape)}) must be a multiple of the number of groups "
                             f"({groups}), at least as large")
        if self.built:
            self._require_axis(shape, self.axis, self._channels)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"GroupNormalization '{self.name}': axis {self.axis} of the input should have a defined "
                             f"dimension, received input shape {tuple(input_shape)}")
        self._channels = channels
        self._build_affine((channels,))

    def call(self, x, training=False):
        axis = self.axis % x.ndim
        channels = x.shape[axis]
        groups = channels if self.groups == -1 else self.groups
        grouped = x.reshape(x.shape[:axis] + (groups, channels // groups) + x.shape[axis + 1:])
        reduce = [a for a in range(1, grouped.ndim) if a != axis]
        y = Standardize.apply(grouped, axes=reduce, epsilon=self.epsilon).reshape(x.shape)
        return self._apply_affine(y, tuple(channels if a == axis else 1 for a in range(x.ndim)))

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                **self._affine_config()}


class UnitNormalization(Layer):
    """y = x / |x|, the L2 norm over ``axis`` (at most 1e12 times x: Keras' epsilon 1e-12 on the norm)."""
    _fast_call = True
    compute_output_shape = keeps_shape

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_list(axis, f"UnitNormalization '{self.name}'")

    def check_input_shape(self, shape):
        for axis in self.axis if isinstance(self.axis, list) else [self.axis]:
            if not -len(shape) <= axis < len(shape):
                raise ValueError(f"UnitNormalization '{self.name}': axis {self.axis} is out of bounds for input "
                                 f"shape {tuple(shape)}")

    def call(self, x, training=False):
        return L2Normalize.apply(x, axes=self.axis, epsilon=1e-12)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
