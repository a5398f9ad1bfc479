"""The recurrent kernels (cysrc/recurrent.pyx) against plain numpy, and their argument checks.

The references below are written from Keras' equations (keras/src/layers/rnn/*.py and
backend.rnn's masking rule), step by step in float64, forward and backward through time,
independently of the kernels. Hypothesis draws the sizes, the masks (any pattern, fully masked
samples included), the activations, zero_output and sequences, in float32 and float64.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tinygrad_relu._kernels import recurrent as K
from tinygrad_relu._kernels import threads

CODES = dict(zip(K.ACTIVATIONS, range(4)))
ACT = {"linear": lambda x: x, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
       "relu": lambda x: np.maximum(x, 0)}
SLOPE = {"linear": lambda y: np.ones_like(y), "tanh": lambda y: 1 - y * y, "sigmoid": lambda y: y * (1 - y),
         "relu": lambda y: (y > 0).astype(y.dtype)}


# ---- numpy references --------------------------------------------------------------------------
def step_outputs(states_new, states_old, real, prev_out, zero_output):
    """Keras' backend.rnn masking: a masked step keeps the states; its output repeats the previous one."""
    kept = [np.where(real[:, None], new, old) for new, old in zip(states_new, states_old)]
    fallback = np.zeros_like(prev_out) if zero_output else prev_out
    return kept, np.where(real[:, None], states_new[0], fallback)


def reference(cell, xw, R, b_rec, h0, c0, mask, act, rec, zero_output):
    """(every step's output (T, N, U), states per step [(h, c?)], gates per step) of a forward pass."""
    T, N, _ = xw.shape
    U = R.shape[0]
    A, S = ACT[act], ACT[rec]
    h, c, out = h0, c0, np.zeros((N, U))
    outs, saved = [], []
    for t in range(T):
        z = xw[t] + h @ R
        if cell == "lstm":
            i, f, g, o = S(z[:, :U]), S(z[:, U:2 * U]), A(z[:, 2 * U:3 * U]), S(z[:, 3 * U:])
            c_new = f * c + i * g
            (h, c), out = step_outputs([o * A(c_new), c_new], [h, c], mask[:, t], out, zero_output)
            saved.append((i, f, g, o))
        elif cell == "gru":
            rz = h @ R + b_rec
            zg, r = S(xw[t, :, :U] + rz[:, :U]), S(xw[t, :, U:2 * U] + rz[:, U:2 * U])
            hh = A(xw[t, :, 2 * U:] + r * rz[:, 2 * U:])
            (h,), out = step_outputs([zg * h + (1 - zg) * hh], [h], mask[:, t], out, zero_output)
            saved.append((zg, r, hh, rz[:, 2 * U:]))
        else:
            (h,), out = step_outputs([A(z)], [h], mask[:, t], out, zero_output)
        outs.append(out)
    return np.stack(outs), h, c


def reference_grads(cell, xw, R, b_rec, h0, c0, mask, act, rec, zero_output, sequences, dout, dh_final, dc_final):
    """Gradients of <dout, outputs> + <dh_final, h_T> + <dc_final, c_T> by backpropagation written out in numpy:
    (dxw (T, N, G), drz (T, N, G) for the GRU, dh0, dc0)."""
    T, N, _ = xw.shape
    U = R.shape[0]
    A, S = ACT[act], ACT[rec]
    hs, cs, caches = [h0], [c0], []
    h, c = h0, c0
    for t in range(T):  # the forward again, keeping what backward reads
        z = xw[t] + h @ R
        m = mask[:, t][:, None]
        if cell == "lstm":
            i, f, g, o = S(z[:, :U]), S(z[:, U:2 * U]), A(z[:, 2 * U:3 * U]), S(z[:, 3 * U:])
            c_new = f * c + i * g
            caches.append((i, f, g, o, c, c_new))
            h, c = np.where(m, o * A(c_new), h), np.where(m, c_new, c)
        elif cell == "gru":
            rz = h @ R + b_rec
            zg, r = S(xw[t, :, :U] + rz[:, :U]), S(xw[t, :, U:2 * U] + rz[:, U:2 * U])
            hh = A(xw[t, :, 2 * U:] + r * rz[:, 2 * U:])
            caches.append((zg, r, hh, rz[:, 2 * U:], h))
            h = np.where(m, zg * h + (1 - zg) * hh, h)
        else:
            a = A(z)
            caches.append((a,))
            h = np.where(m, a, h)
        hs.append(h)
        cs.append(c)
    dxw, drz = np.zeros_like(xw), np.zeros_like(xw)
    dh, dc = dh_final.copy(), dc_final.copy()
    carry = np.zeros((N, U)) if sequences else dout[:, 0].copy()
    for t in reversed(range(T)):
        m = mask[:, t][:, None].astype(bool)
        g_out = carry + (dout[:, t] if sequences else 0)
        dh_total = dh + np.where(m, g_out, 0)
        carry = np.where(m, 0, 0 if zero_output else g_out)
        if cell == "lstm":
            i, f, g, o, c_prev, c_new = caches[t]
            a = A(c_new)
            dcn = dc + dh_total * o * SLOPE[act](a)
            dz = np.concatenate([dcn * g * SLOPE[rec](i), dcn * c_prev * SLOPE[rec](f), dcn * i * SLOPE[act](g),
                                 dh_total * a * SLOPE[rec](o)], axis=1)
            dz = np.where(m, dz, 0)
            dc = np.where(m, dcn * f, dc)
            dxw[t] = drz[t] = dz
        elif cell == "gru":
            zg, r, hh, rh, h_prev = caches[t]
            da = dh_total * (1 - zg) * SLOPE[act](hh)
            dx = np.concatenate([dh_total * (h_prev - hh) * SLOPE[rec](zg), da * rh * SLOPE[rec](r), da], axis=1)
            dr = np.concatenate([dx[:, :2 * U], da * r], axis=1)
            dxw[t], drz[t] = np.where(m, dx, 0), np.where(m, dr, 0)
            dh = np.where(m, dh_total * zg, dh_total) + drz[t] @ R.T  # h' = z h + ...: z of it goes straight back
            continue
        else:
            (a,) = caches[t]
            dz = np.where(m, dh_total * SLOPE[act](a), 0)
            dxw[t] = drz[t] = dz
        dh = np.where(m, 0, dh_total) + dz @ R.T  # a masked step's state was a copy: its gradient passes back whole
    return dxw, drz, dh, dc


def run_kernels(cell, xw, R, b_rec, h0, c0, mask, act, rec, zero_output, sequences, dout, dh_final, dc_final):
    """Forward and backward through the kernels; outputs as the references give them."""
    T, N, G = xw.shape
    U = R.shape[0]
    dtype = xw.dtype
    hs = np.empty((T + 1, N, U), dtype)
    hs[0] = h0
    out = np.empty((N, T if sequences else 1, U), dtype)
    a, r = CODES[act], CODES[rec]
    if cell == "lstm":
        cs = np.empty_like(hs)
        cs[0] = c0
        gates = np.ascontiguousarray(xw)
        K.lstm_forward(gates, R, hs, cs, mask, out, a, r, zero_output, sequences)
        dz, dh, dc = np.empty_like(gates), dh_final.copy(), dc_final.copy()
        K.lstm_backward(dout, R, gates, cs, mask, dz, dh, dc, a, r, zero_output, sequences)
        return out, hs[T], cs[T], dz, dz, dh, dc
    if cell == "gru":
        gates = np.empty((T, N, 4 * U), dtype)
        K.gru_forward(xw, R, b_rec, hs, mask, gates, out, a, r, zero_output, sequences)
        dxw, drz, dh = np.empty_like(xw), np.empty_like(xw), dh_final.copy()
        K.gru_backward(dout, R, gates, hs, mask, dxw, drz, dh, a, r, zero_output, sequences)
        return out, hs[T], None, dxw, drz, dh, None
    K.simple_rnn_forward(xw, R, hs, mask, out, a, zero_output, sequences)
    dz, dh = np.empty_like(xw), dh_final.copy()
    K.simple_rnn_backward(dout, R, hs, mask, dz, dh, a, zero_output, sequences)
    return out, hs[T], None, dz, dz, dh, None


GATES = {"lstm": 4, "gru": 3, "simple": 1}


@settings(max_examples=120, deadline=None)
@given(cell=st.sampled_from(sorted(GATES)), n=st.integers(1, 4), t=st.integers(1, 5), u=st.integers(1, 5),
       act=st.sampled_from(K.ACTIVATIONS), rec=st.sampled_from(K.ACTIVATIONS), zero_output=st.booleans(),
       sequences=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**31 - 1),
       mask_kind=st.sampled_from(["none", "random", "right-padded", "all-masked-sample"]))
def test_kernels_match_the_numpy_reference(cell, n, t, u, act, rec, zero_output, sequences, dtype, seed, mask_kind):
    rng = np.random.default_rng(seed)
    g = GATES[cell] * u
    xw, R = rng.normal(size=(t, n, g)), rng.normal(size=(u, g)) * 0.6
    b_rec, h0, c0 = rng.normal(size=g) * 0.3, rng.normal(size=(n, u)), rng.normal(size=(n, u))
    mask = np.ones((n, t), bool)
    if mask_kind == "random":
        mask = rng.random((n, t)) < 0.6
    elif mask_kind == "right-padded":
        mask = np.arange(t)[None, :] < rng.integers(0, t + 1, n)[:, None]
    elif mask_kind == "all-masked-sample":
        mask[0] = False
    dout = rng.normal(size=(n, t if sequences else 1, u))
    dh_final, dc_final = rng.normal(size=(n, u)), rng.normal(size=(n, u))
    arrays = [a.astype(dtype) for a in (xw, R, b_rec, h0, c0)]
    xw_d, R_d, b_d, h0_d, c0_d = [a.astype(np.float64) for a in arrays]  # the reference sees the rounded inputs
    with np.errstate(all="ignore"):  # (the runs that overflow are set aside below)
        got = run_kernels(cell, *arrays, mask, act, rec, zero_output, sequences, dout.astype(dtype),
                          dh_final.astype(dtype), dc_final.astype(dtype))
        outs, h_last, c_last = reference(cell, xw_d, R_d, b_d, h0_d, c0_d, mask, act, rec, zero_output)
        grads = reference_grads(cell, xw_d, R_d, b_d, h0_d, c0_d, mask, act, rec, zero_output, sequences, dout,
                                dh_final, dc_final)
    want_out = outs.transpose(1, 0, 2) if sequences else outs[-1][:, None]
    # linear gates can grow the values without bound; past float32's range there is nothing to compare
    assume(max(np.abs(a).max() for a in (outs, *grads[:3])) < (1e15 if dtype == np.float32 else 1e150))
    eps = 1e-4 if dtype == np.float32 else 1e-11

    def close(actual, expected):
        """Within a few float32 (float64) rounding steps of the largest magnitude involved: with linear or relu
        activations the values can grow large over the steps, and every sum rounds relative to its terms."""
        expected = np.asarray(expected)
        finite = np.isfinite(expected)
        scale = np.abs(expected[finite]).max() if finite.any() else 1.0
        np.testing.assert_allclose(actual, expected, rtol=2 * eps, atol=eps * (1 + t) * max(1.0, scale))
    close(got[0], want_out)
    close(got[1], h_last)
    if cell == "lstm":
        close(got[2], c_last)
        close(got[6], grads[3])
    for actual, expected in zip(got[3:6], grads[:3]):
        close(actual, expected)


def test_inputs_in_any_layout_give_the_contiguous_result():
    rng = np.random.default_rng(0)
    xw, R = rng.normal(size=(3, 2, 12)), rng.normal(size=(4, 12))
    mask = np.ones((2, 3), bool)

    def run(xw, R, mask):
        hs, out = np.zeros((4, 2, 4)), np.empty((2, 3, 4))
        K.gru_forward(xw, R, np.zeros(12), hs, mask, np.empty((3, 2, 16)), out, 1, 2, False, True)
        return out
    expected = run(xw, R, mask)
    np.testing.assert_array_equal(run(np.asfortranarray(xw), np.asfortranarray(R), mask.view(np.uint8)), expected)
    np.testing.assert_array_equal(run(np.repeat(xw, 2, axis=2)[:, :, ::2], R[::-1][::-1], mask[:, ::-1][:, ::-1]),
                                  expected)


# ---- argument checks ----------------------------------------------------------------------------
def lstm_args(n=2, t=3, u=4, dtype=np.float64):
    return dict(gates=np.zeros((t, n, 4 * u), dtype), recurrent_kernel=np.zeros((u, 4 * u), dtype),
                hs=np.zeros((t + 1, n, u), dtype), cs=np.zeros((t + 1, n, u), dtype), mask=np.ones((n, t), bool),
                out=np.zeros((n, t, u), dtype), activation=1, recurrent_activation=2, zero_output=False,
                sequences=True)


@pytest.mark.parametrize("change,error,match", [
    (dict(recurrent_kernel=np.zeros((4, 12))), ValueError, r"recurrent_kernel must be \(units, 4\*units\)"),
    (dict(gates=np.zeros((3, 2, 15))), ValueError, r"gates \(timesteps, batch, 4\*units\)"),
    (dict(gates=np.zeros((0, 2, 16)), hs=np.zeros((1, 2, 4)), cs=np.zeros((1, 2, 4)), mask=np.ones((2, 0), bool),
          out=np.zeros((2, 0, 4))), ValueError, "at least one timestep"),
    (dict(hs=np.zeros((3, 2, 4))), ValueError, r"hs must have shape \(4, 2, 4\)"),
    (dict(out=np.zeros((2, 1, 4))), ValueError, r"out must have shape \(2, 3, 4\)"),
    (dict(mask=np.ones((3, 2), bool)), ValueError, r"mask must have shape \(2, 3\)"),
    (dict(mask=np.ones((2, 3))), TypeError, "mask must be bool or uint8"),
    (dict(mask=[[1, 1, 1], [1, 1, 1]]), TypeError, "mask must be a numpy array"),
    (dict(hs=np.zeros((4, 2, 4), np.float32)), TypeError, "hs must be float64"),
    (dict(gates=np.zeros((3, 2, 16), np.int64)), TypeError, "gates must be float32 or float64"),
    (dict(activation=4), ValueError, "activation must be a code 0-3"),
    (dict(recurrent_activation=-1), ValueError, "recurrent_activation must be a code 0-3"),
    (dict(gates=np.zeros((3, 2, 16))[:, :, ::-1]), ValueError, "gates is written in place"),
    (dict(cs=np.zeros((4, 2, 4))[::-1]), ValueError, "cs is written in place"),
])
def test_lstm_forward_rejects_bad_arguments(change, error, match):
    args = lstm_args()
    args.update(change)
    with pytest.raises(error, match=match):
        K.lstm_forward(*args.values())


def test_backward_defs_reject_buffers_of_the_wrong_shape():
    n, t, u = 2, 3, 4
    gates, R, cs, mask = np.zeros((t, n, 4 * u)), np.zeros((u, 4 * u)), np.zeros((t + 1, n, u)), np.ones((n, t), bool)
    with pytest.raises(ValueError, match=r"lstm_backward: dz must have shape \(3, 2, 16\)"):
        K.lstm_backward(np.zeros((n, t, u)), R, gates, cs, mask, np.zeros((t, n, 12)), np.zeros((n, u)),
                        np.zeros((n, u)), 1, 2, False, True)
    with pytest.raises(ValueError, match=r"lstm_backward: dout must have shape \(2, 1, 4\)"):
        K.lstm_backward(np.zeros((n, t, u)), R, gates, cs, mask, np.zeros((t, n, 16)), np.zeros((n, u)),
                        np.zeros((n, u)), 1, 2, False, False)
    with pytest.raises(ValueError, match=r"gru_backward: gates must be \(timesteps, batch, 4\*units\)"):
        K.gru_backward(np.zeros((n, t, u)), np.zeros((u, 3 * u)), np.zeros((t, n, 3 * u)), cs, mask,
                       np.zeros((t, n, 12)), np.zeros((t, n, 12)), np.zeros((n, u)), 1, 2, False, True)
    with pytest.raises(ValueError, match=r"simple_rnn_backward: dh must have shape \(2, 4\)"):
        K.simple_rnn_backward(np.zeros((n, t, u)), np.zeros((u, u)), cs, mask, np.zeros((t, n, u)), np.zeros((u,)),
                              1, False, True)
    with pytest.raises(ValueError, match=r"gru_forward: recurrent_bias must have shape \(12,\)"):
        K.gru_forward(np.zeros((t, n, 3 * u)), np.zeros((u, 3 * u)), np.zeros(4 * u), np.zeros((t + 1, n, u)), mask,
                      np.zeros((t, n, 4 * u)), np.zeros((n, t, u)), 1, 2, False, True)


# ---- debug build: an out-of-bounds index reaches the caller -------------------------------------
def probe_cases():
    n, t, u = 2, 3, 4
    mask = np.ones((n, t), bool)
    z = np.zeros
    return {
        "lstm_forward": (K.lstm_forward, (z((t, n, 4 * u)), z((u, 4 * u)), z((t + 1, n, u)), z((t + 1, n, u)), mask,
                                          z((n, t, u)), 1, 2, False, True)),
        "lstm_backward": (K.lstm_backward, (z((n, t, u)), z((u, 4 * u)), z((t, n, 4 * u)), z((t + 1, n, u)), mask,
                                            z((t, n, 4 * u)), z((n, u)), z((n, u)), 1, 2, False, True)),
        "gru_forward": (K.gru_forward, (z((t, n, 3 * u)), z((u, 3 * u)), z(3 * u), z((t + 1, n, u)), mask,
                                        z((t, n, 4 * u)), z((n, t, u)), 1, 2, False, True)),
        "gru_backward": (K.gru_backward, (z((n, t, u)), z((u, 3 * u)), z((t, n, 4 * u)), z((t + 1, n, u)), mask,
                                          z((t, n, 3 * u)), z((t, n, 3 * u)), z((n, u)), 1, 2, False, True)),
        "simple_rnn_forward": (K.simple_rnn_forward, (z((t, n, u)), z((u, u)), z((t + 1, n, u)), mask, z((n, t, u)),
                                                      1, False, True)),
        "simple_rnn_backward": (K.simple_rnn_backward, (z((n, t, u)), z((u, u)), z((t + 1, n, u)), mask,
                                                        z((t, n, u)), z((n, u)), 1, False, True)),
    }


@pytest.mark.skipif(not threads.debug_build(), reason="bounds checks exist only in the debug build")
@pytest.mark.parametrize("name", sorted(probe_cases()))
def test_debug_build_index_errors_come_out_of_every_recurrent_kernel(name):
    fn, args = probe_cases()[name]
    with pytest.raises(IndexError, match="Out of bounds on buffer access"):
        K.bounds_probe(fn, *args)
    fn(*args)  # the probe switched itself off


@pytest.mark.skipif(threads.debug_build(), reason="the release build's probes refuse to run")
def test_release_build_probe_refuses_instead_of_writing_out_of_bounds():
    with pytest.raises(RuntimeError, match="bounds_probe: this build has no bounds checks"):
        K.bounds_probe(print, "never printed")


def test_every_def_keeps_its_name_and_argument_order():
    import inspect
    expected = {
        "lstm_forward": "gates recurrent_kernel hs cs mask out activation recurrent_activation zero_output sequences",
        "lstm_backward": "dout recurrent_kernel gates cs mask dz dh dc activation recurrent_activation zero_output "
                         "sequences",
        "gru_forward": "xw recurrent_kernel recurrent_bias hs mask gates out activation recurrent_activation "
                       "zero_output sequences",
        "gru_backward": "dout recurrent_kernel gates hs mask dxw drz dh activation recurrent_activation zero_output "
                        "sequences",
        "simple_rnn_forward": "xw recurrent_kernel hs mask out activation zero_output sequences",
        "simple_rnn_backward": "dout recurrent_kernel hs mask dz dh activation zero_output sequences",
    }
    for name, params in expected.items():
        assert list(inspect.signature(getattr(K, name)).parameters) == params.split(), name
    assert K.ACTIVATIONS == ("linear", "tanh", "sigmoid", "relu")
