# cython: language_level=3
"""Fused optimizer updates: one pass over a parameter, its gradient and its slots.

The numpy path in tinygrad_relu/optimizers/ is the reference: it runs each update as five
to ten in-place ufuncs, each a full pass over memory. Here every element is loaded once,
updated through the same operations in the same order, and stored once. Because the
operations and their order are the numpy path's own (float32 constants rounded from the
same Python floats, no FMA on baseline x86-64, sqrt and divide correctly rounded), the
results are bit-identical to it; the tests check agreement to 1e-6 / 1e-12 relative.

Per element, before the optimizer's own step:
* gradient clipping, always applied: g * scale (scale is 1.0, the clipnorm factor, or NaN
  for a non-finite global norm), then clamped to [lo, hi] (-inf, inf when clipvalue is off).
  Both are exact identities when off, so the loop has no clip branch at all;
* decoupled weight decay w -= w * (weight_decay * lr), only when asked: it is not an
  identity for an infinite weight (inf * 0 is NaN), so it selects a separate loop.

Each option (decay, amsgrad, momentum, nesterov, centered) picks one of a few loops at
call time: the body is an inline function whose flags are compile-time constants at each
call site, so every loop is straight-line and vectorizes (packed mulps/addps/sqrtps/divps,
checked with objdump -d). Long arrays are cut into one block per thread (OpenMP prange
over blocks) above PARALLEL_MIN. Measured on 2 shared cores with benchmarks/bench_optim.py
--threshold (OMP_WAIT_POLICY=PASSIVE): one Adam pass costs ~0.5 ns an element, waking the
second thread ~30-70 us, so two threads lost at 262k elements (1.14x slower) and won at
524k (0.69x); the 784x512 kernel (401k) measured no faster split. Under heavy load from
other processes the second thread never paid, hence a threshold on the high side.

The per-element helpers, the block split and the array checks are shared with optim_extra.pyx
(Nadam, Adamax, Adadelta, Ftrl, Lion) through optim_common.pxd.

The ``def`` wrappers take ndarrays and return False, doing nothing, when the arrays are
not all C-contiguous, aligned, native-order float32 (or all float64) arrays of one size
with writeable outputs: the caller then runs the numpy path. A state slot that is not an
array at all (None where one is required) is a TypeError naming the function and slot.
The loops index raw pointers over exactly the n elements that check established for every
array, so there is nothing for the debug build's bounds checks to catch here (they cover
memoryview indexing only).
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange

from optim_common cimport (_sqrt, _clipped, _nan_max, _blocks_over, _block_size, _common_kind, _check_slot,
                           _data)

cnp.import_array()

# Elements from which the update is split over threads (measured, see module docstring).
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


# ---- Adam / AdamW ------------------------------------------------------------------------------
cdef inline void _adam_block(floating* w, const floating* g, floating* m, floating* v, floating* vhat,
                             Py_ssize_t n, floating scale, floating lo, floating hi, floating decay,
                             floating one_minus_beta_1, floating one_minus_beta_2, floating epsilon,
                             floating alpha, bint DECAY, bint AMSGRAD) noexcept nogil:
    """m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  [v_hat = max(v_hat, v)];  w -= alpha m / (sqrt(v) + eps)"""
    cdef Py_ssize_t i
    cdef floating gv, wv, mv, vv, vh
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
        if AMSGRAD:
            vh = vhat[i]
            vh = _nan_max(vv, vh)
            vhat[i] = vh
            vv = vh
        w[i] = wv - (mv / (_sqrt(vv) + epsilon)) * alpha


cdef void _adam_span(floating* w, const floating* g, floating* m, floating* v, floating* vhat, Py_ssize_t n,
                     floating scale, floating lo, floating hi, floating decay, floating one_minus_beta_1,
                     floating one_minus_beta_2, floating epsilon, floating alpha, bint decayed) noexcept nogil:
    # one call site per (decay, amsgrad) pair: each is its own straight-line loop
    if decayed:
        if vhat != NULL:
            _adam_block(w, g, m, v, vhat, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2,
                        epsilon, alpha, True, True)
        else:
            _adam_block(w, g, m, v, vhat, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2,
                        epsilon, alpha, True, False)
    else:
        if vhat != NULL:
            _adam_block(w, g, m, v, vhat, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2,
                        epsilon, alpha, False, True)
        else:
            _adam_block(w, g, m, v, vhat, n, scale, lo, hi, decay, one_minus_beta_1, one_minus_beta_2,
                        epsilon, alpha, False, False)


cdef void _adam(floating* w, const floating* g, floating* m, floating* v, floating* vhat, Py_ssize_t n,
                double scale, double lo, double hi, double decay, double one_minus_beta_1,
                double one_minus_beta_2, double epsilon, double alpha, bint decayed) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    cdef floating* vh
    if nblocks == 1:
        _adam_span(w, g, m, v, vhat, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay,
                   <floating>one_minus_beta_1, <floating>one_minus_beta_2, <floating>epsilon,
                   <floating>alpha, decayed)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        vh = NULL if vhat == NULL else vhat + start
        _adam_span(w + start, g + start, m + start, v + start, vh, stop - start, <floating>scale,
                   <floating>lo, <floating>hi, <floating>decay, <floating>one_minus_beta_1,
                   <floating>one_minus_beta_2, <floating>epsilon, <floating>alpha, decayed)


# ---- SGD ----------------------------------------------------------------------------------------
cdef inline void _sgd_block(floating* w, const floating* g, floating* m, Py_ssize_t n, floating scale,
                            floating lo, floating hi, floating decay, floating lr, floating momentum,
                            bint DECAY, bint MOMENTUM, bint NESTEROV) noexcept nogil:
    """m = momentum m - lr g;  w += m  (nesterov: w += momentum m - lr g);  no momentum: w -= lr g"""
    cdef Py_ssize_t i
    cdef floating gv, wv, mv, step
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        step = gv * lr
        if MOMENTUM:
            mv = m[i] * momentum - step
            m[i] = mv
            if NESTEROV:
                w[i] = (wv - step) + mv * momentum
            else:
                w[i] = wv + mv
        else:
            w[i] = wv - step


cdef void _sgd_span(floating* w, const floating* g, floating* m, Py_ssize_t n, floating scale, floating lo,
                    floating hi, floating decay, floating lr, floating momentum, bint decayed,
                    bint nesterov) noexcept nogil:
    if m == NULL:
        if decayed:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, True, False, False)
        else:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, False, False, False)
    elif nesterov:
        if decayed:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, True, True, True)
        else:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, False, True, True)
    else:
        if decayed:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, True, True, False)
        else:
            _sgd_block(w, g, m, n, scale, lo, hi, decay, lr, momentum, False, True, False)


cdef void _sgd(floating* w, const floating* g, floating* m, Py_ssize_t n, double scale, double lo, double hi,
               double decay, double lr, double momentum, bint decayed, bint nesterov) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _sgd_span(w, g, m, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay, <floating>lr,
                  <floating>momentum, decayed, nesterov)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _sgd_span(w + start, g + start, NULL if m == NULL else m + start, stop - start, <floating>scale,
                  <floating>lo, <floating>hi, <floating>decay, <floating>lr, <floating>momentum, decayed,
                  nesterov)


# ---- RMSprop ------------------------------------------------------------------------------------
cdef inline void _rmsprop_block(floating* w, const floating* g, floating* v, floating* a, floating* mom,
                                Py_ssize_t n, floating scale, floating lo, floating hi, floating decay,
                                floating lr, floating rho, floating one_minus_rho, floating epsilon,
                                floating momentum, bint DECAY, bint CENTERED,
                                bint MOMENTUM) noexcept nogil:
    """v = rho v + (1 - rho) g^2;  [a = rho a + (1 - rho) g];  step = lr g / sqrt(v [- a^2] + eps);
    [mom = momentum mom + step];  w -= mom or step"""
    cdef Py_ssize_t i
    cdef floating gv, wv, vv, av, mo, denominator, step
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        vv = v[i] * rho + (gv * gv) * one_minus_rho
        v[i] = vv
        if CENTERED:
            av = a[i] * rho + gv * one_minus_rho
            a[i] = av
            denominator = (vv - av * av) + epsilon
        else:
            denominator = vv + epsilon
        step = (gv / _sqrt(denominator)) * lr
        if MOMENTUM:
            mo = mom[i] * momentum + step
            mom[i] = mo
            w[i] = wv - mo
        else:
            w[i] = wv - step


cdef void _rmsprop_span(floating* w, const floating* g, floating* v, floating* a, floating* mom, Py_ssize_t n,
                        floating scale, floating lo, floating hi, floating decay, floating lr, floating rho,
                        floating one_minus_rho, floating epsilon, floating momentum, bint decayed) noexcept nogil:
    if decayed:
        if a != NULL:
            if mom != NULL:
                _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                               momentum, True, True, True)
            else:
                _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                               momentum, True, True, False)
        elif mom != NULL:
            _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                           momentum, True, False, True)
        else:
            _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                           momentum, True, False, False)
    else:
        if a != NULL:
            if mom != NULL:
                _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                               momentum, False, True, True)
            else:
                _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                               momentum, False, True, False)
        elif mom != NULL:
            _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                           momentum, False, False, True)
        else:
            _rmsprop_block(w, g, v, a, mom, n, scale, lo, hi, decay, lr, rho, one_minus_rho, epsilon,
                           momentum, False, False, False)


cdef void _rmsprop(floating* w, const floating* g, floating* v, floating* a, floating* mom, Py_ssize_t n,
                   double scale, double lo, double hi, double decay, double lr, double rho, double one_minus_rho,
                   double epsilon, double momentum, bint decayed) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _rmsprop_span(w, g, v, a, mom, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay,
                      <floating>lr, <floating>rho, <floating>one_minus_rho, <floating>epsilon,
                      <floating>momentum, decayed)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _rmsprop_span(w + start, g + start, v + start, NULL if a == NULL else a + start,
                      NULL if mom == NULL else mom + start, stop - start, <floating>scale, <floating>lo,
                      <floating>hi, <floating>decay, <floating>lr, <floating>rho, <floating>one_minus_rho,
                      <floating>epsilon, <floating>momentum, decayed)


# ---- Adagrad ------------------------------------------------------------------------------------
cdef inline void _adagrad_block(floating* w, const floating* g, floating* acc, Py_ssize_t n, floating scale,
                                floating lo, floating hi, floating decay, floating lr, floating epsilon,
                                bint DECAY) noexcept nogil:
    """acc += g^2;  w -= lr g / sqrt(acc + eps)"""
    cdef Py_ssize_t i
    cdef floating gv, wv, av
    for i in range(n):
        gv = _clipped(g[i], scale, lo, hi)
        wv = w[i]
        if DECAY:
            wv = wv - wv * decay
        av = acc[i] + gv * gv
        acc[i] = av
        w[i] = wv - (gv / _sqrt(av + epsilon)) * lr


cdef void _adagrad_span(floating* w, const floating* g, floating* acc, Py_ssize_t n, floating scale, floating lo,
                        floating hi, floating decay, floating lr, floating epsilon, bint decayed) noexcept nogil:
    if decayed:
        _adagrad_block(w, g, acc, n, scale, lo, hi, decay, lr, epsilon, True)
    else:
        _adagrad_block(w, g, acc, n, scale, lo, hi, decay, lr, epsilon, False)


cdef void _adagrad(floating* w, const floating* g, floating* acc, Py_ssize_t n, double scale, double lo,
                   double hi, double decay, double lr, double epsilon, bint decayed) noexcept nogil:
    cdef Py_ssize_t b, start, stop, nblocks = _blocks(n), size = _block_size(n, nblocks)
    if nblocks == 1:
        _adagrad_span(w, g, acc, n, <floating>scale, <floating>lo, <floating>hi, <floating>decay,
                      <floating>lr, <floating>epsilon, decayed)
        return
    for b in prange(nblocks, schedule="static", num_threads=nblocks):
        start = b * size
        stop = min(start + size, n)
        _adagrad_span(w + start, g + start, acc + start, stop - start, <floating>scale, <floating>lo,
                      <floating>hi, <floating>decay, <floating>lr, <floating>epsilon, decayed)


cdef inline Py_ssize_t _blocks(Py_ssize_t n) noexcept nogil:
    return _blocks_over(n, PARALLEL_MIN)


def adam_update(w, g, m, v, vhat, double scale, double lo, double hi, double decay,
                bint decayed, double one_minus_beta_1, double one_minus_beta_2, double epsilon, double alpha):
    """Adam step on w in place (m, v, vhat updated); vhat None unless amsgrad. False: not done, use numpy."""
    _check_slot("adam_update", "m", m, True)
    _check_slot("adam_update", "v", v, True)
    _check_slot("adam_update", "vhat", vhat, False)
    cdef int kind = _common_kind(w, g, (m, v, vhat))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pm = _data(m), *pv = _data(v), *pvhat = _data(vhat)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _adam[float](<float*>pw, <float*>pg, <float*>pm, <float*>pv, <float*>pvhat, n, scale, lo, hi, decay,
                         one_minus_beta_1, one_minus_beta_2, epsilon, alpha, decayed)
        else:
            _adam[double](<double*>pw, <double*>pg, <double*>pm, <double*>pv, <double*>pvhat, n, scale, lo, hi,
                          decay, one_minus_beta_1, one_minus_beta_2, epsilon, alpha, decayed)
    return True


def sgd_update(w, g, m, double scale, double lo,
               double hi, double decay, bint decayed, double lr, double momentum, bint nesterov):
    """SGD step on w in place; m (the momentum slot) None without momentum. False: use numpy."""
    _check_slot("sgd_update", "m", m, False)
    cdef int kind = _common_kind(w, g, (m,))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pm = _data(m)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _sgd[float](<float*>pw, <float*>pg, <float*>pm, n, scale, lo, hi, decay, lr, momentum, decayed,
                        nesterov)
        else:
            _sgd[double](<double*>pw, <double*>pg, <double*>pm, n, scale, lo, hi, decay, lr, momentum, decayed,
                         nesterov)
    return True


def rmsprop_update(w, g, v, average_gradient, mom, double scale, double lo, double hi,
                   double decay, bint decayed, double lr, double rho, double one_minus_rho, double epsilon,
                   double momentum):
    """RMSprop step on w in place; average_gradient None unless centered, mom None without momentum."""
    _check_slot("rmsprop_update", "v", v, True)
    _check_slot("rmsprop_update", "average_gradient", average_gradient, False)
    _check_slot("rmsprop_update", "mom", mom, False)
    cdef int kind = _common_kind(w, g, (v, average_gradient, mom))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pv = _data(v), *pa = _data(average_gradient), *pmom = _data(mom)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _rmsprop[float](<float*>pw, <float*>pg, <float*>pv, <float*>pa, <float*>pmom, n, scale, lo, hi, decay,
                            lr, rho, one_minus_rho, epsilon, momentum, decayed)
        else:
            _rmsprop[double](<double*>pw, <double*>pg, <double*>pv, <double*>pa, <double*>pmom, n, scale, lo, hi,
                             decay, lr, rho, one_minus_rho, epsilon, momentum, decayed)
    return True


def adagrad_update(w, g, accumulator, double scale, double lo, double hi, double decay, bint decayed,
                   double lr, double epsilon):
    """Adagrad step on w in place. False: use numpy."""
    _check_slot("adagrad_update", "accumulator", accumulator, True)
    cdef int kind = _common_kind(w, g, (accumulator,))
    if kind < 0:
        return False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef void *pw = _data(w), *pg = _data(g), *pacc = _data(accumulator)
    with nogil:
        if kind == cnp.NPY_FLOAT:
            _adagrad[float](<float*>pw, <float*>pg, <float*>pacc, n, scale, lo, hi, decay, lr, epsilon, decayed)
        else:
            _adagrad[double](<double*>pw, <double*>pg, <double*>pacc, n, scale, lo, hi, decay, lr, epsilon,
                             decayed)
    return True
