"""How many OpenMP threads the kernels' prange loops use (always 1 when built without OpenMP)."""

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
    """
    void tgr_set_threads(int n) nogil
    int tgr_get_threads() nogil
    int tgr_openmp() nogil


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: n must be at least 1, got {n}")
    tgr_set_threads(n)


def get_num_threads():
    return tgr_get_threads()


def openmp_enabled():
    return bool(tgr_openmp())
