"""Hinge losses (maximum-margin classification) with Keras 3's formulas.

``hinge`` and ``squared_hinge`` take labels -1 or 1; labels that are all 0 or 1 are mapped to -1 and 1
first, as Keras does. ``categorical_hinge`` takes one-hot labels.
"""
from .base import FunctionLoss, categorical_labels, label_array, loss_function, prediction_tensor, regression_labels


def _signed_labels(y_true, y_pred, who):
    """Labels as -1 / 1: Keras' convert_binary_labels_to_hinge maps 0/1 labels (all of them 0 or 1) to 2y - 1."""
    y = regression_labels(y_true, y_pred, who)
    if ((y == 0) | (y == 1)).all():
        y = 2.0 * y - 1.0
    return y


def _margin_violation(y_true, y_pred, who):
    """max(1 - y y_pred, 0) per element: how far each prediction falls short of the margin."""
    y_pred = prediction_tensor(y_pred, who)
    return (1.0 - y_pred * _signed_labels(y_true, y_pred, who)).maximum(0.0)


@loss_function()
def hinge(y_true, y_pred):
    """mean(max(1 - y y_pred, 0)) over the last axis;  d/dp = -y / n where y p < 1, else 0 (1/2 of it at y p = 1)."""
    return _margin_violation(y_true, y_pred, "hinge").mean(axis=-1)


@loss_function()
def squared_hinge(y_true, y_pred):
    """mean(max(1 - y y_pred, 0)^2) over the last axis;  d/dp = -2 y max(1 - y p, 0) / n."""
    violation = _margin_violation(y_true, y_pred, "squared_hinge")
    return (violation * violation).mean(axis=-1)


@loss_function()
def categorical_hinge(y_true, y_pred):
    """max(neg - pos + 1, 0) with pos = sum(y y_pred), neg = max((1 - y) y_pred) over the last axis;
    d/dp = ((1 - y) [at the arg max] - y) where neg - pos + 1 > 0, else 0."""
    who = "categorical_hinge"
    y_pred = prediction_tensor(y_pred, who)
    y = categorical_labels(label_array(y_true), y_pred, who).astype(y_pred.dtype, copy=False)
    positive = (y_pred * y).sum(axis=-1)
    negative = (y_pred * (1.0 - y)).max(axis=-1)
    return (negative - positive + 1.0).maximum(0.0)


class Hinge(FunctionLoss):
    """mean(max(1 - y y_pred, 0)) for labels -1 / 1 (or 0 / 1)."""

    function = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class SquaredHinge(FunctionLoss):
    """mean(max(1 - y y_pred, 0)^2) for labels -1 / 1 (or 0 / 1)."""

    function = staticmethod(squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class CategoricalHinge(FunctionLoss):
    """max(max_wrong - score_right + 1, 0) for one-hot labels."""

    function = staticmethod(categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(reduction, name, dtype)
