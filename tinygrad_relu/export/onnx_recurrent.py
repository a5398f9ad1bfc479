"""The sequence layers' ONNX forms: Embedding as Gather, the recurrent layers as ONNX's RNN, LSTM and GRU,
Bidirectional as two of them merged, TimeDistributed as its layer on (batch * timesteps, ...).

ONNX's recurrent ops take time first, X (steps, batch, features), and their weights gate by gate, each gate's
block (units, inputs): W = kernel^T, R = recurrent_kernel^T with the gates reordered from Keras' (LSTM
i, f, c, o; GRU z, r, h) into ONNX's (LSTM i, o, f, c; GRU z, r, h), B = [input biases, recurrent biases].
A GRU with reset_after=True is ONNX's linear_before_reset=1 (its bias rows are Wb and Rb); reset_after=False
is linear_before_reset=0 (one bias, as Wb). go_backwards reads the sequence reversed and returns the outputs
in that order: the input is reversed and run forwards. Masks have no exact form with these ops (ONNX's
sequence_lens describes right-padded sequences only): the layers that make them are refused.

Importing this module registers its converters in onnx_layers.CONVERTERS (and its refusals in NO_ONNX_FORM).
"""
import numpy as np

from .. import activations, layers as L
from .onnx_graph import Call, ExportError
from .onnx_layers import CONVERTERS, NO_ONNX_FORM, convert_layer

# Keras' activation name -> (ONNX's recurrent activation, its alpha, beta)
_RECURRENT_ACTIVATIONS = {"tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None),
                          "relu": ("Relu", None, None), "linear": ("Affine", 1.0, 0.0),
                          "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(x + 3) / 6
                          "softsign": ("Softsign", None, None), "softplus": ("Softplus", None, None),
                          "elu": ("Elu", 1.0, None)}
_MIN_INT64 = int(np.iinfo(np.int64).min)


def _reversed(g, x, axis, hint):
    """x with ``axis`` read backwards."""
    return g.op("Slice", [x, g.ints([-1], f"{hint}/start"), g.ints([_MIN_INT64], f"{hint}/end"),
                          g.ints([axis], f"{hint}/axis"), g.ints([-1], f"{hint}/step")], hint)


def _multi_output_op(g, op_type, inputs, outputs, hint, **attributes):
    names = [g.name(f"{hint}/{op_type}_{out}") for out in outputs]
    g.nodes.append(g.onnx.helper.make_node(op_type, list(inputs), names, name=names[0], **attributes))
    return names


def _activation_attributes(layer, functions):
    """ONNX's activations / activation_alpha / activation_beta for the cell's ``functions``: the alphas and betas of
    the functions that take them, in order (as onnxruntime reads them)."""
    names, alphas, betas = [], [], []
    for fn in functions:
        try:
            name = activations.serialize(fn)
        except (ValueError, TypeError):
            name = None
        if name not in _RECURRENT_ACTIVATIONS or activations.get(name) is not fn:
            raise ExportError(f"layer '{layer.name}' ({type(layer).__name__}): its activation {fn!r} is not one of "
                              f"the activations ONNX's recurrent ops take ({', '.join(_RECURRENT_ACTIVATIONS)})")
        onnx_name, alpha, beta = _RECURRENT_ACTIVATIONS[name]
        names.append(onnx_name)
        alphas += [] if alpha is None else [alpha]
        betas += [] if beta is None else [beta]
    attributes = {"activations": names}
    if alphas:
        attributes["activation_alpha"] = alphas
    if betas:
        attributes["activation_beta"] = betas
    return attributes


def _gates(array, order, units):
    """``array``'s last axis (G gate blocks of ``units``) with its blocks in ``order``."""
    return np.concatenate([array[..., k * units:(k + 1) * units] for k in order], axis=-1)


def _cell_form(layer):
    """(ONNX op, its attributes, W, R, B) of an RNN layer's built-in cell; ExportError for another cell."""
    cell = layer.cell
    if type(cell) is L.SimpleRNNCell:
        op, order, functions = "RNN", [0], [cell.activation]
    elif type(cell) is L.LSTMCell:
        op, order, functions = "LSTM", [0, 3, 1, 2], [cell.recurrent_activation, cell.activation, cell.activation]
    elif type(cell) is L.GRUCell:
        op, order, functions = "GRU", [0, 1, 2], [cell.recurrent_activation, cell.activation]
    else:
        raise ExportError(f"layer '{layer.name}' ({type(layer).__name__}) runs the cell '{getattr(cell, 'name', cell)}' "
                          f"({type(cell).__name__}), whose call() is Python code: only the built-in SimpleRNNCell, "
                          "LSTMCell and GRUCell have ONNX forms")
    units = cell.units
    attributes = dict(_activation_attributes(layer, functions), hidden_size=units)
    w = _gates(cell.kernel.data, order, units).T[None]  # (1, G * units, features)
    r = _gates(cell.recurrent_kernel.data, order, units).T[None]
    input_bias = recurrent_bias = np.zeros(len(order) * units, dtype=cell.kernel.data.dtype)
    if cell.use_bias:
        bias = cell.bias.data
        input_bias, recurrent_bias = (bias[0], bias[1]) if bias.ndim == 2 else (bias, recurrent_bias)
    if op == "GRU":
        attributes["linear_before_reset"] = int(cell.reset_after)
    b = np.concatenate([_gates(input_bias, order, units), _gates(recurrent_bias, order, units)])[None]
    return op, attributes, w, r, b


def _recurrent(g, call):
    """RNN, SimpleRNN, LSTM, GRU: the output (the last step's, or every step's), then the final states."""
    layer = call.layer
    op, attributes, w, r, b = _cell_form(layer)
    hint = layer.name
    x = g.transpose(call.inputs, [1, 0, 2], hint)  # (steps, batch, features)
    if layer.go_backwards:
        x = _reversed(g, x, 0, f"{hint}/backwards")
    outputs = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    weights = [g.const(w, f"{hint}/W"), g.const(r, f"{hint}/R"), g.const(b, f"{hint}/B")]
    names = _multi_output_op(g, op, [x] + weights, outputs, hint, direction="forward", **attributes)
    axis_zero = g.ints([0], f"{hint}/axis0")
    states = [g.op("Squeeze", [name, axis_zero], hint) for name in names[1:]]  # (batch, units) each
    if layer.return_sequences:
        steps = g.op("Squeeze", [names[0], g.ints([1], f"{hint}/axis1")], hint)  # (steps, batch, units)
        output = g.transpose(steps, [1, 0, 2], hint)
    else:
        output = states[0]
    return [output] + states if layer.return_state else output


def _bidirectional(g, call):
    """The forward and backward layers on the same input, the backward outputs flipped back into time order, merged."""
    layer = call.layer
    forward = _recurrent(g, Call(layer.forward_layer, call.inputs, call.shapes))
    backward = _recurrent(g, Call(layer.backward_layer, call.inputs, call.shapes))
    states = []
    if layer.return_state:
        states = forward[1:] + backward[1:]
        forward, backward = forward[0], backward[0]
    if layer.return_sequences:
        backward = _reversed(g, backward, 1, f"{layer.name}/flip")
    hint = layer.name
    if layer.merge_mode == "concat":
        merged = [g.op("Concat", [forward, backward], hint, axis=-1)]
    elif layer.merge_mode == "sum":
        merged = [g.op("Add", [forward, backward], hint)]
    elif layer.merge_mode == "mul":
        merged = [g.op("Mul", [forward, backward], hint)]
    elif layer.merge_mode == "ave":  # (y + y_rev) * 0.5, as the layer computes it
        merged = [g.op("Mul", [g.op("Add", [forward, backward], hint), g.const(0.5, f"{hint}/half")], hint)]
    else:
        merged = [forward, backward]
    outputs = merged + states
    return outputs if len(outputs) > 1 else outputs[0]


def _time_distributed(g, call):
    """The inner layer on (batch * steps, ...), reshaped back to (batch, steps, ...)."""
    layer, shape = call.layer, call.shapes
    inner_shape = tuple(shape[2:])
    if any(d is None for d in inner_shape):
        raise ExportError(f"layer '{layer.name}' (TimeDistributed): the input's axes after the timesteps must be "
                          f"known to fold the timesteps into the batch, received shape {shape}")
    hint = layer.name
    folded = g.op("Reshape", [call.inputs, g.ints((-1,) + inner_shape, f"{hint}/folded")], hint)
    y = convert_layer(g, Call(layer.layer, folded, (None,) + inner_shape))
    if isinstance(y, list):
        raise ExportError(f"layer '{layer.name}' (TimeDistributed): its layer '{layer.layer.name}' has several "
                          "outputs, which TimeDistributed does not export")
    out_shape = tuple(layer.layer.compute_output_shape((None,) + inner_shape))[1:]
    batch_and_steps = g.op("Shape", [call.inputs], f"{hint}/batch_steps", start=0, end=2)
    target = g.op("Concat", [batch_and_steps, g.ints(out_shape, f"{hint}/per_step")], hint, axis=0)
    return g.op("Reshape", [y, target], hint)


def _embedding(g, call):
    """Gather of the table's rows at the indices (given as floats or integers, as the layer takes them)."""
    layer = call.layer
    if layer.mask_zero:
        raise ExportError(f"layer '{layer.name}' (Embedding): mask_zero=True makes the layers after it skip the padded "
                          "steps, which has no exact ONNX form here (ONNX's sequence_lens describes right-padded "
                          "sequences only); export a copy of the model built with mask_zero=False if no layer after "
                          "it depends on the mask")
    indices = g.op("Cast", [call.inputs], layer.name, to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [g.const(layer.embeddings.data, f"{layer.name}/embeddings"), indices], layer.name, axis=0)


CONVERTERS.update({L.Embedding: _embedding, L.RNN: _recurrent, L.SimpleRNN: _recurrent, L.LSTM: _recurrent,
                   L.GRU: _recurrent, L.Bidirectional: _bidirectional, L.TimeDistributed: _time_distributed})
NO_ONNX_FORM.update({
    L.Masking: "its mask makes the layers after it skip steps, which has no exact ONNX form here (ONNX's "
               "sequence_lens describes right-padded sequences only)",
    L.SimpleRNNCell: "a cell is one timestep: it is exported inside the RNN layer that runs it",
    L.LSTMCell: "a cell is one timestep: it is exported inside the RNN layer that runs it",
    L.GRUCell: "a cell is one timestep: it is exported inside the RNN layer that runs it",
})
