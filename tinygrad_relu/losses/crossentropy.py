"""The crossentropies with Keras 3's names, defaults and formulas, and the fused softmax-crossentropy op.

On probabilities they follow Keras: the probabilities are renormalized to sum to 1 (categorical),
clipped to [1e-7, 1 - 1e-7] and logged. With ``from_logits=True`` the log-probabilities come from a
stable log-softmax (or softplus for the binary case), so large logits never overflow; a final
softmax or sigmoid layer is fused into its crossentropy by Sequential models this way.
"""
import numpy as np

from .._kernels import losses as _kernels
from ..tensor import Function
from ..ops.numpy import where
from .base import (EPSILON, FunctionLoss, axis_last, binary_labels, categorical_labels, check_axis, check_fraction,
                   label_array, loss_function, one_hot, prediction_tensor, sparse_labels)


# ---- fused softmax + crossentropy on logits ----------------------------------------------------------
# The composed form (log_softmax, multiply, sum) gives the same numbers; fusing saves four graph nodes
# and their temporaries on the path every classifier takes each batch.
# This runs every training step on small arrays (128 x 10), where each numpy call costs more in
# set-up than in arithmetic. The row-max shift, numpy's slowest piece there (its maximum reduction
# pays a per-row set-up on 10-element rows), is one Cython pass (several times faster, the same values;
# only the sign of a zero maximum tied between 0.0 and -0.0 may differ, which no output can see:
# exp(+-0) = 1 and log_total - (+-0) = log_total). exp, log and the sums stay numpy's, with the
# ufuncs' reduce methods called directly (what ndarray.sum/mean call after a Python wrapper, same
# reduction order), so the losses and gradients are bit for bit those of the plain numpy spelling
# (tests/test_losses.py checks it; benchmarks/bench_optim.py times it).
def _softmax_parts(logits):
    """shifted logits z - max z, and the softmax, computed once and stably."""
    shifted = _kernels.shift_by_row_max(logits)
    if shifted is None:  # not a C-contiguous float32/float64 array with classes: plain numpy
        shifted = logits - np.maximum.reduce(logits, axis=-1, keepdims=True)
    probs = np.exp(shifted)
    total = np.add.reduce(probs, axis=-1, keepdims=True)
    probs /= total
    return shifted, np.log(total), probs


def _batch_mean(losses):
    """losses.mean(dtype=losses.dtype), without np.mean's Python wrapper (same sum, same division)."""
    if not losses.size:
        return losses.mean(dtype=losses.dtype)  # the empty-slice warning and NaN, as numpy gives them
    total = np.add.reduce(losses, axis=None, dtype=losses.dtype)
    return total.dtype.type(total / np.intp(losses.size))


_FLAT_ROW_STARTS = {}  # (rows, classes) -> arange(rows) * classes, reused across steps


def _flat_label_positions(labels, n_classes):
    """Positions of each row's label in the flattened (rows, classes) array."""
    rows = labels.size
    starts = _FLAT_ROW_STARTS.get((rows, n_classes))
    if starts is None:
        if len(_FLAT_ROW_STARTS) > 64:  # a few batch sizes in practice; bound it anyway
            _FLAT_ROW_STARTS.clear()
        starts = _FLAT_ROW_STARTS[(rows, n_classes)] = np.arange(rows, dtype=np.intp) * n_classes
    return starts + labels.reshape(-1)


class SoftmaxCrossEntropy(Function):
    """loss = -sum_k y_k log softmax(z)_k per row;  d loss / dz = softmax(z) * sum_k y_k - y

    ``mean=True`` returns the mean over rows instead (Keras' reduction, one node fewer).
    """

    def forward(self, logits, target, mean=False):
        shifted, log_total, self.probs = _softmax_parts(logits)
        self.target, self.mean = target, mean
        # -sum y (shifted - log_total) = log_total * sum y - sum y shifted
        self.target_mass = np.add.reduce(target, axis=-1, keepdims=True)
        losses = (log_total * self.target_mass)[..., 0] - np.einsum("...k,...k->...", target, shifted)
        return _batch_mean(losses) if mean else losses

    def backward(self, g):
        grad = self.probs * self.target_mass
        grad -= self.target
        grad *= g / (grad.size // grad.shape[-1]) if self.mean else g[..., None]
        return grad


class SparseSoftmaxCrossEntropy(Function):
    """loss = -log softmax(z)[label] per row;  d loss / dz = softmax(z) - one_hot(label)

    ``mean=True`` returns the mean over rows instead (Keras' reduction, one node fewer).
    """

    def forward(self, logits, labels, mean=False):
        shifted, log_total, self.probs = _softmax_parts(logits)
        # indexing the flat array is several times faster than take_along_axis on small batches
        self.positions, self.mean = _flat_label_positions(labels, logits.shape[-1]), mean
        picked = shifted.reshape(-1)[self.positions].reshape(labels.shape)
        losses = log_total[..., 0] - picked
        return _batch_mean(losses) if mean else losses

    def backward(self, g):
        grad = self.probs.copy()
        grad.reshape(-1)[self.positions] -= 1
        grad *= g / self.positions.size if self.mean else g[..., None]
        return grad


def _clipped_log_probabilities(y_pred):
    """Keras' log of probabilities: renormalized to sum to 1 over the last axis, clipped to [eps, 1 - eps]."""
    probs = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return probs.clip(EPSILON, 1.0 - EPSILON).log()


def smoothed_categorical_labels(y_true, y_pred, label_smoothing, axis, who):
    """(labels, predictions) with the class ``axis`` last, the one-hot labels checked, in y_pred's dtype and
    smoothed: y (1 - s) + s / n. Keras takes n from y_true's last axis even when ``axis`` is another one
    (keras.losses.categorical_crossentropy), and so does this, to compute what Keras computes."""
    y_true, y_pred = label_array(y_true), prediction_tensor(y_pred, who)
    n = y_true.shape[-1] if y_true.ndim else 1
    y_true, y_pred = axis_last(y_true, y_pred, axis, who)
    y = categorical_labels(y_true, y_pred, who).astype(y_pred.dtype, copy=False)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / n
    return y, y_pred


# ---- per-sample loss functions (Keras' functional forms) ----------------------------------------
@loss_function()
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y * log p) over ``axis``, one value per sample; d/dz of the logits form = softmax(z) sum(y) - y."""
    y, y_pred = smoothed_categorical_labels(y_true, y_pred, label_smoothing, axis, "categorical_crossentropy")
    if from_logits:
        return SoftmaxCrossEntropy.apply(y_pred, target=y)
    return -(_clipped_log_probabilities(y_pred) * y).sum(axis=-1)


def _ignored(y_true, y_pred, ignore_class):
    """(labels with ignored entries set to class 0, the mask of the kept ones) for Keras' ignore_class."""
    labels = label_array(y_true)
    if labels.shape == y_pred.shape[:-1] + (1,) and labels.ndim == y_pred.ndim:
        labels = labels.reshape(labels.shape[:-1])
    keep = labels != ignore_class
    return np.where(keep, labels, 0), keep


@loss_function()
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log p[label], one value per sample (0 where the label is ``ignore_class``)."""
    who = "sparse_categorical_crossentropy"
    y_pred = prediction_tensor(y_pred, who)
    _, y_pred = axis_last(None, y_pred, axis, who)
    keep = None
    if ignore_class is not None:
        y_true, keep = _ignored(y_true, y_pred, ignore_class)
    indices = sparse_labels(label_array(y_true), y_pred, who)
    if from_logits:
        losses = SparseSoftmaxCrossEntropy.apply(y_pred, labels=indices)
    else:
        # Picking log p[label] as a product with the one-hot mask keeps the backward a plain multiply.
        mask = one_hot(indices, y_pred.shape[-1], y_pred.dtype)
        losses = -(_clipped_log_probabilities(y_pred) * mask).sum(axis=-1)
    return losses if keep is None else where(keep, losses, 0.0)


@loss_function("bce", "BCE")
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-(y log p + (1 - y) log(1 - p)) averaged over ``axis``, one value per sample.

    From logits x it is softplus(x) - x y, which never overflows; d/dx = sigmoid(x) - y.
    """
    who = "binary_crossentropy"
    y_pred = prediction_tensor(y_pred, who)
    y = binary_labels(y_true, y_pred, who)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        elementwise = y_pred.softplus() - y_pred * y
    else:
        p = y_pred.clip(EPSILON, 1.0 - EPSILON)
        elementwise = -(p.log() * y + (1.0 - p).log() * (1.0 - y))
    return elementwise.mean(axis=check_axis(axis, max(y_pred.ndim, 1), who) if y_pred.ndim else None)


# ---- Loss objects ----------------------------------------------------------------------------
class CategoricalCrossentropy(FunctionLoss):
    """Crossentropy with one-hot labels; ``from_logits=True`` takes raw scores (stable log-softmax)."""

    function = staticmethod(categorical_crossentropy)
    settings = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=bool(from_logits), axis=axis,
                         label_smoothing=check_fraction(label_smoothing, "label_smoothing", type(self).__name__))

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.from_logits and sample_weight is None and self.reduction == "sum_over_batch_size" \
                and self.dtype is None and getattr(y_pred, "_keras_mask", None) is None:
            y, y_pred = smoothed_categorical_labels(y_true, y_pred, self.label_smoothing, self.axis, self.name)
            return SoftmaxCrossEntropy.apply(y_pred, target=y, mean=True)
        return super().__call__(y_true, y_pred, sample_weight)


class SparseCategoricalCrossentropy(FunctionLoss):
    """Crossentropy with integer class labels; ``from_logits=True`` takes raw scores. Labels equal to
    ``ignore_class`` add nothing, and the mean is over the other ones (Keras' mask)."""

    function = staticmethod(sparse_categorical_crossentropy)
    settings = ("from_logits", "ignore_class", "axis")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not isinstance(ignore_class, (int, np.integer))):
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class must be an int or None, received "
                             f"ignore_class={ignore_class!r}")
        super().__init__(reduction, name, dtype, from_logits=bool(from_logits), ignore_class=ignore_class,
                         axis=axis)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None:
            return super().__call__(y_true, y_pred, self._masked_weights(y_true, y_pred, sample_weight))
        if self.from_logits and sample_weight is None and self.reduction == "sum_over_batch_size" \
                and self.dtype is None and getattr(y_pred, "_keras_mask", None) is None:
            _, y_pred = axis_last(None, prediction_tensor(y_pred, self.name), self.axis, self.name)
            indices = sparse_labels(label_array(y_true), y_pred, self.name)
            return SparseSoftmaxCrossEntropy.apply(y_pred, labels=indices, mean=True)
        return super().__call__(y_true, y_pred, sample_weight)

    def _masked_weights(self, y_true, y_pred, sample_weight):
        """Keras' apply_mask: the kept labels weigh total / kept under a mean, 1 otherwise; ignored ones 0."""
        _, y_pred = axis_last(None, prediction_tensor(y_pred, self.name), self.axis, self.name)
        _, keep = _ignored(y_true, y_pred, self.ignore_class)
        weights = keep.astype(np.float64)
        if self.reduction in ("sum_over_batch_size", "mean") and keep.any():
            weights *= keep.size / np.count_nonzero(keep)
        if sample_weight is not None:
            given = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=np.float64)
            weights = weights * given.reshape(given.shape + (1,) * (weights.ndim - given.ndim))
        return weights


class BinaryCrossentropy(FunctionLoss):
    """Crossentropy for 0/1 labels; ``from_logits=True`` takes raw scores (stable softplus form)."""

    function = staticmethod(binary_crossentropy)
    settings = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=bool(from_logits), axis=axis,
                         label_smoothing=check_fraction(label_smoothing, "label_smoothing", type(self).__name__))
