"""Recurrent ops: a whole sequence through a SimpleRNN, LSTM or GRU cell (Keras 3's equations and gate
orders) as one op, forward and backward through time.

Built as a graph of per-step ops, an LSTM over 50 steps would be some 800 graph nodes, each a
Python call and a fresh array, forward and backward. Here the layer first projects every
step's input in one GEMM (``xw = x @ kernel + bias``, the fused Dense op), and this op takes
``xw`` and the recurrent kernel and runs the time loop in Cython (cysrc/recurrent.pyx): per
step one GEMM ``h[t] @ recurrent_kernel`` on BLAS and the gate arithmetic in C. Backward runs
the loop in reverse (one GEMM per step, ``dz[t] @ recurrent_kernel^T``), and the recurrent
kernel's gradient is one GEMM over all steps at the end: dR = sum_t h[t]^T dz[t].

Per step t, with z the pre-activations (xw[t] + h R, split in gates of U units):

* SimpleRNN: h' = act(z);                    dz = dh' act'(h')
* LSTM (i, f, g, o): i, f, o = rec(.), g = act(.), c' = f c + i g, h' = o act(c');
  dc' += dh' o act'(c'), dz_i = dc' g rec'(i), dz_f = dc' c rec'(f), dz_g = dc' i act'(g),
  dz_o = dh' act(c') rec'(o), dc = dc' f
* GRU (z, r, h; Keras' reset_after=True): z, r = rec(xw + h R + b_rec), hh = act(xw_h + r (h R_h + b_h)),
  h' = z h + (1 - z) hh;  dz = dh' (h - hh), dhh = dh' (1 - z), dh = dh' z + (the GEMM part)

and dh = dz R^T. A mask (N, T) skips steps per sample: states pass through, the output repeats
the previous one (0 with ``zero_output``), and so do their gradients.

The op's one output is the output sequence (N, T, U) or the last output (N, U); with
``return_state`` the final states follow it along axis 1, (N, To + states, U), which the layer
slices apart.
"""
import numpy as np

from .. import _blas
from .._kernels import recurrent as K
from ..tensor import Function

CODES = {name: code for code, name in enumerate(K.ACTIVATIONS)}  # the activations the kernels compute


class _Recurrence(Function):
    """Shared by the three cells: the settings, the mask, the packing of outputs and states."""
    fresh_grads = True
    gates = 1     # the recurrent kernel is (U, gates*U)
    states = 1    # h (and c for the LSTM)

    def _settings(self, xw, recurrent_kernel, mask, activation, recurrent_activation, return_sequences,
                  return_state, zero_output):
        self.N, self.T, _ = xw.shape
        self.U = recurrent_kernel.shape[0]
        self.mask = np.ones((self.N, self.T), bool) if mask is None else mask
        self.act, self.rec = CODES[activation], CODES[recurrent_activation]
        self.sequences, self.return_state, self.zero_output = return_sequences, return_state, zero_output
        self.recurrent_kernel = recurrent_kernel
        self.work = self.N * self.U * self.gates * self.U  # multiply-adds of each step's GEMM

    def _states(self, initial, dtype):
        buffer = np.empty((self.T + 1, self.N, self.U), dtype=dtype)
        buffer[0] = initial
        return buffer

    def _out(self, dtype):
        return np.empty((self.N, self.T if self.sequences else 1, self.U), dtype=dtype)

    def _pack(self, out, *finals):
        if self.return_state:
            return np.concatenate([out] + [f[:, None, :] for f in finals], axis=1)
        return out if self.sequences else out[:, 0]

    def _unpack(self, g):
        """(gradient of the outputs shaped as the kernel's out, gradients of the final states)."""
        n_out = self.T if self.sequences else 1
        if self.return_state:
            dout = np.ascontiguousarray(g[:, :n_out])
            finals = [np.array(g[:, n_out + i]) for i in range(self.states)]
        else:
            dout = np.ascontiguousarray(g if self.sequences else g[:, None, :])
            finals = [np.zeros((self.N, self.U), dtype=g.dtype) for _ in range(self.states)]
        return dout, finals

    def _recurrent_kernel_grad(self, hs, dz):
        """dR = sum_t h[t]^T dz[t]: one GEMM over every step (hs[:T] and dz are time-major and contiguous)."""
        if not self.needs_input_grad[1]:
            return None
        steps = self.T * self.N
        return _blas.gemm(hs[:self.T].reshape(steps, self.U).T, dz.reshape(steps, -1), steps * self.U * dz.shape[2])

    @staticmethod
    def _batch_major(dz):
        return np.ascontiguousarray(dz.transpose(1, 0, 2))


class SimpleRNN(_Recurrence):
    """h' = act(xw[t] + h R), over the whole sequence; inputs (xw, recurrent_kernel, h0)."""

    def forward(self, xw, recurrent_kernel, h0, mask=None, activation="tanh", recurrent_activation="sigmoid",
                return_sequences=False, return_state=False, zero_output=False):
        self._settings(xw, recurrent_kernel, mask, activation, recurrent_activation, return_sequences,
                       return_state, zero_output)
        self.hs, out = self._states(h0, xw.dtype), self._out(xw.dtype)
        with _blas.one_thread_below(self.work):
            K.simple_rnn_forward(xw, recurrent_kernel, self.hs, self.mask, out, self.act, zero_output,
                                 return_sequences)
        return self._pack(out, self.hs[self.T])

    def backward(self, g):
        dout, (dh,) = self._unpack(g)
        dz = np.empty((self.T, self.N, self.U), dtype=g.dtype)
        with _blas.one_thread_below(self.work):
            K.simple_rnn_backward(dout, self.recurrent_kernel, self.hs, self.mask, dz, dh, self.act,
                                  self.zero_output, self.sequences)
        return self._batch_major(dz), self._recurrent_kernel_grad(self.hs, dz), dh


class LSTM(_Recurrence):
    """Keras' LSTM over the whole sequence; inputs (xw, recurrent_kernel, h0, c0), gates i, f, c, o."""
    gates, states = 4, 2

    def forward(self, xw, recurrent_kernel, h0, c0, mask=None, activation="tanh", recurrent_activation="sigmoid",
                return_sequences=False, return_state=False, zero_output=False):
        self._settings(xw, recurrent_kernel, mask, activation, recurrent_activation, return_sequences,
                       return_state, zero_output)
        self.hs, self.cs, out = self._states(h0, xw.dtype), self._states(c0, xw.dtype), self._out(xw.dtype)
        self.saved_gates = np.empty((self.T, self.N, 4 * self.U), dtype=xw.dtype)
        with _blas.one_thread_below(self.work):
            K.lstm_forward(xw, recurrent_kernel, self.hs, self.cs, self.mask, self.saved_gates, out, self.act,
                           self.rec, zero_output, return_sequences)
        return self._pack(out, self.hs[self.T], self.cs[self.T])

    def backward(self, g):
        dout, (dh, dc) = self._unpack(g)
        dz = np.empty((self.T, self.N, 4 * self.U), dtype=g.dtype)
        with _blas.one_thread_below(self.work):
            K.lstm_backward(dout, self.recurrent_kernel, self.saved_gates, self.cs, self.mask, dz, dh, dc,
                            self.act, self.rec, self.zero_output, self.sequences)
        return self._batch_major(dz), self._recurrent_kernel_grad(self.hs, dz), dh, dc


class GRU(_Recurrence):
    """Keras' GRU with reset_after=True over the whole sequence; inputs (xw, recurrent_kernel, recurrent_bias,
    h0), gates z, r, h."""
    gates = 3

    def forward(self, xw, recurrent_kernel, recurrent_bias, h0, mask=None, activation="tanh",
                recurrent_activation="sigmoid", return_sequences=False, return_state=False, zero_output=False):
        self._settings(xw, recurrent_kernel, mask, activation, recurrent_activation, return_sequences,
                       return_state, zero_output)
        self.hs, out = self._states(h0, xw.dtype), self._out(xw.dtype)
        self.saved_gates = np.empty((self.T, self.N, 4 * self.U), dtype=xw.dtype)
        with _blas.one_thread_below(self.work):
            K.gru_forward(xw, recurrent_kernel, recurrent_bias, self.hs, self.mask, self.saved_gates, out, self.act,
                          self.rec, zero_output, return_sequences)
        return self._pack(out, self.hs[self.T])

    def backward(self, g):
        dout, (dh,) = self._unpack(g)
        dxw = np.empty((self.T, self.N, 3 * self.U), dtype=g.dtype)
        drz = np.empty_like(dxw)
        with _blas.one_thread_below(self.work):
            K.gru_backward(dout, self.recurrent_kernel, self.saved_gates, self.hs, self.mask, dxw, drz, dh,
                           self.act, self.rec, self.zero_output, self.sequences)
        bias_grad = drz.sum(axis=(0, 1)) if self.needs_input_grad[2] else None
        return self._batch_major(dxw), self._recurrent_kernel_grad(self.hs, drz), bias_grad, dh
