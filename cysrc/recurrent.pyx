# cython: language_level=3
"""Recurrent kernels: the time loops of SimpleRNN, LSTM and GRU (Keras 3's equations and gate
orders), forward and backward through time, over a whole sequence in one call.

What the caller (tinygrad_relu/ops/recurrent.py) has already done: the input projections of
every step in one GEMM, ``xw = x @ kernel + bias`` of shape (T, N, G) (time-major), G = gates * units.
What is left is inherently sequential: per step t one GEMM with the previous state,
``rz = h[t] @ recurrent_kernel`` (numpy's dot on BLAS, called from here through numpy's C API,
so the loop never returns to Python), then the gate arithmetic, elementwise, in C.

Layouts. States are time-major, ``hs[t]`` (and ``cs[t]``, the LSTM's carry) of shape (N, U)
with ``hs[0]`` the initial state and ``hs[t + 1]`` the state after step t, so every GEMM
operand is one contiguous block and the weight gradient is a single GEMM over all steps
afterwards. ``gates[t]`` keeps what backward reads: the activated gates (LSTM: i, f, g, o;
GRU: z, r, hh and the recurrent candidate part rh; SimpleRNN needs only hs). ``dz[t]`` is the
gradient of the step's pre-activations, which the caller turns into the gradients of xw, the
kernel, the bias and (via ``hs``) the recurrent kernel.

Masks (Keras' ``backend.rnn``): where ``mask[n, t]`` is 0 the step is skipped for that sample:
its states are copied on, and its output is the previous step's output (0 at the first step),
or 0 with ``zero_output``. ``out`` holds every step's output (N, T, U) with ``sequences``,
else the last one only (N, 1, U).

Activations are codes into ``ACTIVATIONS``; their derivatives are read from their outputs
(tanh' = 1 - y^2, sigmoid' = y (1 - y), relu' = [y > 0], linear' = 1). Every ``def`` checks
its arguments (kernel_args.pxd) before the loop; the loops index typed memoryviews, so the
debug build bounds-checks every access.
"""
cimport numpy as cnp
from cython cimport floating

from fastmath cimport fast_exp, fast_tanh
from kernel_args cimport (ANY_FLOAT, readable, writable, check_ndim, shape_of, probing, run_bounds_probe)

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    # numpy's dot(a, b, out): BLAS for 2-D float arrays (a transposed view costs no copy)
    object PyArray_MatrixProduct2(object a, object b, cnp.ndarray out)

ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu")
cdef enum:
    LINEAR = 0
    TANH = 1
    SIGMOID = 2
    RELU = 3


# The helpers index (t, n, j) into 3-D memoryviews rather than take slices: a memoryview slice costs
# a reference count update, and the steps run N times per timestep (measured: a quarter of the time).
cdef int _activate(floating[:, :, ::1] v, Py_ssize_t t, Py_ssize_t n, Py_ssize_t start, Py_ssize_t count,
                   int code) except -1 nogil:
    """v[t, n, start:start+count] = act(v[...]) in place; one loop per activation, so each vectorizes."""
    cdef Py_ssize_t j
    cdef floating x, zero = 0, one = 1
    if code == TANH:
        for j in range(start, start + count):
            v[t, n, j] = fast_tanh(v[t, n, j])
    elif code == SIGMOID:
        for j in range(start, start + count):  # exp(-x) overflows to inf for x < -88 (float): 1/(1 + inf) = 0
            v[t, n, j] = one / (one + fast_exp(-v[t, n, j]))
    elif code == RELU:
        for j in range(start, start + count):
            x = v[t, n, j]
            v[t, n, j] = zero if x <= zero else x  # NaN stays NaN
    return 0


cdef int _times_slope(floating[:, :, ::1] g, Py_ssize_t tg, Py_ssize_t ng, Py_ssize_t gstart,
                      const floating[:, :, ::1] y, Py_ssize_t ty, Py_ssize_t ny, Py_ssize_t ystart,
                      Py_ssize_t count, int code) except -1 nogil:
    """g[tg, ng, gstart + j] *= act'(x), read from the activation's output y[ty, ny, ystart + j] = act(x)."""
    cdef Py_ssize_t j
    cdef floating v, zero = 0, one = 1
    if code == TANH:
        for j in range(count):
            v = y[ty, ny, ystart + j]
            g[tg, ng, gstart + j] = g[tg, ng, gstart + j] * (one - v * v)
    elif code == SIGMOID:
        for j in range(count):
            v = y[ty, ny, ystart + j]
            g[tg, ng, gstart + j] = g[tg, ng, gstart + j] * (v * (one - v))
    elif code == RELU:
        for j in range(count):
            g[tg, ng, gstart + j] = g[tg, ng, gstart + j] if y[ty, ny, ystart + j] > zero else zero
    return 0


cdef int _skip(floating[:, :, ::1] states, Py_ssize_t n, Py_ssize_t t) except -1 nogil:
    """A masked step: sample n's state passes on unchanged."""
    cdef Py_ssize_t j
    for j in range(states.shape[2]):
        states[t + 1, n, j] = states[t, n, j]
    return 0


cdef int _zero(floating[:, :, ::1] a, Py_ssize_t t, Py_ssize_t n) except -1 nogil:
    cdef Py_ssize_t j
    cdef floating zero = 0
    for j in range(a.shape[2]):
        a[t, n, j] = zero
    return 0


cdef int _emit(floating[:, :, ::1] out, const floating[:, :, ::1] hs, Py_ssize_t n, Py_ssize_t t, bint real,
               bint zero_output, bint sequences) except -1 nogil:
    """Step t's output for sample n: its new state, or on a masked step the previous output (0 at t = 0) or 0."""
    cdef Py_ssize_t j, k = t if sequences else 0
    cdef floating zero = 0
    if real:
        for j in range(out.shape[2]):
            out[n, k, j] = hs[t + 1, n, j]
    elif zero_output or (sequences and t == 0):
        for j in range(out.shape[2]):
            out[n, k, j] = zero
    elif sequences:
        for j in range(out.shape[2]):
            out[n, k, j] = out[n, k - 1, j]
    return 0


# ---- forward: one step of each cell, on every sample n ---------------------------------------------
cdef int _lstm_step(const floating[:, ::1] rz, floating[:, :, ::1] gates, floating[:, :, ::1] hs,
                    floating[:, :, ::1] cs, const unsigned char[:, ::1] mask, floating[:, :, ::1] out, Py_ssize_t t,
                    int act, int rec, bint zero_output, bint sequences) except -1 nogil:
    """i, f, o = rec(z_i, z_f, z_o), g = act(z_g), z = xw[t] + h[t] R (xw[t] in gates[t] on entry, the gates
    on exit);  c' = f c + i g,  h' = o act(c')"""
    cdef Py_ssize_t n, j, U = hs.shape[2]
    for n in range(rz.shape[0]):
        if not mask[n, t]:
            _zero(gates, t, n)
            _skip(hs, n, t)
            _skip(cs, n, t)
            _emit(out, hs, n, t, False, zero_output, sequences)
            continue
        for j in range(4 * U):
            gates[t, n, j] = gates[t, n, j] + rz[n, j]
        _activate(gates, t, n, 0, 2 * U, rec)
        _activate(gates, t, n, 2 * U, U, act)
        _activate(gates, t, n, 3 * U, U, rec)
        for j in range(U):
            cs[t + 1, n, j] = gates[t, n, U + j] * cs[t, n, j] + gates[t, n, j] * gates[t, n, 2 * U + j]
            hs[t + 1, n, j] = cs[t + 1, n, j]
        _activate(hs, t + 1, n, 0, U, act)
        for j in range(U):
            hs[t + 1, n, j] = gates[t, n, 3 * U + j] * hs[t + 1, n, j]
        _emit(out, hs, n, t, True, zero_output, sequences)
    return 0


cdef int _gru_step(const floating[:, :, ::1] xw, const floating[:, ::1] rz, const floating[::1] brec,
                   floating[:, :, ::1] gates, floating[:, :, ::1] hs, const unsigned char[:, ::1] mask,
                   floating[:, :, ::1] out, Py_ssize_t t, int act, int rec, bint zero_output,
                   bint sequences) except -1 nogil:
    """reset_after: z, r = rec(xw_z + rz_z + b_z, xw_r + rz_r + b_r), rh = rz_h + b_h,
    hh = act(xw_h + r rh);  h' = z h + (1 - z) hh.  gates[t] keeps z, r, hh, rh."""
    cdef Py_ssize_t n, j, U = hs.shape[2]
    cdef floating z, one = 1
    for n in range(rz.shape[0]):
        if not mask[n, t]:
            _zero(gates, t, n)
            _skip(hs, n, t)
            _emit(out, hs, n, t, False, zero_output, sequences)
            continue
        for j in range(2 * U):
            gates[t, n, j] = xw[t, n, j] + rz[n, j] + brec[j]
        for j in range(U):
            gates[t, n, 3 * U + j] = rz[n, 2 * U + j] + brec[2 * U + j]
        _activate(gates, t, n, 0, 2 * U, rec)
        for j in range(U):
            gates[t, n, 2 * U + j] = xw[t, n, 2 * U + j] + gates[t, n, U + j] * gates[t, n, 3 * U + j]
        _activate(gates, t, n, 2 * U, U, act)
        for j in range(U):
            z = gates[t, n, j]
            hs[t + 1, n, j] = z * hs[t, n, j] + (one - z) * gates[t, n, 2 * U + j]
        _emit(out, hs, n, t, True, zero_output, sequences)
    return 0


cdef int _simple_step(const floating[:, :, ::1] xw, const floating[:, ::1] rz, floating[:, :, ::1] hs,
                      const unsigned char[:, ::1] mask, floating[:, :, ::1] out, Py_ssize_t t, int act,
                      bint zero_output, bint sequences) except -1 nogil:
    """h' = act(xw[t] + h[t] R)"""
    cdef Py_ssize_t n, j, U = hs.shape[2]
    for n in range(rz.shape[0]):
        if not mask[n, t]:
            _skip(hs, n, t)
            _emit(out, hs, n, t, False, zero_output, sequences)
            continue
        for j in range(U):
            hs[t + 1, n, j] = xw[t, n, j] + rz[n, j]
        _activate(hs, t + 1, n, 0, U, act)
        _emit(out, hs, n, t, True, zero_output, sequences)
    return 0


# ---- backward: one step, t descending ----------------------------------------------------------
cdef int _incoming(const floating[:, :, ::1] dout, floating[:, ::1] carry, floating[:, ::1] dh,
                   const floating[:, ::1] rec, floating[:, :, ::1] g, Py_ssize_t n, Py_ssize_t t, bint real,
                   bint zero_output, bint sequences) except -1 nogil:
    """The gradient reaching state h_t of sample n, into g[0, 0]. g_out, the gradient of step t's output, is
    dout[t] (with sequences) plus ``carry``, what later masked steps passed back to it (their output copied
    this one). The state's gradient is dh (from the final state, through later masked steps) + rec (step
    t + 1's recurrent GEMM), + g_out on a real step; a masked step passes it all on to t - 1 in dh, and
    g_out on in carry (or drops it: its output was 0)."""
    cdef Py_ssize_t j
    cdef floating g_out, zero = 0
    for j in range(dh.shape[1]):
        g_out = carry[n, j] + (dout[n, t, j] if sequences else zero)
        if real:
            g[0, 0, j] = dh[n, j] + rec[n, j] + g_out
            carry[n, j] = zero
        else:
            dh[n, j] = dh[n, j] + rec[n, j]
            carry[n, j] = zero if zero_output else g_out
    return 0


cdef inline floating _slope(floating y, int code) noexcept nogil:
    """The activation's derivative read from its output y: cheap arithmetic, which the compiler turns into
    selects, so the loops that call it still vectorize."""
    cdef floating zero = 0, one = 1
    if code == TANH:
        return one - y * y
    if code == SIGMOID:
        return y * (one - y)
    if code == RELU:
        return one if y > zero else zero
    return one


cdef int _lstm_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] gates, const floating[:, :, ::1] cs,
                    const unsigned char[:, ::1] mask, floating[:, :, ::1] dz, floating[:, ::1] dh,
                    floating[:, ::1] dc, const floating[:, ::1] rec, floating[:, ::1] carry, floating[:, :, ::1] work,
                    Py_ssize_t t, int act, int rec_act, bint zero_output, bint sequences) except -1 nogil:
    """h' = o a, a = act(c'):  do = dh' a,  dc' += dh' o act'(c');  c' = f c + i g:  di = dc' g,
    dg = dc' i,  df = dc' c,  dc = dc' f;  dz = (di rec'(i), df rec'(f), dg act'(g), do rec'(o)).
    work[0]: 0 = the incoming gradient dh', 1 = a."""
    cdef Py_ssize_t n, j, U = dh.shape[1]
    cdef floating g, a, i, f, gg, o, dcj, zero = 0
    for n in range(dh.shape[0]):
        if not mask[n, t]:
            _incoming(dout, carry, dh, rec, work, n, t, False, zero_output, sequences)
            _zero(dz, t, n)
            continue
        _incoming(dout, carry, dh, rec, work, n, t, True, zero_output, sequences)
        for j in range(U):
            work[0, 1, j] = cs[t + 1, n, j]
        _activate(work, 0, 1, 0, U, act)
        for j in range(U):
            g, a = work[0, 0, j], work[0, 1, j]
            i, f, gg, o = gates[t, n, j], gates[t, n, U + j], gates[t, n, 2 * U + j], gates[t, n, 3 * U + j]
            dcj = dc[n, j] + g * o * _slope(a, act)
            dz[t, n, j] = dcj * gg * _slope(i, rec_act)
            dz[t, n, U + j] = dcj * cs[t, n, j] * _slope(f, rec_act)
            dz[t, n, 2 * U + j] = dcj * i * _slope(gg, act)
            dz[t, n, 3 * U + j] = g * a * _slope(o, rec_act)
            dc[n, j] = dcj * f
            dh[n, j] = zero
    return 0


cdef int _gru_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] gates, const floating[:, :, ::1] hs,
                   const unsigned char[:, ::1] mask, floating[:, :, ::1] dxw, floating[:, :, ::1] drz,
                   floating[:, ::1] dh, const floating[:, ::1] rec, floating[:, ::1] carry, floating[:, :, ::1] work,
                   Py_ssize_t t, int act, int rec_act, bint zero_output, bint sequences) except -1 nogil:
    """h' = z h + (1 - z) hh:  dz = dh' (h - hh),  dhh = dh' (1 - z),  dh = dh' z (+ the GEMM part);
    hh = act(a), a = xw_h + r rh:  da = dhh act'(hh),  dr = da rh,  drh = da r;
    dxw = (dz rec'(z), dr rec'(r), da),  drz (the recurrent product's gradient) = (dxw_z, dxw_r, drh)"""
    cdef Py_ssize_t n, j, U = dh.shape[1]
    cdef floating z, g, one = 1
    for n in range(dh.shape[0]):
        if not mask[n, t]:
            _incoming(dout, carry, dh, rec, work, n, t, False, zero_output, sequences)
            _zero(dxw, t, n)
            _zero(drz, t, n)
            continue
        _incoming(dout, carry, dh, rec, work, n, t, True, zero_output, sequences)
        for j in range(U):
            z, g = gates[t, n, j], work[0, 0, j]
            dxw[t, n, j] = g * (hs[t, n, j] - gates[t, n, 2 * U + j])
            dxw[t, n, 2 * U + j] = g * (one - z)
            dh[n, j] = g * z
        _times_slope(dxw, t, n, 0, gates, t, n, 0, U, rec_act)
        _times_slope(dxw, t, n, 2 * U, gates, t, n, 2 * U, U, act)
        for j in range(U):
            dxw[t, n, U + j] = dxw[t, n, 2 * U + j] * gates[t, n, 3 * U + j]
            drz[t, n, 2 * U + j] = dxw[t, n, 2 * U + j] * gates[t, n, U + j]
        _times_slope(dxw, t, n, U, gates, t, n, U, U, rec_act)
        for j in range(2 * U):
            drz[t, n, j] = dxw[t, n, j]
    return 0


cdef int _simple_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] hs, const unsigned char[:, ::1] mask,
                      floating[:, :, ::1] dz, floating[:, ::1] dh, const floating[:, ::1] rec,
                      floating[:, ::1] carry, floating[:, :, ::1] work, Py_ssize_t t, int act, bint zero_output,
                      bint sequences) except -1 nogil:
    """h' = act(z):  dz = dh' act'(h')"""
    cdef Py_ssize_t n, j, U = dh.shape[1]
    cdef floating zero = 0
    for n in range(dh.shape[0]):
        if not mask[n, t]:
            _incoming(dout, carry, dh, rec, work, n, t, False, zero_output, sequences)
            _zero(dz, t, n)
            continue
        _incoming(dout, carry, dh, rec, work, n, t, True, zero_output, sequences)
        for j in range(U):
            dz[t, n, j] = work[0, 0, j]
            dh[n, j] = zero
        _times_slope(dz, t, n, 0, hs, t + 1, n, 0, U, act)
    return 0


# ---- the defs: check everything once, then run the whole time loop ------------------------------
cdef tuple _sizes(str fn, cnp.ndarray xw, cnp.ndarray kernel, int gates, str name="xw"):
    """(N, T, U) from xw (T, N, gates*U) and the recurrent kernel (U, gates*U)."""
    check_ndim(fn, name, xw, 3, "(timesteps, batch, gates*units)")
    check_ndim(fn, "recurrent_kernel", kernel, 2, "(units, gates*units)")
    cdef Py_ssize_t T = xw.shape[0], N = xw.shape[1], U = kernel.shape[0]
    if U < 1 or kernel.shape[1] != gates * U or xw.shape[2] != gates * U:
        raise ValueError(f"{fn}: recurrent_kernel must be (units, {gates}*units) and {name} (timesteps, batch, "
                         f"{gates}*units); got recurrent_kernel {shape_of(kernel)} and {name} {shape_of(xw)}")
    if T < 1:
        raise ValueError(f"{fn}: the sequence needs at least one timestep, got xw {shape_of(xw)}")
    return N, T, U


cdef cnp.ndarray _buffer(str fn, str name, object obj, int dtype, tuple shape):
    cdef cnp.ndarray a = writable(fn, name, obj, dtype, "the first argument")
    if shape_of(a) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape}, got {shape_of(a)}")
    return a


cdef cnp.ndarray _input(str fn, str name, object obj, int dtype, tuple shape):
    cdef cnp.ndarray a = readable(fn, name, obj, dtype, "the first argument")
    if shape_of(a) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape}, got {shape_of(a)}")
    return a


cdef cnp.ndarray _mask(str fn, object mask, Py_ssize_t N, Py_ssize_t T):
    """The mask as a (N, T) uint8 array (bool or uint8 accepted: 0 = skip the step)."""
    if not cnp.PyArray_Check(mask):
        raise TypeError(f"{fn}: mask must be a numpy array, got {type(mask).__name__}")
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>mask)
    if t != cnp.NPY_BOOL and t != cnp.NPY_UINT8:
        raise TypeError(f"{fn}: mask must be bool or uint8, got {mask.dtype}")
    cdef cnp.ndarray m = readable(fn, "mask", mask, t)
    if shape_of(m) != (N, T):
        raise ValueError(f"{fn}: mask must have shape {(N, T)} (batch, timesteps), got {shape_of(m)}")
    return m.view("uint8")


cdef int _code(str fn, str name, int code) except -1:
    if code < 0 or code >= 4:
        raise ValueError(f"{fn}: {name} must be a code 0-3 of {ACTIVATIONS}, got {code}")
    return 0


cdef cnp.ndarray _output(str fn, object out, int dtype, Py_ssize_t N, Py_ssize_t T, Py_ssize_t U, bint sequences,
                         str name="out"):
    return (_buffer if name == "out" else _input)(fn, name, out, dtype, (N, T if sequences else 1, U))


def lstm_forward(gates, recurrent_kernel, hs, cs, mask, out, int activation, int recurrent_activation,
                 bint zero_output, bint sequences):
    """Run an LSTM over the sequence. In: gates (T, N, 4U) holding xw, the input projections (with the bias);
    recurrent_kernel (U, 4U), hs[0] and cs[0] (the initial states, in hs (T+1, N, U) and cs (T+1, N, U)),
    mask (N, T). Out: hs[1:], cs[1:], the activated gates i, f, g, o in ``gates``, out (N, T, U) with
    ``sequences``, else (N, 1, U)."""
    cdef str fn = "lstm_forward"
    cdef cnp.ndarray ga = writable(fn, "gates", gates, ANY_FLOAT)
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "gates")
    N, T, U = _sizes(fn, ga, ra, 4, "gates")
    cdef cnp.ndarray ha = _buffer(fn, "hs", hs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ca = _buffer(fn, "cs", cs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray oa = _output(fn, out, dtype, N, T, U, sequences)
    _code(fn, "activation", activation)
    _code(fn, "recurrent_activation", recurrent_activation)
    cdef cnp.ndarray rz = cnp.PyArray_EMPTY(2, [N, 4 * U], dtype, 0)
    if not sequences:
        oa[...] = 0
    if probing:
        oa = oa[:N - 1]
    cdef Py_ssize_t t
    for t in range(T):
        PyArray_MatrixProduct2(ha[t], ra, rz)
        if dtype == cnp.NPY_FLOAT:
            _lstm_step[float](rz, ga, ha, ca, ma, oa, t, activation, recurrent_activation, zero_output, sequences)
        else:
            _lstm_step[double](rz, ga, ha, ca, ma, oa, t, activation, recurrent_activation, zero_output, sequences)


def lstm_backward(dout, recurrent_kernel, gates, cs, mask, dz, dh, dc, int activation, int recurrent_activation,
                  bint zero_output, bint sequences):
    """Backpropagate through lstm_forward. In: dout (the outputs' gradient, shaped like out), the forward's
    gates and cs, dh and dc (N, U): the final states' gradients. Out: dz (T, N, 4U), the gradient of each
    step's pre-activations (= of xw, time-major); dh and dc become the initial states' gradients."""
    cdef str fn = "lstm_backward"
    cdef cnp.ndarray ga = readable(fn, "gates", gates)
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "gates")
    check_ndim(fn, "gates", ga, 3, "(timesteps, batch, 4*units)")
    cdef Py_ssize_t T = ga.shape[0], N = ga.shape[1], U = ra.shape[0]
    _sizes(fn, ga, ra, 4, "gates")
    cdef cnp.ndarray oa = _output(fn, dout, dtype, N, T, U, sequences, "dout")
    cdef cnp.ndarray ca = _input(fn, "cs", cs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray za = _buffer(fn, "dz", dz, dtype, (T, N, 4 * U))
    cdef cnp.ndarray ha = _buffer(fn, "dh", dh, dtype, (N, U))
    cdef cnp.ndarray da = _buffer(fn, "dc", dc, dtype, (N, U))
    _code(fn, "activation", activation)
    _code(fn, "recurrent_activation", recurrent_activation)
    cdef cnp.ndarray rec = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray carry = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray work = cnp.PyArray_EMPTY(3, [1, 2, U], dtype, 0)
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        za = za[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _lstm_back[float](oa, ga, ca, ma, za, ha, da, rec, carry, work, t, activation, recurrent_activation,
                              zero_output, sequences)
        else:
            _lstm_back[double](oa, ga, ca, ma, za, ha, da, rec, carry, work, t, activation, recurrent_activation,
                               zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def gru_forward(xw, recurrent_kernel, recurrent_bias, hs, mask, gates, out, int activation, int recurrent_activation,
                bint zero_output, bint sequences):
    """Run a GRU (Keras' reset_after=True) over the sequence. In: xw (T, N, 3U) (x @ kernel + input bias),
    recurrent_kernel (U, 3U), recurrent_bias (3U,), hs[0] in hs (T+1, N, U), mask (N, T). Out: hs[1:],
    gates (T, N, 4U): z, r, hh, rh; out as lstm_forward's."""
    cdef str fn = "gru_forward"
    cdef cnp.ndarray xa = readable(fn, "xw", xw)
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "xw")
    N, T, U = _sizes(fn, xa, ra, 3)
    cdef cnp.ndarray ba = _input(fn, "recurrent_bias", recurrent_bias, dtype, (3 * U,))
    cdef cnp.ndarray ha = _buffer(fn, "hs", hs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray ga = _buffer(fn, "gates", gates, dtype, (T, N, 4 * U))
    cdef cnp.ndarray oa = _output(fn, out, dtype, N, T, U, sequences)
    _code(fn, "activation", activation)
    _code(fn, "recurrent_activation", recurrent_activation)
    cdef cnp.ndarray rz = cnp.PyArray_EMPTY(2, [N, 3 * U], dtype, 0)
    if not sequences:
        oa[...] = 0
    if probing:
        oa = oa[:N - 1]
    cdef Py_ssize_t t
    for t in range(T):
        PyArray_MatrixProduct2(ha[t], ra, rz)
        if dtype == cnp.NPY_FLOAT:
            _gru_step[float](xa, rz, ba, ga, ha, ma, oa, t, activation, recurrent_activation, zero_output, sequences)
        else:
            _gru_step[double](xa, rz, ba, ga, ha, ma, oa, t, activation, recurrent_activation, zero_output, sequences)


def gru_backward(dout, recurrent_kernel, gates, hs, mask, dxw, drz, dh, int activation, int recurrent_activation,
                 bint zero_output, bint sequences):
    """Backpropagate through gru_forward. Out: dxw (T, N, 3U), the gradient of xw (time-major); drz
    (T, N, 3U), of the recurrent product h @ recurrent_kernel + recurrent_bias; dh (N, U), in: the final
    state's gradient, out: the initial state's."""
    cdef str fn = "gru_backward"
    cdef cnp.ndarray ga = readable(fn, "gates", gates)
    cdef int dtype = cnp.PyArray_TYPE(ga)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "gates")
    check_ndim(fn, "gates", ga, 3, "(timesteps, batch, 4*units)")
    cdef Py_ssize_t T = ga.shape[0], N = ga.shape[1], U = ra.shape[0]
    _sizes(fn, ga[:, :, :3 * U], ra, 3, "gates")
    if ga.shape[2] != 4 * U:
        raise ValueError(f"{fn}: gates must be (timesteps, batch, 4*units), got {shape_of(ga)}")
    cdef cnp.ndarray oa = _output(fn, dout, dtype, N, T, U, sequences, "dout")
    cdef cnp.ndarray hsa = _input(fn, "hs", hs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray xa = _buffer(fn, "dxw", dxw, dtype, (T, N, 3 * U))
    cdef cnp.ndarray za = _buffer(fn, "drz", drz, dtype, (T, N, 3 * U))
    cdef cnp.ndarray ha = _buffer(fn, "dh", dh, dtype, (N, U))
    _code(fn, "activation", activation)
    _code(fn, "recurrent_activation", recurrent_activation)
    cdef cnp.ndarray rec = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray carry = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray work = cnp.PyArray_EMPTY(3, [1, 1, U], dtype, 0)
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        xa = xa[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _gru_back[float](oa, ga, hsa, ma, xa, za, ha, rec, carry, work, t, activation, recurrent_activation,
                             zero_output, sequences)
        else:
            _gru_back[double](oa, ga, hsa, ma, xa, za, ha, rec, carry, work, t, activation, recurrent_activation,
                              zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def simple_rnn_forward(xw, recurrent_kernel, hs, mask, out, int activation, bint zero_output, bint sequences):
    """Run a SimpleRNN over the sequence. In: xw (T, N, U), recurrent_kernel (U, U), hs[0] in hs (T+1, N, U),
    mask (N, T). Out: hs[1:], out as lstm_forward's."""
    cdef str fn = "simple_rnn_forward"
    cdef cnp.ndarray xa = readable(fn, "xw", xw)
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "xw")
    N, T, U = _sizes(fn, xa, ra, 1)
    cdef cnp.ndarray ha = _buffer(fn, "hs", hs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray oa = _output(fn, out, dtype, N, T, U, sequences)
    _code(fn, "activation", activation)
    cdef cnp.ndarray rz = cnp.PyArray_EMPTY(2, [N, U], dtype, 0)
    if not sequences:
        oa[...] = 0
    if probing:
        oa = oa[:N - 1]
    cdef Py_ssize_t t
    for t in range(T):
        PyArray_MatrixProduct2(ha[t], ra, rz)
        if dtype == cnp.NPY_FLOAT:
            _simple_step[float](xa, rz, ha, ma, oa, t, activation, zero_output, sequences)
        else:
            _simple_step[double](xa, rz, ha, ma, oa, t, activation, zero_output, sequences)


def simple_rnn_backward(dout, recurrent_kernel, hs, mask, dz, dh, int activation, bint zero_output, bint sequences):
    """Backpropagate through simple_rnn_forward. Out: dz (T, N, U), the gradient of xw (time-major); dh (N, U),
    in: the final state's gradient, out: the initial state's."""
    cdef str fn = "simple_rnn_backward"
    cdef cnp.ndarray hsa = readable(fn, "hs", hs)
    cdef int dtype = cnp.PyArray_TYPE(hsa)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "hs")
    check_ndim(fn, "hs", hsa, 3, "(timesteps + 1, batch, units)")
    cdef Py_ssize_t T = hsa.shape[0] - 1, N = hsa.shape[1], U = ra.shape[0]
    _sizes(fn, hsa[1:], ra, 1, "hs")
    cdef cnp.ndarray oa = _output(fn, dout, dtype, N, T, U, sequences, "dout")
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray za = _buffer(fn, "dz", dz, dtype, (T, N, U))
    cdef cnp.ndarray ha = _buffer(fn, "dh", dh, dtype, (N, U))
    _code(fn, "activation", activation)
    cdef cnp.ndarray rec = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray carry = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray work = cnp.PyArray_EMPTY(3, [1, 1, U], dtype, 0)
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        za = za[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _simple_back[float](oa, hsa, ma, za, ha, rec, carry, work, t, activation, zero_output, sequences)
        else:
            _simple_back[double](oa, hsa, ma, za, ha, rec, carry, work, t, activation, zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with its output (forward) or its gradient
    buffer (backward) handed to the loop one sample or step short; the out-of-bounds access must come out as
    IndexError. The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("recurrent", fn, args)
