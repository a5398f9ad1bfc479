# cython: language_level=3
"""The Winograd transforms of one tile (cysrc/winograd.pyx's building blocks), LANES channels at a time.

Each tile's cells are copied into a local block (one LANES-vector per cell), transformed there by
straight-line formulas (the zeros of B, G and A left out) and copied out. Working on local arrays
lets gcc vectorize the lane loops without alias checks between the image and the transformed
array. ``row`` arguments say where in a transformed array (a*a, rows, C) a tile goes: its global
tile index, or its place in a thread's block. Inline functions only: no module at run time.
"""
from cython cimport floating

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
cdef inline int input_tile(const floating[:, :, ::1] x, floating[:, :, ::1] V, Py_ssize_t t, Py_ssize_t row,
                     Py_ssize_t C, int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """Tile t of x, transformed, into row ``row`` of V."""
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
            _store(V, p, row, c0, &d[p * LANES], w)
    return 0


cdef inline int output_tile(const floating[:, :, ::1] M, floating[:, :, ::1] y, const floating[:, :, ::1] bias,
                      bint relu, Py_ssize_t t, Py_ssize_t row, Py_ssize_t C, int m, Py_ssize_t th,
                      Py_ssize_t tw) except -1 nogil:
    """Row ``row`` of M into the outputs of tile t; bias: (1, 1, C), or (1, 1, 0) for none."""
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
            _load(&d[p * LANES], M, p, row, c0, w)
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


cdef inline int output_grad_tile(const floating[:, :, ::1] dy, floating[:, :, ::1] dM, Py_ssize_t t, Py_ssize_t row,
                           Py_ssize_t C, int m, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """Tile t of dy, transformed, into row ``row`` of dM."""
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
            _store(dM, p, row, c0, &d[p * LANES], w)
    return 0


cdef inline int input_grad_tiles(const floating[:, :, ::1] dV, floating[:, :, ::1] dx, Py_ssize_t n, Py_ssize_t ti0,
                           Py_ssize_t ti1, Py_ssize_t first_row, Py_ssize_t C, int m, Py_ssize_t pt, Py_ssize_t pl,
                           Py_ssize_t tw) except -1 nogil:
    """dx[n] += B dV B^T of the tiles in tile rows ti0 <= ti < ti1 of image n, each added at its
    tile's place (tiles overlap); their rows of dV start at ``first_row``."""
    cdef floating d[MAX_CELLS * LANES]
    cdef floating u[MAX_CELLS * LANES]
    cdef Py_ssize_t a = m + 2, H = dx.shape[1], W = dx.shape[2] // C
    cdef Py_ssize_t t, ti, tj, block, c0, w, i, j, p, ih, iw
    for ti in range(ti0, ti1):
        for tj in range(tw):
            t = first_row + (ti - ti0) * tw + tj
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


cdef inline int zero_image(floating[:, :, ::1] dx, Py_ssize_t n) except -1 nogil:
    cdef Py_ssize_t i, k
    cdef floating zero = 0
    for i in range(dx.shape[1]):
        for k in range(dx.shape[2]):
            dx[n, i, k] = zero
    return 0


cdef inline int input_grad_image(const floating[:, :, ::1] dV, floating[:, :, ::1] dx, Py_ssize_t n, Py_ssize_t C,
                           int m, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """dx[n] = the sum over n's tiles of B dV B^T."""
    zero_image(dx, n)
    input_grad_tiles(dV, dx, n, 0, th, n * th * tw, C, m, pt, pl, tw)
    return 0


