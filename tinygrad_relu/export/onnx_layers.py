"""Each layer's ONNX form: one converter per layer class, one per activation.

A converter ``convert(graph, call)`` adds the layer's nodes to the graph (onnx_graph.Graph) and returns
the name of its output. ``call.inputs`` is the input's tensor name (a list of names for a merge layer),
``call.shapes`` its static shape, batch axis first. Adding a layer to the export is one function and
one entry of ``CONVERTERS``; adding an activation, one entry of ``ACTIVATIONS`` (tests check that every
row of the activation table has one).

The data is channels-last throughout, as in this package. ONNX's Conv and pooling want channels
first, so those converters transpose in and out (onnxruntime cancels the pairs that meet); the
kernel (kh, kw, cin, cout) becomes (cout, cin, kh, kw). Each converter computes what the layer's
inference call computes, in the same order of float operations where that matters (BatchNormalization:
(x - mean) * inv_std * gamma + beta, inv_std computed here as the layer computes it).
"""
import numpy as np

from .. import activations
from ..layers import (ELU, Activation, Add, Average, AveragePooling1D, AveragePooling2D, BatchNormalization,
                      Concatenate, Conv1D, Conv2D, Dense, Dot, Dropout, Flatten, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, InputLayer, LeakyReLU,
                      MaxPooling1D, MaxPooling2D, Maximum, Minimum, Multiply, PReLU, ReLU, Reshape, Softmax,
                      Subtract)
from ..ops.activation import SELU_ALPHA, SELU_SCALE
from .onnx_graph import ExportError

SQRT_HALF = 0.7071067811865476


# ---- activations, by the name Keras saves (each at Keras' defaults) -----------------------------------
def _gelu(g, x, hint):
    """The exact form x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))) (ONNX's Gelu op needs opset 20)."""
    erf = g.op("Erf", [g.op("Mul", [x, g.const(SQRT_HALF, f"{hint}/rsqrt2")], hint)], hint)
    one_plus = g.op("Add", [erf, g.const(1.0, f"{hint}/one")], hint)
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5, f"{hint}/half")], hint), one_plus], hint)


def _hard_sigmoid(g, x, hint):
    return g.op("HardSigmoid", [x], hint, alpha=1.0 / 6.0, beta=0.5)  # Keras 3: relu6(x + 3) / 6


ACTIVATIONS = {
    "relu": lambda g, x, hint: g.op("Relu", [x], hint),
    "leaky_relu": lambda g, x, hint: g.op("LeakyRelu", [x], hint, alpha=0.2),
    "relu6": lambda g, x, hint: _clip(g, x, 0.0, 6.0, hint),
    "elu": lambda g, x, hint: g.op("Elu", [x], hint, alpha=1.0),
    "selu": lambda g, x, hint: g.op("Selu", [x], hint, alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "gelu": _gelu,
    "silu": lambda g, x, hint: g.op("Mul", [x, g.op("Sigmoid", [x], hint)], hint),
    "sigmoid": lambda g, x, hint: g.op("Sigmoid", [x], hint),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda g, x, hint: g.op("Mul", [x, _hard_sigmoid(g, x, hint)], hint),
    "tanh": lambda g, x, hint: g.op("Tanh", [x], hint),
    "softplus": lambda g, x, hint: g.op("Softplus", [x], hint),
    "softsign": lambda g, x, hint: g.op("Softsign", [x], hint),
    "mish": lambda g, x, hint: g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], hint)], hint)], hint),
    "exponential": lambda g, x, hint: g.op("Exp", [x], hint),
    "softmax": lambda g, x, hint: g.op("Softmax", [x], hint, axis=-1),
    "log_softmax": lambda g, x, hint: g.op("LogSoftmax", [x], hint, axis=-1),
    "linear": lambda g, x, hint: x,
}


def activation(g, fn, x, layer):
    """``fn`` (an activation function) applied to ``x``; ExportError naming the layer for a custom one."""
    try:
        name = activations.serialize(fn)
    except (ValueError, TypeError):
        name = None
    if name not in ACTIVATIONS or activations.get(name) is not fn:
        raise ExportError(f"layer '{layer.name}' ({type(layer).__name__}): its activation {fn!r} is not one of the "
                          f"built-in activations, so it has no ONNX form")
    return ACTIVATIONS[name](g, x, f"{layer.name}/{name}")


def _clip(g, x, low, high, hint):
    inputs = [x, g.const(low, f"{hint}/min")] + ([g.const(high, f"{hint}/max")] if high is not None else [])
    return g.op("Clip", inputs, hint)


# ---- layers --------------------------------------------------------------------------------------
def _dense(g, call):
    layer = call.layer
    y = g.op("MatMul", [call.inputs, g.const(layer.kernel.data, f"{layer.name}/kernel")], layer.name)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.data, f"{layer.name}/bias")], layer.name)
    return activation(g, layer.activation, y, layer)


def _channels_first(g, x, rank, hint):
    return g.transpose(x, [0, rank + 1] + list(range(1, rank + 1)), hint)


def _channels_last(g, x, rank, hint):
    return g.transpose(x, [0] + list(range(2, rank + 2)) + [1], hint)


def _spatial_padding(layer, shape, kernel, strides, dilation):
    """ONNX's pads for Keras' padding of an input of ``shape`` (channels last). 'same' is TensorFlow's: the
    output has ceil(n / stride) steps, the odd pixel of padding goes at the end."""
    spatial = shape[1:-1]
    if layer.padding == "valid":
        return {"pads": [0] * (2 * len(kernel))}
    if layer.padding == "causal":  # Conv1D: all of it on the left
        return {"pads": [(kernel[0] - 1) * dilation[0], 0]}
    if any(n is None for n in spatial):
        if any(d != 1 for d in dilation):  # (onnxruntime computes SAME_UPPER without dilations only)
            raise ExportError(f"layer '{layer.name}' ({type(layer).__name__}): padding='same' with dilation_rate "
                              f"{tuple(dilation)} needs the input's spatial sizes, received input shape {shape}")
        return {"auto_pad": "SAME_UPPER"}
    before, after = [], []
    for n, k, s, d in zip(spatial, kernel, strides, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return {"pads": before + after}


# Activations that act along the last axis: the others are elementwise, so a convolution applies them before
# it transposes back to channels-last (and a transpose pair can then cancel).
_ROW_WISE = ("softmax", "log_softmax")


def _conv(g, call):
    layer, rank = call.layer, call.layer.rank
    kernel = np.transpose(layer.kernel.data, [rank + 1, rank] + list(range(rank)))  # (k..., in, out) -> (out, in, k...)
    inputs = [_channels_first(g, call.inputs, rank, layer.name), g.const(kernel, f"{layer.name}/kernel")]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.data, f"{layer.name}/bias"))
    y = g.op("Conv", inputs, layer.name, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate), group=1,
             **_spatial_padding(layer, call.shapes, layer.kernel_size, layer.strides, layer.dilation_rate))
    if activations.serialize(layer.activation) in _ROW_WISE:
        return activation(g, layer.activation, _channels_last(g, y, rank, layer.name), layer)
    return _channels_last(g, activation(g, layer.activation, y, layer), rank, layer.name)


def _pool(op_type):
    def convert(g, call):
        layer, rank = call.layer, call.layer.rank
        attributes = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                          **_spatial_padding(layer, call.shapes, layer.pool_size, layer.strides, (1,) * rank))
        if op_type == "AveragePool":
            attributes["count_include_pad"] = 0  # Keras averages over the window's real values only
        y = g.op(op_type, [_channels_first(g, call.inputs, rank, layer.name)], layer.name, **attributes)
        return _channels_last(g, y, rank, layer.name)
    return convert


def _global_pool(op_type):
    def convert(g, call):
        layer = call.layer
        return g.reduce(op_type, call.inputs, list(range(1, layer.rank + 1)), layer.keepdims, layer.name)
    return convert


def _feature_broadcast(layer, shape, values):
    """``values`` (one per feature) shaped to broadcast along the layer's axis of an input of ``shape``."""
    broadcast = [1] * len(shape)
    broadcast[layer.axis % len(shape)] = values.shape[0]
    return values.reshape(broadcast)


def _batch_normalization(g, call):
    layer, shape = call.layer, call.shapes
    dtype = g.dtype.type
    mean = _feature_broadcast(layer, shape, layer.moving_mean.data)
    inv_std = 1.0 / np.sqrt(_feature_broadcast(layer, shape, layer.moving_variance.data) + dtype(layer.epsilon))
    y = g.op("Sub", [call.inputs, g.const(mean, f"{layer.name}/moving_mean")], layer.name)
    y = g.op("Mul", [y, g.const(inv_std, f"{layer.name}/inv_std")], layer.name)
    if layer.scale:
        y = g.op("Mul", [y, g.const(_feature_broadcast(layer, shape, layer.gamma.data), f"{layer.name}/gamma")],
                 layer.name)
    if layer.center:
        y = g.op("Add", [y, g.const(_feature_broadcast(layer, shape, layer.beta.data), f"{layer.name}/beta")],
                 layer.name)
    return y


def _relu(g, call):
    layer, x = call.layer, call.inputs
    slope, top, threshold = layer.negative_slope, layer.max_value, layer.threshold
    if threshold == 0.0 and top is None:
        return g.op("LeakyRelu", [x], layer.name, alpha=slope) if slope else g.op("Relu", [x], layer.name)
    if threshold == 0.0 and slope == 0.0:
        return _clip(g, x, 0.0, top, layer.name)
    # Keras' general relu: clip(x, 0, max_value) above the threshold, slope * (x - threshold) below it
    upper = x if top is None else _clip(g, x, 0.0, top, layer.name)
    lower = g.op("Mul", [g.op("Sub", [x, g.const(threshold, f"{layer.name}/threshold")], layer.name),
                         g.const(slope, f"{layer.name}/slope")], layer.name)
    above = g.op("Greater", [x, g.const(threshold, f"{layer.name}/threshold")], layer.name)
    return g.op("Where", [above, upper, lower], layer.name)


def _softmax(g, call):
    return g.op("Softmax", [call.inputs], call.layer.name, axis=call.layer.axis)


def _reshape(g, call):
    layer = call.layer
    return g.op("Reshape", [call.inputs, g.ints([0] + list(layer.target_shape), f"{layer.name}/shape")], layer.name)


def _chain(op_type):
    """An elementwise merge, its inputs combined left to right as the layer does."""
    def convert(g, call):
        out = call.inputs[0]
        for x in call.inputs[1:]:
            out = g.op(op_type, [out, x], call.layer.name)
        return out
    return convert


def _average(g, call):
    total = _chain("Add")(g, call)
    return g.op("Div", [total, g.const(float(len(call.inputs)), f"{call.layer.name}/count")], call.layer.name)


def _concatenate(g, call):
    return g.op("Concat", list(call.inputs), call.layer.name, axis=call.layer.axis)


def _l2_normalize(g, x, axis, hint):
    squares = g.reduce("ReduceSum", g.op("Mul", [x, x], hint), [axis], True, hint)
    norm = g.op("Sqrt", [g.op("Max", [squares, g.const(1e-12, f"{hint}/epsilon")], hint)], hint)
    return g.op("Div", [x, norm], hint)


def _dot(g, call):
    layer = call.layer
    (x, y), (xs, ys) = call.inputs, call.shapes
    ax, bx = (a % len(shape) for a, shape in zip(layer.axes, (xs, ys)))
    if layer.normalize:
        x, y = _l2_normalize(g, x, ax, layer.name), _l2_normalize(g, y, bx, layer.name)
    x_rest = [d for i, d in enumerate(xs) if i not in (0, ax)]
    y_rest = [d for i, d in enumerate(ys) if i not in (0, bx)]
    if any(d is None for d in x_rest + y_rest + [xs[ax]]):
        raise ExportError(f"layer '{layer.name}' (Dot): ONNX export needs the sizes of every non-batch axis, "
                          f"received input shapes {xs} and {ys}")
    n = xs[ax]
    x_last = [i for i in range(len(xs)) if i != ax] + [ax]
    y_second = [0, bx] + [i for i in range(1, len(ys)) if i != bx]
    x2 = g.op("Reshape", [g.transpose(x, x_last, layer.name), g.ints([0, -1, n], f"{layer.name}/x_shape")], layer.name)
    y2 = g.op("Reshape", [g.transpose(y, y_second, layer.name), g.ints([0, n, -1], f"{layer.name}/y_shape")],
              layer.name)
    out_shape = [0] + x_rest + y_rest if x_rest + y_rest else [0, 1]
    return g.op("Reshape", [g.op("MatMul", [x2, y2], layer.name), g.ints(out_shape, f"{layer.name}/out_shape")],
                layer.name)


def _identity(g, call):
    return call.inputs


CONVERTERS = {
    InputLayer: _identity,
    Dense: _dense,
    Conv1D: _conv, Conv2D: _conv,
    MaxPooling1D: _pool("MaxPool"), MaxPooling2D: _pool("MaxPool"),
    AveragePooling1D: _pool("AveragePool"), AveragePooling2D: _pool("AveragePool"),
    GlobalAveragePooling1D: _global_pool("ReduceMean"), GlobalAveragePooling2D: _global_pool("ReduceMean"),
    GlobalMaxPooling1D: _global_pool("ReduceMax"), GlobalMaxPooling2D: _global_pool("ReduceMax"),
    BatchNormalization: _batch_normalization,
    Flatten: lambda g, call: g.op("Flatten", [call.inputs], call.layer.name, axis=1),
    Reshape: _reshape,
    Dropout: _identity,  # inference: the identity
    Activation: lambda g, call: activation(g, call.layer.activation, call.inputs, call.layer),
    ReLU: _relu,
    LeakyReLU: lambda g, call: g.op("LeakyRelu", [call.inputs], call.layer.name, alpha=call.layer.negative_slope),
    PReLU: lambda g, call: g.op("PRelu", [call.inputs, g.const(call.layer.alpha.data, f"{call.layer.name}/alpha")],
                                call.layer.name),
    ELU: lambda g, call: g.op("Elu", [call.inputs], call.layer.name, alpha=call.layer.alpha),
    Softmax: _softmax,
    Add: _chain("Add"), Subtract: _chain("Sub"), Multiply: _chain("Mul"), Average: _average,
    Maximum: _chain("Max"), Minimum: _chain("Min"), Concatenate: _concatenate, Dot: _dot,
}


def convert_layer(g, call):
    """Add ``call``'s layer to the graph with its converter; ExportError naming it when it has none."""
    converter = CONVERTERS.get(type(call.layer))
    if converter is None:
        known = ", ".join(sorted(cls.__name__ for cls in CONVERTERS))
        raise ExportError(f"layer '{call.layer.name}' ({type(call.layer).__name__}) has no ONNX form here; the layers "
                          f"that export are Sequential and Functional models of: {known}")
    return converter(g, call)


__all__ = ["ACTIVATIONS", "CONVERTERS", "activation", "convert_layer"]
