# cython: language_level=3
"""Depthwise convolution kernels, channels_last: each input channel convolved with its own M kernels.

Layouts (Keras'): images x (N, H, W, C); kernel (kh, kw, C, M); output (N, oh, ow, C*M), output
channel c*M + m made from input channel c by kernel[:, :, c, m]:

    out[n, i, j, c*M + m] = sum_{a, b} x[n, i*sh + a*dh - pt, j*sw + b*dw - pl, c] * kernel[a, b, c, m]

Why loops and not im2col + BLAS: a depthwise product has no inner dimension worth a GEMM (each output
is a dot product of kh*kw numbers), and the grouped-GEMM formulation (one (pixels, kh*kw) x (kh*kw, M)
product per channel) measured 20x slower than these loops, numpy's einsum over the im2col columns
2-3x slower (docs/performance.md, "Depthwise convolution"). The innermost loops run over channels,
contiguous in x, the kernel and the output, so the M = 1 case (MobileNet's) compiles to packed
multiply-adds.

Padding, stride and dilation live in the index arithmetic: a tap outside the image is skipped. Arrays
are indexed through typed memoryviews (the debug build checks every access), images as (N, H, W*C)
views. The forward and the input gradient split the batch between threads (no two threads write one
image); the kernel gradient splits the kh*kw taps (each thread owns its taps' rows of dkernel). The
``def`` entry points check ranks, dtypes, contiguity, matching batch and channel counts, and a
geometry in which every window starts inside the padded image.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from kernel_args cimport (ANY_FLOAT, readable, writable, check_ndim, check_range, shape_of, probing,
                          run_bounds_probe)

import numpy as np

cnp.import_array()


# ---- one image (or one tap) at a time; `except -1` lets the debug build's IndexError out of prange ----
cdef int _forward_image(const floating[:, :, ::1] x, const floating[:, ::1] k, floating[:, :, ::1] out,
                        Py_ssize_t n, Py_ssize_t C, Py_ssize_t M, Py_ssize_t kh, Py_ssize_t kw,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                        Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2] // C, oh = out.shape[1], ow = out.shape[2] // (C * M)
    cdef Py_ssize_t i, j, a, b, c, m, ih, iw, o, xi, ki
    cdef floating xv, zero = 0
    for i in range(oh):
        for j in range(ow):
            o = j * C * M
            for c in range(C * M):
                out[n, i, o + c] = zero
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    continue
                for b in range(kw):
                    iw = j * sw + b * dw - pl
                    if iw < 0 or iw >= W:
                        continue
                    xi, ki = iw * C, b * C * M
                    if M == 1:
                        for c in range(C):
                            out[n, i, o + c] += x[n, ih, xi + c] * k[a, ki + c]
                    else:
                        for c in range(C):
                            xv = x[n, ih, xi + c]
                            for m in range(M):
                                out[n, i, o + c * M + m] += xv * k[a, ki + c * M + m]
    return 0


cdef int _input_grad_image(const floating[:, :, ::1] g, const floating[:, ::1] k, floating[:, :, ::1] dx,
                           Py_ssize_t n, Py_ssize_t C, Py_ssize_t M, Py_ssize_t kh, Py_ssize_t kw,
                           Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                           Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    """dx[n] (zeroed by the caller) += the gradient of every window that read each pixel."""
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2] // C, oh = g.shape[1], ow = g.shape[2] // (C * M)
    cdef Py_ssize_t i, j, a, b, c, m, ih, iw, o, xi, ki
    cdef floating total
    for i in range(oh):
        for j in range(ow):
            o = j * C * M
            for a in range(kh):
                ih = i * sh + a * dh - pt
                if ih < 0 or ih >= H:
                    continue
                for b in range(kw):
                    iw = j * sw + b * dw - pl
                    if iw < 0 or iw >= W:
                        continue
                    xi, ki = iw * C, b * C * M
                    if M == 1:
                        for c in range(C):
                            dx[n, ih, xi + c] += g[n, i, o + c] * k[a, ki + c]
                    else:
                        for c in range(C):
                            total = 0
                            for m in range(M):
                                total = total + g[n, i, o + c * M + m] * k[a, ki + c * M + m]
                            dx[n, ih, xi + c] += total
    return 0


cdef int _kernel_grad_tap(const floating[:, :, ::1] x, const floating[:, :, ::1] g, floating[:, ::1] dk,
                          Py_ssize_t tap, Py_ssize_t C, Py_ssize_t M, Py_ssize_t kw,
                          Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                          Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    """dkernel[a, b] = sum over every image and window of x at tap (a, b) times the gradient."""
    cdef Py_ssize_t a = tap // kw, b = tap % kw
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2] // C
    cdef Py_ssize_t oh = g.shape[1], ow = g.shape[2] // (C * M)
    cdef Py_ssize_t n, i, j, c, m, ih, iw, o, xi, ki = b * C * M
    cdef floating xv, zero = 0
    for c in range(C * M):
        dk[a, ki + c] = zero
    for n in range(N):
        for i in range(oh):
            ih = i * sh + a * dh - pt
            if ih < 0 or ih >= H:
                continue
            for j in range(ow):
                iw = j * sw + b * dw - pl
                if iw < 0 or iw >= W:
                    continue
                xi, o = iw * C, j * C * M
                if M == 1:
                    for c in range(C):
                        dk[a, ki + c] += x[n, ih, xi + c] * g[n, i, o + c]
                else:
                    for c in range(C):
                        xv = x[n, ih, xi + c]
                        for m in range(M):
                            dk[a, ki + c * M + m] += xv * g[n, i, o + c * M + m]
    return 0


# ---- the M = 1, stride-1-along-W case, one output row at a time: for each tap, the row's valid pixels
# ---- are one contiguous run in x, the output and the kernel tiled along W (ktile[a, b*ow*C + j*C + c] =
# ---- kernel[a, b, c, 0]), so the loop over them is one long packed multiply-add -----------------------
cdef inline void _valid_columns(Py_ssize_t ow, Py_ssize_t W, Py_ssize_t offset, Py_ssize_t *j0,
                                Py_ssize_t *j1) noexcept nogil:
    """The outputs j whose tap reads column iw = j + offset inside [0, W): j0 <= j < j1."""
    j0[0] = -offset if offset < 0 else 0
    j1[0] = W - offset if W - offset < ow else ow
    if j1[0] < j0[0]:
        j1[0] = j0[0]


cdef int _forward_rows(const floating[:, :, ::1] x, const floating[:, ::1] ktile, floating[:, :, ::1] out,
                       Py_ssize_t n, Py_ssize_t C, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                       Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = x.shape[1], W = x.shape[2] // C, oh = out.shape[1], ow = out.shape[2] // C
    cdef Py_ssize_t i, a, b, t, ih, j0, j1, xo, oo, ko, length
    cdef floating zero = 0
    for i in range(oh):
        for t in range(ow * C):
            out[n, i, t] = zero
        for a in range(kh):
            ih = i * sh + a * dh - pt
            if ih < 0 or ih >= H:
                continue
            for b in range(kw):
                _valid_columns(ow, W, b * dw - pl, &j0, &j1)
                xo, oo, ko, length = (j0 + b * dw - pl) * C, j0 * C, b * ow * C + j0 * C, (j1 - j0) * C
                for t in range(length):
                    out[n, i, oo + t] += x[n, ih, xo + t] * ktile[a, ko + t]
    return 0


cdef int _input_grad_rows(const floating[:, :, ::1] g, const floating[:, ::1] ktile, floating[:, :, ::1] dx,
                          Py_ssize_t n, Py_ssize_t C, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                          Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    cdef Py_ssize_t H = dx.shape[1], W = dx.shape[2] // C, oh = g.shape[1], ow = g.shape[2] // C
    cdef Py_ssize_t i, a, b, t, ih, j0, j1, xo, oo, ko, length
    for i in range(oh):
        for a in range(kh):
            ih = i * sh + a * dh - pt
            if ih < 0 or ih >= H:
                continue
            for b in range(kw):
                _valid_columns(ow, W, b * dw - pl, &j0, &j1)
                xo, oo, ko, length = (j0 + b * dw - pl) * C, j0 * C, b * ow * C + j0 * C, (j1 - j0) * C
                for t in range(length):
                    dx[n, ih, xo + t] += g[n, i, oo + t] * ktile[a, ko + t]
    return 0


cdef int _kernel_grad_rows(const floating[:, :, ::1] x, const floating[:, :, ::1] g, floating[:, ::1] dk,
                           floating[:, ::1] dktile, Py_ssize_t tap, Py_ssize_t C, Py_ssize_t kw,
                           Py_ssize_t sh, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl) except -1 nogil:
    """dk[a, b] for tap (a, b): products summed into dktile[tap] (one slot per output column), then over the
    columns."""
    cdef Py_ssize_t a = tap // kw, b = tap % kw
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2] // C, oh = g.shape[1], ow = g.shape[2] // C
    cdef Py_ssize_t n, i, j, c, t, ih, j0, j1, xo, oo, length
    cdef floating zero = 0
    for t in range(ow * C):
        dktile[tap, t] = zero
    _valid_columns(ow, W, b * dw - pl, &j0, &j1)
    xo, oo, length = (j0 + b * dw - pl) * C, j0 * C, (j1 - j0) * C
    for n in range(N):
        for i in range(oh):
            ih = i * sh + a * dh - pt
            if ih < 0 or ih >= H:
                continue
            for t in range(length):
                dktile[tap, oo + t] += x[n, ih, xo + t] * g[n, i, oo + t]
    for c in range(C):
        dk[a, b * C + c] = zero
    for j in range(ow):
        for c in range(C):
            dk[a, b * C + c] += dktile[tap, j * C + c]
    return 0


cdef int _forward(const floating[:, :, ::1] x, const floating[:, ::1] k, floating[:, :, ::1] out,
                  Py_ssize_t C, Py_ssize_t M, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl, bint rows, bint parallel) except -1:
    """rows: k is the kernel tiled along W (the M = 1, sw = 1 case), else the kernel as (kh, kw*C*M)."""
    cdef Py_ssize_t n
    with nogil:  # the images of x: a probe's short out must be written out of bounds
        for n in prange(x.shape[0], schedule="dynamic", use_threads_if=parallel):
            if rows:
                _forward_rows(x, k, out, n, C, kh, kw, sh, dh, dw, pt, pl)
            else:
                _forward_image(x, k, out, n, C, M, kh, kw, sh, sw, dh, dw, pt, pl)
    return 0


cdef int _input_grad(const floating[:, :, ::1] g, const floating[:, ::1] k, floating[:, :, ::1] dx,
                     Py_ssize_t C, Py_ssize_t M, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl, bint rows, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:  # the images of the gradient: a probe's short dx must be written out of bounds
        for n in prange(g.shape[0], schedule="dynamic", use_threads_if=parallel):
            if rows:
                _input_grad_rows(g, k, dx, n, C, kh, kw, sh, dh, dw, pt, pl)
            else:
                _input_grad_image(g, k, dx, n, C, M, kh, kw, sh, sw, dh, dw, pt, pl)
    return 0


cdef int _kernel_grad(const floating[:, :, ::1] x, const floating[:, :, ::1] g, floating[:, ::1] dk,
                      floating[:, ::1] dktile, Py_ssize_t C, Py_ssize_t M, Py_ssize_t kh, Py_ssize_t kw,
                      Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
                      bint rows, bint parallel) except -1:
    cdef Py_ssize_t tap
    with nogil:
        for tap in prange(kh * kw, schedule="dynamic", use_threads_if=parallel):
            if rows:
                _kernel_grad_rows(x, g, dk, dktile, tap, C, kw, sh, dh, dw, pt, pl)
            else:
                _kernel_grad_tap(x, g, dk, tap, C, M, kw, sh, sw, dh, dw, pt, pl)
    return 0


# ---- Python entry points ---------------------------------------------------------------------------
def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with the array it writes handed to the
    kernel one image (dkernel: one kernel row) short; the out-of-bounds access must come out as
    IndexError. The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("depthwise", fn, args)


cdef int _check_axis(str fn, Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t dilation,
                     Py_ssize_t pad, Py_ssize_t out, tuple names) except -1:
    """One spatial axis, names (size, kernel, stride, dilation, pad, out): every window starts inside the
    padded input, pad < (k - 1) * dilation + 1 and (out - 1) * stride - pad <= size - 1."""
    check_range(fn, names[2], stride, 1)
    check_range(fn, names[3], dilation, 1)
    check_range(fn, names[4], pad, 0)
    cdef Py_ssize_t extent = (k - 1) * dilation + 1
    if pad >= extent:
        raise ValueError(f"{fn}: {names[4]} = {pad} must be in [0, {extent - 1}]: a pad as wide as the kernel's "
                         f"extent ({names[1]} - 1) * {names[3]} + 1 = {extent} puts whole windows in padding")
    if out > 0 and (out - 1) * stride - pad > size - 1:
        raise ValueError(f"{fn}: {names[5]} = {out} windows with {names[2]} = {stride} and {names[4]} = {pad} "
                         f"run past the input's {names[0]} = {size}")
    return 0


cdef tuple _check(str fn, cnp.ndarray image, str image_name, cnp.ndarray kernel, cnp.ndarray result,
                  str result_name, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                  Py_ssize_t pt, Py_ssize_t pl):
    """image (N, H, W, C), kernel (kh, kw, C, M), result (N, oh, ow, C*M): ranks, agreement, geometry."""
    check_ndim(fn, image_name, image, 4, "(N, H, W, C)")
    check_ndim(fn, "kernel", kernel, 4, "(kh, kw, C, M)")
    check_ndim(fn, result_name, result, 4, "(N, oh, ow, C*M)")
    cdef Py_ssize_t kh = kernel.shape[0], kw = kernel.shape[1], C = kernel.shape[2], M = kernel.shape[3]
    if kh < 1 or kw < 1 or M < 1:
        raise ValueError(f"{fn}: kernel has shape {shape_of(kernel)}, which has an empty axis")
    if image.shape[3] != C or result.shape[0] != image.shape[0] or result.shape[3] != C * M:
        raise ValueError(f"{fn}: {image_name} {shape_of(image)}, kernel {shape_of(kernel)} and {result_name} "
                         f"{shape_of(result)} do not fit (N, H, W, C), (kh, kw, C, M), (N, oh, ow, C*M)")
    _check_axis(fn, image.shape[1], kh, sh, dh, pt, result.shape[1], ("H", "kh", "sh", "dh", "pt", "oh"))
    _check_axis(fn, image.shape[2], kw, sw, dw, pl, result.shape[2], ("W", "kw", "sw", "dw", "pl", "ow"))
    return kh, kw, C, M


cdef inline cnp.ndarray _rows(cnp.ndarray a):
    """The (N, H, W*C) view of a C-contiguous (N, H, W, C) array."""
    return a.reshape(a.shape[0], a.shape[1], a.shape[2] * a.shape[3])


cdef inline cnp.ndarray _taps(cnp.ndarray k):
    """The (kh, kw*C*M) view of a C-contiguous (kh, kw, C, M) kernel."""
    return k.reshape(k.shape[0], k.shape[1] * k.shape[2] * k.shape[3])


cdef inline bint _empty(cnp.ndarray a) noexcept:
    return a.shape[0] * a.shape[1] * a.shape[2] * a.shape[3] == 0


cdef inline bint _by_rows(Py_ssize_t M, Py_ssize_t sw) noexcept:
    return M == 1 and sw == 1


cdef cnp.ndarray _kernel_rows(cnp.ndarray k, Py_ssize_t ow):
    """The kernel (kh, kw, C, 1) tiled along W, as (kh, kw*ow*C): [a, b*ow*C + j*C + c] = k[a, b, c, 0]."""
    cdef object tiled = (<object>k)[:, :, None, :, 0].repeat(ow, axis=2)
    return tiled.reshape(k.shape[0], k.shape[1] * ow * k.shape[2])


def depthwise_conv_2d(x, kernel, out, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                      Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """out (N, oh, ow, C*M) = the depthwise convolution of x (N, H, W, C) with kernel (kh, kw, C, M)."""
    cdef str fn = "depthwise_conv_2d"
    cdef Py_ssize_t kh, kw, C, M
    cdef cnp.ndarray xa = readable(fn, "x", x)
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ka = readable(fn, "kernel", kernel, dtype, "x")
    cdef cnp.ndarray oa = writable(fn, "out", out, dtype, "x")
    kh, kw, C, M = _check(fn, xa, "x", ka, oa, "out", sh, sw, dh, dw, pt, pl)
    if _empty(oa):
        return
    cdef bint rows = _by_rows(M, sw)
    cdef cnp.ndarray weights = _kernel_rows(ka, oa.shape[2]) if rows else _taps(ka)
    oa = _rows(oa)
    if probing:
        oa = oa[:oa.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _forward[float](_rows(xa), weights, oa, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows, parallel)
    else:
        _forward[double](_rows(xa), weights, oa, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows, parallel)


def depthwise_conv_2d_input_grad(grad, kernel, dx, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                                 Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """dx (zeroed, (N, H, W, C)) += the gradient grad (N, oh, ow, C*M) sent back through kernel (kh, kw, C, M)."""
    cdef str fn = "depthwise_conv_2d_input_grad"
    cdef Py_ssize_t kh, kw, C, M
    cdef cnp.ndarray ga = readable(fn, "grad", grad)
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef cnp.ndarray ka = readable(fn, "kernel", kernel, dtype, "grad")
    cdef cnp.ndarray da = writable(fn, "dx", dx, dtype, "grad")
    kh, kw, C, M = _check(fn, da, "dx", ka, ga, "grad", sh, sw, dh, dw, pt, pl)
    if _empty(ga) or _empty(da):
        return
    cdef bint rows = _by_rows(M, sw)
    cdef cnp.ndarray weights = _kernel_rows(ka, ga.shape[2]) if rows else _taps(ka)
    da = _rows(da)
    if probing:
        da = da[:da.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _input_grad[float](_rows(ga), weights, da, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows, parallel)
    else:
        _input_grad[double](_rows(ga), weights, da, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows, parallel)


def depthwise_conv_2d_kernel_grad(x, grad, dkernel, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                                  Py_ssize_t pt, Py_ssize_t pl, bint parallel):
    """dkernel (kh, kw, C, M) = the gradient of the kernel, from x (N, H, W, C) and grad (N, oh, ow, C*M)."""
    cdef str fn = "depthwise_conv_2d_kernel_grad"
    cdef Py_ssize_t kh, kw, C, M
    cdef cnp.ndarray xa = readable(fn, "x", x)
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ga = readable(fn, "grad", grad, dtype, "x")
    cdef cnp.ndarray ka = writable(fn, "dkernel", dkernel, dtype, "x")
    kh, kw, C, M = _check(fn, xa, "x", ka, ga, "grad", sh, sw, dh, dw, pt, pl)
    if C == 0:
        return
    ka = _taps(ka)
    if _empty(ga) or _empty(xa):
        ka[...] = 0
        return
    cdef bint rows = _by_rows(M, sw)
    # per tap, one partial sum per output column (the rows path); a placeholder row otherwise
    cdef cnp.ndarray partial = np.zeros((kh * kw, ga.shape[2] * C if rows else 1), dtype=(<object>xa).dtype)
    if probing:
        ka = ka[:ka.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _kernel_grad[float](_rows(xa), _rows(ga), ka, partial, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows, parallel)
    else:
        _kernel_grad[double](_rows(xa), _rows(ga), ka, partial, C, M, kh, kw, sh, sw, dh, dw, pt, pl, rows,
                             parallel)
