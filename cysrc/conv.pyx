# cython: language_level=3
"""Convolution kernels, channels_last: im2col, its adjoint col2im, and the in-place ReLU
the fused convolution applies to its GEMM output.

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

Every array is indexed through typed memoryviews, never raw pointers, so the debug build
(boundscheck=True) checks each access; the release build compiles the same indexing to
plain pointer arithmetic (measured: no speed difference against the earlier pointer
kernels, see docs/performance.md). Images are passed as (N, H, W*C) views: the kw taps of
one kernel row (dilation 1) are then one contiguous run along the last axis, which the
inner loops copy / add (objdump -d of the -O3 build: packed movups copies in im2col,
movups + addps (addpd) in col2im).
The Python wrapper (tinygrad_relu/ops/conv.py) validates shapes, allocates and makes
inputs C-contiguous; these loops trust it. Threads split the batch, so no two threads
ever write the same image.
"""
cimport cython
import numpy as np
from cython cimport floating
from cython.parallel cimport prange

# ---- one image at a time (called inside prange; `except -1` so that the debug build's
# ---- IndexError propagates out of the parallel loop instead of being printed and lost) --
cdef int _im2col_image(
        const floating[:, :, ::1] x, floating[:, ::1] cols, Py_ssize_t n, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) except -1 nogil:
    cdef Py_ssize_t i, j, a, b, c, r, col, ih, iw, b0, b1, start
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2] // C
    cdef Py_ssize_t depth = kh * kw * C
    cdef bint bias_column = cols.shape[1] > depth
    cdef floating zero = 0, one = 1
    for i in range(oh):
        for j in range(ow):
            r = (n * oh + i) * ow + j
            if bias_column:
                cols[r, depth] = one  # cols @ [K; b] adds the bias in the GEMM
            col = 0
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    for c in range(kw * C):
                        cols[r, col + c] = zero
                    col += kw * C
                    continue
                if dw == 1:
                    # the kw taps of this kernel row are one contiguous run of x
                    iw = j * sw - pl
                    b0 = 0 if iw >= 0 else -iw
                    b1 = kw if iw + kw <= W else W - iw
                    if b1 < b0:
                        b1 = b0
                    for c in range(b0 * C):
                        cols[r, col + c] = zero
                    start = (iw + b0) * C
                    for c in range((b1 - b0) * C):
                        cols[r, col + b0 * C + c] = x[n, ih, start + c]
                    for c in range(b1 * C, kw * C):
                        cols[r, col + c] = zero
                    col += kw * C
                else:
                    for b in range(kw):
                        iw = j * sw + b * dw - pl
                        if iw < 0 or iw >= W:
                            for c in range(C):
                                cols[r, col + c] = zero
                        else:
                            for c in range(C):
                                cols[r, col + c] = x[n, ih, iw * C + c]
                        col += C
    return 0


cdef int _col2im_image(
        const floating[:, ::1] cols, floating[:, :, ::1] dx, Py_ssize_t n, Py_ssize_t C,
        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
        Py_ssize_t oh, Py_ssize_t ow) except -1 nogil:
    """dx[n] (zeroed by the caller) += scatter of the column rows: im2col's adjoint."""
    cdef Py_ssize_t i, j, a, b, c, r, col, ih, iw, b0, b1, start
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2] // C
    for i in range(oh):
        for j in range(ow):
            r = (n * oh + i) * ow + j
            col = 0
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    col += kw * C
                    continue
                if dw == 1:
                    iw = j * sw - pl
                    b0 = 0 if iw >= 0 else -iw
                    b1 = kw if iw + kw <= W else W - iw
                    start = (iw + b0) * C
                    for c in range((b1 - b0) * C if b1 > b0 else 0):
                        dx[n, ih, start + c] += cols[r, col + b0 * C + c]
                    col += kw * C
                else:
                    for b in range(kw):
                        iw = j * sw + b * dw - pl
                        if iw >= 0 and iw < W:
                            for c in range(C):
                                dx[n, ih, iw * C + c] += cols[r, col + c]
                        col += C
    return 0


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
    if N == 0 or oh * ow == 0 or C == 0:
        return
    if cols.shape[0] != N * oh * ow or cols.shape[1] < kh * kw * C:
        raise ValueError(f"im2col_2d: cols has shape {tuple(cols.shape)[:2]}, expected "
                         f"({N * oh * ow}, {kh * kw * C} [+1])")
    cdef const floating[:, :, ::1] rows = np.asarray(x).reshape(N, H, W * C)
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _im2col_image(rows, cols, n, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)


def col2im_2d(const floating[:, ::1] cols, floating[:, :, :, ::1] dx,
              Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """dx (zeroed, (N, H, W, C)) += the column rows (N*oh*ow, kh*kw*C) scattered back to their pixels."""
    cdef Py_ssize_t n, N = dx.shape[0], C = dx.shape[3]
    if N == 0 or oh * ow == 0 or C == 0:
        return
    if cols.shape[0] != N * oh * ow or cols.shape[1] < kh * kw * C:
        raise ValueError(f"col2im_2d: cols has shape {tuple(cols.shape)[:2]}, expected "
                         f"({N * oh * ow}, {kh * kw * C} [+1])")
    cdef floating[:, :, ::1] rows = np.asarray(dx).reshape(N, dx.shape[1], dx.shape[2] * C)
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _col2im_image(cols, rows, n, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)



# ---- the fused convolution's ReLU ------------------------------------------------------
def relu_inplace(floating[::1] z, bint parallel):
    """z = max(z, 0) in place on the GEMM's output (same select as activations.relu_forward: NaN stays NaN)."""
    cdef Py_ssize_t i, n = z.shape[0]
    cdef floating v, zero = 0
    with nogil:
        for i in prange(n, use_threads_if=parallel, schedule="static"):
            v = z[i]
            z[i] = zero if v <= zero else v


def relu_backward_into(const floating[::1] g, const floating[::1] y, floating[::1] out, bint parallel):
    """out = g where y > 0, else 0 (ReLU'(0) = 0; a NaN output passes g, as activations.relu_backward).

    ``out`` may be ``g`` itself when the caller owns g.
    """
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, zero = 0
    if y.shape[0] != n or out.shape[0] != n:
        raise ValueError(f"relu_backward_into: sizes differ: g {n}, y {y.shape[0]}, out {out.shape[0]}")
    with nogil:
        for i in prange(n, use_threads_if=parallel, schedule="static"):
            gv = g[i]
            out[i] = zero if y[i] <= zero else gv
