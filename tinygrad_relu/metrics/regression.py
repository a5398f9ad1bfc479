"""Regression metrics: mean squared, absolute, absolute percentage and squared logarithmic error, the root mean
squared error, and the coefficient of determination."""
import warnings

import numpy as np

from .. import config
from .base import Mean, MeanMetricWrapper, Metric, check_same_shape, squeeze_or_expand_to_same_rank, to_numpy


def _pair(y_true, y_pred, who):
    y_true, y_pred = squeeze_or_expand_to_same_rank(to_numpy(y_true), to_numpy(y_pred))
    check_same_shape(y_true, y_pred, who)
    return y_true.astype(np.float64, copy=False), y_pred.astype(np.float64, copy=False)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y)^2) over the last axis, per sample; labels (n,) against predictions (n, 1) get the axis."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_error")
    diff = y_pred - y_true
    return (diff * diff).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y|) over the last axis, per sample."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_error")
    return np.abs(y_pred - y_true).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 mean(|y - p| / max(|y|, eps)) over the last axis, per sample."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    return 100.0 * (np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), config.epsilon())).mean(axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2) over the last axis, per sample."""
    y_true, y_pred = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = config.epsilon()
    diff = np.log(np.maximum(y_pred, eps) + 1.0) - np.log(np.maximum(y_true, eps) + 1.0)
    return (diff * diff).mean(axis=-1)


class MeanSquaredError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsoluteError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsolutePercentageError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean over samples of each sample's mean squared error."""
    direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred, self.name)
        super().update_state((y_pred - y_true) ** 2, sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class R2Score(Metric):
    """The coefficient of determination, per output column: 1 - sum w (y - p)^2 / sum w (y - mean_w y)^2.

    ``class_aggregation``: 'uniform_average' (the mean over columns), 'variance_weighted_average' (weighted by
    each column's total sum of squares) or None (one score per column); ``num_regressors`` p > 0 gives the
    adjusted score 1 - (1 - R2)(n - 1) / (n - p - 1), n counting every label value (Keras' rule).
    """
    direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError("R2Score: class_aggregation must be one of (None, 'uniform_average', "
                             f"'variance_weighted_average'), received class_aggregation={class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, received num_regressors={num_regressors}")
        super().__init__(name, dtype)
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), "zeros", dtype="float64", name="num_samples")
        self._columns = None

    def _build(self, y_true, y_pred):
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                             f"y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        width = y_pred.shape[-1]
        self.squared_sum, self.sum, self.total_mse, self.count = (
            self.add_variable((width,), "zeros", dtype="float64", name=n)
            for n in ("squared_sum", "sum", "residual", "count"))
        self._columns = width

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred, self.name)
        if self._columns is None:
            self._build(y_true, y_pred)
        weights = np.float64(1.0) if sample_weight is None else np.asarray(to_numpy(sample_weight), np.float64)
        if weights.ndim == 1:
            weights = weights[:, None]
        weights = np.broadcast_to(weights, y_true.shape)
        weighted = y_true * weights
        self.sum.data += weighted.sum(axis=0)
        self.squared_sum.data += (y_true * weighted).sum(axis=0)
        self.total_mse.data += ((y_true - y_pred) ** 2 * weights).sum(axis=0)
        self.count.data += weights.sum(axis=0)
        self.num_samples.data[...] += y_true.size

    def result(self):
        if self._columns is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.data / self.count.data
            total = self.squared_sum.data - self.sum.data * mean
            raw = 1 - self.total_mse.data / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        n, p = float(self.num_samples.data), self.num_regressors
        if p:
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return float(score) if np.ndim(score) == 0 else np.asarray(score)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
