"""Intersection over union from a confusion matrix of class ids: IoU (chosen classes) and MeanIoU (all).

The matrix M[true, predicted] sums the sample weights (integers by default, as Keras' "int" dtype:
fractional weights are truncated, with Keras' warning). For class c:

    IoU_c = M[c, c] / (sum_j M[c, j] + sum_i M[i, c] - M[c, c])

and the metric is the mean over the target classes that appear at all (a class with an empty row
and column is left out of the mean). Ids outside [0, num_classes), and ``ignore_class``, are left out.
"""
import numpy as np

from .. import config
from .base import Metric, to_numpy, warn_float_weights_on_int_state


class IoU(Metric):
    """Mean IoU over ``target_class_ids``; ``sparse_y_true``/``sparse_y_pred`` False take the argmax over
    ``axis`` of one-hot labels / class scores first."""
    direction = "up"

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be a positive integer, received "
                             f"num_classes={num_classes!r}")
        target_class_ids = list(target_class_ids)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        super().__init__(name, dtype or "int32")
        self.num_classes, self.target_class_ids = int(num_classes), target_class_ids
        self.ignore_class, self.sparse_y_true, self.sparse_y_pred, self.axis = \
            ignore_class, sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_variable((num_classes, num_classes), "zeros", name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        if not self.sparse_y_true:
            y_true = np.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = np.argmax(y_pred, axis=self.axis)
        dtype = np.dtype(self.dtype)
        y_true, y_pred = y_true.astype(dtype).reshape(-1), y_pred.astype(dtype).reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred hold {y_true.size} and {y_pred.size} class ids; they "
                             "must hold the same number")
        warn_float_weights_on_int_state(self, sample_weight)
        if sample_weight is None:
            weights = np.ones(y_true.shape, dtype)
        else:
            weights = to_numpy(sample_weight).astype(dtype)
            weights = np.broadcast_to(weights.reshape(-1) if weights.ndim > 1 else weights, y_true.shape)
        keep = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            keep &= y_true != self.ignore_class
        np.add.at(self.total_cm.data, (y_true[keep].astype(np.intp), y_pred[keep].astype(np.intp)), weights[keep])

    def result(self):
        cm = self.total_cm.data.astype(np.float64)
        true_positives = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - true_positives
        ids = self.target_class_ids
        true_positives, denominator = true_positives[ids].astype(np.float32), denominator[ids].astype(np.float32)
        valid = denominator > 1e-9
        eps = config.epsilon()
        iou = np.where(valid, true_positives / (denominator + eps), 0.0)
        return float(iou.sum() / (valid.sum() + eps))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """IoU averaged over every class (Keras' MeanIoU, named 'mean_io_u' by default)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"MeanIoU: num_classes must be a positive integer, received num_classes={num_classes!r}")
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config_ = super().get_config()
        del config_["target_class_ids"]
        return config_
