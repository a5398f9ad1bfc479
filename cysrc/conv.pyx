# cython: language_level=3
"""Convolution kernels, channels_last: im2col / col2im and direct loops.

Layouts (Keras'): images x (N, H, W, C); kernels (kh, kw, cin, cout).
A column matrix ``cols`` has one row per output pixel, (N*oh*ow, kh*kw*cin), its
columns ordered (a, b, c) like a C-order reshape of the kernel to (kh*kw*cin, cout),
so ``cols @ kernel.reshape(-1, cout)`` is the convolution, written straight into an
(N, oh, ow, cout) output with no transpose.

Padding, stride and dilation live in the index arithmetic: a tap that falls outside the
image reads as zero (im2col) or is dropped (col2im); no padded copy is made.
The Python wrapper (tinygrad_relu/ops/conv.py) validates shapes, allocates and makes
inputs C-contiguous; these loops trust it. Threads split the batch, so no two threads
ever write the same image.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange


# ---- one image at a time (pointer kernels, called inside prange) -------------------
cdef inline void _im2col_image(
        const floating* x, floating* cols,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t i, j, a, b, c, ih, iw, b0, b1, run
    cdef floating* row = cols
    cdef const floating* src
    cdef floating zero = 0
    for i in range(oh):
        for j in range(ow):
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
        const floating* cols, floating* dx,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """dx (one image, zeroed by the caller) += scatter of the column rows: im2col's adjoint."""
    cdef Py_ssize_t i, j, a, b, c, ih, iw, b0, b1, run
    cdef const floating* row = cols
    cdef floating* dst
    for i in range(oh):
        for j in range(ow):
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


cdef inline void _conv_single_channel_image(
        const floating* x, const floating* kernel, floating* out,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t cout,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """out (one image, holding the bias or zero) += direct convolution of a cin == 1 image.

    The inner loop runs over the output channels, contiguous in both the kernel and the
    output, so it is a packed multiply-add of one broadcast pixel value.
    """
    cdef Py_ssize_t i, j, a, b, co, ih, iw
    cdef floating value
    cdef floating* o
    cdef const floating* w
    for i in range(oh):
        for j in range(ow):
            o = out + (i * ow + j) * cout
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    continue
                for b in range(kw):
                    iw = j * sw + b * dw - pl
                    if iw < 0 or iw >= W:
                        continue
                    value = x[ih * W + iw]
                    w = kernel + (a * kw + b) * cout
                    for co in range(cout):
                        o[co] += value * w[co]


# ---- Python entry points -------------------------------------------------------------
def im2col_2d(const floating[:, :, :, ::1] x, floating[:, ::1] cols,
              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """Fill cols (N*oh*ow, kh*kw*C) with the receptive field of every output pixel."""
    cdef Py_ssize_t n, N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t image = H * W * C, rows = oh * ow * kh * kw * C
    if N == 0 or rows == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* cp = &cols[0, 0]
    with nogil:
        for n in prange(N, schedule="static", use_threads_if=parallel):
            _im2col_image(xp + n * image, cp + n * rows, H, W, C,
                          kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)


def col2im_2d(const floating[:, ::1] cols, floating[:, :, :, ::1] dx,
              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """dx (zeroed, (N, H, W, C)) += the column rows scattered back to their pixels."""
    cdef Py_ssize_t n, N = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t image = H * W * C, rows = oh * ow * kh * kw * C
    if N == 0 or rows == 0:
        return
    cdef const floating* cp = &cols[0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="static", use_threads_if=parallel):
            _col2im_image(cp + n * rows, dp + n * image, H, W, C,
                          kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)


def conv2d_single_channel(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                          floating[:, :, :, ::1] out,
                          Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                          Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
                          bint parallel):
    """out (N, oh, ow, cout), pre-filled with the bias or zeros, += conv of x (N, H, W, 1).

    kernel is (kh*kw, cout).
    """
    cdef Py_ssize_t n, N = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], cout = out.shape[3]
    if N == 0 or oh * ow * cout == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* kp = &kernel[0, 0]
    cdef floating* op = &out[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="static", use_threads_if=parallel):
            _conv_single_channel_image(xp + n * H * W, kp, op + n * oh * ow * cout, H, W, cout,
                                       kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
