"""keras.ops' numpy-like math, on Tensors: what a custom layer, loss or metric is written with.

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
from . import elementwise as E, linalg as L, reduce as R
from .activation import Tanh
from .arrays import broadcast_to, reshape, squeeze, transpose
from .core import cast, constant, convert_to_numpy, pair, standardize_dtype, to_tensor

# ---- arithmetic ---------------------------------------------------------------------------------
def add(x1, x2):
    return E.Add.apply(*pair(x1, x2))


def subtract(x1, x2):
    return E.Sub.apply(*pair(x1, x2))


def multiply(x1, x2):
    return E.Mul.apply(*pair(x1, x2))


def divide(x1, x2):
    return E.Div.apply(*pair(x1, x2))


true_divide = divide


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0 (no gradient flows through those places)."""
    x2 = to_tensor(x2)
    zero = x2.data == 0
    safe = where(zero, 1.0, x2)
    return where(zero, 0.0, divide(x1, safe))


def negative(x):
    return E.Neg.apply(x)


def power(x1, x2):
    """x1 ** x2; a scalar exponent is differentiated in x1 only, a tensor one in both."""
    if not isinstance(x2, Tensor) and np.ndim(x2) == 0:
        return E.Pow.apply(to_tensor(x1), exponent=float(x2))
    return E.Power.apply(*pair(x1, x2))


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
    return E.Div.apply(1.0, to_tensor(x))


def clip(x, x_min, x_max):
    return E.Clip.apply(x, min=x_min, max=x_max)


def maximum(x1, x2):
    return E.Maximum.apply(*pair(x1, x2))


def minimum(x1, x2):
    return E.Minimum.apply(*pair(x1, x2))


def where(condition, x1, x2):
    """x1 where condition holds, x2 elsewhere; the condition gets no gradient."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return E.Where.apply(Tensor._make(cond.astype(bool), False, None), *pair(x1, x2))


def matmul(x1, x2):
    return L.MatMul.apply(*pair(x1, x2))


def dot(x1, x2):
    """numpy's dot: a matrix product for 1-D and 2-D operands (scalars multiply)."""
    x1, x2 = pair(x1, x2)
    x1, x2 = to_tensor(x1), to_tensor(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return multiply(x1, x2)
    if x1.ndim > 2 or x2.ndim > 2:
        raise NotImplementedError(f"dot: operands of rank > 2 are not supported (shapes {x1.shape} and "
                                  f"{x2.shape}); use matmul or tensordot")
    return L.MatMul.apply(x1, x2)


# ---- rounding and comparisons: constants ----------------------------------------------------------
def _unary_const(fn):
    def op(x):
        return constant(fn(to_tensor(x).data))
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
    return constant(np.round(to_tensor(x).data, decimals))


def _binary_const(fn):
    def op(x1, x2):
        a, b = convert_to_numpy(x1), convert_to_numpy(x2)
        # a Python number beside a float tensor is taken in its dtype, as Keras' weak types: equal(x, 0.9)
        if isinstance(x1, Tensor) and not isinstance(x2, Tensor) and a.dtype.kind == "f":
            b = b.astype(a.dtype)
        elif isinstance(x2, Tensor) and not isinstance(x1, Tensor) and b.dtype.kind == "f":
            a = a.astype(b.dtype)
        return constant(fn(a, b))
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
    return R.Sum.apply(to_tensor(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    x = to_tensor(x)
    if x.dtype.kind != "f":
        x = cast(x, "float32")
    return R.Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    if initial is not None:
        raise NotImplementedError("max: initial is not supported")
    return R.Max.apply(to_tensor(x), axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False, initial=None):
    if initial is not None:
        raise NotImplementedError("min: initial is not supported")
    return R.Min.apply(to_tensor(x), axis=axis, keepdims=keepdims)


amax, amin = max, min


def var(x, axis=None, keepdims=False):
    """Mean squared deviation from the mean (the biased variance, as numpy and Keras)."""
    x = to_tensor(x)
    centered = x - mean(x, axis=axis, keepdims=True)
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), shifted by the maximum so large values never overflow."""
    x = to_tensor(x)
    shift = np.max(x.data, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0).astype(x.dtype, copy=False)
    out = log(sum(exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else squeeze(out, axis=axis if axis is not None else tuple(builtins.range(x.ndim)))


def cumsum(x, axis=None, dtype=None):
    x = to_tensor(x) if dtype is None else cast(x, dtype)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return R.Cumsum.apply(x, axis=axis)


def argmax(x, axis=None, keepdims=False):
    return constant(np.argmax(to_tensor(x).data, axis=axis, keepdims=keepdims).astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    return constant(np.argmin(to_tensor(x).data, axis=axis, keepdims=keepdims).astype(np.int32))


def argsort(x, axis=-1):
    return constant(np.argsort(to_tensor(x).data, axis=axis, kind="stable").astype(np.int32))


def all(x, axis=None, keepdims=False):
    return constant(np.all(to_tensor(x).data, axis=axis, keepdims=keepdims))


def any(x, axis=None, keepdims=False):
    return constant(np.any(to_tensor(x).data, axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    return constant(np.count_nonzero(to_tensor(x).data, axis=axis))


# ---- shapes -------------------------------------------------------------------------------------------


# ---- more of keras.ops.numpy, composed of the ops above (their gradients come with them) ------------
def log2(x):
    return divide(log(x), float(np.log(2.0)))


def log10(x):
    return divide(log(x), float(np.log(10.0)))


def rsqrt(x):
    return reciprocal(sqrt(x))


def sinh(x):
    x = to_tensor(x)
    return (exp(x) - exp(negative(x))) * 0.5


def cosh(x):
    x = to_tensor(x)
    return (exp(x) + exp(negative(x))) * 0.5


def outer(x1, x2):
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def tensordot(x1, x2, axes=2):
    """numpy's tensordot, as a matrix product of the two reshaped operands."""
    a, b = to_tensor(x1), to_tensor(x2)
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(builtins.range(a.ndim - axes, a.ndim)), list(builtins.range(axes))
    else:
        a_axes = [int(v) % a.ndim for v in np.atleast_1d(axes[0])]
        b_axes = [int(v) % b.ndim for v in np.atleast_1d(axes[1])]
    a_free = [i for i in builtins.range(a.ndim) if i not in a_axes]
    b_free = [i for i in builtins.range(b.ndim) if i not in b_axes]
    k = int(np.prod([a.shape[i] for i in a_axes]))
    a2 = reshape(transpose(a, a_free + a_axes), (-1, k))
    b2 = reshape(transpose(b, b_axes + b_free), (k, -1))
    return reshape(matmul(a2, b2), tuple(a.shape[i] for i in a_free) + tuple(b.shape[i] for i in b_free))


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis=axis)
    weights = to_tensor(weights)
    if axis is not None and weights.ndim == 1:
        shape = [1] * to_tensor(x).ndim
        shape[axis] = -1
        weights = reshape(weights, tuple(shape))
    return divide(sum(multiply(x, weights), axis=axis), sum(broadcast_to(weights, to_tensor(x).shape), axis=axis))


def norm(x, ord=None, axis=None, keepdims=False):
    """The L2 norm (ord None, 2 or 'fro'), the L1 norm (ord 1) or the largest magnitude (ord inf) along axis."""
    if ord in (None, 2, "fro"):
        return sqrt(sum(square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    raise NotImplementedError(f"norm: ord={ord!r} is not supported (None, 2, 'fro', 1 or inf)")


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = to_tensor(x)
    clean = np.nan_to_num(x.data, nan=nan, posinf=posinf, neginf=neginf)
    return where(np.isfinite(x.data), x, clean)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return constant(np.isclose(convert_to_numpy(x1), convert_to_numpy(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---- constructors: constants ---------------------------------------------------------------------------
def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def zeros(shape, dtype=None):
    return constant(np.zeros(_shape_tuple(shape), dtype=standardize_dtype(dtype or "float32", "zeros")))


def ones(shape, dtype=None):
    return constant(np.ones(_shape_tuple(shape), dtype=standardize_dtype(dtype or "float32", "ones")))


def full(shape, fill_value, dtype=None):
    return constant(np.full(_shape_tuple(shape), fill_value, dtype=standardize_dtype(dtype or "float32", "full")))


def zeros_like(x, dtype=None):
    x = to_tensor(x)
    return constant(np.zeros(x.shape, dtype=x.dtype if dtype is None else standardize_dtype(dtype, "zeros_like")))


def ones_like(x, dtype=None):
    x = to_tensor(x)
    return constant(np.ones(x.shape, dtype=x.dtype if dtype is None else standardize_dtype(dtype, "ones_like")))


def full_like(x, fill_value, dtype=None):
    x = to_tensor(x)
    return constant(np.full(x.shape, fill_value, dtype=x.dtype if dtype is None else standardize_dtype(dtype, "full_like")))


def eye(N, M=None, k=0, dtype=None):
    return constant(np.eye(N, M, k, dtype=standardize_dtype(dtype or "float32", "eye")))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=1, dtype=None):
    values = np.arange(start, stop, step)
    if dtype is None:
        dtype = "int32" if values.dtype.kind in "iu" else "float32"
    return constant(values.astype(standardize_dtype(dtype, "arange")))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return constant(np.linspace(start, stop, num, endpoint=endpoint).astype(standardize_dtype(dtype or "float32", "linspace")))


__all__ = sorted(name for name, value in list(globals().items())
                 if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__)
