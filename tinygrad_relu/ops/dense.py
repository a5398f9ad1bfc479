"""Fused Dense: y = activation(x @ kernel + bias) as one op, forward and backward.

The unfused chain is three ops (MatMul, Add, an activation), each a Python call, a graph
node and a fresh array. Here the bias is added in place into the GEMM's output, the
activation kernel runs once on it, and backward makes one pass: the activation's
derivative, then the three GEMM-side gradients, each only when that input needs one.

Every kernel-backed activation of the table in ops/activation.py fuses (its derivative reads
one saved array: the output ``y`` for the ReLU family, sigmoid and tanh, the pre-activation
``z`` for the smooth ones). Softmax and custom callables stay separate ops: ``FUSABLE`` says
which names fuse.
"""
import numpy as np

from .. import _blas
from ..tensor import Function
from .activation import FUSED, FUSABLE  # noqa: F401  (FUSABLE: the names dense() accepts)

_gemm = _blas.gemm


_ones_cache = {}


def _column_sums(g):
    """g.sum(axis=0) as a BLAS matrix-vector product with ones (measured faster than numpy's reduction here)."""
    key = (g.shape[0], g.dtype)
    ones = _ones_cache.get(key)
    if ones is None:
        if len(_ones_cache) > 64:  # batch sizes vary little; keep the cache from growing unbounded
            _ones_cache.clear()
        ones = _ones_cache[key] = np.ones(g.shape[0], dtype=g.dtype)
    return _gemm(ones, g, g.size)


class Dense(Function):
    """y = act(x W + b);  dz = act'(z) g,  dx = dz W^T,  dW = x^T dz,  db = sum over rows of dz"""
    fresh_grads = True  # backward's three gradients are new arrays (GEMM and sum outputs)

    def forward(self, x, kernel, *bias, activation="linear"):
        # x (n, in) and kernel (in, out) of one float dtype: the layer guarantees it
        self.work = x.shape[0] * kernel.shape[0] * kernel.shape[1]  # multiply-adds of each GEMM here
        z = _gemm(x, kernel, self.work)
        if bias:
            z += bias[0]  # in place: the GEMM's output is ours
        self.x, self.kernel = x, kernel
        if activation == "linear":
            self.backward_kernel = None
            return z
        fused = FUSED[activation]
        y = fused.forward(z)
        self.backward_kernel = fused.backward
        self.saved = y if fused.saves == "y" else z
        return y

    def backward(self, g):
        if self.backward_kernel is not None:
            saved = self.saved
            if g.dtype != saved.dtype or not g.flags.c_contiguous:
                g = np.ascontiguousarray(g, dtype=saved.dtype)
            g = self.backward_kernel(g, saved)
        needs = self.needs_input_grad
        work = self.work
        gx = _gemm(g, self.kernel.T, work) if needs[0] else None
        gk = _gemm(self.x.T, g, work) if needs[1] else None
        if len(needs) == 2:
            return gx, gk
        return gx, gk, (_column_sums(g) if needs[2] else None)


def dense(x, kernel, bias=None, activation="linear"):
    """Tensors in, Tensor out: ``activation(x @ kernel + bias)``; x 2-D, all of one dtype, ``activation`` in FUSABLE."""
    if bias is None:
        return Dense.apply(x, kernel, activation=activation)
    return Dense.apply(x, kernel, bias, activation=activation)
