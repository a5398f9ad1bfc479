"""Pooling ops, channels_last: max and average over windows (kernels in cysrc/pool.pyx).

Padding follows Keras: "same" windows that hang over the edge see only the real cells, so
max pooling ignores the padding and average pooling divides by the real cell count.
"""
import numpy as np

from .. import _state
from .._kernels import pool as _kernels
from ..tensor import Function
from . import convolution
from .convolution import NO_WORKSPACE, float_dtype

# Pooling goes multi-threaded from this many window reads: ops/convolution.py's threshold for
# memory-bound passes (there: why it depends on the BLAS runner). The 2x2 pool of (e)'s 24x24x64
# layer at batch 128 (4.7M reads) took 3.1 / 2.6 ms forward / backward on one thread, 1.75 / 1.1 on two.
PARALLEL_MIN_WORK = convolution.PARALLEL_MIN_WORK


def _prepare(x):
    return np.ascontiguousarray(x, dtype=float_dtype(x))


class MaxPool2D(Function):
    """y = max over the window;  dx = dy at the window's (first) maximum, 0 elsewhere"""
    fresh_grads = True  # dx from Workspace.recycle: reused only once nobody holds it

    def forward(self, x, pool_size, strides, pads, out_size, workspace=NO_WORKSPACE):
        x = _prepare(x)
        n, h, w, c = x.shape
        (ph, pw), (sh, sw), (pt, pl), (oh, ow) = pool_size, strides, pads, out_size
        self.x_shape, self.dtype, self.workspace = x.shape, x.dtype, workspace
        self.parallel = n > 1 and n * oh * ow * ph * pw * c >= PARALLEL_MIN_WORK
        # the seed CNN's 2x2 / stride 2 / no padding has its own kernels (measured faster than
        # the general ones, which must zero dx and scatter: docs/performance.md, "The CNN workloads")
        self.two_by_two = (pool_size == (2, 2) and strides == (2, 2) and pads == (0, 0)
                           and out_size == (h // 2, w // 2))
        out = workspace.recycle("out", (n, oh, ow, c), x.dtype)
        argmax = workspace.take("argmax", (n, oh, ow, c), np.int32)
        if self.two_by_two:
            _kernels.max_pool_2x2(x, out, argmax, self.parallel)
        else:
            _kernels.max_pool_2d(x, out, argmax, ph, pw, sh, sw, pt, pl, self.parallel)
        if _state.local.grad_enabled and self.needs_input_grad[0]:
            self.argmax = argmax
        else:  # no backward will read it
            self.argmax = None
            workspace.give("argmax", argmax)
        return out

    def backward(self, grad):
        grad = np.ascontiguousarray(grad, dtype=self.dtype)
        if self.two_by_two:
            dx = self.workspace.recycle("dx", self.x_shape, self.dtype)  # the kernel writes every cell
            _kernels.max_pool_2x2_backward(grad, self.argmax, dx, self.parallel)
        else:
            dx = self.workspace.recycle("dx", self.x_shape, self.dtype)
            dx.fill(0)
            _kernels.max_pool_2d_backward(grad, self.argmax, dx, self.parallel)
        return dx.astype(self.parents[0].data.dtype, copy=False)

    def release(self):
        """The graph is freed: hand the argmax buffer back to the workspace."""
        self.workspace.give("argmax", self.argmax)
        self.argmax = None


class AvgPool2D(Function):
    """y = mean of the window's real cells;  dx = dy / (real cell count) on each of them"""
    fresh_grads = True  # dx: new zeros

    def forward(self, x, pool_size, strides, pads, out_size, workspace=NO_WORKSPACE):
        x = _prepare(x)
        n, h, w, c = x.shape
        (ph, pw), (sh, sw), (pt, pl), (oh, ow) = pool_size, strides, pads, out_size
        self.x_shape, self.dtype = x.shape, x.dtype
        self.geometry = (ph, pw, sh, sw, pt, pl)
        self.parallel = n > 1 and n * oh * ow * ph * pw * c >= PARALLEL_MIN_WORK
        out = np.empty((n, oh, ow, c), dtype=x.dtype)
        _kernels.avg_pool_2d(x, out, ph, pw, sh, sw, pt, pl, self.parallel)
        return out

    def backward(self, grad):
        grad = np.ascontiguousarray(grad, dtype=self.dtype)
        dx = np.zeros(self.x_shape, dtype=self.dtype)
        _kernels.avg_pool_2d_backward(grad, dx, *self.geometry, self.parallel)
        return dx.astype(self.parents[0].data.dtype, copy=False)


class MaxPool1D(MaxPool2D):
    """max pooling of a height-1 image;  dx = dy at each window's maximum"""

    def forward(self, x, pool_size, strides, pads, out_size, workspace=NO_WORKSPACE):
        return super().forward(x[:, None], (1, pool_size[0]), (1, strides[0]), (0, pads[0]),
                               (1, out_size[0]), workspace)[:, 0]

    def backward(self, grad):
        return super().backward(grad[:, None])[:, 0]


class AvgPool1D(AvgPool2D):
    """average pooling of a height-1 image;  dx = dy / (real cell count) on the window"""

    def forward(self, x, pool_size, strides, pads, out_size, workspace=NO_WORKSPACE):
        return super().forward(x[:, None], (1, pool_size[0]), (1, strides[0]), (0, pads[0]),
                               (1, out_size[0]), workspace)[:, 0]

    def backward(self, grad):
        return super().backward(grad[:, None])[:, 0]
