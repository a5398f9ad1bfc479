"""Regression losses with Keras 3's names, defaults and formulas: one value per sample, the mean (or, for
cosine_similarity, the sum) over the last axis. Labels are cast to the predictions' dtype and must have
their shape (a trailing axis of 1 is added or dropped, as Keras does)."""
import numpy as np

from ..ops.numpy import rsqrt
from .base import (EPSILON, FunctionLoss, check_axis, loss_function, prediction_tensor, regression_labels)

LOG_2 = float(np.log(2.0))


def _error(y_true, y_pred, who):
    """(y_pred as a Tensor, y_pred - y)."""
    y_pred = prediction_tensor(y_pred, who)
    return y_pred, y_pred - regression_labels(y_true, y_pred, who)


@loss_function("mse", "MSE")
def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y)^2) over the last axis;  d/dp = 2 (p - y) / n."""
    _, diff = _error(y_true, y_pred, "mean_squared_error")
    return (diff * diff).mean(axis=-1)


@loss_function("mae", "MAE")
def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y|) over the last axis;  d/dp = sign(p - y) / n."""
    _, diff = _error(y_true, y_pred, "mean_absolute_error")
    return diff.abs().mean(axis=-1)


@loss_function("mape", "MAPE")
def mean_absolute_percentage_error(y_true, y_pred):
    """100 mean(|y - y_pred| / max(|y|, eps)) over the last axis;  d/dp = 100 sign(p - y) / (max(|y|, eps) n)."""
    who = "mean_absolute_percentage_error"
    y_pred = prediction_tensor(y_pred, who)
    y = regression_labels(y_true, y_pred, who)
    return ((y - y_pred) / np.maximum(np.abs(y), y.dtype.type(EPSILON))).abs().mean(axis=-1) * 100.0


@loss_function("msle", "MSLE")
def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2) over the last axis;
    d/dp = 2 (log(p + 1) - log(y + 1)) / ((p + 1) n) where p > eps, else 0."""
    who = "mean_squared_logarithmic_error"
    y_pred = prediction_tensor(y_pred, who)
    y = regression_labels(y_true, y_pred, who)
    first_log = (y_pred.maximum(EPSILON) + 1.0).log()
    second_log = np.log(np.maximum(y, y.dtype.type(EPSILON)) + 1.0)
    diff = first_log - second_log
    return (diff * diff).mean(axis=-1)


@loss_function()
def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta); averaged over the last axis;
    d/de = e where |e| <= delta, else delta sign(e)."""
    _, diff = _error(y_true, y_pred, "huber")
    error = diff.abs()
    # Split |e| into its quadratic part min(|e|, delta) and the linear rest: same value as the
    # piecewise form, and the gradient flows through each part where it applies.
    quadratic = error.minimum(delta)
    linear = error - quadratic
    return (quadratic * quadratic * 0.5 + linear * delta).mean(axis=-1)


@loss_function("logcosh")
def log_cosh(y_true, y_pred):
    """mean(log(cosh(e))) over the last axis, e = y_pred - y, as e + softplus(-2e) - log 2 (no overflow);
    d/de = tanh(e)."""
    _, diff = _error(y_true, y_pred, "log_cosh")
    return (diff + (diff * -2.0).softplus() - LOG_2).mean(axis=-1)


def _l2_normalized(x, axis):
    """x * min(1 / sqrt(sum x^2), 1 / eps) along ``axis``: Keras' normalize, with its epsilon on the norm."""
    inverse_norm = rsqrt((x * x).sum(axis=axis, keepdims=True)).minimum(1.0 / EPSILON)
    return x * inverse_norm


@loss_function()
def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y) * l2_normalize(y_pred)) along ``axis``: -1 for the same direction, 1 for opposite;
    d/dp = -(u - (u . v) v) / |p| with u, v the normalized y and p (where |p| > eps)."""
    who = "cosine_similarity"
    y_pred = prediction_tensor(y_pred, who)
    y = regression_labels(y_true, y_pred, who)
    axis = check_axis(axis, max(y_pred.ndim, 1), who)
    norms = np.sqrt(np.add.reduce(y * y, axis=axis, keepdims=True))
    with np.errstate(divide="ignore"):
        unit_y = y * np.minimum(1.0 / norms, y.dtype.type(1.0 / EPSILON))
    return -(_l2_normalized(y_pred, axis) * unit_y).sum(axis=axis)


class MeanSquaredError(FunctionLoss):
    """mean((y_pred - y)^2)."""

    function = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsoluteError(FunctionLoss):
    """mean(|y_pred - y|)."""

    function = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsolutePercentageError(FunctionLoss):
    """100 mean(|y - y_pred| / max(|y|, 1e-7))."""

    function = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanSquaredLogarithmicError(FunctionLoss):
    """mean((log(y_pred + 1) - log(y + 1))^2), both floored at 1e-7 first."""

    function = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(reduction, name, dtype)


class Huber(FunctionLoss):
    """Quadratic for errors up to delta, linear beyond."""

    function = staticmethod(huber)
    settings = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"Huber: delta must be positive, received delta={delta}")
        super().__init__(reduction, name, dtype, delta=float(delta))


class LogCosh(FunctionLoss):
    """mean(log(cosh(y_pred - y))): about e^2 / 2 for small errors, |e| - log 2 for large ones."""

    function = staticmethod(log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(reduction, name, dtype)


class CosineSimilarity(FunctionLoss):
    """The negative cosine of the angle between y and y_pred along ``axis``."""

    function = staticmethod(cosine_similarity)
    settings = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)
