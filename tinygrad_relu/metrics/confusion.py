"""Metrics counted from the confusion matrix at thresholds: TruePositives, FalsePositives, TrueNegatives,
FalseNegatives, Precision, Recall and AUC, with Keras 3's arithmetic.

A prediction p is positive at threshold t when p > t; a label is positive when it is not 0. Each
count is a sum of sample weights (1 without them), kept per threshold:

    TP(t) = sum w [y != 0][p > t]        FP(t) = sum w [y == 0][p > t]
    FN(t) = sum w [y != 0][p <= t]       TN(t) = sum w [y == 0][p <= t]

Evenly spaced thresholds (AUC's) are counted in one pass, as Keras does: each prediction falls in
the bucket ceil(p (T - 1)) - 1, and TP(t_i) is the sum over the buckets j >= i (a reversed
cumulative sum); otherwise every threshold is compared with every prediction. The comparisons
happen in the metric's dtype (float32 by default, as Keras), the sums in float64.
"""
import numpy as np

from .. import config
from .base import Metric, squeeze_or_expand_to_same_rank, to_numpy

NEG_INF = -1e10  # what top_k filtering gives the predictions it drops


def parse_thresholds(thresholds, default):
    """The thresholds as a list of floats (a number is one threshold), each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    invalid = [t for t in values if t is None or not 0 <= t <= 1]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return [float(t) for t in values]


def evenly_spaced(thresholds):
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=config.epsilon()))


def divide_no_nan(a, b):
    """a / b, and 0 where b is 0 (Keras' ops.divide_no_nan)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _filter_top_k(x, k):
    """x with all but the k largest values of each row set to NEG_INF."""
    keep = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return np.where(mask, x, np.asarray(NEG_INF, x.dtype))


def update_confusion_matrix(counts, y_true, y_pred, thresholds, evenly, dtype, sample_weight=None, top_k=None,
                            class_id=None, multi_label=False, label_weights=None, who="metric"):
    """Add one batch to ``counts`` ({'tp'|'fp'|'tn'|'fn': Variable of shape (T,) or (T, labels)})."""
    y_true, y_pred = to_numpy(y_true).astype(dtype), to_numpy(y_pred).astype(dtype)
    with_epsilon = evenly and (thresholds[0] < 0 or thresholds[-1] > 1)
    thresholds = np.asarray(thresholds, dtype=dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = to_numpy(sample_weight).astype(dtype)[..., None]
        _, weights = squeeze_or_expand_to_same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                             f"num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{who}: y_true and y_pred must have the same shape, received y_true shape {y_true.shape} "
                         f"and y_pred shape {y_pred.shape}")
    try:
        weights = np.ones(y_pred.shape, np.float64) if weights is None else \
            np.broadcast_to(weights, y_pred.shape).astype(np.float64)
    except ValueError:
        raise ValueError(f"{who}: sample_weight of shape {np.shape(sample_weight)} does not fit predictions of shape "
                         f"{y_pred.shape}") from None
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, np.float64), y_pred.shape)
    positive = y_true != 0
    if multi_label:  # one count per label column: (samples, labels)
        positive, y_pred, weights = (a.reshape(-1, a.shape[-1]) for a in (positive, y_pred, weights))
    else:
        positive, y_pred, weights = positive.reshape(-1), y_pred.reshape(-1), weights.reshape(-1)
    true_w, false_w = weights * positive, weights * ~positive
    n_thresholds = len(thresholds)
    if evenly:
        y_pred = np.clip(y_pred, dtype.type(0), dtype.type(1))
        buckets = np.ceil(y_pred * dtype.type(n_thresholds - 1)) - 1
        if with_epsilon:
            buckets = np.maximum(buckets, 0)
        buckets = buckets.astype(np.intp)

        def above(label_weights_):  # per threshold: the weights of predictions above it
            inside = buckets >= 0
            if multi_label:
                sums = np.zeros((n_thresholds, label_weights_.shape[1]))
                columns = np.broadcast_to(np.arange(label_weights_.shape[1]), buckets.shape)
                np.add.at(sums, (buckets[inside], columns[inside]), label_weights_[inside])
            else:
                sums = np.bincount(buckets[inside], weights=label_weights_[inside], minlength=n_thresholds)
            return np.cumsum(sums[::-1], axis=0)[::-1]
        tp, fp = above(true_w), above(false_w)
    else:
        shape = (n_thresholds,) + (1,) * y_pred.ndim
        predicted = y_pred[None] > thresholds.reshape(shape)
        tp = (predicted * true_w).sum(axis=1)
        fp = (predicted * false_w).sum(axis=1)
    if "tp" in counts:
        counts["tp"].data += tp
    if "fp" in counts:
        counts["fp"].data += fp
    if "tn" in counts:
        counts["tn"].data += false_w.sum(axis=0) - fp
    if "fn" in counts:
        counts["fn"].data += true_w.sum(axis=0) - tp


def _one_or_all(values, thresholds):
    return float(values[0]) if len(thresholds) == 1 else np.asarray(values)


class _ConfusionMatrixConditionCount(Metric):
    """One count of the confusion matrix at ``thresholds`` (default 0.5): a float, or an array per threshold."""
    _kind = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5)
        self._evenly = evenly_spaced(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros", dtype="float64", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix({self._kind: self.accumulator}, y_true, y_pred, self.thresholds, self._evenly,
                                np.dtype(self.dtype), sample_weight, who=self.name)

    def result(self):
        return _one_or_all(self.accumulator.data, self.thresholds)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """The weighted count of positive labels predicted positive (p > threshold)."""
    _kind = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    """The weighted count of negative labels predicted positive."""
    _kind = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The weighted count of negative labels predicted negative (p <= threshold)."""
    _kind = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The weighted count of positive labels predicted negative."""
    _kind = "fn"


class _PrecisionRecall(Metric):
    """TP / (TP + other) at each threshold; ``top_k`` counts only each row's k highest predictions as
    positive, ``class_id`` looks at one column."""
    direction = "up"
    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name, dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = evenly_spaced(self.thresholds)
        self.true_positives = self.add_variable((len(self.thresholds),), "zeros", dtype="float64",
                                                name="true_positives")
        other = "false_positives" if self._other == "fp" else "false_negatives"
        self._other_count = self.add_variable((len(self.thresholds),), "zeros", dtype="float64", name=other)
        setattr(self, other, self._other_count)

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix({"tp": self.true_positives, self._other: self._other_count}, y_true, y_pred,
                                self.thresholds, self._evenly, np.dtype(self.dtype), sample_weight, self.top_k,
                                self.class_id, who=self.name)

    def result(self):
        tp = self.true_positives.data
        return _one_or_all(divide_no_nan(tp, tp + self._other_count.data), self.thresholds)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """TP / (TP + FP): of the predicted positives, the share that are positive."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """TP / (TP + FN): of the positives, the share predicted positive."""
    _other = "fn"


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """The area under the ROC or precision-recall curve, from counts at ``num_thresholds`` thresholds (Keras'
    Riemann sum).

    Thresholds: 0 - epsilon, i / (num_thresholds - 1) for i = 1 .. num_thresholds - 2, and 1 + epsilon (or
    the ``thresholds`` given, with the two ends added). ROC: the sum over consecutive thresholds of
    (FPR_i - FPR_{i+1}) (TPR_i + TPR_{i+1}) / 2 ('interpolation'; 'minoring'/'majoring' take the min/max of the
    two heights). PR with 'interpolation' integrates precision between the points with Davis & Goadrich's
    interpolation of the counts. ``multi_label`` keeps one curve per label column and averages their areas
    (weighted by ``label_weights``); ``from_logits`` applies a sigmoid first.
    """
    direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curve_key = str(getattr(curve, "value", curve)).lower()
        if curve_key not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]')
        summation = str(getattr(summation_method, "value", summation_method)).lower()
        if summation not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_spaced(np.array([0.0] + inner + [1.0]))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or \
                    num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: "
                                 f"num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = [0.0 - config.epsilon()] + inner + [1.0 + config.epsilon()]
        self.curve, self.summation_method = _CURVES[curve_key], summation
        super().__init__(name, dtype)
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=self.dtype)
        self._from_logits = bool(from_logits)
        self._built = False
        if not self.multi_label:
            self._build(None)
        elif num_labels:
            self._build((None, num_labels))

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {len(shape)}. Full "
                                 f"shape received for `y_pred`: {shape}")
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        for name in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, name, self.add_variable(variable_shape, "zeros", dtype="float64", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = to_numpy(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred.astype(np.float64)))
        counts = {"tp": self.true_positives, "fp": self.false_positives, "tn": self.true_negatives,
                  "fn": self.false_negatives}
        update_confusion_matrix(counts, y_true, y_pred, self._thresholds, self._evenly, np.dtype(self.dtype),
                                sample_weight, multi_label=self.multi_label,
                                label_weights=None if self.multi_label else self.label_weights, who=self.name)

    def _average(self, per_label):
        if not self.multi_label:
            return float(per_label.sum())
        by_label = per_label.sum(axis=0)
        if self.label_weights is None:
            return float(by_label.mean())
        weights = self.label_weights.astype(np.float64)
        return float(divide_no_nan((by_label * weights).sum(), weights.sum()))

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives.data, self.false_positives.data, self.false_negatives.data
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        increments = divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments)

    def result(self):
        if self.multi_label and not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp))
            x = np.maximum(recall_gain, 0.0)
            y = np.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config_ = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                   "curve": self.curve, "summation_method": self.summation_method, "multi_label": self.multi_label,
                   "num_labels": self.num_labels,
                   "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                   "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config_["thresholds"] = self.thresholds[1:-1]
        return config_
