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


# ---- the 1-D transforms on LANES-vectors: src[k * ss + l] -> dst[k * ds + l], l < LANES -------
# In C (winograd_math.h) on GCC vectors: the same loops written here in Cython stayed mostly scalar.
cdef extern from "winograd_math.h" nogil:
    void tgr_bt_f(const float* s, Py_ssize_t ss, float* o, Py_ssize_t ds, int m)
    void tgr_bt_d(const double* s, Py_ssize_t ss, double* o, Py_ssize_t ds, int m)
    void tgr_b_f(const float* s, Py_ssize_t ss, float* o, Py_ssize_t ds, int m)
    void tgr_b_d(const double* s, Py_ssize_t ss, double* o, Py_ssize_t ds, int m)
    void tgr_at_f(const float* s, Py_ssize_t ss, float* o, Py_ssize_t ds, int m)
    void tgr_at_d(const double* s, Py_ssize_t ss, double* o, Py_ssize_t ds, int m)
    void tgr_a_f(const float* s, Py_ssize_t ss, float* o, Py_ssize_t ds, int m)
    void tgr_a_d(const double* s, Py_ssize_t ss, double* o, Py_ssize_t ds, int m)
    int TGR_W_LANES


cdef inline void _bt(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds, int m) noexcept nogil:
    """o = B^T s (a values in, a out)."""
    if floating is float:
        tgr_bt_f(s, ss, o, ds, m)
    else:
        tgr_bt_d(s, ss, o, ds, m)


cdef inline void _b(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds, int m) noexcept nogil:
    """o = B s: the adjoint of _bt."""
    if floating is float:
        tgr_b_f(s, ss, o, ds, m)
    else:
        tgr_b_d(s, ss, o, ds, m)


cdef inline void _at(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds, int m) noexcept nogil:
    """o = A^T s (a values in, m out)."""
    if floating is float:
        tgr_at_f(s, ss, o, ds, m)
    else:
        tgr_at_d(s, ss, o, ds, m)


cdef inline void _a(const floating* s, Py_ssize_t ss, floating* o, Py_ssize_t ds, int m) noexcept nogil:
    """o = A s (m values in, a out): the adjoint of _at."""
    if floating is float:
        tgr_a_f(s, ss, o, ds, m)
    else:
        tgr_a_d(s, ss, o, ds, m)


# ---- LANES-vectors between a local block and a row of an (N, H, W*C) or (a*a, T, C) array ----
# The copies are winograd_math.h's on raw pointers (through the memoryview per element, gcc
# reloaded its strides for every one). The memoryview indexing below is where the debug build
# checks the bounds: the first and the last element each copy touches.
cdef extern from "winograd_math.h" nogil:
    void tgr_wload_f(float* d, const float* src, Py_ssize_t w)
    void tgr_wload_d(double* d, const double* src, Py_ssize_t w)
    void tgr_wzero_f(float* d)
    void tgr_wzero_d(double* d)
    void tgr_wstore_f(float* dst, const float* d, Py_ssize_t w)
    void tgr_wstore_d(double* dst, const double* d, Py_ssize_t w)
    void tgr_wadd_f(float* dst, const float* d, Py_ssize_t w)
    void tgr_wadd_d(double* dst, const double* d, Py_ssize_t w)
    void tgr_wload_relu_f(float* d, const float* src, const float* y, Py_ssize_t w)
    void tgr_wload_relu_d(double* d, const double* src, const double* y, Py_ssize_t w)


cdef inline int _load(floating* d, const floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k,
                      Py_ssize_t w) except -1 nogil:
    cdef const floating* src = &a[i0, i1, k]
    cdef floating last = a[i0, i1, k + w - 1]  # the debug build's bounds check
    if floating is float:
        tgr_wload_f(d, src, w)
    else:
        tgr_wload_d(d, src, w)
    return 0


cdef inline int _load_relu(floating* d, const floating[:, :, ::1] a, const floating[:, :, ::1] y, Py_ssize_t i0,
                           Py_ssize_t i1, Py_ssize_t k, Py_ssize_t w) except -1 nogil:
    """As _load, with a ReLU's gradient: the lanes where y (the ReLU's output, a's shape) is <= 0 read 0."""
    cdef const floating* src = &a[i0, i1, k]
    cdef const floating* out = &y[i0, i1, k]
    cdef floating last = a[i0, i1, k + w - 1] + y[i0, i1, k + w - 1]  # the debug build's bounds checks
    if floating is float:
        tgr_wload_relu_f(d, src, out, w)
    else:
        tgr_wload_relu_d(d, src, out, w)
    return 0


cdef inline void _zero(floating* d) noexcept nogil:
    if floating is float:
        tgr_wzero_f(d)
    else:
        tgr_wzero_d(d)


cdef inline int _store(floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k, const floating* d,
                       Py_ssize_t w) except -1 nogil:
    cdef floating* dst = &a[i0, i1, k]
    cdef floating last = a[i0, i1, k + w - 1]  # the debug build's bounds check
    if floating is float:
        tgr_wstore_f(dst, d, w)
    else:
        tgr_wstore_d(dst, d, w)
    return 0


cdef inline int _add(floating[:, :, ::1] a, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t k, const floating* d,
                     Py_ssize_t w) except -1 nogil:
    cdef floating* dst = &a[i0, i1, k]
    cdef floating last = a[i0, i1, k + w - 1]  # the debug build's bounds check
    if floating is float:
        tgr_wadd_f(dst, d, w)
    else:
        tgr_wadd_d(dst, d, w)
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


cdef inline int output_grad_tile(const floating[:, :, ::1] dy, const floating[:, :, ::1] relu_y, bint relu,
                                 floating[:, :, ::1] dM, Py_ssize_t t, Py_ssize_t row, Py_ssize_t C, int m,
                                 Py_ssize_t th, Py_ssize_t tw) except -1 nogil:
    """Tile t of dy, transformed, into row ``row`` of dM. If ``relu``, dy is the gradient at a
    ReLU's output relu_y (dy's shape) and goes through its derivative first: 0 where relu_y <= 0."""
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
                    if relu:
                        _load_relu(&d[cell], dy, relu_y, n, oi, oj * C + c0, w)
                    else:
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


