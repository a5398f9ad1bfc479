"""Focal crossentropies (Lin et al. 2017) with Keras 3's formulas: the crossentropy of each example
scaled by (1 - p_t)^gamma, so the easy, well-classified ones weigh little.

Keras computes them from probabilities: with ``from_logits=True`` the sigmoid or softmax is applied
first and the result clipped to [1e-7, 1 - 1e-7] as any probability is, so the values are Keras'
to the last bits (there is no separate logits formula to fuse).
"""
from .base import EPSILON, FunctionLoss, binary_labels, check_axis, check_fraction, loss_function, prediction_tensor
from .crossentropy import smoothed_categorical_labels


def _non_negative(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{who}: {name} must be a finite non-negative number, received {name}={value!r}")
    return float(value)


@loss_function()
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over ``axis`` of (1 - p_t)^gamma * bce, p_t = y p + (1 - y)(1 - p), bce on p clipped to [eps, 1 - eps];
    times alpha y + (1 - alpha)(1 - y) with class balancing.

    d/dp = (1 - p_t)^gamma d bce/dp - gamma (1 - p_t)^(gamma - 1) (2y - 1) bce  (the product rule, as autograd does)
    """
    who = "binary_focal_crossentropy"
    y_pred = prediction_tensor(y_pred, who)
    y = binary_labels(y_true, y_pred, who)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    p = y_pred.sigmoid() if from_logits else y_pred
    clipped = p.clip(EPSILON, 1.0 - EPSILON)
    bce = -(clipped.log() * y + (1.0 - clipped).log() * (1.0 - y))
    p_t = p * y + (1.0 - p) * (1.0 - y)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = focal * (y * alpha + (1.0 - y) * (1.0 - alpha))
    return focal.mean(axis=check_axis(axis, max(y_pred.ndim, 1), who) if y_pred.ndim else None)


@loss_function()
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """sum over ``axis`` of alpha (1 - p)^gamma (-y log p), p renormalized to sum to 1 and clipped to [eps, 1 - eps].

    d/dp_k (per class) = alpha [(1 - p)^gamma (-y / p) + gamma (1 - p)^(gamma - 1) y log p], then through the
    renormalization and the clip.
    """
    y, y_pred = smoothed_categorical_labels(y_true, y_pred, label_smoothing, axis, "categorical_focal_crossentropy")
    p = y_pred.softmax(axis=-1) if from_logits else y_pred
    output = (p / p.sum(axis=-1, keepdims=True)).clip(EPSILON, 1.0 - EPSILON)
    crossentropy = output.log() * -y
    return ((1.0 - output) ** gamma * alpha * crossentropy).sum(axis=-1)


class BinaryFocalCrossentropy(FunctionLoss):
    """Focal crossentropy for 0/1 labels; ``apply_class_balancing`` weighs positives by alpha, negatives by
    1 - alpha."""

    function = staticmethod(binary_focal_crossentropy)
    settings = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        who = type(self).__name__
        super().__init__(reduction, name, dtype, from_logits=bool(from_logits), axis=axis,
                         label_smoothing=check_fraction(label_smoothing, "label_smoothing", who),
                         apply_class_balancing=bool(apply_class_balancing),
                         alpha=check_fraction(alpha, "alpha", who), gamma=_non_negative(gamma, "gamma", who))


class CategoricalFocalCrossentropy(FunctionLoss):
    """Focal crossentropy for one-hot labels, every class weighed by alpha."""

    function = staticmethod(categorical_focal_crossentropy)
    settings = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        who = type(self).__name__
        super().__init__(reduction, name, dtype, from_logits=bool(from_logits), axis=axis,
                         label_smoothing=check_fraction(label_smoothing, "label_smoothing", who),
                         alpha=_non_negative(alpha, "alpha", who), gamma=_non_negative(gamma, "gamma", who))
