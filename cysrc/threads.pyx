"""How many OpenMP threads the kernels' prange loops use (always 1 when built without OpenMP),
and how the kernels were built."""
import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void tgr_set_threads(int n) { omp_set_num_threads(n); }
    static int tgr_get_threads(void) { return omp_get_max_threads(); }
    static int tgr_openmp(void) { return 1; }
    #else
    static void tgr_set_threads(int n) { (void)n; }
    static int tgr_get_threads(void) { return 1; }
    static int tgr_openmp(void) { return 0; }
    #endif
    #ifdef TGR_DEBUG_BUILD
    static int tgr_debug(void) { return 1; }
    #else
    static int tgr_debug(void) { return 0; }
    #endif
    """
    void tgr_set_threads(int n) nogil
    int tgr_get_threads() nogil
    int tgr_openmp() nogil
    int tgr_debug() nogil


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: n must be at least 1, got {n}")
    tgr_set_threads(n)


def get_num_threads():
    return tgr_get_threads()


def openmp_enabled():
    return bool(tgr_openmp())


def debug_build():
    """True when built with TINYGRAD_RELU_DEBUG=1 (bounds checks on, -O0 -g)."""
    return bool(tgr_debug())


def bounds_probe(values, Py_ssize_t index):
    """values[index] (a 1-D float64 array) with this build's checks: IndexError out of bounds on a
    debug build, from Cython's memoryview bounds check.

    The release build has no such check, so it refuses an index outside [0, len) itself
    (ValueError) instead of reading past the end.
    """
    cdef const double[::1] view
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.ndim != 1:
        raise TypeError(f"bounds_probe: values must be a 1-D float64 array, got {values!r:.60}")
    view = np.ascontiguousarray(values)
    if not tgr_debug() and not 0 <= index < view.shape[0]:
        raise ValueError(f"bounds_probe: index {index} is outside [0, {view.shape[0]}) and this release "
                         f"build has no bounds checks")
    return view[index]
