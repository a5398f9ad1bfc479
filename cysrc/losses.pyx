# cython: language_level=3
"""The row-max shift of the fused softmax-crossentropy (tinygrad_relu/losses.py).

``x - x.max(axis=-1, keepdims=True)`` on a (128, 10) batch of logits costs numpy about 7 us,
almost all of it in the maximum reduction's per-row set-up (ten elements a row), and it runs
every training step. One pass here finds each row's maximum and writes the shifted row:
about 1 us. The maximum is exact whatever the order of comparison, so the result is the one
numpy gives, bit for bit; NaN propagates as np.maximum does (a NaN anywhere in the row makes
the maximum, and so the whole shifted row, NaN). The exp, sums and logs stay numpy ufuncs
so that their rounding is numpy's own.
"""
cimport cython
cimport numpy as cnp
from cython cimport floating

cnp.import_array()


cdef void _shift_rows(const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef const floating* row
    cdef floating* dst
    cdef floating top, v
    for r in range(rows):
        row = x + r * k
        dst = out + r * k
        top = row[0]
        for j in range(1, k):
            v = row[j]
            top = v if (v > top) | (v != v) else top
        for j in range(k):
            dst[j] = row[j] - top


def shift_by_row_max(x):
    """x - max(x, axis=-1) for a C-contiguous float32/float64 array with a non-empty last axis;
    None for anything else (the caller then uses numpy)."""
    if not cnp.PyArray_Check(x):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int typenum = cnp.PyArray_TYPE(a)
    if (typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE) or cnp.PyArray_NDIM(a) < 1 \
            or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISBEHAVED_RO(a):
        return None
    cdef Py_ssize_t k = cnp.PyArray_DIM(a, cnp.PyArray_NDIM(a) - 1)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    if k == 0:
        return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), typenum, 0)
    cdef void* src = cnp.PyArray_DATA(a)
    cdef void* dst = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _shift_rows(<const float*>src, <float*>dst, n // k, k)
        else:
            _shift_rows(<const double*>src, <double*>dst, n // k, k)
    return out
