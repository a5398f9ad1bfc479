"""BatchNormalization, with Keras' defaults (momentum 0.99, epsilon 1e-3) and weight order."""
import math
import numbers

import numpy as np

from .. import initializers, regularizers
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
        kwargs.pop("synchronized", None)
        super().__init__(**kwargs)
        if beta_constraint is not None or gamma_constraint is not None:
            raise NotImplementedError(f"BatchNormalization '{self.name}': constraints are not supported")
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
                                         regularizer=self.gamma_regularizer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, name="beta")
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
        })
        return config
