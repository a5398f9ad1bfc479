"""keras.ops' numpy-like functions, on Tensors: what a custom layer, loss or metric is written with.

Each function takes Tensors, numpy arrays, lists or numbers alike and returns a Tensor. The
differentiable ones record the graph (their ops are the Functions of ``elementwise``,
``reduce``, ``movement`` and ``linalg``, each with its derivative beside it); comparisons,
``argmax``, rounding and the constructors return constants, as their gradient is zero or
undefined. A constant mixed with a Tensor takes the Tensor's float dtype.

    >>> from tinygrad_relu import ops
    >>> w = ops.convert_to_tensor([[1.0, -2.0]]); w.requires_grad = True
    >>> loss = ops.mean(ops.square(ops.matmul([[3.0], [4.0]], w)))
"""
import builtins

import numpy as np

from ..tensor import Tensor
from . import elementwise as E, linalg as L, movement as M, reduce as R
from .activation import Tanh

_NUMPY_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
                 "uint32", "uint64", "bool"}


def _dtype(dtype, who):
    try:
        name = np.dtype(getattr(dtype, "name", dtype)).name
    except TypeError:
        raise TypeError(f"{who}: {dtype!r} is not a dtype") from None
    if name not in _NUMPY_DTYPES:
        raise ValueError(f"{who}: unsupported dtype {name!r}; use one of {', '.join(sorted(_NUMPY_DTYPES))}")
    return np.dtype(name)


# ---- conversion ---------------------------------------------------------------------------------
def convert_to_tensor(x, dtype=None, sparse=None):
    """A Tensor of ``x`` (a Tensor passes through, cast when ``dtype`` differs). Python numbers and
    lists become int32 / float32 as in Keras; numpy arrays keep their dtype."""
    if sparse:
        raise ValueError("convert_to_tensor: sparse tensors are not supported")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(_dtype(dtype, "convert_to_tensor"))
    elif not isinstance(x, np.ndarray) and not isinstance(x, np.generic):
        if arr.dtype == np.int64:
            arr = arr.astype(np.int32)
        elif arr.dtype == np.float64:
            arr = arr.astype(np.float32)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"convert_to_tensor: cannot make a tensor from values of dtype {arr.dtype}")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # the kernels compute in float32 or float64
    return Tensor._make(np.ascontiguousarray(arr) if arr.ndim else arr, False, None)


def convert_to_numpy(x):
    """The values as a numpy array (no graph)."""
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def is_tensor(x):
    return isinstance(x, Tensor)


def _t(x):
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def _pair(x1, x2):
    """Two constants become Tensors as convert_to_tensor makes them; beside a Tensor, a constant is
    left for the op to convert to that Tensor's dtype."""
    if isinstance(x1, Tensor) or isinstance(x2, Tensor):
        return x1, x2
    return convert_to_tensor(x1), convert_to_tensor(x2)


def _const(array):
    return Tensor._make(np.asarray(array), False, None)


def cast(x, dtype):
    """x as ``dtype``; float to float keeps the gradient, anything else is a constant."""
    x = _t(x)
    dtype = _dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "f" and dtype.kind == "f" and dtype.itemsize >= 4:
        return E.Cast.apply(x, dtype=dtype)
    return _const(x.data.astype(dtype))


def stop_gradient(x):
    """The same values, cut from the graph: no gradient flows back through it."""
    return _t(x).detach()


def shape(x):
    return tuple(_t(x).shape)


def ndim(x):
    return _t(x).ndim


def size(x):
    return _t(x).size


# ---- arithmetic ---------------------------------------------------------------------------------
def add(x1, x2):
    return E.Add.apply(*_pair(x1, x2))


def subtract(x1, x2):
    return E.Sub.apply(*_pair(x1, x2))


def multiply(x1, x2):
    return E.Mul.apply(*_pair(x1, x2))


def divide(x1, x2):
    return E.Div.apply(*_pair(x1, x2))


true_divide = divide


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0 (no gradient flows through those places)."""
    x2 = _t(x2)
    zero = x2.data == 0
    safe = where(zero, 1.0, x2)
    return where(zero, 0.0, divide(x1, safe))


def negative(x):
    return E.Neg.apply(x)


def power(x1, x2):
    """x1 ** x2; a scalar exponent is differentiated in x1 only, a tensor one in both."""
    if not isinstance(x2, Tensor) and np.ndim(x2) == 0:
        return E.Pow.apply(_t(x1), exponent=float(x2))
    return E.Power.apply(*_pair(x1, x2))


def square(x):
    return E.Square.apply(x)


def sqrt(x):
    return E.Sqrt.apply(x)


def exp(x):
    return E.Exp.apply(x)


def expm1(x):
    return E.Expm1.apply(x)


def log(x):
    return E.Log.apply(x)


def log1p(x):
    return E.Log1p.apply(x)


def abs(x):
    return E.Abs.apply(x)


absolute = abs


def sin(x):
    return E.Sin.apply(x)


def cos(x):
    return E.Cos.apply(x)


def tanh(x):
    return Tanh.apply(x)


def reciprocal(x):
    return E.Div.apply(1.0, _t(x))


def clip(x, x_min, x_max):
    return E.Clip.apply(x, min=x_min, max=x_max)


def maximum(x1, x2):
    return E.Maximum.apply(*_pair(x1, x2))


def minimum(x1, x2):
    return E.Minimum.apply(*_pair(x1, x2))


def where(condition, x1, x2):
    """x1 where condition holds, x2 elsewhere; the condition gets no gradient."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return E.Where.apply(Tensor._make(cond.astype(bool), False, None), *_pair(x1, x2))


def matmul(x1, x2):
    return L.MatMul.apply(*_pair(x1, x2))


def dot(x1, x2):
    """numpy's dot: a matrix product for 1-D and 2-D operands (scalars multiply)."""
    x1, x2 = _pair(x1, x2)
    x1, x2 = _t(x1), _t(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return multiply(x1, x2)
    if x1.ndim > 2 or x2.ndim > 2:
        raise NotImplementedError(f"dot: operands of rank > 2 are not supported (shapes {x1.shape} and "
                                  f"{x2.shape}); use matmul or tensordot")
    return L.MatMul.apply(x1, x2)


# ---- rounding and comparisons: constants ----------------------------------------------------------
def _unary_const(fn):
    def op(x):
        return _const(fn(_t(x).data))
    op.__name__ = fn.__name__
    op.__doc__ = f"numpy's {fn.__name__}; a constant (its gradient is zero or undefined)."
    return op


sign = _unary_const(np.sign)
floor = _unary_const(np.floor)
ceil = _unary_const(np.ceil)
isnan = _unary_const(np.isnan)
isinf = _unary_const(np.isinf)
isfinite = _unary_const(np.isfinite)
logical_not = _unary_const(np.logical_not)


def round(x, decimals=0):
    return _const(np.round(_t(x).data, decimals))


def _binary_const(fn):
    def op(x1, x2):
        a, b = convert_to_numpy(x1), convert_to_numpy(x2)
        # a Python number beside a float tensor is taken in its dtype, as Keras' weak types: equal(x, 0.9)
        if isinstance(x1, Tensor) and not isinstance(x2, Tensor) and a.dtype.kind == "f":
            b = b.astype(a.dtype)
        elif isinstance(x2, Tensor) and not isinstance(x1, Tensor) and b.dtype.kind == "f":
            a = a.astype(b.dtype)
        return _const(fn(a, b))
    op.__name__ = fn.__name__
    op.__doc__ = f"numpy's {fn.__name__}, elementwise with broadcasting; a boolean constant."
    return op


equal = _binary_const(np.equal)
not_equal = _binary_const(np.not_equal)
greater = _binary_const(np.greater)
greater_equal = _binary_const(np.greater_equal)
less = _binary_const(np.less)
less_equal = _binary_const(np.less_equal)
logical_and = _binary_const(np.logical_and)
logical_or = _binary_const(np.logical_or)
logical_xor = _binary_const(np.logical_xor)


# ---- reductions -----------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    return R.Sum.apply(_t(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    x = _t(x)
    if x.dtype.kind != "f":
        x = cast(x, "float32")
    return R.Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    if initial is not None:
        raise NotImplementedError("max: initial is not supported")
    return R.Max.apply(_t(x), axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False, initial=None):
    if initial is not None:
        raise NotImplementedError("min: initial is not supported")
    return R.Min.apply(_t(x), axis=axis, keepdims=keepdims)


amax, amin = max, min


def var(x, axis=None, keepdims=False):
    """Mean squared deviation from the mean (the biased variance, as numpy and Keras)."""
    x = _t(x)
    centered = x - mean(x, axis=axis, keepdims=True)
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), shifted by the maximum so large values never overflow."""
    x = _t(x)
    shift = np.max(x.data, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0).astype(x.dtype, copy=False)
    out = log(sum(exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else squeeze(out, axis=axis if axis is not None else tuple(builtins.range(x.ndim)))


def cumsum(x, axis=None, dtype=None):
    x = _t(x) if dtype is None else cast(x, dtype)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return R.Cumsum.apply(x, axis=axis)


def argmax(x, axis=None, keepdims=False):
    return _const(np.argmax(_t(x).data, axis=axis, keepdims=keepdims).astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    return _const(np.argmin(_t(x).data, axis=axis, keepdims=keepdims).astype(np.int32))


def argsort(x, axis=-1):
    return _const(np.argsort(_t(x).data, axis=axis, kind="stable").astype(np.int32))


def all(x, axis=None, keepdims=False):
    return _const(np.all(_t(x).data, axis=axis, keepdims=keepdims))


def any(x, axis=None, keepdims=False):
    return _const(np.any(_t(x).data, axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    return _const(np.count_nonzero(_t(x).data, axis=axis))


# ---- shapes -------------------------------------------------------------------------------------------
def reshape(x, newshape):
    if isinstance(newshape, (int, np.integer)):
        newshape = (int(newshape),)
    return M.Reshape.apply(_t(x), shape=tuple(newshape))


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = _t(x)
    axes = tuple(reversed(builtins.range(x.ndim))) if axes is None else tuple(axes)
    return M.Permute.apply(x, axes=axes)


def swapaxes(x, axis1, axis2):
    x = _t(x)
    axes = list(builtins.range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return M.Permute.apply(x, axes=tuple(axes))


def moveaxis(x, source, destination):
    x = _t(x)
    sources = [int(a) % x.ndim for a in np.atleast_1d(source)]
    destinations = [int(a) % x.ndim for a in np.atleast_1d(destination)]
    if len(sources) != len(destinations):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    order = [a for a in builtins.range(x.ndim) if a not in sources]
    for d, s in sorted(zip(destinations, sources)):  # numpy's rule
        order.insert(d, s)
    return M.Permute.apply(x, axes=tuple(order))


def expand_dims(x, axis):
    x = _t(x)
    return reshape(x, np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def squeeze(x, axis=None):
    x = _t(x)
    try:
        shape = np.squeeze(np.empty(x.shape, dtype=bool), axis=axis).shape
    except ValueError:
        raise ValueError(f"squeeze: cannot squeeze axis {axis} of a tensor of shape {x.shape} "
                         "(only axes of size 1 can go)") from None
    return reshape(x, shape)


def broadcast_to(x, shape):
    return M.BroadcastTo.apply(_t(x), shape=tuple(shape))


def tile(x, repeats):
    return M.Tile.apply(_t(x), reps=repeats)


def concatenate(xs, axis=0):
    return M.Concatenate.apply(*[_t(x) for x in xs], axis=axis)


def stack(x, axis=0):
    """Join tensors of one shape along a new axis."""
    xs = [_t(t) for t in x]
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, received {[t.shape for t in xs]}")
    return concatenate([expand_dims(t, axis) for t in xs], axis=axis)


def split(x, indices_or_sections, axis=0):
    """Pieces of x along ``axis``: ``n`` equal ones or cut at the given indices (gradient-exact slices)."""
    x = _t(x)
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
    x = _t(x)
    index = convert_to_numpy(indices).astype(np.intp)
    if axis is None:
        return reshape(x, (-1,))[index]
    axis = axis % x.ndim
    return x[(slice(None),) * axis + (index,)]


def take_along_axis(x, indices, axis=None):
    """numpy's take_along_axis, differentiable in x."""
    x = _t(x)
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
    return M.Pad.apply(_t(x), pad_width=pad_width, value=0.0 if constant_values is None else constant_values)


# ---- constructors: constants ---------------------------------------------------------------------------
def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros(shape, dtype=None):
    return _const(np.zeros(_shape_tuple(shape), dtype=_dtype(dtype or "float32", "zeros")))


def ones(shape, dtype=None):
    return _const(np.ones(_shape_tuple(shape), dtype=_dtype(dtype or "float32", "ones")))


def full(shape, fill_value, dtype=None):
    return _const(np.full(_shape_tuple(shape), fill_value, dtype=_dtype(dtype or "float32", "full")))


def zeros_like(x, dtype=None):
    x = _t(x)
    return _const(np.zeros(x.shape, dtype=x.dtype if dtype is None else _dtype(dtype, "zeros_like")))


def ones_like(x, dtype=None):
    x = _t(x)
    return _const(np.ones(x.shape, dtype=x.dtype if dtype is None else _dtype(dtype, "ones_like")))


def full_like(x, fill_value, dtype=None):
    x = _t(x)
    return _const(np.full(x.shape, fill_value, dtype=x.dtype if dtype is None else _dtype(dtype, "full_like")))


def eye(N, M=None, k=0, dtype=None):
    return _const(np.eye(N, M, k, dtype=_dtype(dtype or "float32", "eye")))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=1, dtype=None):
    values = np.arange(start, stop, step)
    if dtype is None:
        dtype = "int32" if values.dtype.kind in "iu" else "float32"
    return _const(values.astype(_dtype(dtype, "arange")))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return _const(np.linspace(start, stop, num, endpoint=endpoint).astype(_dtype(dtype or "float32", "linspace")))


__all__ = sorted(name for name, value in list(globals().items())
                 if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__)
