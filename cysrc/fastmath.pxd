# cython: language_level=3
"""fastmath.h for Cython: its vectorizable exp, expm1, log1p, tanh, erfc and GELU slope (how
and how accurately: the header), each as one fused function that picks the float or the
double version at compile time.

Cimporting this includes the header, which also switches gcc's -ftrapping-math off for the
whole module: without that the selects in the kernels' loops stay branches (the reason is
in no_trapping_math.h). Inline functions only: no module is needed at run time.
"""
from cython cimport floating
from libc.math cimport log, logf, fabs, fabsf

cdef extern from "fastmath.h":
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


cdef inline floating fast_exp(floating v) noexcept nogil:
    if floating is float:
        return tgr_expf(v)
    else:
        return tgr_exp(v)


cdef inline floating fast_expm1(floating v) noexcept nogil:
    if floating is float:
        return tgr_expm1f(v)
    else:
        return tgr_expm1(v)


cdef inline floating fast_log1p(floating v) noexcept nogil:
    if floating is float:
        return tgr_log1pf(v)
    else:
        return tgr_log1p(v)


cdef inline floating fast_log1p_unit(floating v) noexcept nogil:
    """log1p(v) for v in [0, 1] only (shorter than the general one)."""
    if floating is float:
        return tgr_log1pf_unit(v)
    else:
        return tgr_log1p_unit(v)


cdef inline floating fast_tanh(floating v) noexcept nogil:
    if floating is float:
        return tgr_tanhf(v)
    else:
        return tgr_tanh(v)


cdef inline floating fast_erfc(floating v) noexcept nogil:
    if floating is float:
        return tgr_erfcf(v)
    else:
        return tgr_erfc(v)


cdef inline floating gelu_slope(floating v) noexcept nogil:
    """d/dv v Phi(v) = Phi(v) + v phi(v), phi sharing erfc's exp."""
    if floating is float:
        return tgr_gelu_gradf(v)
    else:
        return tgr_gelu_grad(v)


cdef inline floating libm_log(floating v) noexcept nogil:
    """libm's log: an opaque call, for use outside vectorized loops (once per softmax row)."""
    if floating is float:
        return logf(v)
    else:
        return log(v)


cdef inline floating absolute(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


cdef inline int map_primitive(const floating[::1] x, floating[::1] y, int which) except -1 nogil:
    """y = exp, expm1, log1p, tanh or erfc of x (which: 0 to 4), one loop each."""
    cdef Py_ssize_t i, n = x.shape[0]
    if which == 0:
        for i in range(n):
            y[i] = fast_exp(x[i])
    elif which == 1:
        for i in range(n):
            y[i] = fast_expm1(x[i])
    elif which == 2:
        for i in range(n):
            y[i] = fast_log1p(x[i])
    elif which == 3:
        for i in range(n):
            y[i] = fast_tanh(x[i])
    else:
        for i in range(n):
            y[i] = fast_erfc(x[i])
    return 0
