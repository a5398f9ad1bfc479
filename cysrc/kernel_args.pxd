# cython: language_level=3
"""Argument checks shared by the kernel modules' ``def`` functions.

A kernel loop indexes memory through the shapes it is given, so every ``def`` a kernel
module exposes checks, once per call and before any loop runs, what its loops rely on:
array type and dtype, rank, contiguity, matching shapes, and the ranges of sizes and
indices. A bad argument raises TypeError (not an array, wrong dtype) or ValueError
(anything else) naming the function and the offending values, instead of reading or
writing out of bounds. Arrays a kernel only reads are copied into C order when they are
not already C-contiguous, aligned and in native byte order (the result is the same,
just slower); arrays a kernel writes into must already be so, since a copy would drop
the result.

Inline functions only, so cimporting this file needs no module at run time.
"""
cimport numpy as cnp

cdef extern from *:
    """
    #ifdef TGR_DEBUG_BUILD
    #define TGR_BOUNDS_CHECKED 1
    #else
    #define TGR_BOUNDS_CHECKED 0
    #endif
    static int tgr_probing = 0;  /* one per module that cimports this file */
    """
    # True in the TINYGRAD_RELU_DEBUG=1 build, whose memoryview indexing is bounds-checked
    bint TGR_BOUNDS_CHECKED
    # Set only while run_bounds_probe runs (debug build): the module's defs then hand their
    # kernels one array one element (or image, or row) short, which the checks never let through.
    bint probing "tgr_probing"

cdef enum:
    ANY_FLOAT = -1
    # Window sizes, strides, dilations, pads and output sizes are refused above this: it keeps
    # products such as i * stride + a * dilation far from Py_ssize_t overflow, and flat
    # spatial indices fit the int32 argmax arrays.
    SIZE_MAX_ALLOWED = 2147483647


cdef inline cnp.ndarray _as_array(str fn, str name, object obj):
    if not cnp.PyArray_Check(obj):
        raise TypeError(f"{fn}: {name} must be a numpy array, got {type(obj).__name__}")
    return <cnp.ndarray>obj


cdef inline int _check_type(str fn, str name, cnp.ndarray a, int typenum, str like) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if typenum == ANY_FLOAT:
        if t != cnp.NPY_FLOAT and t != cnp.NPY_DOUBLE:
            raise TypeError(f"{fn}: {name} must be float32 or float64, got {a.dtype}")
    elif t != typenum:
        wanted = cnp.PyArray_DescrFromType(typenum)
        raise TypeError(f"{fn}: {name} must be {wanted}{' like ' + like if like else ''}, got {a.dtype}")
    return t


cdef inline cnp.ndarray readable(str fn, str name, object obj, int typenum=ANY_FLOAT, str like=None):
    """obj as an array a kernel may read flat: C order, aligned, native byte order (copied if not)."""
    cdef cnp.ndarray a = _as_array(fn, name, obj)
    cdef int t = _check_type(fn, name, a, typenum, like)
    if cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISBEHAVED_RO(a):
        return a
    return cnp.PyArray_FROM_OTF(a, t, cnp.NPY_ARRAY_IN_ARRAY)


cdef inline cnp.ndarray writable(str fn, str name, object obj, int typenum, str like=None):
    """obj, which a kernel writes into in place: it must be C-contiguous, aligned, writeable, native order."""
    cdef cnp.ndarray a = _as_array(fn, name, obj)
    _check_type(fn, name, a, typenum, like)
    if cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISBEHAVED(a):
        return a
    problems = [what for what, bad in (("not C-contiguous", not cnp.PyArray_IS_C_CONTIGUOUS(a)),
                                       ("read-only", not cnp.PyArray_ISWRITEABLE(a)),
                                       ("misaligned", not cnp.PyArray_ISALIGNED(a)),
                                       ("byte-swapped", not cnp.PyArray_ISNOTSWAPPED(a))) if bad]
    raise ValueError(f"{fn}: {name} is written in place, so it must be a C-contiguous, aligned, writeable "
                     f"array in native byte order; it is {', '.join(problems)}")


cdef inline tuple shape_of(cnp.ndarray a):
    return (<object>a).shape


cdef inline int check_ndim(str fn, str name, cnp.ndarray a, int ndim, str axes) except -1:
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{fn}: {name} must be {ndim}-D {axes}, got shape {shape_of(a)}")
    return 0


cdef inline int check_same_shape(str fn, str name, cnp.ndarray a, str other, cnp.ndarray b) except -1:
    if not cnp.PyArray_SAMESHAPE(a, b):
        raise ValueError(f"{fn}: {name} has shape {shape_of(a)} but {other} has shape {shape_of(b)}")
    return 0


cdef inline int check_range(str fn, str name, Py_ssize_t value, Py_ssize_t low,
                            Py_ssize_t high=SIZE_MAX_ALLOWED) except -1:
    if value < low or value > high:
        raise ValueError(f"{fn}: {name} must be in [{low}, {high}], got {value}")
    return 0


cdef inline bint product_overflows(Py_ssize_t a, Py_ssize_t b) noexcept:
    """a * b > PY_SSIZE_T_MAX, for a, b >= 0."""
    return a != 0 and b > (<Py_ssize_t>((<size_t>-1) >> 1)) // a


cdef inline object run_bounds_probe(str module, object fn, tuple args):
    """fn(*args), fn one of the module's defs, with ``probing`` set: its kernel then gets an
    array too short for its loop. In the debug build the out-of-bounds access must come out as
    IndexError, from serial and threaded loops alike; the release build has no bounds checks,
    so it refuses (RuntimeError) rather than corrupt memory."""
    global probing
    if not TGR_BOUNDS_CHECKED:
        raise RuntimeError(f"{module}.bounds_probe: this build has no bounds checks (build with "
                           f"TINYGRAD_RELU_DEBUG=1); the probe would write out of bounds")
    probing = True
    try:
        return fn(*args)
    finally:
        probing = False
