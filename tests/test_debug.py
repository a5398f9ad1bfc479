"""NaN and inf: detect_anomaly names the first op that produced them (forward or backward, with
its shape); a diverging run shows nan in the loss and History; TerminateOnNaN stops it after the batch.
"""
import math
import warnings

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import debug, layers as L
from tinygrad_relu.callbacks import Callback, TerminateOnNaN
from tinygrad_relu.debug import AnomalyError, detect_anomaly
from tinygrad_relu.models import Sequential


@pytest.fixture(autouse=True)
def quiet_numpy():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
    assert not debug.is_active()  # every test leaves anomaly detection off


# ---- detect_anomaly -------------------------------------------------------------------------------
def test_forward_names_the_first_op_and_its_shape():
    x = tr.Tensor(np.array([[1.0, -1.0, 2.0], [3.0, 4.0, 5.0]]), requires_grad=True)
    with pytest.raises(AnomalyError, match=r"Log produced NaN in its forward pass \(output shape \(2, 3\), "
                                           r"input shapes \(2, 3\)\)"):
        with detect_anomaly():
            h = (x * 2.0).log()       # Mul is fine; Log makes the NaN ...
            (h * 3.0 + 1.0).sum()     # ... which Mul, Add and Sum would carry on: they are not blamed


def test_forward_inf_is_named_as_inf():
    x = tr.Tensor(np.array([1.0, 1000.0], np.float32), requires_grad=True)
    with pytest.raises(AnomalyError, match=r"Exp produced inf in its forward pass \(output shape \(2,\)"):
        with detect_anomaly():
            x.exp()


def test_backward_names_the_first_op_and_its_gradient_shape():
    x = tr.Tensor(np.array([[0.0, 1.0], [4.0, 9.0]]), requires_grad=True)
    with detect_anomaly():
        loss = (x.sqrt() * 2.0).sum()  # finite forward: sqrt(0) = 0
        with pytest.raises(AnomalyError, match=r"Sqrt produced inf in its backward pass \(gradient shape \(2, 2\)"):
            loss.backward()            # d sqrt(x)/dx = 1/(2 sqrt(x)) is inf at 0


def test_anomaly_in_a_model_names_the_op_and_its_layer():
    model = Sequential([L.Dense(3, input_shape=(2,), name="hidden"), L.Dense(1, name="out")])
    model.compile("sgd", "mse")
    x = np.array([[np.inf, 1.0]], np.float32)
    with pytest.raises(AnomalyError, match=r"(MatMul|Dense|Linear)\w* in layer 'hidden' produced (NaN|inf) "
                                           r"in its forward pass \(output shape \(1, 3\)"):
        with detect_anomaly():
            model.train_on_batch(x, np.zeros((1, 1)))


def test_backward_anomaly_inside_a_layer_names_the_layer():
    layer = L.Dense(1, name="hidden")
    layer.build((None, 2))
    layer.kernel.data[...] = 1e-30
    x = tr.Tensor(np.array([[1e30, 1e30]], np.float32))
    with detect_anomaly():
        loss = (layer(x) * 1e30).sum()  # forward finite: 2 * 1e30
        assert np.isfinite(loss.data)
        with pytest.raises(AnomalyError, match=r"in layer 'hidden' produced inf in its backward pass "
                                               r"\(gradient shape \(2, 1\)"):
            loss.backward()  # d loss / d kernel = x.T @ 1e30 = 1e60: inf in float32


def test_without_detect_anomaly_nan_propagates_silently_and_the_hook_is_restored():
    x = tr.Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    y = x.log().relu()
    assert np.isnan(y.data[0])  # NaN propagates through relu, as in PyTorch: divergence stays visible
    with pytest.raises(AnomalyError):
        with detect_anomaly():
            x.log()
    assert not debug.is_active()
    with detect_anomaly():  # nested use restores the outer state
        with detect_anomaly():
            pass
        assert debug.is_active()
    finite = tr.Tensor(np.array([1.0, 4.0]), requires_grad=True)
    with detect_anomaly():  # finite computations are untouched
        finite.sqrt().sum().backward()
    np.testing.assert_allclose(finite.grad, [0.5, 0.25])


# ---- a diverging run ------------------------------------------------------------------------------
def diverging_model():
    model = Sequential([L.Dense(16, activation="relu", input_shape=(4,)), L.Dense(1)])
    model.compile(tr.optimizers.SGD(learning_rate=1e6), "mse")
    return model


def regression_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32) * 10
    return x, x.sum(axis=1, keepdims=True) * 100


class BatchLosses(Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def test_a_diverging_run_shows_nan_in_the_loss_and_history():
    x, y = regression_data()
    model = diverging_model()
    record = BatchLosses()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[record])
    assert len(record.losses) == 24  # without TerminateOnNaN training runs on
    assert math.isfinite(record.losses[0])
    assert any(math.isnan(v) for v in record.losses)
    assert math.isnan(history.history["loss"][-1])
    assert all(np.isnan(w).any() for w in model.get_weights()[:1])


def test_terminate_on_nan_stops_after_the_batch(capsys):
    x, y = regression_data()
    model = diverging_model()
    record = BatchLosses()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        callbacks=[record, TerminateOnNaN()])
    first_bad = next(i for i, v in enumerate(record.losses) if not math.isfinite(v))
    assert len(record.losses) == first_bad + 1  # the bad batch finished, no batch ran after it
    assert model.stop_training
    assert len(history.history["loss"]) == 1 and not math.isfinite(history.history["loss"][0])
    assert f"Batch {first_bad}: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error():
    x, y = regression_data()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch \d+"):
        diverging_model().fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                              callbacks=[TerminateOnNaN(raise_error=True)])
