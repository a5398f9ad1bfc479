/* no_trapping_math.h: let gcc vectorize compare-selects in the kernels that include it.
 *
 * gcc's default -ftrapping-math treats every float compare and multiply as a possible trap,
 * so it will not execute both arms of a select and blend them: `v if v > 0 else a * v`
 * (leaky relu), any clamp feeding arithmetic (the optimizers' gradient clipping, amsgrad's
 * maximum) and the exp in fastmath.h all stayed scalar loops with branches. No kernel reads
 * the floating-point exception flags, so gcc is told so, from the include on, for the rest
 * of the file (Cython emits its includes before any function, so: the whole module).
 * Values are unchanged: this is not -ffast-math (no reassociation, NaN and inf keep their
 * meaning). setup.py passes -fno-trapping-math too; the pragma keeps the loops vectorized
 * when a module is built some other way. clang's default already ignores FP exceptions.
 */
#ifndef TGR_NO_TRAPPING_MATH_H
#define TGR_NO_TRAPPING_MATH_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("no-trapping-math")
#endif

#endif  /* TGR_NO_TRAPPING_MATH_H */
