"""SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed, Embedding and Masking on this engine.

The fused sequence ops (ops/recurrent.py) are checked against central finite differences in float64
and against PyTorch's nn.RNN / nn.LSTM / nn.GRU with the weights mapped; the layers' two ways of
running (the fused op, and step by step through the cell's own engine ops) against each other,
forward and every gradient; then the layers' arguments, errors, configs and saving. Keras itself is
the reference in test_rnn_keras.py.
"""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.layers.rnn import RNN
from tinygrad_relu.models import Model, Sequential
from tinygrad_relu.ops import recurrent as R
from tinygrad_relu.ops.convolution import Workspace
from tinygrad_relu.tensor import Tensor

rng = np.random.default_rng(7)
GATES = {"lstm": 4, "gru": 3, "simple": 1}
OPS = {"lstm": R.LSTM, "gru": R.GRU, "simple": R.SimpleRNN}


def op_inputs(cell, n=2, t=4, d=3, u=3, seed=0):
    r = np.random.default_rng(seed)
    g = GATES[cell] * u
    inputs = [r.normal(size=(n, t, d)), r.normal(size=(d, g)) * 0.5, r.normal(size=g) * 0.2,
              r.normal(size=(u, g)) * 0.5]
    if cell == "gru":
        inputs.append(r.normal(size=g) * 0.2)
    inputs.append(r.normal(size=(n, u)))
    if cell == "lstm":
        inputs.append(r.normal(size=(n, u)))
    return inputs


OPTIONS = [
    dict(),
    dict(return_sequences=True),
    dict(go_backwards=True, return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True, go_backwards=True),
    dict(mask=np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool), return_sequences=True),
    dict(mask=np.array([[1, 0, 1, 1], [1, 1, 0, 0]], bool), return_state=True, go_backwards=True),
    dict(mask=np.array([[0, 1, 1, 0], [1, 1, 1, 0]], bool), return_sequences=True, zero_output=True),
    dict(activation="relu", recurrent_activation="tanh", return_sequences=True),
    dict(activation="linear", recurrent_activation="relu"),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(k for k in o) or "defaults")
@pytest.mark.parametrize("cell", sorted(GATES))
def test_sequence_op_gradients_match_finite_differences(cell, options):
    settings = dict(options)
    if settings.get("activation") == "relu":  # keep pre-activations away from relu's kink
        settings["activation"] = "relu"
    assert tr.gradcheck(lambda *args: OPS[cell].apply(*args, **settings), op_inputs(cell), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("cell", sorted(GATES))
def test_sequence_op_matches_pytorch(cell, sequences, go_backwards):
    torch = pytest.importorskip("torch")
    inputs = op_inputs(cell, n=3, t=5, d=4, u=6, seed=3)
    x, kernel, bias, recurrent = inputs[:4]
    u = recurrent.shape[0]
    tensors = [Tensor(a, requires_grad=True) for a in inputs]
    y = OPS[cell].apply(*tensors, return_sequences=sequences, go_backwards=go_backwards, workspace=Workspace())
    g = rng.normal(size=y.shape)
    y.backward(g)
    # PyTorch: weight_ih = kernel^T; gate order i, f, g, o (LSTM) as Keras'; GRU r, z, n for Keras' z, r, h
    order = np.r_[u:2 * u, 0:u, 2 * u:3 * u] if cell == "gru" else slice(None)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple": torch.nn.RNN}[cell](x.shape[2], u,
                                                                                       batch_first=True).double()
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(kernel[:, order].T))
        module.weight_hh_l0.copy_(torch.tensor(recurrent[:, order].T))
        module.bias_ih_l0.copy_(torch.tensor(bias[order]))
        module.bias_hh_l0.copy_(torch.tensor(inputs[4][order]) if cell == "gru" else torch.zeros(len(bias)))
    xt = torch.tensor(np.ascontiguousarray(x[:, ::-1] if go_backwards else x), requires_grad=True)
    h0 = torch.tensor(inputs[-2 if cell == "lstm" else -1][None], requires_grad=True)
    if cell == "lstm":
        c0 = torch.tensor(inputs[-1][None], requires_grad=True)
        out, _ = module(xt, (h0, c0))
    else:
        out, _ = module(xt, h0)
    theirs = out if sequences else out[:, -1]
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    dx = xt.grad.numpy()[:, ::-1] if go_backwards else xt.grad.numpy()
    np.testing.assert_allclose(tensors[0].grad, dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[1].grad, module.weight_ih_l0.grad.numpy().T[:, np.argsort(order)]
                               if cell == "gru" else module.weight_ih_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[3].grad[:, order], module.weight_hh_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[2].grad[order], module.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[-2 if cell == "lstm" else -1].grad, h0.grad.numpy()[0], rtol=1e-9, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(tensors[-1].grad, c0.grad.numpy()[0], rtol=1e-9, atol=1e-12)
    if cell == "gru":
        np.testing.assert_allclose(tensors[4].grad[order], module.bias_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---- the two ways a layer runs agree -----------------------------------------------------------------
def run_layer(layer, x, mask=None, initial_state=None, stepwise=False, monkeypatch=None):
    if stepwise:
        monkeypatch.setattr(RNN, "_sequence_op", lambda self, training: None)
    xt = Tensor(x, requires_grad=True)
    states = None if initial_state is None else [Tensor(s, requires_grad=True) for s in initial_state]
    out = layer(xt, mask=mask, initial_state=states)
    flat = list(out) if isinstance(out, tuple) else [out]
    total = sum((o * Tensor(np.random.default_rng(i).normal(size=o.shape))).sum() for i, o in enumerate(flat))
    for w in layer.trainable_weights:
        w.grad = None
    total.backward()
    grads = [xt.grad] + [w.grad for w in layer.trainable_weights] + [s.grad for s in states or []]
    if stepwise:
        monkeypatch.undo()
    return [o.data for o in flat], grads


LAYER_CASES = [
    ("LSTM", dict()),
    ("LSTM", dict(return_sequences=True, go_backwards=True, return_state=True)),
    ("LSTM", dict(unit_forget_bias=False, use_bias=False, return_sequences=True)),
    ("GRU", dict(return_sequences=True)),
    ("GRU", dict(go_backwards=True, return_state=True)),
    ("GRU", dict(use_bias=False, return_sequences=True, activation="relu")),
    ("SimpleRNN", dict(return_sequences=True, go_backwards=True)),
    ("SimpleRNN", dict(activation="relu", return_state=True)),
]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name,options", LAYER_CASES, ids=lambda v: v if isinstance(v, str) else ",".join(v))
def test_fused_op_and_stepwise_cell_calls_agree(name, options, masked, monkeypatch):
    layer = getattr(L, name)(4, dtype="float64", **options)
    x = rng.normal(size=(3, 5, 2))
    layer.build(x.shape)
    for w in layer.weights:  # nonzero biases, so that every gradient is exercised
        w.data[...] = rng.normal(size=w.shape) * 0.5
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 0, 1]], bool) if masked else None
    states = [rng.normal(size=(3, 4)) for _ in layer.state_size]
    fused = run_layer(layer, x, mask, states)
    stepwise = run_layer(layer, x, mask, states, stepwise=True, monkeypatch=monkeypatch)
    for a, b in zip(fused[0] + fused[1], stepwise[0] + stepwise[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_recurrent_dropout_and_reset_before_run_step_by_step_and_train():
    x = rng.normal(size=(8, 6, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    for rnn in (L.LSTM(5, recurrent_dropout=0.3, dropout=0.2, seed=1), L.GRU(5, reset_after=False),
                L.GRU(5, recurrent_dropout=0.4, reset_after=False, seed=2), L.LSTM(5, implementation=1, dropout=0.5)):
        model = Sequential([L.Input((6, 3)), rnn, L.Dense(1)])
        model.compile("sgd", "mse")
        before = [w.copy() for w in model.get_weights()]
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        assert all(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights())), rnn.name
        # inference ignores dropout: the same result twice
        np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_dropout_masks_are_one_per_call_and_only_in_training():
    layer = L.SimpleRNN(8, dropout=0.5, seed=3, return_sequences=True, activation="linear", use_bias=False,
                        recurrent_initializer="zeros")
    x = np.ones((2, 4, 3), np.float32)
    inference = layer(x).data
    training = layer(x, training=True).data
    kernel = layer.cell.kernel.data
    assert not np.allclose(inference, training)
    # no recurrence (zero recurrent kernel), linear: each step is (x * mask) @ kernel with one mask for all steps
    np.testing.assert_allclose(training, np.repeat(training[:, :1], 4, axis=1), rtol=1e-6)
    for sample in range(2):  # the mask each input feature got: 0 (dropped) or 1 / (1 - rate) = 2 (kept)
        kept = np.linalg.lstsq(kernel.T, training[sample, 0], rcond=None)[0]
        assert set(np.round(kept, 4).tolist()) <= {0.0, 2.0}


def test_unroll_changes_nothing_but_needs_known_timesteps():
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    for name in ("LSTM", "GRU", "SimpleRNN"):
        plain, unrolled = getattr(L, name)(4, return_sequences=True), getattr(L, name)(4, return_sequences=True,
                                                                                        unroll=True)
        plain.build(x.shape)
        unrolled.build(x.shape)
        unrolled.set_weights(plain.get_weights())
        np.testing.assert_array_equal(plain(x).data, unrolled(x).data)
    with pytest.raises(ValueError, match="cannot unroll a RNN if the time dimension is undefined"):
        L.LSTM(3, unroll=True)(L.Input((None, 3)))


def test_return_state_gives_a_tuple_and_final_states_follow_the_mask():
    layer = L.LSTM(3, return_sequences=True, return_state=True)
    x = rng.normal(size=(2, 4, 2)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    seq, h, c = layer(x, mask=mask)
    assert seq.shape == (2, 4, 3) and h.shape == (2, 3) and c.shape == (2, 3)
    np.testing.assert_array_equal(h.data[0], seq.data[0, 1])   # masked steps keep the state of step 1
    np.testing.assert_array_equal(seq.data[0, 3], seq.data[0, 1])  # and repeat its output
    short, h_short, _ = layer(x[:1, :2])
    np.testing.assert_allclose(h_short.data[0], h.data[0], rtol=1e-6)


@pytest.mark.parametrize("make,error,match", [
    (lambda: L.LSTM(3, stateful=True), NotImplementedError, "stateful=True is not supported"),
    (lambda: L.GRU(3, use_cudnn=True), ValueError, "use_cudnn=True was specified"),
    (lambda: L.GRU(3, use_cudnn="yes"), ValueError, "use_cudnn"),
    (lambda: L.LSTM(0), ValueError, "units"),
    (lambda: L.SimpleRNN(3, dropout="half"), ValueError, "dropout"),
    (lambda: L.LSTM(3, implementation=3), ValueError, "implementation must be 1 or 2"),
    (lambda: L.LSTM(3, kernel_constraint="max_norm"), NotImplementedError, "kernel_constraint"),
    (lambda: RNN([L.LSTMCell(2), L.LSTMCell(3)]), NotImplementedError, "StackedRNNCells"),
    (lambda: RNN(object()), ValueError, "should have a `call` method"),
    (lambda: L.Bidirectional(L.Dense(3)), ValueError, "must be a recurrent layer"),
    (lambda: L.Bidirectional(L.LSTM(3), merge_mode="max"), ValueError, "Invalid merge mode"),
    (lambda: L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3)), ValueError, "different `go_backwards`"),
    (lambda: L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3, go_backwards=True, return_sequences=True)),
     ValueError, "return_sequences"),
    (lambda: L.TimeDistributed("dense"), ValueError, "keras.layers.Layer"),
    (lambda: L.Embedding(0, 3), ValueError, "input_dim"),
    (lambda: L.Embedding(5, 3, lora_rank=2), NotImplementedError, "LoRA"),
    (lambda: L.Masking(mask_value="pad"), ValueError, "mask_value must be a number"),
])
def test_bad_arguments_are_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs_name_the_layer_and_the_values():
    lstm = L.LSTM(3, name="enc")
    with pytest.raises(ValueError, match="'enc'.*expected ndim=3"):
        lstm(np.zeros((2, 3), np.float32))
    x = np.zeros((2, 4, 5), np.float32)
    with pytest.raises(ValueError, match=r"'enc': the mask must have shape \(batch, timesteps\) = \(2, 4\)"):
        lstm(x, mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"'enc' has 2 state\(s\).*initial_state. with 1"):
        lstm(x, initial_state=[np.zeros((2, 3), np.float32)])
    with pytest.raises(ValueError, match=r"initial_state\[1\] must have shape \(batch, units\) = \(2, 3\)"):
        lstm(x, initial_state=[np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        lstm(np.zeros((2, 4, 6), np.float32))
    embedding = L.Embedding(10, 2, name="emb")
    with pytest.raises(ValueError, match="'emb': index 10 is out of range for input_dim=10"):
        embedding(np.array([[1, 10]]))
    with pytest.raises(ValueError, match="'emb': index -1 is out of range"):
        embedding(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"'emb': indices must be whole numbers, received values such as \[1.5\]"):
        embedding(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="incompatible with the input shape"):
        L.TimeDistributed(L.Dense(2))(np.zeros((2, 3, 4), np.float32), mask=np.ones((2, 4), bool))


def test_embedding_gathers_rows_and_sums_gradients_of_repeated_indices():
    layer = L.Embedding(6, 3, dtype="float64")
    indices = np.array([[1, 4, 1], [0, 0, 5]])
    out = layer(indices)
    table = layer.embeddings.data
    np.testing.assert_array_equal(out.data, table[indices])
    g = rng.normal(size=(2, 3, 3))
    out.backward(g)
    expected = np.zeros((6, 3))
    for (i, j), k in np.ndenumerate(indices):
        expected[k] += g[i, j]
    np.testing.assert_allclose(layer.embeddings.grad, expected)
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)
    assert out._keras_mask is None and not layer.supports_masking
    preset = L.Embedding(2, 2, weights=[np.array([[1.0, 2.0], [3.0, 4.0]])])
    np.testing.assert_array_equal(preset(np.array([[1]])).data, [[[3.0, 4.0]]])


def test_embedding_mask_zero_and_masking_layer_attach_masks():
    out = L.Embedding(5, 2, mask_zero=True)(np.array([[3, 0, 2], [0, 0, 1]]))
    np.testing.assert_array_equal(out._keras_mask.data, [[True, False, True], [False, False, True]])
    x = np.array([[[1.0, 0.0], [0.0, 0.0], [2.0, 2.0]]], np.float32)
    masked = L.Masking()(x)
    np.testing.assert_array_equal(masked._keras_mask.data, [[True, False, True]])
    np.testing.assert_array_equal(masked.data, x)
    masked = L.Masking(mask_value=2.0)(Tensor(x, requires_grad=True))
    np.testing.assert_array_equal(masked.data, [[[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_array_equal(masked._keras_mask.data, [[True, True, False]])


def test_time_distributed_applies_the_layer_to_every_step():
    dense = L.Dense(3)
    layer = L.TimeDistributed(dense)
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    out = layer(x).data
    assert layer.weights == dense.weights and out.shape == (2, 4, 3)
    for t in range(4):
        np.testing.assert_allclose(out[:, t], dense(x[:, t]).data, rtol=1e-6)
    assert layer.compute_output_shape((None, 7, 5)) == (None, 7, 3)
    conv = L.TimeDistributed(L.Conv2D(2, 3))(L.Input((6, 8, 8, 1)))
    assert conv.shape == (None, 6, 6, 6, 2)


def test_time_distributed_batch_normalization_uses_each_steps_statistics_in_training():
    x = rng.normal(size=(4, 3, 2)).astype(np.float32) * np.array([1.0, 5.0, 20.0], np.float32)[None, :, None]
    out = L.TimeDistributed(L.BatchNormalization())(x, training=True).data
    for t in range(3):  # every step normalized by its own batch statistics
        step = x[:, t]
        np.testing.assert_allclose(out[:, t], (step - step.mean(0)) / np.sqrt(step.var(0) + 1e-3), rtol=1e-4,
                                   atol=1e-5)


def test_bidirectional_merges_a_forward_and_a_backward_copy():
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    for merge, combine in [("concat", lambda a, b: np.concatenate([a, b], -1)), ("sum", np.add),
                           ("mul", np.multiply), ("ave", lambda a, b: (a + b) / 2)]:
        layer = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode=merge)
        out = layer(x).data
        forward, backward = layer.forward_layer(x).data, layer.backward_layer(x).data
        np.testing.assert_allclose(out, combine(forward, backward[:, ::-1]), rtol=1e-6)
        assert len(layer.weights) == 6 and layer.backward_layer.go_backwards
    both = L.Bidirectional(L.LSTM(2, return_state=True), merge_mode=None)(x)
    assert len(both) == 6 and [t.shape for t in both] == [(2, 2)] * 6
    custom = L.Bidirectional(L.LSTM(3), backward_layer=L.SimpleRNN(3, go_backwards=True))
    assert custom(x).shape == (2, 6)
    weights = custom.get_weights()
    again = L.Bidirectional(L.LSTM(3), backward_layer=L.SimpleRNN(3, go_backwards=True), weights=weights)
    again.build(x.shape)
    np.testing.assert_array_equal(again(x).data, custom(x).data)


def test_rnn_runs_a_custom_cell_step_by_step():
    class MinimalRNNCell(L.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
            return output, [output]

    cell = MinimalRNNCell(3)
    layer = RNN(cell, return_sequences=True)
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    out = layer(x).data
    h = np.zeros((2, 3), np.float32)
    for t in range(4):
        h = x[:, t] @ cell.kernel.data + h @ cell.recurrent_kernel.data
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5, atol=1e-6)
    lstm = RNN(L.LSTMCell(3))  # a built-in cell in RNN runs the fused op
    assert lstm(x).shape == (2, 3)


CONFIG_CASES = {
    "lstm": lambda: L.LSTM(3, return_sequences=True, go_backwards=True, recurrent_activation="hard_sigmoid"),
    "gru": lambda: L.GRU(3, reset_after=False, dropout=0.1),
    "simple_rnn": lambda: L.SimpleRNN(3, activation="relu", return_state=True),
    "rnn": lambda: RNN(L.GRUCell(3), return_sequences=True),
    "bidirectional": lambda: L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum"),
    "time_distributed": lambda: L.TimeDistributed(L.Dense(2, activation="relu")),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_configs_round_trip_and_rebuild_the_same_layer(name):
    import json
    layer = CONFIG_CASES[name]()
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    out = layer(x)
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    again = clone(x)
    for a, b in zip(out if isinstance(out, tuple) else [out], again if isinstance(again, tuple) else [again]):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_model_with_sequence_layers_saves_and_loads(tmp_path):
    inputs = L.Input((6,), dtype="int32")
    h = L.Embedding(20, 4, mask_zero=True)(inputs)
    h = L.Bidirectional(L.LSTM(5, return_sequences=True))(h)
    h = L.TimeDistributed(L.Dense(3))(h)
    h = L.GRU(4)(h)
    model = Model(inputs, L.Dense(1)(h))
    model.compile("adam", "mse")
    x = rng.integers(0, 20, size=(8, 6))
    x[:, 4:] = 0
    model.fit(x, rng.normal(size=(8, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "seq.keras")
    loaded = tr.models.load_model(tmp_path / "seq.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_an_lstm_learns_a_memory_task_on_a_few_thousand_sequences():
    """Whether a running sum over 20 steps ends positive: the state has to carry the sum along."""
    tr.utils.set_random_seed(0)
    r = np.random.default_rng(0)
    x = r.normal(size=(2000, 20, 4)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    model = Sequential([L.Input((20, 4)), L.LSTM(16), L.Dense(1, activation="sigmoid")])
    model.compile(tr.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_the_readme_sequence_example_runs_and_trains():
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("### Sequences: embeddings, recurrent layers and masks")
    namespace = {}
    exec(re.search(r"```python\n(.*?)```", text[start:], re.S).group(1), namespace)
    r = np.random.default_rng(1)
    x = r.integers(1, 20000, size=(64, 12))
    x[:32, 8:] = 0  # padded reviews
    y = (x[:, 0] % 2).astype(np.float32)
    history = namespace["model"].fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_embedding_keeps_integer_indices_and_refuses_inexact_float32_ones():
    layer = L.Embedding(2 ** 25, 1, embeddings_initializer="zeros")
    layer.build()
    layer.embeddings.data[2 ** 24 + 1] = 7.0
    assert layer(np.array([[2 ** 24 + 1]], np.int64)).data[0, 0, 0] == 7.0  # an int64 index is exact
    with pytest.raises(ValueError, match="from 2\\*\\*24 on are not exact as float32"):
        layer(Tensor(np.array([[2 ** 24 + 2]], np.float32)))
