# cython: language_level=3
"""Winograd transforms for 3x3 convolutions with stride 1 and dilation 1, channels_last.

F(m x m, 3 x 3), m = 2 or 4, computes an m x m block of outputs from an a x a input tile
(a = m + 2) with a*a products per channel pair instead of 9*m*m (Lavin & Gray 2016):

    Y = A^T [ U (.) V ] A,    V = B^T d B  (input tile d),    U = G g G^T  (3x3 filter g)

summed over input channels, which turns the (.) into a*a matrix products, one per tile cell:
M[p] = V[p] @ U[p] with V[p] (tiles, cin), U[p] (cin, cout). Those products, and the
filter transforms (kron(G, G) @ g), are numpy's BLAS (ops/convolution.py); this module has
the four data transforms, each a loop over tiles:

    winograd_input        V = B^T d B                 (forward; d read with zeros outside x)
    winograd_output       y = A^T M A (+ bias, ReLU)  (forward; a partial tile's extra rows dropped)
    winograd_output_grad  dM = A dy A^T               (the adjoint of winograd_output)
    winograd_input_grad   dx = sum of B dV B^T        (the adjoint of winograd_input: the tiles
                                                       overlap by 2 pixels, so they add up)

The backward is the exact adjoint of the forward, so the gradients are those of the
convolution; dU = V[p]^T @ dM[p] and dV[p] = dM[p] @ U[p]^T are again BLAS products.

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
from cython.parallel cimport prange

from kernel_args cimport (ANY_FLOAT, readable, writable, check_ndim, check_range, shape_of, probing,
                          run_bounds_probe)

import numpy as np

cnp.import_array()

cdef enum:
    LANES = 16          # channels per block: one AVX-512 float vector, two double ones
    MAX_CELLS = 36      # a*a for m = 4


# ---- the 1-D transforms on LANES-vectors: src[k * ss + l] -> dst[k * ds + l], l < w --------
cdef inline void _bt(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds,
                     int m) noexcept nogil:
    """o = B^T s (a values in, a out)."""
    cdef Py_ssize_t l
    cdef floating d0, d1, d2, d3, d4, d5, two = 2, four = 4, five = 5
    if m == 2:
        for l in range(LANES):
            d0, d1, d2, d3 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l]
            o[l] = d0 - d2
            o[ds + l] = d1 + d2
            o[2 * ds + l] = d2 - d1
            o[3 * ds + l] = d1 - d3
    else:
        for l in range(LANES):
            d0, d1, d2, d3, d4, d5 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l], s[4 * ss + l], s[5 * ss + l]
            o[l] = four * d0 - five * d2 + d4
            o[ds + l] = (d3 + d4) - four * (d1 + d2)
            o[2 * ds + l] = (d4 - d3) + four * (d1 - d2)
            o[3 * ds + l] = (d4 - d2) + two * (d3 - d1)
            o[4 * ds + l] = (d4 - d2) - two * (d3 - d1)
            o[5 * ds + l] = four * d1 - five * d3 + d5


cdef inline void _b(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds,
                    int m) noexcept nogil:
    """o = B s: the adjoint of _bt."""
    cdef Py_ssize_t l
    cdef floating v0, v1, v2, v3, v4, v5, two = 2, four = 4, five = 5
    if m == 2:
        for l in range(LANES):
            v0, v1, v2, v3 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l]
            o[l] = v0
            o[ds + l] = (v1 - v2) + v3
            o[2 * ds + l] = (v1 + v2) - v0
            o[3 * ds + l] = -v3
    else:
        for l in range(LANES):
            v0, v1, v2, v3, v4, v5 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l], s[4 * ss + l], s[5 * ss + l]
            o[l] = four * v0
            o[ds + l] = four * (v2 - v1) + two * (v4 - v3) + four * v5
            o[2 * ds + l] = -five * v0 - four * (v1 + v2) - (v3 + v4)
            o[3 * ds + l] = (v1 - v2) + two * (v3 - v4) - five * v5
            o[4 * ds + l] = (v0 + v1 + v2) + (v3 + v4)
            o[5 * ds + l] = v5


cdef inline void _at(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds,
                     int m) noexcept nogil:
    """o = A^T s (a values in, m out)."""
    cdef Py_ssize_t l
    cdef floating m0, m1, m2, m3, m4, m5, two = 2, four = 4, eight = 8
    if m == 2:
        for l in range(LANES):
            m0, m1, m2, m3 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l]
            o[l] = m0 + m1 + m2
            o[ds + l] = m1 - m2 - m3
    else:
        for l in range(LANES):
            m0, m1, m2, m3, m4, m5 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l], s[4 * ss + l], s[5 * ss + l]
            o[l] = m0 + (m1 + m2) + (m3 + m4)
            o[ds + l] = (m1 - m2) + two * (m3 - m4)
            o[2 * ds + l] = (m1 + m2) + four * (m3 + m4)
            o[3 * ds + l] = (m1 - m2) + eight * (m3 - m4) + m5


cdef inline void _a(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds,
                    int m) noexcept nogil:
    """o = A s (m values in, a out): the adjoint of _at."""
    cdef Py_ssize_t l
    cdef floating y0, y1, y2, y3, even, odd, two = 2, four = 4, eight = 8
    if m == 2:
        for l in range(LANES):
            y0, y1 = s[l], s[ss + l]
            o[l] = y0
            o[ds + l] = y0 + y1
            o[2 * ds + l] = y0 - y1
            o[3 * ds + l] = -y1
    else:
        for l in range(LANES):
            y0, y1, y2, y3 = s[l], s[ss + l], s[2 * ss + l], s[3 * ss + l]
            o[l] = y0
            even, odd = y0 + y2, y1 + y3
            o[ds + l] = even + odd
            o[2 * ds + l] = even - odd
            even, odd = y0 + four * y2, two * y1 + eight * y3
            o[3 * ds + l] = even + odd
            o[4 * ds + l] = even - odd
            o[5 * ds + l] = y3


# ---- LANES-vectors between a local block and a row of an (N, H, W*C) or (a*a, T, C) array ----
# The full-width case has a constant trip count, so gcc emits vector moves instead of a memcpy
# call per cell; lanes beyond w are zeroed so the transforms never compute on garbage.
cdef inline int _load(floating* d, const floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k,
                      Py_ssize_t w) except -1 nogil:
    cdef Py_ssize_t l
    cdef floating zero = 0
    if w == LANES:
        for l in range(LANES):
            d[l] = a[i0, i1, k + l]
    else:
        for l in range(w):
            d[l] = a[i0, i1, k + l]
        for l in range(w, LANES):
            d[l] = zero
    return 0


cdef inline void _zero(floating* d) noexcept nogil:
    cdef Py_ssize_t l
    cdef floating zero = 0
    for l in range(LANES):
        d[l] = zero


cdef inline int _store(floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k, const floating* d,
                       Py_ssize_t w) except -1 nogil:
    cdef Py_ssize_t l
    if w == LANES:
        for l in range(LANES):
            a[i0, i1, k + l] = d[l]
    else:
        for l in range(w):
            a[i0, i1, k + l] = d[l]
    return 0


cdef inline int _add(floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k, const floating* d,
                     Py_ssize_t w) except -1 nogil:
    cdef Py_ssize_t l
    if w == LANES:
        for l in range(LANES):
            a[i0, i1, k + l] += d[l]
    else:
        for l in range(w):
            a[i0, i1, k + l] += d[l]
    return 0


# ---- one tile (called inside prange; `except -1`: the debug build's IndexError gets out) ----
cdef int _input_tile(const floating[:, :, ::1] x, floating[:, :, ::1] V, Py_ssize_t t, Py_ssize_t C,
                     int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    cdef floating d[MAX_CELLS * LANES]
    cdef floating u[MAX_CELLS * LANES]
    cdef floating zero = 0
    cdef Py_ssize_t a = m + 2, H = x.shape[1], W = x.shape[2] // C
    cdef Py_ssize_t n = t // (th * tw), ti = t // tw % th, tj = t % tw
    cdef Py_ssize_t block, c0, w, i, j, l, p, ih, iw, cell
    for block in range((C + LANES - 1) // LANES):
        c0 = block * LANES
        w = C - c0 if C - c0 < LANES else LANES
        for i in range(a):
            ih = ti * m - pt + i
            for j in range(a):
                iw = tj * m - pl + j
                cell = (i * a + j) * LANES
                if 0 <= ih < H and 0 <= iw < W:
                    _load(&d[cell], x, n, ih, iw * C + c0, w)
                else:
                    _zero(&d[cell])
        for i in range(a):  # along each row: u[i][nu]
            _bt(&d[i * a * LANES], LANES, &u[i * a * LANES], LANES, m)
        for j in range(a):  # down each column: d[xi][nu]
            _bt(&u[j * LANES], a * LANES, &d[j * LANES], a * LANES, m)
        for p in range(a * a):
            _store(V, p, t, c0, &d[p * LANES], w)
    return 0


cdef int _output_tile(const floating[:, :, ::1] M, floating[:, :, ::1] y, const floating[:, :, ::1] bias,
                      bint relu, Py_ssize_t t, Py_ssize_t C, int m, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """bias: (1, 1, C), or (1, 1, 0) for none."""
    cdef floating d[MAX_CELLS * LANES]
    cdef floating u[MAX_CELLS * LANES]
    cdef floating b[LANES]
    cdef floating v, zero = 0
    cdef Py_ssize_t a = m + 2, oh = y.shape[1], ow = y.shape[2] // C
    cdef Py_ssize_t n = t // (th * tw), ti = t // tw % th, tj = t % tw
    cdef Py_ssize_t block, c0, w, i, j, l, p, oi, oj, cell
    cdef bint has_bias = bias.shape[2] > 0
    for block in range((C + LANES - 1) // LANES):
        c0 = block * LANES
        w = C - c0 if C - c0 < LANES else LANES
        if has_bias:
            _load(b, bias, 0, 0, c0, w)
        else:
            _zero(b)
        for p in range(a * a):
            _load(&d[p * LANES], M, p, t, c0, w)
        for i in range(a):  # along each row: u[xi][b], b < m
            _at(&d[i * a * LANES], LANES, &u[i * a * LANES], LANES, m)
        for j in range(m):  # down each column: d[a'][b]
            _at(&u[j * LANES], a * LANES, &d[j * LANES], a * LANES, m)
        for i in range(m):
            for j in range(m):
                cell = (i * a + j) * LANES
                for l in range(LANES):
                    d[cell + l] = d[cell + l] + b[l]
        if relu:  # one flat loop over the m rows of cells: a select per cell inside the loops above
            for l in range(m * a * LANES):  # ran as scalar branches for m = 2 (gcc 12). Keeps NaN.
                v = d[l]
                d[l] = zero if v <= zero else v
        for i in range(m):
            oi = ti * m + i
            if oi >= oh:
                break
            for j in range(m):
                oj = tj * m + j
                if oj >= ow:
                    break
                _store(y, n, oi, oj * C + c0, &d[(i * a + j) * LANES], w)
    return 0


cdef int _output_grad_tile(const floating[:, :, ::1] dy, floating[:, :, ::1] dM, Py_ssize_t t, Py_ssize_t C,
                           int m, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    cdef floating d[MAX_CELLS * LANES]
    cdef floating u[MAX_CELLS * LANES]
    cdef floating zero = 0
    cdef Py_ssize_t a = m + 2, oh = dy.shape[1], ow = dy.shape[2] // C
    cdef Py_ssize_t n = t // (th * tw), ti = t // tw % th, tj = t % tw
    cdef Py_ssize_t block, c0, w, i, j, l, p, oi, oj, cell
    for block in range((C + LANES - 1) // LANES):
        c0 = block * LANES
        w = C - c0 if C - c0 < LANES else LANES
        for i in range(m):
            oi = ti * m + i
            for j in range(m):
                oj = tj * m + j
                cell = (i * a + j) * LANES
                if oi < oh and oj < ow:
                    _load(&d[cell], dy, n, oi, oj * C + c0, w)
                else:
                    _zero(&d[cell])
        for i in range(m):  # along each row: u[i][nu]
            _a(&d[i * a * LANES], LANES, &u[i * a * LANES], LANES, m)
        for j in range(a):  # down each column: d[xi][nu]
            _a(&u[j * LANES], a * LANES, &d[j * LANES], a * LANES, m)
        for p in range(a * a):
            _store(dM, p, t, c0, &d[p * LANES], w)
    return 0


cdef int _input_grad_image(const floating[:, :, ::1] dV, floating[:, :, ::1] dx, Py_ssize_t n, Py_ssize_t C,
                           int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """dx[n] = the sum over n's tiles of B dV B^T, each added at its tile's place (tiles overlap)."""
    cdef floating d[MAX_CELLS * LANES]
    cdef floating u[MAX_CELLS * LANES]
    cdef floating zero = 0
    cdef Py_ssize_t a = m + 2, H = dx.shape[1], W = dx.shape[2] // C
    cdef Py_ssize_t t, ti, tj, block, c0, w, i, j, l, p, ih, iw, cell, k
    for i in range(H):
        for k in range(W * C):
            dx[n, i, k] = zero
    for ti in range(th):
        for tj in range(tw):
            t = (n * th + ti) * tw + tj
            for block in range((C + LANES - 1) // LANES):
                c0 = block * LANES
                w = C - c0 if C - c0 < LANES else LANES
                for p in range(a * a):
                    _load(&d[p * LANES], dV, p, t, c0, w)
                for i in range(a):  # along each row
                    _b(&d[i * a * LANES], LANES, &u[i * a * LANES], LANES, m)
                for j in range(a):  # down each column
                    _b(&u[j * LANES], a * LANES, &d[j * LANES], a * LANES, m)
                for i in range(a):
                    ih = ti * m - pt + i
                    if ih < 0 or ih >= H:
                        continue
                    for j in range(a):
                        iw = tj * m - pl + j
                        if iw < 0 or iw >= W:
                            continue
                        _add(dx, n, ih, iw * C + c0, &d[(i * a + j) * LANES], w)
    return 0


# ---- loops over tiles ---------------------------------------------------------------------
cdef int _input(const floating[:, :, ::1] x, floating[:, :, ::1] V, Py_ssize_t C, int m, Py_ssize_t pt,
                Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(x.shape[0] * th * tw, schedule="static", use_threads_if=parallel):
            _input_tile(x, V, t, C, m, pt, pl, th, tw)
    return 0


cdef int _output(const floating[:, :, ::1] M, floating[:, :, ::1] y, const floating[:, :, ::1] bias,
                 bint relu, Py_ssize_t C, int m, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(M.shape[1], schedule="static", use_threads_if=parallel):  # probe: y is short
            _output_tile(M, y, bias, relu, t, C, m, th, tw)
    return 0


cdef int _output_grad(const floating[:, :, ::1] dy, floating[:, :, ::1] dM, Py_ssize_t C, int m,
                      Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t t
    with nogil:
        for t in prange(dy.shape[0] * th * tw, schedule="static", use_threads_if=parallel):
            _output_grad_tile(dy, dM, t, C, m, th, tw)
    return 0


cdef int _input_grad(const floating[:, :, ::1] dV, floating[:, :, ::1] dx, Py_ssize_t C, int m, Py_ssize_t pt,
                     Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw, bint parallel) except -1:
    cdef Py_ssize_t n
    with nogil:
        for n in prange(dV.shape[1] // (th * tw), schedule="static", use_threads_if=parallel):
            _input_grad_image(dV, dx, n, C, m, pt, pl, th, tw)
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
        va = va[:, :va.shape[1] - 1]  # a view: only the tile count shrinks
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
        da = da[:, :da.shape[1] - 1]
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
