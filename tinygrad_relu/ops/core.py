"""keras.ops' core functions: converting to and from Tensors, casting, shapes, stopping the gradient.

The helpers ``to_tensor``, ``pair`` and ``constant`` are how the other ops modules take their
arguments: a Tensor passes through, anything else (numpy arrays, lists, numbers) is converted as
Keras converts it, and results that carry no gradient are made outside the graph.
"""
import numpy as np

from ..tensor import Tensor
from . import elementwise as E

_NUMPY_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
                 "uint32", "uint64", "bool"}


def standardize_dtype(dtype, who):
    """``dtype`` as a numpy dtype of the supported kinds (ValueError naming ``who`` otherwise)."""
    try:
        name = np.dtype(getattr(dtype, "name", dtype)).name
    except TypeError:
        raise TypeError(f"{who}: {dtype!r} is not a dtype") from None
    if name not in _NUMPY_DTYPES:
        raise ValueError(f"{who}: unsupported dtype {name!r}; use one of {', '.join(sorted(_NUMPY_DTYPES))}")
    return np.dtype(name)


def convert_to_tensor(x, dtype=None, sparse=None):
    """A Tensor of ``x`` (a Tensor passes through, cast when ``dtype`` differs). Python numbers and
    lists become int32 / float32 as in Keras; numpy arrays keep their dtype."""
    if sparse:
        raise ValueError("convert_to_tensor: sparse tensors are not supported")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(standardize_dtype(dtype, "convert_to_tensor"))
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


def to_tensor(x):
    """x itself when it is a Tensor, else convert_to_tensor(x)."""
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def pair(x1, x2):
    """Two constants become Tensors as convert_to_tensor makes them; beside a Tensor, a constant is
    left for the op to convert to that Tensor's dtype."""
    if isinstance(x1, Tensor) or isinstance(x2, Tensor):
        return x1, x2
    return convert_to_tensor(x1), convert_to_tensor(x2)


def constant(array):
    """A Tensor outside the graph (comparisons, indices, constructors)."""
    return Tensor._make(np.asarray(array), False, None)


def cast(x, dtype):
    """x as ``dtype``; float to float keeps the gradient, anything else is a constant."""
    x = to_tensor(x)
    dtype = standardize_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "f" and dtype.kind == "f" and dtype.itemsize >= 4:
        return E.Cast.apply(x, dtype=dtype)
    return constant(x.data.astype(dtype))


def stop_gradient(x):
    """The same values, cut from the graph: no gradient flows back through it."""
    return to_tensor(x).detach()


def shape(x):
    return tuple(to_tensor(x).shape)


def ndim(x):
    return to_tensor(x).ndim


def size(x):
    return to_tensor(x).size


__all__ = ["convert_to_tensor", "convert_to_numpy", "is_tensor", "cast", "stop_gradient", "shape", "ndim", "size"]
