# cython: language_level=3
"""Winograd transforms for 3x3 convolutions with stride 1 and dilation 1, channels_last.

F(m x m, 3 x 3), m = 2 or 4, computes an m x m block of outputs from an a x a input tile
(a = m + 2) with a*a products per channel pair instead of 9*m*m (Lavin & Gray 2016):

    Y = A^T [ U (.) V ] A,    V = B^T d B  (input tile d),    U = G g G^T  (3x3 filter g)

summed over input channels, which turns the (.) into a*a matrix products, one per tile cell:
M[p] = V[p] @ U[p] with V[p] (tiles, cin), U[p] (cin, cout). The filter transforms
(kron(G, G) @ g) are numpy's BLAS (ops/winograd.py); the products are numpy's CBLAS, or in float32
on the FMA builds this module's own kernel (winograd_gemm.h, below). This module has the four data
transforms, each a loop over tiles:

    winograd_input        V = B^T d B                 (forward; d read with zeros outside x)
    winograd_output       y = A^T M A (+ bias, ReLU)  (forward; a partial tile's extra rows dropped)
    winograd_output_grad  dM = A dy A^T               (the adjoint of winograd_output)
    winograd_input_grad   dx = sum of B dV B^T        (the adjoint of winograd_input: the tiles
                                                       overlap by 2 pixels, so they add up)

The backward is the exact adjoint of the forward, so the gradients are those of the
convolution; dU = V[p]^T @ dM[p] and dV[p] = dM[p] @ U[p]^T are again matrix products.

Layouts: images (N, H, W, C); transformed arrays (a*a, T, C) with T = N * th * tw tiles,
th = ceil(oh / m), tw = ceil(ow / m), tile t = (n * th + ti) * tw + tj, cell p = xi * a + nu
(xi: the row transform's index). Tile (ti, tj) reads input rows ti*m - pt ... ti*m - pt + a - 1
(pt, pl: the convolution's leading padding); cells outside the image read as zero, so "same"
padding and partial tiles at the bottom/right need no padded copy.

Vectorization: each tile is processed LANES channels at a time. The cells are first copied into
a local block (one LANES-vector per cell), transformed there (straight-line formulas below, the
zeros of B, G and A left out), and copied out. Working on local arrays lets gcc vectorize
the lane loops without alias checks between the image and the transformed array.

Numerical error grows with m (the transforms' entries reach 8 for m = 4): in float32 the
measured worst error relative to sum |x| |w| was ~2 eps for m = 2 and ~30 eps for m = 4
(tests/test_conv.py states the bounds it checks; docs/performance.md has the figures).
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid

from kernel_args cimport (ANY_FLOAT, readable, writable, check_ndim, check_range, shape_of, probing,
                          run_bounds_probe)
from winograd_tiles cimport (input_tile, output_tile, output_grad_tile, input_grad_tiles, input_grad_image,
                             zero_image, LANES, TGR_W_LANES)

import numpy as np

cnp.import_array()
if LANES != TGR_W_LANES:  # winograd_tiles.pxd's blocks and winograd_math.h's vectors must agree
    raise ImportError(f"winograd: LANES is {LANES} in winograd_tiles.pxd but {TGR_W_LANES} in winograd_math.h")

# ---- loops over tiles ---------------------------------------------------------------------
cdef int _input(const floating[:, :, ::1] x, floating[:, :, ::1] V, Py_ssize_t C, int m, Py_ssize_t pt,
                Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(x.shape[0] * th * tw, schedule="static", use_threads_if=parallel):
            input_tile(x, V, t, t, C, m, pt, pl, th, tw)
    return 0


cdef int _output(const floating[:, :, ::1] M, floating[:, :, ::1] y, const floating[:, :, ::1] bias,
                 bint relu, Py_ssize_t C, int m, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(M.shape[1], schedule="static", use_threads_if=parallel):  # probe: y is short
            output_tile(M, y, bias, relu, t, t, C, m, th, tw)
    return 0


cdef int _output_grad(const floating[:, :, ::1] dy, floating[:, :, ::1] dM, Py_ssize_t C, int m,
                      Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(dy.shape[0] * th * tw, schedule="static", use_threads_if=parallel):
            output_grad_tile(dy, dy, False, dM, t, t, C, m, th, tw)
    return 0


cdef int _input_grad(const floating[:, :, ::1] dV, floating[:, :, ::1] dx, Py_ssize_t C, int m, Py_ssize_t pt,
                     Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(dV.shape[1] // (th * tw), schedule="static", use_threads_if=parallel):
            input_grad_image(dV, dx, n, C, m, pt, pl, th, tw)
    return 0


# ---- Python entry points ------------------------------------------------------------------
def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with its written array handed to
    the kernel one row (or image) short; the out-of-bounds access must come out as IndexError.
    The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("winograd", fn, args)


cdef tuple _tiles(str fn, int m, Py_ssize_t N, Py_ssize_t oh, Py_ssize_t ow):
    """(th, tw, T) for m x m output blocks."""
    if m != 2 and m != 4:
        raise ValueError(f"{fn}: m must be 2 or 4 (F(2x2, 3x3) or F(4x4, 3x3)), got {m}")
    check_range(fn, "oh", oh, 1)
    check_range(fn, "ow", ow, 1)
    cdef Py_ssize_t th = (oh + m - 1) // m, tw = (ow + m - 1) // m
    return th, tw, N * th * tw


cdef int _check_transformed(str fn, str name, cnp.ndarray a, int m, Py_ssize_t T, Py_ssize_t C) except -1:
    check_ndim(fn, name, a, 3, "(a*a, tiles, channels)")
    cdef Py_ssize_t cells = (m + 2) * (m + 2)
    if a.shape[0] != cells or a.shape[1] != T or a.shape[2] != C:
        raise ValueError(f"{fn}: {name} has shape {shape_of(a)}, expected ({cells}, {T}, {C})")
    return 0


cdef inline cnp.ndarray _pixel_rows(cnp.ndarray a):
    """The (N, H, W*C) view of a C-contiguous (N, H, W, C) array."""
    return a.reshape(a.shape[0], a.shape[1], a.shape[2] * a.shape[3])


def winograd_input(x, V, int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """V (a*a, N*th*tw, C) = B^T d B for every tile d of x (N, H, W, C), zeros outside x.

    pt, pl: the convolution's leading padding (0 to 2); oh, ow: its output size.
    """
    cdef str fn = "winograd_input"
    cdef cnp.ndarray xa = readable(fn, "x", x)
    check_ndim(fn, "x", xa, 4, "(N, H, W, C)")
    cdef cnp.ndarray va = writable(fn, "V", V, cnp.PyArray_TYPE(xa), "x")
    check_range(fn, "pt", pt, 0, 2)
    check_range(fn, "pl", pl, 0, 2)
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, xa.shape[0], oh, ow)
    cdef Py_ssize_t C = xa.shape[3]
    _check_transformed(fn, "V", va, m, T, C)
    if T == 0 or C == 0:
        return
    if probing:
        va = va[:, :va.shape[1] - 1].copy()  # one tile short (a C-contiguous copy, as the kernel needs)
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        _input[float](_pixel_rows(xa), va, C, m, pt, pl, th, tw, parallel)
    else:
        _input[double](_pixel_rows(xa), va, C, m, pt, pl, th, tw, parallel)


def winograd_output(M, y, bias, int m, bint relu, bint parallel):
    """y (N, oh, ow, C) = A^T M A per tile of M (a*a, N*th*tw, C), plus bias (C,) unless None,
    then max(., 0) if relu."""
    cdef str fn = "winograd_output"
    cdef cnp.ndarray ma = readable(fn, "M", M)
    cdef int dtype = cnp.PyArray_TYPE(ma)
    cdef cnp.ndarray ya = writable(fn, "y", y, dtype, "M")
    check_ndim(fn, "y", ya, 4, "(N, oh, ow, C)")
    cdef Py_ssize_t C = ya.shape[3]
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, ya.shape[0], ya.shape[1], ya.shape[2])
    _check_transformed(fn, "M", ma, m, T, C)
    cdef bint has_bias = bias is not None
    cdef cnp.ndarray ba = readable(fn, "bias", bias if has_bias else np.empty(0, ma.dtype), dtype, "M")
    check_ndim(fn, "bias", ba, 1, "(C,)")
    if has_bias and ba.shape[0] != C:
        raise ValueError(f"{fn}: bias has shape {shape_of(ba)}, expected ({C},)")
    if T == 0 or C == 0:
        return
    if probing:
        ya = ya[:ya.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _output[float](ma, _pixel_rows(ya), ba.reshape(1, 1, -1), relu, C, m, th, tw, parallel)
    else:
        _output[double](ma, _pixel_rows(ya), ba.reshape(1, 1, -1), relu, C, m, th, tw, parallel)


def winograd_output_grad(dy, dM, int m, bint parallel):
    """dM (a*a, N*th*tw, C) = A dy A^T per tile of dy (N, oh, ow, C), zeros beyond its edge.

    Cell (1, 1) of each tile, dM[m + 3], holds the tile's sum of dy (that row of A^T is all ones:
    the interpolation point 1), so the bias gradient is the sum of that plane's rows.
    """
    cdef str fn = "winograd_output_grad"
    cdef cnp.ndarray ga = readable(fn, "dy", dy)
    check_ndim(fn, "dy", ga, 4, "(N, oh, ow, C)")
    cdef cnp.ndarray da = writable(fn, "dM", dM, cnp.PyArray_TYPE(ga), "dy")
    cdef Py_ssize_t C = ga.shape[3]
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, ga.shape[0], ga.shape[1], ga.shape[2])
    _check_transformed(fn, "dM", da, m, T, C)
    if T == 0 or C == 0:
        return
    if probing:
        da = da[:, :da.shape[1] - 1].copy()
    if cnp.PyArray_TYPE(ga) == cnp.NPY_FLOAT:
        _output_grad[float](_pixel_rows(ga), da, C, m, th, tw, parallel)
    else:
        _output_grad[double](_pixel_rows(ga), da, C, m, th, tw, parallel)


def winograd_input_grad(dV, dx, int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t oh, Py_ssize_t ow, bint parallel):
    """dx (N, H, W, C), overwritten, = the sum over tiles of B dV B^T placed where winograd_input read
    the tile (cells outside dx dropped)."""
    cdef str fn = "winograd_input_grad"
    cdef cnp.ndarray va = readable(fn, "dV", dV)
    cdef cnp.ndarray xa = writable(fn, "dx", dx, cnp.PyArray_TYPE(va), "dV")
    check_ndim(fn, "dx", xa, 4, "(N, H, W, C)")
    check_range(fn, "pt", pt, 0, 2)
    check_range(fn, "pl", pl, 0, 2)
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, xa.shape[0], oh, ow)
    cdef Py_ssize_t C = xa.shape[3]
    _check_transformed(fn, "dV", va, m, T, C)
    if T == 0 or C == 0:
        return
    if probing:
        xa = xa[:xa.shape[0] - 1]
    if cnp.PyArray_TYPE(va) == cnp.NPY_FLOAT:
        _input_grad[float](va, _pixel_rows(xa), C, m, pt, pl, th, tw, parallel)
    else:
        _input_grad[double](va, _pixel_rows(xa), C, m, pt, pl, th, tw, parallel)


# ---- fused with the products: one pass over the tiles, each thread on its own blocks ----------
# The transforms above stream (a*a, T, C) arrays through memory between the BLAS products: on the
# wide convnet's 26x26x64 layer, 42 MB each way, more time than the products themselves. Here a
# thread takes a block of tiles, transforms it into its own buffer, multiplies it cell by cell
# and transforms the result out while it is still in cache. The products: in float32 on the FMA
# builds, with both channel counts multiples of 16 (own_gemm), this module's own kernel
# (winograd_gemm.h, which says why); otherwise numpy's CBLAS, each product kept to at most
# ``gemm_max`` multiply-adds, below which OpenBLAS computes on the calling thread
# (tinygrad_relu/_blas.py: CALLER_THREAD_MAX): our threads never wait on BLAS's own thread pool,
# which on a busy machine stalled every one of the 36 products of a cell-by-cell batch. Blocks go
# to threads dynamically, so a thread slowed by another process just takes fewer. Every block's
# result is the same whichever thread computes it, so the bits do not depend on the thread count.
cdef extern from *:
    """
    #include <stdint.h>
    typedef void (*tgr_sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                                  const float *, int64_t, float, float *, int64_t);
    typedef void (*tgr_dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double *, int64_t,
                                  const double *, int64_t, double, double *, int64_t);
    typedef void (*tgr_sgemm32_t)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                                  float, float *, int);
    typedef void (*tgr_dgemm32_t)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                                  double, double *, int);
    """
    ctypedef void (*sgemm64_t "tgr_sgemm64_t")(int, int, int, long long, long long, long long, float, const float*,
                                              long long, const float*, long long, float, float*, long long) noexcept nogil
    ctypedef void (*dgemm64_t "tgr_dgemm64_t")(int, int, int, long long, long long, long long, double, const double*,
                                              long long, const double*, long long, double, double*, long long) noexcept nogil
    ctypedef void (*sgemm32_t "tgr_sgemm32_t")(int, int, int, int, int, int, float, const float*, int, const float*,
                                              int, float, float*, int) noexcept nogil
    ctypedef void (*dgemm32_t "tgr_dgemm32_t")(int, int, int, int, int, int, double, const double*, int,
                                              const double*, int, double, double*, int) noexcept nogil

cdef extern from "winograd_gemm.h" nogil:
    void tgr_wg_sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t kd, const float* a, Py_ssize_t ars, Py_ssize_t aks,
                      const float* b, Py_ssize_t ldb, float* c, Py_ssize_t ldc, int accumulate)
    int TGR_WG_FAST, TGR_WG_MR, TGR_WG_NR

# Whether this build multiplies float32 in its own kernel (cysrc/winograd_gemm.h: the FMA builds),
# and the multiple of 16 it needs both channel counts to be.
OWN_GEMM = bool(TGR_WG_FAST)
OWN_GEMM_COLUMNS = TGR_WG_NR
# The kernel gradient's own products, dU[p] += V[p]^T dM[p], run over the tiles this many at a
# time: each 16-column panel of dM and the A rows it meets then stay in L2. One core, 4608 tiles,
# 64 x 64: AVX2 44 GF/s in one product, 79 in chunks of 256; AVX-512 93 and 106. Inside the whole
# backward (2 threads, memory-bound) chunks of 32 to all tiles measured the same.
OWN_KERNEL_CHUNK = 256


def own_gemm(dtype, Py_ssize_t C, Py_ssize_t K):
    """Whether the fused kernels multiply in this build's own kernel for C input and K output channels
    of ``dtype`` (float32, both channel counts multiples of OWN_GEMM_COLUMNS, an FMA build), not
    through numpy's CBLAS."""
    return OWN_GEMM and np.dtype(dtype) == np.float32 and C % TGR_WG_NR == 0 and K % TGR_WG_NR == 0


def own_matmul(a, b, out, bint transpose_a=False, bint accumulate=False):
    """out (M, N) = op(a) @ b, plus out's own values if accumulate, in the build's own float32 kernel
    (cysrc/winograd_gemm.h); op(a) = a (M, K), or a.T for a (K, M) if transpose_a. N must be a multiple
    of OWN_GEMM_COLUMNS. Every build has it (the fused kernels use it only where OWN_GEMM: without
    FMA it is the slower choice); the tests check it against numpy."""
    cdef str fn = "own_matmul"
    cdef cnp.ndarray aa = readable(fn, "a", a, cnp.NPY_FLOAT)
    cdef cnp.ndarray ba = readable(fn, "b", b, cnp.NPY_FLOAT)
    cdef cnp.ndarray oa = writable(fn, "out", out, cnp.NPY_FLOAT)
    check_ndim(fn, "a", aa, 2, "(K, M)" if transpose_a else "(M, K)")
    check_ndim(fn, "b", ba, 2, "(K, N)")
    check_ndim(fn, "out", oa, 2, "(M, N)")
    cdef Py_ssize_t M = aa.shape[1] if transpose_a else aa.shape[0], K = ba.shape[0], N = ba.shape[1]
    if (aa.shape[0] if transpose_a else aa.shape[1]) != K:
        lhs, axis = ("a.T", "rows") if transpose_a else ("a", "columns")
        raise ValueError(f"{fn}: a has shape {shape_of(aa)} and b {shape_of(ba)}: {lhs} @ b needs a's {axis} "
                         f"to be b's rows")
    if oa.shape[0] != M or oa.shape[1] != N:
        raise ValueError(f"{fn}: out has shape {shape_of(oa)}, expected ({M}, {N})")
    if N % TGR_WG_NR:
        raise ValueError(f"{fn}: b has {N} columns, which must be a multiple of {TGR_WG_NR}")
    if np.may_share_memory(oa, aa) or np.may_share_memory(oa, ba):
        raise ValueError(f"{fn}: out overlaps a or b")
    cdef const float* ap = <const float*>cnp.PyArray_DATA(aa)
    cdef const float* bp = <const float*>cnp.PyArray_DATA(ba)
    cdef float* op = <float*>cnp.PyArray_DATA(oa)
    with nogil:
        if transpose_a:
            tgr_wg_sgemm(M, N, K, ap, 1, M, bp, N, op, N, accumulate)
        else:
            tgr_wg_sgemm(M, N, K, ap, K, 1, bp, N, op, N, accumulate)


cdef struct Gemm:
    size_t sgemm, dgemm
    bint int64
    bint own  # float32 products in tgr_wg_sgemm (every product's column count is then a multiple of 16)

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112


cdef inline void _gemm(const Gemm* g, bint trans_a, bint trans_b, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                       const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb, floating beta,
                       floating* c, Py_ssize_t ldc) noexcept nogil:
    """c (M x N) = op(a) @ op(b) + beta c, row-major: in tgr_wg_sgemm with g.own (float32) where it
    can (b not transposed: the data gradient passes U transposed beforehand; beta 0 or 1), else
    through numpy's CBLAS."""
    cdef int ta = TRANS if trans_a else NO_TRANS, tb = TRANS if trans_b else NO_TRANS
    if floating is float:
        if g.own and not trans_b and (beta == 0 or beta == 1):
            if trans_a:
                tgr_wg_sgemm(M, N, K, a, 1, lda, b, ldb, c, ldc, beta != 0)
            else:
                tgr_wg_sgemm(M, N, K, a, lda, 1, b, ldb, c, ldc, beta != 0)
        elif g.int64:
            (<sgemm64_t>g.sgemm)(ROW_MAJOR, ta, tb, M, N, K, 1, a, lda, b, ldb, beta, c, ldc)
        else:
            (<sgemm32_t>g.sgemm)(ROW_MAJOR, ta, tb, <int>M, <int>N, <int>K, 1, a, <int>lda, b, <int>ldb, beta, c,
                                 <int>ldc)
    else:
        if g.int64:
            (<dgemm64_t>g.dgemm)(ROW_MAJOR, ta, tb, M, N, K, 1, a, lda, b, ldb, beta, c, ldc)
        else:
            (<dgemm32_t>g.dgemm)(ROW_MAJOR, ta, tb, <int>M, <int>N, <int>K, 1, a, <int>lda, b, <int>ldb, beta, c,
                                 <int>ldc)


cdef int _forward_block(const floating[:, :, ::1] x, const floating[:, :, ::1] U, floating[:, :, ::1] y,
                        const floating[:, :, ::1] bias, bint relu, floating[:, :, ::1] V, bint keep,
                        floating[:, :, :, ::1] scratch_v, floating[:, :, :, ::1] scratch_m, Py_ssize_t me,
                        Py_ssize_t t0, Py_ssize_t count, Py_ssize_t C, Py_ssize_t K, int m, Py_ssize_t pt,
                        Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, const Gemm* g) except -1 nogil:
    """Tiles t0 .. t0 + count - 1 on thread ``me``: V (in the full V if keep, else the thread's
    scratch), M = V U per cell in the thread's scratch, then their outputs."""
    cdef Py_ssize_t i, p, first = t0 if keep else 0
    cdef floating[:, :, ::1] Vb
    cdef floating[:, :, ::1] Mb = scratch_m[me]
    if keep:  # (an if statement: a conditional expression of memoryviews miscounted their references)
        Vb = V
    else:
        Vb = scratch_v[me]
    for i in range(count):
        input_tile(x, Vb, t0 + i, first + i, C, m, pt, pl, th, tw)
    for p in range((m + 2) * (m + 2)):
        _gemm(g, False, False, count, K, C, &Vb[p, first, 0], C, &U[p, 0, 0], K, 0, &Mb[p, 0, 0], K)
    for i in range(count):
        output_tile(Mb, y, bias, relu, t0 + i, i, K, m, th, tw)
    return 0


cdef int _forward_fused(const floating[:, :, ::1] x, const floating[:, :, ::1] U, floating[:, :, ::1] y,
                        const floating[:, :, ::1] bias, bint relu, floating[:, :, ::1] V, bint keep,
                        floating[:, :, :, ::1] scratch_v, floating[:, :, :, ::1] scratch_m, Py_ssize_t rows,
                        Py_ssize_t C, Py_ssize_t K, int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th,
                        Py_ssize_t tw, const Gemm* g, bint parallel) except -1:
    cdef Py_ssize_t T = x.shape[0] * th * tw
    cdef Py_ssize_t b, t0, team = scratch_m.shape[0]  # never more threads than scratch blocks
    with nogil:
        for b in prange((T + rows - 1) // rows, schedule="dynamic", use_threads_if=parallel, num_threads=team):
            t0 = b * rows
            _forward_block(x, U, y, bias, relu, V, keep, scratch_v, scratch_m, threadid(), t0,
                           T - t0 if T - t0 < rows else rows, C, K, m, pt, pl, th, tw, g)
    return 0


cdef int _data_products(const floating[:, :, ::1] U, const floating[:, :, ::1] dM, floating[:, :, ::1] dVb,
                        Py_ssize_t first, Py_ssize_t span, Py_ssize_t rows, Py_ssize_t C, Py_ssize_t K, int m,
                        const Gemm* g) except -1 nogil:
    """dVb[p, :span] = dM[p, first:first + span] U[p]^T for every cell p, in ``rows``-row products.
    With g.own, U is passed transposed, (a*a, K, C)."""
    cdef Py_ssize_t p, r, count
    for p in range((m + 2) * (m + 2)):
        r = 0
        while r < span:
            count = span - r if span - r < rows else rows
            if g.own:
                _gemm(g, False, False, count, C, K, &dM[p, first + r, 0], K, &U[p, 0, 0], C, 0, &dVb[p, r, 0], C)
            else:
                _gemm(g, False, True, count, C, K, &dM[p, first + r, 0], K, &U[p, 0, 0], K, 0, &dVb[p, r, 0], C)
            r = r + rows
    return 0


cdef int _backward_images(const floating[:, :, ::1] dy, const floating[:, :, ::1] relu_y, bint relu,
                          const floating[:, :, ::1] U, floating[:, :, ::1] dM,
                          floating[:, :, ::1] dx, bint want_dx, floating[:, :, :, ::1] scratch_v, Py_ssize_t me,
                          Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t band, Py_ssize_t rows, Py_ssize_t C, Py_ssize_t K,
                          int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw,
                          const Gemm* g) except -1 nogil:
    """Images n0 .. n1 - 1 on thread ``me``: dM = A dy A^T of their tiles (dy through the ReLU's
    derivative first if ``relu``; into the full dM, which the kernel's and the bias' gradients
    read), and, if want_dx, dV = dM U^T in the thread's scratch and dx[n] = the sum of B dV B^T.
    Several images (small ones) go through one set of products; a single image goes ``band``
    tile rows at a time."""
    cdef Py_ssize_t per_image = th * tw, t, n, ti0, ti1
    cdef floating[:, :, ::1] dVb
    for t in range(n0 * per_image, n1 * per_image):
        output_grad_tile(dy, relu_y, relu, dM, t, t, K, m, th, tw)
    if not want_dx:
        return 0
    dVb = scratch_v[me]
    if n1 - n0 > 1:
        _data_products(U, dM, dVb, n0 * per_image, (n1 - n0) * per_image, rows, C, K, m, g)
        for n in range(n0, n1):
            zero_image(dx, n)
            input_grad_tiles(dVb, dx, n, 0, th, (n - n0) * per_image, C, m, pt, pl, tw)
        return 0
    zero_image(dx, n0)
    ti0 = 0
    while ti0 < th:
        ti1 = ti0 + band if ti0 + band < th else th
        _data_products(U, dM, dVb, n0 * per_image + ti0 * tw, (ti1 - ti0) * tw, rows, C, K, m, g)
        input_grad_tiles(dVb, dx, n0, ti0, ti1, 0, C, m, pt, pl, tw)
        ti0 = ti1
    return 0


cdef int _backward_data_fused(const floating[:, :, ::1] dy, const floating[:, :, ::1] relu_y, bint relu,
                              const floating[:, :, ::1] U, floating[:, :, ::1] dM,
                              floating[:, :, ::1] dx, bint want_dx, floating[:, :, :, ::1] scratch_v,
                              Py_ssize_t per_block, Py_ssize_t band, Py_ssize_t rows, Py_ssize_t C, Py_ssize_t K,
                              int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, const Gemm* g,
                              bint parallel) except -1:
    """A thread owns whole images (``per_block`` at a time), so the overlapping tiles' sums into dx
    never race; every block's products are the same whichever thread runs it."""
    cdef Py_ssize_t b, N = dy.shape[0], team = scratch_v.shape[0]  # never more threads than scratch blocks
    with nogil:
        for b in prange((N + per_block - 1) // per_block, schedule="dynamic", use_threads_if=parallel,
                        num_threads=team):
            _backward_images(dy, relu_y, relu, U, dM, dx, want_dx, scratch_v, threadid(), b * per_block,
                             N if (b + 1) * per_block > N else (b + 1) * per_block, band, rows, C, K, m, pt, pl,
                             th, tw, g)
    return 0


cdef int _kernel_gradient_cell(const floating[:, :, ::1] V, const floating[:, :, ::1] dM, floating[:, :, ::1] dU,
                               Py_ssize_t p, Py_ssize_t rows, const Gemm* g) except -1 nogil:
    """dU[p] = V[p]^T dM[p], over the tiles in ``rows``-row chunks, in order."""
    cdef Py_ssize_t r = 0, count, T = V.shape[1], C = V.shape[2], K = dM.shape[2]
    while r < T:
        count = T - r if T - r < rows else rows
        _gemm(g, True, False, C, K, count, &V[p, r, 0], C, &dM[p, r, 0], K, 0 if r == 0 else 1, &dU[p, 0, 0], K)
        r = r + rows
    return 0


cdef int _backward_kernel_fused(const floating[:, :, ::1] V, const floating[:, :, ::1] dM, floating[:, :, ::1] dU,
                                Py_ssize_t rows, const Gemm* g, bint parallel) except -1:
    """A thread per cell: the same sums in the same order for any thread count."""
    cdef Py_ssize_t p
    with nogil:
        for p in prange(V.shape[0], schedule="dynamic", use_threads_if=parallel):
            _kernel_gradient_cell(V, dM, dU, p, rows, g)
    return 0


cdef Gemm _gemm_functions(tuple gemm, bint own) except *:
    cdef Gemm g
    g.sgemm, g.dgemm, g.int64 = gemm
    if g.sgemm == 0 or g.dgemm == 0:
        raise ValueError(f"winograd: gemm must hold the addresses of sgemm and dgemm, got {gemm}")
    g.own = own
    return g


cdef Py_ssize_t _rows_within(str fn, Py_ssize_t gemm_max, Py_ssize_t a, Py_ssize_t b, bint own) except -1:
    """The most rows a product with inner sizes a and b may have and stay within gemm_max multiply-adds;
    for the own kernel, a multiple of its register block's rows where gemm_max allows one."""
    check_range(fn, "gemm_max", gemm_max, 1)
    cdef Py_ssize_t rows = max(1, gemm_max // max(1, a * b))
    return rows - rows % TGR_WG_MR if own and rows >= TGR_WG_MR else rows


def winograd_forward_fused(x, U, y, bias, V, int m, Py_ssize_t pt, Py_ssize_t pl, bint relu, tuple gemm,
                           Py_ssize_t gemm_max, Py_ssize_t threads, bint parallel, bint own=True):
    """y (N, oh, ow, K) = the convolution of x (N, H, W, C) by the transformed filters U (a*a, C, K),
    plus bias (K,) unless None, ReLU'd if relu; V (a*a, T, C) receives the transformed input
    (for the kernel's gradient) unless None. gemm: (sgemm address, dgemm address, 64-bit ints)
    of a CBLAS; gemm_max: multiply-adds per product; threads: the OpenMP threads that may run;
    own: multiply in this build's own kernel where ``own_gemm`` says it applies (False: always the
    CBLAS)."""
    cdef str fn = "winograd_forward_fused"
    cdef cnp.ndarray xa = readable(fn, "x", x)
    check_ndim(fn, "x", xa, 4, "(N, H, W, C)")
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ua = readable(fn, "U", U, dtype, "x")
    cdef cnp.ndarray ya = writable(fn, "y", y, dtype, "x")
    check_ndim(fn, "y", ya, 4, "(N, oh, ow, K)")
    check_range(fn, "pt", pt, 0, 2)
    check_range(fn, "pl", pl, 0, 2)
    check_range(fn, "threads", threads, 1, 4096)
    cdef Py_ssize_t N = xa.shape[0], C = xa.shape[3], K = ya.shape[3], cells = (m + 2) * (m + 2)
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, ya.shape[0], ya.shape[1], ya.shape[2])
    if ya.shape[0] != N:
        raise ValueError(f"{fn}: y has {ya.shape[0]} images but x has {N}")
    if ua.ndim != 3 or ua.shape[0] != cells or ua.shape[1] != C or ua.shape[2] != K:
        raise ValueError(f"{fn}: U has shape {shape_of(ua)}, expected ({cells}, {C}, {K})")
    cdef bint keep = V is not None
    cdef cnp.ndarray va = writable(fn, "V", V, dtype, "x") if keep else None
    if keep:
        _check_transformed(fn, "V", va, m, T, C)
    cdef cnp.ndarray ba = readable(fn, "bias", bias if bias is not None else np.empty(0, xa.dtype), dtype, "x")
    check_ndim(fn, "bias", ba, 1, "(K,)")
    if bias is not None and ba.shape[0] != K:
        raise ValueError(f"{fn}: bias has shape {shape_of(ba)}, expected ({K},)")
    own = own and own_gemm(xa.dtype, C, K)
    cdef Gemm g = _gemm_functions(gemm, own)
    cdef Py_ssize_t rows = min(_rows_within(fn, gemm_max, C, K, own), T)
    if T == 0 or C == 0 or K == 0:
        return
    scratch_m = np.empty((threads, cells, rows, K), xa.dtype)
    scratch_v = np.empty((threads, cells, 0 if keep else rows, C), xa.dtype)
    if probing:
        ya = ya[:ya.shape[0] - 1]
    if dtype == cnp.NPY_FLOAT:
        _forward_fused[float](_pixel_rows(xa), ua, _pixel_rows(ya), ba.reshape(1, 1, -1), relu,
                              va if keep else scratch_v[0], keep, scratch_v, scratch_m, rows, C, K, m, pt, pl,
                              th, tw, &g, parallel)
    else:
        _forward_fused[double](_pixel_rows(xa), ua, _pixel_rows(ya), ba.reshape(1, 1, -1), relu,
                               va if keep else scratch_v[0], keep, scratch_v, scratch_m, rows, C, K, m, pt, pl,
                               th, tw, &g, parallel)


def winograd_backward_fused(dy, U, V, dM, dx, dU, int m, Py_ssize_t pt, Py_ssize_t pl, tuple gemm,
                            Py_ssize_t gemm_max, Py_ssize_t threads, bint parallel, relu_y=None,
                            Py_ssize_t block_max=0, bint own=True):
    """From dy (N, oh, ow, K), the gradient at the convolution's output: dM (a*a, T, K) = A dy A^T
    (always: the bias gradient reads it); dx (N, H, W, C), overwritten, unless None; dU (a*a, C, K)
    = sum over tiles of V^T dM, from V (a*a, T, C), unless None. U as for the forward.

    relu_y: the output of a ReLU fused into the convolution (dy's shape), or None. Given, dy is the
    gradient at the ReLU's output and is read through its derivative (0 where relu_y <= 0), with
    the bits of conv.relu_backward_into followed by the call without relu_y.

    block_max: multiply-adds per product of the data gradient when small images are grouped into
    one block (0: gemm_max). It changes the products' shapes, so the last bits may change with it
    (OpenBLAS picks its kernel by shape); the thread count never does. own: as for the forward (the
    kernel gradient then runs over the tiles in chunks of OWN_KERNEL_CHUNK, not gemm_max's rows)."""
    cdef str fn = "winograd_backward_fused"
    cdef cnp.ndarray ga = readable(fn, "dy", dy)
    check_ndim(fn, "dy", ga, 4, "(N, oh, ow, K)")
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef bint relu = relu_y is not None
    cdef cnp.ndarray ra = readable(fn, "relu_y", relu_y, dtype, "dy") if relu else ga
    if relu and (ra.ndim != 4 or shape_of(ra) != shape_of(ga)):
        raise ValueError(f"{fn}: relu_y has shape {shape_of(ra)}, expected dy's {shape_of(ga)}")
    cdef cnp.ndarray ua = readable(fn, "U", U, dtype, "dy")
    cdef cnp.ndarray ma = writable(fn, "dM", dM, dtype, "dy")
    check_range(fn, "pt", pt, 0, 2)
    check_range(fn, "pl", pl, 0, 2)
    check_range(fn, "threads", threads, 1, 4096)
    cdef Py_ssize_t N = ga.shape[0], K = ga.shape[3], cells = (m + 2) * (m + 2)
    cdef Py_ssize_t th, tw, T
    th, tw, T = _tiles(fn, m, ga.shape[0], ga.shape[1], ga.shape[2])
    _check_transformed(fn, "dM", ma, m, T, K)
    if ua.ndim != 3 or ua.shape[0] != cells or ua.shape[2] != K:
        raise ValueError(f"{fn}: U has shape {shape_of(ua)}, expected ({cells}, C, {K})")
    cdef Py_ssize_t C = ua.shape[1]
    cdef bint want_dx = dx is not None, want_du = dU is not None
    cdef cnp.ndarray xa = writable(fn, "dx", dx, dtype, "dy") if want_dx else None
    if want_dx:
        check_ndim(fn, "dx", xa, 4, "(N, H, W, C)")
        if xa.shape[0] != N or xa.shape[3] != C:
            raise ValueError(f"{fn}: dx has shape {shape_of(xa)}, expected ({N}, H, W, {C})")
    cdef cnp.ndarray va = readable(fn, "V", V, dtype, "dy") if want_du else None
    cdef cnp.ndarray dua = writable(fn, "dU", dU, dtype, "dy") if want_du else None
    if want_du:
        _check_transformed(fn, "V", va, m, T, C)
        _check_transformed(fn, "dU", dua, m, C, K)
    own = own and own_gemm(ga.dtype, C, K)
    cdef Gemm g = _gemm_functions(gemm, own)
    cdef Py_ssize_t rows = _rows_within(fn, gemm_max, C, K, own)
    cdef Py_ssize_t kernel_rows = OWN_KERNEL_CHUNK if own else rows
    cdef Py_ssize_t band = max(1, min(th, max(rows, 64) // tw))  # tile rows per dV block
    # images per block: as many small images as fill one product of block_max multiply-adds. (e)'s
    # 10x10x128 layer has 4 tiles per image; one image at a time made 4-row products, which
    # OpenBLAS's AVX2 build (no small-matrix kernels: it packs the other operand every call) ran at
    # half the speed of 16-row ones (ops/winograd.py: PRODUCT_MAX says what suits which build)
    check_range(fn, "block_max", block_max, 0)
    cdef Py_ssize_t per_block = max(1, (_rows_within(fn, block_max, C, K, own) if block_max else rows) // (th * tw))
    if T == 0 or C == 0 or K == 0:
        return
    # the own kernel reads B row-major: U transposed once, (a*a, K, C), for dV = dM U^T
    ub = np.ascontiguousarray(ua.transpose(0, 2, 1)) if own and want_dx else ua
    scratch_v = np.empty((threads, cells, max(band * tw, per_block * th * tw) if want_dx else 0, C), ga.dtype)
    dx_view = _pixel_rows(xa) if want_dx else scratch_v[0]
    if probing:
        ma = ma[:, :ma.shape[1] - 1].copy()
    if dtype == cnp.NPY_FLOAT:
        _backward_data_fused[float](_pixel_rows(ga), _pixel_rows(ra), relu, ub, ma, dx_view, want_dx, scratch_v,
                                    per_block, band, rows, C, K, m, pt, pl, th, tw, &g, parallel)
        if want_du:
            _backward_kernel_fused[float](va, ma, dua, kernel_rows, &g, parallel)
    else:
        _backward_data_fused[double](_pixel_rows(ga), _pixel_rows(ra), relu, ub, ma, dx_view, want_dx, scratch_v,
                                     per_block, band, rows, C, K, m, pt, pl, th, tw, &g, parallel)
        if want_du:
            _backward_kernel_fused[double](va, ma, dua, kernel_rows, &g, parallel)
