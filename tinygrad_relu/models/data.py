"""Turning what a user passes to fit / evaluate / predict into arrays the training loop slices.

Conversion happens once per call, never per batch: float64, integer, non-contiguous and
nested-list inputs become one C-contiguous array of the model's dtype.
"""
import numpy as np

from ..tensor import Tensor


def positive_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, received {name}={value!r}")
    return int(value)


def resolve_verbose(verbose, who):
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2) and not isinstance(verbose, bool):
        return int(verbose)
    if verbose is True or verbose is False:
        return int(verbose)
    raise ValueError(f"{who}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")


def reject_unsupported(who, **kwargs):
    """NotImplementedError naming every argument given that this version cannot honour yet."""
    given = [k for k, v in kwargs.items() if v is not None]
    if given:
        raise NotImplementedError(f"{who}: {', '.join(given)} is not supported yet")


def _numeric_array(data, who):
    """``data`` (a Tensor or anything array-like) as a numpy array of numbers."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.asarray(data)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{who} must be a rectangular array; {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who} must hold numbers, received dtype {arr.dtype}")
    return arr


def as_float_array(data, dtype, who):
    arr = _numeric_array(data, who)
    if arr.dtype != dtype or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    return arr


def as_target_array(data, dtype, who):
    arr = _numeric_array(data, who)
    if arr.dtype.kind == "f" and arr.dtype != dtype:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "b":
        arr = arr.astype(dtype)
    return np.ascontiguousarray(arr)


class MeanTracker:
    """Running mean of the loss weighted by batch size (Keras' loss tracker)."""

    def __init__(self):
        self.total = 0.0
        self.count = 0

    def add(self, value, n):
        self.total += value * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0
