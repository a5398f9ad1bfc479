# cython: language_level=3
"""How an activation kernel (cysrc/activations.pyx) runs over an array: the two kernel
signatures, the scalar settings they share, the drivers that call a kernel once on the
whole array or once per thread on a slice of it, and the body of every ``def``
(forward_pass, backward_pass: check, allocate, flatten, run).

A kernel loops over whatever memoryviews it is given and knows nothing of threads. Below
``parallel_min`` elements the driver calls it once, on the calling thread, without entering
an OpenMP region at all: entering one costs ~0.8 us even when it runs on one thread
(measured on the 2-core machine, libgomp), more than a small kernel's whole loop. From
``parallel_min`` on, each thread gets one contiguous slice, cut on whole rows for the
softmax family (``Settings.row_length``) and on single elements otherwise, the split that
OpenMP's static schedule made before. A kernel's -1 (the debug build's IndexError) comes
out of either path.

Inline functions only: no module is needed at run time.
"""
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY

from kernel_args cimport readable, check_same_shape, probing

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int tgr_activation_threads(void) { return omp_get_max_threads(); }
    #else
    static int tgr_activation_threads(void) { return 1; }
    #endif
    """
    int tgr_activation_threads() noexcept nogil


# The scalars of the parametrised activations travel in one struct: each kernel reads the
# fields it needs and converts them to its float type once, before its loop.
cdef struct Settings:
    double slope, threshold, low, top   # the relu family (Keras' relu: low/top clip x above the threshold)
    double alpha, scale                 # elu, selu
    Py_ssize_t row_length               # softmax family: the arrays are rows of this length end to end

# Forward kernels map x to y; backward kernels map the incoming gradient g and the saved x or
# y to gx. A fused function cannot be a function pointer, so each signature has a float and
# a double pointer type, and the drivers take both (a def names its kernel's two versions).
ctypedef int (*MapF)(const float[::1], float[::1], const Settings*) except -1 nogil
ctypedef int (*MapD)(const double[::1], double[::1], const Settings*) except -1 nogil
ctypedef int (*GradF)(const float[::1], const float[::1], float[::1], const Settings*) except -1 nogil
ctypedef int (*GradD)(const double[::1], const double[::1], double[::1], const Settings*) except -1 nogil


cdef inline Settings no_settings() noexcept:
    cdef Settings s
    s.slope, s.threshold, s.low, s.top, s.alpha, s.scale, s.row_length = 0, 0, -INFINITY, INFINITY, 1, 1, 1
    return s


cdef inline int _map_once(MapF kernel_f, MapD kernel_d, const floating[::1] x, floating[::1] y,
                          const Settings* s) except -1 nogil:
    if floating is float:
        return kernel_f(x, y, s)
    else:
        return kernel_d(x, y, s)


cdef inline int _grad_once(GradF kernel_f, GradD kernel_d, const floating[::1] g, const floating[::1] saved,
                           floating[::1] gx, const Settings* s) except -1 nogil:
    if floating is float:
        return kernel_f(g, saved, gx, s)
    else:
        return kernel_d(g, saved, gx, s)


cdef inline Py_ssize_t _slice_size(Py_ssize_t n, Py_ssize_t unit, Py_ssize_t parallel_min) noexcept nogil:
    """Elements per thread (a whole number of units: rows, or single elements), or n for one call."""
    if n < parallel_min:
        return n
    cdef Py_ssize_t units = n // unit, threads = tgr_activation_threads()
    if units < 2 or threads < 2:
        return n
    return (units + threads - 1) // threads * unit


cdef inline int run_map(MapF kernel_f, MapD kernel_d, const floating[::1] x, floating[::1] y, const Settings* s,
                        Py_ssize_t parallel_min) except -1:
    """y = kernel(x); x and y of one length, a whole number of s.row_length."""
    cdef Py_ssize_t start, n = x.shape[0], size = _slice_size(n, s.row_length, parallel_min)
    if size >= n:
        return _map_once(kernel_f, kernel_d, x, y, s)
    with nogil:
        for start in prange(0, n, size, schedule="static"):
            _map_once(kernel_f, kernel_d, x[start:start + size], y[start:start + size], s)
    return 0


cdef inline int run_grad(GradF kernel_f, GradD kernel_d, const floating[::1] g, const floating[::1] saved,
                         floating[::1] gx, const Settings* s, Py_ssize_t parallel_min) except -1:
    """gx = kernel(g, saved); all three of one length, a whole number of s.row_length."""
    cdef Py_ssize_t start, n = g.shape[0], size = _slice_size(n, s.row_length, parallel_min)
    if size >= n:
        return _grad_once(kernel_f, kernel_d, g, saved, gx, s)
    with nogil:
        for start in prange(0, n, size, schedule="static"):
            _grad_once(kernel_f, kernel_d, g[start:start + size], saved[start:start + size],
                       gx[start:start + size], s)
    return 0


# ---- the body of every def: check, allocate, flatten, run -----------------------------------
cdef inline cnp.ndarray _flat(cnp.ndarray a):
    return a if cnp.PyArray_NDIM(a) == 1 else cnp.PyArray_Ravel(a, cnp.NPY_CORDER)


cdef inline cnp.ndarray _empty_like(cnp.ndarray a):
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), cnp.PyArray_TYPE(a), 0)


cdef inline Py_ssize_t _row_length(cnp.ndarray a) noexcept:
    # the last axis; a 0-d array is one row of one element
    return cnp.PyArray_DIM(a, cnp.PyArray_NDIM(a) - 1) if cnp.PyArray_NDIM(a) else 1


cdef inline object forward_pass(str fn, object x, MapF kernel_f, MapD kernel_d, Py_ssize_t parallel_min,
                                Settings s, bint rows=False):
    """y = kernel(x): a new C-order array of x's shape and dtype (rows: per row of the last axis).
    x: a float32/float64 array of any shape and layout."""
    cdef cnp.ndarray xa = readable(fn, "x", x)
    cdef cnp.ndarray y = _empty_like(xa)
    if rows:
        s.row_length = _row_length(xa)
    if cnp.PyArray_SIZE(xa) == 0:
        return y
    cdef cnp.ndarray flat_x = _flat(xa), flat_y = _flat(y)
    if probing:
        flat_y = flat_y[:flat_y.shape[0] - 1]
    if cnp.PyArray_TYPE(xa) == cnp.NPY_FLOAT:
        run_map[float](kernel_f, kernel_d, flat_x, flat_y, &s, parallel_min)
    else:
        run_map[double](kernel_f, kernel_d, flat_x, flat_y, &s, parallel_min)
    return y


cdef inline object backward_pass(str fn, object g, str saved_name, object saved, GradF kernel_f, GradD kernel_d,
                                 Py_ssize_t parallel_min, Settings s, bint rows=False):
    """gx = kernel(g, saved), g's shape and dtype: g and the saved x or y (named saved_name in
    errors) must have one shape and one dtype."""
    cdef cnp.ndarray ga = readable(fn, "g", g)
    cdef cnp.ndarray sa = readable(fn, saved_name, saved, cnp.PyArray_TYPE(ga), "g")
    check_same_shape(fn, "g", ga, saved_name, sa)
    cdef cnp.ndarray gx = _empty_like(ga)
    if rows:
        s.row_length = _row_length(ga)
    if cnp.PyArray_SIZE(ga) == 0:
        return gx
    cdef cnp.ndarray flat_g = _flat(ga), flat_saved = _flat(sa), flat_gx = _flat(gx)
    if probing:
        flat_gx = flat_gx[:flat_gx.shape[0] - 1]
    if cnp.PyArray_TYPE(ga) == cnp.NPY_FLOAT:
        run_grad[float](kernel_f, kernel_d, flat_g, flat_saved, flat_gx, &s, parallel_min)
    else:
        run_grad[double](kernel_f, kernel_d, flat_g, flat_saved, flat_gx, &s, parallel_min)
    return gx
