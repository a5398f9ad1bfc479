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
The 2x2 stride-2 "valid" case (the seed CNN's) has its own pair of kernels: a fixed
four-cell window, and a backward that writes every cell of dx once (the winner gets the
gradient, the other three 0) instead of zeroing dx and scattering.
Every array is indexed through typed memoryviews (no raw pointers), so the debug build's
bounds checks cover these loops. Threads split the batch.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange


# ---- one image at a time (called inside prange; `except -1` lets the debug build's
# ---- IndexError out of the parallel loop) ---------------------------------------------
cdef int _max_pool_image(
        const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax, Py_ssize_t n,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2], C = x.shape[3], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t i, j, c, ih, iw, h0, h1, w0, w1
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
            position = <int>(h0 * W + w0)
            for c in range(C):
                out[n, i, j, c] = x[n, h0, w0, c]
                argmax[n, i, j, c] = position
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    position = <int>(ih * W + iw)
                    for c in range(C):
                        # load everything first, then select: no branch in the body
                        value = x[n, ih, iw, c]
                        current = out[n, i, j, c]
                        current_position = argmax[n, i, j, c]
                        take = (value > current) | ((value != value) & (current == current))
                        out[n, i, j, c] = value if take else current
                        argmax[n, i, j, c] = position if take else current_position
    return 0


cdef int _max_pool_backward_image(
        const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax, floating[:, :, ::1] dx,
        Py_ssize_t n) except -1 nogil:
    """dx[n] viewed as (H*W, C): each output's gradient added at its winner's flat index."""
    cdef Py_ssize_t i, j, c, oh = grad_out.shape[1], ow = grad_out.shape[2], C = grad_out.shape[3]
    for i in range(oh):
        for j in range(ow):
            for c in range(C):
                dx[n, argmax[n, i, j, c], c] += grad_out[n, i, j, c]
    return 0


cdef inline void _max_pool_update(
        const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
        Py_ssize_t n, Py_ssize_t i, Py_ssize_t j, Py_ssize_t ih, Py_ssize_t iw, int position,
        Py_ssize_t C) noexcept nogil:
    """out/argmax[n, i, j, :] take cell (ih, iw) where it is larger (or a first NaN)."""
    cdef Py_ssize_t c
    cdef floating value, current
    cdef int current_position
    cdef bint take
    for c in range(C):
        value = x[n, ih, iw, c]
        current = out[n, i, j, c]
        current_position = argmax[n, i, j, c]
        take = (value > current) | ((value != value) & (current == current))
        out[n, i, j, c] = value if take else current
        argmax[n, i, j, c] = position if take else current_position


cdef int _max_pool_2x2_image(
        const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
        Py_ssize_t n) except -1 nogil:
    """2x2 windows, stride 2, no padding: the general kernel's values and argmax, unrolled."""
    cdef Py_ssize_t W = x.shape[2], C = x.shape[3], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t i, j, c, top, left
    cdef int position
    for i in range(oh):
        top = 2 * i
        for j in range(ow):
            left = 2 * j
            position = <int>(top * W + left)
            # as the general kernel: seed with the first cell, then load-compare-select
            # against what is stored (this form vectorizes; a register-only chain did not)
            for c in range(C):
                out[n, i, j, c] = x[n, top, left, c]
                argmax[n, i, j, c] = position
            _max_pool_update(x, out, argmax, n, i, j, top, left + 1, position + 1, C)
            _max_pool_update(x, out, argmax, n, i, j, top + 1, left, position + <int>W, C)
            _max_pool_update(x, out, argmax, n, i, j, top + 1, left + 1, position + <int>W + 1, C)
    return 0


cdef int _max_pool_2x2_backward_image(
        const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax, floating[:, :, :, ::1] dx,
        Py_ssize_t n) except -1 nogil:
    """Every cell of dx[n] written once: the window's winner gets the gradient, the rest 0 (no zeroing pass)."""
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2], C = dx.shape[3], oh = grad_out.shape[1], ow = grad_out.shape[2]
    cdef Py_ssize_t i, j, c, top, left, ih, iw
    cdef int position, where
    cdef floating g, zero = 0
    for i in range(oh):
        top = 2 * i
        for j in range(ow):
            left = 2 * j
            position = <int>(top * W + left)
            for c in range(C):
                g = grad_out[n, i, j, c]
                where = argmax[n, i, j, c]
                dx[n, top, left, c] = g if where == position else zero
                dx[n, top, left + 1, c] = g if where == position + 1 else zero
                dx[n, top + 1, left, c] = g if where == position + <int>W else zero
                dx[n, top + 1, left + 1, c] = g if where == position + <int>W + 1 else zero
        if ow * 2 < W:  # odd width: the last column belongs to no window
            for c in range(C):
                dx[n, top, W - 1, c] = zero
                dx[n, top + 1, W - 1, c] = zero
    if oh * 2 < H:  # odd height: the last row belongs to no window
        for iw in range(W):
            for c in range(C):
                dx[n, H - 1, iw, c] = zero
    return 0


cdef int _avg_pool_image(
        const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, Py_ssize_t n,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2], C = x.shape[3], oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t i, j, c, ih, iw, h0, h1, w0, w1
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
            for c in range(C):
                out[n, i, j, c] = 0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    for c in range(C):
                        out[n, i, j, c] += x[n, ih, iw, c]
            scale = 1.0 / <floating>((h1 - h0) * (w1 - w0))
            for c in range(C):
                out[n, i, j, c] *= scale
    return 0


cdef int _avg_pool_backward_image(
        const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] dx, Py_ssize_t n,
        Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
        Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2], C = dx.shape[3], oh = grad_out.shape[1], ow = grad_out.shape[2]
    cdef Py_ssize_t i, j, c, ih, iw, h0, h1, w0, w1
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
            scale = 1.0 / <floating>((h1 - h0) * (w1 - w0))
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    for c in range(C):
                        dx[n, ih, iw, c] += grad_out[n, i, j, c] * scale
    return 0


# ---- Python entry points -------------------------------------------------------------
def _check_same(where, a, b, what):
    if tuple(a.shape)[:4] != tuple(b.shape)[:4]:
        raise ValueError(f"{where}: {what} shapes differ: {tuple(a.shape)[:4]} and {tuple(b.shape)[:4]}")


def max_pool_2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out, argmax (N, oh, ow, C) = max over each window of x and the flat index ih*W+iw of the winner."""
    cdef Py_ssize_t n, N = x.shape[0]
    _check_same("max_pool_2d", out, argmax, "out and argmax")
    if N == 0 or out.shape[1] * out.shape[2] * x.shape[3] == 0:
        return
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_image(x, out, argmax, n, ph, pw, sh, sw, pt, pl)


def max_pool_2d_backward(const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax,
                         floating[:, :, :, ::1] dx, bint parallel):
    """dx (zeroed, (N, H, W, C)) += grad_out scattered to each window's winner."""
    cdef Py_ssize_t n, N = dx.shape[0], C = dx.shape[3]
    _check_same("max_pool_2d_backward", grad_out, argmax, "grad_out and argmax")
    if N == 0 or grad_out.shape[1] * grad_out.shape[2] * C == 0:
        return
    cdef floating[:, :, ::1] cells = _as_cells(dx)
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_backward_image(grad_out, argmax, cells, n)


def max_pool_2x2(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                 bint parallel):
    """max_pool_2d with 2x2 windows, stride 2, 'valid': the same out and argmax, faster."""
    cdef Py_ssize_t n, N = x.shape[0]
    _check_same("max_pool_2x2", out, argmax, "out and argmax")
    if out.shape[1] != x.shape[1] // 2 or out.shape[2] != x.shape[2] // 2 or out.shape[3] != x.shape[3]:
        raise ValueError(f"max_pool_2x2: out shape {tuple(out.shape)[:4]} does not match input {tuple(x.shape)[:4]}")
    if N == 0 or out.shape[1] * out.shape[2] * x.shape[3] == 0:
        return
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_2x2_image(x, out, argmax, n)


def max_pool_2x2_backward(const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax,
                          floating[:, :, :, ::1] dx, bint parallel):
    """dx (N, H, W, C), uninitialised: set to grad_out at each 2x2 window's winner, 0 everywhere else."""
    cdef Py_ssize_t n, N = dx.shape[0]
    _check_same("max_pool_2x2_backward", grad_out, argmax, "grad_out and argmax")
    if grad_out.shape[1] != dx.shape[1] // 2 or grad_out.shape[2] != dx.shape[2] // 2:
        raise ValueError(f"max_pool_2x2_backward: grad_out shape {tuple(grad_out.shape)[:4]} does not match "
                         f"dx {tuple(dx.shape)[:4]}")
    if N == 0:
        return
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _max_pool_2x2_backward_image(grad_out, argmax, dx, n)


def avg_pool_2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out (N, oh, ow, C) = mean of the real cells of each window of x."""
    cdef Py_ssize_t n, N = x.shape[0]
    if N == 0 or out.shape[1] * out.shape[2] * x.shape[3] == 0:
        return
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _avg_pool_image(x, out, n, ph, pw, sh, sw, pt, pl)


def avg_pool_2d_backward(const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] dx,
                         Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                         Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """dx (zeroed, (N, H, W, C)) += each output gradient spread evenly over its window's real cells."""
    cdef Py_ssize_t n, N = dx.shape[0]
    if N == 0 or grad_out.shape[1] * grad_out.shape[2] * dx.shape[3] == 0:
        return
    with nogil:
        for n in prange(N, schedule="dynamic", use_threads_if=parallel):
            _avg_pool_backward_image(grad_out, dx, n, ph, pw, sh, sw, pt, pl)


cdef object _as_cells(floating[:, :, :, ::1] dx):
    """The (N, H*W, C) view of dx, where a flat argmax index addresses a cell (no copy)."""
    import numpy as np
    return np.asarray(dx).reshape(dx.shape[0], dx.shape[1] * dx.shape[2], dx.shape[3])
