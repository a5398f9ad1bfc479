"""The Loss base class (Keras' contract and reductions), the label checks every loss runs first, and
LossFunctionWrapper with the table of built-in loss functions it can name.

Labels are checked before anything is computed, because the usual mistakes (integer labels
with categorical_crossentropy, one-hot labels with the sparse loss, a class index beyond the
last unit) otherwise give a silent wrong answer or an obscure broadcasting error.
"""
import numpy as np

from .._registry import Configurable, custom_object, registered_name, snake_case
from ..ops.elementwise import Cast
from ..tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()

# Keras' functional losses by name ('hinge', 'mse', ...): what a saved LossFunctionWrapper may name.
FUNCTIONS = {}


def loss_function(*aliases):
    """Register a built-in per-sample loss function under its own name and Keras' ``aliases``."""
    def register(fn):
        for name in (fn.__name__,) + aliases:
            FUNCTIONS[name] = fn
        return fn
    return register


# ---- label checks ------------------------------------------------------------------------
def label_array(y_true):
    """The labels as a numpy array of numbers (a Tensor's data as it is)."""
    if isinstance(y_true, Tensor):
        return y_true.data
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"loss: labels must be numbers, received an array of dtype {arr.dtype}")
    return arr


def prediction_tensor(y_pred, who):
    """The predictions as a floating-point Tensor."""
    if not isinstance(y_pred, Tensor):
        y_pred = Tensor(y_pred)
    if y_pred.dtype.kind != "f":
        raise TypeError(f"{who}: predictions must be floating point, received dtype {y_pred.dtype}")
    return y_pred


def label_tensor(y_true, dtype):
    """The labels as a constant Tensor of ``dtype`` (what a user's ``call`` receives, as in Keras)."""
    if isinstance(y_true, Tensor):
        return y_true
    labels = label_array(y_true)
    return Tensor._make(labels.astype(dtype) if labels.dtype != dtype else labels, False, None)


def same_rank(y, y_pred, who):
    """Keras' squeeze_or_expand_to_same_rank for a trailing axis of size 1, then demand equal shapes."""
    if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y = y.reshape(y.shape + (1,))
    elif y.ndim == y_pred.ndim + 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape {y.shape} "
                         f"and y_pred shape {y_pred.shape}")
    return y


def check_finite(y, who):
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{who}: y_true contains NaN or infinite values")


def regression_labels(y_true, y_pred, who):
    """Labels of y_pred's shape (a trailing axis of 1 added or dropped), finite, in y_pred's dtype."""
    y = same_rank(label_array(y_true), y_pred, who)
    check_finite(y, who)
    return y.astype(y_pred.dtype, copy=False)


def binary_labels(y_true, y_pred, who):
    """regression_labels that must also lie in [0, 1]."""
    y = regression_labels(y_true, y_pred, who)
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{who}: labels must lie in [0, 1], received values from {y.min()} to {y.max()}; "
                         "for integer class labels use loss='sparse_categorical_crossentropy'")
    return y


def categorical_labels(y, y_pred, who):
    """One-hot (or soft) labels of y_pred's shape; integer class labels get an error that says what to use."""
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
    check_finite(y, who)
    return y


def sparse_labels(y, y_pred, who):
    """Integer class indices, one per row of y_pred (a trailing axis of 1 dropped), each in range."""
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


def one_hot(indices, n_classes, dtype):
    out = np.zeros(indices.shape + (n_classes,), dtype=dtype)
    np.put_along_axis(out, indices[..., None], 1, axis=-1)
    return out


def check_axis(axis, ndim, who):
    """``axis`` as a non-negative index into ``ndim`` axes (Keras refuses a bool)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{who}: axis must be an int, received axis={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{who}: axis={axis} is out of range for y_pred of rank {ndim}")
    return int(axis) % ndim


def axis_last(y, y_pred, axis, who):
    """(labels, predictions) with ``axis`` moved to the end, so the loss can work on the last axis."""
    if axis == -1 and type(axis) is int:  # the usual case, on every training step: no work
        return y, y_pred
    axis = check_axis(axis, max(y_pred.ndim, 1), who)
    if y_pred.ndim == 0 or axis == y_pred.ndim - 1:
        return y, y_pred
    order = tuple(i for i in range(y_pred.ndim) if i != axis) + (axis,)
    if y is not None:
        y = label_array(y)
        if y.ndim == y_pred.ndim:  # labels with the class axis (one-hot); sparse labels have none
            y = np.transpose(y, order)
    return y, y_pred.permute(order)


# ---- Loss objects ----------------------------------------------------------------------------
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


class Loss(Configurable):
    """Base of every loss, Keras' contract: a subclass defines ``call(y_true, y_pred)`` returning the
    per-sample losses (a Tensor, e.g. written with ``tinygrad_relu.ops``); ``loss(y_true, y_pred,
    sample_weight=None)`` weights and reduces them: "sum_over_batch_size" (or "mean") averages every
    value, "sum" adds them, "mean_with_sample_weight" divides the weighted sum by the weights' sum,
    "none" (or None) keeps them. ``dtype`` (e.g. "float64") casts the predictions first."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, received {reduction!r}")
        self.name = name if name is not None else snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else np.dtype(dtype).name

    def call(self, y_true, y_pred):  # pragma: no cover - abstract
        """The per-sample losses."""
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        y_pred = prediction_tensor(y_pred, self.name)
        if self.dtype is not None and y_pred.dtype != self.dtype:
            y_pred = Cast.apply(y_pred, dtype=np.dtype(self.dtype))
        if not (type(self).call.__module__ or "").startswith(__package__ + "."):  # a user's call gets Tensors
            y_true = label_tensor(y_true, y_pred.dtype)
        values = self.call(y_true, y_pred)
        if not isinstance(values, Tensor):
            values = Tensor(np.asarray(values, dtype=y_pred.dtype))
        if mask is not None:
            sample_weight = mask_weights(mask, sample_weight, values, self)
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


def mask_weights(mask, sample_weight, values, loss):
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


class LossFunctionWrapper(Loss):
    """A function ``fn(y_true, y_pred, **kwargs) -> Tensor`` of per-sample (or already reduced) losses as a Loss.

    ``fn`` receives Tensors (the labels as a constant of the predictions' dtype)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction, dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_pred = prediction_tensor(y_pred, self.name)
        values = self.fn(label_tensor(y_true, y_pred.dtype), y_pred, **self._fn_kwargs)
        if not isinstance(values, Tensor):
            raise TypeError(f"loss function {self.name!r} must return a Tensor, returned {type(values).__name__}")
        return values

    def get_config(self):
        return {**super().get_config(), "fn": registered_name(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.pop("fn", None)
        fn = FUNCTIONS.get(name) if isinstance(name, str) else None
        fn = fn or custom_object([name])
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: unknown loss function {name!r}; register it with "
                             "register_keras_serializable or pass it in custom_objects")
        return cls(fn, **config)


class FunctionLoss(Loss):
    """A built-in loss class, as Keras' are: one per-sample function (``function``) and the settings it
    takes (``settings``, kept as attributes); the config is name, reduction and those settings."""

    function = None  # staticmethod(fn(y_true, y_pred, **settings)) in each subclass
    settings = ()

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **settings):
        super().__init__(name, reduction, dtype)
        for key in self.settings:
            setattr(self, key, settings[key])

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred, **{key: getattr(self, key) for key in self.settings})

    def get_config(self):
        return {**super().get_config(), **{key: getattr(self, key) for key in self.settings}}


def check_fraction(value, name, who):
    """A float in [0, 1] (label_smoothing, alpha)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0 <= value <= 1:
        raise ValueError(f"{who}: {name} must be a number in [0, 1], received {name}={value!r}")
    return float(value)
