"""Streaming metrics with Keras 3's names and arithmetic, on numpy arrays.

A metric accumulates a weighted total and a count over the batches of an epoch:
``update_state(y_true, y_pred)`` adds one batch, ``result()`` is total / count as a float,
``reset_state()`` starts over. Each batch therefore counts in proportion to its size, so the
epoch value equals the value over the whole data set, as in Keras.

'accuracy' (or 'acc') is resolved as Keras 3 resolves it at compile time: from the shapes of
the first batch. One output unit means binary accuracy; labels with one axis fewer than the
predictions (or a trailing axis of 1 against several units) mean sparse categorical accuracy;
otherwise categorical accuracy. The metric keeps the name it was asked for ('accuracy'), which
is the key History reports.
"""
import numpy as np

from . import initializers
from ._registry import Configurable, cannot_interpret, custom_object, from_serialized, snake_case, unknown_name
from .tensor import Tensor


def _as_array(x):
    return np.asarray(getattr(x, "data", x))


def _same_rank(y_true, y_pred):
    """Keras' squeeze_or_expand_to_same_rank for a trailing axis of size 1."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred.reshape(y_pred.shape[:-1])
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    elif y_pred.ndim == y_true.ndim - 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return y_true, y_pred


def _check_same_shape(y_true, y_pred, who):
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape "
                         f"{y_true.shape} and y_pred shape {y_pred.shape}")


# ---- per-sample metric functions (Keras' functional forms) -----------------------------------
def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) == argmax(y_true), per sample."""
    y_true, y_pred = _as_array(y_true), _as_array(y_pred)
    _check_same_shape(y_true, y_pred, "categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals the integer label, per sample."""
    y_true, y_pred = _as_array(y_true), _as_array(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_accuracy: expected labels of shape {y_pred.shape[:-1]} for "
                         f"predictions of shape {y_pred.shape}, received y_true shape {y_true.shape}")
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Fraction of outputs where (y_pred > threshold) equals the 0/1 label, averaged over the last axis."""
    y_true, y_pred = _same_rank(_as_array(y_true), _as_array(y_pred))
    _check_same_shape(y_true, y_pred, "binary_accuracy")
    # Keras compares the thresholded prediction with the label as it is: a soft label such as 0.7 never matches.
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return (predicted == y_true).astype(np.float32).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(_as_array(y_true), _as_array(y_pred))
    _check_same_shape(y_true, y_pred, "mean_squared_error")
    diff = y_pred - y_true
    return (diff * diff).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(_as_array(y_true), _as_array(y_pred))
    _check_same_shape(y_true, y_pred, "mean_absolute_error")
    return np.abs(y_pred - y_true).mean(axis=-1)


# ---- Metric objects ------------------------------------------------------------------------------
class Metric(Configurable):
    """Base of every metric, Keras' contract: state in variables made with ``add_variable``,
    ``update_state(y_true, y_pred, sample_weight=None)`` adds a batch, ``result()`` reads the state,
    ``reset_state()`` zeroes it. Variables are numpy-backed Tensors, updated in place (``assign``,
    ``assign_add``); ``metric(y_true, y_pred)`` updates and returns the result.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name if name is not None else snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype or "float32").name
        self._variables = []

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable: a Tensor of ``shape`` set by ``initializer`` (a name or callable), no gradient."""
        shape = () if shape is None else tuple(int(d) for d in shape)
        dtype = np.dtype(dtype or self.dtype)
        values = initializers.get(initializer)(shape, dtype=dtype.name)
        variable = Tensor._make(np.array(values, dtype=dtype).reshape(shape), False, None)
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


class _Averaging(Metric):
    """A weighted running mean of per-sample values: ``total`` and ``count`` variables (float64)."""

    def __init__(self, name=None, dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_variable((), "zeros", dtype="float64", name="total")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def _accumulate(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total.data[...] += float(values.sum())
            self.count.data[...] += float(values.size)
            return
        weights = np.asarray(_as_array(sample_weight), dtype=np.float64)
        try:
            weights = np.broadcast_to(weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim)),
                                      values.shape)
        except ValueError:
            raise ValueError(f"{self.name}: sample_weight of shape {weights.shape} does not match the "
                             f"per-sample values of shape {values.shape}") from None
        self.total.data[...] += float((values * weights).sum())
        self.count.data[...] += float(weights.sum())

    def result(self):
        count = float(self.count.data)
        return float(self.total.data) / count if count else 0.0

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4g}>"


class Mean(_Averaging):
    """The weighted mean of the values given: ``update_state(values, sample_weight=None)``.

    The training loop tracks the loss with it, weighting each batch's mean loss by the batch size.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, values, sample_weight=None):
        self._accumulate(_as_array(values), sample_weight)


class MeanMetricWrapper(_Averaging):
    """Streams the mean of ``fn(y_true, y_pred)`` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **fn_kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper{f' {name!r}' if name else ''}: `fn` must be a function "
                            f"fn(y_true, y_pred), received {fn!r} of type {type(fn).__name__}")
        self.fn, self._fn_kwargs = fn, fn_kwargs
        # Keras' fallback for an unnamed metric is its class name in snake case
        super().__init__(name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype)

    @classmethod
    def from_config(cls, config):
        if cls is MeanMetricWrapper and "fn" not in config:
            raise TypeError(f"MeanMetricWrapper {config.get('name')!r}: its function is not part of the config (a "
                            "model file stores no Python code); load the model with compile=False and compile it "
                            "again with the function")
        return cls(**config)

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate(_as_array(self.fn(_as_array(y_true), _as_array(y_pred), **self._fn_kwargs)), sample_weight)


class CategoricalAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in (0, 1), received threshold={threshold}")
        self.threshold = float(threshold)
        super().__init__(binary_accuracy, name, dtype, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class MeanSquaredError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)


def _accuracy_kind(y_true, y_pred):
    """Keras 3's rule (compile_utils.is_binary_or_sparse_categorical) for what 'accuracy' means."""
    if y_pred.shape[-1] == 1:
        return BinaryAccuracy
    if y_true.ndim < y_pred.ndim or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def accuracy(y_true, y_pred):
    """1.0 where y_pred equals y_true exactly (Keras' plain Accuracy: for already-decided labels)."""
    y_true, y_pred = _same_rank(_as_array(y_true), _as_array(y_pred))
    _check_same_shape(y_true, y_pred, "accuracy")
    return (y_true == y_pred).astype(np.float32).mean(axis=-1)


class Accuracy(MeanMetricWrapper):
    """keras.metrics.Accuracy: how often predictions EQUAL the labels (compare class ids, not probabilities).

    The string 'accuracy' in compile() is something else: AutoAccuracy, which picks the right kind.
    """
    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class AutoAccuracy(Metric):
    """metrics=['accuracy']: becomes binary, sparse categorical or categorical accuracy at the first batch."""
    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _as_array(y_true), _as_array(y_pred)
        if self.resolved is None:
            if y_pred.ndim == 0:
                raise ValueError(f"{self.name}: predictions need at least one axis, received a scalar")
            self.resolved = _accuracy_kind(y_true, y_pred)(name=self.name, dtype=self.dtype)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()

    @property
    def variables(self):
        return [] if self.resolved is None else self.resolved.variables

    def result(self):
        return self.resolved.result() if self.resolved is not None else 0.0


# ---- lookup --------------------------------------------------------------------------------------
_CLASSES = {cls.__name__: cls for cls in (CategoricalAccuracy, SparseCategoricalAccuracy, BinaryAccuracy,
                                          MeanSquaredError, MeanAbsoluteError, Mean, Accuracy, AutoAccuracy)}
_NAMES = {
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}


def get(identifier, loss=None):
    """A Metric object from a Keras name, a Metric, a metric class or a function ``fn(y_true, y_pred)``.

    A string keeps its spelling as the metric's name (Keras: metrics=['mse'] reports 'mse').
    'accuracy'/'acc' resolve from the first batch's shapes, which is Keras 3's rule; ``loss`` is
    accepted for a compile() that wants to pass it, and does not change the choice.
    """
    del loss  # Keras 3 decides by shapes, not by the loss; see the module docstring
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return AutoAccuracy(name=identifier)
        cls = _NAMES.get(identifier) or _NAMES.get(identifier.lower())
        if cls is not None:
            return cls(name=identifier)
        cls = _CLASSES.get(identifier) or custom_object([identifier])
        if isinstance(cls, type) and issubclass(cls, Metric):
            return cls()
        if callable(cls):  # a registered metric function
            return MeanMetricWrapper(cls, name=identifier)
        raise unknown_name(identifier, ["accuracy", "acc", *_NAMES], "metric", "metrics")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):  # Keras' name for it: a function's name, else its class's in snake case
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None)
                                 or snake_case(type(identifier).__name__))
    raise cannot_interpret("metrics.get", identifier, "a metric")


def deserialize(config):
    """The metric a {'class_name', 'config'} dict describes (built-in, registered or in a custom_object_scope)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"metrics.deserialize: expected a dict with 'class_name' and 'config', received {config!r}")
    metric = from_serialized(config, _CLASSES, _NAMES, "Unknown metric class {name!r}. Known: {known}")
    if not isinstance(metric, Metric):
        raise TypeError(f"metrics.deserialize: {config.get('class_name')!r} is not a Metric class")
    return metric


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
