"""Neural-network functions on Tensors with Keras' layouts and argument names.

Like ``torch.nn.functional``, but channels_last and with Keras' kernels, so each Keras
layer is a thin shell over one call here::

    >>> import numpy as np, tinygrad_relu as tr
    >>> from tinygrad_relu import functional as F
    >>> x = tr.Tensor(np.ones((2, 28, 28, 1)))                  # (N, H, W, C)
    >>> kernel = tr.Tensor(np.ones((3, 3, 1, 8)), requires_grad=True)   # (kh, kw, cin, cout)
    >>> F.conv2d(x, kernel, padding="same").shape
    (2, 28, 28, 8)

Shapes:
    conv1d  x (N, L, C),    kernel (k, cin, cout)        -> (N, L', cout)
    conv2d  x (N, H, W, C), kernel (kh, kw, cin, cout)   -> (N, H', W', cout)
    pools   x (N, L, C) / (N, H, W, C)                   -> same rank, pooled
    linear  x (..., in),    kernel (in, out)             -> (..., out)
padding is "valid" or "same" (TensorFlow's rule: out = ceil(n / stride), the odd padding
cell goes at the end; conv1d also takes Keras' "causal").
"""
import numpy as np

from .tensor import Tensor
from .ops import activation as _activation
from .ops.conv import NO_WORKSPACE, Conv1D, Conv2D, as_tuple, window_geometry
from .ops.pool import AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D

# The activations, from the table in ops/activation.py, with the Tensor methods' defaults
# (PyTorch's, as torch.nn.functional), so a layer needs nothing but this module.
ACTIVATION_NAMES = tuple(row.name for row in _activation.TABLE if row.tensor is not None)
for _row in _activation.TABLE:
    if _row.tensor is not None:
        globals()[_row.name] = _activation.make_function(_row, _row.tensor)
del _row
swish = silu  # noqa: F821 (defined by the loop above)

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "global_avg_pool1d", "global_avg_pool2d", "global_max_pool1d", "global_max_pool2d",
           "linear", *ACTIVATION_NAMES]


def _shape(x):
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def _check_rank(where, name, x, rank, layout):
    shape = _shape(x)
    if len(shape) != rank:
        raise ValueError(f"{where}: {name} must have rank {rank} {layout}, got shape {tuple(shape)}")
    return shape


def _check_padding(where, padding, allowed):
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"{where}: unknown padding {padding!r}; expected one of "
                         f"{', '.join(repr(p) for p in allowed)}")
    return padding.lower()


# ---- convolution ------------------------------------------------------------------------
def _conv(where, op, rank, x, kernel, bias, strides, padding, dilation_rate, paddings, activation, workspace):
    layout = "(N, L, C)" if rank == 1 else "(N, H, W, C)"
    kernel_layout = "(k, cin, cout)" if rank == 1 else "(kh, kw, cin, cout)"
    x_shape = _check_rank(where, "input", x, rank + 2, layout)
    k_shape = _check_rank(where, "kernel", kernel, rank + 2, kernel_layout)
    if x_shape[-1] != k_shape[-2]:
        raise ValueError(f"{where}: input has {x_shape[-1]} channels (shape {tuple(x_shape)}) but the "
                         f"kernel expects {k_shape[-2]} (shape {tuple(k_shape)})")
    if bias is not None and tuple(_shape(bias)) != (k_shape[-1],):
        raise ValueError(f"{where}: bias must have shape ({k_shape[-1]},) to match the kernel's "
                         f"{k_shape[-1]} filters, got {tuple(_shape(bias))}")
    padding = _check_padding(where, padding, paddings)
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
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return op.apply(*inputs, strides=strides, dilation=dilation, pads=pads, out_size=out_size,
                    activation=activation, workspace=NO_WORKSPACE if workspace is None else workspace)


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, *, activation=None,
           workspace=None):
    """2-D convolution (cross-correlation, as Keras): x (N, H, W, C), kernel (kh, kw, cin, cout).

    ``activation`` (a name in ops.activation.FUSABLE, e.g. "relu") is applied inside the same op:
    ReLU in place on the matrix product's output, its mask taken from the output in backward.
    ``workspace`` (an ops.conv.Workspace a layer keeps) lets scratch buffers be reused across calls.
    """
    return _conv("conv2d", Conv2D, 2, x, kernel, bias, strides, padding, dilation_rate, ("valid", "same"),
                 activation, workspace)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, *, activation=None,
           workspace=None):
    """1-D convolution: x (N, L, C), kernel (k, cin, cout); padding valid, same or causal (see conv2d for the rest)."""
    return _conv("conv1d", Conv1D, 1, x, kernel, bias, strides, padding, dilation_rate,
                 ("valid", "same", "causal"), activation, workspace)


# ---- pooling ----------------------------------------------------------------------------
def _pool(where, op, rank, x, pool_size, strides, padding, workspace=None):
    layout = "(N, L, C)" if rank == 1 else "(N, H, W, C)"
    x_shape = _check_rank(where, "input", x, rank + 2, layout)
    padding = _check_padding(where, padding, ("valid", "same"))
    pool_size = as_tuple(pool_size, rank, "pool_size", where)
    strides = pool_size if strides is None else as_tuple(strides, rank, "strides", where)
    out_size, pads = window_geometry(where, tuple(x_shape[1:-1]), pool_size, strides, (1,) * rank,
                                     padding, window_name="pool_size")
    return op.apply(x, pool_size=pool_size, strides=strides, pads=pads, out_size=out_size,
                    workspace=NO_WORKSPACE if workspace is None else workspace)


def max_pool2d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Max over pool_size windows of x (N, H, W, C); strides default to pool_size."""
    return _pool("max_pool2d", MaxPool2D, 2, x, pool_size, strides, padding, workspace)


def max_pool1d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Max over pool_size windows of x (N, L, C); strides default to pool_size."""
    return _pool("max_pool1d", MaxPool1D, 1, x, pool_size, strides, padding, workspace)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Mean over pool_size windows of x (N, H, W, C), counting real (unpadded) cells only."""
    return _pool("avg_pool2d", AvgPool2D, 2, x, pool_size, strides, padding, workspace)


def avg_pool1d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Mean over pool_size windows of x (N, L, C), counting real (unpadded) cells only."""
    return _pool("avg_pool1d", AvgPool1D, 1, x, pool_size, strides, padding, workspace)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W of x (N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims)."""
    _check_rank("global_avg_pool2d", "input", x, 4, "(N, H, W, C)")
    return _as_tensor(x).mean(axis=(1, 2), keepdims=keepdims)


def global_avg_pool1d(x, keepdims=False):
    """Mean over L of x (N, L, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _check_rank("global_avg_pool1d", "input", x, 3, "(N, L, C)")
    return _as_tensor(x).mean(axis=1, keepdims=keepdims)


def global_max_pool2d(x, keepdims=False):
    """Max over H and W of x (N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims)."""
    _check_rank("global_max_pool2d", "input", x, 4, "(N, H, W, C)")
    return _as_tensor(x).max(axis=(1, 2), keepdims=keepdims)


def global_max_pool1d(x, keepdims=False):
    """Max over L of x (N, L, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _check_rank("global_max_pool1d", "input", x, 3, "(N, L, C)")
    return _as_tensor(x).max(axis=1, keepdims=keepdims)


# ---- dense ------------------------------------------------------------------------------
def linear(x, kernel, bias=None):
    """x @ kernel + bias with Keras' Dense layout: x (..., in), kernel (in, out), bias (out,)."""
    x_shape, k_shape = _shape(x), _shape(kernel)
    if len(k_shape) != 2:
        raise ValueError(f"linear: kernel must have rank 2 (in, out), got shape {tuple(k_shape)}")
    if len(x_shape) < 1 or x_shape[-1] != k_shape[0]:
        last = x_shape[-1] if len(x_shape) else None
        raise ValueError(f"linear: input of shape {tuple(x_shape)} has last axis {last}, but the kernel of "
                         f"shape {tuple(k_shape)} expects {k_shape[0]} inputs")
    if bias is not None and tuple(_shape(bias)) != (k_shape[1],):
        raise ValueError(f"linear: bias must have shape ({k_shape[1]},) to match kernel {tuple(k_shape)}, "
                         f"got {tuple(_shape(bias))}")
    y = _as_tensor(x) @ kernel
    return y if bias is None else y + bias
