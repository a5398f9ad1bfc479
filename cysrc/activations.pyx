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
from libc.math cimport log, logf, fabs, fabsf, INFINITY

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


# ---- vectorizable exp, expm1, log1p, tanh, erfc -----------------------------------------------
# libm's functions are opaque calls, so a loop calling them stays scalar (and numpy's or
# PyTorch's SIMD versions win by 4-20x). These are plain arithmetic (polynomials, a division,
# integer bit tricks, compare-selects), inlined, so the vectorizer packs them. Each has a
# float and a double version: float needs far shorter polynomials for its 24 bits.
# Measured worst error against numpy / glibc's erfc, float32 | float64 ulp: exp 1.4 | 3,
# expm1 1.7 | 2, log1p 0.8 | 1, tanh 2.4 | 3, erfc 6.3 | 6 (erfc near 1 in float: the
# polynomial, exp and the division each add ~1-2 ulp). tests/test_activations.py checks
# these bounds over wide ranges and the tails. Results below 2^-1021.5 (double) or
# 2^-125.5 (float) flush to 0 instead of going subnormal; overflow gives inf; NaN gives NaN.
# Keep literal constants typed in the Cython kernels that use them: a bare `2` is the
# double 2.0 in C and silently turns a float loop into float -> double -> float.
#
# exp(x) = 2^n * e^r with n = round(x / ln 2) (the 1.5 * 2^52 trick rounds, and leaves n in
# the low mantissa bits, from which 2^(n-1) is built by shifting into the exponent field),
# |r| <= ln2 / 2 (ln 2 in two parts so that r is exact), e^r from its Taylor polynomial
# (degree 12 for double, 7 for float: truncation < 1 ulp).
# expm1(x) = 2^n (e^r - 1) + (2^n - 1): e^r - 1 = r + r^2 P(r) keeps full relative accuracy
# near 0 (where n = 0 and it is the whole answer), and 2^n - 1 is exact.
# log1p(x) = k ln2 + log(m) + c, 1 + x = 2^k m with m in [sqrt(2)/2, sqrt(2)), c the rounding
# error of 1 + x divided by 1 + x; log(m) = log(1+f) from fdlibm's s = f/(2+f) series
# (fdlibm/musl log1p, with its minimax coefficients, and its special-case branches replaced
# by selects at the end).
# tanh(x) = sign(x) t/(t + 2), t = expm1(2|x|): no cancellation at 0 (t ~ 2|x|), and |x| is
# clamped where tanh rounds to 1, before e^2x overflows.
# erfc(a), a = |x|: exp(-a^2) * Y(q) / (1 + 2a), q = (a - 3)/(a + 3), the approach of
# Shepherd & Laframboise (1981, Math. Comp. 36, p. 249): (1 + 2a) e^(a^2) erfc(a) is smooth
# and bounded on [0, inf), so one polynomial in q covers every a, no piecewise ranges.
# Coefficients: interpolation at Chebyshev nodes in 60-digit mpmath over the a where erfc
# does not underflow (degree 23 for double, 10 for float; rounding-limited). a^2 is split
# exactly (Dekker) so that exp(-a^2) keeps full relative accuracy in the tail, where the
# rounding of a^2 alone would cost 2 a^2 ulp. erfc(-a) = 2 - erfc(a).
# Checked with `objdump -d`: every loop using these is packed SSE2 (mulps/addps/divps,
# cmpltps + andps/andnps/orps selects, paddd/pslld for 2^n) and calls no libm function.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    static inline double tgr_as_double(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
    static inline uint64_t tgr_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
    static inline float tgr_as_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
    static inline uint32_t tgr_bitsf(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

    /* Range reduction shared by exp and expm1: x -> (2^(n-1), r). The clamp keeps n in
       [-1022, 1025]: n = -1022 builds a zero scale (exp -> 0), n >= 1024 overflows to inf by
       itself; no select on the result (a select after the polynomial made gcc sink it into a
       branch and give up vectorizing). */
    static inline double tgr_reduce(double x, double *half_scale) {
        double xc = x < -708.5 ? -708.5 : x;
        xc = xc > 710.0 ? 710.0 : xc;
        const double shifter = 6755399441055744.0;              /* 1.5 * 2^52 */
        double t = xc * 1.4426950408889634074 + shifter;
        double n = t - shifter;
        double r = xc - n * 0.693147180559890330187;            /* ln2, high part */
        *half_scale = tgr_as_double((tgr_bits(t) + 1022u) << 52);
        return r - n * 5.49792301870837115524e-14;              /* ln2, low part */
    }
    static inline float tgr_reducef(float x, float *half_scale) {
        float xc = x < -87.5f ? -87.5f : x;    /* n in [-126, 129], as above */
        xc = xc > 89.0f ? 89.0f : xc;
        const float shifter = 12582912.0f;                      /* 1.5 * 2^23 */
        float t = xc * 1.44269504088896341f + shifter;
        float n = t - shifter;
        float r = xc - n * 0.693359375f;
        *half_scale = tgr_as_float((tgr_bitsf(t) + 126u) << 23);
        return r - n * -2.12194440e-4f;
    }

    static inline double tgr_exp(double x) {
        double s, r = tgr_reduce(x, &s);
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
        return (p * s) * 2.0;
    }
    static inline float tgr_expf(float x) {
        float s, r = tgr_reducef(x, &s);
        float p = 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        return (p * s) * 2.0f;
    }

    /* 2^n (e^r - 1) + (2^n - 1), computed as 2 (s (e^r - 1) + (s - 1/2)), s = 2^(n-1), so
       that n = 1024 does not overflow early and n = -1022 (s = 0) gives exactly -1. */
    static inline double tgr_expm1(double x) {
        double s, r = tgr_reduce(x, &s);
        double p = 1.0 / 6227020800.0;                          /* 1/13!: truncation 1e-17 */
        p = p * r + 1.0 / 479001600.0;
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
        double em1 = r + (r * r) * p;                            /* e^r - 1 */
        double y = (s * em1 + (s - 0.5)) * 2.0;
        return x == 0.0 ? x : y;                                 /* keeps -0 */
    }
    static inline float tgr_expm1f(float x) {
        float s, r = tgr_reducef(x, &s);
        float p = 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        float em1 = r + (r * r) * p;
        float y = (s * em1 + (s - 0.5f)) * 2.0f;
        return x == 0.0f ? x : y;
    }

    static inline double tgr_log1p(double x) {
        double u = 1.0 + x;
        /* 1 + x = 2^k m, m in [sqrt(2)/2, sqrt(2)); k stays an exponent field, made a double
           by the 2^52 trick (no int64 -> double conversion, which SSE2 lacks). */
        uint64_t b = tgr_bits(u) + (0x3ff0000000000000ull - 0x3fe6a09e00000000ull);
        double dk = tgr_as_double(0x4330000000000000ull | (b >> 52)) - (4503599627370496.0 + 1023.0);
        double f = tgr_as_double((b & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull) - 1.0;
        /* c = (x - (u - 1)) / u: the rounding of 1 + x, both forms exact on their side. */
        double c = (dk >= 2.0 ? 1.0 - (u - x) : x - (u - 1.0)) / u;
        double hfsq = 0.5 * f * f;
        double s = f / (2.0 + f);
        double z = s * s, w = z * z;
        double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                                  + w * 1.531383769920937332e-01));
        double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                    + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
        double y = s * (hfsq + t1 + t2) + (dk * 1.90821492927058770002e-10 + c) - hfsq + f
                   + dk * 6.93147180369123816490e-01;
        /* The special cases as selects (no branches): inf, -0 stays -0, x < -1, x = -1. */
        y = (x == INFINITY) | (x == 0.0) ? x : y;
        y = x < -1.0 ? NAN : y;
        return x == -1.0 ? -INFINITY : y;
    }
    static inline float tgr_log1pf(float x) {
        float u = 1.0f + x;
        uint32_t b = tgr_bitsf(u) + (0x3f800000u - 0x3f3504f3u);
        float dk = tgr_as_float(0x4b000000u | (b >> 23)) - (8388608.0f + 127.0f);
        float f = tgr_as_float((b & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
        float c = (dk >= 2.0f ? 1.0f - (u - x) : x - (u - 1.0f)) / u;
        float hfsq = 0.5f * f * f;
        float s = f / (2.0f + f);
        float z = s * s, w = z * z;
        float t1 = w * (0.40000972152f + w * 0.24279078841f);
        float t2 = z * (0.66666662693f + w * 0.28498786688f);
        float y = s * (hfsq + t1 + t2) + (dk * 9.0580006145e-06f + c) - hfsq + f
                  + dk * 6.9313812256e-01f;
        y = (x == INFINITY) | (x == 0.0f) ? x : y;
        y = x < -1.0f ? NAN : y;
        return x == -1.0f ? -INFINITY : y;
    }

    /* log1p on [0, 1] only (softplus's log1p(e^-|v|)): 2 atanh(s), s = e/(2 + e) in [0, 1/3],
       as 2s + s z P(z), z = s^2 <= 1/9, P fitted like erfc's (error 7e-18 double, 4e-10
       float). One division and a short polynomial: the general log1p has two divisions and
       its corrections, and chained after exp in one loop body it ran at half the speed of
       the two as separate loops (the loop body outgrew what the CPU overlaps). */
    static inline double tgr_log1p_unit(double e) {
        double s = e / (2.0 + e);
        double z = s * s;
        double p = 0.1616404561194353;
        p = p * z + 0.08800738486144674;
        p = p * z + 0.12001072809590713;
        p = p * z + 0.13314144209654935;
        p = p * z + 0.15385570064958623;
        p = p * z + 0.18181789436132859;
        p = p * z + 0.22222222717427864;
        p = p * z + 0.2857142856710876;
        p = p * z + 0.40000000000014585;
        p = p * z + 0.6666666666666666;
        return 2.0 * s + s * z * p;
    }
    static inline float tgr_log1pf_unit(float e) {
        float s = e / (2.0f + e);
        float z = s * s;
        float p = 0.2322433f;
        p = p * z + 0.21706575f;
        p = p * z + 0.28592357f;
        p = p * z + 0.39999706f;
        p = p * z + 0.6666667f;
        return 2.0f * s + s * z * p;
    }

    static inline double tgr_tanh(double x) {
        double a = fabs(x);
        a = a > 20.0 ? 20.0 : a;               /* tanh(20) rounds to 1; keeps NaN */
        double t = tgr_expm1(2.0 * a);
        return copysign(t / (t + 2.0), x);
    }
    static inline float tgr_tanhf(float x) {
        float a = fabsf(x);
        a = a > 10.0f ? 10.0f : a;
        float t = tgr_expm1f(2.0f * a);
        return copysignf(t / (t + 2.0f), x);
    }

    /* e^(a^2) erfc(a) for a in [0, 27.3] */
    static inline double tgr_erfcx(double a) {
        double q = (a - 3.0) / (a + 3.0);
        double p = -1.1059914909949017e-09;
        p = p * q + -6.576241297745435e-09;
        p = p * q + -5.724240772062415e-09;
        p = p * q + 4.1467315986337304e-08;
        p = p * q + 8.990555264290598e-08;
        p = p * q + -1.4453153206074837e-07;
        p = p * q + -6.059505714776503e-07;
        p = p * q + 3.6096691981824746e-07;
        p = p * q + 3.4664301311254177e-06;
        p = p * q + -7.342837183111594e-07;
        p = p * q + -2.0098395398641407e-05;
        p = p * q + 4.950579895102834e-06;
        p = p * q + 0.00012509883812561988;
        p = p * q + -0.00010516006532306349;
        p = p * q + -0.0007798321944132774;
        p = p * q + 0.001888690398120089;
        p = p * q + 0.0025293918089402587;
        p = p * q + -0.023770514921896548;
        p = p * q + 0.0683080273443395;
        p = p * q + -0.11927366341517182;
        p = p * q + 0.1296451587027522;
        p = p * q + -0.04756229435345298;
        p = p * q + -0.13562110612458111;
        p = p * q + 1.2530080582697296;
        return p / (1.0 + 2.0 * a);
    }
    /* e^(-a^2), a >= 0, with a^2 = sq + sq_err split exactly: e^-sq_err = 1 - sq_err. */
    static inline double tgr_gauss(double a) {
        double sq = a * a;
        double ah = tgr_as_double(tgr_bits(a) & 0xfffffffff8000000ull);  /* 26 bits */
        double al = a - ah;
        double sq_err = ((ah * ah - sq) + 2.0 * ah * al) + al * al;
        return tgr_exp(-sq) * (1.0 - sq_err);
    }
    static inline double tgr_erfc(double x) {
        double a = fabs(x);
        a = a > 27.3 ? 27.3 : a;               /* erfc(27.3) underflows to 0; keeps NaN */
        double r = tgr_gauss(a) * tgr_erfcx(a);
        return x < 0.0 ? 2.0 - r : r;
    }
    /* d/dv v Phi(v) = Phi(v) + v phi(v): Phi from erfc(-v/sqrt 2), phi = e^(-v^2/2)/sqrt(2 pi)
       reusing erfc's own e^(-a^2), a = |v|/sqrt 2 (one exp instead of two). */
    static inline double tgr_gelu_grad(double v) {
        double z = v * -0.70710678118654752440;
        double a = fabs(z);
        a = a > 27.3 ? 27.3 : a;
        double gauss = tgr_gauss(a);
        double r = gauss * tgr_erfcx(a);
        double cdf = 0.5 * (z < 0.0 ? 2.0 - r : r);
        return cdf + v * (0.39894228040143267794 * gauss);
    }
    static inline float tgr_erfcxf(float a) {
        float q = (a - 3.0f) / (a + 3.0f);
        float p = -0.0002773269f;
        p = p * q + -0.00079833914f;
        p = p * q + 0.0019944746f;
        p = p * q + 0.0025794348f;
        p = p * q + -0.023790235f;
        p = p * q + 0.06829351f;
        p = p * q + -0.11927265f;
        p = p * q + 0.12964657f;
        p = p * q + -0.04756228f;
        p = p * q + -0.13562115f;
        p = p * q + 1.253008f;
        return p / (1.0f + 2.0f * a);
    }
    static inline float tgr_gaussf(float a) {
        float sq = a * a;
        float ah = tgr_as_float(tgr_bitsf(a) & 0xfffff000u);            /* 12 bits */
        float al = a - ah;
        float sq_err = ((ah * ah - sq) + 2.0f * ah * al) + al * al;
        return tgr_expf(-sq) * (1.0f - sq_err);
    }
    static inline float tgr_erfcf(float x) {
        float a = fabsf(x);
        a = a > 10.1f ? 10.1f : a;             /* erfcf(10.1) underflows to 0 */
        float r = tgr_gaussf(a) * tgr_erfcxf(a);
        return x < 0.0f ? 2.0f - r : r;
    }
    static inline float tgr_gelu_gradf(float v) {
        float z = v * -0.70710678118654752440f;
        float a = fabsf(z);
        a = a > 10.1f ? 10.1f : a;
        float gauss = tgr_gaussf(a);
        float r = gauss * tgr_erfcxf(a);
        float cdf = 0.5f * (z < 0.0f ? 2.0f - r : r);
        return cdf + v * (0.39894228040143267794f * gauss);
    }
    """
    double tgr_exp(double) noexcept nogil
    float tgr_expf(float) noexcept nogil
    double tgr_expm1(double) noexcept nogil
    float tgr_expm1f(float) noexcept nogil
    double tgr_log1p(double) noexcept nogil
    float tgr_log1pf(float) noexcept nogil
    double tgr_log1p_unit(double) noexcept nogil
    float tgr_log1pf_unit(float) noexcept nogil
    double tgr_tanh(double) noexcept nogil
    float tgr_tanhf(float) noexcept nogil
    double tgr_erfc(double) noexcept nogil
    float tgr_erfcf(float) noexcept nogil
    double tgr_gelu_grad(double) noexcept nogil
    float tgr_gelu_gradf(float) noexcept nogil


# ---- scalar helpers: pick the float or double function at compile time ---------------------
cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return tgr_expf(v)
    else:
        return tgr_exp(v)


cdef inline floating _expm1(floating v) noexcept nogil:
    if floating is float:
        return tgr_expm1f(v)
    else:
        return tgr_expm1(v)


cdef inline floating _log1p(floating v) noexcept nogil:
    if floating is float:
        return tgr_log1pf(v)
    else:
        return tgr_log1p(v)


cdef inline floating _log(floating v) noexcept nogil:
    # Only once per softmax row: libm is fine here.
    if floating is float:
        return logf(v)
    else:
        return log(v)


cdef inline floating _tanh(floating v) noexcept nogil:
    if floating is float:
        return tgr_tanhf(v)
    else:
        return tgr_tanh(v)


cdef inline floating _erfc(floating v) noexcept nogil:
    if floating is float:
        return tgr_erfcf(v)
    else:
        return tgr_erfc(v)


cdef inline floating _fabs(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


# The primitives on whole arrays: for testing their accuracy, and for reading their loops
# in `objdump -d` (each is one vectorized loop).
cdef void _map_kernel(const floating[::1] x, floating[::1] y, int which) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    if which == 0:
        for i in range(n):
            y[i] = _exp(x[i])
    elif which == 1:
        for i in range(n):
            y[i] = _expm1(x[i])
    elif which == 2:
        for i in range(n):
            y[i] = _log1p(x[i])
    elif which == 3:
        for i in range(n):
            y[i] = _tanh(x[i])
    else:
        for i in range(n):
            y[i] = _erfc(x[i])


PRIMITIVES = ("exp", "expm1", "log1p", "tanh", "erfc")


def fast_math(name, x):
    """The kernels' exp, expm1, log1p, tanh or erfc (``name``) of a float32/float64 array."""
    if name not in PRIMITIVES:
        raise ValueError(f"fast_math: unknown function {name!r}; choose from {PRIMITIVES}")
    x = np.ascontiguousarray(x)
    if x.dtype != np.float32:
        x = x.astype(np.float64, copy=False)
    y = np.empty_like(x)
    if x.dtype == np.float32:
        _map_kernel[float](x.reshape(-1), y.reshape(-1), PRIMITIVES.index(name))
    else:
        _map_kernel[double](x.reshape(-1), y.reshape(-1), PRIMITIVES.index(name))
    return y


cdef inline floating _sigmoid(floating v) noexcept nogil:
    # exp(-v) overflows to inf for v < -88 (float) and 1/(1+inf) is the correct 0.
    cdef floating one = 1
    return one / (one + _exp(-v))


cdef inline floating _softplus(floating v) noexcept nogil:
    # log(1+e^v) = max(v,0) + log1p(e^-|v|): never overflows, exact for large |v|.
    cdef floating zero = 0
    cdef floating pos = v if v > zero else zero
    if floating is float:
        return pos + tgr_log1pf_unit(_exp(-_fabs(v)))
    else:
        return pos + tgr_log1p_unit(_exp(-_fabs(v)))


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


cdef void hard_sigmoid_backward_kernel(const floating[::1] g, const floating[::1] x,
                                       floating[::1] gx) noexcept nogil:
    """dy/dx = 1/6 where -3 < x < 3, else 0. Reads x, not y: just below 3, x + 3 rounds to 6
    and y to exactly 1, although the slope there is still 1/6."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv, xv, zero = 0, three = 3, six = 6
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_CHEAP, schedule="static"):
        gv = g[i] / six
        xv = x[i]
        gx[i] = gv if (xv > -three) & (xv < three) else zero


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
    """dy/dx = Phi(x) + x * phi(x) (tgr_gelu_grad: phi shares erfc's exp)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating gv
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        gv = g[i]
        if floating is float:
            gx[i] = gv * tgr_gelu_gradf(x[i])
        else:
            gx[i] = gv * tgr_gelu_grad(x[i])


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
    # Typed constants only: a bare 2 here became the double 2.0 in C and turned the float
    # kernel into float -> double -> float conversions (2.5x slower).
    cdef floating v, s, one = 1, three = 3, k = SQRT_2_OVER_PI, c = GELU_CUBIC
    cdef floating two_k = 2 * SQRT_2_OVER_PI
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        s = _sigmoid(two_k * (v + c * v * v * v))
        gx[i] = g[i] * (s + two_k * v * s * (one - s) * (one + three * c * v * v))


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


cdef inline floating _mish_tanh(floating n) noexcept nogil:
    # tanh(softplus(v)) from n = e^v, with no log or tanh: e^softplus = 1 + n, so
    # tanh(log(1 + n)) = ((1+n)^2 - 1)/((1+n)^2 + 1) = w/(w + 2), w = n (n + 2).
    # No cancellation for v << 0 (w ~ 2n).
    cdef floating two = 2  # typed: a bare 2 is the double 2.0 in C (float -> double -> float)
    cdef floating w = n * (n + two)
    return w / (w + two)


cdef inline floating _exp_upto_40(floating v) noexcept nogil:
    # e^min(v, 40): at 40, tanh(softplus) and sigmoid are 1 in double, and w = e^80 still
    # fits a float. The compare is false for NaN, which passes through.
    cdef floating top = 40
    return _exp(top if v > top else v)


cdef void mish_kernel(const floating[::1] x, floating[::1] y) noexcept nogil:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        y[i] = v * _mish_tanh(_exp_upto_40(v))


cdef void mish_backward_kernel(const floating[::1] g, const floating[::1] x,
                               floating[::1] gx) noexcept nogil:
    """dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x)); one exp: sigmoid = e/(1+e)."""
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating v, e, t, one = 1
    for i in prange(n, use_threads_if=n >= PARALLEL_MIN_COSTLY, schedule="static"):
        v = x[i]
        e = _exp_upto_40(v)
        t = _mish_tanh(e)
        gx[i] = g[i] * (t + v * (one - t * t) * (e / (one + e)))


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


def hard_sigmoid_backward(g, x):
    gx = np.empty_like(g)
    if _single(g):
        hard_sigmoid_backward_kernel[float](_flat(g), _flat(x), _flat(gx))
    else:
        hard_sigmoid_backward_kernel[double](_flat(g), _flat(x), _flat(gx))
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
