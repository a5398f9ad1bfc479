"""The convolutions beside the plain one: grouped (and depthwise) and transposed, channels_last, Keras' layouts.

Both reuse the plain convolution's Cython im2col / col2im (cysrc/conv.pyx) and hand the products to
numpy's BLAS:

- A depthwise convolution (each input channel convolved with its own M kernels) has no inner
  dimension worth a GEMM: its own loops (cysrc/depthwise.pyx) compute it, 3-5x faster than numpy's
  einsum over the im2col columns and 20x faster than the grouped GEMMs below.
- A grouped convolution splits the cin input channels into G groups of cg and the filters into G
  groups of fg; group g's filters see only group g's channels: per group, one im2col of its channels
  and one product with its (kh*kw*cg, fg) slice of the kernel. (G = cin is a depthwise convolution,
  computed as one.)
- A transposed convolution is the adjoint of a convolution: its forward is the plain
  convolution's input gradient, its input gradient the plain convolution's forward. So
  y = col2im(x @ K^T) and dx = im2col(dy) @ K, with K the kernel (kh, kw, filters, cin) as
  (kh*kw*filters, cin).
"""
import numpy as np

from .. import _state
from ..tensor import Function
from .._kernels import conv as _kernels
from .._kernels import depthwise as _depthwise
from .convolution import PARALLEL_MIN_WORK, float_dtype


def _bias_grad(grad2d):
    return np.ones(grad2d.shape[0], dtype=grad2d.dtype) @ grad2d  # a BLAS gemv: faster than grad.sum(0)


def _as_input_dtypes(ctx, *grads):
    return tuple(None if g is None else g.astype(p.data.dtype, copy=False) for g, p in zip(grads, ctx.parents))


class DepthwiseConv2D(Function):
    """y[..., c*M + m] = sum_taps x[..., c] K[a, b, c, m] + b;  dK[a, b, c, m] = sum x[..., c] dy[..., c*M + m],
    dx[..., c] = sum_taps sum_m dy[..., c*M + m] K[a, b, c, m],  db = sum of dy"""

    def forward(self, x, kernel, *bias, strides, dilation, pads, out_size):
        dtype = float_dtype(x, kernel)
        self.x = x = np.ascontiguousarray(x, dtype=dtype)
        self.kernel = kernel = np.ascontiguousarray(kernel, dtype=dtype)
        n, h, w, c = x.shape
        kh, kw, _, m = kernel.shape
        self.geometry = strides + dilation + pads
        self.parallel = n > 1 and n * out_size[0] * out_size[1] * kh * kw * c * m >= PARALLEL_MIN_WORK
        out = np.empty((n,) + tuple(out_size) + (c * m,), dtype=dtype)
        _depthwise.depthwise_conv_2d(x, kernel, out, *self.geometry, self.parallel)
        if bias:
            out += bias[0].astype(dtype, copy=False)
        return out

    def backward(self, grad):
        x, kernel = self.x, self.kernel
        grad = np.ascontiguousarray(grad, dtype=kernel.dtype)
        need_x, need_kernel = self.needs_input_grad[:2]
        need_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        dx = dkernel = dbias = None
        if need_x:
            dx = np.zeros(x.shape, dtype=kernel.dtype)
            _depthwise.depthwise_conv_2d_input_grad(grad, kernel, dx, *self.geometry, self.parallel)
        if need_kernel:
            dkernel = np.empty(kernel.shape, dtype=kernel.dtype)
            _depthwise.depthwise_conv_2d_kernel_grad(x, grad, dkernel, *self.geometry, self.parallel)
        if need_bias:
            dbias = _bias_grad(grad.reshape(-1, grad.shape[-1]))
        return _as_input_dtypes(self, dx, dkernel, dbias)

    def release(self):
        self.x = None


class DepthwiseConv1D(DepthwiseConv2D):
    """the depthwise convolution of a height-1 image"""

    def forward(self, x, kernel, *bias, strides, dilation, pads, out_size):
        return super().forward(x[:, None], kernel[None], *bias, strides=(1, strides[0]), dilation=(1, dilation[0]),
                               pads=(0, pads[0]), out_size=(1, out_size[0]))[:, 0]

    def backward(self, grad):
        dx, dkernel, *dbias = super().backward(grad[:, None])
        return (None if dx is None else dx[:, 0], None if dkernel is None else dkernel[0], *dbias)


class GroupedConv2D(Function):
    """z_g = cols(x_g) @ K_g + b_g for each group g (x_g its channels, K_g its filters);
    dK_g = cols(x_g)^T @ dz_g,  db = sum of dz,  dx_g = col2im(dz_g @ K_g^T)"""

    def forward(self, x, kernel, *bias, groups, strides, dilation, pads, out_size):
        dtype = float_dtype(x, kernel)
        x = np.asarray(x, dtype=dtype)
        n, h, w, cin = x.shape
        kh, kw, cg, filters = kernel.shape
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = strides, dilation, pads, out_size
        fg, pixels = filters // groups, n * oh * ow
        self.geometry = (kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
        self.x_shape, self.groups = x.shape, groups
        self.parallel = n > 1 and pixels * kh * kw * cin >= PARALLEL_MIN_WORK
        kernel = np.asarray(kernel, dtype=dtype)
        # group g: its channels' receptive fields (one im2col of a contiguous copy of them: copying the
        # columns of a whole-input im2col apart costs 9x more for a 3x3 kernel) times its filters
        self.kernels = [np.ascontiguousarray(kernel[..., g * fg:(g + 1) * fg]).reshape(kh * kw * cg, fg)
                        for g in range(groups)]
        keep = _state.local.grad_enabled and self.needs_input_grad[1]
        self.cols = []
        out = np.empty((n, oh, ow, filters), dtype=dtype)
        for g in range(groups):
            cols = np.empty((pixels, kh * kw * cg), dtype=dtype)
            _kernels.im2col_2d(np.ascontiguousarray(x[..., g * cg:(g + 1) * cg]), cols,
                               kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, self.parallel)
            out[..., g * fg:(g + 1) * fg] = (cols @ self.kernels[g]).reshape(n, oh, ow, fg)
            if keep:
                self.cols.append(cols)
        if bias:
            out += bias[0].astype(dtype, copy=False)
        return out

    def backward(self, grad):
        kh, kw, sh, sw, dh, dw, pt, pl, oh, ow = self.geometry
        n, h, w, cin = self.x_shape
        groups, kernels = self.groups, self.kernels
        dtype = kernels[0].dtype
        fg, cg, pixels = kernels[0].shape[1], cin // groups, n * oh * ow
        grad = np.asarray(grad, dtype=dtype)
        need_x, need_kernel = self.needs_input_grad[:2]
        need_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        dx = np.empty(self.x_shape, dtype=dtype) if need_x else None
        dkernel = np.empty((kh, kw, cg, groups * fg), dtype=dtype) if need_kernel else None
        for g in range(groups):
            grad_g = np.ascontiguousarray(grad[..., g * fg:(g + 1) * fg]).reshape(pixels, fg)
            if need_kernel:
                dkernel[..., g * fg:(g + 1) * fg] = (self.cols[g].T @ grad_g).reshape(kh, kw, cg, fg)
            if need_x:
                dx_g = np.zeros((n, h, w, cg), dtype=dtype)
                _kernels.col2im_2d(grad_g @ kernels[g].T, dx_g, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                                   self.parallel)
                dx[..., g * cg:(g + 1) * cg] = dx_g
        dbias = _bias_grad(grad.reshape(pixels, groups * fg)) if need_bias else None
        return _as_input_dtypes(self, dx, dkernel, dbias)

    def release(self):
        self.cols = []


class GroupedConv1D(GroupedConv2D):
    """the grouped convolution of a height-1 image"""

    def forward(self, x, kernel, *bias, groups, strides, dilation, pads, out_size):
        return super().forward(x[:, None], kernel[None], *bias, groups=groups, strides=(1, strides[0]),
                               dilation=(1, dilation[0]), pads=(0, pads[0]), out_size=(1, out_size[0]))[:, 0]

    def backward(self, grad):
        dx, dkernel, *dbias = super().backward(grad[:, None])
        return (None if dx is None else dx[:, 0], None if dkernel is None else dkernel[0], *dbias)


# ---- transposed convolution -------------------------------------------------------------------------
def transpose_geometry(size, kernel, stride, dilation, padding, output_padding):
    """(output length, crop) of one axis of a transposed convolution, TensorFlow's (and JAX's) rule.

    The full transposed convolution of n inputs spans F = (n - 1) * stride + span cells
    (span = (kernel - 1) * dilation + 1); the output is F's cells crop, crop + 1, ...:
    valid: out = (n - 1) * stride + max(span, stride) (+ output_padding instead of the max's
           excess), crop 0;
    same:  out = n * stride, crop = floor((span - stride) / 2) (at least 0); with output_padding
           given, out = (n - 1) * stride + span % 2 + output_padding.
    These are the sizes of the input of the convolution whose input gradient this is (Keras' torch
    backend gives the same: tests/test_conv_variants.py checks kernels 1-5, strides 1-3, both paddings
    and every output_padding against it).
    """
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        left, right = span - 1, span - 1 + extra
    else:
        pad_len = stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        left = min(pad_len // 2 + pad_len % 2, span - 1)
        right = pad_len - left
    return (size - 1) * stride + left + right - span + 2, span - 1 - left


class Conv2DTranspose(Function):
    """y = col2im(x @ K^T) + b (K: kernel (kh, kw, filters, cin) as (kh*kw*filters, cin));
    dx = im2col(dy) @ K,  dK = im2col(dy)^T @ x,  db = sum of dy"""

    def forward(self, x, kernel, *bias, strides, dilation, crops, out_size):
        dtype = float_dtype(x, kernel)
        x = np.ascontiguousarray(x, dtype=dtype)
        n, h, w, cin = x.shape
        kh, kw, filters, _ = kernel.shape
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = strides, dilation, crops, out_size
        # the geometry of the convolution this op is the adjoint of: its input is y (oh, ow), its output x (h, w)
        self.geometry = (kh, kw, sh, sw, dh, dw, pt, pl, h, w)
        self.out_shape = (n, oh, ow, filters)
        self.parallel = n > 1 and n * h * w * kh * kw * filters >= PARALLEL_MIN_WORK
        self.kernel2d = np.ascontiguousarray(kernel, dtype=dtype).reshape(kh * kw * filters, cin)
        self.x2d = x.reshape(n * h * w, cin)
        cols = self.x2d @ self.kernel2d.T                                   # (n*h*w, kh*kw*filters)
        out = np.zeros(self.out_shape, dtype=dtype)
        _kernels.col2im_2d(cols, out, kh, kw, sh, sw, dh, dw, pt, pl, h, w, self.parallel)
        if bias:
            out += bias[0].astype(dtype, copy=False)
        return out

    def backward(self, grad):
        kh, kw, sh, sw, dh, dw, pt, pl, h, w = self.geometry
        n, oh, ow, filters = self.out_shape
        kernel2d = self.kernel2d
        grad = np.ascontiguousarray(grad, dtype=kernel2d.dtype)
        need_x, need_kernel = self.needs_input_grad[:2]
        need_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        dx = dkernel = dbias = None
        if need_x or need_kernel:
            cols = np.empty((n * h * w, kh * kw * filters), dtype=kernel2d.dtype)
            _kernels.im2col_2d(grad, cols, kh, kw, sh, sw, dh, dw, pt, pl, h, w, self.parallel)
            if need_x:
                dx = (cols @ kernel2d).reshape(n, h, w, -1)
            if need_kernel:
                dkernel = (cols.T @ self.x2d).reshape(kh, kw, filters, -1)
        if need_bias:
            dbias = _bias_grad(grad.reshape(-1, filters))
        return _as_input_dtypes(self, dx, dkernel, dbias)

    def release(self):
        self.x2d = None


class Conv1DTranspose(Conv2DTranspose):
    """the transposed convolution of a height-1 image"""

    def forward(self, x, kernel, *bias, strides, dilation, crops, out_size):
        return super().forward(x[:, None], kernel[None], *bias, strides=(1, strides[0]), dilation=(1, dilation[0]),
                               crops=(0, crops[0]), out_size=(1, out_size[0]))[:, 0]

    def backward(self, grad):
        dx, dkernel, *dbias = super().backward(grad[:, None])
        return (None if dx is None else dx[:, 0], None if dkernel is None else dkernel[0], *dbias)
