/* winograd_math.h: the 1-D Winograd transforms of cysrc/winograd_tiles.pxd on LANES-vectors of
 * channels, float and double, m = 2 and 4.
 *
 * Each function reads a values (m for A) LANES channels wide from s, s + ss, s + 2 ss, ... and
 * writes its outputs to o, o + ds, ... The values are GCC vectors of the build's native width
 * (TGR_W_NATIVE: one zmm of 16 floats under AVX-512, a ymm of 8 under AVX2, an xmm of 4 under
 * SSE2), the LANES channels taken one native vector at a time, each vector's inputs loaded before
 * its outputs are stored. A 16-float vector type under AVX2 or SSE2 (the form before) made gcc go
 * through the stack (xmm stores reloaded as ymm) and turned the ReLU mask's comparison into a
 * branch per lane; the AVX2 build's transforms ran 1.2-1.9x slower than AVX-512's. Written as
 * loops over the lanes (the form before this header), gcc kept most of them scalar: it could
 * not rule out that o overlaps s, and the transforms ran at a tenth of their arithmetic's speed.
 * Every lane gets the same IEEE operations in the same order as that loop, so the results, and
 * those of every build (SSE2, AVX2, AVX-512: -ffp-contract=off), are bit for bit the same.
 *
 * B^T, B (its adjoint), A^T and A (its adjoint) as in Lavin & Gray (2016), interpolation points
 * 0, -1, 1 (m = 4: -2, 2), infinity; the zeros of each matrix left out.
 */
#ifndef TGR_WINOGRAD_MATH_H
#define TGR_WINOGRAD_MATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TGR_W_LANES 16

#if defined(__AVX512F__)
#define TGR_W_NATIVE 64
#elif defined(__AVX__)
#define TGR_W_NATIVE 32
#else
#define TGR_W_NATIVE 16
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"  /* static inline: no vector crosses a module boundary */
#define TGR_W_VEC(T, SUFFIX)                                                                       \
typedef T tgr_wv_##SUFFIX __attribute__((vector_size(TGR_W_NATIVE)));                             \
static inline tgr_wv_##SUFFIX tgr_wld_##SUFFIX(const T *p) {                                       \
    tgr_wv_##SUFFIX v; memcpy(&v, p, sizeof v); return v;                                          \
}                                                                                                  \
static inline void tgr_wst_##SUFFIX(T *p, tgr_wv_##SUFFIX v) { memcpy(p, &v, sizeof v); }          \
static inline tgr_wv_##SUFFIX tgr_wk_##SUFFIX(T c) {                                               \
    tgr_wv_##SUFFIX v; int l; for (l = 0; l < (int)(TGR_W_NATIVE / sizeof(T)); l++) v[l] = c; return v; \
}
/* tgr_NAME_S: tgr_NAME1_S (one native vector) over the LANES channels, one vector at a time */
#define TGR_W_PARTS(T, S, NAME)                                                                    \
static inline void tgr_##NAME##_##S(const T *s, ptrdiff_t ss, T *o, ptrdiff_t ds, int m) {         \
    int q;                                                                                         \
    for (q = 0; q < TGR_W_LANES; q += (int)(TGR_W_NATIVE / sizeof(T)))                             \
        tgr_##NAME##1_##S(s + q, ss, o + q, ds, m);                                                \
}
#define TGR_W_V(SUFFIX) tgr_wv_##SUFFIX
#else
#error "winograd_math.h needs GCC vector extensions (gcc or clang)"
#endif

#define TGR_W_DEFINE(T, S)                                                                         \
TGR_W_VEC(T, S)                                                                                    \
/* o = B^T s (a values in, a out) */                                                               \
static inline void tgr_bt1_##S(const T *s, ptrdiff_t ss, T *o, ptrdiff_t ds, int m) {               \
    TGR_W_V(S) two = tgr_wk_##S(2), four = tgr_wk_##S(4), five = tgr_wk_##S(5);                    \
    if (m == 2) {                                                                                  \
        TGR_W_V(S) d0 = tgr_wld_##S(s), d1 = tgr_wld_##S(s + ss), d2 = tgr_wld_##S(s + 2 * ss),    \
                   d3 = tgr_wld_##S(s + 3 * ss);                                                   \
        tgr_wst_##S(o, d0 - d2);                                                                   \
        tgr_wst_##S(o + ds, d1 + d2);                                                              \
        tgr_wst_##S(o + 2 * ds, d2 - d1);                                                          \
        tgr_wst_##S(o + 3 * ds, d1 - d3);                                                          \
    } else {                                                                                       \
        TGR_W_V(S) d0 = tgr_wld_##S(s), d1 = tgr_wld_##S(s + ss), d2 = tgr_wld_##S(s + 2 * ss),    \
                   d3 = tgr_wld_##S(s + 3 * ss), d4 = tgr_wld_##S(s + 4 * ss),                     \
                   d5 = tgr_wld_##S(s + 5 * ss);                                                   \
        tgr_wst_##S(o, four * d0 - five * d2 + d4);                                                \
        tgr_wst_##S(o + ds, (d3 + d4) - four * (d1 + d2));                                         \
        tgr_wst_##S(o + 2 * ds, (d4 - d3) + four * (d1 - d2));                                     \
        tgr_wst_##S(o + 3 * ds, (d4 - d2) + two * (d3 - d1));                                      \
        tgr_wst_##S(o + 4 * ds, (d4 - d2) - two * (d3 - d1));                                      \
        tgr_wst_##S(o + 5 * ds, four * d1 - five * d3 + d5);                                       \
    }                                                                                              \
}                                                                                                  \
/* o = B s: the adjoint of tgr_bt */                                                               \
static inline void tgr_b1_##S(const T *s, ptrdiff_t ss, T *o, ptrdiff_t ds, int m) {                \
    TGR_W_V(S) two = tgr_wk_##S(2), four = tgr_wk_##S(4), five = tgr_wk_##S(5);                    \
    if (m == 2) {                                                                                  \
        TGR_W_V(S) v0 = tgr_wld_##S(s), v1 = tgr_wld_##S(s + ss), v2 = tgr_wld_##S(s + 2 * ss),    \
                   v3 = tgr_wld_##S(s + 3 * ss);                                                   \
        tgr_wst_##S(o, v0);                                                                        \
        tgr_wst_##S(o + ds, (v1 - v2) + v3);                                                       \
        tgr_wst_##S(o + 2 * ds, (v1 + v2) - v0);                                                   \
        tgr_wst_##S(o + 3 * ds, -v3);                                                              \
    } else {                                                                                       \
        TGR_W_V(S) v0 = tgr_wld_##S(s), v1 = tgr_wld_##S(s + ss), v2 = tgr_wld_##S(s + 2 * ss),    \
                   v3 = tgr_wld_##S(s + 3 * ss), v4 = tgr_wld_##S(s + 4 * ss),                     \
                   v5 = tgr_wld_##S(s + 5 * ss);                                                   \
        tgr_wst_##S(o, four * v0);                                                                 \
        tgr_wst_##S(o + ds, four * (v2 - v1) + two * (v4 - v3) + four * v5);                       \
        tgr_wst_##S(o + 2 * ds, -five * v0 - four * (v1 + v2) - (v3 + v4));                        \
        tgr_wst_##S(o + 3 * ds, (v1 - v2) + two * (v3 - v4) - five * v5);                          \
        tgr_wst_##S(o + 4 * ds, (v0 + v1 + v2) + (v3 + v4));                                       \
        tgr_wst_##S(o + 5 * ds, v5);                                                               \
    }                                                                                              \
}                                                                                                  \
/* o = A^T s (a values in, m out) */                                                               \
static inline void tgr_at1_##S(const T *s, ptrdiff_t ss, T *o, ptrdiff_t ds, int m) {               \
    TGR_W_V(S) two = tgr_wk_##S(2), four = tgr_wk_##S(4), eight = tgr_wk_##S(8);                   \
    if (m == 2) {                                                                                  \
        TGR_W_V(S) m0 = tgr_wld_##S(s), m1 = tgr_wld_##S(s + ss), m2 = tgr_wld_##S(s + 2 * ss),    \
                   m3 = tgr_wld_##S(s + 3 * ss);                                                   \
        tgr_wst_##S(o, m0 + m1 + m2);                                                              \
        tgr_wst_##S(o + ds, m1 - m2 - m3);                                                         \
    } else {                                                                                       \
        TGR_W_V(S) m0 = tgr_wld_##S(s), m1 = tgr_wld_##S(s + ss), m2 = tgr_wld_##S(s + 2 * ss),    \
                   m3 = tgr_wld_##S(s + 3 * ss), m4 = tgr_wld_##S(s + 4 * ss),                     \
                   m5 = tgr_wld_##S(s + 5 * ss);                                                   \
        tgr_wst_##S(o, m0 + (m1 + m2) + (m3 + m4));                                                \
        tgr_wst_##S(o + ds, (m1 - m2) + two * (m3 - m4));                                          \
        tgr_wst_##S(o + 2 * ds, (m1 + m2) + four * (m3 + m4));                                     \
        tgr_wst_##S(o + 3 * ds, (m1 - m2) + eight * (m3 - m4) + m5);                               \
    }                                                                                              \
}                                                                                                  \
/* o = A s (m values in, a out): the adjoint of tgr_at */                                          \
static inline void tgr_a1_##S(const T *s, ptrdiff_t ss, T *o, ptrdiff_t ds, int m) {                \
    TGR_W_V(S) two = tgr_wk_##S(2), four = tgr_wk_##S(4), eight = tgr_wk_##S(8);                   \
    if (m == 2) {                                                                                  \
        TGR_W_V(S) y0 = tgr_wld_##S(s), y1 = tgr_wld_##S(s + ss);                                  \
        tgr_wst_##S(o, y0);                                                                        \
        tgr_wst_##S(o + ds, y0 + y1);                                                              \
        tgr_wst_##S(o + 2 * ds, y0 - y1);                                                          \
        tgr_wst_##S(o + 3 * ds, -y1);                                                              \
    } else {                                                                                       \
        TGR_W_V(S) y0 = tgr_wld_##S(s), y1 = tgr_wld_##S(s + ss), y2 = tgr_wld_##S(s + 2 * ss),    \
                   y3 = tgr_wld_##S(s + 3 * ss), even, odd;                                        \
        tgr_wst_##S(o, y0);                                                                        \
        even = y0 + y2; odd = y1 + y3;                                                             \
        tgr_wst_##S(o + ds, even + odd);                                                           \
        tgr_wst_##S(o + 2 * ds, even - odd);                                                       \
        even = y0 + four * y2; odd = two * y1 + eight * y3;                                        \
        tgr_wst_##S(o + 3 * ds, even + odd);                                                       \
        tgr_wst_##S(o + 4 * ds, even - odd);                                                       \
        tgr_wst_##S(o + 5 * ds, y3);                                                               \
    }                                                                                              \
}                                                                                                  \
TGR_W_PARTS(T, S, bt) TGR_W_PARTS(T, S, b) TGR_W_PARTS(T, S, at) TGR_W_PARTS(T, S, a)

/* LANES values between a local block d and a row of an image or transformed array: w of them
 * (the last block of a channel count that LANES does not divide); lanes beyond w read as 0. */
#define TGR_W_MOVES(T, S)                                                                          \
static inline void tgr_wload_##S(T *d, const T *src, ptrdiff_t w) {                                \
    ptrdiff_t l;                                                                                   \
    if (w == TGR_W_LANES) { memcpy(d, src, TGR_W_LANES * sizeof(T)); return; }                     \
    for (l = 0; l < w; l++) d[l] = src[l];                                                         \
    for (; l < TGR_W_LANES; l++) d[l] = 0;                                                         \
}                                                                                                  \
static inline void tgr_wzero_##S(T *d) {                                                           \
    memset(d, 0, TGR_W_LANES * sizeof(T));                                                         \
}                                                                                                  \
static inline void tgr_wstore_##S(T *dst, const T *d, ptrdiff_t w) {                               \
    ptrdiff_t l;                                                                                   \
    if (w == TGR_W_LANES) { memcpy(dst, d, TGR_W_LANES * sizeof(T)); return; }                     \
    for (l = 0; l < w; l++) dst[l] = d[l];                                                         \
}                                                                                                  \
static inline void tgr_wadd_##S(T *dst, const T *d, ptrdiff_t w) {                                 \
    ptrdiff_t l;                                                                                   \
    if (w == TGR_W_LANES) {                                                                        \
        for (l = 0; l < TGR_W_LANES; l += (ptrdiff_t)(TGR_W_NATIVE / sizeof(T)))                   \
            tgr_wst_##S(dst + l, tgr_wld_##S(dst + l) + tgr_wld_##S(d + l));                       \
        return;                                                                                    \
    }                                                                                              \
    for (l = 0; l < w; l++) dst[l] = dst[l] + d[l];                                                \
}

/* d = src where y > 0, else +0: a ReLU's gradient from its output y, the same select as
 * conv.pyx's relu_backward_into (y <= 0 gives 0; a NaN y lets src through). The comparison's
 * lanes are all ones or all zeros, so the AND keeps src's bits or makes +0. (With 16-lane
 * vectors, gcc had made this a compare-and-branch per lane under AVX2 and SSE2; on a ReLU's
 * output, about half zeros at random, the branches mispredicted: the AVX2 build's dM pass of the
 * wide convnet's 26x26x64 layer took 16 ms against 6 under AVX-512.) */
#define TGR_W_RELU_MOVE(T, I, S)                                                                   \
typedef I tgr_wm_##S __attribute__((vector_size(TGR_W_NATIVE)));                                  \
static inline void tgr_wload_relu_##S(T *d, const T *src, const T *y, ptrdiff_t w) {               \
    ptrdiff_t l;                                                                                   \
    if (w == TGR_W_LANES) {                                                                        \
        for (l = 0; l < TGR_W_LANES; l += (ptrdiff_t)(TGR_W_NATIVE / sizeof(T))) {                 \
            tgr_wm_##S keep = ~(tgr_wld_##S(y + l) <= tgr_wk_##S(0));                              \
            tgr_wst_##S(d + l, (tgr_wv_##S)(keep & (tgr_wm_##S)tgr_wld_##S(src + l)));             \
        }                                                                                          \
        return;                                                                                    \
    }                                                                                              \
    for (l = 0; l < w; l++) d[l] = y[l] <= 0 ? 0 : src[l];                                         \
    for (; l < TGR_W_LANES; l++) d[l] = 0;                                                         \
}

TGR_W_DEFINE(float, f)
TGR_W_DEFINE(double, d)
TGR_W_MOVES(float, f)
TGR_W_MOVES(double, d)
TGR_W_RELU_MOVE(float, int32_t, f)
TGR_W_RELU_MOVE(double, int64_t, d)

#endif  /* TGR_WINOGRAD_MATH_H */
