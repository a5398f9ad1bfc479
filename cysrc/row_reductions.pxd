# cython: language_level=3
"""Sums and maxima along one row (the softmax family's), vectorizable and in a fixed order.

A loop ``total = total + v`` is a chain: without -ffast-math's reassociation gcc keeps it scalar,
and with it the order, hence the rounding, would depend on the vector width. Here the row is
summed into PARTIALS running sums, element j going to partial j % PARTIALS, which gcc vectorizes
as plain elementwise adds; the partials are then added in one fixed tree and the last
(stop - start) % PARTIALS elements after them. The order is written in the source, so every build
(baseline SSE2, AVX2, AVX-512: setup.py's ISA_VARIANTS) rounds identically. The maximum needs no
care about order (it is exact), only the same vectorizable shape; NaN never wins (v > m is false).

Inline functions only: no module is needed at run time.
"""
from cython cimport floating
from libc.math cimport INFINITY

cdef enum:
    PARTIALS = 16


cdef inline floating _tree(floating* p) noexcept nogil:
    """p[0] + ... + p[15] as a fixed pairwise tree (p is overwritten)."""
    cdef Py_ssize_t k, width = PARTIALS // 2
    while width > 0:
        for k in range(width):
            p[k] = p[k] + p[k + width]
        width = width // 2
    return p[0]


cdef inline floating row_sum(const floating[::1] a, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef floating p[PARTIALS]
    cdef floating total, zero = 0
    cdef Py_ssize_t j, k
    for k in range(PARTIALS):
        p[k] = zero
    j = start
    while j + PARTIALS <= stop:
        for k in range(PARTIALS):
            p[k] = p[k] + a[j + k]
        j = j + PARTIALS
    total = _tree(p)
    for k in range(j, stop):
        total = total + a[k]
    return total


cdef inline floating row_dot(const floating[::1] a, const floating[::1] b, Py_ssize_t start,
                             Py_ssize_t stop) noexcept nogil:
    """sum of a[j] * b[j] over the row, in row_sum's order."""
    cdef floating p[PARTIALS]
    cdef floating total, zero = 0
    cdef Py_ssize_t j, k
    for k in range(PARTIALS):
        p[k] = zero
    j = start
    while j + PARTIALS <= stop:
        for k in range(PARTIALS):
            p[k] = p[k] + a[j + k] * b[j + k]
        j = j + PARTIALS
    total = _tree(p)
    for k in range(j, stop):
        total = total + a[k] * b[k]
    return total


cdef inline floating row_max(const floating[::1] a, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """The largest non-NaN value (-inf for a row of NaN); a NaN row still comes out NaN downstream
    through exp(NaN - m)."""
    cdef floating p[PARTIALS]
    cdef floating v, m = -INFINITY
    cdef Py_ssize_t j, k
    for k in range(PARTIALS):
        p[k] = m
    j = start
    while j + PARTIALS <= stop:
        for k in range(PARTIALS):
            v = a[j + k]
            p[k] = v if v > p[k] else p[k]
        j = j + PARTIALS
    for k in range(PARTIALS):
        m = p[k] if p[k] > m else m
    for k in range(j, stop):
        v = a[k]
        m = v if v > m else m
    return m
