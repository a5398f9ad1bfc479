/* rowmath.h: the maximum, sum and dot product of one row (the softmax family's), for
 * cysrc/row_reductions.pxd; float and double.
 *
 * A loop `total += v` is a chain that gcc keeps scalar (reassociating it would need
 * -ffast-math, and then the rounding would depend on the vector width). So a row is summed
 * into 16 running partial sums, element j going to partial j % 16; the partials are added in
 * one fixed tree (8, 4, 2, 1) and the last n % 16 elements after them, in order. The order is
 * in the source, so every build (baseline SSE2, AVX2, AVX-512) rounds the same way.
 *
 * The 16 partials are GCC vectors of the build's native width (one zmm register for float under
 * AVX-512, two ymm under AVX2, four xmm under SSE2): each step is a plain elementwise add,
 * compare or select, the same IEEE operation per lane whatever the width. gcc left the same
 * loop written with a float[16] array scalar for the maximum (a chain of 16 maxss per block),
 * and a single 64-byte vector type, which AVX2 and SSE2 have no register for, went through the
 * stack (1.6 ns per element for the maximum, against 0.09 with native vectors).
 *
 * The exponentials of a row (tgr_row_exp_sum_*) are one plain loop that gcc vectorizes, its
 * remainder included, then summed as above. An earlier version worked in 16-element blocks on
 * local arrays, the last one padded with -inf: gcc kept its accumulation scalar and the row's
 * tail cost as much as six full blocks (softmax's exponential pass, rows of 100, AVX-512:
 * 1.63 -> 0.53 ns per element; AVX2 2.1 -> 0.95).
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

/* The width of the build's vector registers, in bytes (why the partials use it: the header). */
#if defined(__AVX512F__)
#define TGR_NATIVE_BYTES 64
#elif defined(__AVX__)
#define TGR_NATIVE_BYTES 32
#else
#define TGR_NATIVE_BYTES 16
#endif

#if defined(__GNUC__)
/* static inline helpers pass the vectors: no ABI crosses a module boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
/* PARTS native vectors of NV lanes each: partial k is lane k % NV of vector k / NV. */
#define TGR_ROWMATH_DEFINE(T, IT, SUFFIX)                                                          \
typedef T tgr_nv_##SUFFIX __attribute__((vector_size(TGR_NATIVE_BYTES)));                        \
typedef IT tgr_niv_##SUFFIX __attribute__((vector_size(TGR_NATIVE_BYTES)));                      \
enum { TGR_NV_##SUFFIX = TGR_NATIVE_BYTES / sizeof(T),                                            \
       TGR_PARTS_##SUFFIX = TGR_ROW_LANES / (TGR_NATIVE_BYTES / sizeof(T)) };                     \
typedef struct { tgr_nv_##SUFFIX v[TGR_PARTS_##SUFFIX]; } tgr_acc_##SUFFIX;                       \
static inline tgr_acc_##SUFFIX tgr_fill_##SUFFIX(T value) {                                       \
    tgr_acc_##SUFFIX acc; int i, k;                                                               \
    for (i = 0; i < TGR_PARTS_##SUFFIX; i++)                                                      \
        for (k = 0; k < TGR_NV_##SUFFIX; k++) acc.v[i][k] = value;                                \
    return acc;                                                                                   \
}                                                                                                 \
static inline tgr_nv_##SUFFIX tgr_part_##SUFFIX(const T *p, int i) {                              \
    tgr_nv_##SUFFIX v; memcpy(&v, p + i * TGR_NV_##SUFFIX, sizeof v); return v;                   \
}                                                                                                 \
/* acc + the block at p, lane by lane */                                                         \
static inline void tgr_add_##SUFFIX(tgr_acc_##SUFFIX *acc, const T *p) {                          \
    int i;                                                                                        \
    for (i = 0; i < TGR_PARTS_##SUFFIX; i++) acc->v[i] = acc->v[i] + tgr_part_##SUFFIX(p, i);     \
}                                                                                                 \
/* acc = the larger of acc and the block at p, lane by lane (a NaN in the block never wins) */  \
static inline void tgr_max_block_##SUFFIX(tgr_acc_##SUFFIX *acc, const T *p) {                    \
    int i;                                                                                        \
    for (i = 0; i < TGR_PARTS_##SUFFIX; i++) {                                                    \
        tgr_nv_##SUFFIX v = tgr_part_##SUFFIX(p, i);                                              \
        tgr_niv_##SUFFIX wins = v > acc->v[i];                                                    \
        acc->v[i] = (tgr_nv_##SUFFIX)((wins & (tgr_niv_##SUFFIX)v) | (~wins & (tgr_niv_##SUFFIX)acc->v[i])); \
    }                                                                                             \
}                                                                                                 \
/* the partials added in one fixed tree (8, 4, 2, 1) */                                          \
static inline T tgr_tree_##SUFFIX(const tgr_acc_##SUFFIX *acc) {                                  \
    T p[TGR_ROW_LANES]; int k;                                                                    \
    memcpy(p, acc->v, sizeof p);                                                                  \
    for (k = 0; k < 8; k++) p[k] = p[k] + p[k + 8];  /* written out: gcc kept a loop over the */  \
    for (k = 0; k < 4; k++) p[k] = p[k] + p[k + 4];  /* halving width, with its index math  */   \
    for (k = 0; k < 2; k++) p[k] = p[k] + p[k + 2];                                               \
    return p[0] + p[1];                                                                           \
}                                                                                                 \
static inline T tgr_row_sum_##SUFFIX(const T *a, ptrdiff_t n) {                                   \
    tgr_acc_##SUFFIX acc = tgr_fill_##SUFFIX(0);                                                  \
    ptrdiff_t j = 0;                                                                              \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES) tgr_add_##SUFFIX(&acc, a + j);             \
    T total = tgr_tree_##SUFFIX(&acc);                                                            \
    for (; j < n; j++) total = total + a[j];                                                      \
    return total;                                                                                 \
}                                                                                                 \
static inline T tgr_row_dot_##SUFFIX(const T *a, const T *b, ptrdiff_t n) {                       \
    tgr_acc_##SUFFIX acc = tgr_fill_##SUFFIX(0);                                                  \
    ptrdiff_t j = 0;                                                                              \
    int i;                                                                                        \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES)                                            \
        for (i = 0; i < TGR_PARTS_##SUFFIX; i++)                                                  \
            acc.v[i] = acc.v[i] + tgr_part_##SUFFIX(a + j, i) * tgr_part_##SUFFIX(b + j, i);      \
    T total = tgr_tree_##SUFFIX(&acc);                                                            \
    for (; j < n; j++) total = total + a[j] * b[j];                                               \
    return total;                                                                                 \
}                                                                                                 \
static inline T tgr_row_max_##SUFFIX(const T *a, ptrdiff_t n) {                                   \
    tgr_acc_##SUFFIX acc = tgr_fill_##SUFFIX(-(T)INFINITY);                                       \
    T p[TGR_ROW_LANES], m = -(T)INFINITY;                                                         \
    ptrdiff_t j = 0;                                                                              \
    int k;                                                                                        \
    for (; j + TGR_ROW_LANES <= n; j += TGR_ROW_LANES)                                            \
        tgr_max_block_##SUFFIX(&acc, a + j);                                                      \
    if (j < n && n > TGR_ROW_LANES)   /* the last LANES elements again: max does not mind */     \
        tgr_max_block_##SUFFIX(&acc, a + n - TGR_ROW_LANES);                                      \
    else                                                                                          \
        for (; j < n; j++) m = a[j] > m ? a[j] : m;                                               \
    memcpy(p, acc.v, sizeof p);       /* the partials' maximum, halving like tgr_tree */         \
    for (k = 0; k < 8; k++) p[k] = p[k + 8] > p[k] ? p[k + 8] : p[k];                             \
    for (k = 0; k < 4; k++) p[k] = p[k + 4] > p[k] ? p[k + 4] : p[k];                             \
    for (k = 0; k < 2; k++) p[k] = p[k + 2] > p[k] ? p[k + 2] : p[k];                             \
    p[0] = p[1] > p[0] ? p[1] : p[0];                                                             \
    return p[0] > m ? p[0] : m;                                                                   \
}
#else
#error "rowmath.h needs GCC vector extensions (gcc or clang)"
#endif

TGR_ROWMATH_DEFINE(float, int32_t, f)
TGR_ROWMATH_DEFINE(double, int64_t, d)

/* The softmax family's exponential pass, on a row of n >= 1 elements: y = e^(x - shift) and
 * the sum of y in row_sum's order. A plain loop, which gcc vectorizes; its remainder runs in
 * narrower vectors or scalar code, the same IEEE operations per element in every build. */
#define TGR_ROWEXP_DEFINE(T, SUFFIX, EXP)                                                          \
static inline T tgr_row_exp_sum_##SUFFIX(const T *x, T *y, ptrdiff_t n, T shift) {               \
    ptrdiff_t j;                                                                                  \
    for (j = 0; j < n; j++) y[j] = EXP(x[j] - shift);                                             \
    return tgr_row_sum_##SUFFIX(y, n);                                                            \
}

TGR_ROWEXP_DEFINE(float, f, tgr_expf)
TGR_ROWEXP_DEFINE(double, d, tgr_exp)

#endif  /* TGR_ROWMATH_H */
