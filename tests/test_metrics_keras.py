"""Every metric against Keras 3 on random data, streamed in batches of several sizes (a last partial batch
included), with and without sample weights; and against the value computed on the whole set at once."""
import zlib

import numpy as np
import pytest

from tinygrad_relu import metrics
from tinygrad_relu.backend import clear_session

N = 103  # not a multiple of any batch size below: every streamed run ends with a partial batch
BATCH_SIZES = (1, 7, 32, N)


def make(kind, rng):
    if kind == "binary":
        return rng.integers(0, 2, (N, 1)).astype("float32"), rng.random((N, 1)).astype("float32")
    if kind == "binary_1d_labels":  # labels (n,), predictions (n, 1): the shapes of issue 11's bug
        return rng.integers(0, 2, (N,)).astype("float32"), rng.random((N, 1)).astype("float32")
    if kind == "multilabel":
        return rng.integers(0, 2, (N, 4)).astype("float32"), rng.random((N, 4)).astype("float32")
    if kind == "onehot":
        p = rng.random((N, 5)).astype("float32")
        return np.eye(5, dtype="float32")[rng.integers(0, 5, N)], p / p.sum(1, keepdims=True)
    if kind == "sparse":
        return rng.integers(0, 5, (N,)), rng.random((N, 5)).astype("float32")
    if kind == "regression":
        return rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")
    if kind == "regression_1d_labels":
        return rng.normal(size=(N,)).astype("float32"), rng.normal(size=(N, 1)).astype("float32")
    if kind == "positive":
        return rng.random((N, 3)).astype("float32") + 0.1, rng.random((N, 3)).astype("float32")
    if kind == "class_ids":
        return rng.integers(0, 4, (N,)), rng.integers(0, 4, (N,))
    raise AssertionError(kind)


CASES = [
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.5, 0.9]}, "binary"),
    ("TrueNegatives", {}, "multilabel"),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary_1d_labels"),  # evenly spaced: the bucket path
    ("Precision", {}, "binary"),
    ("Recall", {}, "binary_1d_labels"),
    ("Precision", {"top_k": 2}, "multilabel"),
    ("Recall", {"class_id": 1}, "multilabel"),
    ("Precision", {"thresholds": [0.3, 0.6]}, "multilabel"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"num_thresholds": 17}, "binary_1d_labels"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "multilabel"),
    ("AUC", {"summation_method": "majoring"}, "binary"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.8]}, "binary"),
    ("AUC", {"multi_label": True}, "multilabel"),
    ("AUC", {"multi_label": True, "curve": "PR", "label_weights": [1, 2, 0.5, 1]}, "multilabel"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "sparse"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "macro"}, "onehot"),
    ("F1Score", {"average": "micro", "threshold": 0.3}, "multilabel"),
    ("FBetaScore", {"beta": 2.0, "average": "weighted"}, "onehot"),
    ("MeanIoU", {"num_classes": 4}, "class_ids"),
    ("RootMeanSquaredError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression_1d_labels"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"),
    ("R2Score", {"class_aggregation": None, "num_regressors": 2}, "regression"),
    ("R2Score", {}, "regression_1d_labels"),
    ("BinaryAccuracy", {}, "binary_1d_labels"),
    ("Accuracy", {}, "class_ids"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("MeanSquaredError", {}, "regression_1d_labels"),
    ("MeanAbsoluteError", {}, "regression_1d_labels"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
]


def streamed(metric, y, p, weights, batch_size):
    for start in range(0, N, batch_size):
        rows = slice(start, start + batch_size)
        metric.update_state(y[rows], p[rows], sample_weight=None if weights is None else weights[rows])
    return np.asarray(metric.result(), dtype=np.float64)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_metric_matches_keras_at_every_batch_size(keras, name, kwargs, kind, weighted):
    rng = np.random.default_rng(zlib.crc32(f"{name}{kwargs}{kind}".encode()))
    y, p = make(kind, rng)
    weights = None
    if weighted:  # MeanIoU counts in integers, as Keras' does: give it whole weights
        weights = rng.integers(0, 3, N).astype("int32") if name == "MeanIoU" else rng.random(N).astype("float32")
    theirs = getattr(keras.metrics, name)(**kwargs)
    theirs.update_state(y, p, sample_weight=weights)
    expected = np.asarray(theirs.result(), dtype=np.float64)
    for batch_size in BATCH_SIZES:
        ours = streamed(getattr(metrics, name)(**kwargs), y, p, weights, batch_size)
        np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name}({kwargs}) on {kind}, batch size {batch_size}")


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_streaming_equals_the_whole_set_at_once(name, kwargs, kind):
    """Without Keras: any batching gives the value of one update on all the data (the issue's bug, fixed)."""
    rng = np.random.default_rng(1)
    y, p = make(kind, rng)
    weights = rng.integers(0, 3, N) if name == "MeanIoU" else rng.random(N)
    for w in (None, weights):
        whole = getattr(metrics, name)(**kwargs)
        whole.update_state(y, p, sample_weight=w)
        expected = np.asarray(whole.result(), dtype=np.float64)
        for batch_size in BATCH_SIZES:
            np.testing.assert_allclose(streamed(getattr(metrics, name)(**kwargs), y, p, w, batch_size), expected,
                                       rtol=1e-12, atol=1e-12)


def test_binary_and_regression_metrics_with_1d_labels_are_per_sample_hand_computed():
    """The bug of issue 11: labels (n,) against predictions (n, 1) gave one value per batch."""
    y = np.array([1, 0, 1, 1, 0], dtype=np.float32)
    p = np.array([[0.9], [0.6], [0.2], [0.7], [0.1]], dtype=np.float32)
    acc = metrics.BinaryAccuracy()
    acc.update_state(y[:4], p[:4])
    acc.update_state(y[4:], p[4:])
    assert acc.result() == pytest.approx(3 / 5)  # right: 0, 3, 4; a mean of batch means would say 0.75
    mse = metrics.MeanSquaredError()
    mse.update_state(y[:4], p[:4])
    mse.update_state(y[4:], p[4:])
    assert mse.result() == pytest.approx(np.mean((p[:, 0] - y) ** 2))
    assert metrics.binary_accuracy(y, p).shape == (5, 1)  # per sample (Keras' shape), never one per batch


@pytest.mark.parametrize("name,kwargs", [
    ("AUC", {}), ("AUC", {"curve": "PR", "num_thresholds": 50}), ("Precision", {"thresholds": [0.3, 0.7]}),
    ("Recall", {"top_k": 1}), ("TruePositives", {"thresholds": 0.4}), ("F1Score", {"average": "macro"}),
    ("FBetaScore", {"beta": 0.5}), ("MeanIoU", {"num_classes": 3}), ("R2Score", {"num_regressors": 1}),
    ("RootMeanSquaredError", {}), ("TopKCategoricalAccuracy", {"k": 3}),
    ("SparseTopKCategoricalAccuracy", {"k": 2, "from_sorted_ids": True}), ("Mean", {}), ("Sum", {}),
])
def test_config_and_names_match_keras(keras, name, kwargs):
    clear_session()
    keras.utils.clear_session()
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    assert ours.name == theirs.name
    config, keras_config = ours.get_config(), theirs.get_config()
    assert set(config) == set(keras_config)
    for key, value in keras_config.items():
        if key == "label_weights" or (key == "dtype" and name == "MeanIoU"):
            continue
        assert config[key] == (value.value if hasattr(value, "value") else value), key
    again = type(ours).from_config(config)
    assert again.get_config() == config


def test_default_names_are_numbered_like_keras(keras):
    clear_session()
    keras.utils.clear_session()
    ours = [metrics.Precision().name, metrics.Precision().name, metrics.AUC().name, metrics.MeanIoU(2).name]
    theirs = [keras.metrics.Precision().name, keras.metrics.Precision().name, keras.metrics.AUC().name,
              keras.metrics.MeanIoU(2).name]
    assert ours == theirs == ["precision", "precision_1", "auc", "mean_io_u"]


def test_mean_and_sum_reduce_per_sample_like_keras(keras):
    rng = np.random.default_rng(0)
    values, weights = rng.random((6, 3)), rng.random(6)
    for name in ("Mean", "Sum"):
        for w in (None, weights, weights[:, None]):
            ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
            ours.update_state(values[:4], None if w is None else w[:4])
            ours.update_state(values[4:], None if w is None else w[4:])
            theirs.update_state(values, sample_weight=w)
            assert ours.result() == pytest.approx(float(theirs.result()), rel=1e-6)


def test_hand_computed_auc_and_confusion_counts():
    y = np.array([0, 0, 1, 1], dtype=np.float32)
    p = np.array([0.1, 0.4, 0.35, 0.8], dtype=np.float32)
    # ROC: thresholds 0-eps, 0.5, 1+eps -> (fpr, tpr) = (1, 1), (0, 0.5), (0, 0): trapezoids 1 * 0.75
    assert metrics.AUC(num_thresholds=3)(y, p) == pytest.approx(0.75)
    tp, fp = metrics.TruePositives(thresholds=[0.3, 0.5]), metrics.FalsePositives(thresholds=[0.3, 0.5])
    np.testing.assert_array_equal(tp(y, p), [2, 1])
    np.testing.assert_array_equal(fp(y, p), [1, 0])
    assert metrics.Precision()(y, p, sample_weight=[1, 1, 1, 3]) == 1.0
    assert metrics.Recall()(y, p, sample_weight=[1, 1, 1, 3]) == pytest.approx(3 / 4)


@pytest.mark.parametrize("make_metric,match", [
    (lambda: metrics.Precision(thresholds=[0.5, 1.5]), r"Threshold values must be in \[0, 1\]. Received: \[1.5\]"),
    (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: metrics.AUC(curve="XY"), "Invalid AUC curve value"),
    (lambda: metrics.AUC(summation_method="simpson"), "summation method"),
    (lambda: metrics.AUC(num_labels=3), "only when `multi_label` is True"),
    (lambda: metrics.F1Score(average="median"), "average"),
    (lambda: metrics.FBetaScore(beta=2), "Python float"),
    (lambda: metrics.F1Score(threshold=1.5), "threshold"),
    (lambda: metrics.MeanIoU(0), "num_classes"),
    (lambda: metrics.R2Score(class_aggregation="median"), "class_aggregation"),
    (lambda: metrics.R2Score(num_regressors=-1), "num_regressors"),
])
def test_bad_arguments_are_refused_with_their_name(make_metric, match):
    with pytest.raises(ValueError, match=match):
        make_metric()


def test_shape_errors_name_the_metric_and_shapes():
    with pytest.raises(ValueError, match=r"precision.*\(4, 2\).*\(4, 3\)"):
        metrics.Precision()(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"2D inputs"):
        metrics.F1Score()(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="class index 5 is out of range"):
        metrics.SparseTopKCategoricalAccuracy(k=2)(np.array([5]), np.zeros((1, 3)))
