# cython: language_level=3
"""Recurrent kernels: the time loops of SimpleRNN, LSTM and GRU (Keras 3's equations and gate
orders), forward and backward through time, over a whole sequence in one call.

What the caller (tinygrad_relu/ops/recurrent.py) has already done: the input projections of
every step in one GEMM, ``xw = x @ kernel + bias`` of shape (N, T, G), G = gates * units.
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


cdef inline floating _act(floating v, int code) noexcept nogil:
    cdef floating zero = 0, one = 1
    if code == TANH:
        return fast_tanh(v)
    if code == SIGMOID:
        return one / (one + fast_exp(-v))
    if code == RELU:
        return zero if v <= zero else v  # NaN stays NaN
    return v


cdef inline floating _slope(floating y, int code) noexcept nogil:
    """The activation's derivative, read from its output y."""
    cdef floating zero = 0, one = 1
    if code == TANH:
        return one - y * y
    if code == SIGMOID:
        return y * (one - y)
    if code == RELU:
        return one if y > zero else zero
    return one


# ---- one step of each cell (called once per t, on every sample n) ---------------------------
cdef int _lstm_step(const floating[:, :, ::1] xw, const floating[:, ::1] rz, floating[:, :, ::1] gates,
                    floating[:, :, ::1] hs, floating[:, :, ::1] cs, const unsigned char[:, ::1] mask,
                    floating[:, :, ::1] out, Py_ssize_t t, int act, int rec, bint zero_output,
                    bint sequences) except -1 nogil:
    """i, f, o = rec(z_i, z_f, z_o), g = act(z_g), z = xw[t] + h[t] R;  c' = f c + i g,  h' = o act(c')"""
    cdef Py_ssize_t n, j, U = hs.shape[2], k = t if sequences else 0
    cdef floating c, zero = 0
    for n in range(rz.shape[0]):
        for j in range(4 * U):
            gates[t, n, j] = xw[n, t, j] + rz[n, j]
        for j in range(U):
            gates[t, n, j] = _act(gates[t, n, j], rec)
            gates[t, n, U + j] = _act(gates[t, n, U + j], rec)
            gates[t, n, 2 * U + j] = _act(gates[t, n, 2 * U + j], act)
            gates[t, n, 3 * U + j] = _act(gates[t, n, 3 * U + j], rec)
        if mask[n, t]:
            for j in range(U):
                c = gates[t, n, U + j] * cs[t, n, j] + gates[t, n, j] * gates[t, n, 2 * U + j]
                cs[t + 1, n, j] = c
                hs[t + 1, n, j] = gates[t, n, 3 * U + j] * _act(c, act)
                out[n, k, j] = hs[t + 1, n, j]
        else:
            for j in range(U):
                cs[t + 1, n, j] = cs[t, n, j]
                hs[t + 1, n, j] = hs[t, n, j]
                if zero_output:
                    out[n, k, j] = zero
                elif sequences:
                    out[n, k, j] = out[n, k - 1, j] if t > 0 else zero
    return 0


cdef int _gru_step(const floating[:, :, ::1] xw, const floating[:, ::1] rz, const floating[::1] brec,
                   floating[:, :, ::1] gates, floating[:, :, ::1] hs, const unsigned char[:, ::1] mask,
                   floating[:, :, ::1] out, Py_ssize_t t, int act, int rec, bint zero_output,
                   bint sequences) except -1 nogil:
    """reset_after: z, r = rec(xw_z + rz_z + b_z, xw_r + rz_r + b_r), rh = rz_h + b_h,
    hh = act(xw_h + r rh);  h' = z h + (1 - z) hh.  gates[t] keeps z, r, hh, rh."""
    cdef Py_ssize_t n, j, U = hs.shape[2], k = t if sequences else 0
    cdef floating z, r, rh, hh, one = 1, zero = 0
    for n in range(rz.shape[0]):
        for j in range(U):
            z = _act(xw[n, t, j] + rz[n, j] + brec[j], rec)
            r = _act(xw[n, t, U + j] + rz[n, U + j] + brec[U + j], rec)
            rh = rz[n, 2 * U + j] + brec[2 * U + j]
            hh = _act(xw[n, t, 2 * U + j] + r * rh, act)
            gates[t, n, j] = z
            gates[t, n, U + j] = r
            gates[t, n, 2 * U + j] = hh
            gates[t, n, 3 * U + j] = rh
        if mask[n, t]:
            for j in range(U):
                z = gates[t, n, j]
                hs[t + 1, n, j] = z * hs[t, n, j] + (one - z) * gates[t, n, 2 * U + j]
                out[n, k, j] = hs[t + 1, n, j]
        else:
            for j in range(U):
                hs[t + 1, n, j] = hs[t, n, j]
                if zero_output:
                    out[n, k, j] = zero
                elif sequences:
                    out[n, k, j] = out[n, k - 1, j] if t > 0 else zero
    return 0


cdef int _simple_step(const floating[:, :, ::1] xw, const floating[:, ::1] rz, floating[:, :, ::1] hs,
                      const unsigned char[:, ::1] mask, floating[:, :, ::1] out, Py_ssize_t t, int act,
                      bint zero_output, bint sequences) except -1 nogil:
    """h' = act(xw[t] + h[t] R)"""
    cdef Py_ssize_t n, j, U = hs.shape[2], k = t if sequences else 0
    cdef floating zero = 0
    for n in range(rz.shape[0]):
        if mask[n, t]:
            for j in range(U):
                hs[t + 1, n, j] = _act(xw[n, t, j] + rz[n, j], act)
                out[n, k, j] = hs[t + 1, n, j]
        else:
            for j in range(U):
                hs[t + 1, n, j] = hs[t, n, j]
                if zero_output:
                    out[n, k, j] = zero
                elif sequences:
                    out[n, k, j] = out[n, k - 1, j] if t > 0 else zero
    return 0


# ---- backward: one step, t descending ----------------------------------------------------------
# Common to the three: g_out, the gradient reaching step t's output, is dout[t] (with sequences) plus
# ``carry``, what later masked steps passed back to it (their output was a copy of this one). The
# state gradient at step t is dh (from the final state and the masked copies of later steps) + rec
# (the recurrent GEMM of step t + 1) + g_out on a real step. A masked step passes it all to t - 1.
cdef inline floating _state_grad(const floating[:, :, ::1] dout, floating[:, ::1] carry, floating[:, ::1] dh,
                                 const floating[:, ::1] rec, Py_ssize_t n, Py_ssize_t j, Py_ssize_t t,
                                 bint real, bint zero_output, bint sequences) noexcept nogil:
    cdef floating zero = 0
    cdef floating g_out = carry[n, j] + (dout[n, t, j] if sequences else zero)
    carry[n, j] = zero if (real or zero_output) else g_out
    return dh[n, j] + rec[n, j] + (g_out if real else zero)


cdef int _lstm_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] gates, const floating[:, :, ::1] cs,
                    const unsigned char[:, ::1] mask, floating[:, :, ::1] dz, floating[:, ::1] dh,
                    floating[:, ::1] dc, const floating[:, ::1] rec, floating[:, ::1] carry, Py_ssize_t t,
                    int act, int rec_act, bint zero_output, bint sequences) except -1 nogil:
    """h' = o a, a = act(c'):  do = dh' a,  dc' += dh' o act'(c');  c' = f c + i g:  di = dc' g,
    dg = dc' i,  df = dc' c,  dc = dc' f;  dz = (di rec'(i), df rec'(f), dg act'(g), do rec'(o))"""
    cdef Py_ssize_t n, j, U = dh.shape[1]
    cdef floating g, a, dcj, zero = 0
    cdef bint real
    for n in range(dh.shape[0]):
        real = mask[n, t] != 0
        for j in range(U):
            g = _state_grad(dout, carry, dh, rec, n, j, t, real, zero_output, sequences)
            if real:
                a = _act(cs[t + 1, n, j], act)
                dcj = dc[n, j] + g * gates[t, n, 3 * U + j] * _slope(a, act)
                dz[t, n, j] = dcj * gates[t, n, 2 * U + j] * _slope(gates[t, n, j], rec_act)
                dz[t, n, U + j] = dcj * cs[t, n, j] * _slope(gates[t, n, U + j], rec_act)
                dz[t, n, 2 * U + j] = dcj * gates[t, n, j] * _slope(gates[t, n, 2 * U + j], act)
                dz[t, n, 3 * U + j] = g * a * _slope(gates[t, n, 3 * U + j], rec_act)
                dc[n, j] = dcj * gates[t, n, U + j]
                dh[n, j] = zero
            else:
                dh[n, j] = g
                dz[t, n, j] = zero
                dz[t, n, U + j] = zero
                dz[t, n, 2 * U + j] = zero
                dz[t, n, 3 * U + j] = zero
    return 0


cdef int _gru_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] gates, const floating[:, :, ::1] hs,
                   const unsigned char[:, ::1] mask, floating[:, :, ::1] dxw, floating[:, :, ::1] drz,
                   floating[:, ::1] dh, const floating[:, ::1] rec, floating[:, ::1] carry, Py_ssize_t t,
                   int act, int rec_act, bint zero_output, bint sequences) except -1 nogil:
    """h' = z h + (1 - z) hh:  dz = dh' (h - hh),  dhh = dh' (1 - z),  dh = dh' z (+ the GEMM part);
    hh = act(a), a = xw_h + r rh:  da = dhh act'(hh),  dr = da rh,  drh = da r;
    dxw = (dz rec'(z), dr rec'(r), da),  drz (the recurrent product's gradient) = (dxw_z, dxw_r, drh)"""
    cdef Py_ssize_t n, j, U = dh.shape[1]
    cdef floating g, z, da, zero = 0, one = 1
    cdef bint real
    for n in range(dh.shape[0]):
        real = mask[n, t] != 0
        for j in range(U):
            g = _state_grad(dout, carry, dh, rec, n, j, t, real, zero_output, sequences)
            if real:
                z = gates[t, n, j]
                da = g * (one - z) * _slope(gates[t, n, 2 * U + j], act)
                dxw[t, n, j] = g * (hs[t, n, j] - gates[t, n, 2 * U + j]) * _slope(z, rec_act)
                dxw[t, n, U + j] = da * gates[t, n, 3 * U + j] * _slope(gates[t, n, U + j], rec_act)
                dxw[t, n, 2 * U + j] = da
                drz[t, n, j] = dxw[t, n, j]
                drz[t, n, U + j] = dxw[t, n, U + j]
                drz[t, n, 2 * U + j] = da * gates[t, n, U + j]
                dh[n, j] = g * z
            else:
                dh[n, j] = g
                dxw[t, n, j] = zero
                dxw[t, n, U + j] = zero
                dxw[t, n, 2 * U + j] = zero
                drz[t, n, j] = zero
                drz[t, n, U + j] = zero
                drz[t, n, 2 * U + j] = zero
    return 0


cdef int _simple_back(const floating[:, :, ::1] dout, const floating[:, :, ::1] hs, const unsigned char[:, ::1] mask,
                      floating[:, :, ::1] dz, floating[:, ::1] dh, const floating[:, ::1] rec,
                      floating[:, ::1] carry, Py_ssize_t t, int act, bint zero_output, bint sequences) except -1 nogil:
    """h' = act(z):  dz = dh' act'(h')"""
    cdef Py_ssize_t n, j
    cdef floating g, zero = 0
    cdef bint real
    for n in range(dh.shape[0]):
        real = mask[n, t] != 0
        for j in range(dh.shape[1]):
            g = _state_grad(dout, carry, dh, rec, n, j, t, real, zero_output, sequences)
            if real:
                dz[t, n, j] = g * _slope(hs[t + 1, n, j], act)
                dh[n, j] = zero
            else:
                dz[t, n, j] = zero
                dh[n, j] = g
    return 0


# ---- the defs: check everything once, then run the whole time loop ------------------------------
cdef tuple _sizes(str fn, cnp.ndarray xw, cnp.ndarray kernel, int gates):
    """(N, T, U) from xw (N, T, gates*U) and the recurrent kernel (U, gates*U)."""
    check_ndim(fn, "xw", xw, 3, "(batch, timesteps, gates*units)")
    check_ndim(fn, "recurrent_kernel", kernel, 2, "(units, gates*units)")
    cdef Py_ssize_t N = xw.shape[0], T = xw.shape[1], U = kernel.shape[0]
    if U < 1 or kernel.shape[1] != gates * U or xw.shape[2] != gates * U:
        raise ValueError(f"{fn}: recurrent_kernel must be (units, {gates}*units) and xw (batch, timesteps, "
                         f"{gates}*units); got recurrent_kernel {shape_of(kernel)} and xw {shape_of(xw)}")
    if T < 1:
        raise ValueError(f"{fn}: the sequence needs at least one timestep, got xw {shape_of(xw)}")
    return N, T, U


cdef cnp.ndarray _buffer(str fn, str name, object obj, int dtype, tuple shape):
    cdef cnp.ndarray a = writable(fn, name, obj, dtype, "xw")
    if shape_of(a) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape}, got {shape_of(a)}")
    return a


cdef cnp.ndarray _input(str fn, str name, object obj, int dtype, tuple shape):
    cdef cnp.ndarray a = readable(fn, name, obj, dtype, "xw")
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


def lstm_forward(xw, recurrent_kernel, hs, cs, mask, gates, out, int activation, int recurrent_activation,
                 bint zero_output, bint sequences):
    """Run an LSTM over the sequence. In: xw (N, T, 4U), recurrent_kernel (U, 4U), hs[0] and cs[0] (the
    initial states, in hs (T+1, N, U) and cs (T+1, N, U)), mask (N, T). Out: hs[1:], cs[1:], gates
    (T, N, 4U), out (N, T, U) with ``sequences``, else (N, 1, U)."""
    cdef str fn = "lstm_forward"
    cdef cnp.ndarray xa = readable(fn, "xw", xw)
    cdef int dtype = cnp.PyArray_TYPE(xa)
    cdef cnp.ndarray ra = readable(fn, "recurrent_kernel", recurrent_kernel, dtype, "xw")
    N, T, U = _sizes(fn, xa, ra, 4)
    cdef cnp.ndarray ha = _buffer(fn, "hs", hs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ca = _buffer(fn, "cs", cs, dtype, (T + 1, N, U))
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray ga = _buffer(fn, "gates", gates, dtype, (T, N, 4 * U))
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
            _lstm_step[float](xa, rz, ga, ha, ca, ma, oa, t, activation, recurrent_activation, zero_output, sequences)
        else:
            _lstm_step[double](xa, rz, ga, ha, ca, ma, oa, t, activation, recurrent_activation, zero_output, sequences)


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
    _sizes(fn, ga.transpose(1, 0, 2), ra, 4)
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
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        za = za[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _lstm_back[float](oa, ga, ca, ma, za, ha, da, rec, carry, t, activation, recurrent_activation,
                              zero_output, sequences)
        else:
            _lstm_back[double](oa, ga, ca, ma, za, ha, da, rec, carry, t, activation, recurrent_activation,
                               zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def gru_forward(xw, recurrent_kernel, recurrent_bias, hs, mask, gates, out, int activation, int recurrent_activation,
                bint zero_output, bint sequences):
    """Run a GRU (Keras' reset_after=True) over the sequence. In: xw (N, T, 3U) (x @ kernel + input bias),
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
    _sizes(fn, ga[:, :, :3 * U].transpose(1, 0, 2), ra, 3)
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
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        xa = xa[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _gru_back[float](oa, ga, hsa, ma, xa, za, ha, rec, carry, t, activation, recurrent_activation,
                             zero_output, sequences)
        else:
            _gru_back[double](oa, ga, hsa, ma, xa, za, ha, rec, carry, t, activation, recurrent_activation,
                              zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def simple_rnn_forward(xw, recurrent_kernel, hs, mask, out, int activation, bint zero_output, bint sequences):
    """Run a SimpleRNN over the sequence. In: xw (N, T, U), recurrent_kernel (U, U), hs[0] in hs (T+1, N, U),
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
    _sizes(fn, hsa[1:].transpose(1, 0, 2), ra, 1)
    cdef cnp.ndarray oa = _output(fn, dout, dtype, N, T, U, sequences, "dout")
    cdef cnp.ndarray ma = _mask(fn, mask, N, T)
    cdef cnp.ndarray za = _buffer(fn, "dz", dz, dtype, (T, N, U))
    cdef cnp.ndarray ha = _buffer(fn, "dh", dh, dtype, (N, U))
    _code(fn, "activation", activation)
    cdef cnp.ndarray rec = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef cnp.ndarray carry = cnp.PyArray_ZEROS(2, [N, U], dtype, 0)
    cdef object transposed = ra.T
    if not sequences:
        carry[...] = oa[:, 0]
    if probing:
        za = za[:T - 1]
    cdef Py_ssize_t t
    for t in range(T - 1, -1, -1):
        if dtype == cnp.NPY_FLOAT:
            _simple_back[float](oa, hsa, ma, za, ha, rec, carry, t, activation, zero_output, sequences)
        else:
            _simple_back[double](oa, hsa, ma, za, ha, rec, carry, t, activation, zero_output, sequences)
        PyArray_MatrixProduct2(za[t], transposed, rec)
    ha += rec


def bounds_probe(fn, *args):
    """Debug build only: fn(*args), fn one of this module's defs, with its output (forward) or its gradient
    buffer (backward) handed to the loop one sample or step short; the out-of-bounds access must come out as
    IndexError. The release build refuses (RuntimeError): it would corrupt memory."""
    return run_bounds_probe("recurrent", fn, args)
