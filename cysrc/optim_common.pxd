# cython: language_level=3
"""What the fused optimizer kernels (optim.pyx, optim_extra.pyx) share: the per-element clip, the
split into per-thread blocks, and the checks that decide whether a call can take the fused path.

The conventions, stated once in optim.pyx's docstring: the ``def`` wrappers return False, doing
nothing, when the arrays are not all C-contiguous, aligned, native-order float32 (or all float64)
arrays of one size with writeable outputs; a state slot that is not an array at all is a TypeError.

Inline functions only, so cimporting this file needs no module at run time.
"""
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt, sqrtf

# With gcc's default -ftrapping-math, a compare-select feeding arithmetic (the clamp,
# amsgrad's maximum) is kept as a branch and the loop stays scalar; the header says why.
cdef extern from "no_trapping_math.h":
    pass

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int tgr_optim_threads(void) { return omp_get_max_threads(); }
    #else
    static int tgr_optim_threads(void) { return 1; }
    #endif
    """
    int tgr_optim_threads() noexcept nogil

# Blocks start on a multiple of this many elements, so each vector loop runs mostly full.
cdef enum:
    BLOCK_ALIGN = 64


# ---- per-element helpers -----------------------------------------------------------------
cdef inline floating _sqrt(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)
    else:
        return sqrt(v)


cdef inline floating _clipped(floating gv, floating scale, floating lo, floating hi) noexcept nogil:
    """g * scale clamped to [lo, hi]; NaN stays NaN (each select keeps gv unless the compare holds)."""
    gv = gv * scale
    gv = hi if gv > hi else gv
    gv = lo if gv < lo else gv
    return gv


cdef inline floating _nan_max(floating a, floating b) noexcept nogil:
    """np.maximum(a, b): NaN in either operand wins."""
    return a if (a > b) | (a != a) else b


# ---- splitting into per-thread blocks -----------------------------------------------------------
cdef inline Py_ssize_t _blocks_over(Py_ssize_t n, Py_ssize_t threshold) noexcept nogil:
    """1 below ``threshold`` elements, else one block per OpenMP thread."""
    if n < threshold:
        return 1
    return max(1, tgr_optim_threads())


cdef inline Py_ssize_t _block_size(Py_ssize_t n, Py_ssize_t nblocks) noexcept nogil:
    cdef Py_ssize_t size = (n + nblocks - 1) // nblocks
    return (size + BLOCK_ALIGN - 1) // BLOCK_ALIGN * BLOCK_ALIGN


# ---- Python entry points: check the arrays, pick float or double ----------------------------------
cdef inline int _kind(cnp.ndarray a, Py_ssize_t n, bint output) noexcept:
    """NPY_FLOAT / NPY_DOUBLE if ``a`` can go to a kernel as a flat array of n elements, else -1."""
    cdef int typenum = cnp.PyArray_TYPE(a)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return -1
    if cnp.PyArray_SIZE(a) != n or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return -1
    if output:
        if not cnp.PyArray_ISBEHAVED(a):  # aligned, writeable, native byte order
            return -1
    elif not cnp.PyArray_ISBEHAVED_RO(a):
        return -1
    return typenum


cdef inline int _common_kind(w, g, slots) noexcept:
    """The one typenum all arrays share, or -1 (the caller then takes the numpy path)."""
    if not cnp.PyArray_Check(w) or not cnp.PyArray_Check(g):
        return -1
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>w)
    cdef int kind = _kind(<cnp.ndarray>w, n, True)
    if kind < 0 or _kind(<cnp.ndarray>g, n, False) != kind:
        return -1
    for s in slots:
        if s is not None and _kind(<cnp.ndarray>s, n, True) != kind:
            return -1
    return kind


cdef inline int _check_slot(str fn, str name, object slot, bint required) except -1:
    """An optimizer state array: an ndarray, or None where the slot is optional. Anything else is
    the caller's bug, not an array to leave to numpy: TypeError naming the function and slot."""
    if cnp.PyArray_Check(slot) or (slot is None and not required):
        return 0
    kind = "a numpy array" if required else "a numpy array or None"
    raise TypeError(f"{fn}: {name} must be {kind}, got {type(slot).__name__}")


cdef inline void* _data(a) noexcept:
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)
