# cython: language_level=3
"""Sums and maxima along one row (the softmax family's), vectorized and in a fixed order: the C is
rowmath.h (why the order is fixed, and why it is written with GCC vectors).

Inline functions only: no module is needed at run time. A row is a[start:stop], stop > start.
"""
from cython cimport floating

cdef extern from "rowmath.h" nogil:
    float tgr_row_sum_f(const float* a, Py_ssize_t n)
    double tgr_row_sum_d(const double* a, Py_ssize_t n)
    float tgr_row_dot_f(const float* a, const float* b, Py_ssize_t n)
    double tgr_row_dot_d(const double* a, const double* b, Py_ssize_t n)
    float tgr_row_max_f(const float* a, Py_ssize_t n)
    double tgr_row_max_d(const double* a, Py_ssize_t n)
    float tgr_row_exp_sum_f(const float* x, float* y, Py_ssize_t n, float shift)
    double tgr_row_exp_sum_d(const double* x, double* y, Py_ssize_t n, double shift)


cdef inline floating row_sum(const floating[::1] a, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    if floating is float:
        return tgr_row_sum_f(&a[start], stop - start)
    else:
        return tgr_row_sum_d(&a[start], stop - start)


cdef inline floating row_dot(const floating[::1] a, const floating[::1] b, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil:
    """sum of a[j] * b[j] over the row, in row_sum's order."""
    if floating is float:
        return tgr_row_dot_f(&a[start], &b[start], stop - start)
    else:
        return tgr_row_dot_d(&a[start], &b[start], stop - start)


cdef inline floating row_max(const floating[::1] a, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """The largest non-NaN value (-inf for a row of NaN)."""
    if floating is float:
        return tgr_row_max_f(&a[start], stop - start)
    else:
        return tgr_row_max_d(&a[start], stop - start)


cdef inline int check_row_fits(Py_ssize_t stop, Py_ssize_t length) except -1 nogil:
    """IndexError unless a row ending at stop fits an array of length elements: row_exp_sum below
    writes through a pointer, which no bounds check sees (the debug build's probes shorten the output)."""
    if stop > length:
        with gil:
            raise IndexError(f"Out of bounds on buffer access: a row ending at {stop} does not fit the output's "
                             f"{length} elements")  # Cython's own words for its bounds checks
    return 0


cdef inline floating row_exp_sum(const floating[::1] x, floating[::1] y, Py_ssize_t start, Py_ssize_t stop,
                                 floating shift) noexcept nogil:
    """y's row = e^(x - shift) over x's row; returns their sum."""
    if floating is float:
        return tgr_row_exp_sum_f(&x[start], &y[start], stop - start, shift)
    else:
        return tgr_row_exp_sum_d(&x[start], &y[start], stop - start, shift)
