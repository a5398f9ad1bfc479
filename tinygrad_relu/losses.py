"""Losses with Keras 3's names, defaults and formulas.

``loss(y_true, y_pred)`` takes the labels (numpy array, or anything array-like) and the
predictions (a Tensor) and returns a scalar Tensor: the per-sample losses averaged over the
batch (Keras' 'sum_over_batch_size' reduction), differentiable with respect to y_pred.

Crossentropy on probabilities follows Keras: the probabilities are renormalized to sum to 1,
clipped to [1e-7, 1 - 1e-7] and logged. With ``from_logits=True`` the log-probabilities come
from a stable log-softmax (or softplus for the binary case), so large logits never overflow.

Labels are checked before anything is computed, because the usual mistakes (integer labels
with categorical_crossentropy, one-hot labels with the sparse loss, a class index beyond the
last unit) otherwise give a silent wrong answer or an obscure broadcasting error.
"""
import numpy as np

from ._kernels import losses as _kernels
from ._registry import (Configurable, cannot_interpret, check_serialized, custom_object, find_class, from_serialized,
                        registered_name, snake_case, unknown_name)
from ._registry import serialize  # noqa: F401  (public: losses.serialize)
from .ops.elementwise import Cast
from .tensor import Function
from .tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()


# ---- label checks ------------------------------------------------------------------------
def _labels(y_true):
    if isinstance(y_true, Tensor):
        return y_true.data
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"loss: labels must be numbers, received an array of dtype {arr.dtype}")
    return arr


def _predictions(y_pred, who):
    if not isinstance(y_pred, Tensor):
        y_pred = Tensor(y_pred)
    if y_pred.dtype.kind != "f":
        raise TypeError(f"{who}: predictions must be floating point, received dtype {y_pred.dtype}")
    return y_pred


def _same_rank(y, y_pred, who):
    """Keras' squeeze_or_expand_to_same_rank for a trailing axis of size 1, then demand equal shapes."""
    if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y = y.reshape(y.shape + (1,))
    elif y.ndim == y_pred.ndim + 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape {y.shape} "
                         f"and y_pred shape {y_pred.shape}")
    return y


def _check_finite(y, who):
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{who}: y_true contains NaN or infinite values")


def _categorical_labels(y, y_pred, who):
    if y_pred.ndim < 1:
        raise ValueError(f"{who}: y_pred must have a class axis, received shape {y_pred.shape}")
    n_classes = y_pred.shape[-1]
    looks_sparse = y.shape == y_pred.shape[:-1] or (y.shape == y_pred.shape[:-1] + (1,) and n_classes > 1)
    if looks_sparse:
        raise ValueError(
            f"{who}: y_true of shape {y.shape} looks like integer class labels but y_pred has shape {y_pred.shape}: "
            f"this loss expects one-hot labels of shape {y_pred.shape}. Use loss='sparse_categorical_crossentropy' "
            "for integer labels, or one-hot encode them with tinygrad_relu.utils.to_categorical(y, "
            f"num_classes={n_classes})")
    if y.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape {y.shape} "
                         f"and y_pred shape {y_pred.shape}")
    _check_finite(y, who)
    return y


def _sparse_labels(y, y_pred, who):
    if y_pred.ndim < 1:
        raise ValueError(f"{who}: y_pred must have a class axis, received shape {y_pred.shape}")
    n_classes = y_pred.shape[-1]
    if y.shape == y_pred.shape[:-1] + (1,) and y.ndim == y_pred.ndim:
        y = y.reshape(y.shape[:-1])
    elif y.shape == y_pred.shape and n_classes > 1:
        raise ValueError(
            f"{who}: y_true of shape {y.shape} looks one-hot (same shape as y_pred {y_pred.shape}), but this loss "
            "expects integer class indices of shape "
            f"{y_pred.shape[:-1]}. Use loss='categorical_crossentropy' for one-hot labels, or pass y.argmax(axis=-1)")
    if y.shape != y_pred.shape[:-1]:
        raise ValueError(f"{who}: y_true must hold one class index per prediction row: expected shape "
                         f"{y_pred.shape[:-1]} for y_pred of shape {y_pred.shape}, received y_true shape {y.shape}")
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (y == np.floor(y))
        if not whole.all():
            raise ValueError(f"{who}: class indices must be whole numbers, received values such as "
                             f"{y[~whole][:3].tolist()}")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"{who}: class indices must be integers, received dtype {y.dtype}")
    if y.size:
        lo, hi = np.minimum.reduce(y, axis=None), np.maximum.reduce(y, axis=None)
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{who}: class index {int(bad)} is out of range for y_pred with {n_classes} classes "
                             f"(shape {y_pred.shape}); valid indices are 0..{n_classes - 1}")
    return y.astype(np.intp, copy=False)


def _one_hot(indices, n_classes, dtype):
    out = np.zeros(indices.shape + (n_classes,), dtype=dtype)
    np.put_along_axis(out, indices[..., None], 1, axis=-1)
    return out


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


# ---- per-sample loss functions (Keras' functional forms) ----------------------------------------
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-sum(y * log p) over the last axis, one value per sample."""
    who = "categorical_crossentropy"
    y_pred = _predictions(y_pred, who)
    y = _categorical_labels(_labels(y_true), y_pred, who).astype(y_pred.dtype, copy=False)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return SoftmaxCrossEntropy.apply(y_pred, target=y)
    return -(_clipped_log_probabilities(y_pred) * y).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """-log p[label], one value per sample."""
    who = "sparse_categorical_crossentropy"
    y_pred = _predictions(y_pred, who)
    indices = _sparse_labels(_labels(y_true), y_pred, who)
    if from_logits:
        return SparseSoftmaxCrossEntropy.apply(y_pred, labels=indices)
    # Picking log p[label] as a product with the one-hot mask keeps the backward a plain multiply.
    mask = _one_hot(indices, y_pred.shape[-1], y_pred.dtype)
    return -(_clipped_log_probabilities(y_pred) * mask).sum(axis=-1)


def _binary_labels(y_true, y_pred, who):
    y = _same_rank(_labels(y_true), y_pred, who)
    _check_finite(y, who)
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{who}: labels must lie in [0, 1], received values from {y.min()} to {y.max()}; "
                         "for integer class labels use loss='sparse_categorical_crossentropy'")
    return y.astype(y_pred.dtype, copy=False)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """-(y log p + (1 - y) log(1 - p)) averaged over the last axis, one value per sample.

    From logits x it is softplus(x) - x y, which never overflows.
    """
    who = "binary_crossentropy"
    y_pred = _predictions(y_pred, who)
    y = _binary_labels(y_true, y_pred, who)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        elementwise = y_pred.softplus() - y_pred * y
    else:
        p = y_pred.clip(EPSILON, 1.0 - EPSILON)
        elementwise = -(p.log() * y + (1.0 - p).log() * (1.0 - y))
    return elementwise.mean(axis=-1)


def _regression_labels(y_true, y_pred, who):
    y = _same_rank(_labels(y_true), y_pred, who)
    _check_finite(y, who)
    return y.astype(y_pred.dtype, copy=False)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y)^2) over the last axis, one value per sample."""
    y_pred = _predictions(y_pred, "mean_squared_error")
    diff = y_pred - _regression_labels(y_true, y_pred, "mean_squared_error")
    return (diff * diff).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y|) over the last axis, one value per sample."""
    y_pred = _predictions(y_pred, "mean_absolute_error")
    return (y_pred - _regression_labels(y_true, y_pred, "mean_absolute_error")).abs().mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta); averaged over the last axis."""
    y_pred = _predictions(y_pred, "huber")
    error = (y_pred - _regression_labels(y_true, y_pred, "huber")).abs()
    # Split |e| into its quadratic part min(|e|, delta) and the linear rest: same value as the
    # piecewise form, and the gradient flows through each part where it applies.
    quadratic = error.minimum(delta)
    linear = error - quadratic
    return (quadratic * quadratic * 0.5 + linear * delta).mean(axis=-1)


# ---- Loss objects ----------------------------------------------------------------------------
_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


class Loss(Configurable):
    """Base of every loss, Keras' contract: a subclass defines ``call(y_true, y_pred)`` returning the
    per-sample losses (a Tensor, e.g. written with ``tinygrad_relu.ops``); ``loss(y_true, y_pred,
    sample_weight=None)`` weights and reduces them: "sum_over_batch_size" (or "mean") averages every
    value, "sum" adds them, "mean_with_sample_weight" divides the weighted sum by the weights' sum,
    "none" (or None) keeps them."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, received {reduction!r}")
        self.name = name if name is not None else snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else np.dtype(dtype).name

    def call(self, y_true, y_pred):  # pragma: no cover - abstract
        """The per-sample losses."""
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        y_pred = _predictions(y_pred, self.name)
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = Cast.apply(y_pred, dtype=np.dtype(self.dtype))
        if type(self).call.__module__ != __name__:  # a user's call gets Tensors, as Keras gives it
            y_true = _label_tensor(y_true, y_pred.dtype)
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            values = Tensor(np.asarray(values, dtype=y_pred.dtype))
        if mask is not None:
            sample_weight = _mask_weights(mask, sample_weight, values, self)
        if sample_weight is not None:
            weights = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=values.dtype)
            if weights.shape != values.shape:
                try:
                    weights = np.broadcast_to(weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim)),
                                              values.shape)
                except ValueError:
                    raise ValueError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} does not match "
                                     f"the per-sample losses of shape {values.shape}") from None
            values = values * weights
        if self.reduction in ("none", None) or values.ndim == 0:
            return values
        if self.reduction == "sum":
            return values.sum()
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            total = float(np.sum(weights))
            return values.sum() / total if total else values.sum() * 0.0
        return values.mean()

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


def _mask_weights(mask, sample_weight, values, loss):
    """Keras' apply_mask: the output's mask (layers/mask_propagation.py) as sample weights, 0 on masked
    timesteps; averaging reductions scale the real ones by total / real, so the mean runs over real steps."""
    real = np.asarray(getattr(mask, "data", mask)).astype(bool)
    if real.shape != values.shape[:real.ndim]:
        raise ValueError(f"{loss.name}: the predictions carry a mask of shape {real.shape}, which does not fit "
                         f"the per-sample losses of shape {values.shape}")
    weights = real.astype(values.dtype)
    if loss.reduction in ("sum_over_batch_size", "mean"):
        count = weights.sum()
        weights *= weights.dtype.type(real.size / count if count else 0.0)
    if sample_weight is not None:
        given = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=values.dtype)
        weights = weights * given.reshape(given.shape + (1,) * (weights.ndim - given.ndim))
    return weights


def _label_tensor(y_true, dtype):
    if isinstance(y_true, Tensor):
        return y_true
    labels = _labels(y_true)
    return Tensor._make(labels.astype(dtype) if labels.dtype != dtype else labels, False, None)


class CategoricalCrossentropy(Loss):
    """Crossentropy with one-hot labels; ``from_logits=True`` takes raw scores (stable log-softmax)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(name, reduction)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.from_logits and sample_weight is None and self.reduction == "sum_over_batch_size" and \
                getattr(y_pred, "_keras_mask", None) is None:
            who = self.name
            y_pred = _predictions(y_pred, who)
            y = _categorical_labels(_labels(y_true), y_pred, who).astype(y_pred.dtype, copy=False)
            if self.label_smoothing:
                y = y * (1.0 - self.label_smoothing) + self.label_smoothing / y_pred.shape[-1]
            return SoftmaxCrossEntropy.apply(y_pred, target=y, mean=True)
        return super().__call__(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class SparseCategoricalCrossentropy(Loss):
    """Crossentropy with integer class labels; ``from_logits=True`` takes raw scores."""

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name="sparse_categorical_crossentropy"):
        super().__init__(name, reduction)
        self.from_logits = bool(from_logits)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.from_logits and sample_weight is None and self.reduction == "sum_over_batch_size" and \
                getattr(y_pred, "_keras_mask", None) is None:
            y_pred = _predictions(y_pred, self.name)
            indices = _sparse_labels(_labels(y_true), y_pred, self.name)
            return SparseSoftmaxCrossEntropy.apply(y_pred, labels=indices, mean=True)
        return super().__call__(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class BinaryCrossentropy(Loss):
    """Crossentropy for 0/1 labels; ``from_logits=True`` takes raw scores (stable softplus form)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(name, reduction)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class MeanSquaredError(Loss):
    """mean((y_pred - y)^2)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name, reduction)

    def call(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y|)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name, reduction)

    def call(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    """Quadratic for errors up to delta, linear beyond."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(name, reduction)
        if delta <= 0:
            raise ValueError(f"Huber: delta must be positive, received delta={delta}")
        self.delta = float(delta)

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LossFunctionWrapper(Loss):
    """A function ``fn(y_true, y_pred, **kwargs) -> Tensor`` of per-sample (or already reduced) losses as a Loss.

    ``fn`` receives Tensors (the labels as a constant of the predictions' dtype)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction, dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_pred = _predictions(y_pred, self.name)
        values = self.fn(_label_tensor(y_true, y_pred.dtype), y_pred, **self._fn_kwargs)
        if not isinstance(values, Tensor):
            raise TypeError(f"loss function {self.name!r} must return a Tensor, returned {type(values).__name__}")
        return values

    def get_config(self):
        return {**super().get_config(), "fn": registered_name(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("fn", None)
        fn = globals().get(name) if name in _FUNCTIONS else custom_object([name])
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: unknown loss function {name!r}; register it with "
                             "register_keras_serializable or pass it in custom_objects")
        return cls(fn, **config)


# ---- lookup ----------------------------------------------------------------------------------
_CLASSES = {cls.__name__: cls for cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                          BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError, Huber,
                                          LossFunctionWrapper)}
_NAMES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
}

# Keras' short aliases for the functional forms.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
_FUNCTIONS = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy",
              "mean_squared_error", "mean_absolute_error", "huber", "mse", "mae")


def deserialize(config):
    check_serialized(config, "losses.deserialize")
    return from_serialized(config, _CLASSES, _NAMES, "Unknown loss class {name!r}. Known: {known}")


def get(identifier):
    """A Loss from a Keras name ('categorical_crossentropy', 'mse', 'MSE', 'huber', class names), a dict,
    a Loss object or a function ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if isinstance(cls, type) and issubclass(cls, Loss):
            return cls()
        if callable(cls):  # a registered loss function
            return LossFunctionWrapper(cls, name=identifier.split(">")[-1])
        raise unknown_name(identifier, _NAMES, "loss", "losses")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise cannot_interpret("losses.get", identifier, "a loss")
