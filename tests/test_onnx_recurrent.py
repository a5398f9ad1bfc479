"""ONNX export of the sequence layers (issue 14): Embedding as Gather, SimpleRNN/LSTM/GRU (and RNN over their
cells) as ONNX's RNN/LSTM/GRU with Keras' gate order and activations, go_backwards, return_sequences and
return_state, Bidirectional with each merge mode, TimeDistributed; run in onnxruntime, the same as predict to
1e-5 (float32) for batches of 1 and 5. Masks have no exact form: the layers that make them are refused, named."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.export import ExportError, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
rng = np.random.default_rng(11)
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def assert_exports_faithfully(model, tmp_path, make_inputs):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        inputs = make_inputs(batch)
        ours = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        ours = ours if isinstance(ours, list) else [ours]
        theirs = session.run(None, {spec.name: x for spec, x in zip(session.get_inputs(), inputs)})
        assert len(theirs) == len(ours)
        for a, b in zip(theirs, ours):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, **TOLERANCE)
    return onnx.load(str(path)).graph


def normal(*shape):
    return lambda batch: [rng.standard_normal((batch,) + shape).astype(np.float32)]


def perturbed(model, scale=0.3):
    """Weights off their initial values (biases off zero), so that a wrong gate order or bias shows."""
    for weight in model.trainable_weights:
        weight.data[...] += (rng.standard_normal(weight.shape) * scale).astype(weight.data.dtype)
    return model


@pytest.mark.parametrize("go_backwards", [False, True])
def test_each_recurrent_layer_with_sequences_and_states(tmp_path, go_backwards):
    x = tr.Input((6, 4), name="x")
    common = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    outputs = [*L.SimpleRNN(3, **common)(x), *L.LSTM(3, **common)(x), *L.GRU(3, **common)(x),
               *L.GRU(3, reset_after=False, **common)(x),
               L.SimpleRNN(2, activation="relu", go_backwards=go_backwards)(x),
               L.LSTM(2, activation="softsign", recurrent_activation="hard_sigmoid", go_backwards=go_backwards)(x),
               L.GRU(2, use_bias=False, activation="linear", go_backwards=go_backwards)(x),
               L.GRU(2, reset_after=False, recurrent_activation="hard_sigmoid", go_backwards=go_backwards)(x)]
    graph = assert_exports_faithfully(perturbed(tr.Model(x, outputs)), tmp_path, normal(6, 4))
    assert sorted({n.op_type for n in graph.node} & {"RNN", "LSTM", "GRU"}) == ["GRU", "LSTM", "RNN"]
    assert sorted(n.attribute[[a.name for a in n.attribute].index("linear_before_reset")].i
                  for n in graph.node if n.op_type == "GRU") == [0, 0, 1, 1]


def test_rnn_over_each_built_in_cell_in_a_sequential_stack(tmp_path):
    model = tr.Sequential([L.Input((5, 3)), L.RNN(L.SimpleRNNCell(4), return_sequences=True),
                           L.RNN(L.LSTMCell(4, unit_forget_bias=False), return_sequences=True, go_backwards=True),
                           L.RNN(L.GRUCell(3, reset_after=False)), L.Dense(2)])
    assert_exports_faithfully(perturbed(model), tmp_path, normal(5, 3))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(tmp_path, merge_mode):
    x = tr.Input((7, 3), name="x")

    def outputs(y):
        return list(y) if isinstance(y, (list, tuple)) else [y]
    model = tr.Model(x, outputs(L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=merge_mode)(x))
                     + outputs(L.Bidirectional(L.GRU(2, return_state=True), merge_mode=merge_mode)(x))
                     + outputs(L.Bidirectional(L.SimpleRNN(2), merge_mode=merge_mode)(x)))
    assert_exports_faithfully(perturbed(model), tmp_path, normal(7, 3))


def test_bidirectional_with_its_own_backward_layer(tmp_path):
    layer = L.Bidirectional(L.LSTM(3, return_sequences=True),
                            backward_layer=L.GRU(3, return_sequences=True, go_backwards=True))
    model = tr.Sequential([L.Input((4, 2)), layer, L.GlobalAveragePooling1D()])
    assert_exports_faithfully(perturbed(model), tmp_path, normal(4, 2))


def test_time_distributed_and_embedding(tmp_path):
    tokens = tr.Input((6,), name="tokens")
    e = L.Embedding(30, 5)(tokens)
    h = L.TimeDistributed(L.Dense(4, activation="tanh"))(e)
    h = L.TimeDistributed(L.Conv1D(2, 2, padding="same"))(L.Reshape((6, 2, 2))(h))
    out = L.LSTM(3)(L.Reshape((6, 4))(h))
    model = perturbed(tr.Model(tokens, out))

    def indices(batch):  # every row of the table, 0 included (no mask_zero here)
        return [rng.integers(0, 30, (batch, 6)).astype(np.float32)]
    graph = assert_exports_faithfully(model, tmp_path, indices)
    assert "Gather" in [n.op_type for n in graph.node]


def test_masks_and_custom_cells_are_refused_naming_the_layer():
    masked = tr.Sequential([L.Input((5,)), L.Embedding(10, 3, mask_zero=True, name="words"), L.LSTM(2)])
    with pytest.raises(ExportError, match=r"layer 'words' \(Embedding\): mask_zero=True .* sequence_lens"):
        to_onnx(masked)
    padded = tr.Sequential([L.Input((5, 2)), L.Masking(name="pad"), L.GRU(2)])
    with pytest.raises(ExportError, match=r"layer 'pad' \(Masking\) has no ONNX form: its mask"):
        to_onnx(padded)

    class Doubling(L.Layer):
        state_size = 2

        def call(self, inputs, states):
            return inputs * 2.0 + states[0], [inputs * 2.0 + states[0]]

    custom = tr.Sequential([L.Input((5, 2)), L.RNN(Doubling(name="doubling"), name="loop")])
    with pytest.raises(ExportError, match=r"layer 'loop' \(RNN\) runs the cell 'doubling' \(Doubling\)"):
        to_onnx(custom)
    odd = tr.Sequential([L.Input((5, 2)), L.SimpleRNN(2, activation="selu", name="selu_rnn")])
    with pytest.raises(ExportError, match=r"layer 'selu_rnn' \(SimpleRNN\): its activation"):
        to_onnx(odd)
