/* rowmath.h: the maximum, sum and dot product of one row (the softmax family's), for
 * cysrc/row_reductions.pxd; float and double.
 *
 * A loop `total += v` is a chain that gcc keeps scalar (reassociating it would need
 * -ffast-math, and then the rounding would depend on the vector width). So a row is summed
 * into 16 running partial sums, element j going to partial j % 16; the partials are added in
 * one fixed tree (8, 4, 2, 1) and the last n % 16 elements after them, in order. The order is
 * in the source, so every build (baseline SSE2, AVX2, AVX-512) rounds the same way.
 *
 * The 16 partials are one GCC vector (vector_size: one zmm register for float, two for double,
 * four xmm under SSE2): each step is a plain elementwise add, compare or select, the same
 * IEEE operation per lane whatever the width. gcc left the same loop written with a float[16]
 * array scalar for the maximum (a chain of 16 maxss per block), which made softmax's forward
 * slower than PyTorch's.
 *
 * The exponentials of a row (tgr_row_exp_*) go LANES at a time through fastmath.h's exp, the
 * last partial block too: it is copied into a block padded with -inf (whose exp is 0, which
 * adds nothing to a sum), so a row of 100 does not end in 4 scalar exps, which cost as much as
 * the 96 vectorized ones before them.
 *
 * The maximum needs no care about order (it is exact). NaN never wins (v > m is false for
 * NaN); a row of NaN gives -inf, and a NaN row still comes out NaN downstream through
 * exp(NaN - m).
 */
#ifndef TGR_ROWMATH_H
#define TGR_ROWMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastmath.h"

#define TGR_ROW_LANES 16

#if defined(__GNUC__)
/* static inline helpers return the vectors: no ABI crosses a module boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
#define TGR_ROWMATH_DEFINE(T, IT, SUFFIX)                                                          \
typedef T tgr_vec_##SUFFIX __attribute__((vector_size(TGR_ROW_LANES * sizeof(T))));              \
typedef IT tgr_ivec_##SUFFIX __attribute__((vector_size(TGR_ROW_LANES * sizeof(T))));            \
static inline tgr_vec_##SUFFIX tgr_load_##SUFFIX(const T *p) {                                    \
    tgr_vec_##SUFFIX v; memcpy(&v, p, sizeof v); return v;                                        \
}                                                                                                 \
static inline T tgr_tree_##SUFFIX(tgr_vec_##SUFFIX acc) {                                        \
    T p[TGR_ROW_LANES]; int k, width;                                                             \
    memcpy(p, &acc, sizeof p);                                                                    \
    for (width = TGR_ROW_LANES / 2; width > 0; width /= 2)                                        \
        for (k = 0; k < width; k++) p[k] = p[k] + p[k + width];                                   \
    return p[0];                                                                                  \
}                                                                                                 \
static inline T tgr_row_sum_##SUFFIX(const T *a, ptrdiff_t n) {                                   \
    tgr_vec_##SUFFIX acc = {0};                                                                   \
    ptrdiff_t j = 0;                                                                              \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES) acc = acc + tgr_load_##SUFFIX(a + j);       \
    T total = tgr_tree_##SUFFIX(acc);                                                             \
    for (; j < n; j++) total = total + a[j];                                                      \
    return total;                                                                                 \
}                                                                                                 \
static inline T tgr_row_dot_##SUFFIX(const T *a, const T *b, ptrdiff_t n) {                       \
    tgr_vec_##SUFFIX acc = {0};                                                                   \
    ptrdiff_t j = 0;                                                                              \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES)                                            \
        acc = acc + tgr_load_##SUFFIX(a + j) * tgr_load_##SUFFIX(b + j);                          \
    T total = tgr_tree_##SUFFIX(acc);                                                             \
    for (; j < n; j++) total = total + a[j] * b[j];                                               \
    return total;                                                                                 \
}                                                                                                 \
static inline T tgr_row_max_##SUFFIX(const T *a, ptrdiff_t n) {                                   \
    tgr_vec_##SUFFIX acc;                                                                         \
    T p[TGR_ROW_LANES], m = -(T)INFINITY;                                                         \
    ptrdiff_t j = 0;                                                                              \
    int k;                                                                                        \
    for (k = 0; k < TGR_ROW_LANES; k++) acc[k] = -(T)INFINITY;                                    \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES) {                                          \
        tgr_vec_##SUFFIX v = tgr_load_##SUFFIX(a + j);                                            \
        tgr_ivec_##SUFFIX wins = v > acc;                                                         \
        acc = (tgr_vec_##SUFFIX)((wins & (tgr_ivec_##SUFFIX)v) | (~wins & (tgr_ivec_##SUFFIX)acc)); \
    }                                                                                             \
    memcpy(p, &acc, sizeof p);                                                                    \
    for (k = 0; k < TGR_ROW_LANES; k++) m = p[k] > m ? p[k] : m;                                  \
    for (; j < n; j++) m = a[j] > m ? a[j] : m;                                                   \
    return m;                                                                                     \
}
#else
#error "rowmath.h needs GCC vector extensions (gcc or clang)"
#endif

TGR_ROWMATH_DEFINE(float, int32_t, f)
TGR_ROWMATH_DEFINE(double, int64_t, d)

/* The softmax family's exponential pass, on a row of n >= 1 elements: the sum of e^(x - shift),
 * in row_sum's order when n is a multiple of LANES, the last block's elements in their lanes
 * otherwise (a -inf-padded block: see the header); stores the e^(x - shift) in y unless y is
 * NULL. */
#define TGR_ROWEXP_DEFINE(T, SUFFIX, EXP)                                                          \
/* in[k] for the block at a (w <= LANES valid elements, the rest -inf), on local arrays: gcc     \
   vectorizes the LANES-trip loops on them with no alias checks against the rows */              \
static inline void tgr_block_in_##SUFFIX(T *in, const T *a, ptrdiff_t w) {                        \
    int k;                                                                                        \
    if (w == TGR_ROW_LANES) { memcpy(in, a, TGR_ROW_LANES * sizeof(T)); return; }                 \
    for (k = 0; k < TGR_ROW_LANES; k++) in[k] = -(T)INFINITY;                                     \
    for (k = 0; k < w; k++) in[k] = a[k];                                                         \
}                                                                                                 \
static inline void tgr_block_out_##SUFFIX(T *a, const T *out, ptrdiff_t w) {                      \
    int k;                                                                                        \
    if (w == TGR_ROW_LANES) { memcpy(a, out, TGR_ROW_LANES * sizeof(T)); return; }                \
    for (k = 0; k < w; k++) a[k] = out[k];                                                        \
}                                                                                                 \
static inline T tgr_row_exp_sum_##SUFFIX(const T *x, T *y, ptrdiff_t n, T shift) {               \
    T p[TGR_ROW_LANES], in[TGR_ROW_LANES], e[TGR_ROW_LANES];                                      \
    ptrdiff_t j, w;                                                                               \
    int k, width;                                                                                 \
    for (k = 0; k < TGR_ROW_LANES; k++) p[k] = 0;                                                 \
    for (j = 0; j < n; j += TGR_ROW_LANES) {                                                      \
        w = n - j < TGR_ROW_LANES ? n - j : TGR_ROW_LANES;                                        \
        tgr_block_in_##SUFFIX(in, x + j, w);                                                      \
        for (k = 0; k < TGR_ROW_LANES; k++) e[k] = EXP(in[k] - shift);                            \
        for (k = 0; k < TGR_ROW_LANES; k++) p[k] = p[k] + e[k];                                   \
        if (y) tgr_block_out_##SUFFIX(y + j, e, w);                                               \
    }                                                                                             \
    for (width = TGR_ROW_LANES / 2; width > 0; width /= 2)                                        \
        for (k = 0; k < width; k++) p[k] = p[k] + p[k + width];                                   \
    return p[0];                                                                                  \
}

TGR_ROWEXP_DEFINE(float, f, tgr_expf)
TGR_ROWEXP_DEFINE(double, d, tgr_exp)

#endif  /* TGR_ROWMATH_H */
