"""The Metric contract and the reducing metrics (Mean, Sum, MeanMetricWrapper), Keras 3's arithmetic.

A metric keeps its state in Variables made with ``add_variable``; ``update_state(y_true, y_pred,
sample_weight=None)`` adds one batch, ``result()`` reads the state, ``reset_state()`` zeroes it.
Because the state is a sum over samples (and a count of them), the value after any sequence of
batches is the value over all their samples together: it does not depend on the batch size.

Mean's rule (Keras' ``reduce_to_samplewise_values``): per-element values are first averaged to one
value per sample (over every axis after the first); with ``sample_weight`` each sample's value is
multiplied by its weight, and the count is the sum of the weights instead of the number of samples:

    mean = sum_i w_i v_i / sum_i w_i

The sums are kept in float64, so a long epoch does not lose the digits float32 would.
"""
import warnings

import numpy as np

from .. import _state, config, initializers
from .._registry import Configurable, snake_case
from ..variables import Variable


def to_numpy(x):
    """A Tensor's array, or anything array-like (lists, pandas, torch tensors via __array__) as an array."""
    return np.asarray(getattr(x, "data", x))


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rule for two arrays whose ranks differ by one with a trailing axis of size 1: a rank-1 array is
    given that axis (``expand_rank_1``), otherwise the trailing axis is dropped from the other."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def check_same_shape(y_true, y_pred, who):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape "
                         f"{y_true.shape} and y_pred shape {y_pred.shape}")


def default_name(cls):
    """Keras' name for a metric created without one: its class in snake case, numbered after the first
    ('precision', 'precision_1', ...), counted with the layer names (``backend.clear_session`` resets both)."""
    return _state.unique_name(snake_case(cls.__name__))


class Metric(Configurable):
    """Base of every metric (Keras' ``keras.metrics.Metric``): subclasses create their state with
    ``add_variable`` and define ``update_state`` and ``result``; ``metric(y_true, y_pred)`` updates and returns
    the result."""

    def __init__(self, name=None, dtype=None):
        self.name = name if name is not None else default_name(type(self))
        self.dtype = np.dtype(dtype or config.floatx()).name
        self._variables = []

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state Variable of ``shape`` set by ``initializer`` (a name or a callable); it never takes a gradient."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = np.dtype(dtype or self.dtype)
        values = np.array(initializers.get(initializer)(shape, dtype=dtype.name), dtype=dtype).reshape(shape)
        name = "variable" if name is None else str(name)
        variable = Variable._wrap(values, False, name, f"{self.name}/{name}")
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        """Zero every state variable (Keras' default)."""
        for variable in self._variables:
            variable.data[...] = 0

    def update_state(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, y_pred, sample_weight=None)")

    def result(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def samplewise(values, sample_weight, reduce):
    """(one value per sample, the weights per sample or None): Keras' reduce_to_samplewise_values, where
    ``reduce`` (np.mean or np.sum) folds the axes after the first."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        weights = np.asarray(to_numpy(sample_weight), dtype=np.float64)
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        if values.ndim > weights.ndim:
            values = reduce(values, axis=tuple(range(weights.ndim, values.ndim)))
        try:
            weights = np.broadcast_to(weights, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {weights.shape} does not match the values of shape "
                             f"{values.shape}") from None
        values = values * weights
        if weights.ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, weights.ndim)))
    else:
        weights = None
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weights


class Sum(Metric):
    """The (weighted) sum of the values given: ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", dtype="float64", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = samplewise(to_numpy(values), sample_weight, np.sum)
        self.total.data[...] += values.sum()

    def result(self):
        return float(self.total.data)


class Mean(Metric):
    """The weighted mean of the values given, sample by sample: ``update_state(values, sample_weight=None)``.

    ``total`` accumulates sum_i w_i v_i and ``count`` sum_i w_i (the number of samples without weights).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", dtype="float64", name="total")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def update_state(self, values, sample_weight=None):
        values, weights = samplewise(to_numpy(values), sample_weight, np.mean)
        self.total.data[...] += values.sum()
        if weights is not None:
            self.count.data[...] += weights.sum()
        else:
            self.count.data[...] += len(values) if values.ndim else 1

    def result(self):
        count = float(self.count.data)
        return float(self.total.data) / count if count else 0.0  # Keras' divide_no_nan

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4g}>"


class MeanMetricWrapper(Mean):
    """The Mean of ``fn(y_true, y_pred, **kwargs)``: a per-sample (or per-element) function as a metric."""

    def __init__(self, fn, name=None, dtype=None, **fn_kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper{f' {name!r}' if name else ''}: `fn` must be a function "
                            f"fn(y_true, y_pred), received {fn!r} of type {type(fn).__name__}")
        self.fn, self._fn_kwargs = fn, fn_kwargs
        super().__init__(name if name is not None else default_name(MeanMetricWrapper), dtype)

    @classmethod
    def from_config(cls, config):
        if cls is MeanMetricWrapper and "fn" not in config:
            raise TypeError(f"MeanMetricWrapper {config.get('name')!r}: its function is not part of the config (a "
                            "model file stores no Python code); load the model with compile=False and compile it "
                            "again with the function")
        return cls(**config)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(to_numpy(self.fn(to_numpy(y_true), to_numpy(y_pred), **self._fn_kwargs)),
                             sample_weight)


def warn_float_weights_on_int_state(metric, sample_weight):
    """Keras' warning: an integer-valued metric (MeanIoU) truncates fractional sample weights."""
    if sample_weight is not None and np.asarray(sample_weight).dtype.kind == "f" and \
            np.dtype(metric.dtype).kind in "iu":
        warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an incorrect "
                      "weight due to type casting Consider using integer weights.", stacklevel=3)
