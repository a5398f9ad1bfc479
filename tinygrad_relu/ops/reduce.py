"""Reductions: sum, mean, max over an axis (int, tuple or None), with keepdims."""
import numpy as np

from ..tensor import Function


def _normalize_axis(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for ax in axes:
        ax = int(ax)
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions")
        out.append(ax % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _expand(g, shape, axes, keepdims):
    """Put the reduced axes back into g so it broadcasts against the input."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return g


class Sum(Function):
    """d sum(x) = 1 for every element"""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axis(axis, x.ndim, "sum"), keepdims
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return np.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape)


class Mean(Function):
    """d mean(x) = 1/n for every element"""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axis(axis, x.ndim, "mean"), keepdims
        self.count = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = _expand(g, self.shape, self.axes, self.keepdims) / g.dtype.type(self.count)
        return np.broadcast_to(g, self.shape)


class Max(Function):
    """d max(x): the gradient goes to the maximal elements, split evenly on ties (as torch.amax)"""
    fresh_grads = True  # mask * share: a new array

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = _normalize_axis(axis, x.ndim, "max"), keepdims
        if x.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        out = np.max(x, axis=self.axes, keepdims=True)
        self.mask = x == out
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):
        g = _expand(g, self.mask.shape, self.axes, self.keepdims)
        count = self.mask.sum(axis=self.axes, keepdims=True)
        return self.mask * (g / count).astype(g.dtype)


class Min(Function):
    """d min(x): the gradient goes to the minimal elements, split evenly on ties"""
    fresh_grads = True

    def forward(self, x, axis=None, keepdims=False):
        self.axes, self.keepdims = _normalize_axis(axis, x.ndim, "min"), keepdims
        if x.size == 0:
            raise ValueError(f"min: cannot reduce an empty tensor of shape {x.shape}")
        out = np.min(x, axis=self.axes, keepdims=True)
        self.mask = x == out
        return out if keepdims else np.squeeze(out, axis=self.axes)

    backward = Max.backward


class Cumsum(Function):
    """y_i = sum_{j <= i} x_j along ``axis``;  dx_j = sum_{i >= j} dy_i (a reversed cumulative sum)"""
    fresh_grads = True  # a view of the new reversed cumulative sum

    def forward(self, x, axis):
        (self.axis,) = _normalize_axis(axis, x.ndim, "cumsum")
        return np.cumsum(x, axis=self.axis)

    def backward(self, g):
        return np.flip(np.cumsum(np.flip(g, self.axis), axis=self.axis), self.axis)
