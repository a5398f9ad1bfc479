# cython: language_level=3
"""Convolution kernels, channels_last: im2col and its adjoint col2im.

Layouts (Keras'): images x (N, H, W, C); kernels (kh, kw, cin, cout).
A column matrix ``cols`` has one row per output pixel, (N*oh*ow, kh*kw*cin), its
columns ordered (a, b, c) like a C-order reshape of the kernel to (kh*kw*cin, cout),
so ``cols @ kernel.reshape(-1, cout)`` is the convolution, written straight into an
(N, oh, ow, cout) output with no transpose. The product itself is numpy's BLAS.
(A direct loop for cin == 1 was measured and lost to im2col + sgemm: 1.47 ms against
0.60 ms for 64 images 28x28 -> 32 filters, because BLAS has AVX2/FMA and we build for
baseline x86-64; so there is none.)

Padding, stride and dilation live in the index arithmetic: a tap that falls outside the
image reads as zero (im2col) or is dropped (col2im); no padded copy is made.
The innermost loops copy / add contiguous runs of channels (a whole kernel row of them
when dilation is 1): objdump -d of the -O3 build shows packed movups copies in im2col
and movups + addps (addpd) in col2im.
The Python wrapper (tinygrad_relu/ops/conv.py) validates shapes, allocates and makes
inputs C-contiguous; these loops trust it. Threads split the batch, so no two threads
ever write the same image.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange


# ---- one image at a time (pointer kernels, called inside prange) -------------------
cdef inline void _im2col_image(
        const floating* x, floating* cols, Py_ssize_t row_stride,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t i, j, a, b, c, ih, iw, b0, b1, run
    cdef Py_ssize_t depth = kh * kw * C
    cdef floating* row
    cdef const floating* src
    cdef floating zero = 0, one = 1
    for i in range(oh):
        for j in range(ow):
            row = cols + (i * ow + j) * row_stride
            if row_stride > depth:
                row[depth] = one  # the bias column: cols @ [K; b] adds the bias in the GEMM
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    for c in range(kw * C):
                        row[c] = zero
                    row += kw * C
                    continue
                if dw == 1:
                    # the kw taps of this kernel row are one contiguous run of x
                    iw = j * sw - pl
                    b0 = 0 if iw >= 0 else -iw
                    b1 = kw if iw + kw <= W else W - iw
                    if b1 < b0:
                        b1 = b0
                    for c in range(b0 * C):
                        row[c] = zero
                    src = x + (ih * W + iw + b0) * C
                    run = (b1 - b0) * C
                    for c in range(run):
                        row[b0 * C + c] = src[c]
                    for c in range(b1 * C, kw * C):
                        row[c] = zero
                    row += kw * C
                else:
                    for b in range(kw):
                        iw = j * sw + b * dw - pl
                        if iw < 0 or iw >= W:
                            for c in range(C):
                                row[c] = zero
                        else:
                            src = x + (ih * W + iw) * C
                            for c in range(C):
                                row[c] = src[c]
                        row += C


cdef inline void _col2im_image(
        const floating* cols, Py_ssize_t row_stride, floating* dx,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """dx (one image, zeroed by the caller) += scatter of the column rows: im2col's adjoint."""
    cdef Py_ssize_t i, j, a, b, c, ih, iw, b0, b1, run
    cdef const floating* row
    cdef floating* dst
    for i in range(oh):
        for j in range(ow):
            row = cols + (i * ow + j) * row_stride
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    row += kw * C
                    continue
                if dw == 1:
                    iw = j * sw - pl
                    b0 = 0 if iw >= 0 else -iw
                    b1 = kw if iw + kw <= W else W - iw
                    if b1 > b0:
                        dst = dx + (ih * W + iw + b0) * C
                        run = (b1 - b0) * C
                        for c in range(run):
                            dst[c] += row[b0 * C + c]
                    row += kw * C
                else:
                    for b in range(kw):
                        iw = j * sw + b * dw - pl
                        if iw >= 0 and iw < W:
                            dst = dx + (ih * W + iw) * C
                            for c in range(C):
                                dst[c] += row[c]
                        row += C


# ---- Python entry points -------------------------------------------------------------
def im2col_2d(const floating[:, :, :, ::1] x, floating[:, ::1] cols,
              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """Fill cols (N*oh*ow, kh*kw*C [+ 1]) with the receptive field of every output pixel.

    When cols has one extra column it is set to 1, so that a kernel with the bias as its
    last row adds the bias inside the matrix product, and cols^T @ dy yields db with dK.
    """
    cdef Py_ssize_t n, N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t row_stride = cols.shape[1]
    cdef Py_ssize_t image = H * W * C, rows = oh * ow * row_stride
    if N == 0 or rows == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* cp = &cols[0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _im2col_image(xp + n * image, cp + n * rows, row_stride, H, W, C,
                          kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)


def col2im_2d(const floating[:, ::1] cols, floating[:, :, :, ::1] dx,
              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """dx (zeroed, (N, H, W, C)) += the column rows (N*oh*ow, kh*kw*C) scattered back to their pixels."""
    cdef Py_ssize_t n, N = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t row_stride = cols.shape[1]
    cdef Py_ssize_t image = H * W * C, rows = oh * ow * row_stride
    if N == 0 or rows == 0:
        return
    cdef const floating* cp = &cols[0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _col2im_image(cp + n * rows, row_stride, dp + n * image, H, W, C,
                          kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
