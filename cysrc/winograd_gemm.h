/* winograd_gemm.h: the float32 matrix products of the fused Winograd kernels (cysrc/winograd.pyx),
 * for the builds with fused multiply-adds (AVX2 + FMA, AVX-512).
 *
 *     c (m x n) = A (m x kd) B (kd x n)   (+ c if accumulate)
 *
 * A's element (i, k) at a[i * ars + k * aks] (so A may be a transposed view: ars = 1), B row-major
 * with row stride ldb, c row-major with row stride ldc; n a multiple of TGR_WG_NR (16).
 *
 * Why not numpy's BLAS: the products are small ((tiles of one block) x 64..128 x 64..128, one per
 * tile cell, 36 per block) and OpenBLAS packs an operand on every call. With its AVX-512
 * kernel set (SkylakeX) it has small-matrix kernels that skip the packing; with the AVX2 set
 * (Haswell: what OPENBLAS_CORETYPE=Haswell asks for, and the default on AVX2-only CPUs) it does
 * not. The wide convnet's three Winograd layers, 2 threads, forward / data gradient / kernel
 * gradient: 43.8 / 48.0 / 38.8 ms through OpenBLAS's AVX2 set, 31.9 / 35.3 / 33.6 ms with this
 * kernel (docs/performance.md, "The fifth round"). Here B is read in place: a block
 * of TGR_WG_MR rows x 16 columns of c stays in registers (12 vector accumulators: one zmm per row
 * under AVX-512, two ymm under AVX2) while k runs, each step one load of B's row segment, one
 * broadcast of A's element per row and one fused multiply-add per accumulator. Measured on one
 * core (36 products of 60 x 64 x 64, in cache): AVX2 72 GF/s, AVX-512 90 GF/s, against 84 / 95 for
 * OpenBLAS's large-matrix peak on the same core.
 *
 * Rounding: every element is one chain acc = fma(a_k, b_k, acc) for k = 0, 1, ... in order, from
 * 0 (or from c when accumulating), so the two builds give the same bits (MR only groups the
 * outputs) and the result does not depend on how the rows are blocked. The baseline build (no
 * FMA) keeps numpy's BLAS (TGR_WG_FAST is 0 there): this code without FMA ran at 25 GF/s.
 */
#ifndef TGR_WINOGRAD_GEMM_H
#define TGR_WINOGRAD_GEMM_H

#include <stddef.h>
#include <string.h>

#define TGR_WG_NR 16

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>
#define TGR_WG_FAST 1
#define TGR_WG_BYTES 64
#define TGR_WG_MR 12
#define TGR_WG_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TGR_WG_FAST 1
#define TGR_WG_BYTES 32
#define TGR_WG_MR 6
#define TGR_WG_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#else
#define TGR_WG_FAST 0
#define TGR_WG_BYTES 16
#define TGR_WG_MR 3
#define TGR_WG_FMA(a, b, c) ((a) * (b) + (c))
#endif

#define TGR_WG_LANES (TGR_WG_BYTES / 4)
#define TGR_WG_PARTS (TGR_WG_NR / TGR_WG_LANES)

typedef float tgr_wg_v __attribute__((vector_size(TGR_WG_BYTES)));

static inline tgr_wg_v tgr_wg_load(const float *p) { tgr_wg_v v; memcpy(&v, p, sizeof v); return v; }
static inline void tgr_wg_store(float *p, tgr_wg_v v) { memcpy(p, &v, sizeof v); }
/* an initializer list, which gcc turns into one broadcast (a loop over the lanes went through the
 * stack; adding x to a zero vector costs an add and turns -0 into +0) */
static inline tgr_wg_v tgr_wg_splat(float x) {
#if TGR_WG_LANES == 16
    return (tgr_wg_v){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
#elif TGR_WG_LANES == 8
    return (tgr_wg_v){x, x, x, x, x, x, x, x};
#else
    return (tgr_wg_v){x, x, x, x};
#endif
}

/* c[0:mr, 0:16] (+)= A[0:mr, :] B[:, 0:16]; mr is a constant wherever this is inlined, so the
 * accumulators are registers */
static inline __attribute__((always_inline)) void
tgr_wg_block(int mr, ptrdiff_t kd, const float *a, ptrdiff_t ars, ptrdiff_t aks, const float *b, ptrdiff_t ldb,
             float *c, ptrdiff_t ldc, int accumulate) {
    tgr_wg_v acc[TGR_WG_MR][TGR_WG_PARTS], bv[TGR_WG_PARTS];
    ptrdiff_t k;
    int i, q;
    for (i = 0; i < mr; i++)
        for (q = 0; q < TGR_WG_PARTS; q++)
            acc[i][q] = accumulate ? tgr_wg_load(c + i * ldc + q * TGR_WG_LANES) : tgr_wg_splat(0.0f);
    for (k = 0; k < kd; k++) {
        for (q = 0; q < TGR_WG_PARTS; q++)
            bv[q] = tgr_wg_load(b + k * ldb + q * TGR_WG_LANES);
        for (i = 0; i < mr; i++) {
            tgr_wg_v av = tgr_wg_splat(a[i * ars + k * aks]);
            for (q = 0; q < TGR_WG_PARTS; q++)
                acc[i][q] = TGR_WG_FMA(av, bv[q], acc[i][q]);
        }
    }
    for (i = 0; i < mr; i++)
        for (q = 0; q < TGR_WG_PARTS; q++)
            tgr_wg_store(c + i * ldc + q * TGR_WG_LANES, acc[i][q]);
}

#define TGR_WG_REST(r) case r: tgr_wg_block(r, kd, a + i0 * ars, ars, aks, b + j0, ldb, c + i0 * ldc + j0, ldc, \
                                            accumulate); break;

/* The whole product: 16 columns at a time (B's 16-column panel stays in L1 while the row blocks
 * pass), the rows in blocks of TGR_WG_MR and one shorter block for the rest. */
static void tgr_wg_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t kd, const float *a, ptrdiff_t ars, ptrdiff_t aks,
                         const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    ptrdiff_t i0, j0;
    for (j0 = 0; j0 + TGR_WG_NR <= n; j0 += TGR_WG_NR) {
        for (i0 = 0; i0 + TGR_WG_MR <= m; i0 += TGR_WG_MR)
            tgr_wg_block(TGR_WG_MR, kd, a + i0 * ars, ars, aks, b + j0, ldb, c + i0 * ldc + j0, ldc, accumulate);
        switch (m - i0) {
            TGR_WG_REST(1) TGR_WG_REST(2)
#if TGR_WG_MR > 3
            TGR_WG_REST(3) TGR_WG_REST(4) TGR_WG_REST(5)
#endif
#if TGR_WG_MR > 6
            TGR_WG_REST(6) TGR_WG_REST(7) TGR_WG_REST(8) TGR_WG_REST(9) TGR_WG_REST(10) TGR_WG_REST(11)
#endif
            default: break;
        }
    }
}

#endif
