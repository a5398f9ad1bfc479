"""Normalizing ops with their closed-form gradients: standardization (LayerNormalization, GroupNormalization)
and L2 normalization (UnitNormalization, keras.ops.normalize).

Written out as one op each instead of a chain of mean, subtract, square, ... so the backward pass is
the textbook formula (one pass, no graph of intermediate arrays).
"""
import numpy as np

from ..tensor import Function


def _axes(axes, ndim, who):
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    if not axes or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{who}: axes {axes} are not axes of a tensor of rank {ndim}")
    return tuple(sorted(a % ndim for a in axes))


class Standardize(Function):
    """y = (x - m) / s with m = mean(x), s = sqrt(var(x) + epsilon) over ``axes`` (the biased variance);
    dx = (dy - mean(dy) - y * mean(dy * y)) / s"""

    def forward(self, x, axes, epsilon):
        self.axes = _axes(axes, x.ndim, "standardize")
        mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - mean
        variance = np.mean(centered * centered, axis=self.axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(variance + x.dtype.type(epsilon))
        self.y = centered * self.inv_std
        return self.y

    def backward(self, grad):
        axes, y = self.axes, self.y
        mean_grad = grad.mean(axis=axes, keepdims=True)
        mean_grad_y = np.mean(grad * y, axis=axes, keepdims=True)
        return (grad - mean_grad - y * mean_grad_y) * self.inv_std


class L2Normalize(Function):
    """y = x * min(1 / |x|, 1 / epsilon), |x| the L2 norm over ``axes`` (Keras' keras.ops.normalize);
    dx = (dy - y * sum(dy * y)) / |x| where |x| > epsilon, dy / epsilon where the bound holds (|x| <= epsilon)"""

    def forward(self, x, axes, epsilon):
        self.axes = _axes(axes, x.ndim, "normalize")
        square_sum = np.sum(x * x, axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore"):  # a zero vector: 1/0 = inf, then the bound
            inv_norm = 1.0 / np.sqrt(square_sum)
        bound = x.dtype.type(1.0 / epsilon)
        self.scale = np.minimum(inv_norm, bound).astype(x.dtype, copy=False)
        self.free = inv_norm < bound  # where the norm, not the bound, sets the scale
        self.y = x * self.scale
        return self.y

    def backward(self, grad):
        y = self.y
        projection = np.sum(grad * y, axis=self.axes, keepdims=True) * self.free
        return (grad - y * projection) * self.scale
