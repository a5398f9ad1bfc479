"""The sequence layers against Keras 3 itself (torch backend): a Keras model's get_weights() loads here with
set_weights and predicts the same, for every layer and option; masks change the loss and the training
steps the way they change Keras'; Keras' configs build the same layers here."""
import numpy as np
import pytest

import tinygrad_relu as tr

rng = np.random.default_rng(11)


def as_numpy(keras, weights):
    return [keras.ops.convert_to_numpy(w) for w in weights]


def twins(keras, build):
    theirs, ours = build(keras), build(tr)
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    return theirs, ours


def assert_same_predictions(keras, theirs, ours, x, rtol=1e-5, atol=1e-6):
    expected, got = theirs.predict(x, verbose=0), ours.predict(x, verbose=0)
    if isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for a, b in zip(expected, got):
            np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(expected), rtol=rtol, atol=atol)


OPTIONS = [
    dict(),
    dict(return_sequences=True),
    dict(go_backwards=True, return_sequences=True),
    dict(go_backwards=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True),
    dict(activation="relu", return_sequences=True),
    dict(activation="hard_sigmoid"),
    dict(use_bias=False),
    dict(unroll=True, return_sequences=True),
    dict(zero_output_for_mask=True, return_sequences=True),
]
LAYER_OPTIONS = [(name, o) for name in ("SimpleRNN", "LSTM", "GRU") for o in OPTIONS] + [
    ("LSTM", dict(recurrent_activation="hard_sigmoid", return_sequences=True)),
    ("LSTM", dict(recurrent_activation="relu", activation="linear")),
    ("LSTM", dict(unit_forget_bias=False, bias_initializer="ones")),
    ("GRU", dict(reset_after=False)),
    ("GRU", dict(reset_after=False, return_sequences=True, go_backwards=True)),
    ("GRU", dict(recurrent_activation="tanh", return_state=True)),
]


def option_id(value):
    return value if isinstance(value, str) else ",".join(f"{k}={v}" for k, v in value.items()) or "defaults"


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "mask_zero"])
@pytest.mark.parametrize("name,options", LAYER_OPTIONS, ids=option_id)
def test_recurrent_layers_predict_what_keras_predicts(keras, name, options, masked):
    if masked:
        def build(lib):
            inputs = lib.Input((7,), dtype="int32")
            h = lib.layers.Embedding(9, 3, mask_zero=True)(inputs)
            return lib.Model(inputs, getattr(lib.layers, name)(4, **options)(h))
        x = rng.integers(1, 9, size=(5, 7))
        x[0, 4:] = 0     # right-padded
        x[1, :2] = 0     # left-padded
        x[2, 3] = 0      # a hole
        x[3] = 0         # nothing left
    else:
        def build(lib):
            inputs = lib.Input((6, 3))
            return lib.Model(inputs, getattr(lib.layers, name)(4, **options)(inputs))
        x = rng.normal(size=(4, 6, 3)).astype(np.float32)
    theirs, ours = twins(keras, build)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert_same_predictions(keras, theirs, ours, x)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_predicts_what_keras_predicts(keras, merge_mode, return_sequences):
    def build(lib):
        inputs = lib.Input((7,), dtype="int32")
        h = lib.layers.Embedding(9, 3, mask_zero=True)(inputs)
        return lib.Model(inputs, lib.layers.Bidirectional(lib.layers.LSTM(4, return_sequences=return_sequences),
                                                          merge_mode=merge_mode)(h))
    x = rng.integers(0, 9, size=(5, 7))
    x[0, 5:] = 0
    theirs, ours = twins(keras, build)
    assert_same_predictions(keras, theirs, ours, x)


def test_bidirectional_with_states_and_a_custom_backward_layer(keras):
    def build(lib):
        inputs = lib.Input((5, 3))
        out = lib.layers.Bidirectional(lib.layers.GRU(4, return_state=True, return_sequences=True),
                                       backward_layer=lib.layers.GRU(4, return_state=True, return_sequences=True,
                                                                     go_backwards=True, activation="relu"))(inputs)
        return lib.Model(inputs, list(out))
    theirs, ours = twins(keras, build)
    assert_same_predictions(keras, theirs, ours, rng.normal(size=(3, 5, 3)).astype(np.float32))


def test_stacked_sequence_model_with_masking_time_distributed_and_pooling(keras):
    def build(lib):
        return lib.Sequential([
            lib.layers.Input((6, 2)), lib.layers.Masking(mask_value=0.0),
            lib.layers.LSTM(5, return_sequences=True), lib.layers.TimeDistributed(lib.layers.Dense(3)),
            lib.layers.Dense(4, activation="relu"), lib.layers.GRU(3, return_sequences=True),
            lib.layers.GlobalAveragePooling1D(), lib.layers.Dense(2)])
    x = rng.normal(size=(5, 6, 2)).astype(np.float32)
    x[0, 4:] = 0
    x[1, :3] = 0
    x[2, 2] = 0
    theirs, ours = twins(keras, build)
    assert_same_predictions(keras, theirs, ours, x)


def test_initial_states_from_an_encoder_feed_a_decoder(keras):
    """keras-io's lstm_seq2seq wiring: the encoder's final states start the decoder."""
    def build(lib):
        encoder_inputs, decoder_inputs = lib.Input((None, 4)), lib.Input((None, 3))
        _, state_h, state_c = lib.layers.LSTM(5, return_state=True)(encoder_inputs)
        decoded = lib.layers.LSTM(5, return_sequences=True)(decoder_inputs, initial_state=[state_h, state_c])
        return lib.Model([encoder_inputs, decoder_inputs], lib.layers.Dense(3, activation="softmax")(decoded))
    theirs, ours = twins(keras, build)
    x = [rng.normal(size=(4, 6, 4)).astype(np.float32), rng.normal(size=(4, 5, 3)).astype(np.float32)]
    assert_same_predictions(keras, theirs, ours, x)


@pytest.mark.parametrize("head", ["dense", "time_distributed"])
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_masked_sequence_loss_and_training_steps_match_keras(keras, name, head):
    """Keras weighs the masked timesteps out of the loss; both the loss and three SGD steps must agree."""
    def build(lib):
        inputs = lib.Input((7,), dtype="int32")
        h = lib.layers.Embedding(9, 3, mask_zero=True)(inputs)
        h = getattr(lib.layers, name)(4, return_sequences=True)(h)
        dense = lib.layers.Dense(3, activation="softmax")
        return lib.Model(inputs, lib.layers.TimeDistributed(dense)(h) if head == "time_distributed" else dense(h))
    x = rng.integers(1, 9, size=(6, 7))
    x[0, 4:] = 0
    x[1, :2] = 0
    x[3, 5:] = 0
    y = rng.integers(0, 3, size=(6, 7))
    confident_theirs = build(keras)  # larger weights: outputs that differ from step to step
    confident_theirs.set_weights([3 * w for w in as_numpy(keras, confident_theirs.get_weights())])
    confident_ours = build(tr)
    confident_ours.set_weights(as_numpy(keras, confident_theirs.get_weights()))
    confident_theirs.compile("sgd", "sparse_categorical_crossentropy")
    confident_ours.compile("sgd", "sparse_categorical_crossentropy")
    loss = confident_theirs.evaluate(x, y, verbose=0)
    assert confident_ours.evaluate(x, y, verbose=0) == pytest.approx(loss, rel=1e-5)
    # by hand: the mean crossentropy over the real steps only (all steps would give another number)
    p = confident_ours.predict(x, verbose=0)
    per_step = -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])
    real = x != 0
    assert loss == pytest.approx(per_step[real].mean(), rel=1e-5)
    assert abs(per_step.mean() - per_step[real].mean()) > 1e-3
    theirs, ours = twins(keras, build)
    theirs.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    ours.compile(tr.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    for _ in range(3):
        theirs_loss, ours_loss = theirs.train_on_batch(x, y), ours.train_on_batch(x, y)
        assert ours_loss == pytest.approx(float(theirs_loss), rel=1e-5)
    for a, b in zip(as_numpy(keras, theirs.get_weights()), ours.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_sequential_text_classifier_trains_like_keras(keras):
    """Embedding(mask_zero) -> LSTM -> Dense(sigmoid) in a Sequential model: the fused crossentropy path steps
    aside while a mask is present, and Adam steps agree."""
    def build(lib):
        return lib.Sequential([lib.layers.Input((8,)), lib.layers.Embedding(12, 4, mask_zero=True),
                               lib.layers.LSTM(5), lib.layers.Dense(1, activation="sigmoid")])
    x = rng.integers(1, 12, size=(10, 8))
    x[::2, 5:] = 0
    y = rng.integers(0, 2, size=(10, 1)).astype(np.float32)
    theirs, ours = twins(keras, build)
    theirs.compile("adam", "binary_crossentropy")
    ours.compile("adam", "binary_crossentropy")
    for _ in range(3):
        assert ours.train_on_batch(x, y) == pytest.approx(float(theirs.train_on_batch(x, y)), rel=1e-4)
    assert_same_predictions(keras, theirs, ours, x, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.LSTM(4, return_sequences=True, go_backwards=True, dropout=0.1),
    lambda lib: lib.layers.GRU(4, reset_after=False, recurrent_activation="hard_sigmoid"),
    lambda lib: lib.layers.SimpleRNN(4, activation="relu", return_state=True),
    lambda lib: lib.layers.Bidirectional(lib.layers.GRU(4, return_sequences=True), merge_mode="ave"),
    lambda lib: lib.layers.TimeDistributed(lib.layers.Dense(2, activation="tanh")),
    lambda lib: lib.layers.RNN(lib.layers.LSTMCell(4), return_sequences=True),
], ids=["lstm", "gru", "simple_rnn", "bidirectional", "time_distributed", "rnn"])
def test_keras_layer_configs_build_the_same_layers_here(keras, make):
    def build_keras():
        inputs = keras.Input((5, 3))
        out = make(keras)(inputs)
        return keras.Model(inputs, list(out) if isinstance(out, (list, tuple)) else out)
    theirs = build_keras()
    ours = tr.models.Model.from_config(theirs.get_config())
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    assert_same_predictions(keras, theirs, ours, rng.normal(size=(3, 5, 3)).astype(np.float32))


def test_embedding_and_masking_configs_from_keras(keras):
    """(A Sequential config: Keras' functional configs record the mask's computation as a NotEqual op node,
    which this library's graphs do not have.)"""
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Embedding(10, 3, mask_zero=True),
                               keras.layers.LSTM(2)])
    ours = tr.models.Sequential.from_config(theirs.get_config())
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    x = rng.integers(0, 10, size=(4, 6)).astype(np.float32)
    assert_same_predictions(keras, theirs, ours, x)
    masking = tr.layers.Masking.from_config(keras.layers.Masking(mask_value=-1.0).get_config())
    assert masking.mask_value == -1.0


def test_metrics_of_a_masked_output_count_the_real_steps_as_keras(keras):
    def build(lib):
        return lib.Sequential([lib.layers.Input((6,)), lib.layers.Embedding(9, 4, mask_zero=True),
                               lib.layers.GRU(5, return_sequences=True), lib.layers.Dense(3, activation="softmax")])
    x = rng.integers(1, 9, size=(8, 6))
    x[:4, 3:] = 0
    y = rng.integers(0, 3, size=(8, 6))
    theirs, ours = twins(keras, build)
    for model in (theirs, ours):
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    expected = theirs.evaluate(x, y, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert got["accuracy"] == pytest.approx(float(expected["accuracy"]), rel=1e-6)
    hits = ours.predict(x, verbose=0).argmax(-1) == y
    assert got["accuracy"] == pytest.approx(hits[x != 0].mean()) and hits[x != 0].mean() != pytest.approx(hits.mean())
    history = ours.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert "accuracy" in history.history
