"""Kullback-Leibler divergence and the Poisson loss with Keras 3's formulas (the crossentropies, also
probabilistic, live in crossentropy.py and focal.py)."""
from .base import EPSILON, FunctionLoss, loss_function, prediction_tensor, regression_labels


@loss_function("kld", "KLD", "kullback_leibler_divergence")
def kl_divergence(y_true, y_pred):
    """sum(y log(y / y_pred)) over the last axis, both clipped to [eps, 1];  d/dp = -y / p inside the clip."""
    who = "kl_divergence"
    y_pred = prediction_tensor(y_pred, who)
    y = regression_labels(y_true, y_pred, who).clip(EPSILON, 1.0)
    return ((y / y_pred.clip(EPSILON, 1.0)).log() * y).sum(axis=-1)


@loss_function()
def poisson(y_true, y_pred):
    """mean(y_pred - y log(y_pred + eps)) over the last axis, the Poisson negative log-likelihood up to a
    constant;  d/dp = 1 - y / (p + eps)."""
    who = "poisson"
    y_pred = prediction_tensor(y_pred, who)
    y = regression_labels(y_true, y_pred, who)
    return (y_pred - (y_pred + EPSILON).log() * y).mean(axis=-1)


class KLDivergence(FunctionLoss):
    """sum(y log(y / y_pred)): how much the predicted distribution differs from the labels'."""

    function = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction, name, dtype)


class Poisson(FunctionLoss):
    """mean(y_pred - y log(y_pred + eps)), for count data."""

    function = staticmethod(poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(reduction, name, dtype)
