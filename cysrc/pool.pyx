# cython: language_level=3
"""Pooling kernels, channels_last (N, H, W, C): max and average, forward and backward.

Windows start at ``i * stride - pad_top``; cells outside the image are skipped, so max
pooling ignores padding and average pooling divides by the number of real cells
(Keras/TensorFlow "same" semantics). Every window holds at least one real cell (the
wrapper guarantees it), which seeds the running maximum.

Max pooling stores, per output element, the flat spatial index ``ih * W + iw`` of the
winner (int32) so the backward pass is a scatter. Ties go to the first cell in row-major
order; a NaN wins and stays (it propagates, as in PyTorch).
Inner loops run over channels, contiguous and branch-free, so they compile to packed
instructions (checked with objdump -d on the gcc 12 -O3 build: the max loop is
cmpltps/cmpneqps/cmpeqps + andps/andnps/orps selects for the value and pand/pandn/por
for the int32 argmax; average pooling is addps/mulps; likewise *pd for float64).
Threads split the batch.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange


cdef inline void _max_pool_image(
        const floating* x, floating* out, int* argmax,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t i, j, a, b, c, ih, iw, h0, h1, w0, w1
    cdef floating* best
    cdef int* where
    cdef const floating* src
    cdef floating value, current
    cdef int position, current_position
    cdef bint take
    for i in range(oh):
        h0 = i * sh - pt
        h1 = h0 + ph
        if h0 < 0:
            h0 = 0
        if h1 > H:
            h1 = H
        for j in range(ow):
            w0 = j * sw - pl
            w1 = w0 + pw
            if w0 < 0:
                w0 = 0
            if w1 > W:
                w1 = W
            best = out + (i * ow + j) * C
            where = argmax + (i * ow + j) * C
            src = x + (h0 * W + w0) * C
            position = <int>(h0 * W + w0)
            for c in range(C):
                best[c] = src[c]
                where[c] = position
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    src = x + (ih * W + iw) * C
                    position = <int>(ih * W + iw)
                    for c in range(C):
                        # load everything first, then select: no branch in the body
                        value = src[c]
                        current = best[c]
                        current_position = where[c]
                        take = (value > current) | ((value != value) & (current == current))
                        best[c] = value if take else current
                        where[c] = position if take else current_position


cdef inline void _max_pool_backward_image(
        const floating* grad_out, const int* argmax, floating* dx,
        Py_ssize_t C, Py_ssize_t outputs) noexcept nogil:
    cdef Py_ssize_t k, c
    for k in range(outputs):
        for c in range(C):
            dx[argmax[k * C + c] * C + c] += grad_out[k * C + c]


cdef inline void _avg_pool_image(
        const floating* x, floating* out,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t i, j, c, ih, iw, h0, h1, w0, w1
    cdef floating* acc
    cdef const floating* src
    cdef floating scale
    for i in range(oh):
        h0 = i * sh - pt
        h1 = h0 + ph
        if h0 < 0:
            h0 = 0
        if h1 > H:
            h1 = H
        for j in range(ow):
            w0 = j * sw - pl
            w1 = w0 + pw
            if w0 < 0:
                w0 = 0
            if w1 > W:
                w1 = W
            acc = out + (i * ow + j) * C
            for c in range(C):
                acc[c] = 0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    src = x + (ih * W + iw) * C
                    for c in range(C):
                        acc[c] += src[c]
            scale = 1.0 / <floating>((h1 - h0) * (w1 - w0))
            for c in range(C):
                acc[c] *= scale


cdef inline void _avg_pool_backward_image(
        const floating* grad_out, floating* dx,
        Py_ssize_t H, Py_ssize_t W, Py_ssize_t C,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t i, j, c, ih, iw, h0, h1, w0, w1
    cdef const floating* g
    cdef floating* dst
    cdef floating scale
    for i in range(oh):
        h0 = i * sh - pt
        h1 = h0 + ph
        if h0 < 0:
            h0 = 0
        if h1 > H:
            h1 = H
        for j in range(ow):
            w0 = j * sw - pl
            w1 = w0 + pw
            if w0 < 0:
                w0 = 0
            if w1 > W:
                w1 = W
            g = grad_out + (i * ow + j) * C
            scale = 1.0 / <floating>((h1 - h0) * (w1 - w0))
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    dst = dx + (ih * W + iw) * C
                    for c in range(C):
                        dst[c] += g[c] * scale


# ---- Python entry points -------------------------------------------------------------
def max_pool_2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out, argmax (N, oh, ow, C) = max over each window of x and the flat index ih*W+iw of the winner."""
    cdef Py_ssize_t n, N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    if N == 0 or oh * ow * C == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef int* ap = &argmax[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_image(xp + n * H * W * C, op + n * oh * ow * C, ap + n * oh * ow * C,
                            H, W, C, ph, pw, sh, sw, pt, pl, oh, ow)


def max_pool_2d_backward(const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax,
                         floating[:, :, :, ::1] dx, bint parallel):
    """dx (zeroed, (N, H, W, C)) += grad_out scattered to each window's winner."""
    cdef Py_ssize_t n, N = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t outputs = grad_out.shape[1] * grad_out.shape[2]
    if N == 0 or outputs * C == 0:
        return
    cdef const floating* gp = &grad_out[0, 0, 0, 0]
    cdef const int* ap = &argmax[0, 0, 0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_backward_image(gp + n * outputs * C, ap + n * outputs * C, dp + n * H * W * C,
                                     C, outputs)


def avg_pool_2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out (N, oh, ow, C) = mean of the real cells of each window of x."""
    cdef Py_ssize_t n, N = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    if N == 0 or oh * ow * C == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* op = &out[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _avg_pool_image(xp + n * H * W * C, op + n * oh * ow * C,
                            H, W, C, ph, pw, sh, sw, pt, pl, oh, ow)


def avg_pool_2d_backward(const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] dx,
                         Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                         Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """dx (zeroed, (N, H, W, C)) += each output gradient spread evenly over its window's real cells."""
    cdef Py_ssize_t n, N = dx.shape[0], H = dx.shape[1], W = dx.shape[2], C = dx.shape[3]
    cdef Py_ssize_t oh = grad_out.shape[1], ow = grad_out.shape[2]
    if N == 0 or oh * ow * C == 0:
        return
    cdef const floating* gp = &grad_out[0, 0, 0, 0]
    cdef floating* dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _avg_pool_backward_image(gp + n * oh * ow * C, dp + n * H * W * C,
                                     H, W, C, ph, pw, sh, sw, pt, pl, oh, ow)
