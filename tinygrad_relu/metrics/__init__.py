"""Streaming metrics with Keras 3's names, constructor arguments and arithmetic, on numpy arrays.

    base.py        Metric (the contract), Mean, Sum, MeanMetricWrapper
    accuracy.py    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, the top-k ones,
                   and 'accuracy' resolved from the shapes (AutoAccuracy)
    regression.py  MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
                   RootMeanSquaredError, R2Score
    confusion.py   TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC
    f_score.py     FBetaScore, F1Score
    iou.py         IoU, MeanIoU

Every metric's state is a sum over samples, so its value after an epoch equals its value over the
whole data set at once, whatever the batch size (tests/test_metrics.py checks each at several batch
sizes, with sample weights, against Keras 3).
"""
import inspect

from .._registry import cannot_interpret, custom_object, from_serialized, snake_case, unknown_name
from .._registry import serialize  # noqa: F401  (public: metrics.serialize)
from .accuracy import (Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                       SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy, binary_accuracy,
                       categorical_accuracy, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                       top_k_categorical_accuracy)
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import AUC, FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives, TruePositives
from .f_score import F1Score, FBetaScore
from .iou import IoU, MeanIoU
from .regression import (MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
                         MeanSquaredLogarithmicError, R2Score, RootMeanSquaredError, mean_absolute_error,
                         mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error)

_CLASSES = {cls.__name__: cls for cls in (
    Mean, Sum, MeanMetricWrapper, Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError, R2Score,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC, FBetaScore, F1Score, IoU,
    MeanIoU)}
# Keras' lookup table: each class by its snake-case name too ('auc', 'precision', 'mean_io_u'), and aliases
_NAMES = {snake_case(name): cls for name, cls in _CLASSES.items() if cls is not AutoAccuracy}
_NAMES.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
               "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
               "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
_FUNCTIONS = {fn.__name__: fn for fn in (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
                                         top_k_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                         mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
                                         mean_squared_logarithmic_error)}


def get(identifier, loss=None):
    """A Metric object from a Keras name ('accuracy', 'mse', 'auc', 'Precision', ...), a Metric, a metric class, a
    serialized dict or a function ``fn(y_true, y_pred)``.

    A string keeps its spelling as the metric's name (Keras: metrics=['mse'] reports 'mse').
    'accuracy'/'acc' resolve from the first batch's shapes, which is Keras 3's rule; ``loss`` is
    accepted for a compile() that wants to pass it, and does not change the choice.
    """
    del loss  # Keras 3 decides by shapes, not by the loss
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return AutoAccuracy(name=identifier)
        found = _NAMES.get(identifier) or _CLASSES.get(identifier) or _FUNCTIONS.get(identifier) or \
            _NAMES.get(identifier.lower()) or \
            custom_object([identifier])
        if inspect.isclass(found) and issubclass(found, Metric):
            try:
                metric = found()
            except TypeError as err:
                raise ValueError(f"metric {identifier!r} needs arguments ({err}); pass {found.__name__}(...) in "
                                 "metrics=[...]") from None
            metric.name = identifier  # Keras names a metric given as a string by that string
            return metric
        if callable(found):  # a metric function
            return MeanMetricWrapper(found, name=identifier)
        raise unknown_name(identifier, ["accuracy", "acc", *_NAMES, *_FUNCTIONS], "metric", "metrics")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
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
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error

__all__ = sorted([*_CLASSES, *_FUNCTIONS, "Metric", "get", "deserialize", "serialize", "mse", "mae", "mape", "msle",
                  "MSE", "MAE", "MAPE", "MSLE"])
