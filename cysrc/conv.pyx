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
The ``def`` entry points check what the loops rely on (kernel_args.pxd): ranks, dtypes,
contiguity, that ``cols`` has one row per output pixel of every image, and a geometry in
which every window starts inside the padded image (pads below the kernel's extent). Within
those, the loops' own index arithmetic never leaves the arrays. Threads split the batch, so
no two threads ever write the same image.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from kernel_args cimport (ANY_FLOAT, SIZE_MAX_ALLOWED, readable, writable, check_ndim, check_range,
                          product_overflows, shape_of, probing, run_bounds_probe)

cnp.import_array()

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
                    b0 = 0 if iw >= 0 else (kw if -iw > kw else -iw)
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
def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with cols handed to its kernel
    one row short; the kernel's out-of-bounds access must come out as IndexError. The release
    build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("conv", fn, args)


cdef int _check_axis(str fn, Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t dilation,
                     Py_ssize_t pad, Py_ssize_t out, tuple names) except -1:
    """One spatial axis; names: (size, kernel, stride, dilation, pad, out), e.g. ("H", "kh", ...).

    Every window must start inside the padded input: pad < (k - 1) * dilation + 1 (the first
    window holds at least one real cell; PyTorch and Keras never pad more) and the last window
    (out - 1) * stride - pad <= size - 1.
    """
    check_range(fn, names[1], k, 1)
    check_range(fn, names[2], stride, 1)
    check_range(fn, names[3], dilation, 1)
    check_range(fn, names[5], out, 0)
    cdef Py_ssize_t extent = (k - 1) * dilation + 1
    if not 0 <= pad < extent:
        raise ValueError(f"{fn}: {names[4]} = {pad} must be in [0, {extent - 1}]: a pad as wide as the kernel's "
                         f"extent ({names[1]} - 1) * {names[3]} + 1 = {extent} puts whole windows in padding")
    if out > 0 and (out - 1) * stride - pad > size - 1:
        raise ValueError(f"{fn}: {names[5]} = {out} windows with {names[2]} = {stride} and {names[4]} = {pad} "
                         f"run past the input's {names[0]} = {size}")
    return 0


cdef int _check_cols(str fn, cnp.ndarray cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t oh, Py_ssize_t ow) except -1:
    """cols is (N*oh*ow, kh*kw*C) or, with the bias column, (N*oh*ow, kh*kw*C + 1)."""
    cdef Py_ssize_t rows = oh * ow, depth = kh * kw  # each factor <= 2^31: no overflow
    if product_overflows(rows, N) or product_overflows(depth, C):
        raise ValueError(f"{fn}: N*oh*ow or kh*kw*C overflows (N={N}, oh={oh}, ow={ow}, kh={kh}, kw={kw}, C={C})")
    rows, depth = rows * N, depth * C
    if cols.shape[0] != rows or not depth <= cols.shape[1] <= depth + 1:
        raise ValueError(f"{fn}: cols has shape {shape_of(cols)}, expected ({rows}, {depth} [+1])")
    return 0


cdef int _im2col(const floating[:, :, ::1] x, floating[:, ::1] cols, Py_ssize_t C,
                 Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                 Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(x.shape[0], schedule="dynamic", use_threads_if=parallel):
            _im2col_image(x, cols, n, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    return 0


cdef int _col2im(const floating[:, ::1] cols, floating[:, :, ::1] dx, Py_ssize_t C,
                 Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                 Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(dx.shape[0], schedule="dynamic", use_threads_if=parallel):
            _col2im_image(cols, dx, n, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    return 0


cdef inline cnp.ndarray _pixel_rows(cnp.ndarray a):
    """The (N, H, W*C) view of a C-contiguous (N, H, W, C) array."""
    return a.reshape(a.shape[0], a.shape[1], a.shape[2] * a.shape[3])


def im2col_2d(x, cols, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """Fill cols (N*oh*ow, kh*kw*C [+ 1]) with the receptive field of every output pixel of x (N, H, W, C).

    When cols has one extra column it is set to 1, so that a kernel with the bias as its
    last row adds the bias inside the matrix product, and cols^T @ dy yields db with dK.
    """
    cdef str fn = "im2col_2d"
    cdef cnp.ndarray xa = readable(fn, "x", x)
    check_ndim(fn, "x", xa, 4, "(N, H, W, C)")
    cdef cnp.ndarray ca = writable(fn, "cols", cols, cnp.PyArray_TYPE(xa), "x")
    check_ndim(fn, "cols", ca, 2, "(N*oh*ow, kh*kw*C [+1])")
    cdef Py_ssize_t N = xa.shape[0], H = xa.shape[1], W = xa.shape[2], C = xa.shape[3]
    _check_axis(fn, H, kh, sh, dh, pt, oh, ("H", "kh", "sh", "dh", "pt", "oh"))
    _check_axis(fn, W, kw, sw, dw, pl, ow, ("W", "kw", "sw", "dw", "pl", "ow"))
    _check_cols(fn, ca, N, C, kh, kw, oh, ow)
    if N == 0 or oh * ow == 0 or C == 0:
        return
    if probing:
        ca = ca[:ca.shape[0] - 1]
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        _im2col[float](_pixel_rows(xa), ca, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, parallel)
    else:
        _im2col[double](_pixel_rows(xa), ca, C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, parallel)


def col2im_2d(cols, dx, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
              Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl,
              Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """dx (zeroed, (N, H, W, C)) += the column rows (N*oh*ow, kh*kw*C [+1]) scattered back to their pixels."""
    cdef str fn = "col2im_2d"
    cdef cnp.ndarray ca = readable(fn, "cols", cols)
    check_ndim(fn, "cols", ca, 2, "(N*oh*ow, kh*kw*C [+1])")
    cdef cnp.ndarray da = writable(fn, "dx", dx, cnp.PyArray_TYPE(ca), "cols")
    check_ndim(fn, "dx", da, 4, "(N, H, W, C)")
    cdef Py_ssize_t N = da.shape[0], H = da.shape[1], W = da.shape[2], C = da.shape[3]
    _check_axis(fn, H, kh, sh, dh, pt, oh, ("H", "kh", "sh", "dh", "pt", "oh"))
    _check_axis(fn, W, kw, sw, dw, pl, ow, ("W", "kw", "sw", "dw", "pl", "ow"))
    _check_cols(fn, ca, N, C, kh, kw, oh, ow)
    if N == 0 or oh * ow == 0 or C == 0:
        return
    if probing:
        ca = ca[:ca.shape[0] - 1]
    if cnp.PyArray_TYPE(ca) == cnp.NPY_FLOAT:
        _col2im[float](ca, _pixel_rows(da), C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, parallel)
    else:
        _col2im[double](ca, _pixel_rows(da), C, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, parallel)


# ---- the fused convolution's ReLU ------------------------------------------------------
cdef int _relu_inplace(floating[::1] z, bint parallel) except -1:
    cdef Py_ssize_t i, n = z.shape[0]
    cdef floating v, zero = 0
    with nogil:
        for i in prange(n, use_threads_if=parallel, schedule="static"):
            v = z[i]
            z[i] = zero if v <= zero else v
    return 0


cdef int _relu_backward_into(const floating[::1] g, const floating[::1] y, floating[::1] out,
                             bint parallel) except -1:
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, zero = 0
    with nogil:
        for i in prange(n, use_threads_if=parallel, schedule="static"):
            gv = g[i]
            out[i] = zero if y[i] <= zero else gv
    return 0


def relu_inplace(z, bint parallel):
    """z = max(z, 0) in place on the GEMM's output, flattened to 1-D (same select as
    activations.relu_forward: NaN stays NaN)."""
    cdef cnp.ndarray za = writable("relu_inplace", "z", z, ANY_FLOAT)
    check_ndim("relu_inplace", "z", za, 1, "(the flattened output)")
    if cnp.PyArray_TYPE(za) == cnp.NPY_FLOAT:
        _relu_inplace[float](za, parallel)
    else:
        _relu_inplace[double](za, parallel)


def relu_backward_into(g, y, out, bint parallel):
    """out = g where y > 0, else 0 (ReLU'(0) = 0; a NaN output passes g, as activations.relu_backward).

    All three 1-D and of one dtype; ``out`` may be ``g`` itself when the caller owns g.
    """
    cdef str fn = "relu_backward_into"
    cdef cnp.ndarray ga = readable(fn, "g", g)
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef cnp.ndarray ya = readable(fn, "y", y, dtype, "g")
    cdef cnp.ndarray oa = writable(fn, "out", out, dtype, "g")
    check_ndim(fn, "g", ga, 1, "(flattened)")
    check_ndim(fn, "y", ya, 1, "(flattened)")
    check_ndim(fn, "out", oa, 1, "(flattened)")
    if ya.shape[0] != ga.shape[0] or oa.shape[0] != ga.shape[0]:
        raise ValueError(f"{fn}: sizes differ: g {ga.shape[0]}, y {ya.shape[0]}, out {oa.shape[0]}")
    if probing:
        oa = oa[:oa.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _relu_backward_into[float](ga, ya, oa, parallel)
    else:
        _relu_backward_into[double](ga, ya, oa, parallel)
