"""F-scores: FBetaScore and F1Score, per class or averaged, Keras 3's arithmetic.

Per class (columns of the 2-D labels and predictions), with weighted counts TP, FP, FN:

    precision = TP / (TP + FP + eps)      recall = TP / (TP + FN + eps)
    F_beta = (1 + beta^2) precision recall / (beta^2 precision + recall + eps)

A prediction is positive where it exceeds ``threshold``, or, without one, where it is its row's
maximum (and not 0). ``average``: None (one score per class), 'micro' (counts pooled over the
classes first), 'macro' (the mean of the class scores), 'weighted' (weighted by each class's
count of positive labels).
"""
import numpy as np

from .. import config
from .base import Metric, to_numpy


class FBetaScore(Metric):
    """The F-beta score (beta > 0 weighs recall beta times as much as precision)."""
    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} of "
                             f"type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        super().__init__(name, dtype)
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). Received "
                             f"input shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, name, self.add_variable(shape, "zeros", dtype="float64", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        dtype = np.dtype(self.dtype)
        y_true, y_pred = to_numpy(y_true).astype(dtype), to_numpy(y_pred).astype(dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred must have the same shape, received y_true shape "
                             f"{y_true.shape} and y_pred shape {y_pred.shape}")
        if self.threshold is None:
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted, y_true = predicted.astype(np.float64), y_true.astype(np.float64)
        weights = None if sample_weight is None else np.asarray(to_numpy(sample_weight), np.float64)[:, None]

        def weighted_sum(values):
            return (values if weights is None else values * weights).sum(axis=self.axis)
        self.true_positives.data[...] += weighted_sum(predicted * y_true)
        self.false_positives.data[...] += weighted_sum(predicted * (1 - y_true))
        self.false_negatives.data[...] += weighted_sum((1 - predicted) * y_true)
        self.intermediate_weights.data[...] += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return 0.0
        eps = config.epsilon()
        tp, fp, fn = self.true_positives.data, self.false_positives.data, self.false_negatives.data
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        beta2 = self.beta ** 2
        score = precision * recall / (beta2 * precision + recall + eps) * (1 + beta2)
        if self.average == "weighted":
            weights = self.intermediate_weights.data
            return float((score * weights / (weights.sum() + eps)).sum())
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The harmonic mean of precision and recall: FBetaScore with beta = 1."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config_ = super().get_config()
        del config_["beta"]
        return config_
