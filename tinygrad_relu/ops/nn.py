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
from .convolution import NO_WORKSPACE, Conv1D, Conv2D, as_tuple, window_geometry
from .core import convert_to_numpy, convert_to_tensor
from .numpy import clip, log, maximum, mean, multiply, negative, sqrt, square, sum, var
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
    """x divided by its L2 norm along ``axis`` (order 2 only)."""
    if order != 2:
        raise NotImplementedError(f"normalize: only order=2 is supported, received order={order!r}")
    x = _tensor(x)
    norm = sqrt(maximum(sum(square(x), axis=axis, keepdims=True), 1e-12 if epsilon is None else epsilon))
    return x / norm


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


def _check_data_format(where, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' is supported, received {data_format!r}")


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
    """keras.ops.conv: cross-correlation of channels_last ``inputs`` with ``kernel`` (spatial..., cin, cout)."""
    _check_data_format("conv", data_format)
    return convolution("conv", _spatial_rank("conv", inputs), _tensor(inputs), kernel, None, strides, padding,
                       dilation_rate)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    _check_data_format("max_pool", data_format)
    return pooling("max_pool", "max", _spatial_rank("max_pool", inputs), _tensor(inputs), pool_size, strides,
                   padding)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    _check_data_format("average_pool", data_format)
    return pooling("average_pool", "avg", _spatial_rank("average_pool", inputs), _tensor(inputs), pool_size,
                   strides, padding)


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
    "log_sigmoid", "hard_tanh", "one_hot", "moments", "normalize", "conv", "max_pool", "average_pool",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"]
