"""The convolutions beside the plain one: grouped (and depthwise) and transposed, channels_last, Keras' layouts.

Both reuse the plain convolution's Cython im2col / col2im (cysrc/conv.pyx) and hand the products to
numpy's BLAS:

- A depthwise convolution (each input channel convolved with its own M kernels) has no inner
  dimension worth a GEMM: its own loops (cysrc/depthwise.pyx) compute it, 3-5x faster than numpy's
  einsum over the im2col columns and 20x faster than the grouped GEMMs below.
- A grouped convolution splits the cin input channels into G groups of cg and the filters into G
  groups of fg; group g's filters see only group g's channels. One im2col gives every group's
  receptive fields; rearranged to (G, pixels, kh*kw*cg), one batched product with the kernel as
  (G, kh*kw*cg, fg) computes all groups. (G = cin is a depthwise convolution, computed as one.)
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
    """z_g = cols_g(x) @ K_g + b_g for each group g;  dK_g = cols_g^T @ dz_g,  db = sum of dz,
    dx = col2im(dz_g @ K_g^T, every group)"""

    def forward(self, x, kernel, *bias, groups, strides, dilation, pads, out_size):
        dtype = float_dtype(x, kernel)
        x = np.ascontiguousarray(x, dtype=dtype)
        n, h, w, cin = x.shape
        kh, kw, cg, filters = kernel.shape
        (sh, sw), (dh, dw), (pt, pl), (oh, ow) = strides, dilation, pads, out_size
        fg, taps, pixels = filters // groups, kh * kw, n * oh * ow
        self.geometry = (kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
        self.x_shape, self.groups = x.shape, groups
        self.parallel = n > 1 and pixels * taps * cin >= PARALLEL_MIN_WORK
        cols = np.empty((pixels, taps * cin), dtype=dtype)
        _kernels.im2col_2d(x, cols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, self.parallel)
        # (pixels, taps, G, cg) -> (G, pixels, taps*cg): each group's receptive fields, contiguous
        cols = np.ascontiguousarray(cols.reshape(pixels, taps, groups, cg).transpose(2, 0, 1, 3))
        cols = cols.reshape(groups, pixels, taps * cg)
        # (kh, kw, cg, G*fg) -> (G, taps*cg, fg): filter j of group g is column g*fg + j
        self.kernel3d = np.ascontiguousarray(
            np.asarray(kernel, dtype=dtype).reshape(taps * cg, groups, fg).transpose(1, 0, 2))
        out = np.matmul(cols, self.kernel3d)                                # (G, pixels, fg)
        out = np.ascontiguousarray(out.transpose(1, 0, 2)).reshape(n, oh, ow, filters)
        if bias:
            out += bias[0].astype(dtype, copy=False)
        self.cols = cols if _state.local.grad_enabled and self.needs_input_grad[1] else None
        return out

    def backward(self, grad):
        kh, kw, sh, sw, dh, dw, pt, pl, oh, ow = self.geometry
        n, h, w, cin = self.x_shape
        groups, kernel3d = self.groups, self.kernel3d
        _, depth, fg = kernel3d.shape                                        # depth = taps * cg
        pixels = n * oh * ow
        grad2d = np.ascontiguousarray(grad, dtype=kernel3d.dtype).reshape(pixels, groups * fg)
        grad3d = np.ascontiguousarray(grad2d.reshape(pixels, groups, fg).transpose(1, 0, 2))  # (G, pixels, fg)
        need_x, need_kernel = self.needs_input_grad[:2]
        need_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        dx = dkernel = dbias = None
        if need_kernel:
            dk = np.matmul(self.cols.transpose(0, 2, 1), grad3d)             # (G, taps*cg, fg)
            dkernel = np.ascontiguousarray(dk.transpose(1, 0, 2)).reshape(kh, kw, depth // (kh * kw), groups * fg)
        if need_bias:
            dbias = _bias_grad(grad2d)
        if need_x:
            dcols = np.matmul(grad3d, kernel3d.transpose(0, 2, 1))            # (G, pixels, taps*cg)
            cg = depth // (kh * kw)
            dcols = np.ascontiguousarray(dcols.reshape(groups, pixels, kh * kw, cg).transpose(1, 2, 0, 3))
            dx = np.zeros(self.x_shape, dtype=kernel3d.dtype)
            _kernels.col2im_2d(dcols.reshape(pixels, kh * kw * cin), dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                               self.parallel)
        return _as_input_dtypes(self, dx, dkernel, dbias)

    def release(self):
        self.cols = None


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
