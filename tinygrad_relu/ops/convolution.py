"""Convolution ops (channels_last, Keras kernel layouts) and the window geometry they share with pooling.

Conv2D lowers to a matrix product: ``cols`` (one row per output pixel holding its receptive
field, built by the Cython im2col) times the kernel reshaped to (kh*kw*cin, cout). The
product goes to numpy's BLAS; im2col / col2im and the direct loops live in cysrc/conv.pyx.
"""
import sys

import numpy as np

from .. import _blas, _memory, _state
from .._kernels import conv as _kernels
from ..tensor import Function
from . import winograd
from .activation import FUSABLE, FUSED  # noqa: F401  (FUSABLE: the names the ops accept)

# The memory-bound passes (im2col / col2im here, the fused ReLU, pooling in ops/pool.py) go
# multi-threaded from this many elements. They once needed 8M: right after a GEMM, OpenBLAS's
# worker still spun on the second core, so a 2-thread region could take 10x longer. With
# OpenBLAS's jobs on our own OpenMP team (_blas.runner_installed()) nothing spins there but our
# team, and two threads paid from 0.4M elements on (im2col of 64x28x28x1: 0.66-0.87 -> 0.42-0.52
# ms; docs/performance.md, "Measurements behind the thresholds"). Without the runner, the old 8M.
PARALLEL_MIN_WORK = 500_000 if _blas.runner_installed() else 8_000_000

# The Winograd kernels (ops/winograd.py: transforms and products per block of tiles) do far more
# arithmetic per element than im2col's copy. With the BLAS runner, two threads paid at every size
# measured, down to 15k (output pixels x input channels): forward + backward of the seed CNN's
# 13x13x32 -> 64 layer 6.5 -> 3.0 ms at batch 64, 0.27 -> 0.21 ms at batch 4; (e)'s 12x12x64 -> 128
# layer 37-44 -> 22-23 ms at batch 128, which the old 1M threshold had left on one thread
# (docs/performance.md, "The third round"). Without the runner, the old 1M.
WINOGRAD_PARALLEL_MIN_WORK = 10_000 if _blas.runner_installed() else 1_000_000

PADDINGS = ("valid", "same")


# ---- geometry: output sizes and padding, Keras/TensorFlow rules --------------------
def as_tuple(value, rank, name, where):
    """An int or a sequence of ``rank`` ints, each positive, as a tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * rank
    elif isinstance(value, (tuple, list)) and len(value) == rank and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        values = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{where}: {name} must be an int or a tuple of {rank} ints, got {value!r}")
    if any(v <= 0 for v in values):
        raise ValueError(f"{where}: {name} must be positive, got {value!r}")
    return values


def _fmt(sizes):
    return "x".join(str(s) for s in sizes)


def window_geometry(where, in_size, window, strides, dilation, padding, window_name="kernel"):
    """Output size and leading padding per spatial axis.

    valid: out = floor((n - span) / stride) + 1 where span = (k - 1) * dilation + 1.
    same:  out = ceil(n / stride); the total padding max((out-1)*stride + span - n, 0) is
           split with the odd cell at the end (TensorFlow's rule, which Keras inherits).
    causal (1-D convolution only): all the padding, (k - 1) * dilation, goes first.
    """
    spans = tuple((k - 1) * d + 1 for k, d in zip(window, dilation))
    if any(n <= 0 for n in in_size):
        raise ValueError(f"{where}: input spatial size {_fmt(in_size)} is empty")
    if padding == "valid":
        if any(s > n for s, n in zip(spans, in_size)):
            dilated = f" with dilation_rate {dilation} spans {_fmt(spans)} and" if spans != tuple(window) else ""
            raise ValueError(f"{where}: {window_name} {_fmt(window)}{dilated} does not fit input "
                             f"{_fmt(in_size)} with padding='valid'")
        out = tuple((n - s) // st + 1 for n, s, st in zip(in_size, spans, strides))
        return out, (0,) * len(in_size)
    if padding == "same":
        out = tuple(-(-n // st) for n, st in zip(in_size, strides))
        pads = tuple(max((o - 1) * st + s - n, 0) // 2 for o, st, s, n in zip(out, strides, spans, in_size))
        return out, pads
    if padding == "causal":
        out = tuple(-(-n // st) for n, st in zip(in_size, strides))
        return out, tuple(s - 1 for s in spans)
    raise ValueError(f"{where}: unknown padding {padding!r}; expected one of {', '.join(map(repr, PADDINGS))}")


def float_dtype(*arrays):
    """The computation dtype: float64 if any float input is float64, else float32."""
    kinds = [a.dtype for a in arrays if a.dtype.kind == "f"]
    return np.dtype(np.float64) if any(d.itemsize >= 8 for d in kinds) else np.dtype(np.float32)


# ---- scratch buffers a layer reuses ----------------------------------------------------
class Workspace:
    """Scratch buffers that one layer reuses from step to step: one slot per name.

    Why: a fresh multi-megabyte numpy array is fresh pages from the kernel, and filling
    them (page faults, zeroing) cost more than the im2col copy itself (measured: about 40% of a
    seed-CNN step; docs/performance.md, "The CNN workloads"). A buffer is *taken* out of its slot (so an op
    that runs again before the first one's backward gets a new array, never a shared one)
    and *given* back once no one reads it. One slot per name, replaced when the shape
    changes: memory does not grow with the number of batch shapes seen.
    New buffers are in 4 KiB pages (``_memory.empty``): first writes to fresh huge pages cost
    more on a virtual machine than the speed they bring.
    ``take``/``give`` hold op-internal temporaries (im2col columns, their gradient, masked
    output gradients, pooling argmax). Arrays handed to the caller or the graph (outputs,
    input gradients) go through ``recycle`` instead: last step's array is reused only when
    nothing but this slot still references it (no Tensor, graph, view or user variable:
    a numpy view keeps its base alive, so it counts), otherwise a new one is made.
    """

    __slots__ = ("_slots",)

    def __init__(self):
        self._slots = {}

    def take(self, name, shape, dtype):
        buffer = self._slots.pop(name, None)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            buffer = _memory.empty(shape, dtype)
        return buffer

    def give(self, name, buffer):
        if buffer is not None:
            self._slots[name] = buffer

    def recycle(self, name, shape, dtype):
        """An array for a result: last call's, if no one else holds it any more, else a new one (uninitialised)."""
        slots = self._slots
        buffer = slots.get(name)
        # 3 references: the slot, `buffer`, getrefcount's argument; any other holder means it is alive
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype or sys.getrefcount(buffer) > 3:
            buffer = slots[name] = _memory.empty(shape, dtype)
        return buffer

    def clear(self):
        self._slots.clear()


class _NoWorkspace:
    """Allocate every time (functional calls without a layer)."""

    @staticmethod
    def take(name, shape, dtype):
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def give(name, buffer):
        pass

    recycle = take


NO_WORKSPACE = _NoWorkspace()

# The fused ReLU passes: the same threshold as im2col above (memory-bound alike).
RELU_PARALLEL_MIN = PARALLEL_MIN_WORK



# ---- the op ---------------------------------------------------------------------------
class Conv2D(Function):
    """z = cols(x) @ K + b, y = act(z);  dz = act'(z) dy,  dK = cols(x)^T @ dz,  db = sum of dz,  dx = col2im(dz @ K^T)"""
    fresh_grads = True  # GEMM/transform outputs; dx from Workspace.recycle: reused only once nobody holds it

    def forward(self, x, kernel, *bias, strides, dilation, pads, out_size, activation="linear",
                workspace=NO_WORKSPACE, algorithm=None):
        """``algorithm``: "im2col", "winograd2" or "winograd4" to force one (tests); None picks by
        winograd.choose (which falls back to im2col where Winograd does not apply)."""
        dtype = float_dtype(x, kernel)
        x = np.ascontiguousarray(x, dtype=dtype)
        n, h, w, cin = x.shape
        kh, kw, _, cout = kernel.shape
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = strides, dilation, pads, out_size
        self.geometry = (kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
        self.x_shape = x.shape
        self.workspace = workspace
        if algorithm is None:
            algorithm = winograd.choose((kh, kw), strides, dilation, pads, out_size, cin, cout)
        elif algorithm not in winograd.ALGORITHMS:
            raise ValueError(f"conv2d: unknown algorithm {algorithm!r}; expected one of {winograd.ALGORITHMS}")
        elif algorithm != "im2col" and not winograd.applicable((kh, kw), strides, dilation, pads):
            raise ValueError(f"conv2d: algorithm {algorithm!r} needs a 3x3 kernel, stride 1, dilation 1 and "
                             f"padding of at most 2; got kernel {kh}x{kw}, strides {strides}, dilation "
                             f"{dilation}, padding {pads}")
        self.algorithm = algorithm
        self.cols = self.transformed_input = None
        keep = _state.local.grad_enabled and self.needs_input_grad[1]
        if algorithm != "im2col":
            self.winograd_m = 2 if algorithm == "winograd2" else 4
            # the transforms are compute-heavier than im2col's copy: threads pay from fewer elements
            self.parallel = n > 1 and n * oh * ow * cin >= WINOGRAD_PARALLEL_MIN_WORK
            self.kernel2d = np.ascontiguousarray(kernel, dtype=dtype)
            b = bias[0].astype(dtype, copy=False) if bias else None
            out, self.filter_transformed, self.transformed_input = winograd.forward(
                x, self.kernel2d, b, self.winograd_m, pads, out_size, activation == "relu", workspace,
                self.parallel, keep)
            if activation == "relu":
                self.activation, self.saved = activation, out
                return out
            return self._activate(out, activation)
        self.kernel2d = np.ascontiguousarray(kernel, dtype=dtype).reshape(kh * kw * cin, cout)
        self.parallel = n > 1 and n * oh * ow * kh * kw * cin >= PARALLEL_MIN_WORK
        # 1x1 kernels never pad, so a (strided) view of x already is the column matrix
        self.pointwise = kh == 1 and kw == 1
        # Otherwise cols gets a column of ones and the kernel the bias as its last row:
        # the GEMM adds the bias, and cols^T @ dy yields db with dK (measured faster
        # than a separate `out += b` and `dy.sum(0)` on the first layer of the seed CNN).
        self.fused_bias = bool(bias) and not self.pointwise
        cols = self._im2col(x)
        weights = self.kernel2d
        if self.fused_bias:
            weights = np.concatenate([weights, bias[0].astype(dtype, copy=False).reshape(1, cout)])
        out = np.matmul(cols, weights, out=workspace.recycle("out", (n * oh * ow, cout), dtype))
        out = out.reshape(n, oh, ow, cout)
        if bias and not self.fused_bias:
            out += bias[0].astype(dtype, copy=False)
        if keep:
            self.cols = cols
        elif not self.pointwise:
            workspace.give("cols", cols)
        return self._activate(out, activation)

    def _activate(self, z, activation):
        """The activation on the GEMM's own output (ReLU in place); saves what its derivative reads."""
        self.activation = activation
        self.saved = None
        if activation == "linear":
            return z
        if activation == "relu":
            _kernels.relu_inplace(z.reshape(-1), z.size >= RELU_PARALLEL_MIN)
            self.saved = z  # ReLU'(z) from y: y > 0 exactly where z > 0
            return z
        fused = FUSED[activation]
        y = fused.forward(z)
        self.saved = y if fused.saves == "y" else z
        return y

    def _activation_grad(self, grad):
        """dL/dz from dL/dy, in a scratch buffer (the incoming grad may be shared)."""
        if self.activation == "relu":
            dz = self.workspace.take("dz", grad.shape, grad.dtype)
            _kernels.relu_backward_into(grad.reshape(-1), self.saved.reshape(-1), dz.reshape(-1),
                                        grad.size >= RELU_PARALLEL_MIN)
            return dz
        return FUSED[self.activation].backward(grad, self.saved)

    def backward(self, grad):
        kh, kw, sh, sw, dh, dw, pt, pl, oh, ow = self.geometry
        n, h, w, cin = self.x_shape
        kernel2d = self.kernel2d
        cout = kernel2d.shape[-1]
        workspace = self.workspace
        grad = np.ascontiguousarray(grad, dtype=kernel2d.dtype)
        need_x, need_kernel = self.needs_input_grad[:2]
        need_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        # the fused Winograd kernel reads grad through ReLU's derivative as it transforms it: no dz pass
        relu_in_kernel = self.algorithm != "im2col" and self.activation == "relu" and winograd.fuses_relu_grad()
        if self.activation != "linear" and not relu_in_kernel:
            grad = self._activation_grad(grad.reshape(n, oh, ow, cout))
        dz = grad
        if self.algorithm != "im2col":
            grads = winograd.backward(dz.reshape(n, oh, ow, cout), self.filter_transformed, self.transformed_input,
                                      self.winograd_m, self.x_shape, (pt, pl), (oh, ow), need_x, need_kernel,
                                      need_bias, workspace, self.parallel, self.saved if relu_in_kernel else None)
            if self.activation == "relu" and not relu_in_kernel:
                workspace.give("dz", dz)
            return self._as_input_dtypes(*grads)
        grad = grad.reshape(n * oh * ow, cout)
        dx = dkernel = dbias = None
        if need_kernel:
            dweights = self.cols.T @ grad  # (kh*kw*cin [+1], cout): the last row is db when fused
            dkernel = dweights[:kh * kw * cin].reshape(kh, kw, cin, cout)
            if need_bias and self.fused_bias:
                dbias = dweights[-1]
        if need_bias and dbias is None:
            dbias = np.ones(grad.shape[0], dtype=grad.dtype) @ grad  # a BLAS gemv: faster than grad.sum(0)
        if need_x:
            if self.pointwise:
                dcols = grad @ kernel2d.T
                if sh == 1 and sw == 1:
                    dx = dcols.reshape(self.x_shape)
                else:
                    dx = np.zeros(self.x_shape, dtype=kernel2d.dtype)
                    dx[:, :oh * sh:sh, :ow * sw:sw, :] = dcols.reshape(n, oh, ow, cin)
            else:
                dcols = workspace.take("dcols", (n * oh * ow, kh * kw * cin), kernel2d.dtype)
                np.matmul(grad, kernel2d.T, out=dcols)
                dx = workspace.recycle("dx", self.x_shape, kernel2d.dtype)
                dx.fill(0)
                _kernels.col2im_2d(dcols, dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, self.parallel)
                workspace.give("dcols", dcols)
        if self.activation == "relu":
            workspace.give("dz", dz)
        return self._as_input_dtypes(dx, dkernel, dbias)

    def release(self):
        """The graph is freed: hand the columns (or the transformed input) back to the workspace
        and drop the saved output."""
        if self.algorithm != "im2col":
            self.workspace.give("V", self.transformed_input)
        elif not self.pointwise:
            self.workspace.give("cols", self.cols)
        self.cols = self.transformed_input = self.saved = None

    def _im2col(self, x):
        kh, kw, sh, sw, dh, dw, pt, pl, oh, ow = self.geometry
        n, h, w, cin = x.shape
        if self.pointwise:
            if sh == 1 and sw == 1:
                return x.reshape(n * h * w, cin)
            return np.ascontiguousarray(x[:, :oh * sh:sh, :ow * sw:sw, :]).reshape(n * oh * ow, cin)
        cols = self.workspace.take("cols", (n * oh * ow, kh * kw * cin + self.fused_bias), x.dtype)
        _kernels.im2col_2d(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, self.parallel)
        return cols

    def _as_input_dtypes(self, *grads):
        return tuple(None if g is None else g.astype(p.data.dtype, copy=False)
                     for g, p in zip(grads, self.parents))


class Conv1D(Conv2D):
    """the 2-D convolution of a height-1 image: y[n, l] = sum_k x[n, l*s + k*d - p] @ K[k] + b"""

    def forward(self, x, kernel, *bias, strides, dilation, pads, out_size, activation="linear",
                workspace=NO_WORKSPACE):
        out = super().forward(x[:, None], kernel[None], *bias, strides=(1, strides[0]),
                              dilation=(1, dilation[0]), pads=(0, pads[0]), out_size=(1, out_size[0]),
                              activation=activation, workspace=workspace, algorithm="im2col")
        return out[:, 0]

    def backward(self, grad):
        dx, dkernel, *dbias = super().backward(grad[:, None])
        return (None if dx is None else dx[:, 0], None if dkernel is None else dkernel[0], *dbias)
