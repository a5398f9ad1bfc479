"""Ops that move elements without changing them: reshape, permute, indexing, concatenate, pad."""
import numpy as np

from ..tensor import Function, unbroadcast


class Reshape(Function):
    """The gradient is reshaped back to the input's shape."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Permute(Function):
    """The gradient is permuted by the inverse permutation."""

    def forward(self, x, axes):
        if sorted(a % x.ndim for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
            raise ValueError(f"permute: axes {tuple(axes)} are not a permutation of the {x.ndim} axes of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)
        return np.transpose(x, self.axes)

    def backward(self, g):
        return np.transpose(g, np.argsort(self.axes))


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """x[index]: the gradient is scattered back to the selected places (summed where repeated)."""
    fresh_grads = True  # scattered into new zeros

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        self.basic = _is_basic_index(index)
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if self.basic:
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)
        return out


class Concatenate(Function):
    """The gradient is split back along the concatenation axis."""

    def forward(self, *xs, axis=0):
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError:
            raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} do not match off axis {axis}") from None
        self.axis = axis % out.ndim
        self.bounds = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return out

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Pad(Function):
    """Constant padding: the gradient is the interior slice."""

    def forward(self, x, pad_width, value=0.0):
        pad_width = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2)) if np.ndim(pad_width) < 2 \
            else np.asarray(pad_width, dtype=int)
        if pad_width.shape != (x.ndim, 2) or (pad_width < 0).any():
            raise ValueError(f"pad: pad_width {pad_width.tolist()} does not fit a tensor of shape {x.shape}")
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return g[self.slices]


class BroadcastTo(Function):
    """y = x repeated to ``shape`` by broadcasting;  dx = dy summed over the repeated axes"""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to {tuple(shape)}") from None

    def backward(self, g):
        return unbroadcast(g, self.in_shape)


class Tile(Function):
    """y = x repeated ``reps`` times along each axis;  dx = the sum of dy over the copies"""
    fresh_grads = True  # the sum over the copies

    def forward(self, x, reps):
        reps = tuple(int(r) for r in (reps if np.ndim(reps) else (reps,)))
        if any(r < 0 for r in reps):
            raise ValueError(f"tile: repeats must be non-negative, received {reps}")
        y = np.tile(x, reps)
        # the input as numpy's tile sees it: axes prepended to match len(reps), or reps to match ndim
        self.in_shape = x.shape
        self.base = (1,) * (y.ndim - x.ndim) + x.shape
        self.reps = (1,) * (y.ndim - len(reps)) + reps
        return y

    def backward(self, g):
        interleaved = tuple(v for pair in zip(self.reps, self.base) for v in pair)
        summed = g.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(self.base), 2)))
        return summed.reshape(self.in_shape)
