/* fastmath.h: vectorizable exp, expm1, log1p, tanh and erfc for the activation kernels
 * (cysrc/activations.pyx), float and double.
 *
 * libm's functions are opaque calls, so a loop calling them stays scalar (and numpy's or
 * PyTorch's SIMD versions win by 4-20x). These are plain arithmetic (polynomials, a division,
 * integer bit tricks, compare-selects), inlined, so the vectorizer packs them. Each has a
 * float and a double version: float needs far shorter polynomials for its 24 bits.
 * Measured worst error against numpy / glibc's erfc, float32 | float64 ulp: exp 1.6 | 3,
 * expm1 1.7 | 2, log1p 0.8 | 1, tanh 2.4 | 3, erfc 6.3 | 6 (erfc near 1 in float: the
 * polynomial, exp and the division each add ~1-2 ulp); the FMA builds (TGR_MADD below) alike,
 * float exp 1.8 and erfc 6.2 (every float32 input scanned). tests/test_activations.py checks
 * these bounds over wide ranges and the tails, on every build. Results below 2^-1021.5 (double) or
 * 2^-125.5 (float) flush to 0 instead of going subnormal; overflow gives inf; NaN gives NaN.
 *
 * exp(x) = 2^n * e^r with n = round(x / ln 2) (the 1.5 * 2^52 trick rounds, and leaves n in
 * the low mantissa bits, from which 2^(n-1) is built by shifting into the exponent field),
 * |r| <= ln2 / 2 (ln 2 in two parts so that r is exact), e^r from a polynomial: Taylor's of
 * degree 12 for double, a minimax one of degree 6 for float (truncation < 1 ulp; the Taylor
 * polynomial of degree 7 it replaced cost one multiplication and one addition more, 8% of an
 * exp loop).
 * expm1(x) = 2^n (e^r - 1) + (2^n - 1): e^r - 1 = r + r^2 P(r) keeps full relative accuracy
 * near 0 (where n = 0 and it is the whole answer), and 2^n - 1 is exact.
 * log1p(x) = k ln2 + log(m) + c, 1 + x = 2^k m with m in [sqrt(2)/2, sqrt(2)), c the rounding
 * error of 1 + x divided by 1 + x; log(m) = log(1+f) from fdlibm's s = f/(2+f) series
 * (fdlibm/musl log1p, with its minimax coefficients, and its special-case branches replaced
 * by selects at the end).
 * tanh(x) = sign(x) t/(t + 2), t = expm1(2|x|): no cancellation at 0 (t ~ 2|x|), and |x| is
 * clamped where tanh rounds to 1, before e^2x overflows.
 * erfc(a), a = |x|: exp(-a^2) * Y(q) / (1 + 2a), q = (a - 3)/(a + 3), the approach of
 * Shepherd & Laframboise (1981, Math. Comp. 36, p. 249): (1 + 2a) e^(a^2) erfc(a) is smooth
 * and bounded on [0, inf), so one polynomial in q covers every a, no piecewise ranges.
 * Coefficients: interpolation at Chebyshev nodes in 60-digit mpmath over the a where erfc
 * does not underflow (degree 23 for double, 10 for float; rounding-limited). a^2 is split
 * exactly (Dekker) so that exp(-a^2) keeps full relative accuracy in the tail, where the
 * rounding of a^2 alone would cost 2 a^2 ulp. erfc(-a) = 2 - erfc(a).
 * Checked with `objdump -d`: every loop using these is packed SSE2 (mulps/addps/divps,
 * cmpltps + andps/andnps/orps selects, paddd/pslld for 2^n) and calls no libm function.
 *
 * Everything is static inline: each including module gets its own copy, and gcc inlines the
 * functions into the loops (a call would stop the loop from vectorizing).
 */

#ifndef TGR_FASTMATH_H
#define TGR_FASTMATH_H

/* Without this, gcc keeps the selects in these functions (and in the loops that use them)
 * as branches, and the loops scalar: see the header. */
#include "no_trapping_math.h"

#include <stdint.h>
#include <string.h>
#include <math.h>

/* p * r + c in the polynomials: one fused multiply-add (one rounding) in the builds that have
 * FMA (setup.py compiles the avx2 and avx512 variants with -mfma), a multiplication and an
 * addition in the baseline SSE2 build. Only here: -ffp-contract=off still keeps gcc from fusing
 * anything else, so the exact steps (exp's Cody-Waite reduction, the a^2 splits) stay exact, and
 * the two FMA builds give the same bits. The polynomials are about half of each function's
 * operations: gelu's forward and backward ran 20% faster with them fused. */
#if defined(__FMA__)
#define TGR_MADDF(a, b, c) __builtin_fmaf((a), (b), (c))
#define TGR_MADD(a, b, c) __builtin_fma((a), (b), (c))
#else
#define TGR_MADDF(a, b, c) ((a) * (b) + (c))
#define TGR_MADD(a, b, c) ((a) * (b) + (c))
#endif

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

/* Horner's steps of e^r's Taylor series from the coefficient 1/11! down to 1/2!, continuing
   from p (the higher terms already summed): exp and expm1 share them. */
static inline double tgr_taylor_to_half(double p, double r) {
    p = TGR_MADD(p, r, 1.0 / 39916800.0);
    p = TGR_MADD(p, r, 1.0 / 3628800.0);
    p = TGR_MADD(p, r, 1.0 / 362880.0);
    p = TGR_MADD(p, r, 1.0 / 40320.0);
    p = TGR_MADD(p, r, 1.0 / 5040.0);
    p = TGR_MADD(p, r, 1.0 / 720.0);
    p = TGR_MADD(p, r, 1.0 / 120.0);
    p = TGR_MADD(p, r, 1.0 / 24.0);
    p = TGR_MADD(p, r, 1.0 / 6.0);
    return TGR_MADD(p, r, 0.5);
}

static inline double tgr_exp(double x) {
    double s, r = tgr_reduce(x, &s);
    double p = tgr_taylor_to_half(1.0 / 479001600.0, r);      /* from 1/12! */
    p = TGR_MADD(p, r, 1.0);
    p = TGR_MADD(p, r, 1.0);
    return (p * s) * 2.0;
}
/* e^r, |r| <= ln2/2 (plus rounding): degree 6, minimax for the relative error
   (2e-9, fitted by Lawson's iteration in float64; the Taylor polynomial needs degree 7). */
static inline float tgr_exp_polyf(float r) {
    float p = 0.0013846145f;
    p = TGR_MADDF(p, r, 0.008374119f);
    p = TGR_MADDF(p, r, 0.04166796f);
    p = TGR_MADDF(p, r, 0.16666432f);
    p = TGR_MADDF(p, r, 0.49999994f);
    p = TGR_MADDF(p, r, 1.0f);
    return TGR_MADDF(p, r, 1.0f);
}
static inline float tgr_expf(float x) {
    float s, r = tgr_reducef(x, &s);
    return (tgr_exp_polyf(r) * s) * 2.0f;
}

/* 2^n (e^r - 1) + (2^n - 1), computed as 2 (s (e^r - 1) + (s - 1/2)), s = 2^(n-1), so
   that n = 1024 does not overflow early and n = -1022 (s = 0) gives exactly -1. */
static inline double tgr_expm1(double x) {
    double s, r = tgr_reduce(x, &s);
    double p = TGR_MADD(1.0 / 6227020800.0, r, 1.0 / 479001600.0);  /* 1/13!: truncation 1e-17 */
    p = tgr_taylor_to_half(p, r);
    double em1 = r + (r * r) * p;                            /* e^r - 1 */
    double y = (s * em1 + (s - 0.5)) * 2.0;
    return x == 0.0 ? x : y;                                 /* keeps -0 */
}
static inline float tgr_expm1f(float x) {
    float s, r = tgr_reducef(x, &s);
    float p = 1.0f / 5040.0f;
    p = TGR_MADDF(p, r, 1.0f / 720.0f);
    p = TGR_MADDF(p, r, 1.0f / 120.0f);
    p = TGR_MADDF(p, r, 1.0f / 24.0f);
    p = TGR_MADDF(p, r, 1.0f / 6.0f);
    p = TGR_MADDF(p, r, 0.5f);
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
    p = TGR_MADD(p, z, 0.08800738486144674);
    p = TGR_MADD(p, z, 0.12001072809590713);
    p = TGR_MADD(p, z, 0.13314144209654935);
    p = TGR_MADD(p, z, 0.15385570064958623);
    p = TGR_MADD(p, z, 0.18181789436132859);
    p = TGR_MADD(p, z, 0.22222222717427864);
    p = TGR_MADD(p, z, 0.2857142856710876);
    p = TGR_MADD(p, z, 0.40000000000014585);
    p = TGR_MADD(p, z, 0.6666666666666666);
    return 2.0 * s + s * z * p;
}
static inline float tgr_log1pf_unit(float e) {
    float s = e / (2.0f + e);
    float z = s * s;
    float p = 0.2322433f;
    p = TGR_MADDF(p, z, 0.21706575f);
    p = TGR_MADDF(p, z, 0.28592357f);
    p = TGR_MADDF(p, z, 0.39999706f);
    p = TGR_MADDF(p, z, 0.6666667f);
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
    p = TGR_MADD(p, q, -6.576241297745435e-09);
    p = TGR_MADD(p, q, -5.724240772062415e-09);
    p = TGR_MADD(p, q, 4.1467315986337304e-08);
    p = TGR_MADD(p, q, 8.990555264290598e-08);
    p = TGR_MADD(p, q, -1.4453153206074837e-07);
    p = TGR_MADD(p, q, -6.059505714776503e-07);
    p = TGR_MADD(p, q, 3.6096691981824746e-07);
    p = TGR_MADD(p, q, 3.4664301311254177e-06);
    p = TGR_MADD(p, q, -7.342837183111594e-07);
    p = TGR_MADD(p, q, -2.0098395398641407e-05);
    p = TGR_MADD(p, q, 4.950579895102834e-06);
    p = TGR_MADD(p, q, 0.00012509883812561988);
    p = TGR_MADD(p, q, -0.00010516006532306349);
    p = TGR_MADD(p, q, -0.0007798321944132774);
    p = TGR_MADD(p, q, 0.001888690398120089);
    p = TGR_MADD(p, q, 0.0025293918089402587);
    p = TGR_MADD(p, q, -0.023770514921896548);
    p = TGR_MADD(p, q, 0.0683080273443395);
    p = TGR_MADD(p, q, -0.11927366341517182);
    p = TGR_MADD(p, q, 0.1296451587027522);
    p = TGR_MADD(p, q, -0.04756229435345298);
    p = TGR_MADD(p, q, -0.13562110612458111);
    p = TGR_MADD(p, q, 1.2530080582697296);
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
    p = TGR_MADDF(p, q, -0.00079833914f);
    p = TGR_MADDF(p, q, 0.0019944746f);
    p = TGR_MADDF(p, q, 0.0025794348f);
    p = TGR_MADDF(p, q, -0.023790235f);
    p = TGR_MADDF(p, q, 0.06829351f);
    p = TGR_MADDF(p, q, -0.11927265f);
    p = TGR_MADDF(p, q, 0.12964657f);
    p = TGR_MADDF(p, q, -0.04756228f);
    p = TGR_MADDF(p, q, -0.13562115f);
    p = TGR_MADDF(p, q, 1.253008f);
    return p / (1.0f + 2.0f * a);
}
/* e^(-a^2), 0 <= a, from a^2 = hi + lo: hi = ah^2 (ah: a's top 12 bits) is exact, and
   lo = a^2 - ah^2 = al (ah + a) <= 0.1 is rounded only relative to itself (an absolute error
   of ~1e-8 in the exponent, where a rounded a^2 would cost up to 2^-24 a^2 = 5e-6). exp's
   reduction of -(hi + lo) subtracts hi, exactly, before lo. Fewer operations than rounding a^2
   and correcting by its Dekker error (5 multiplications). a > 9.35 flushes to 0, as tgr_expf
   does below 2^-125.5. */
static inline float tgr_gaussf(float a) {
    a = a > 9.35f ? 9.35f : a;                                       /* a^2 <= 87.42; keeps NaN */
    float ah = tgr_as_float(tgr_bitsf(a) & 0xfffff000u);
    float al = a - ah;
    float hi = ah * ah;
    float lo = al * (ah + a);
    const float shifter = 12582912.0f;                                /* 1.5 * 2^23 */
    float t = (hi + lo) * -1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = ((n * -0.693359375f - hi) - n * -2.12194440e-4f) - lo;
    float half_scale = tgr_as_float((tgr_bitsf(t) + 126u) << 23);  /* 2^(n-1), 0 at n = -126 */
    return (tgr_exp_polyf(r) * half_scale) * 2.0f;
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

#endif  /* TGR_FASTMATH_H */
