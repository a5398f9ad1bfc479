"""keras.ops' neural-network functions: activations, one_hot, convolution and pooling, the crossentropies.

The activations come from the one table in ``ops/activation.py`` with keras.ops' defaults
(``gelu`` is the tanh approximation here, as ``keras.ops.gelu``; ``keras.activations.gelu`` is
the exact form). ``conv``, ``max_pool`` and ``average_pool`` take channels_last inputs and
Keras' kernel layout; ``convolution`` and ``pooling`` are the checked entry points
``tinygrad_relu.functional`` and the layers use too. The crossentropies return one value per
sample (``binary_crossentropy``: per element), unreduced, as keras.ops does.
"""
import numpy as np

from ..tensor import Tensor
from . import activation as _activation
from . import movement as _movement
from .convolution import NO_WORKSPACE, Conv1D, Conv2D, as_tuple, window_geometry
from .conv_variants import (Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D, GroupedConv1D,
                            GroupedConv2D, transpose_geometry)
from .core import convert_to_numpy, convert_to_tensor
from .normalization import L2Normalize
from .numpy import clip, log, mean, multiply, negative, sum, var
from .pool import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D

EPSILON = 1e-7  # keras.backend.epsilon()

# keras.ops' defaults where they differ from keras.activations'
_OPS_DEFAULTS = {"gelu": {"approximate": True}}


def _tensor(x):
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


ACTIVATIONS = {}
for _row in _activation.TABLE:
    ACTIVATIONS[_row.name] = _activation.make_function(
        _row, {**_row.keras, **_OPS_DEFAULTS.get(_row.name, {})}, convert=_tensor)
for _alias, _name in _activation.ALIASES.items():
    ACTIVATIONS[_alias] = ACTIVATIONS[_name]
del _row, _alias, _name
globals().update({name: fn for name, fn in ACTIVATIONS.items() if name not in ("linear", "exponential")})


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return negative(ACTIVATIONS["softplus"](negative(_tensor(x))))


def hard_tanh(x):
    """clip(x, -1, 1): slope 1 inside, 0 outside."""
    return clip(_tensor(x), -1.0, 1.0)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels -> one-hot rows (a constant); labels outside [0, num_classes) give all-zero rows, as Keras."""
    if sparse:
        raise ValueError("one_hot: sparse output is not supported")
    labels = convert_to_numpy(x)
    if labels.dtype.kind == "f":
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iub":
        raise TypeError(f"one_hot: labels must be integers, received dtype {labels.dtype}")
    num_classes = int(num_classes)
    out = (labels[..., None] == np.arange(num_classes)).astype(np.dtype(dtype or "float32"))
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor._make(out, False, None)


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over ``axes``; the variance is the biased one, as Keras."""
    x = _tensor(x)
    return mean(x, axis=axes, keepdims=keepdims), var(x, axis=axes, keepdims=keepdims)


def normalize(x, axis=-1, order=2, epsilon=None):
    """x * min(1 / |x|, 1 / epsilon), |x| the L2 norm along ``axis`` (order 2 only; epsilon defaults to 1e-7,
    keras.backend.epsilon(), as in Keras)."""
    if order != 2:
        raise NotImplementedError(f"normalize: only order=2 is supported, received order={order!r}")
    return L2Normalize.apply(_tensor(x), axes=axis, epsilon=EPSILON if epsilon is None else float(epsilon))


# ---- convolution and pooling ---------------------------------------------------------------------
def _shape(x):
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def check_rank(where, name, x, rank, layout):
    shape = _shape(x)
    if len(shape) != rank:
        raise ValueError(f"{where}: {name} must have rank {rank} {layout}, got shape {tuple(shape)}")
    return shape


def _check_padding(where, padding, allowed):
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"{where}: unknown padding {padding!r}; expected one of "
                         f"{', '.join(repr(p) for p in allowed)}")
    return padding.lower()


def _channels_first(where, data_format):
    """Whether ``data_format`` is 'channels_first' (None and 'channels_last' are not); ValueError otherwise."""
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"{where}: data_format must be 'channels_last' or 'channels_first', "
                         f"received {data_format!r}")
    return data_format == "channels_first"


def _in_channels_last(where, data_format, compute, x):
    """compute(x) for a channels_last x; a channels_first x is moved there and the result moved back."""
    if not _channels_first(where, data_format):
        return compute(x)
    ndim = len(_shape(x))
    to_last = (0,) + tuple(range(2, ndim)) + (1,)
    y = compute(_movement.Permute.apply(x, axes=to_last))
    return _movement.Permute.apply(y, axes=(0, ndim - 1) + tuple(range(1, ndim - 1)))


def convolution(where, rank, x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
                workspace=None):
    """The checked convolution: x (N, L, C) or (N, H, W, C), kernel (k, cin, cout) or (kh, kw, cin, cout),
    ``activation`` a name the op fuses (ops.activation.FUSABLE); ``where`` names the caller in errors."""
    layout = "(N, L, C)" if rank == 1 else "(N, H, W, C)"
    kernel_layout = "(k, cin, cout)" if rank == 1 else "(kh, kw, cin, cout)"
    x_shape = check_rank(where, "input", x, rank + 2, layout)
    k_shape = check_rank(where, "kernel", kernel, rank + 2, kernel_layout)
    if x_shape[-1] != k_shape[-2]:
        raise ValueError(f"{where}: input has {x_shape[-1]} channels (shape {tuple(x_shape)}) but the "
                         f"kernel expects {k_shape[-2]} (shape {tuple(k_shape)})")
    if bias is not None and tuple(_shape(bias)) != (k_shape[-1],):
        raise ValueError(f"{where}: bias must have shape ({k_shape[-1]},) to match the kernel's "
                         f"{k_shape[-1]} filters, got {tuple(_shape(bias))}")
    padding = _check_padding(where, padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
    strides = as_tuple(strides, rank, "strides", where)
    dilation = as_tuple(dilation_rate, rank, "dilation_rate", where)
    if any(k <= 0 for k in k_shape[:rank]) or k_shape[-1] <= 0:
        raise ValueError(f"{where}: kernel shape {tuple(k_shape)} has an empty axis")
    out_size, pads = window_geometry(where, tuple(x_shape[1:-1]), tuple(k_shape[:rank]), strides,
                                     dilation, padding)
    activation = "linear" if activation is None else activation
    if activation not in _activation.FUSABLE:
        raise ValueError(f"{where}: activation {activation!r} cannot be fused into the convolution; "
                         f"expected one of {', '.join(sorted(_activation.FUSABLE))} (apply others to the output)")
    op = Conv1D if rank == 1 else Conv2D
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return op.apply(*inputs, strides=strides, dilation=dilation, pads=pads, out_size=out_size,
                    activation=activation, workspace=NO_WORKSPACE if workspace is None else workspace)


def _checked_shapes(where, rank, x, kernel, kernel_layout):
    """The shapes of x (N, L, C) or (N, H, W, C) and of a kernel of rank + 2 axes, none of them empty."""
    x_shape = check_rank(where, "input", x, rank + 2, "(N, L, C)" if rank == 1 else "(N, H, W, C)")
    k_shape = check_rank(where, "kernel", kernel, rank + 2, kernel_layout)
    if any(k <= 0 for k in k_shape):
        raise ValueError(f"{where}: kernel shape {tuple(k_shape)} has an empty axis")
    return x_shape, k_shape


def _check_bias(where, bias, channels):
    if bias is not None and tuple(_shape(bias)) != (channels,):
        raise ValueError(f"{where}: bias must have shape ({channels},) to match the {channels} output channels, "
                         f"got {tuple(_shape(bias))}")


def _non_negative_tuple(value, rank, name, where):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * rank
    if not (isinstance(value, (tuple, list)) and len(value) == rank and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise ValueError(f"{where}: {name} must be a non-negative int or a tuple of {rank} of them, got {value!r}")
    return tuple(int(v) for v in value)


def _window_args(where, rank, x_shape, window, strides, padding, dilation_rate):
    padding = _check_padding(where, padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
    strides = as_tuple(strides, rank, "strides", where)
    dilation = as_tuple(dilation_rate, rank, "dilation_rate", where)
    out_size, pads = window_geometry(where, tuple(x_shape[1:-1]), tuple(window), strides, dilation, padding)
    return dict(strides=strides, dilation=dilation, pads=pads, out_size=out_size)


def grouped_convolution(where, rank, x, kernel, bias=None, groups=1, strides=1, padding="valid", dilation_rate=1):
    """The checked grouped convolution: kernel (k, cin/groups, filters) or (kh, kw, cin/groups, filters); group g's
    filters (g*filters/groups, ...) see input channels g*cin/groups, ... only. groups = cin is a depthwise
    convolution (kernel (kh, kw, 1, cin*m): output channel c*m + j from input channel c)."""
    x_shape, k_shape = _checked_shapes(where, rank, x, kernel,
                                       "(k, cin/groups, filters)" if rank == 1 else "(kh, kw, cin/groups, filters)")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive integer, received groups={groups!r}")
    cin, filters = x_shape[-1], k_shape[-1]
    if cin % groups or filters % groups or k_shape[-2] * groups != cin:
        raise ValueError(f"{where}: groups={groups} needs input channels ({cin}) and filters ({filters}) divisible "
                         f"by it and a kernel of cin/groups = {cin // groups if cin % groups == 0 else '?'} "
                         f"channels, got kernel shape {tuple(k_shape)}")
    _check_bias(where, bias, filters)
    geometry = _window_args(where, rank, x_shape, k_shape[:rank], strides, padding, dilation_rate)
    x = _tensor(x)
    if groups == cin and groups > 1:  # one channel per group: the depthwise kernel (..., cin, filters/cin)
        kernel = _movement.Reshape.apply(_tensor(kernel), shape=tuple(k_shape[:rank]) + (cin, filters // cin))
        op = DepthwiseConv1D if rank == 1 else DepthwiseConv2D
        return op.apply(*((x, kernel) if bias is None else (x, kernel, bias)), **geometry)
    op = GroupedConv1D if rank == 1 else GroupedConv2D
    return op.apply(*((x, kernel) if bias is None else (x, kernel, bias)), groups=int(groups), **geometry)


def depthwise_convolution(where, rank, x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """The checked depthwise convolution: kernel (k, cin, m) or (kh, kw, cin, m) -> cin*m output channels,
    channel c*m + j from input channel c."""
    x_shape, k_shape = _checked_shapes(where, rank, x, kernel,
                                       "(k, cin, multiplier)" if rank == 1 else "(kh, kw, cin, multiplier)")
    if x_shape[-1] != k_shape[-2]:
        raise ValueError(f"{where}: input has {x_shape[-1]} channels (shape {tuple(x_shape)}) but the kernel "
                         f"expects {k_shape[-2]} (shape {tuple(k_shape)})")
    _check_bias(where, bias, k_shape[-2] * k_shape[-1])
    geometry = _window_args(where, rank, x_shape, k_shape[:rank], strides, padding, dilation_rate)
    op = DepthwiseConv1D if rank == 1 else DepthwiseConv2D
    return op.apply(*((_tensor(x), kernel) if bias is None else (_tensor(x), kernel, bias)), **geometry)


def transposed_convolution(where, rank, x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                           dilation_rate=1):
    """The checked transposed convolution: kernel (k, filters, cin) or (kh, kw, filters, cin), Keras' layout;
    output sizes by TensorFlow's rule (ops.conv_variants.transpose_geometry)."""
    x_shape, k_shape = _checked_shapes(where, rank, x, kernel,
                                       "(k, filters, cin)" if rank == 1 else "(kh, kw, filters, cin)")
    if x_shape[-1] != k_shape[-1]:
        raise ValueError(f"{where}: input has {x_shape[-1]} channels (shape {tuple(x_shape)}) but the kernel "
                         f"expects {k_shape[-1]} (its last axis; shape {tuple(k_shape)})")
    _check_bias(where, bias, k_shape[-2])
    padding = _check_padding(where, padding, ("valid", "same"))
    strides = as_tuple(strides, rank, "strides", where)
    dilation = as_tuple(dilation_rate, rank, "dilation_rate", where)
    if output_padding is not None:
        output_padding = _non_negative_tuple(output_padding, rank, "output_padding", where)
        if any(p >= s for p, s in zip(output_padding, strides)):
            raise ValueError(f"{where}: output_padding {output_padding} must be smaller than strides {strides}")
    if any(n <= 0 for n in x_shape[1:-1]):
        raise ValueError(f"{where}: input spatial size {tuple(x_shape[1:-1])} is empty")
    geometry = [transpose_geometry(n, k, s, d, padding, None if output_padding is None else p)
                for n, k, s, d, p in zip(x_shape[1:-1], k_shape[:rank], strides, dilation,
                                         output_padding or (None,) * rank)]
    out_size, crops = tuple(g[0] for g in geometry), tuple(g[1] for g in geometry)
    inputs = (_tensor(x), kernel) if bias is None else (_tensor(x), kernel, bias)
    op = Conv1DTranspose if rank == 1 else Conv2DTranspose
    return op.apply(*inputs, strides=strides, dilation=dilation, crops=crops, out_size=out_size)


def pooling(where, kind, rank, x, pool_size, strides=None, padding="valid", workspace=None):
    """The checked max ('max') or average ('avg') pooling over windows of x (N, L, C) or (N, H, W, C)."""
    layout = "(N, L, C)" if rank == 1 else "(N, H, W, C)"
    x_shape = check_rank(where, "input", x, rank + 2, layout)
    padding = _check_padding(where, padding, ("valid", "same"))
    pool_size = as_tuple(pool_size, rank, "pool_size", where)
    strides = pool_size if strides is None else as_tuple(strides, rank, "strides", where)
    out_size, pads = window_geometry(where, tuple(x_shape[1:-1]), pool_size, strides, (1,) * rank,
                                     padding, window_name="pool_size")
    op = {("max", 1): MaxPool1D, ("max", 2): MaxPool2D, ("avg", 1): AvgPool1D, ("avg", 2): AvgPool2D}[(kind, rank)]
    return op.apply(x, pool_size=pool_size, strides=strides, pads=pads, out_size=out_size,
                    workspace=NO_WORKSPACE if workspace is None else workspace)


def _spatial_rank(where, x):
    rank = len(_shape(x)) - 2
    if rank not in (1, 2):
        raise NotImplementedError(f"{where}: only 1-D and 2-D inputs ((N, L, C) or (N, H, W, C)) are supported, "
                                  f"received shape {tuple(_shape(x))}")
    return rank


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """keras.ops.conv: cross-correlation of ``inputs`` with ``kernel`` (spatial..., cin/groups, cout); a kernel
    with fewer input channels than ``inputs`` makes it a grouped convolution, as in Keras."""
    def compute(x):
        rank = _spatial_rank("conv", x)
        groups = _shape(x)[-1] // _shape(kernel)[-2] if len(_shape(kernel)) == rank + 2 and _shape(kernel)[-2] else 1
        if groups > 1:
            return grouped_convolution("conv", rank, x, kernel, None, groups, strides, padding, dilation_rate)
        return convolution("conv", rank, x, kernel, None, strides, padding, dilation_rate)
    return _in_channels_last("conv", data_format, compute, _tensor(inputs))


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """keras.ops.conv_transpose: the transposed convolution, kernel (spatial..., filters, cin)."""
    return _in_channels_last("conv_transpose", data_format, lambda x: transposed_convolution(
        "conv_transpose", _spatial_rank("conv_transpose", x), x, kernel, None, strides, padding, output_padding,
        dilation_rate), _tensor(inputs))


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """keras.ops.depthwise_conv: each input channel convolved with its own kernel(s), kernel (spatial..., cin, m)
    -> cin * m output channels (channel c*m + j from input channel c)."""
    return _in_channels_last("depthwise_conv", data_format, lambda x: depthwise_convolution(
        "depthwise_conv", _spatial_rank("depthwise_conv", x), x, kernel, None, strides, padding, dilation_rate),
        _tensor(inputs))


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """keras.ops.separable_conv: a depthwise convolution, then a 1x1 convolution with ``pointwise_kernel``
    (1..., cin * m, filters)."""
    def compute(x):
        depthwise = depthwise_conv(x, depthwise_kernel, strides, padding, None, dilation_rate)
        return convolution("separable_conv", _spatial_rank("separable_conv", x), depthwise, pointwise_kernel)
    return _in_channels_last("separable_conv", data_format, compute, _tensor(inputs))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _in_channels_last("max_pool", data_format, lambda x: pooling(
        "max_pool", "max", _spatial_rank("max_pool", x), x, pool_size, strides, padding), _tensor(inputs))


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _in_channels_last("average_pool", data_format, lambda x: pooling(
        "average_pool", "avg", _spatial_rank("average_pool", x), x, pool_size, strides, padding), _tensor(inputs))


# ---- crossentropies ----------------------------------------------------------------------------------
def _same_shape(who, target, output):
    if target.shape != output.shape:
        raise ValueError(f"{who}: target and output must have the same shape, received target shape "
                         f"{target.shape} and output shape {output.shape}")


def _log_probabilities(output, from_logits, axis):
    if from_logits:
        return ACTIVATIONS["log_softmax"](output, axis=axis)
    probs = output / sum(output, axis=axis, keepdims=True)
    return log(clip(probs, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log p) along ``axis``, p = softmax(output) or output renormalized and clipped."""
    output = _tensor(output)
    target = convert_to_numpy(target).astype(output.dtype, copy=False)
    _same_shape("categorical_crossentropy", target, output)
    return negative(sum(multiply(_log_probabilities(output, from_logits, axis), target), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-log p[target] for integer class labels ``target`` (one axis fewer than output)."""
    output = _tensor(output)
    labels = convert_to_numpy(target)
    if labels.ndim == output.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != output.shape[:axis % output.ndim] + output.shape[axis % output.ndim + 1:]:
        raise ValueError(f"sparse_categorical_crossentropy: target of shape {labels.shape} does not match "
                         f"output of shape {output.shape} without its class axis {axis}")
    mask = one_hot(labels, output.shape[axis], axis=axis, dtype=output.dtype).data
    return negative(sum(multiply(_log_probabilities(output, from_logits, axis), mask), axis=axis))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)); from logits x it is softplus(x) - x t, which never overflows."""
    output = _tensor(output)
    target = convert_to_numpy(target).astype(output.dtype, copy=False)
    _same_shape("binary_crossentropy", target, output)
    if from_logits:
        return ACTIVATIONS["softplus"](output) - output * target
    p = clip(output, EPSILON, 1.0 - EPSILON)
    return negative(log(p) * target + log(1.0 - p) * (1.0 - target))


__all__ = sorted(set(ACTIVATIONS) - {"linear", "exponential"}) + [
    "log_sigmoid", "hard_tanh", "one_hot", "moments", "normalize", "conv", "conv_transpose", "depthwise_conv",
    "separable_conv", "max_pool", "average_pool",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"]
