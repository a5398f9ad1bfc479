# cython: language_level=3
"""Pooling kernels, channels_last (N, H, W, C): max and average, forward and backward.

Windows start at ``i * stride - pad_top``; cells outside the image are skipped, so max
pooling ignores padding and average pooling divides by the number of real cells
(Keras/TensorFlow "same" semantics). Every window holds at least one real cell (the
``def`` entry points check it: pad < window, last window starts inside the image), which
seeds the running maximum.

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

The ``def`` entry points check ranks, dtypes, contiguity, that batch and channels agree
between input and output, the window geometry, and that H*W fits the int32 argmax. The
backward passes read argmax from the caller: the general one skips (and then reports) an
entry outside the image instead of scattering out of bounds, a check that costs one
compare per element in a loop that is a scalar scatter anyway; the 2x2 one counts entries
that are none of their window's four cells (it only ever writes inside the window).
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from kernel_args cimport (ANY_FLOAT, SIZE_MAX_ALLOWED, readable, writable, check_ndim, check_range,
                          check_same_shape, shape_of, probing, run_bounds_probe)

import numpy as np

cnp.import_array()


class ArgmaxRangeError(ValueError, IndexError):
    """An argmax entry outside the image it indexes: a bad argument and an index out of range at
    once (numpy's AxisError is both for the same reason)."""


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


cdef Py_ssize_t _max_pool_backward_image(
        const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax, floating[:, :, ::1] dx,
        Py_ssize_t n) except -1 nogil:
    """dx[n] viewed as (H*W, C): each output's gradient added at its winner's flat index.
    Returns how many argmax entries were outside [0, H*W) and skipped."""
    cdef Py_ssize_t i, j, c, oh = grad_out.shape[1], ow = grad_out.shape[2], C = grad_out.shape[3]
    cdef size_t cells = dx.shape[1]
    cdef Py_ssize_t outside = 0
    cdef int where
    for i in range(oh):
        for j in range(ow):
            for c in range(C):
                where = argmax[n, i, j, c]
                if <size_t>where < cells:  # also false for a negative index
                    dx[n, where, c] += grad_out[n, i, j, c]
                else:
                    outside += 1
    return outside


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


cdef Py_ssize_t _max_pool_2x2_backward_image(
        const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax, floating[:, :, :, ::1] dx,
        Py_ssize_t n) except -1 nogil:
    """Every cell of dx[n] written once: the window's winner gets the gradient, the rest 0 (no zeroing pass).
    Returns how many argmax entries were none of their window's four cells (their gradient is lost)."""
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2], C = dx.shape[3], oh = grad_out.shape[1], ow = grad_out.shape[2]
    cdef Py_ssize_t i, j, c, top, left, ih, iw
    cdef Py_ssize_t strays = 0
    cdef int position, where
    cdef bint a, b, d, e
    cdef floating g, zero = 0
    for i in range(oh):
        top = 2 * i
        for j in range(ow):
            left = 2 * j
            position = <int>(top * W + left)
            for c in range(C):
                g = grad_out[n, i, j, c]
                where = argmax[n, i, j, c]
                a = where == position
                b = where == position + 1
                d = where == position + <int>W
                e = where == position + <int>W + 1
                dx[n, top, left, c] = g if a else zero
                dx[n, top, left + 1, c] = g if b else zero
                dx[n, top + 1, left, c] = g if d else zero
                dx[n, top + 1, left + 1, c] = g if e else zero
                strays += not (a | b | d | e)
        if ow * 2 < W:  # odd width: the last column belongs to no window
            for c in range(C):
                dx[n, top, W - 1, c] = zero
                dx[n, top + 1, W - 1, c] = zero
    if oh * 2 < H:  # odd height: the last row belongs to no window
        for iw in range(W):
            for c in range(C):
                dx[n, H - 1, iw, c] = zero
    return strays


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


# ---- the loops over the batch (threads split it) ----------------------------------------
cdef int _max_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                   Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                   bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(x.shape[0], schedule="dynamic", use_threads_if=parallel):
            _max_pool_image(x, out, argmax, n, ph, pw, sh, sw, pt, pl)
    return 0


cdef Py_ssize_t _max_pool_backward(const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax,
                                   floating[:, :, ::1] cells, bint parallel) except -1:
    cdef Py_ssize_t n, outside = 0
    with nogil:
        for n in prange(grad_out.shape[0], schedule="dynamic", use_threads_if=parallel):
            outside += _max_pool_backward_image(grad_out, argmax, cells, n)
    return outside


cdef int _max_pool_2x2(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                       bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(x.shape[0], schedule="dynamic", use_threads_if=parallel):
            _max_pool_2x2_image(x, out, argmax, n)
    return 0


cdef Py_ssize_t _max_pool_2x2_backward(const floating[:, :, :, ::1] grad_out, const int[:, :, :, ::1] argmax,
                                       floating[:, :, :, ::1] dx, bint parallel) except -1:
    cdef Py_ssize_t n, strays = 0
    with nogil:
        for n in prange(grad_out.shape[0], schedule="dynamic", use_threads_if=parallel):
            strays += _max_pool_2x2_backward_image(grad_out, argmax, dx, n)
    return strays


cdef int _avg_pool(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, Py_ssize_t ph, Py_ssize_t pw,
                   Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(x.shape[0], schedule="dynamic", use_threads_if=parallel):
            _avg_pool_image(x, out, n, ph, pw, sh, sw, pt, pl)
    return 0


cdef int _avg_pool_backward(const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] dx, Py_ssize_t ph,
                            Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                            bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(grad_out.shape[0], schedule="dynamic", use_threads_if=parallel):
            _avg_pool_backward_image(grad_out, dx, n, ph, pw, sh, sw, pt, pl)
    return 0


# ---- Python entry points: check, then run ------------------------------------------------
def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with the array it writes handed
    to the kernel one image short; the kernel's out-of-bounds write must come out as IndexError.
    The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("pool", fn, args)


cdef cnp.ndarray _image_batch(str fn, str name, object obj, int dtype, str like, bint written):
    """A 4-D (N, H, W, C) float array: read (copied into C order if needed) or written in place."""
    cdef cnp.ndarray a = writable(fn, name, obj, dtype, like) if written else readable(fn, name, obj, dtype, like)
    check_ndim(fn, name, a, 4, "(N, H, W, C)")
    return a


cdef int _check_batch(str fn, str name, cnp.ndarray a, str other, cnp.ndarray b) except -1:
    """a and b hold the same images (N) with the same channels (C)."""
    if a.shape[0] != b.shape[0] or a.shape[3] != b.shape[3]:
        raise ValueError(f"{fn}: {name} has shape {shape_of(a)} but {other} has shape {shape_of(b)}: "
                         f"batch (axis 0) and channels (axis 3) must agree")
    return 0


cdef int _check_cells(str fn, str name, cnp.ndarray a) except -1:
    """The flat cell index ih * W + iw of a's images fits the int32 argmax."""
    if a.shape[1] * a.shape[2] > SIZE_MAX_ALLOWED:
        raise ValueError(f"{fn}: {name} has {a.shape[1]}x{a.shape[2]} cells per image, more than an int32 "
                         f"argmax can index")
    return 0


cdef int _check_windows(str fn, Py_ssize_t size, Py_ssize_t window, Py_ssize_t stride, Py_ssize_t pad,
                        Py_ssize_t out, tuple names) except -1:
    """One spatial axis; names: (size, window, stride, pad, out), e.g. ("H", "ph", "sh", "pt", "oh").

    Every window must hold a real cell: pad < window (the first one) and the last one starts
    inside the image, (out - 1) * stride - pad <= size - 1.
    """
    check_range(fn, names[1], window, 1)
    check_range(fn, names[2], stride, 1)
    check_range(fn, names[4], out, 0)
    if not 0 <= pad < window:
        raise ValueError(f"{fn}: {names[3]} = {pad} must be in [0, {window - 1}]: a pad as wide as the "
                         f"window {names[1]} = {window} leaves the first window without a real cell")
    if out > 0 and (out - 1) * stride - pad > size - 1:
        raise ValueError(f"{fn}: {names[4]} = {out} windows with {names[2]} = {stride} and {names[3]} = {pad} "
                         f"run past the input's {names[0]} = {size}")
    return 0


cdef int _check_geometry(str fn, cnp.ndarray image, cnp.ndarray pooled, Py_ssize_t ph, Py_ssize_t pw,
                         Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl) except -1:
    _check_windows(fn, image.shape[1], ph, sh, pt, pooled.shape[1], ("H", "ph", "sh", "pt", "oh"))
    _check_windows(fn, image.shape[2], pw, sw, pl, pooled.shape[2], ("W", "pw", "sw", "pl", "ow"))
    return 0


cdef int _check_halved(str fn, str name, cnp.ndarray pooled, str other, cnp.ndarray image) except -1:
    """pooled is (N, H // 2, W // 2, C) of image (N, H, W, C): 2x2 windows, stride 2, 'valid'."""
    if (pooled.shape[0] != image.shape[0] or pooled.shape[1] != image.shape[1] // 2
            or pooled.shape[2] != image.shape[2] // 2 or pooled.shape[3] != image.shape[3]):
        raise ValueError(f"{fn}: {name} has shape {shape_of(pooled)}, expected (N, H // 2, W // 2, C) = "
                         f"{(image.shape[0], image.shape[1] // 2, image.shape[2] // 2, image.shape[3])} "
                         f"for {other} of shape {shape_of(image)}")
    return 0


cdef object _argmax_error(str fn, Py_ssize_t count, str what, cnp.ndarray argmax, object bad):
    examples = (<object>argmax)[bad][:3].tolist()
    return ArgmaxRangeError(f"{fn}: {count} argmax entries are {what}, e.g. {examples}")


cdef inline bint _empty(cnp.ndarray pooled) noexcept:
    return pooled.shape[0] * pooled.shape[1] * pooled.shape[2] * pooled.shape[3] == 0


def max_pool_2d(x, out, argmax, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out, argmax (N, oh, ow, C) = max over each window of x and the flat index ih*W+iw of the winner."""
    cdef str fn = "max_pool_2d"
    cdef cnp.ndarray xa = _image_batch(fn, "x", x, ANY_FLOAT, None, False)
    cdef cnp.ndarray oa = _image_batch(fn, "out", out, cnp.PyArray_TYPE(xa), "x", True)
    cdef cnp.ndarray aa = writable(fn, "argmax", argmax, cnp.NPY_INT32)
    check_same_shape(fn, "argmax", aa, "out", oa)
    _check_batch(fn, "out", oa, "x", xa)
    _check_cells(fn, "x", xa)
    _check_geometry(fn, xa, oa, ph, pw, sh, sw, pt, pl)
    if _empty(oa):
        return
    if probing:
        oa = oa[:oa.shape[0] - 1]
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        _max_pool[float](xa, oa, aa, ph, pw, sh, sw, pt, pl, parallel)
    else:
        _max_pool[double](xa, oa, aa, ph, pw, sh, sw, pt, pl, parallel)


def max_pool_2d_backward(grad_out, argmax, dx, bint parallel):
    """dx (zeroed, (N, H, W, C)) += grad_out scattered to each window's winner.

    An argmax entry outside [0, H*W) is skipped, and then reported: ArgmaxRangeError (a
    ValueError and an IndexError) after the pass.
    """
    cdef str fn = "max_pool_2d_backward"
    cdef cnp.ndarray ga = _image_batch(fn, "grad_out", grad_out, ANY_FLOAT, None, False)
    cdef cnp.ndarray aa = readable(fn, "argmax", argmax, cnp.NPY_INT32)
    cdef cnp.ndarray da = _image_batch(fn, "dx", dx, cnp.PyArray_TYPE(ga), "grad_out", True)
    check_same_shape(fn, "argmax", aa, "grad_out", ga)
    _check_batch(fn, "dx", da, "grad_out", ga)
    if _empty(ga):
        return
    cdef Py_ssize_t outside, cells = da.shape[1] * da.shape[2]
    cdef cnp.ndarray cell_view = da.reshape(da.shape[0], cells, da.shape[3])  # a flat argmax addresses a cell
    if probing:
        cell_view = cell_view[:cell_view.shape[0] - 1]
    if cnp.PyArray_TYPE(ga) == cnp.NPY_FLOAT:
        outside = _max_pool_backward[float](ga, aa, cell_view, parallel)
    else:
        outside = _max_pool_backward[double](ga, aa, cell_view, parallel)
    if outside:
        raise _argmax_error(fn, outside, f"outside [0, {cells}), the cells of dx's {da.shape[1]}x{da.shape[2]} "
                            f"images (their gradient was dropped)", aa, (<object>aa < 0) | (<object>aa >= cells))


def max_pool_2x2(x, out, argmax, bint parallel):
    """max_pool_2d with 2x2 windows, stride 2, 'valid': the same out and argmax, faster."""
    cdef str fn = "max_pool_2x2"
    cdef cnp.ndarray xa = _image_batch(fn, "x", x, ANY_FLOAT, None, False)
    cdef cnp.ndarray oa = _image_batch(fn, "out", out, cnp.PyArray_TYPE(xa), "x", True)
    cdef cnp.ndarray aa = writable(fn, "argmax", argmax, cnp.NPY_INT32)
    check_same_shape(fn, "argmax", aa, "out", oa)
    _check_halved(fn, "out", oa, "x", xa)
    _check_cells(fn, "x", xa)
    if _empty(oa):
        return
    if probing:
        oa = oa[:oa.shape[0] - 1]
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        _max_pool_2x2[float](xa, oa, aa, parallel)
    else:
        _max_pool_2x2[double](xa, oa, aa, parallel)


def max_pool_2x2_backward(grad_out, argmax, dx, bint parallel):
    """dx (N, H, W, C), uninitialised: set to grad_out at each 2x2 window's winner, 0 everywhere else.

    An argmax entry that is none of its window's four cells loses its gradient, and is then
    reported: ArgmaxRangeError after the pass.
    """
    cdef str fn = "max_pool_2x2_backward"
    cdef cnp.ndarray ga = _image_batch(fn, "grad_out", grad_out, ANY_FLOAT, None, False)
    cdef cnp.ndarray aa = readable(fn, "argmax", argmax, cnp.NPY_INT32)
    cdef cnp.ndarray da = _image_batch(fn, "dx", dx, cnp.PyArray_TYPE(ga), "grad_out", True)
    check_same_shape(fn, "argmax", aa, "grad_out", ga)
    _check_halved(fn, "grad_out", ga, "dx", da)
    _check_cells(fn, "dx", da)
    if da.shape[0] == 0:
        return
    cdef Py_ssize_t strays
    if probing:
        da = da[:da.shape[0] - 1]
    if cnp.PyArray_TYPE(ga) == cnp.NPY_FLOAT:
        strays = _max_pool_2x2_backward[float](ga, aa, da, parallel)
    else:
        strays = _max_pool_2x2_backward[double](ga, aa, da, parallel)
    if strays:
        raise _argmax_error(fn, strays, "none of their 2x2 window's four cells (their gradient was dropped)",
                            aa, _strays(aa, da.shape[2]))


cdef object _strays(cnp.ndarray argmax, Py_ssize_t W):
    """Which entries of a 2x2 argmax (N, oh, ow, C) are not in their window (the error path only)."""
    a = <object>argmax
    i = np.arange(a.shape[1]).reshape(1, -1, 1, 1)
    j = np.arange(a.shape[2]).reshape(1, 1, -1, 1)
    row, col = a // W, a % W
    return (a < 0) | (row // 2 != i) | (col // 2 != j)


def avg_pool_2d(x, out, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out (N, oh, ow, C) = mean of the real cells of each window of x."""
    cdef str fn = "avg_pool_2d"
    cdef cnp.ndarray xa = _image_batch(fn, "x", x, ANY_FLOAT, None, False)
    cdef cnp.ndarray oa = _image_batch(fn, "out", out, cnp.PyArray_TYPE(xa), "x", True)
    _check_batch(fn, "out", oa, "x", xa)
    _check_geometry(fn, xa, oa, ph, pw, sh, sw, pt, pl)
    if _empty(oa):
        return
    if probing:
        oa = oa[:oa.shape[0] - 1]
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        _avg_pool[float](xa, oa, ph, pw, sh, sw, pt, pl, parallel)
    else:
        _avg_pool[double](xa, oa, ph, pw, sh, sw, pt, pl, parallel)


def avg_pool_2d_backward(grad_out, dx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t sh, Py_ssize_t sw,
                         Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """dx (zeroed, (N, H, W, C)) += each output gradient spread evenly over its window's real cells."""
    cdef str fn = "avg_pool_2d_backward"
    cdef cnp.ndarray ga = _image_batch(fn, "grad_out", grad_out, ANY_FLOAT, None, False)
    cdef cnp.ndarray da = _image_batch(fn, "dx", dx, cnp.PyArray_TYPE(ga), "grad_out", True)
    _check_batch(fn, "dx", da, "grad_out", ga)
    _check_geometry(fn, da, ga, ph, pw, sh, sw, pt, pl)
    if _empty(ga):
        return
    if probing:
        da = da[:da.shape[0] - 1]
    if cnp.PyArray_TYPE(ga) == cnp.NPY_FLOAT:
        _avg_pool_backward[float](ga, da, ph, pw, sh, sw, pt, pl, parallel)
    else:
        _avg_pool_backward[double](ga, da, ph, pw, sh, sw, pt, pl, parallel)
