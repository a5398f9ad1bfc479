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
from .ops import activation as _activation, nn as _nn

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


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, *, activation=None,
           workspace=None):
    """2-D convolution (cross-correlation, as Keras): x (N, H, W, C), kernel (kh, kw, cin, cout).

    ``activation`` (a name in ops.activation.FUSABLE, e.g. "relu") is applied inside the same op:
    ReLU in place on the matrix product's output, its mask taken from the output in backward.
    ``workspace`` (an ops.convolution.Workspace a layer keeps) lets scratch buffers be reused across calls.
    """
    return _nn.convolution("conv2d", 2, x, kernel, bias, strides, padding, dilation_rate, activation, workspace)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, *, activation=None,
           workspace=None):
    """1-D convolution: x (N, L, C), kernel (k, cin, cout); padding valid, same or causal (see conv2d for the rest)."""
    return _nn.convolution("conv1d", 1, x, kernel, bias, strides, padding, dilation_rate, activation, workspace)


# ---- pooling ----------------------------------------------------------------------------
def max_pool2d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Max over pool_size windows of x (N, H, W, C); strides default to pool_size."""
    return _nn.pooling("max_pool2d", "max", 2, x, pool_size, strides, padding, workspace)


def max_pool1d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Max over pool_size windows of x (N, L, C); strides default to pool_size."""
    return _nn.pooling("max_pool1d", "max", 1, x, pool_size, strides, padding, workspace)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Mean over pool_size windows of x (N, H, W, C), counting real (unpadded) cells only."""
    return _nn.pooling("avg_pool2d", "avg", 2, x, pool_size, strides, padding, workspace)


def avg_pool1d(x, pool_size=2, strides=None, padding="valid", *, workspace=None):
    """Mean over pool_size windows of x (N, L, C), counting real (unpadded) cells only."""
    return _nn.pooling("avg_pool1d", "avg", 1, x, pool_size, strides, padding, workspace)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W of x (N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims)."""
    _nn.check_rank("global_avg_pool2d", "input", x, 4, "(N, H, W, C)")
    return _as_tensor(x).mean(axis=(1, 2), keepdims=keepdims)


def global_avg_pool1d(x, keepdims=False):
    """Mean over L of x (N, L, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _nn.check_rank("global_avg_pool1d", "input", x, 3, "(N, L, C)")
    return _as_tensor(x).mean(axis=1, keepdims=keepdims)


def global_max_pool2d(x, keepdims=False):
    """Max over H and W of x (N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims)."""
    _nn.check_rank("global_max_pool2d", "input", x, 4, "(N, H, W, C)")
    return _as_tensor(x).max(axis=(1, 2), keepdims=keepdims)


def global_max_pool1d(x, keepdims=False):
    """Max over L of x (N, L, C) -> (N, C) (or (N, 1, C) with keepdims)."""
    _nn.check_rank("global_max_pool1d", "input", x, 3, "(N, L, C)")
    return _as_tensor(x).max(axis=1, keepdims=keepdims)


# ---- dense ------------------------------------------------------------------------------
def linear(x, kernel, bias=None):
    """x @ kernel + bias with Keras' Dense layout: x (..., in), kernel (in, out), bias (out,)."""
    x_shape, k_shape = np.shape(x), np.shape(kernel)
    if len(k_shape) != 2:
        raise ValueError(f"linear: kernel must have rank 2 (in, out), got shape {tuple(k_shape)}")
    if len(x_shape) < 1 or x_shape[-1] != k_shape[0]:
        last = x_shape[-1] if len(x_shape) else None
        raise ValueError(f"linear: input of shape {tuple(x_shape)} has last axis {last}, but the kernel of "
                         f"shape {tuple(k_shape)} expects {k_shape[0]} inputs")
    if bias is not None and tuple(np.shape(bias)) != (k_shape[1],):
        raise ValueError(f"linear: bias must have shape ({k_shape[1]},) to match kernel {tuple(k_shape)}, "
                         f"got {tuple(np.shape(bias))}")
    y = _as_tensor(x) @ kernel
    return y if bias is None else y + bias
