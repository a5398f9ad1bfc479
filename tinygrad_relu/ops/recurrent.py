"""Recurrent ops: a whole sequence through a SimpleRNN, LSTM or GRU cell (Keras 3's equations and gate
orders) as one op, forward and backward through time.

Built as a graph of per-step ops, an LSTM over 50 steps would be some 800 graph nodes, each a
Python call and a fresh array, forward and backward. Here one op takes the sequence x (N, T, D),
the kernel, bias and recurrent kernel and the initial states, and:

* projects every step's input at once, ``xw = x @ kernel + bias``, one GEMM over all N*T rows
  (time-major, (T, N, G), G = gates * units, so that each step's block is contiguous);
* runs the time loop in Cython (cysrc/recurrent.pyx): per step one GEMM ``h[t] @ recurrent_kernel``
  on BLAS and the gate arithmetic in C;
* backward runs the loop in reverse (one GEMM per step, ``dz[t] @ recurrent_kernel^T``) and then
  gets every weight's gradient with one GEMM over all steps: dR = sum_t h[t]^T dz[t],
  dW = sum_t x[t]^T dz[t], db = sum_t dz[t], dx = dz W^T.

Per step t, with z the pre-activations (xw[t] + h R, split in gates of U units):

* SimpleRNN: h' = act(z);                    dz = dh' act'(h')
* LSTM (i, f, g, o): i, f, o = rec(.), g = act(.), c' = f c + i g, h' = o act(c');
  dc' += dh' o act'(c'), dz_i = dc' g rec'(i), dz_f = dc' c rec'(f), dz_g = dc' i act'(g),
  dz_o = dh' act(c') rec'(o), dc = dc' f
* GRU (z, r, h; Keras' reset_after=True): z, r = rec(xw + h R + b_rec), hh = act(xw_h + r (h R_h + b_h)),
  h' = z h + (1 - z) hh;  dz = dh' (h - hh) rec'(z), dhh = dh' (1 - z), dh = dh' z + (the GEMM part)

and dh = dz R^T. A mask (N, T) skips steps per sample: states pass through, the output repeats
the previous one (0 with ``zero_output``), and so do their gradients. ``go_backwards`` reads the
steps from the last to the first (the outputs come in that order, as in Keras).

The op's one output is the output sequence (N, T, U) or the last output (N, U); with
``return_state`` the final states follow it along axis 1, (N, To + states, U), which the layer
slices apart. Large buffers come from the layer's Workspace (ops/convolution.py): fresh pages
each step cost more than the arithmetic on them.
"""
import numpy as np

from .. import _blas, _state
from .._kernels import recurrent as K
from ..tensor import Function
from .convolution import NO_WORKSPACE

CODES = {name: code for code, name in enumerate(K.ACTIVATIONS)}  # the activations the kernels compute


class _Recurrence(Function):
    """What the three cells share: the settings, the input projection, the packing of outputs and states, the
    weight gradients. Inputs: (x, kernel, bias, recurrent_kernel, [recurrent_bias,] h0 [, c0])."""
    fresh_grads = True
    gates = 1     # the kernels are (., gates*U)
    states = 1    # h (and c for the LSTM)

    def _begin(self, x, kernel, bias, recurrent_kernel, mask, go_backwards, activation, recurrent_activation,
               return_sequences, return_state, zero_output, workspace):
        self.N, self.T, self.D = x.shape
        self.U = recurrent_kernel.shape[0]
        if mask is None:
            mask = np.ones((self.N, self.T), bool)
        self.mask = np.ascontiguousarray(mask[:, ::-1]) if go_backwards else mask
        self.go_backwards = go_backwards
        self.act, self.rec = CODES[activation], CODES[recurrent_activation]
        self.sequences, self.return_state, self.zero_output = return_sequences, return_state, zero_output
        self.kernel, self.recurrent_kernel, self.workspace = kernel, recurrent_kernel, workspace
        self.work = self.N * self.U * self.gates * self.U  # multiply-adds of each step's GEMM
        self.keep = _state.local.grad_enabled and any(self.needs_input_grad)  # backward will run
        # x time-major, in the order the steps are read: x_tm[t] = x[:, t] (x[:, T-1-t] going backwards)
        steps = x.transpose(1, 0, 2)
        self.x_tm = workspace.take("x", (self.T, self.N, self.D), x.dtype)
        np.copyto(self.x_tm, steps[::-1] if go_backwards else steps)

    def _project(self, name, kernel, bias):
        """xw = x @ kernel + bias for every step, (T, N, G), in a workspace buffer."""
        rows, width = self.T * self.N, kernel.shape[1]
        xw = self.workspace.take(name, (self.T, self.N, width), kernel.dtype)
        _blas.gemm(self.x_tm.reshape(rows, self.D), kernel, rows * self.D * width, out=xw.reshape(rows, width))
        xw += bias
        return xw

    def _states(self, name, initial):
        buffer = self.workspace.take(name, (self.T + 1, self.N, self.U), initial.dtype)
        buffer[0] = initial
        return buffer

    def _out(self, dtype):
        return self.workspace.recycle("out", (self.N, self.T if self.sequences else 1, self.U), dtype)

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

    def _saved(self, **arrays):
        """Keep what backward reads when it will run; otherwise hand every buffer back now."""
        if self.keep:
            self.saved = arrays
        else:
            self.saved = {}
            for name, array in arrays.items():
                self.workspace.give(name, array)

    def release(self):
        for name, array in self.saved.items():
            self.workspace.give(name, array)
        self.saved = {}

    def _input_grads(self, dxw, needs):
        """(dx, dkernel, dbias) from dxw (T, N, G), the gradient of every step's input projection."""
        rows, width = self.T * self.N, dxw.shape[2]
        flat = dxw.reshape(rows, width)
        dx = dkernel = dbias = None
        if needs[0]:
            dx_tm = self.workspace.take("dx_tm", (self.T, self.N, self.D), dxw.dtype)
            _blas.gemm(flat, self.kernel.T, rows * self.D * width, out=dx_tm.reshape(rows, self.D))
            dx = self.workspace.recycle("dx", (self.N, self.T, self.D), dxw.dtype)
            np.copyto(dx, (dx_tm[::-1] if self.go_backwards else dx_tm).transpose(1, 0, 2))
            self.workspace.give("dx_tm", dx_tm)
        if needs[1]:
            dkernel = _blas.gemm(self.saved["x"].reshape(rows, self.D).T, flat, rows * self.D * width)
        if needs[2]:
            dbias = _blas.gemm(np.ones(rows, dtype=dxw.dtype), flat, rows * width)
        return dx, dkernel, dbias

    def _recurrent_kernel_grad(self, hs, dz):
        """dR = sum_t h[t]^T dz[t]: one GEMM over every step (hs[:T] and dz are time-major and contiguous)."""
        rows = self.T * self.N
        return _blas.gemm(hs[:self.T].reshape(rows, self.U).T, dz.reshape(rows, -1), rows * self.U * dz.shape[2])


class SimpleRNN(_Recurrence):
    """h' = act(x[t] W + b + h R) over the whole sequence; inputs (x, kernel, bias, recurrent_kernel, h0)."""

    def forward(self, x, kernel, bias, recurrent_kernel, h0, mask=None, go_backwards=False, activation="tanh",
                recurrent_activation="sigmoid", return_sequences=False, return_state=False, zero_output=False,
                workspace=NO_WORKSPACE):
        self._begin(x, kernel, bias, recurrent_kernel, mask, go_backwards, activation, recurrent_activation,
                    return_sequences, return_state, zero_output, workspace)
        xw, hs, out = self._project("xw", kernel, bias), self._states("hs", h0), self._out(x.dtype)
        with _blas.one_thread_below(self.work):
            K.simple_rnn_forward(xw, recurrent_kernel, hs, self.mask, out, self.act, zero_output, return_sequences)
        workspace.give("xw", xw)
        result = self._pack(out, hs[self.T])
        self._saved(x=self.x_tm, hs=hs)
        return result

    def backward(self, g):
        dout, (dh,) = self._unpack(g)
        hs, needs = self.saved["hs"], self.needs_input_grad
        dz = self.workspace.take("dz", (self.T, self.N, self.U), g.dtype)
        with _blas.one_thread_below(self.work):
            K.simple_rnn_backward(dout, self.recurrent_kernel, hs, self.mask, dz, dh, self.act, self.zero_output,
                                  self.sequences)
        dx, dkernel, dbias = self._input_grads(dz, needs)
        drecurrent = self._recurrent_kernel_grad(hs, dz) if needs[3] else None
        self.workspace.give("dz", dz)
        return dx, dkernel, dbias, drecurrent, dh


class LSTM(_Recurrence):
    """Keras' LSTM over the whole sequence, gates i, f, c, o; inputs (x, kernel, bias, recurrent_kernel, h0, c0)."""
    gates, states = 4, 2

    def forward(self, x, kernel, bias, recurrent_kernel, h0, c0, mask=None, go_backwards=False, activation="tanh",
                recurrent_activation="sigmoid", return_sequences=False, return_state=False, zero_output=False,
                workspace=NO_WORKSPACE):
        self._begin(x, kernel, bias, recurrent_kernel, mask, go_backwards, activation, recurrent_activation,
                    return_sequences, return_state, zero_output, workspace)
        gates = self._project("gates", kernel, bias)  # xw, turned into the activated gates by the kernel
        hs, cs, out = self._states("hs", h0), self._states("cs", c0), self._out(x.dtype)
        with _blas.one_thread_below(self.work):
            K.lstm_forward(gates, recurrent_kernel, hs, cs, self.mask, out, self.act, self.rec, zero_output,
                           return_sequences)
        result = self._pack(out, hs[self.T], cs[self.T])
        self._saved(x=self.x_tm, gates=gates, hs=hs, cs=cs)
        return result

    def backward(self, g):
        dout, (dh, dc) = self._unpack(g)
        saved, needs = self.saved, self.needs_input_grad
        dz = self.workspace.take("dz", (self.T, self.N, 4 * self.U), g.dtype)
        with _blas.one_thread_below(self.work):
            K.lstm_backward(dout, self.recurrent_kernel, saved["gates"], saved["cs"], self.mask, dz, dh, dc,
                            self.act, self.rec, self.zero_output, self.sequences)
        dx, dkernel, dbias = self._input_grads(dz, needs)
        drecurrent = self._recurrent_kernel_grad(saved["hs"], dz) if needs[3] else None
        self.workspace.give("dz", dz)
        return dx, dkernel, dbias, drecurrent, dh, dc


class GRU(_Recurrence):
    """Keras' GRU with reset_after=True over the whole sequence, gates z, r, h; inputs (x, kernel, bias,
    recurrent_kernel, recurrent_bias, h0)."""
    gates = 3

    def forward(self, x, kernel, bias, recurrent_kernel, recurrent_bias, h0, mask=None, go_backwards=False,
                activation="tanh", recurrent_activation="sigmoid", return_sequences=False, return_state=False,
                zero_output=False, workspace=NO_WORKSPACE):
        self._begin(x, kernel, bias, recurrent_kernel, mask, go_backwards, activation, recurrent_activation,
                    return_sequences, return_state, zero_output, workspace)
        xw, hs, out = self._project("xw", kernel, bias), self._states("hs", h0), self._out(x.dtype)
        gates = workspace.take("gates", (self.T, self.N, 4 * self.U), x.dtype)
        with _blas.one_thread_below(self.work):
            K.gru_forward(xw, recurrent_kernel, recurrent_bias, hs, self.mask, gates, out, self.act, self.rec,
                          zero_output, return_sequences)
        workspace.give("xw", xw)
        result = self._pack(out, hs[self.T])
        self._saved(x=self.x_tm, gates=gates, hs=hs)
        return result

    def backward(self, g):
        dout, (dh,) = self._unpack(g)
        saved, needs, workspace = self.saved, self.needs_input_grad, self.workspace
        dxw = workspace.take("dz", (self.T, self.N, 3 * self.U), g.dtype)
        drz = workspace.take("drz", (self.T, self.N, 3 * self.U), g.dtype)
        with _blas.one_thread_below(self.work):
            K.gru_backward(dout, self.recurrent_kernel, saved["gates"], saved["hs"], self.mask, dxw, drz, dh,
                           self.act, self.rec, self.zero_output, self.sequences)
        dx, dkernel, dbias = self._input_grads(dxw, needs)
        drecurrent = self._recurrent_kernel_grad(saved["hs"], drz) if needs[3] else None
        drecurrent_bias = _blas.gemm(np.ones(self.T * self.N, dtype=g.dtype), drz.reshape(self.T * self.N, -1),
                                     drz.size) if needs[4] else None
        workspace.give("dz", dxw)
        workspace.give("drz", drz)
        return dx, dkernel, dbias, drecurrent, drecurrent_bias, dh
