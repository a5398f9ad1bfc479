# cython: language_level=3
"""Activation kernels, forward and backward, float32 and float64: the elementwise ones and
the row-wise softmax family.

Each elementwise kernel is one contiguous 1-D loop over typed memoryviews, without the GIL
and without branches in the body: both sides of a piecewise function are computed and a
compare-select picks one, which gcc turns into packed compare/blend (or max) on SIMD
registers. Two habits keep that true:

* load every operand into a local first (``gv = g[i]``) so the select never guards a
  memory load: gcc will not speculate a load it cannot prove safe, so a guarded load
  keeps the branch (measured: such a relu backward ran as a scalar, branchy loop);
* compare against a typed local ``zero`` rather than a literal of another type, and keep
  every constant typed: a bare ``2`` is the double 2.0 in C and silently turns a float
  loop into float -> double -> float conversions.

Kernels know nothing of threads: the drivers in activation_drivers.pxd call one on the whole
array, or once per thread on a slice from ``PARALLEL_MIN_CHEAP`` elements (the memory-bound
relu family) or ``PARALLEL_MIN_COSTLY`` (exp/tanh/erf), both measured on 2 cores with
benchmarks/bench_activations.py --thresholds. exp, tanh and erfc are fastmath.h's, which
vectorize (libm's are opaque calls that keep a loop scalar). The ``def`` functions at the
bottom take float32/float64 arrays of any shape and layout (copied into C order if need be),
check them (kernel_args.pxd), allocate the output and hand the driver flat views (the softmax
family: the rows of the last axis). Kernels return 0, or -1 with IndexError set when the debug
build's bounds checks catch an index, so the error reaches the caller from threaded loops too.
NaN propagates through every forward (relu(nan) is nan, as in PyTorch). ReLU'(0) = 0.
"""
cimport numpy as cnp
from cython cimport floating
from libc.math cimport INFINITY

from activation_drivers cimport Settings, no_settings, forward_pass, backward_pass
from fastmath cimport fast_exp, fast_expm1, fast_log1p_unit, fast_tanh, fast_erfc, gelu_slope, libm_log, absolute, map_primitive
from kernel_args cimport run_bounds_probe
from row_reductions cimport row_dot, row_max, row_sum, row_exp_sum, check_row_fits

import numpy as np

cnp.import_array()

cdef Py_ssize_t PARALLEL_MIN_CHEAP = 131_072
cdef Py_ssize_t PARALLEL_MIN_COSTLY = 16_384

cdef double SQRT1_2 = 0.70710678118654752440         # 1/sqrt(2)
cdef double SQRT_2_OVER_PI = 0.79788456080286535588  # sqrt(2/pi)
cdef double GELU_CUBIC = 0.044715
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def parallel_thresholds():
    """(cheap, costly): array sizes from which kernels use OpenMP threads."""
    return PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY


def set_parallel_thresholds(cheap, costly):
    """Override the OpenMP size thresholds (for measuring them; returns the old pair)."""
    global PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY
    old = (PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY)
    PARALLEL_MIN_CHEAP, PARALLEL_MIN_COSTLY = cheap, costly
    return old


cdef inline floating _sigmoid(floating v) noexcept nogil:
    # exp(-v) overflows to inf for v < -88 (float) and 1/(1+inf) is the correct 0.
    cdef floating one = 1
    return one / (one + fast_exp(-v))


cdef inline floating _softplus(floating v) noexcept nogil:
    # log(1+e^v) = max(v,0) + log1p(e^-|v|): never overflows, exact for large |v|.
    cdef floating zero = 0
    cdef floating pos = v if v > zero else zero
    return pos + fast_log1p_unit(fast_exp(-absolute(v)))


PRIMITIVES = ("exp", "expm1", "log1p", "tanh", "erfc")


def fast_math(name, x):
    """The kernels' exp, expm1, log1p, tanh or erfc (``name``) of a float32/float64 array: for
    testing their accuracy, and for reading their loops in `objdump -d` (one vectorized loop each)."""
    if name not in PRIMITIVES:
        raise ValueError(f"fast_math: unknown function {name!r}; choose from {PRIMITIVES}")
    x = np.asarray(x)
    x = np.require(x, np.float32 if x.dtype == np.float32 else np.float64, ("C", "A"))
    y = np.empty_like(x)
    if x.dtype == np.float32:
        map_primitive[float](x.reshape(-1), y.reshape(-1), PRIMITIVES.index(name))
    else:
        map_primitive[double](x.reshape(-1), y.reshape(-1), PRIMITIVES.index(name))
    return y


# ---- relu family: memory bound, the backward reads the saved output --------------------
cdef int relu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """y = max(x, 0); NaN stays NaN because the select keeps x unless x <= 0."""
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = zero if v <= zero else v
    return 0


cdef int relu_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                              const Settings* s) except -1 nogil:
    """gx = g where y > 0 (so ReLU'(0) = 0); like PyTorch, a NaN output passes g."""
    cdef Py_ssize_t i
    cdef floating gv, zero = 0
    for i in range(g.shape[0]):
        gv = g[i]
        gx[i] = zero if y[i] <= zero else gv
    return 0


cdef int leaky_relu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    cdef floating v, zero = 0, slope = <floating>s.slope
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = v if v > zero else slope * v
    return 0


cdef int leaky_relu_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                                    const Settings* s) except -1 nogil:
    """Valid for slope > 0, where y has the sign of x."""
    cdef Py_ssize_t i
    cdef floating gv, zero = 0, slope = <floating>s.slope
    for i in range(g.shape[0]):
        gv = g[i]
        gx[i] = gv if y[i] > zero else slope * gv
    return 0


cdef int clipped_relu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """y = min(max(x, 0), top): relu6 when top = 6. Each select keeps NaN."""
    cdef Py_ssize_t i
    cdef floating v, zero = 0, top = <floating>s.top
    for i in range(x.shape[0]):
        v = x[i]
        v = zero if v <= zero else v
        y[i] = top if v > top else v
    return 0


cdef int clipped_relu_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                                      const Settings* s) except -1 nogil:
    """gx = g where 0 < y < top (PyTorch's hardtanh rule: 0 at both corners)."""
    cdef Py_ssize_t i
    cdef floating gv, yv, zero = 0, top = <floating>s.top
    for i in range(g.shape[0]):
        gv = g[i]
        yv = y[i]
        gx[i] = zero if (yv <= zero) | (yv >= top) else gv
    return 0


cdef int relu_general_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """Keras' relu: x > threshold -> clip(x, low, top); else slope * (x - threshold).

    Without max_value, (low, top) = (-inf, inf). With slope 0 the lower branch is a plain
    0, not 0 * (x - threshold), which would turn x = -inf into NaN.
    """
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v, c, zero = 0
    cdef floating slope = <floating>s.slope, threshold = <floating>s.threshold
    cdef floating low = <floating>s.low, top = <floating>s.top
    if slope == zero:
        for i in range(n):
            v = x[i]
            c = low if v < low else v
            c = top if c > top else c
            y[i] = zero if v <= threshold else c
    else:
        for i in range(n):
            v = x[i]
            c = low if v < low else v
            c = top if c > top else c
            y[i] = c if v > threshold else slope * (v - threshold)
    return 0


cdef int relu_general_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                                      const Settings* s) except -1 nogil:
    """dy/dx = slope below the threshold, 1 inside (low, top), 0 where clipped."""
    cdef Py_ssize_t i
    cdef floating v, gv, inside, zero = 0
    cdef floating slope = <floating>s.slope, threshold = <floating>s.threshold
    cdef floating low = <floating>s.low, top = <floating>s.top
    cdef bint unbounded = top == INFINITY
    for i in range(g.shape[0]):
        gv = g[i]
        v = x[i]
        inside = gv if (v > low) & ((v < top) | unbounded) else zero
        gx[i] = slope * gv if v <= threshold else inside
    return 0


cdef int hard_sigmoid_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """Keras 3: relu6(x + 3) / 6.

    The 6 comes from the settings (s.top = 6): with a literal 6, gcc knew that a value clipped
    to 0 is not above 6, merged the two clips into a select tree, and the loop ran 1.45x slower
    than this compare-select, minps and divps.
    """
    cdef Py_ssize_t i
    cdef floating v, zero = 0, three = 3, six = <floating>s.top
    for i in range(x.shape[0]):
        v = x[i] + three
        v = zero if v <= zero else v
        v = six if v > six else v
        y[i] = v / six
    return 0


cdef int hard_sigmoid_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                                      const Settings* s) except -1 nogil:
    """dy/dx = 1/6 where -3 < x < 3, else 0. Reads x, not y: just below 3, x + 3 rounds to 6
    and y to exactly 1, although the slope there is still 1/6."""
    cdef Py_ssize_t i
    cdef floating gv, xv, zero = 0, three = 3, six = 6
    for i in range(g.shape[0]):
        gv = g[i] / six
        xv = x[i]
        gx[i] = gv if (xv > -three) & (xv < three) else zero
    return 0


cdef int softsign_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    cdef floating v, one = 1
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = v / (one + absolute(v))
    return 0


cdef int softsign_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                                  const Settings* s) except -1 nogil:
    """d/dx x/(1+|x|) = 1/(1+|x|)^2 (read from x: 1-|y| would cancel for large |x|)."""
    cdef Py_ssize_t i
    cdef floating d, one = 1
    for i in range(g.shape[0]):
        d = one + absolute(x[i])
        gx[i] = g[i] / (d * d)
    return 0


# ---- smooth activations: compute bound (exp, tanh, erf) ---------------------------------
cdef int elu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """scale * (x if x > 0 else alpha * (e^x - 1)); selu is scale, alpha fixed."""
    cdef Py_ssize_t i
    cdef floating v, neg, zero = 0, alpha = <floating>s.alpha, scale = <floating>s.scale
    for i in range(x.shape[0]):
        v = x[i]
        neg = alpha * fast_expm1(v)
        y[i] = scale * (v if v > zero else neg)
    return 0


cdef int elu_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                             const Settings* s) except -1 nogil:
    """dy/dx = scale if x > 0 else scale * alpha * e^x (PyTorch's side at x = 0)."""
    cdef Py_ssize_t i
    cdef floating v, gv, neg, zero = 0, alpha = <floating>s.alpha, scale = <floating>s.scale
    for i in range(g.shape[0]):
        v = x[i]
        gv = g[i] * scale
        neg = gv * alpha * fast_exp(v)
        gx[i] = gv if v > zero else neg
    return 0


cdef int gelu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """x * Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2.

    erfc rather than PyTorch's 1 + erf(x / sqrt 2): same values, but no cancellation for
    x << 0, where 1 + erf loses all but a few digits (x = -6: 1e-7 relative error).
    """
    cdef Py_ssize_t i
    cdef floating v, half = 0.5, c = SQRT1_2
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = half * v * fast_erfc(-v * c)
    return 0


cdef int gelu_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                              const Settings* s) except -1 nogil:
    """dy/dx = Phi(x) + x * phi(x) (gelu_slope: phi shares erfc's exp)."""
    cdef Py_ssize_t i
    cdef floating gv
    for i in range(g.shape[0]):
        gv = g[i]
        gx[i] = gv * gelu_slope(x[i])
    return 0


cdef int gelu_tanh_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """x/2 * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3), computed as x * sigmoid(2u).

    (1 + tanh u)/2 = sigmoid(2u) exactly; the sigmoid form needs one exp instead of a tanh
    and, unlike 1 + tanh(u), does not cancel for x << 0.
    """
    cdef Py_ssize_t i
    cdef floating v, two_k = 2 * SQRT_2_OVER_PI, c = GELU_CUBIC
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = v * _sigmoid(two_k * (v + c * v * v * v))
    return 0


cdef int gelu_tanh_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                                   const Settings* s) except -1 nogil:
    """dy/dx = s + 2 x s (1 - s) u', s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    cdef Py_ssize_t i
    # Typed constants only: a bare 2 here became the double 2.0 in C and turned the float
    # kernel into float -> double -> float conversions (2.5x slower).
    cdef floating v, sg, one = 1, three = 3, c = GELU_CUBIC
    cdef floating two_k = 2 * SQRT_2_OVER_PI
    for i in range(g.shape[0]):
        v = x[i]
        sg = _sigmoid(two_k * (v + c * v * v * v))
        gx[i] = g[i] * (sg + two_k * v * sg * (one - sg) * (one + three * c * v * v))
    return 0


cdef int silu_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = v * _sigmoid(v)
    return 0


cdef int silu_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                              const Settings* s) except -1 nogil:
    """dy/dx = s * (1 + x * (1 - s)), s = sigmoid(x)."""
    cdef Py_ssize_t i
    cdef floating v, sg, one = 1
    for i in range(g.shape[0]):
        v = x[i]
        sg = _sigmoid(v)
        gx[i] = g[i] * sg * (one + v * (one - sg))
    return 0


cdef int sigmoid_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        y[i] = _sigmoid(x[i])
    return 0


cdef int sigmoid_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                                 const Settings* s) except -1 nogil:
    """dy/dx = y (1 - y): reads the output, no exp."""
    cdef Py_ssize_t i
    cdef floating yv, one = 1
    for i in range(g.shape[0]):
        yv = y[i]
        gx[i] = g[i] * yv * (one - yv)
    return 0


cdef int tanh_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        y[i] = fast_tanh(x[i])
    return 0


cdef int tanh_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                              const Settings* s) except -1 nogil:
    """dy/dx = 1 - y^2: reads the output, no tanh."""
    cdef Py_ssize_t i
    cdef floating yv, one = 1
    for i in range(g.shape[0]):
        yv = y[i]
        gx[i] = g[i] * (one - yv * yv)
    return 0


cdef int softplus_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        y[i] = _softplus(x[i])
    return 0


cdef int softplus_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                                  const Settings* s) except -1 nogil:
    """dy/dx = sigmoid(x)."""
    cdef Py_ssize_t i
    for i in range(g.shape[0]):
        gx[i] = g[i] * _sigmoid(x[i])
    return 0


cdef inline floating _mish_tanh(floating n) noexcept nogil:
    # tanh(softplus(v)) from n = e^v, with no log or tanh: e^softplus = 1 + n, so
    # tanh(log(1 + n)) = ((1+n)^2 - 1)/((1+n)^2 + 1) = w/(w + 2), w = n (n + 2).
    # No cancellation for v << 0 (w ~ 2n).
    cdef floating two = 2
    cdef floating w = n * (n + two)
    return w / (w + two)


cdef inline floating _exp_upto_40(floating v) noexcept nogil:
    # e^min(v, 40): at 40, tanh(softplus) and sigmoid are 1 in double, and w = e^80 still
    # fits a float. The compare is false for NaN, which passes through.
    cdef floating top = 40
    return fast_exp(top if v > top else v)


cdef int mish_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = v * _mish_tanh(_exp_upto_40(v))
    return 0


cdef int mish_backward_kernel(const floating[::1] g, const floating[::1] x, floating[::1] gx,
                              const Settings* s) except -1 nogil:
    """dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x)); one exp: sigmoid = e/(1+e)."""
    cdef Py_ssize_t i
    cdef floating v, e, t, one = 1
    for i in range(g.shape[0]):
        v = x[i]
        e = _exp_upto_40(v)
        t = _mish_tanh(e)
        gx[i] = g[i] * (t + v * (one - t * t) * (e / (one + e)))
    return 0


# ---- softmax over the last axis: rows of s.row_length elements, one after the other ----------
# Row sums, maxima and the exponential passes come from row_reductions.pxd (rowmath.h): in a fixed
# order, so vectorized alike in every build, the last partial block of a row included.
cdef int softmax_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """y = e^(x - max) / sum(e^(x - max)) per row."""
    cdef Py_ssize_t r, j, start, cols = s.row_length
    cdef floating inv, one = 1
    for r in range(x.shape[0] // cols):
        start = r * cols
        check_row_fits(start + cols, y.shape[0])
        inv = one / row_exp_sum(x, y, start, start + cols, row_max(x, start, start + cols))
        for j in range(start, start + cols):
            y[j] = y[j] * inv
    return 0


cdef int softmax_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                                 const Settings* s) except -1 nogil:
    """gx = y * (g - sum(g * y)) per row."""
    cdef Py_ssize_t r, j, start, cols = s.row_length
    cdef floating dot
    for r in range(g.shape[0] // cols):
        start = r * cols
        dot = row_dot(g, y, start, start + cols)
        for j in range(start, start + cols):
            gx[j] = y[j] * (g[j] - dot)
    return 0


cdef int log_softmax_kernel(const floating[::1] x, floating[::1] y, const Settings* s) except -1 nogil:
    """y = x - max - log(sum(e^(x - max))) per row."""
    cdef Py_ssize_t r, j, start, cols = s.row_length
    cdef floating m, shift
    for r in range(x.shape[0] // cols):
        start = r * cols
        m = row_max(x, start, start + cols)
        check_row_fits(start + cols, y.shape[0])
        shift = m + libm_log(row_exp_sum(x, y, start, start + cols, m))  # y: scratch for the exponentials
        for j in range(start, start + cols):
            y[j] = x[j] - shift
    return 0


cdef int log_softmax_backward_kernel(const floating[::1] g, const floating[::1] y, floating[::1] gx,
                                     const Settings* s) except -1 nogil:
    """gx = g - e^y * sum(g) per row (e^y is the softmax)."""
    cdef Py_ssize_t r, j, start, cols = s.row_length
    cdef floating total
    for r in range(g.shape[0] // cols):
        start = r * cols
        total = row_sum(g, start, start + cols)
        for j in range(start, start + cols):
            gx[j] = g[j] - fast_exp(y[j]) * total
    return 0


# ---- Python entry points: the kernel, its threshold, its settings (the rest: forward_pass) ----
cdef Settings NONE = no_settings()  # the defaults; a def copies it and sets the fields its kernel reads


def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's kernel defs, with the output
    handed to its kernel one element short. The kernel's out-of-bounds write must come out
    as IndexError. The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("activations", fn, args)


def relu_forward(x):
    return forward_pass("relu_forward", x, relu_kernel[float], relu_kernel[double], PARALLEL_MIN_CHEAP, NONE)


def relu_backward(g, y):
    return backward_pass("relu_backward", g, "y", y, relu_backward_kernel[float], relu_backward_kernel[double],
                          PARALLEL_MIN_CHEAP, NONE)


def leaky_relu_forward(x, double negative_slope):
    cdef Settings s = NONE
    s.slope = negative_slope
    return forward_pass("leaky_relu_forward", x, leaky_relu_kernel[float], leaky_relu_kernel[double],
                         PARALLEL_MIN_CHEAP, s)


def leaky_relu_backward(g, y, double negative_slope):
    """Needs negative_slope > 0 (y then has the sign of x)."""
    cdef Settings s = NONE
    s.slope = negative_slope
    return backward_pass("leaky_relu_backward", g, "y", y, leaky_relu_backward_kernel[float],
                          leaky_relu_backward_kernel[double], PARALLEL_MIN_CHEAP, s)


def clipped_relu_forward(x, double max_value):
    cdef Settings s = NONE
    s.top = max_value
    return forward_pass("clipped_relu_forward", x, clipped_relu_kernel[float], clipped_relu_kernel[double],
                         PARALLEL_MIN_CHEAP, s)


def clipped_relu_backward(g, y, double max_value):
    cdef Settings s = NONE
    s.top = max_value
    return backward_pass("clipped_relu_backward", g, "y", y, clipped_relu_backward_kernel[float],
                          clipped_relu_backward_kernel[double], PARALLEL_MIN_CHEAP, s)


cdef Settings _keras_relu(double negative_slope, object max_value, double threshold) except *:
    cdef Settings s = NONE
    s.slope, s.threshold = negative_slope, threshold
    if max_value is not None:  # without it nothing is clipped: (low, top) stay (-inf, inf)
        s.low, s.top = 0.0, float(max_value)
    return s


def relu_general_forward(x, double negative_slope, max_value, double threshold):
    """Keras relu with any negative_slope, max_value (None for none) and threshold."""
    return forward_pass("relu_general_forward", x, relu_general_kernel[float], relu_general_kernel[double],
                         PARALLEL_MIN_CHEAP, _keras_relu(negative_slope, max_value, threshold))


def relu_general_backward(g, x, double negative_slope, max_value, double threshold):
    return backward_pass("relu_general_backward", g, "x", x, relu_general_backward_kernel[float],
                          relu_general_backward_kernel[double], PARALLEL_MIN_CHEAP,
                          _keras_relu(negative_slope, max_value, threshold))


def elu_forward(x, double alpha=1.0, double scale=1.0):
    cdef Settings s = NONE
    s.alpha, s.scale = alpha, scale
    return forward_pass("elu_forward", x, elu_kernel[float], elu_kernel[double], PARALLEL_MIN_COSTLY, s)


def elu_backward(g, x, double alpha=1.0, double scale=1.0):
    cdef Settings s = NONE
    s.alpha, s.scale = alpha, scale
    return backward_pass("elu_backward", g, "x", x, elu_backward_kernel[float], elu_backward_kernel[double],
                          PARALLEL_MIN_COSTLY, s)


def gelu_forward(x, bint approximate=False):
    if approximate:
        return forward_pass("gelu_forward", x, gelu_tanh_kernel[float], gelu_tanh_kernel[double],
                             PARALLEL_MIN_COSTLY, NONE)
    return forward_pass("gelu_forward", x, gelu_kernel[float], gelu_kernel[double], PARALLEL_MIN_COSTLY, NONE)


def gelu_backward(g, x, bint approximate=False):
    if approximate:
        return backward_pass("gelu_backward", g, "x", x, gelu_tanh_backward_kernel[float],
                              gelu_tanh_backward_kernel[double], PARALLEL_MIN_COSTLY, NONE)
    return backward_pass("gelu_backward", g, "x", x, gelu_backward_kernel[float], gelu_backward_kernel[double],
                          PARALLEL_MIN_COSTLY, NONE)


def silu_forward(x):
    return forward_pass("silu_forward", x, silu_kernel[float], silu_kernel[double], PARALLEL_MIN_COSTLY, NONE)


def silu_backward(g, x):
    return backward_pass("silu_backward", g, "x", x, silu_backward_kernel[float], silu_backward_kernel[double],
                          PARALLEL_MIN_COSTLY, NONE)


def sigmoid_forward(x):
    return forward_pass("sigmoid_forward", x, sigmoid_kernel[float], sigmoid_kernel[double], PARALLEL_MIN_COSTLY,
                         NONE)


def sigmoid_backward(g, y):
    return backward_pass("sigmoid_backward", g, "y", y, sigmoid_backward_kernel[float],
                          sigmoid_backward_kernel[double], PARALLEL_MIN_CHEAP, NONE)


def hard_sigmoid_forward(x):
    cdef Settings s = NONE
    s.top = 6
    return forward_pass("hard_sigmoid_forward", x, hard_sigmoid_kernel[float], hard_sigmoid_kernel[double],
                         PARALLEL_MIN_CHEAP, s)


def hard_sigmoid_backward(g, x):
    return backward_pass("hard_sigmoid_backward", g, "x", x, hard_sigmoid_backward_kernel[float],
                          hard_sigmoid_backward_kernel[double], PARALLEL_MIN_CHEAP, NONE)


def tanh_forward(x):
    return forward_pass("tanh_forward", x, tanh_kernel[float], tanh_kernel[double], PARALLEL_MIN_COSTLY, NONE)


def tanh_backward(g, y):
    return backward_pass("tanh_backward", g, "y", y, tanh_backward_kernel[float], tanh_backward_kernel[double],
                          PARALLEL_MIN_CHEAP, NONE)


def softplus_forward(x):
    return forward_pass("softplus_forward", x, softplus_kernel[float], softplus_kernel[double],
                         PARALLEL_MIN_COSTLY, NONE)


def softplus_backward(g, x):
    return backward_pass("softplus_backward", g, "x", x, softplus_backward_kernel[float],
                          softplus_backward_kernel[double], PARALLEL_MIN_COSTLY, NONE)


def softsign_forward(x):
    return forward_pass("softsign_forward", x, softsign_kernel[float], softsign_kernel[double],
                         PARALLEL_MIN_CHEAP, NONE)


def softsign_backward(g, x):
    return backward_pass("softsign_backward", g, "x", x, softsign_backward_kernel[float],
                          softsign_backward_kernel[double], PARALLEL_MIN_CHEAP, NONE)


def mish_forward(x):
    return forward_pass("mish_forward", x, mish_kernel[float], mish_kernel[double], PARALLEL_MIN_COSTLY, NONE)


def mish_backward(g, x):
    return backward_pass("mish_backward", g, "x", x, mish_backward_kernel[float], mish_backward_kernel[double],
                          PARALLEL_MIN_COSTLY, NONE)


def softmax_forward(x):
    """Softmax over the last axis."""
    return forward_pass("softmax_forward", x, softmax_kernel[float], softmax_kernel[double], PARALLEL_MIN_COSTLY,
                         NONE, rows=True)


def softmax_backward(g, y):
    return backward_pass("softmax_backward", g, "y", y, softmax_backward_kernel[float],
                          softmax_backward_kernel[double], PARALLEL_MIN_CHEAP, NONE, rows=True)


def log_softmax_forward(x):
    """Log-softmax over the last axis."""
    return forward_pass("log_softmax_forward", x, log_softmax_kernel[float], log_softmax_kernel[double],
                         PARALLEL_MIN_COSTLY, NONE, rows=True)


def log_softmax_backward(g, y):
    return backward_pass("log_softmax_backward", g, "y", y, log_softmax_backward_kernel[float],
                          log_softmax_backward_kernel[double], PARALLEL_MIN_COSTLY, NONE, rows=True)
