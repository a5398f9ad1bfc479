"""The mask machinery (layers/mask_propagation.py): how a mask made by Embedding(mask_zero=True) or Masking travels
through Sequential and functional models to the layers and losses that consume it, by Keras 3's rules, checked
by hand (test_rnn_keras.py checks the same against Keras itself)."""
import warnings

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L, losses
from tinygrad_relu.models import Model, Sequential
from tinygrad_relu.tensor import Tensor

rng = np.random.default_rng(5)
IDS = np.array([[3, 1, 0, 0], [2, 0, 4, 0]])
REAL = IDS != 0


class Recorder(L.Layer):
    """Passes its input (and its mask) on and records the mask it was handed."""
    _supports_masking = True

    def call(self, x, mask=None):
        self.seen = None if mask is None else np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        return x


def test_dense_and_dropout_pass_the_mask_on_in_sequential_and_functional_models():
    recorder = Recorder()
    sequential = Sequential([L.Input((4,)), L.Embedding(5, 3, mask_zero=True), L.Dense(2), L.Dropout(0.5),
                             recorder])
    sequential.predict(IDS, verbose=0)
    np.testing.assert_array_equal(recorder.seen, REAL)
    inputs = L.Input((4,), dtype="int32")
    second = Recorder()
    model = Model(inputs, second(L.Activation("relu")(L.Dense(2)(L.Embedding(5, 3, mask_zero=True)(inputs)))))
    out = model(IDS)
    np.testing.assert_array_equal(second.seen, REAL)
    np.testing.assert_array_equal(out._keras_mask.data, REAL)


def test_the_sequential_training_path_keeps_the_mask():
    recorder = Recorder()
    model = Sequential([L.Input((4,)), L.Embedding(5, 3, mask_zero=True), L.Dense(2), recorder, L.LSTM(2),
                        L.Dense(1)])
    model.compile("sgd", "mse")
    model.train_on_batch(IDS, np.zeros((2, 1), np.float32))
    np.testing.assert_array_equal(recorder.seen, REAL)


def test_a_layer_without_mask_support_drops_the_mask_with_keras_warning():
    embedded = L.Embedding(5, 3, mask_zero=True)(IDS)
    with pytest.warns(UserWarning, match="does not support masking and will therefore destroy the mask"):
        flat = L.Flatten()(embedded)
    assert flat._keras_mask is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.Flatten()(L.Embedding(5, 3)(IDS))  # no mask, no warning


def test_custom_layers_compute_and_consume_masks():
    class HalfMask(L.Layer):
        def compute_mask(self, inputs, previous_mask=None):
            return Tensor(np.arange(inputs.shape[1]) < inputs.shape[1] // 2) * np.ones((inputs.shape[0], 1), bool)

        def call(self, x):
            return x

    class Plain(L.Layer):
        def call(self, x):
            return x * 1.0

    assert HalfMask().supports_masking and Recorder().supports_masking and not Plain().supports_masking
    recorder = Recorder()
    recorder(HalfMask()(np.ones((2, 4, 3), np.float32)))
    np.testing.assert_array_equal(recorder.seen, [[True, True, False, False]] * 2)
    opted_in = L.Activation("linear")
    opted_in.supports_masking = False
    with pytest.warns(UserWarning):
        opted_in(L.Embedding(5, 3, mask_zero=True)(IDS))


def test_an_explicit_mask_wins_and_a_second_tensor_argument_stops_the_implicit_one():
    lstm = L.LSTM(2)
    embedded = L.Embedding(5, 3, mask_zero=True)(IDS)
    implicit = lstm(embedded).data
    np.testing.assert_array_equal(implicit, lstm(embedded, mask=REAL).data)
    unmasked = lstm(embedded, mask=np.ones_like(REAL)).data
    assert not np.allclose(implicit, unmasked)
    # Keras' rule: with initial_state (a second tensor argument) the input's mask is not passed implicitly
    zeros = [np.zeros((2, 2), np.float32)] * 2
    np.testing.assert_array_equal(lstm(embedded, initial_state=zeros).data, unmasked)


def test_recurrent_layers_pass_the_mask_on_only_with_return_sequences():
    embedded = L.Embedding(5, 3, mask_zero=True)(IDS)
    assert L.GRU(2)(embedded)._keras_mask is None
    np.testing.assert_array_equal(L.GRU(2, return_sequences=True)(embedded)._keras_mask.data, REAL)
    seq, state = L.SimpleRNN(2, return_sequences=True, return_state=True)(embedded)
    assert seq._keras_mask is not None and state._keras_mask is None
    np.testing.assert_array_equal(L.Bidirectional(L.LSTM(2, return_sequences=True))(embedded)._keras_mask.data, REAL)
    np.testing.assert_array_equal(L.TimeDistributed(L.Dense(2))(embedded)._keras_mask.data, REAL)


def test_merge_layers_combine_masks_as_keras():
    a = L.Embedding(5, 2, mask_zero=True)(np.array([[1, 0, 2]]))
    b = L.Embedding(5, 2, mask_zero=True)(np.array([[0, 0, 3]]))
    np.testing.assert_array_equal(L.Add()([a, b])._keras_mask.data, [[True, False, True]])
    np.testing.assert_array_equal(L.Concatenate()([a, b])._keras_mask.data, [[True, False, True]])
    np.testing.assert_array_equal(L.Concatenate(axis=1)([a, b])._keras_mask.data,
                                  [[True, False, True, False, False, True]])
    unmasked = L.Dense(2)(np.ones((1, 3, 2), np.float32))
    assert L.Add()([a, unmasked])._keras_mask is None
    np.testing.assert_array_equal(L.Concatenate()([a, unmasked])._keras_mask.data, [[True, True, True]])


def test_global_average_pooling_averages_the_real_steps_only():
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    pooled = L.GlobalAveragePooling1D()(Tensor(x), mask=REAL)
    np.testing.assert_allclose(pooled.data, [x[0, :2].mean(0), x[1, [0, 2]].mean(0)], rtol=1e-6)
    assert pooled._keras_mask is None
    kept = L.GlobalAveragePooling1D(keepdims=True)(Tensor(x), mask=REAL)
    assert kept.shape == (2, 1, 3)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_losses_weigh_masked_timesteps_out(reduction):
    y_pred = Tensor(rng.normal(size=(2, 4, 1)).astype(np.float64))
    y_true = rng.normal(size=(2, 4, 1))
    y_pred._keras_mask = Tensor(REAL)
    per_step = ((y_true - y_pred.data) ** 2)[..., 0]
    got = losses.MeanSquaredError(reduction=reduction)(y_true, y_pred).data
    if reduction == "sum_over_batch_size":  # Keras: real steps weighted total/real, so the mean over real steps
        assert got == pytest.approx(per_step[REAL].mean())
    elif reduction == "sum":
        assert got == pytest.approx(per_step[REAL].sum())
    else:
        np.testing.assert_allclose(got, np.where(REAL, per_step, 0.0))
    weights = np.array([2.0, 0.5])
    weighted = losses.MeanSquaredError(reduction="sum")(y_true, y_pred, sample_weight=weights).data
    assert weighted == pytest.approx((per_step * weights[:, None])[REAL].sum())


def test_fused_crossentropy_paths_honour_the_mask():
    logits = Tensor(rng.normal(size=(2, 4, 3)))
    labels = rng.integers(0, 3, size=(2, 4))
    logits._keras_mask = Tensor(REAL)
    log_p = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    per_step = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    sparse = losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    dense = losses.CategoricalCrossentropy(from_logits=True)(np.eye(3)[labels], logits)
    assert float(sparse.data) == pytest.approx(per_step[REAL].mean())
    assert float(dense.data) == pytest.approx(per_step[REAL].mean())


def test_a_mask_that_does_not_fit_the_losses_is_an_error():
    y_pred = Tensor(np.zeros((2, 4, 1)))
    y_pred._keras_mask = Tensor(np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"carry a mask of shape \(2, 5\).*losses of shape \(2, 4\)"):
        losses.MeanSquaredError()(np.zeros((2, 4, 1)), y_pred)


def test_int_inputs_keep_their_dtype_and_targets_stay_float():
    inputs = L.Input((4,), dtype="int64")
    assert inputs.dtype == "int64"
    model = Model(inputs, L.Dense(1)(L.GRU(2)(L.Embedding(5, 3, mask_zero=True)(inputs))))
    model.compile("sgd", "mse")
    model.fit(IDS, np.array([[0.25], [0.75]]), epochs=1, verbose=0)
    assert model._dtype() == "float32"
    with pytest.raises(ValueError, match="float32 or float64"):
        L.Dense(2, dtype="int32")
    assert tr.layers.get("Embedding") is L.Embedding
