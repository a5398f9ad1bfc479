# cython: language_level=3
"""Fused updates of Nadam, Adamax, Adadelta, Ftrl and Lion: one pass over a parameter, its gradient
and its slots, as optim.pyx does for SGD, Adam, RMSprop and Adagrad (whose docstring states the
conventions: the numpy path in tinygrad_relu/optimizers/ is the reference, the same float
operations run in the same order, the gradient is clipped by scale and [lo, hi] and the weight
decayed first, and an array the kernel cannot take makes the ``def`` return False).

Each loop's option (weight decay) is a compile-time flag at its call site, so the body is
straight-line. Ftrl's n^-p is a square root for the default p = -0.5 and libm's pow otherwise;
numpy's np.power may use other (SIMD) code, so for p != -0.5 the fused and numpy paths can
differ in the last bit.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, fabsf, pow, powf

from optim_common cimport (_sqrt, _clipped, _nan_max, _blocks_over, _block_size, _common_kind, _check_slot,
                           _data)

cnp.import_array()

# Elements from which the update is split over threads (optim.pyx's measured threshold).
cdef Py_ssize_t PARALLEL_MIN = 524_288


def parallel_threshold():
    """Array size (elements) from which updates use OpenMP threads."""
    return PARALLEL_MIN


def set_parallel_threshold(Py_ssize_t n):
    """Override the OpenMP size threshold (for measuring it); returns the old value."""
    global PARALLEL_MIN
    old = PARALLEL_MIN
    PARALLEL_MIN = n
    return old


cdef inline Py_ssize_t _blocks(Py_ssize_t n) noexcept nogil:
    return _blocks_over(n, PARALLEL_MIN)


cdef inline floating _pow(floating v, floating e) noexcept nogil:
    if floating is float:
        return powf(v, e)
    else:
        return pow(v, e)


cdef inline floating _abs(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


cdef inline floating _sign(floating v) noexcept nogil:
    """np.sign: -1, 0 or 1, and NaN for NaN."""
    cdef floating s = <floating>((v > 0) - (v < 0))
    return v if v != v else s


# ---- Nadam ----------------------------------------------------------------------------------------
cdef inline void _nadam_block(floating* w, const floating* g, floating* m, floating* v, Py_ssize_t n,
                              floating scale, floating lo, floating hi, floating decay, floating one_minus_beta_1,
                              floating one_minus_beta_2, floating m_weight, floating g_weight, floating bias_2,
                              floating lr, floating epsilon, bint DECAY) noexcept nogil:
    """m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  w -= lr (m c_m + g c_g) / (sqrt(v / bias_2) + eps)"""
    cdef Py_ssize_t i
    cdef floating gv, wv, mv, vv, m_hat
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        mv = m[i]
        vv = v[i]
        mv = mv + (gv - mv) * one_minus_beta_1
        vv = vv + (gv * gv - vv) * one_minus_beta_2
        m[i] = mv
        v[i] = vv
        m_hat = (mv * m_weight + gv * g_weight) * lr
        w[i] = wv - m_hat / (_sqrt(vv / bias_2) + epsilon)


cdef void _nadam_span(floating* w, const floating* g, floating* m, floating* v, Py_ssize_t n, floating scale,
                      floating lo, floating hi, floating decay, bint decayed, floating one_minus_beta_1,
                      floating one_minus_beta_2, floating m_weight, floating g_weight, floating bias_2, floating lr,
                      floating epsilon) noexcept nogil:
    if decayed:
        _nadam_block(w, g, m, v, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2, m_weight, g_weight,
                     bias_2, lr, epsilon, True)
    else:
        _nadam_block(w, g, m, v, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2, m_weight, g_weight,
                     bias_2, lr, epsilon, False)


cdef void _nadam(floating* w, const floating* g, floating* m, floating* v, Py_ssize_t n, double scale, double lo,
                 double hi, double decay, bint decayed, double one_minus_beta_1, double one_minus_beta_2,
                 double m_weight, double g_weight, double bias_2, double lr, double epsilon) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _nadam_span(w, g, m, v, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay, decayed,
                    <floating>one_minus_beta_1, <floating>one_minus_beta_2, <floating>m_weight, <floating>g_weight,
                    <floating>bias_2, <floating>lr, <floating>epsilon)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _nadam_span(w + start, g + start, m + start, v + start, stop - start, <floating>scale, <floating>lo,
                    <floating>hi, <floating>decay, decayed, <floating>one_minus_beta_1, <floating>one_minus_beta_2,
                    <floating>m_weight, <floating>g_weight, <floating>bias_2, <floating>lr, <floating>epsilon)


# ---- Adamax ---------------------------------------------------------------------------------------
cdef inline void _adamax_block(floating* w, const floating* g, floating* m, floating* u, Py_ssize_t n,
                               floating scale, floating lo, floating hi, floating decay, floating one_minus_beta_1,
                               floating beta_2, floating epsilon, floating bias_1, floating lr,
                               bint DECAY) noexcept nogil:
    """m += (g - m)(1 - b1);  u = max(b2 u, |g|);  w -= (m lr) / ((u + eps) bias_1)"""
    cdef Py_ssize_t i
    cdef floating gv, wv, mv, uv
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        mv = m[i]
        mv = mv + (gv - mv) * one_minus_beta_1
        m[i] = mv
        uv = _nan_max(u[i] * beta_2, _abs(gv))
        u[i] = uv
        w[i] = wv - (mv * lr) / ((uv + epsilon) * bias_1)


cdef void _adamax_span(floating* w, const floating* g, floating* m, floating* u, Py_ssize_t n, floating scale,
                       floating lo, floating hi, floating decay, bint decayed, floating one_minus_beta_1,
                       floating beta_2, floating epsilon, floating bias_1, floating lr) noexcept nogil:
    if decayed:
        _adamax_block(w, g, m, u, n, scale, lo, hi, decay, one_minus_beta_1, beta_2, epsilon, bias_1, lr, True)
    else:
        _adamax_block(w, g, m, u, n, scale, lo, hi, decay, one_minus_beta_1, beta_2, epsilon, bias_1, lr, False)


cdef void _adamax(floating* w, const floating* g, floating* m, floating* u, Py_ssize_t n, double scale, double lo,
                  double hi, double decay, bint decayed, double one_minus_beta_1, double beta_2, double epsilon,
                  double bias_1, double lr) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _adamax_span(w, g, m, u, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay, decayed,
                     <floating>one_minus_beta_1, <floating>beta_2, <floating>epsilon, <floating>bias_1, <floating>lr)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _adamax_span(w + start, g + start, m + start, u + start, stop - start, <floating>scale, <floating>lo,
                     <floating>hi, <floating>decay, decayed, <floating>one_minus_beta_1, <floating>beta_2,
                     <floating>epsilon, <floating>bias_1, <floating>lr)


# ---- Adadelta -------------------------------------------------------------------------------------
cdef inline void _adadelta_block(floating* w, const floating* g, floating* acc_grad, floating* acc_delta,
                                 Py_ssize_t n, floating scale, floating lo, floating hi, floating decay, floating lr,
                                 floating rho, floating one_minus_rho, floating epsilon, bint DECAY) noexcept nogil:
    """a_g = rho a_g + (1 - rho) g^2;  delta = -(sqrt(a_d + eps) g) / sqrt(a_g + eps);
    a_d = rho a_d + (1 - rho) delta^2;  w += lr delta"""
    cdef Py_ssize_t i
    cdef floating gv, wv, ag, ad, delta
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        ag = acc_grad[i] * rho + (gv * gv) * one_minus_rho
        acc_grad[i] = ag
        ad = acc_delta[i]
        delta = -((_sqrt(ad + epsilon) * gv) / _sqrt(ag + epsilon))
        acc_delta[i] = ad * rho + (delta * delta) * one_minus_rho
        w[i] = wv + delta * lr


cdef void _adadelta_span(floating* w, const floating* g, floating* acc_grad, floating* acc_delta, Py_ssize_t n,
                         floating scale, floating lo, floating hi, floating decay, bint decayed, floating lr,
                         floating rho, floating one_minus_rho, floating epsilon) noexcept nogil:
    if decayed:
        _adadelta_block(w, g, acc_grad, acc_delta, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon, True)
    else:
        _adadelta_block(w, g, acc_grad, acc_delta, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon, False)


cdef void _adadelta(floating* w, const floating* g, floating* acc_grad, floating* acc_delta, Py_ssize_t n,
                    double scale, double lo, double hi, double decay, bint decayed, double lr, double rho,
                    double one_minus_rho, double epsilon) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _adadelta_span(w, g, acc_grad, acc_delta, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay,
                       decayed, <floating>lr, <floating>rho, <floating>one_minus_rho, <floating>epsilon)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _adadelta_span(w + start, g + start, acc_grad + start, acc_delta + start, stop - start, <floating>scale,
                       <floating>lo, <floating>hi, <floating>decay, decayed, <floating>lr, <floating>rho,
                       <floating>one_minus_rho, <floating>epsilon)


# ---- Ftrl -----------------------------------------------------------------------------------------
cdef inline void _ftrl_block(floating* w, const floating* g, floating* acc, floating* linear, Py_ssize_t n,
                             floating scale, floating lo, floating hi, floating decay, floating lr, floating exponent,
                             floating l1, floating two_l2, floating two_l2_shrinkage, bint DECAY,
                             bint SQRT) noexcept nogil:
    """g' = g + 2 l2s w;  n' = n + g^2;  z += g' - (n'^e - n^e) / lr * w;  w = (clip(z, -l1, l1) - z) / (n'^e / lr
    + 2 l2);  n = n'   (e = -learning_rate_power; SQRT: e = 0.5)"""
    cdef Py_ssize_t i
    cdef floating gv, wv, av, new_av, zv, clipped, new_power, old_power
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        av = acc[i]
        new_av = gv * gv + av
        if SQRT:
            new_power = _sqrt(new_av)
            old_power = _sqrt(av)
        else:
            new_power = _pow(new_av, exponent)
            old_power = _pow(av, exponent)
        zv = linear[i] + ((wv * two_l2_shrinkage + gv) - ((new_power - old_power) / lr) * wv)
        linear[i] = zv
        clipped = l1 if zv > l1 else zv
        clipped = -l1 if clipped < -l1 else clipped
        w[i] = (clipped - zv) / (new_power / lr + two_l2)
        acc[i] = new_av


cdef void _ftrl_span(floating* w, const floating* g, floating* acc, floating* linear, Py_ssize_t n, floating scale,
                     floating lo, floating hi, floating decay, bint decayed, floating lr, floating exponent,
                     floating l1, floating two_l2, floating two_l2_shrinkage, bint square_root) noexcept nogil:
    if square_root:
        if decayed:
            _ftrl_block(w, g, acc, linear, n, scale, lo, hi, decay, lr, exponent, l1, two_l2, two_l2_shrinkage,
                        True, True)
        else:
            _ftrl_block(w, g, acc, linear, n, scale, lo, hi, decay, lr, exponent, l1, two_l2, two_l2_shrinkage,
                        False, True)
    elif decayed:
        _ftrl_block(w, g, acc, linear, n, scale, lo, hi, decay, lr, exponent, l1, two_l2, two_l2_shrinkage,
                    True, False)
    else:
        _ftrl_block(w, g, acc, linear, n, scale, lo, hi, decay, lr, exponent, l1, two_l2, two_l2_shrinkage,
                    False, False)


cdef void _ftrl(floating* w, const floating* g, floating* acc, floating* linear, Py_ssize_t n, double scale,
                double lo, double hi, double decay, bint decayed, double lr, double exponent, double l1,
                double two_l2, double two_l2_shrinkage) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    cdef bint square_root = exponent == 0.5
    if nblocks == 1:
        _ftrl_span(w, g, acc, linear, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay, decayed,
                   <floating>lr, <floating>exponent, <floating>l1, <floating>two_l2, <floating>two_l2_shrinkage,
                   square_root)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _ftrl_span(w + start, g + start, acc + start, linear + start, stop - start, <floating>scale, <floating>lo,
                   <floating>hi, <floating>decay, decayed, <floating>lr, <floating>exponent, <floating>l1,
                   <floating>two_l2, <floating>two_l2_shrinkage, square_root)


# ---- Lion -----------------------------------------------------------------------------------------
cdef inline void _lion_block(floating* w, const floating* g, floating* m, Py_ssize_t n, floating scale, floating lo,
                             floating hi, floating decay, floating lr, floating beta_1, floating one_minus_beta_1,
                             floating beta_2, floating one_minus_beta_2, bint DECAY) noexcept nogil:
    """w -= sign(b1 m + (1 - b1) g) lr;  m = b2 m + (1 - b2) g"""
    cdef Py_ssize_t i
    cdef floating gv, wv, mv
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        mv = m[i]
        w[i] = wv - _sign(mv * beta_1 + gv * one_minus_beta_1) * lr
        m[i] = mv * beta_2 + gv * one_minus_beta_2


cdef void _lion_span(floating* w, const floating* g, floating* m, Py_ssize_t n, floating scale, floating lo,
                     floating hi, floating decay, bint decayed, floating lr, floating beta_1, floating one_minus_beta_1,
                     floating beta_2, floating one_minus_beta_2) noexcept nogil:
    if decayed:
        _lion_block(w, g, m, n, scale, lo, hi, decay, lr, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2, True)
    else:
        _lion_block(w, g, m, n, scale, lo, hi, decay, lr, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2, False)


cdef void _lion(floating* w, const floating* g, floating* m, Py_ssize_t n, double scale, double lo, double hi,
                double decay, bint decayed, double lr, double beta_1, double one_minus_beta_1, double beta_2,
                double one_minus_beta_2) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _lion_span(w, g, m, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay, decayed, <floating>lr,
                   <floating>beta_1, <floating>one_minus_beta_1, <floating>beta_2, <floating>one_minus_beta_2)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _lion_span(w + start, g + start, m + start, stop - start, <floating>scale, <floating>lo, <floating>hi,
                   <floating>decay, decayed, <floating>lr, <floating>beta_1, <floating>one_minus_beta_1,
                   <floating>beta_2, <floating>one_minus_beta_2)


# ---- Python entry points: check the arrays, pick float or double, run -----------------------------
def nadam_update(w, g, m, v, double scale, double lo, double hi, double decay, bint decayed,
                 double one_minus_beta_1, double one_minus_beta_2, double m_weight, double g_weight, double bias_2,
                 double lr, double epsilon):
    """Nadam step on w in place (m, v updated). False: not done, use numpy."""
    _check_slot("nadam_update", "m", m, True)
    _check_slot("nadam_update", "v", v, True)
    cdef int kind = _common_kind(w, g, (m, v))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pm = _data(m), *pv = _data(v)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _nadam[float](<float*>pw, <float*>pg, <float*>pm, <float*>pv, n, scale, lo, hi, decay, decayed,
                          one_minus_beta_1, one_minus_beta_2, m_weight, g_weight, bias_2, lr, epsilon)
        else:
            _nadam[double](<double*>pw, <double*>pg, <double*>pm, <double*>pv, n, scale, lo, hi, decay, decayed,
                           one_minus_beta_1, one_minus_beta_2, m_weight, g_weight, bias_2, lr, epsilon)
    return True


def adamax_update(w, g, m, u, double scale, double lo, double hi, double decay, bint decayed,
                  double one_minus_beta_1, double beta_2, double epsilon, double bias_1, double lr):
    """Adamax step on w in place (m and the infinity norm u updated). False: use numpy."""
    _check_slot("adamax_update", "m", m, True)
    _check_slot("adamax_update", "u", u, True)
    cdef int kind = _common_kind(w, g, (m, u))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pm = _data(m), *pu = _data(u)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _adamax[float](<float*>pw, <float*>pg, <float*>pm, <float*>pu, n, scale, lo, hi, decay, decayed,
                           one_minus_beta_1, beta_2, epsilon, bias_1, lr)
        else:
            _adamax[double](<double*>pw, <double*>pg, <double*>pm, <double*>pu, n, scale, lo, hi, decay, decayed,
                            one_minus_beta_1, beta_2, epsilon, bias_1, lr)
    return True


def adadelta_update(w, g, accumulated_grad, accumulated_delta_var, double scale, double lo, double hi, double decay,
                    bint decayed, double lr, double rho, double one_minus_rho, double epsilon):
    """Adadelta step on w in place (both accumulators updated). False: use numpy."""
    _check_slot("adadelta_update", "accumulated_grad", accumulated_grad, True)
    _check_slot("adadelta_update", "accumulated_delta_var", accumulated_delta_var, True)
    cdef int kind = _common_kind(w, g, (accumulated_grad, accumulated_delta_var))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pa = _data(accumulated_grad), *pd = _data(accumulated_delta_var)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _adadelta[float](<float*>pw, <float*>pg, <float*>pa, <float*>pd, n, scale, lo, hi, decay, decayed, lr,
                             rho, one_minus_rho, epsilon)
        else:
            _adadelta[double](<double*>pw, <double*>pg, <double*>pa, <double*>pd, n, scale, lo, hi, decay, decayed,
                              lr, rho, one_minus_rho, epsilon)
    return True


def ftrl_update(w, g, accumulator, linear, double scale, double lo, double hi, double decay, bint decayed, double lr,
                double exponent, double l1, double two_l2, double two_l2_shrinkage):
    """Ftrl step on w in place (accumulator and linear updated); exponent = -learning_rate_power. False: use numpy."""
    _check_slot("ftrl_update", "accumulator", accumulator, True)
    _check_slot("ftrl_update", "linear", linear, True)
    if not exponent >= 0:
        raise ValueError(f"ftrl_update: exponent (-learning_rate_power) must be >= 0, received {exponent}")
    cdef int kind = _common_kind(w, g, (accumulator, linear))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pa = _data(accumulator), *pz = _data(linear)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _ftrl[float](<float*>pw, <float*>pg, <float*>pa, <float*>pz, n, scale, lo, hi, decay, decayed, lr,
                         exponent, l1, two_l2, two_l2_shrinkage)
        else:
            _ftrl[double](<double*>pw, <double*>pg, <double*>pa, <double*>pz, n, scale, lo, hi, decay, decayed, lr,
                          exponent, l1, two_l2, two_l2_shrinkage)
    return True


def lion_update(w, g, m, double scale, double lo, double hi, double decay, bint decayed, double lr, double beta_1,
                double one_minus_beta_1, double beta_2, double one_minus_beta_2):
    """Lion step on w in place (m updated). False: use numpy."""
    _check_slot("lion_update", "m", m, True)
    cdef int kind = _common_kind(w, g, (m,))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pm = _data(m)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _lion[float](<float*>pw, <float*>pg, <float*>pm, n, scale, lo, hi, decay, decayed, lr, beta_1,
                         one_minus_beta_1, beta_2, one_minus_beta_2)
        else:
            _lion[double](<double*>pw, <double*>pg, <double*>pm, n, scale, lo, hi, decay, decayed, lr, beta_1,
                          one_minus_beta_1, beta_2, one_minus_beta_2)
    return True
