"""Turning what a user passes to fit / evaluate / predict into arrays the training loop slices.

Conversion happens once per call, never per batch: float64, integer, non-contiguous and
nested-list inputs become one C-contiguous array of the model's dtype.
"""
import numpy as np

from ..tensor import Tensor
from ..utils import tree


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

    def reset(self):
        self.total = 0.0
        self.count = 0

    def result(self):
        return self.total / self.count if self.count else 0.0


# ---- several inputs or targets: a list or dict of arrays, sliced together ----------------------
def as_float_arrays(data, dtype, who):
    """Every array in ``data`` (one array, or a list, tuple or dict of them) as a float array of ``dtype``."""
    if isinstance(data, dict):
        return {k: as_float_arrays(v, dtype, f"{who}[{k!r}]") for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and all(_is_array_like(v) for v in data) and \
            not _is_rectangular(data):
        return [as_float_arrays(v, dtype, f"{who}[{i}]") for i, v in enumerate(data)]
    return as_float_array(data, dtype, who)


def _is_array_like(value):
    return isinstance(value, (np.ndarray, Tensor, list, tuple, dict))


def _is_rectangular(data):
    """Whether a list is one array's nested rows (not a list of separate arrays)."""
    if any(isinstance(v, (np.ndarray, Tensor, dict)) for v in data):
        return False
    try:
        return np.asarray(data).dtype != object
    except ValueError:
        return False


def num_samples(data, who):
    """The sample count shared by every array in ``data`` (ValueError when they disagree)."""
    if type(data) is np.ndarray and data.ndim:  # the usual case, once or twice per batch
        return len(data)
    leaves = tree.flatten(data)
    if not leaves:
        raise ValueError(f"{who}: no arrays given")
    counts = []
    for leaf in leaves:
        if np.ndim(leaf) == 0:
            raise ValueError(f"{who}: every array needs a batch axis, received a scalar")
        counts.append(len(leaf))
    if len(set(counts)) > 1:
        raise ValueError(f"{who}: all arrays must hold the same number of samples, received {counts}")
    return counts[0]


def take_rows(data, rows):
    """The same rows (an index array or a slice) of every array in ``data``."""
    if isinstance(data, np.ndarray):
        return data[rows]
    return tree.map_structure(lambda a: a[rows], data)


# ---- sample weights -------------------------------------------------------------------------------------------
def as_weight_array(data, dtype, count, who):
    """Sample weights as a float array with one row per sample (``count`` of them)."""
    weights = _numeric_array(data, who)
    if weights.ndim == 0 or len(weights) != count:
        raise ValueError(f"{who} must hold one weight per sample: expected {count} rows, received an array of shape "
                         f"{weights.shape}")
    return np.ascontiguousarray(weights, dtype=dtype)


def per_output_weights(sample_weight, output_names, dtype, count, who):
    """A multi-output model's sample weights as a list in output order (None: that output is unweighted). A list
    or a dict by output name gives each output its own; one array of shape (n,) or (n, 1) serves every output."""
    if isinstance(sample_weight, dict) or (isinstance(sample_weight, (list, tuple)) and
                                           len(sample_weight) == len(output_names) and
                                           not np.isscalar(sample_weight[0])):
        if isinstance(sample_weight, dict):
            unknown = [k for k in sample_weight if k not in output_names]
            if unknown:
                raise ValueError(f"{who}: sample_weight names outputs {unknown}; the model's outputs are "
                                 f"{output_names}")
            sample_weight = [sample_weight.get(name) for name in output_names]
        return [None if w is None else as_weight_array(w, dtype, count, f"{who}: sample_weight[{name!r}]")
                for w, name in zip(sample_weight, output_names)]
    weights = as_weight_array(sample_weight, dtype, count, f"{who}: sample_weight")
    if not (weights.ndim == 1 or (weights.ndim == 2 and weights.shape[1] == 1)):
        raise ValueError(f"{who}: for a model with multiple outputs, when providing a single `sample_weight` array, it "
                         "should only have one scalar score per sample (i.e. shape `(num_samples,)`); received shape "
                         f"{weights.shape}. For other shapes, pass one array per output.")
    return [weights] * len(output_names)
