"""Fused Dense: y = activation(x @ kernel + bias) as one op, forward and backward.

The unfused chain is three ops (MatMul, Add, an activation), each a Python call, a graph
node and a fresh array. Here the bias is added in place into the GEMM's output, the
activation kernel runs once on it, and backward makes one pass: the activation's
derivative, then the three GEMM-side gradients, each only when that input needs one.

Only activations whose derivative reads a single saved array are fused (the output ``y``
for the ReLU family, sigmoid and tanh; the pre-activation ``z`` for the smooth ones).
Softmax and custom callables stay separate ops: ``FUSABLE`` says which names fuse.
"""
import ctypes
import glob
import os
import threading

import numpy as np

from ..function import Function
from .._kernels import activations as K

SELU_ALPHA = K.SELU_ALPHA
SELU_SCALE = K.SELU_SCALE

# name -> (forward(z) -> y, backward(g, saved) -> dz, which array backward reads: "y" or "z").
# Keras' defaults: leaky_relu slope 0.2, elu alpha 1, gelu exact.
_ACTIVATIONS = {
    "relu": (K.relu_forward, K.relu_backward, "y"),
    "relu6": (lambda z: K.clipped_relu_forward(z, 6.0),
              lambda g, y: K.clipped_relu_backward(g, y, 6.0), "y"),
    "leaky_relu": (lambda z: K.leaky_relu_forward(z, 0.2),
                   lambda g, y: K.leaky_relu_backward(g, y, 0.2), "y"),
    "sigmoid": (K.sigmoid_forward, K.sigmoid_backward, "y"),
    "tanh": (K.tanh_forward, K.tanh_backward, "y"),
    "elu": (lambda z: K.elu_forward(z, 1.0, 1.0), lambda g, z: K.elu_backward(g, z, 1.0, 1.0), "z"),
    "selu": (lambda z: K.elu_forward(z, SELU_ALPHA, SELU_SCALE),
             lambda g, z: K.elu_backward(g, z, SELU_ALPHA, SELU_SCALE), "z"),
    "gelu": (lambda z: K.gelu_forward(z, False), lambda g, z: K.gelu_backward(g, z, False), "z"),
    "silu": (K.silu_forward, K.silu_backward, "z"),
    "swish": (K.silu_forward, K.silu_backward, "z"),
    "softplus": (K.softplus_forward, K.softplus_backward, "z"),
}
FUSABLE = frozenset(_ACTIVATIONS) | {"linear"}

# ---- BLAS threads for small GEMMs ------------------------------------------------------------
# OpenBLAS splits a GEMM over its threads from about 2.6e5 multiply-adds (m*n*k) on. For the
# small layers of a small MLP the split saves a few microseconds on an idle machine, but when
# the other core is busy (another process, PyTorch's OpenMP pool spinning) the calling thread
# waits for a descheduled worker: measured 0.2 ms steps turning into 3-50 ms ones. Below
# SINGLE_THREAD_BELOW multiply-adds a GEMM therefore runs on the calling thread alone
# (openblas_set_num_threads_local: this thread only, ~0.2 us a call). Large GEMMs keep every
# BLAS thread. Without numpy's bundled OpenBLAS this is a no-op.
SINGLE_THREAD_BELOW = 4_000_000


def _find_local_thread_setter():
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "lib*openblas*.so*"))):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


_set_local_threads = _find_local_thread_setter()
_blas_threads_lock = threading.Lock()


def _gemm(a, b, work):
    """a @ b, on one BLAS thread when ``work`` (m*n*k) is below SINGLE_THREAD_BELOW."""
    if _set_local_threads is None or work >= SINGLE_THREAD_BELOW:
        return np.matmul(a, b)
    # OpenBLAS's "local" setter acts process-wide here: without the lock, two Python threads
    # interleaving save/set/restore can leave BLAS on one thread for good.
    with _blas_threads_lock:
        previous = _set_local_threads(1)
        try:
            return np.matmul(a, b)
        finally:
            _set_local_threads(previous)


_ones_cache = {}


def _column_sums(g):
    """g.sum(axis=0) as a BLAS matrix-vector product with ones: 2-3x faster than numpy's reduction here."""
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
        forward_kernel, self.backward_kernel, reads = _ACTIVATIONS[activation]
        y = forward_kernel(z)
        self.saved = y if reads == "y" else z
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
