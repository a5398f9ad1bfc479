# cython: language_level=3
"""Elementwise activation kernels, forward and backward, float32 and float64.

Each kernel is one contiguous 1-D loop over typed memoryviews, without the GIL and
without branches in the body: both sides of a piecewise function are computed and a
compare-select picks one, which gcc turns into packed compare/blend (or max) on SIMD
registers. Two habits keep that true (see DESIGN.md, "a measured trap"):

* load every operand into a local first (``gv = g[i]``) so the select never guards a
  memory load (a guarded load is not speculated and stays a branch);
* compare against a typed local ``zero`` rather than a literal of another type.

Loops run in parallel (OpenMP ``prange``) only when the array is long enough for the
second core to pay for waking it up: ``PARALLEL_MIN_CHEAP`` for memory-bound kernels
(relu family), ``PARALLEL_MIN_COSTLY`` for kernels calling exp/tanh/erf. Both were
measured on a 2-core machine with benchmarks/bench_activations.py --thresholds.

NaN propagates through every forward (relu(nan) is nan, as in PyTorch). ReLU'(0) = 0.
The ``def`` wrappers at the bottom take C-contiguous float32/float64 arrays of any
shape, allocate the output and call the kernel on flat views; they trust the caller
(tinygrad_relu/ops/activation.py) to have made inputs contiguous and of one dtype.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, expm1, expm1f, log, logf, log1p, log1pf
from libc.math cimport tanh, tanhf, erfc, erfcf, fabs, fabsf, INFINITY

import numpy as np

# gcc's default -ftrapping-math treats every float compare and multiply as a possible trap,
# so it will not execute both arms of a select and blend them: `v if v > 0 else a * v`
# (leaky relu), any clamp feeding arithmetic, and the exp below all stayed scalar loops
# with branches. No kernel here reads the floating-point exception flags, so tell gcc so,
# for this file only. Values are unchanged (this is not -ffast-math: no reassociation,
# NaN and inf keep their meaning). clang's default already ignores FP exceptions.
cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize ("no-trapping-math")
    #endif
    """

# Measured crossover points (elements) above which two threads beat one; see module docstring.
cdef Py_ssize_t PARALLEL_MIN_CHEAP = 131_072
cdef Py_ssize_t PARALLEL_MIN_COSTLY = 16_384

cdef double SQRT1_2 = 0.70710678118654752440         # 1/sqrt(2)
cdef double INV_SQRT_2PI = 0.39894228040143267794    # 1/sqrt(2 pi)
cdef double SQRT_2_OVER_PI = 0.79788456080286535588  # sqrt(2/pi)
cdef double GELU_CUBIC = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def parallel_thresholds():
    """(cheap, costly): array sizes from which kernels use OpenMP threads."""
    return PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY


def set_parallel_thresholds(cheap, costly):
    """Override the OpenMP size thresholds (for measuring them; returns the old pair)."""
    global PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY
    old = (PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY)
    PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY = cheap, costly
    return old


# ---- a vectorizable exp ---------------------------------------------------------------------
# libm's exp is an opaque call, so a loop calling it stays scalar (and numpy's SIMD exp wins
# by 4-8x). This one is plain arithmetic the vectorizer can pack: exp(x) = 2^n * e^r with
# n = round(x / ln 2) (the 1.5 * 2^52 trick rounds, and leaves n in the low mantissa bits,
# from which 2^(n-1) is built by shifting into the exponent field), |r| <= ln2 / 2, and e^r
# from its Taylor polynomial (degree 12 for double, 7 for float: truncation < 1 ulp).
# Measured error vs numpy: <= 3 ulp (tests/test_activations.py checks it). Results below
# ~3e-308 (double) or ~2e-38 (float) flush to 0 instead of going subnormal; overflow gives
# inf; NaN gives NaN.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    static inline double tgr_exp(double x) {
        /* Clamp so that n stays in [-1022, 1025]: n = -1022 builds a zero scale (exp -> 0),
           n >= 1024 overflows to inf by itself; no select on the result (a select after
           the polynomial makes gcc sink it into a branch and give up vectorizing). */
        double xc = x < -708.5 ? -708.5 : x;
        xc = xc > 710.0 ? 710.0 : xc;
        const double shifter = 6755399441055744.0;              /* 1.5 * 2^52 */
        double t = xc * 1.4426950408889634074 + shifter;
        double n = t - shifter;
        double r = xc - n * 0.693147180559890330187;            /* ln2, high part */
        r = r - n * 5.49792301870837115524e-14;                 /* ln2, low part */
        double p = 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        uint64_t bits;
        memcpy(&bits, &t, 8);
        bits = (bits + 1022u) << 52;                            /* 2^(n-1) */
        double scale;
        memcpy(&scale, &bits, 8);
        return (p * scale) * 2.0;
    }
    static inline float tgr_expf(float x) {
        float xc = x < -87.5f ? -87.5f : x;    /* n in [-126, 129], as above */
        xc = xc > 89.0f ? 89.0f : xc;
        const float shifter = 12582912.0f;                      /* 1.5 * 2^23 */
        float t = xc * 1.44269504088896341f + shifter;
        float n = t - shifter;
        float r = xc - n * 0.693359375f;
        r = r - n * -2.12194440e-4f;
        float p = 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        uint32_t bits;
        memcpy(&bits, &t, 4);
        bits = (bits + 126u) << 23;                             /* 2^(n-1) */
        float scale;
        memcpy(&scale, &bits, 4);
        return (p * scale) * 2.0f;
    }
    """
    double tgr_exp(double) noexcept nogil
    float tgr_expf(float) noexcept nogil


def fast_exp(x):
    """The kernels' exp on a flat float32/float64 array (exposed for testing its accuracy)."""
    cdef Py_ssize_t i
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    cdef float[::1] xf, yf
    cdef double[::1] xd, yd
    if x.dtype == np.float32:
        xf, yf = x.reshape(-1), y.reshape(-1)
        for i in range(xf.shape[0]):
            yf[i] = tgr_expf(xf[i])
    else:
        xd, yd = x.astype(np.float64, copy=False).reshape(-1), y.reshape(-1)
        for i in range(xd.shape[0]):
            yd[i] = tgr_exp(xd[i])
    return y


# ---- scalar helpers: pick the float or double function at compile time ---------------------
cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return tgr_expf(v)
    else:
        return tgr_exp(v)


cdef inline floating _expm1(floating v) noexcept nogil:
    if floating is float:
        return expm1f(v)
    else:
        return expm1(v)


cdef inline floating _log1p(floating v) noexcept nogil:
    if floating is float:
        return log1pf(v)
    else:
        return log1p(v)


cdef inline floating _log(floating v) noexcept nogil:
    if floating is float:
        return logf(v)
    else:
        return log(v)


cdef inline floating _tanh(floating v) noexcept nogil:
    if floating is float:
        return tanhf(v)
    else:
        return tanh(v)


cdef inline floating _erfc(floating v) noexcept nogil:
    if floating is float:
        return erfcf(v)
    else:
        return erfc(v)


cdef inline floating _fabs(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


cdef inline floating _sigmoid(floating v) noexcept nogil:
    # exp(-v) overflows to inf for v < -88 (float) and 1/(1+inf) is the correct 0.
    cdef floating one = 1
    return one / (one + _exp(-v))


cdef inline floating _softplus(floating v) noexcept nogil:
    # log(1+e^v) = max(v,0) + log1p(e^-|v|): never overflows, exact for large |v|.
    cdef floating zero = 0
    cdef floating pos = v if v > zero else zero
    return pos + _log1p(_exp(-_fabs(v)))


# ---- relu family: memory bound, the backward reads the saved output --------------------
cdef void relu_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    """y = max(x, 0); NaN stays NaN because the select keeps x unless x <= 0."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        v = x[i]
        y[i] = zero if v <= zero else v


cdef void relu_backward_kernel(const floating[::1] g, const floating[::1] y,
                               floating[::1] gx) noexcept nogil:
    """gx = g where y > 0 (so ReLU'(0) = 0); like PyTorch, a NaN output passes g."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i]
        gx[i] = zero if y[i] <= zero else gv


cdef void leaky_relu_kernel(const floating[::1] x, floating[::1] y,
                            floating slope) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        v = x[i]
        y[i] = v if v > zero else slope * v


cdef void leaky_relu_backward_kernel(const floating[::1] g, const floating[::1] y,
                                     floating[::1] gx, floating slope) noexcept nogil:
    """Valid for slope > 0, where y has the sign of x."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i]
        gx[i] = gv if y[i] > zero else slope * gv


cdef void clipped_relu_kernel(const floating[::1] x, floating[::1] y,
                              floating top) noexcept nogil:
    """y = min(max(x, 0), top): relu6 when top = 6. Each select keeps NaN."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        v = x[i]
        v = zero if v <= zero else v
        y[i] = top if v > top else v


cdef void clipped_relu_backward_kernel(const floating[::1] g, const floating[::1] y,
                                       floating[::1] gx, floating top) noexcept nogil:
    """gx = g where 0 < y < top (PyTorch's hardtanh rule: 0 at both corners)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, yv, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i]
        yv = y[i]
        gx[i] = zero if (yv <= zero) | (yv >= top) else gv


cdef void relu_general_kernel(const floating[::1] x, floating[::1] y, floating slope,
                              floating threshold, floating low, floating top) noexcept nogil:
    """Keras' relu: x > threshold -> clip(x, low, top); else slope * (x - threshold).

    Without max_value, (low, top) = (-inf, inf). With slope 0 the lower branch is a plain
    0, not 0 * (x - threshold), which would turn x = -inf into NaN.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, c, zero = 0
    if slope == zero:
        for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
            v = x[i]
            c = low if v < low else v
            c = top if c > top else c
            y[i] = zero if v <= threshold else c
    else:
        for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
            v = x[i]
            c = low if v < low else v
            c = top if c > top else c
            y[i] = c if v > threshold else slope * (v - threshold)


cdef void relu_general_backward_kernel(const floating[::1] g, const floating[::1] x,
                                       floating[::1] gx, floating slope, floating threshold,
                                       floating low, floating top) noexcept nogil:
    """dy/dx = slope below the threshold, 1 inside (low, top), 0 where clipped."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, gv, inside, zero = 0
    cdef bint unbounded = top == INFINITY
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i]
        v = x[i]
        inside = gv if (v > low) & ((v < top) | unbounded) else zero
        gx[i] = slope * gv if v <= threshold else inside


cdef void hard_sigmoid_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    """Keras 3: relu6(x + 3) / 6."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, zero = 0, three = 3, six = 6
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        v = x[i] + three
        v = zero if v <= zero else v
        v = six if v > six else v
        y[i] = v / six


cdef void hard_sigmoid_backward_kernel(const floating[::1] g, const floating[::1] y,
                                       floating[::1] gx) noexcept nogil:
    """dy/dx = 1/6 where 0 < y < 1 (-3 < x < 3), else 0."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, yv, zero = 0, one = 1, six = 6
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i] / six
        yv = y[i]
        gx[i] = gv if (yv > zero) & (yv < one) else zero


cdef void softsign_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        v = x[i]
        y[i] = v / (one + _fabs(v))


cdef void softsign_backward_kernel(const floating[::1] g, const floating[::1] x,
                                   floating[::1] gx) noexcept nogil:
    """d/dx x/(1+|x|) = 1/(1+|x|)^2 (read from x: 1-|y| would cancel for large |x|)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating d, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        d = one + _fabs(x[i])
        gx[i] = g[i] / (d * d)


# ---- smooth activations: compute bound (exp, tanh, erf) ---------------------------------
cdef void elu_kernel(const floating[::1] x, floating[::1] y, floating alpha,
                     floating scale) noexcept nogil:
    """scale * (x if x > 0 else alpha * (e^x - 1)); selu is scale, alpha fixed."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, neg, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        neg = alpha * _expm1(v)
        y[i] = scale * (v if v > zero else neg)


cdef void elu_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                              floating alpha, floating scale) noexcept nogil:
    """dy/dx = scale if x > 0 else scale * alpha * e^x (PyTorch's side at x = 0)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, gv, neg, zero = 0
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        gv = g[i] * scale
        neg = gv * alpha * _exp(v)
        gx[i] = gv if v > zero else neg


cdef void gelu_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    """x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2.

    erfc rather than PyTorch's 1 + erf(x / sqrt 2): same values, but no cancellation for
    x << 0, where 1 + erf loses all but a few digits (x = -6: 1e-7 relative error).
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, half = 0.5, s = SQRT1_2
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        y[i] = half * v * _erfc(-v * s)


cdef void gelu_backward_kernel(const floating[::1] g, const floating[::1] x,
                               floating[::1] gx) noexcept nogil:
    """dy/dx = Phi(x) + x * phi(x)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, cdf, pdf, half = 0.5, s = SQRT1_2, k = INV_SQRT_2PI
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        cdf = half * _erfc(-v * s)
        pdf = k * _exp(-half * v * v)
        gx[i] = g[i] * (cdf + v * pdf)


cdef void gelu_tanh_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    """x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3), computed as x * sigmoid(2u).

    (1 + tanh u)/2 = sigmoid(2u) exactly; the sigmoid form needs one exp instead of a tanh
    and, unlike 1 + tanh(u), does not cancel for x << 0.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, two_k = 2 * SQRT_2_OVER_PI, c = GELU_CUBIC
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        y[i] = v * _sigmoid(two_k * (v + c * v * v * v))


cdef void gelu_tanh_backward_kernel(const floating[::1] g, const floating[::1] x,
                                    floating[::1] gx) noexcept nogil:
    """dy/dx = s + 2 x s (1 - s) u', s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, s, one = 1, three = 3, k = SQRT_2_OVER_PI, c = GELU_CUBIC
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        s = _sigmoid(2 * k * (v + c * v * v * v))
        gx[i] = g[i] * (s + 2 * v * s * (one - s) * k * (one + three * c * v * v))


cdef void silu_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        y[i] = v * _sigmoid(v)


cdef void silu_backward_kernel(const floating[::1] g, const floating[::1] x,
                               floating[::1] gx) noexcept nogil:
    """dy/dx = s * (1 + x * (1 - s)), s = sigmoid(x)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, s, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        s = _sigmoid(v)
        gx[i] = g[i] * s * (one + v * (one - s))


cdef void sigmoid_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        y[i] = _sigmoid(x[i])


cdef void sigmoid_backward_kernel(const floating[::1] g, const floating[::1] y,
                                  floating[::1] gx) noexcept nogil:
    """dy/dx = y (1 - y): reads the output, no exp."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating yv, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        yv = y[i]
        gx[i] = g[i] * yv * (one - yv)


cdef void tanh_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        y[i] = _tanh(x[i])


cdef void tanh_backward_kernel(const floating[::1] g, const floating[::1] y,
                               floating[::1] gx) noexcept nogil:
    """dy/dx = 1 - y^2: reads the output, no tanh."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating yv, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        yv = y[i]
        gx[i] = g[i] * (one - yv * yv)


cdef void softplus_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        y[i] = _softplus(x[i])


cdef void softplus_backward_kernel(const floating[::1] g, const floating[::1] x,
                                   floating[::1] gx) noexcept nogil:
    """dy/dx = sigmoid(x)."""
    cdef Py_ssize_t i, n = g.shape[0]
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        gx[i] = g[i] * _sigmoid(x[i])


cdef void mish_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        y[i] = v * _tanh(_softplus(v))


cdef void mish_backward_kernel(const floating[::1] g, const floating[::1] x,
                               floating[::1] gx) noexcept nogil:
    """dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, t, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        t = _tanh(_softplus(v))
        gx[i] = g[i] * (t + v * (one - t * t) * _sigmoid(v))


# ---- softmax over the last axis: one row per iteration, rows spread over threads ----------
cdef inline floating _row_max(const floating[:, ::1] x, Py_ssize_t r) noexcept nogil:
    # Skips NaN (v > m is false); a NaN row still comes out NaN through exp(NaN - m).
    cdef Py_ssize_t j
    cdef floating v, m = -INFINITY
    for j in range(x.shape[1]):
        v = x[r, j]
        m = v if v > m else m
    return m


cdef void softmax_kernel(const floating[:, ::1] x, floating[:, ::1] y) noexcept nogil:
    """y = e^(x - max) / sum(e^(x - max)) per row."""
    cdef Py_ssize_t r, j, rows = x.shape[0], cols = x.shape[1]
    cdef floating m, e, total, inv, one = 1
    for r in prange(rows, use_threads_if=rows * cols >= PARALLEL_MIN_COSTLY and rows > 1,
                    schedule="static"):
        m = _row_max(x, r)
        total = 0
        for j in range(cols):
            e = _exp(x[r, j] - m)
            y[r, j] = e
            total = total + e
        inv = one / total
        for j in range(cols):
            y[r, j] = y[r, j] * inv


cdef void softmax_backward_kernel(const floating[:, ::1] g, const floating[:, ::1] y,
                                  floating[:, ::1] gx) noexcept nogil:
    """gx = y * (g - sum(g * y)) per row."""
    cdef Py_ssize_t r, j, rows = g.shape[0], cols = g.shape[1]
    cdef floating dot
    for r in prange(rows, use_threads_if=rows * cols >= PARALLEL_MIN_CHEAP and rows > 1,
                    schedule="static"):
        dot = 0
        for j in range(cols):
            dot = dot + g[r, j] * y[r, j]
        for j in range(cols):
            gx[r, j] = y[r, j] * (g[r, j] - dot)


cdef void log_softmax_kernel(const floating[:, ::1] x, floating[:, ::1] y) noexcept nogil:
    """y = x - max - log(sum(e^(x - max))) per row."""
    cdef Py_ssize_t r, j, rows = x.shape[0], cols = x.shape[1]
    cdef floating m, total, shift
    for r in prange(rows, use_threads_if=rows * cols >= PARALLEL_MIN_COSTLY and rows > 1,
                    schedule="static"):
        m = _row_max(x, r)
        total = 0
        for j in range(cols):
            total = total + _exp(x[r, j] - m)
        shift = m + _log(total)
        for j in range(cols):
            y[r, j] = x[r, j] - shift


cdef void log_softmax_backward_kernel(const floating[:, ::1] g, const floating[:, ::1] y,
                                      floating[:, ::1] gx) noexcept nogil:
    """gx = g - e^y * sum(g) per row (e^y is the softmax)."""
    cdef Py_ssize_t r, j, rows = g.shape[0], cols = g.shape[1]
    cdef floating total
    for r in prange(rows, use_threads_if=rows * cols >= PARALLEL_MIN_COSTLY and rows > 1,
                    schedule="static"):
        total = 0
        for j in range(cols):
            total = total + g[r, j]
        for j in range(cols):
            gx[r, j] = g[r, j] - _exp(y[r, j]) * total


# ---- Python wrappers: allocate, flatten, dispatch on dtype -----------------------------------
cdef inline bint _single(a) except -1:
    dt = a.dtype
    if dt == np.float32:
        return True
    if dt == np.float64:
        return False
    raise TypeError(f"activation kernels take float32 or float64 arrays, got {dt}")


cdef inline object _flat(a):
    return a.reshape(-1)


def relu_forward(x):
    y = np.empty_like(x)
    if _single(x):
        relu_kernel[float](_flat(x), _flat(y))
    else:
        relu_kernel[double](_flat(x), _flat(y))
    return y


def relu_backward(g, y):
    gx = np.empty_like(g)
    if _single(g):
        relu_backward_kernel[float](_flat(g), _flat(y), _flat(gx))
    else:
        relu_backward_kernel[double](_flat(g), _flat(y), _flat(gx))
    return gx


def leaky_relu_forward(x, double negative_slope):
    y = np.empty_like(x)
    if _single(x):
        leaky_relu_kernel[float](_flat(x), _flat(y), <float>negative_slope)
    else:
        leaky_relu_kernel[double](_flat(x), _flat(y), negative_slope)
    return y


def leaky_relu_backward(g, y, double negative_slope):
    """Needs negative_slope > 0 (y then has the sign of x)."""
    gx = np.empty_like(g)
    if _single(g):
        leaky_relu_backward_kernel[float](_flat(g), _flat(y), _flat(gx), <float>negative_slope)
    else:
        leaky_relu_backward_kernel[double](_flat(g), _flat(y), _flat(gx), negative_slope)
    return gx


def clipped_relu_forward(x, double max_value):
    y = np.empty_like(x)
    if _single(x):
        clipped_relu_kernel[float](_flat(x), _flat(y), <float>max_value)
    else:
        clipped_relu_kernel[double](_flat(x), _flat(y), max_value)
    return y


def clipped_relu_backward(g, y, double max_value):
    gx = np.empty_like(g)
    if _single(g):
        clipped_relu_backward_kernel[float](_flat(g), _flat(y), _flat(gx), <float>max_value)
    else:
        clipped_relu_backward_kernel[double](_flat(g), _flat(y), _flat(gx), max_value)
    return gx


def _relu_bounds(max_value):
    if max_value is None:
        return -np.inf, np.inf
    return 0.0, float(max_value)


def relu_general_forward(x, double negative_slope, max_value, double threshold):
    """Keras relu with any negative_slope, max_value (None for none) and threshold."""
    cdef double low, top
    low, top = _relu_bounds(max_value)
    y = np.empty_like(x)
    if _single(x):
        relu_general_kernel[float](_flat(x), _flat(y), <float>negative_slope,
                                   <float>threshold, <float>low, <float>top)
    else:
        relu_general_kernel[double](_flat(x), _flat(y), negative_slope, threshold, low, top)
    return y


def relu_general_backward(g, x, double negative_slope, max_value, double threshold):
    cdef double low, top
    low, top = _relu_bounds(max_value)
    gx = np.empty_like(g)
    if _single(g):
        relu_general_backward_kernel[float](_flat(g), _flat(x), _flat(gx), <float>negative_slope,
                                            <float>threshold, <float>low, <float>top)
    else:
        relu_general_backward_kernel[double](_flat(g), _flat(x), _flat(gx), negative_slope,
                                             threshold, low, top)
    return gx


def elu_forward(x, double alpha=1.0, double scale=1.0):
    y = np.empty_like(x)
    if _single(x):
        elu_kernel[float](_flat(x), _flat(y), <float>alpha, <float>scale)
    else:
        elu_kernel[double](_flat(x), _flat(y), alpha, scale)
    return y


def elu_backward(g, x, double alpha=1.0, double scale=1.0):
    gx = np.empty_like(g)
    if _single(g):
        elu_backward_kernel[float](_flat(g), _flat(x), _flat(gx), <float>alpha, <float>scale)
    else:
        elu_backward_kernel[double](_flat(g), _flat(x), _flat(gx), alpha, scale)
    return gx


def gelu_forward(x, bint approximate=False):
    y = np.empty_like(x)
    if _single(x):
        if approximate:
            gelu_tanh_kernel[float](_flat(x), _flat(y))
        else:
            gelu_kernel[float](_flat(x), _flat(y))
    else:
        if approximate:
            gelu_tanh_kernel[double](_flat(x), _flat(y))
        else:
            gelu_kernel[double](_flat(x), _flat(y))
    return y


def gelu_backward(g, x, bint approximate=False):
    gx = np.empty_like(g)
    if _single(g):
        if approximate:
            gelu_tanh_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
        else:
            gelu_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        if approximate:
            gelu_tanh_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
        else:
            gelu_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
    return gx


def silu_forward(x):
    y = np.empty_like(x)
    if _single(x):
        silu_kernel[float](_flat(x), _flat(y))
    else:
        silu_kernel[double](_flat(x), _flat(y))
    return y


def silu_backward(g, x):
    gx = np.empty_like(g)
    if _single(g):
        silu_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        silu_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
    return gx


def sigmoid_forward(x):
    y = np.empty_like(x)
    if _single(x):
        sigmoid_kernel[float](_flat(x), _flat(y))
    else:
        sigmoid_kernel[double](_flat(x), _flat(y))
    return y


def sigmoid_backward(g, y):
    gx = np.empty_like(g)
    if _single(g):
        sigmoid_backward_kernel[float](_flat(g), _flat(y), _flat(gx))
    else:
        sigmoid_backward_kernel[double](_flat(g), _flat(y), _flat(gx))
    return gx


def hard_sigmoid_forward(x):
    y = np.empty_like(x)
    if _single(x):
        hard_sigmoid_kernel[float](_flat(x), _flat(y))
    else:
        hard_sigmoid_kernel[double](_flat(x), _flat(y))
    return y


def hard_sigmoid_backward(g, y):
    gx = np.empty_like(g)
    if _single(g):
        hard_sigmoid_backward_kernel[float](_flat(g), _flat(y), _flat(gx))
    else:
        hard_sigmoid_backward_kernel[double](_flat(g), _flat(y), _flat(gx))
    return gx


def tanh_forward(x):
    y = np.empty_like(x)
    if _single(x):
        tanh_kernel[float](_flat(x), _flat(y))
    else:
        tanh_kernel[double](_flat(x), _flat(y))
    return y


def tanh_backward(g, y):
    gx = np.empty_like(g)
    if _single(g):
        tanh_backward_kernel[float](_flat(g), _flat(y), _flat(gx))
    else:
        tanh_backward_kernel[double](_flat(g), _flat(y), _flat(gx))
    return gx


def softplus_forward(x):
    y = np.empty_like(x)
    if _single(x):
        softplus_kernel[float](_flat(x), _flat(y))
    else:
        softplus_kernel[double](_flat(x), _flat(y))
    return y


def softplus_backward(g, x):
    gx = np.empty_like(g)
    if _single(g):
        softplus_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        softplus_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
    return gx


def softsign_forward(x):
    y = np.empty_like(x)
    if _single(x):
        softsign_kernel[float](_flat(x), _flat(y))
    else:
        softsign_kernel[double](_flat(x), _flat(y))
    return y


def softsign_backward(g, x):
    gx = np.empty_like(g)
    if _single(g):
        softsign_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        softsign_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
    return gx


def mish_forward(x):
    y = np.empty_like(x)
    if _single(x):
        mish_kernel[float](_flat(x), _flat(y))
    else:
        mish_kernel[double](_flat(x), _flat(y))
    return y


def mish_backward(g, x):
    gx = np.empty_like(g)
    if _single(g):
        mish_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        mish_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
    return gx


cdef inline object _rows(a):
    # (..., n) -> (rows, n); a 0-d array is one row of one element.
    return a.reshape(-1, a.shape[a.ndim - 1] if a.ndim else 1)


def softmax_forward(x):
    """Softmax over the last axis."""
    y = np.empty_like(x)
    if x.size == 0:
        return y
    if _single(x):
        softmax_kernel[float](_rows(x), _rows(y))
    else:
        softmax_kernel[double](_rows(x), _rows(y))
    return y


def softmax_backward(g, y):
    gx = np.empty_like(g)
    if g.size == 0:
        return gx
    if _single(g):
        softmax_backward_kernel[float](_rows(g), _rows(y), _rows(gx))
    else:
        softmax_backward_kernel[double](_rows(g), _rows(y), _rows(gx))
    return gx


def log_softmax_forward(x):
    """Log-softmax over the last axis."""
    y = np.empty_like(x)
    if x.size == 0:
        return y
    if _single(x):
        log_softmax_kernel[float](_rows(x), _rows(y))
    else:
        log_softmax_kernel[double](_rows(x), _rows(y))
    return y


def log_softmax_backward(g, y):
    gx = np.empty_like(g)
    if g.size == 0:
        return gx
    if _single(g):
        log_softmax_backward_kernel[float](_rows(g), _rows(y), _rows(gx))
    else:
        log_softmax_backward_kernel[double](_rows(g), _rows(y), _rows(gx))
    return gx
