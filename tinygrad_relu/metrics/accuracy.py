"""Accuracy metrics: exact match, binary, categorical, sparse categorical, top-k, and 'accuracy' resolved
from the shapes as Keras 3 resolves it.

Each function returns one value per sample (or per element, which Mean then averages per sample),
so with labels of shape (n,) against predictions of shape (n, 1) the labels get the trailing axis
(Keras' squeeze_or_expand_to_same_rank): n values, never one per batch.

'accuracy' (or 'acc') in compile() is decided at the first batch: one output unit means binary
accuracy; labels with one axis fewer than the predictions (or a trailing axis of 1 against several
units) mean sparse categorical accuracy; otherwise categorical accuracy. The metric keeps the name
it was asked for ('accuracy'), the key History reports.
"""
import numpy as np

from .base import Metric, MeanMetricWrapper, check_same_shape, squeeze_or_expand_to_same_rank, to_numpy


def accuracy(y_true, y_pred):
    """1.0 where y_pred equals y_true exactly (for already-decided labels), per element."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(to_numpy(y_true), to_numpy(y_pred))
    check_same_shape(y_true, y_pred, "accuracy")
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals the label, per element.

    The thresholded prediction is compared with the label as it is: a soft label such as 0.7 never matches
    (Keras' rule)."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(to_numpy(y_true), to_numpy(y_pred))
    check_same_shape(y_true, y_pred, "binary_accuracy")
    return ((y_pred > threshold).astype(y_true.dtype) == y_true).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) == argmax(y_true), per sample."""
    y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
    check_same_shape(y_true, y_pred, "categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def _sparse_labels(y_true, y_pred, who):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"{who}: expected labels of shape {y_pred.shape[:-1]} for predictions of shape "
                         f"{y_pred.shape}, received y_true shape {y_true.shape}")
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals the integer label, per sample."""
    y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
    y_true = _sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float32)


def _in_top_k(labels, scores, k, who):
    """Whether each label's score is among the k largest of its row; a tie with the k-th counts as in (Keras'
    in_top_k on torch: score >= the k-th largest)."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"{who}: k must be a positive integer, received k={k!r}")
    scores = scores.reshape(-1, scores.shape[-1])
    labels = labels.reshape(-1).astype(np.intp)
    n_classes = scores.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{who}: class index {int(labels.min() if labels.min() < 0 else labels.max())} is out of "
                         f"range for predictions with {n_classes} classes")
    kth = -np.partition(-scores, min(k, n_classes) - 1, axis=-1)[:, min(k, n_classes) - 1]
    return scores[np.arange(len(labels)), labels] >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot label's class is among the k highest predictions, per sample."""
    y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
    check_same_shape(y_true, y_pred, "top_k_categorical_accuracy")
    labels = np.argmax(y_true, axis=-1)
    return _in_top_k(labels, y_pred, k, "top_k_categorical_accuracy").astype(np.float32).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest predictions (``from_sorted_ids``: y_pred already holds
    class ids, best first), per sample."""
    y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
    if from_sorted_ids:
        labels = y_true.reshape(-1)
        ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        return (ids == labels[:, None]).any(axis=1).astype(np.float32).reshape(y_true.shape)
    labels = _sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return _in_top_k(labels, y_pred, k, "sparse_top_k_categorical_accuracy").astype(np.float32).reshape(y_true.shape)


class Accuracy(MeanMetricWrapper):
    """keras.metrics.Accuracy: how often predictions EQUAL the labels (compare class ids, not probabilities).

    The string 'accuracy' in compile() is something else: AutoAccuracy, which picks the right kind."""
    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in (0, 1), received threshold={threshold}")
        self.threshold = float(threshold)
        super().__init__(binary_accuracy, name, dtype, threshold=self.threshold)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the ``k`` highest predictions."""
    direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = k
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest predictions."""
    direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        self.k, self.from_sorted_ids = k, bool(from_sorted_ids)
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k, from_sorted_ids=self.from_sorted_ids)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


def accuracy_kind(y_true, y_pred):
    """Keras 3's rule (compile_utils.is_binary_or_sparse_categorical) for what 'accuracy' means."""
    if y_pred.shape[-1] == 1:
        return BinaryAccuracy
    if y_true.ndim < y_pred.ndim or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


class AutoAccuracy(Metric):
    """metrics=['accuracy']: becomes binary, sparse categorical or categorical accuracy at the first batch."""
    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        if self.resolved is None:
            if y_pred.ndim == 0:
                raise ValueError(f"{self.name}: predictions need at least one axis, received a scalar")
            self.resolved = accuracy_kind(y_true, y_pred)(name=self.name, dtype=self.dtype)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()

    @property
    def variables(self):
        return [] if self.resolved is None else self.resolved.variables

    def result(self):
        return self.resolved.result() if self.resolved is not None else 0.0
