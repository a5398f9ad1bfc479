"""keras.ops' functions that rearrange elements: shapes, joins and splits, gathers, sorting.

Like ``ops/numpy.py``, they take Tensors, arrays, lists or numbers and
return Tensors; the gradient of each is the matching rearrangement back (Reshape, Permute, GetItem,
Concatenate, Pad, BroadcastTo, Tile: the ops in ``movement.py``).
"""
import builtins

import numpy as np

from . import movement as M
from .core import constant, convert_to_numpy, to_tensor


def reshape(x, newshape):
    if isinstance(newshape, (int, np.integer)):
        newshape = (int(newshape),)
    return M.Reshape.apply(to_tensor(x), shape=tuple(newshape))


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = to_tensor(x)
    axes = tuple(reversed(builtins.range(x.ndim))) if axes is None else tuple(axes)
    return M.Permute.apply(x, axes=axes)


def swapaxes(x, axis1, axis2):
    x = to_tensor(x)
    axes = list(builtins.range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return M.Permute.apply(x, axes=tuple(axes))


def moveaxis(x, source, destination):
    x = to_tensor(x)
    sources = [int(a) % x.ndim for a in np.atleast_1d(source)]
    destinations = [int(a) % x.ndim for a in np.atleast_1d(destination)]
    if len(sources) != len(destinations):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    order = [a for a in builtins.range(x.ndim) if a not in sources]
    for d, s in sorted(zip(destinations, sources)):  # numpy's rule
        order.insert(d, s)
    return M.Permute.apply(x, axes=tuple(order))


def expand_dims(x, axis):
    x = to_tensor(x)
    return reshape(x, np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def squeeze(x, axis=None):
    x = to_tensor(x)
    try:
        shape = np.squeeze(np.empty(x.shape, dtype=bool), axis=axis).shape
    except ValueError:
        raise ValueError(f"squeeze: cannot squeeze axis {axis} of a tensor of shape {x.shape} "
                         "(only axes of size 1 can go)") from None
    return reshape(x, shape)


def broadcast_to(x, shape):
    return M.BroadcastTo.apply(to_tensor(x), shape=tuple(shape))


def tile(x, repeats):
    return M.Tile.apply(to_tensor(x), reps=repeats)


def concatenate(xs, axis=0):
    return M.Concatenate.apply(*[to_tensor(x) for x in xs], axis=axis)


def stack(x, axis=0):
    """Join tensors of one shape along a new axis."""
    xs = [to_tensor(t) for t in x]
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, received {[t.shape for t in xs]}")
    return concatenate([expand_dims(t, axis) for t in xs], axis=axis)


def split(x, indices_or_sections, axis=0):
    """Pieces of x along ``axis``: ``n`` equal ones or cut at the given indices (gradient-exact slices)."""
    x = to_tensor(x)
    axis = axis % x.ndim
    length = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if length % indices_or_sections:
            raise ValueError(f"split: axis {axis} of length {length} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = length // indices_or_sections
        bounds = list(builtins.range(step, length, step))
    else:
        bounds = [int(i) for i in indices_or_sections]
    edges = [0] + bounds + [length]
    lead = (slice(None),) * axis
    return [x[lead + (slice(a, b),)] for a, b in zip(edges[:-1], edges[1:])]


def take(x, indices, axis=None):
    """x's elements at integer ``indices`` along ``axis`` (flattened when None); the gradient is
    scattered back, summed where an index repeats."""
    x = to_tensor(x)
    index = convert_to_numpy(indices).astype(np.intp)
    if axis is None:
        return reshape(x, (-1,))[index]
    axis = axis % x.ndim
    return x[(slice(None),) * axis + (index,)]


def take_along_axis(x, indices, axis=None):
    """numpy's take_along_axis, differentiable in x."""
    x = to_tensor(x)
    index = convert_to_numpy(indices).astype(np.intp)
    if axis is None:
        return reshape(x, (-1,))[index]
    axis = axis % x.ndim
    if index.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of rank {index.ndim} do not match x of rank {x.ndim}")
    grids = np.ix_(*[np.arange(n) for n in np.broadcast_shapes(
        tuple(1 if a == axis else d for a, d in enumerate(x.shape)),
        tuple(1 if a == axis else d for a, d in enumerate(index.shape)))])
    full = tuple(index if a == axis else g for a, g in enumerate(grids))
    return x[full]


def pad(x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, received mode={mode!r}")
    return M.Pad.apply(to_tensor(x), pad_width=pad_width, value=0.0 if constant_values is None else constant_values)


def hstack(xs):
    xs = [to_tensor(x) for x in xs]
    return concatenate(xs, axis=0 if all(x.ndim == 1 for x in xs) else 1)


def vstack(xs):
    return concatenate([reshape(t, (1, -1)) if t.ndim == 1 else t for t in (to_tensor(x) for x in xs)], axis=0)


def append(x1, x2, axis=None):
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def unstack(x, num=None, axis=0):
    x = to_tensor(x)
    return [squeeze(piece, axis) for piece in split(x, x.shape[axis], axis=axis)]


def flip(x, axis=None):
    x = to_tensor(x)
    axes = builtins.range(x.ndim) if axis is None else [a % x.ndim for a in np.atleast_1d(axis)]
    return x[tuple(slice(None, None, -1) if a in axes else slice(None) for a in builtins.range(x.ndim))]


def roll(x, shift, axis=None):
    x = to_tensor(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    axis = axis % x.ndim
    n = x.shape[axis]
    order = (np.arange(n) - int(shift)) % n
    return take(x, order, axis=axis)


def repeat(x, repeats, axis=None):
    x = to_tensor(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = axis % x.ndim
    return take(x, np.repeat(np.arange(x.shape[axis]), repeats), axis=axis)


def sort(x, axis=-1):
    """x sorted along axis; the gradient goes back to where each value came from."""
    x = to_tensor(x)
    return take_along_axis(x, np.argsort(x.data, axis=axis, kind="stable"), axis=axis)


def top_k(x, k, sorted=True):
    """(the k largest values along the last axis, differentiable; their indices, a constant)."""
    x = to_tensor(x)
    order = np.argsort(-x.data, axis=-1, kind="stable")[..., :int(k)]
    return take_along_axis(x, order, axis=-1), constant(order.astype(np.int32))


__all__ = sorted(name for name, value in list(globals().items())
                 if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__)
