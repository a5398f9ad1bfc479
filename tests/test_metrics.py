"""Metrics: Keras' documented examples, streaming by batch size, 'accuracy' resolution, names."""
import numpy as np
import pytest

from tinygrad_relu import Tensor, metrics
from tinygrad_relu.metrics import (Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError,
                                   MeanSquaredError, SparseCategoricalAccuracy)


def test_keras_docstring_examples():
    m = CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == pytest.approx(0.5)
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)

    m = SparseCategoricalAccuracy()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert m.result() == pytest.approx(0.5)
    m.reset_state()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)

    m = BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(0.5)


def test_streaming_weights_batches_by_size():
    m = SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1, 2]), np.eye(3))        # 3 of 3 right
    m.update_state(np.array([0]), np.array([[0.0, 1.0, 0.0]]))  # 0 of 1 right
    assert m.result() == pytest.approx(0.75)  # not the mean of batch means (0.5)
    loss = Mean(name="loss")
    loss.update_state(2.0, sample_weight=3)
    loss.update_state(6.0, sample_weight=1)
    assert loss.result() == pytest.approx(3.0)
    loss.reset_state()
    assert loss.result() == 0.0


def test_regression_metrics_and_tensor_inputs():
    y, p = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.5, 2.0], [2.0, 4.0]])
    mse, mae = MeanSquaredError(), MeanAbsoluteError()
    mse.update_state(y, Tensor(p))
    mae.update_state(y, p)
    assert mse.result() == pytest.approx(np.mean((p - y) ** 2))
    assert mae.result() == pytest.approx(np.mean(np.abs(p - y)))
    flat = MeanSquaredError()
    flat.update_state(np.array([1.0, 2.0]), np.array([[1.0], [4.0]]))  # (n,) labels, (n, 1) predictions
    assert flat.result() == pytest.approx(2.0)


def test_binary_accuracy_threshold_and_soft_labels():
    m = BinaryAccuracy(threshold=0.7)
    m.update_state([1, 1, 0], [[0.8], [0.6], [0.1]])
    assert m.result() == pytest.approx(2 / 3)
    soft = BinaryAccuracy()
    soft.update_state([[0.7]], [[0.9]])  # Keras compares 1.0 with 0.7: no match
    assert soft.result() == 0.0
    with pytest.raises(ValueError, match="threshold"):
        BinaryAccuracy(threshold=1.0)


@pytest.mark.parametrize("y_true,y_pred,kind", [
    (np.array([0, 1]), np.eye(3)[:2], SparseCategoricalAccuracy),
    (np.array([[0], [1]]), np.eye(3)[:2], SparseCategoricalAccuracy),
    (np.eye(3)[:2], np.eye(3)[:2], CategoricalAccuracy),
    (np.array([0, 1]), np.array([[0.2], [0.9]]), BinaryAccuracy),
    (np.array([[0], [1]]), np.array([[0.2], [0.9]]), BinaryAccuracy),
])
def test_accuracy_resolves_from_shapes_like_keras(y_true, y_pred, kind):
    m = metrics.get("accuracy")
    m.update_state(y_true, y_pred)
    assert type(m.resolved) is kind
    assert m.name == "accuracy" and m.result() == pytest.approx(1.0)
    m.reset_state()
    assert m.result() == 0.0


def test_names_follow_the_string_given():
    assert metrics.get("accuracy").name == "accuracy"
    assert metrics.get("acc").name == "acc"
    assert metrics.get("mse").name == "mse" and isinstance(metrics.get("mse"), MeanSquaredError)
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    assert metrics.get("sparse_categorical_accuracy").name == "sparse_categorical_accuracy"
    assert MeanSquaredError().name == "mean_squared_error"
    m = AutoAccuracy()
    assert metrics.get(m) is m and isinstance(metrics.get("acc"), AutoAccuracy)
    with pytest.raises(ValueError, match="Unknown metric 'precison'.*accuracy.*auc.*mse.*precision"):
        metrics.get("precison")
    assert metrics.get("precision").name == "precision" and isinstance(metrics.get("AUC"), metrics.AUC)


def test_custom_metric_function():
    def exact(y_true, y_pred):
        return (np.asarray(y_true) == np.asarray(y_pred)).astype(float).mean(axis=-1)
    m = metrics.get(exact)
    m.update_state(np.array([[1, 2], [3, 4]]), np.array([[1, 2], [3, 0]]))
    assert m.name == "exact" and m.result() == pytest.approx(0.75)


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        CategoricalAccuracy().update_state(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected labels of shape \(2,\).*\(3,\)"):
        SparseCategoricalAccuracy().update_state(np.zeros(3), np.zeros((2, 4)))


def test_plain_accuracy_is_keras_exact_match():
    m = Accuracy()  # keras.metrics.Accuracy: equality, as in its docstring example
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.name == "accuracy" and m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == pytest.approx(0.5)


def test_auto_accuracy_config_round_trip():
    m = metrics.get("acc")
    again = AutoAccuracy.from_config(m.get_config())
    again.update_state(np.array([1, 0]), np.array([[0.2, 0.8], [0.3, 0.7]]))
    assert again.name == "acc" and again.result() == pytest.approx(0.5)
