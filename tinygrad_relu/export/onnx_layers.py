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

from .. import activations, layers as L
from ..layers import (ELU, Activation, Add, Average, AveragePooling1D, AveragePooling2D, BatchNormalization,
                      Concatenate, Conv1D, Conv2D, Dense, Dot, Dropout, Flatten, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, InputLayer, LeakyReLU,
                      MaxPooling1D, MaxPooling2D, Maximum, Minimum, Multiply, PReLU, ReLU, Reshape, Softmax,
                      Subtract)
from ..layers.data_format import last_shape
from ..ops.activation import SELU_ALPHA, SELU_SCALE
from ..ops.conv_variants import transpose_geometry
from .onnx_graph import Call, ExportError

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
             dilations=list(layer.dilation_rate), group=getattr(layer, "groups", 1),
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


# ---- the conv variants (channels-last in and out, like _conv) ---------------------------------------
def _activation_channels_last(g, layer, y, rank):
    """The layer's activation on y (channels first), then y back to channels last (as _conv does)."""
    if activations.serialize(layer.activation) in _ROW_WISE:
        return activation(g, layer.activation, _channels_last(g, y, rank, layer.name), layer)
    return _channels_last(g, activation(g, layer.activation, y, layer), rank, layer.name)


def _conv_transpose(g, call):
    """ConvTranspose: the full output (n - 1) * stride + span, cropped (pads) or extended (output_padding) to the
    layer's TensorFlow-rule size (transpose_geometry)."""
    layer, rank, shape = call.layer, call.layer.rank, call.shapes
    if any(n is None for n in shape[1:-1]):
        raise ExportError(f"layer '{layer.name}' ({type(layer).__name__}): ONNX export needs the input's spatial "
                          f"sizes, received input shape {shape}")
    begin, end, extra = [], [], []
    for n, k, s, d, p in zip(shape[1:-1], layer.kernel_size, layer.strides, layer.dilation_rate,
                             layer.output_padding or (None,) * rank):
        out, crop = transpose_geometry(n, k, s, d, layer.padding, p)
        full = (n - 1) * s + (k - 1) * d + 1
        begin.append(crop)
        end.append(max(full - crop - out, 0))
        extra.append(max(crop + out - full, 0))
    kernel = np.transpose(layer.kernel.data, [rank + 1, rank] + list(range(rank)))  # (k..., out, in) -> (in, out, k...)
    inputs = [_channels_first(g, call.inputs, rank, layer.name), g.const(kernel, f"{layer.name}/kernel")]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.data, f"{layer.name}/bias"))
    y = g.op("ConvTranspose", inputs, layer.name, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate), pads=begin + end, output_padding=extra)
    return _activation_channels_last(g, layer, y, rank)


def _depthwise(g, x, layer, kernel, shape, hint):
    """Conv with one group per input channel: kernel (k..., C, M) -> (C * M, 1, k...), output channel c * M + m."""
    rank = layer.rank
    channels, multiplier = kernel.shape[-2:]
    weights = np.transpose(kernel.reshape(kernel.shape[:-2] + (channels * multiplier,)),
                           [rank] + list(range(rank)))[:, None]
    return g.op("Conv", [x, g.const(weights, f"{hint}/kernel")], hint, kernel_shape=list(layer.kernel_size),
                strides=list(layer.strides), dilations=list(layer.dilation_rate), group=channels,
                **_spatial_padding(layer, shape, layer.kernel_size, layer.strides, layer.dilation_rate))


def _depthwise_conv(g, call):
    layer, rank = call.layer, call.layer.rank
    y = _depthwise(g, _channels_first(g, call.inputs, rank, layer.name), layer, layer.kernel.data, call.shapes,
                   layer.name)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(layer.bias.data.reshape((-1,) + (1,) * rank), f"{layer.name}/bias")], layer.name)
    return _activation_channels_last(g, layer, y, rank)


def _separable_conv(g, call):
    """The depthwise Conv, then the pointwise (1x1) Conv with the bias."""
    layer, rank = call.layer, call.layer.rank
    y = _depthwise(g, _channels_first(g, call.inputs, rank, layer.name), layer, layer.depthwise_kernel.data,
                   call.shapes, f"{layer.name}/depthwise")
    pointwise = np.transpose(layer.pointwise_kernel.data, [rank + 1, rank] + list(range(rank)))
    inputs = [y, g.const(pointwise, f"{layer.name}/pointwise_kernel")]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.data, f"{layer.name}/bias"))
    y = g.op("Conv", inputs, layer.name, kernel_shape=[1] * rank)
    return _activation_channels_last(g, layer, y, rank)


# ---- normalizations, by their formulas (the layers' order of operations) --------------------------------
def _standardize(g, x, axes, epsilon, hint):
    """(x - mean) * 1 / sqrt(var + epsilon) over ``axes``, the biased variance (ops.normalization.Standardize)."""
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True, hint)], hint)
    variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered], hint), axes, True, hint)
    std = g.op("Sqrt", [g.op("Add", [variance, g.const(epsilon, f"{hint}/epsilon")], hint)], hint)
    return g.op("Mul", [centered, g.op("Reciprocal", [std], hint)], hint)


def _affine(g, layer, y, broadcast):
    if layer.gamma is not None:
        y = g.op("Mul", [y, g.const(layer.gamma.data.reshape(broadcast), f"{layer.name}/gamma")], layer.name)
    if layer.beta is not None:
        y = g.op("Add", [y, g.const(layer.beta.data.reshape(broadcast), f"{layer.name}/beta")], layer.name)
    return y


def _layer_normalization(g, call):
    """ONNX's LayerNormalization over the trailing axes; the formulas for other axes and rms_scaling."""
    layer, ndim = call.layer, len(call.shapes)
    axes = sorted(a % ndim for a in (layer.axis if isinstance(layer.axis, list) else [layer.axis]))
    broadcast = [call.shapes[a] if a in axes else 1 for a in range(ndim)]
    if axes == list(range(axes[0], ndim)) and not layer.rms_scaling:
        weight_shape = [call.shapes[a] for a in axes]
        gamma = layer.gamma.data if layer.gamma is not None else np.ones(weight_shape, g.dtype)
        inputs = [call.inputs, g.const(gamma, f"{layer.name}/gamma")]
        if layer.beta is not None:
            inputs.append(g.const(layer.beta.data, f"{layer.name}/beta"))
        return g.op("LayerNormalization", inputs, layer.name, axis=axes[0], epsilon=layer.epsilon)
    if layer.rms_scaling:  # Keras' deprecated form: x (not centered) over sqrt(var + epsilon)
        x = call.inputs
        centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, True, layer.name)], layer.name)
        variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered], layer.name), axes, True, layer.name)
        std = g.op("Sqrt", [g.op("Add", [variance, g.const(layer.epsilon, f"{layer.name}/epsilon")], layer.name)],
                   layer.name)
        return _affine(g, layer, g.op("Div", [x, std], layer.name), broadcast)
    return _affine(g, layer, _standardize(g, call.inputs, axes, layer.epsilon, layer.name), broadcast)


def _group_normalization(g, call):
    """x split into (groups, channels / groups) along the channel axis, standardized over the group and the other
    non-batch axes, then scaled per channel."""
    layer, shape = call.layer, call.shapes
    ndim, axis = len(shape), layer.axis % len(shape)
    channels = shape[axis]
    groups = channels if layer.groups == -1 else layer.groups
    if any(n is None for n in shape[axis + 1:]):
        raise ExportError(f"layer '{layer.name}' (GroupNormalization): ONNX export needs the sizes of the axes after "
                          f"axis {layer.axis}, received input shape {shape}")
    grouped_shape = [0] * axis + [groups, channels // groups] + list(shape[axis + 1:])  # (0: copy that axis)
    grouped = g.op("Reshape", [call.inputs, g.ints(grouped_shape, f"{layer.name}/grouped")], layer.name)
    reduce = [a for a in range(1, ndim + 1) if a != axis]
    y = _standardize(g, grouped, reduce, layer.epsilon, layer.name)
    back = g.op("Reshape", [y, g.op("Shape", [call.inputs], layer.name)], layer.name)
    return _affine(g, layer, back, [channels if a == axis else 1 for a in range(ndim)])


def _unit_normalization(g, call):
    """x * min(1 / sqrt(sum(x^2)), 1e12) over the axes (ops.normalization.L2Normalize)."""
    layer, x = call.layer, call.inputs
    axes = [a % len(call.shapes) for a in (layer.axis if isinstance(layer.axis, list) else [layer.axis])]
    squares = g.reduce("ReduceSum", g.op("Mul", [x, x], layer.name), axes, True, layer.name)
    inverse = g.op("Reciprocal", [g.op("Sqrt", [squares], layer.name)], layer.name)
    scale = g.op("Min", [inverse, g.const(1e12, f"{layer.name}/bound")], layer.name)
    return g.op("Mul", [x, scale], layer.name)


def _normalization(g, call):
    layer = call.layer
    mean, std = layer.statistics(len(call.shapes), g.dtype)
    mean, std = g.const(mean, f"{layer.name}/mean"), g.const(std, f"{layer.name}/std")
    if layer.invert:
        return g.op("Add", [mean, g.op("Mul", [call.inputs, std], layer.name)], layer.name)
    return g.op("Div", [g.op("Sub", [call.inputs, mean], layer.name), std], layer.name)


def _rescaling(g, call):
    layer = call.layer
    scale = g.const(np.asarray(layer.scale, np.float64), f"{layer.name}/scale")
    offset = g.const(np.asarray(layer.offset, np.float64), f"{layer.name}/offset")
    return g.op("Add", [g.op("Mul", [call.inputs, scale], layer.name), offset], layer.name)


# ---- reshaping (channels-last) ------------------------------------------------------------------------
def _upsampling(g, call):
    """Resize: nearest repeats each cell (asymmetric coordinates, floor); bilinear is the half-pixel form."""
    layer = call.layer
    sizes = (layer.size,) if isinstance(layer.size, int) else tuple(layer.size)
    scales = g.const([1.0, *sizes, 1.0], f"{layer.name}/scales", np.float32)
    if getattr(layer, "interpolation", "nearest") == "nearest":
        return g.op("Resize", [call.inputs, "", scales], layer.name, mode="nearest", nearest_mode="floor",
                    coordinate_transformation_mode="asymmetric")
    return g.op("Resize", [call.inputs, "", scales], layer.name, mode="linear",
                coordinate_transformation_mode="half_pixel")


def _zero_padding(g, call):
    layer = call.layer
    pairs = (layer.padding,) if isinstance(layer, L.ZeroPadding1D) else layer.padding
    pads = [0] + [p[0] for p in pairs] + [0] + [0] + [p[1] for p in pairs] + [0]
    return g.op("Pad", [call.inputs, g.ints(pads, f"{layer.name}/pads")], layer.name, mode="constant")


def _cropping(g, call):
    layer = call.layer
    starts = [before for before, _ in layer.croppings]
    ends = [-after if after else np.iinfo(np.int64).max for _, after in layer.croppings]
    axes = list(range(1, len(starts) + 1))
    return g.op("Slice", [call.inputs, g.ints(starts, f"{layer.name}/starts"), g.ints(ends, f"{layer.name}/ends"),
                          g.ints(axes, f"{layer.name}/axes")], layer.name)


def _repeat_vector(g, call):
    layer = call.layer
    column = g.op("Unsqueeze", [call.inputs, g.ints([1], f"{layer.name}/axis")], layer.name)
    return g.op("Tile", [column, g.ints([1, layer.n, 1], f"{layer.name}/repeats")], layer.name)


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
    L.Conv1DTranspose: _conv_transpose, L.Conv2DTranspose: _conv_transpose,
    L.DepthwiseConv1D: _depthwise_conv, L.DepthwiseConv2D: _depthwise_conv,
    L.SeparableConv1D: _separable_conv, L.SeparableConv2D: _separable_conv,
    L.LayerNormalization: _layer_normalization, L.GroupNormalization: _group_normalization,
    L.UnitNormalization: _unit_normalization, L.Normalization: _normalization, L.Rescaling: _rescaling,
    L.UpSampling1D: _upsampling, L.UpSampling2D: _upsampling, L.ZeroPadding1D: _zero_padding,
    L.ZeroPadding2D: _zero_padding, L.Cropping1D: _cropping, L.Cropping2D: _cropping,
    L.Permute: lambda g, call: g.transpose(call.inputs, [0] + list(call.layer.dims), call.layer.name),
    L.RepeatVector: _repeat_vector,
    # the identity at inference
    L.Identity: _identity, L.SpatialDropout1D: _identity, L.SpatialDropout2D: _identity, L.GaussianNoise: _identity,
    L.GaussianDropout: _identity, L.AlphaDropout: _identity, L.ActivityRegularization: _identity,
}


# the layer classes with no ONNX form, and why (onnx_recurrent.py adds its own)
NO_ONNX_FORM = {L.Lambda: "its function is Python code: nothing to translate"}


def _in_channels_last(g, call, converter):
    """A channels_first layer's call: its input moved channels-last, converted, and moved back when the output
    keeps the input's rank (a Flatten or a global pool's flat output needs no moving back)."""
    layer, shape = call.layer, call.shapes
    rank = len(shape) - 2
    y = converter(g, Call(layer, _channels_last(g, call.inputs, rank, layer.name), last_shape(shape)))
    if len(layer.compute_output_shape(shape)) == len(shape):
        y = _channels_first(g, y, rank, layer.name)
    return y


def convert_layer(g, call):
    """Add ``call``'s layer to the graph with its converter; ExportError naming it when it has none."""
    converter = CONVERTERS.get(type(call.layer))
    if type(call.layer) in NO_ONNX_FORM:
        raise ExportError(f"layer '{call.layer.name}' ({type(call.layer).__name__}) has no ONNX form: "
                          f"{NO_ONNX_FORM[type(call.layer)]}")
    if converter is None:
        known = ", ".join(sorted(cls.__name__ for cls in CONVERTERS))
        raise ExportError(f"layer '{call.layer.name}' ({type(call.layer).__name__}) has no ONNX form here; the layers "
                          f"that export are Sequential and Functional models of: {known}")
    if getattr(call.layer, "data_format", None) == "channels_first" and len(call.shapes) > 2:
        return _in_channels_last(g, call, converter)
    return converter(g, call)


__all__ = ["ACTIVATIONS", "CONVERTERS", "NO_ONNX_FORM", "activation", "convert_layer"]
