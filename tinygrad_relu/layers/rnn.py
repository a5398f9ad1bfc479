"""Recurrent layers: ``RNN`` (any cell), ``SimpleRNN``, ``LSTM`` and ``GRU``, with Keras 3's arguments,
weights (held by the cell, rnn_cells.py), configs and masking.

Input (batch, timesteps, features); output the last step's (batch, units), every step's with
``return_sequences=True`` (batch, timesteps, units), followed by the final states with
``return_state=True`` (a tuple, as Keras 3). ``go_backwards=True`` reads the sequence from its end
and returns the outputs in that (reversed) order. A mask (Embedding(mask_zero=True), Masking, or
``mask=`` in the call) skips steps per sample: the states carry on unchanged and the output repeats
the previous one (zeros with ``zero_output_for_mask=True``, which Bidirectional sets).

How a call runs. The built-in cells with the activations the kernels compute (tanh, sigmoid, relu,
linear) and no recurrent dropout run the whole sequence as one op (ops/recurrent.py): one GEMM for
every step's input projection, then the time loop in Cython. Anything else (a custom cell,
``recurrent_dropout`` while training, another activation, a GRU with ``reset_after=False``) runs
step by step through the cell's own ``call``, a graph of engine ops that autograd differentiates;
the same numbers, more slowly. ``unroll`` is accepted: both of Keras' loops compute the same
numbers, so it changes nothing here (except that, as in Keras, it needs a known number of steps).
``stateful=True`` is not supported (NotImplementedError).
"""
import numpy as np

from .. import activations, ops
from ..ops import recurrent as recurrent_ops
from ..ops.convolution import Workspace
from ..tensor import Tensor
from .base import Layer
from .mask_propagation import as_mask
from .nested import deserialize_layer, serialize_layer
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from .checks import shape_str

# built-in cell class -> the op that runs a whole sequence through it
_SEQUENCE_OPS = {SimpleRNNCell: recurrent_ops.SimpleRNN, LSTMCell: recurrent_ops.LSTM, GRUCell: recurrent_ops.GRU}


def _state_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


class RNN(Layer):
    """Runs ``cell`` over the timesteps of its input (Keras' ``keras.layers.RNN``).

    A cell is a layer with ``state_size`` (an int, or a list with one int per state) and
    ``call(inputs, states) -> (output, new_states)`` for one step (inputs (batch, features)).
    """
    _supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            raise NotImplementedError("RNN: a list of cells (Keras' StackedRNNCells) is not supported; stack RNN "
                                      "layers with return_sequences=True instead")
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell!r}")
        state_size = getattr(cell, "state_size", None)
        if isinstance(state_size, bool) or not isinstance(state_size, (int, np.integer, list, tuple)):
            raise ValueError("The RNN cell should have a `state_size` attribute (single integer or list of "
                             f"integers, one integer per RNN state). Received: cell={cell!r}")
        super().__init__(**kwargs)
        if stateful:
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': stateful=True is not supported; keep "
                                      "the final states with return_state=True and pass them as initial_state")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.state_size = [int(s) for s in _state_list(state_size)]
        self._workspace = Workspace()  # the fused op's buffers, reused from call to call

    # ---- shapes ------------------------------------------------------------------------------------
    def check_input_shape(self, shape):
        self._require_ndim(shape, 3)
        if self.unroll and shape[1] is None:
            raise ValueError(f"Layer '{self.name}': cannot unroll a RNN if the time dimension is undefined; give "
                             "the Input a fixed number of timesteps (received input shape "
                             f"{shape_str(shape)})")
        kernel = getattr(self.cell, "kernel", None)
        if self.built and isinstance(kernel, Tensor):
            self._require_axis(shape, -1, kernel.shape[0])

    def build(self, sequences_shape, initial_state_shape=None):
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((sequences_shape[0],) + tuple(sequences_shape[2:]))

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        size = getattr(self.cell, "output_size", None) or self.state_size[0]
        output = (batch, steps, size) if self.return_sequences else (batch, size)
        if self.return_state:
            return [output] + [(batch, s) for s in self.state_size]
        return output

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        return [output_mask] + [None] * len(self.state_size) if self.return_state else output_mask

    def get_initial_state(self, batch_size):
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            return _state_list(make(batch_size=batch_size))
        return [Tensor(np.zeros((batch_size, s), dtype=self.dtype)) for s in self.state_size]

    # ---- the call ------------------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences if isinstance(sequences, Tensor) else Tensor(np.asarray(sequences, dtype=self.dtype))
        batch, steps = x.shape[0], x.shape[1]
        mask = self._checked_mask(mask, batch, steps)
        states = self._initial_states(initial_state, batch)
        op = self._sequence_op(training)
        if op is not None:
            output, states = self._run_fused(op, x, states, mask, training)
        else:
            if self.go_backwards:
                x = x[:, ::-1]
                mask = None if mask is None else mask[:, ::-1]
            output, states = self._run_stepwise(x, states, mask, training)
        return (output, *states) if self.return_state else output

    def _checked_mask(self, mask, batch, steps):
        if mask is None:
            return None
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
            if mask is None:
                return None
        values = as_mask(mask, f"Layer '{self.name}'")
        if values.shape != (batch, steps):
            raise ValueError(f"Layer '{self.name}': the mask must have shape (batch, timesteps) = {(batch, steps)}, "
                             f"received a mask of shape {values.shape}")
        return None if values.all() else np.ascontiguousarray(values)

    def _initial_states(self, initial_state, batch):
        if initial_state is None:
            return [Tensor._make(np.zeros((batch, s), dtype=self.dtype), False, None) for s in self.state_size]
        given = _state_list(initial_state)
        if len(given) != len(self.state_size):
            raise ValueError(f"Layer '{self.name}' has {len(self.state_size)} state(s) (units {self.state_size}), "
                             f"but it was passed an `initial_state` with {len(given)} tensor(s)")
        states = []
        for i, (state, size) in enumerate(zip(given, self.state_size)):
            state = state if isinstance(state, Tensor) else Tensor(np.asarray(state, dtype=self.dtype))
            if state.shape != (batch, size):
                raise ValueError(f"Layer '{self.name}': initial_state[{i}] must have shape (batch, units) = "
                                 f"{(batch, size)}, received shape {state.shape}")
            states.append(state if state.dtype == self.dtype else ops.cast(state, self.dtype))
        return states

    def _sequence_op(self, training):
        """The op that runs the whole sequence, or None when this call must go step by step."""
        cell = self.cell
        op = _SEQUENCE_OPS.get(type(cell))
        if op is None or not cell.built or cell.kernel.dtype != np.dtype(self.dtype):
            return None
        if isinstance(cell, GRUCell) and not cell.reset_after:
            return None
        if training and (cell.recurrent_dropout or (cell.dropout and cell.implementation == 1 and cell.gates > 1)):
            return None
        if activations.fused_name(cell.activation, recurrent_ops.CODES) is None or (
                cell.recurrent_activation is not None and
                activations.fused_name(cell.recurrent_activation, recurrent_ops.CODES) is None):
            return None
        return op

    def _run_fused(self, op, x, states, mask, training):
        cell = self.cell
        batch, steps, features = x.shape
        if x.dtype != cell.kernel.dtype:
            x = ops.cast(x, cell.kernel.dtype)
        if training and 0.0 < cell.dropout < 1.0:  # one mask for every step, Keras' implementation 2
            x = x * cell.dropout_masks((batch, 1, features), (batch, cell.units), x.dtype)[0]
        input_bias, recurrent_bias = cell.biases() if isinstance(cell, GRUCell) else (cell.bias, None)
        width = cell.kernel.shape[1]
        zeros = Tensor._make(np.zeros(width, dtype=x.dtype), False, None)
        weights = [x, cell.kernel, zeros if input_bias is None else input_bias, cell.recurrent_kernel]
        if op is recurrent_ops.GRU:
            weights.append(zeros if recurrent_bias is None else recurrent_bias)
        y = op.apply(*weights, *states, mask=mask, go_backwards=self.go_backwards,
                     activation=activations.fused_name(cell.activation, recurrent_ops.CODES),
                     recurrent_activation=activations.fused_name(cell.recurrent_activation, recurrent_ops.CODES)
                     if cell.recurrent_activation is not None else "sigmoid",
                     return_sequences=self.return_sequences, return_state=self.return_state,
                     zero_output=self.zero_output_for_mask, workspace=self._workspace)
        if not self.return_state:
            return y, states
        outputs = steps if self.return_sequences else 1
        output = y[:, :steps] if self.return_sequences else y[:, 0]
        return output, [y[:, outputs + i] for i in range(len(states))]

    def _run_stepwise(self, x, states, mask, training):
        """Keras' backend.rnn loop: the cell's call once per step, masked steps keeping states and output."""
        cell = self.cell
        builtin = type(cell) in _SEQUENCE_OPS or isinstance(cell, (SimpleRNNCell, LSTMCell, GRUCell))
        if builtin:
            cell._dropout_masks = cell.dropout_masks((x.shape[0], x.shape[2]), (x.shape[0], cell.units), x.dtype) \
                if training else (None, None)
        outputs, previous = [], None
        try:
            for t in range(x.shape[1]):
                if builtin:  # (Keras hands a cell its states as a list, even a single one)
                    output, new_states = cell.call(x[:, t], list(states), training=training)
                else:
                    output, new_states = cell(x[:, t], list(states), training=training)
                new_states = _state_list(new_states)
                if mask is not None:
                    real = mask[:, t:t + 1]
                    zeros = Tensor._make(np.zeros(output.shape, dtype=output.dtype), False, None)
                    output = ops.where(real, output, zeros if previous is None or self.zero_output_for_mask
                                       else previous)
                    new_states = [ops.where(real, new, old) for new, old in zip(new_states, states)]
                states, previous = new_states, output
                if self.return_sequences:
                    outputs.append(output)
        finally:
            if builtin:
                cell._dropout_masks = (None, None)
        return (ops.stack(outputs, axis=1) if self.return_sequences else previous), states

    # ---- configuration ---------------------------------------------------------------------------------
    def _rnn_config(self):
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}

    def get_config(self):
        return {**super().get_config(), **self._rnn_config(), "cell": serialize_layer(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize_layer(config.pop("cell"), "RNN"), **config)


class _CellLayer(RNN):
    """SimpleRNN, LSTM and GRU: an RNN over its own built-in cell, configured by the cell's arguments."""
    cell_class = cell_name = None
    _forwarded = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                  "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                  "bias_regularizer", "dropout", "recurrent_dropout", "seed", "unit_forget_bias", "reset_after",
                  "implementation")

    def __init__(self, cell_kwargs, rnn_kwargs, kwargs):
        cell = self.cell_class(**cell_kwargs, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                               name=self.cell_name, implementation=kwargs.pop("implementation", 2))
        use_cudnn = kwargs.pop("use_cudnn", "auto")
        if use_cudnn not in ("auto", True, False):
            raise ValueError("Invalid value received for argument `use_cudnn`. Expected one of "
                             f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn!r}")
        if use_cudnn is True:
            raise ValueError("use_cudnn=True was specified, but there is no cuDNN here (CPU only); pass "
                             "use_cudnn='auto' (the default)")
        super().__init__(cell, **rnn_kwargs, **kwargs)
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):  # Keras' layer.units, layer.activation, ... read the cell's
        cell = self.__dict__.get("cell")
        if cell is not None and name in _CellLayer._forwarded and hasattr(cell, name):
            return getattr(cell, name)
        return super().__getattr__(name)

    def get_config(self):
        config = Layer.get_config(self)
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype", "batch_input_shape"):
            cell_config.pop(key, None)
        config.update(self._rnn_config())
        config.update(cell_config)
        config.setdefault("activity_regularizer", None)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SimpleRNN(_CellLayer):
    """Fully connected recurrence: h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""
    cell_class, cell_name = SimpleRNNCell, "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 **kwargs):
        super().__init__(
            dict(units=units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                 recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                 kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                 bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                 recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                 recurrent_dropout=recurrent_dropout, seed=seed),
            dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                 stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer), kwargs)


class LSTM(_CellLayer):
    """Long short-term memory (Hochreiter 1997), Keras' gates i, f, c, o; states [h, c]."""
    cell_class, cell_name = LSTMCell, "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(
            dict(units=units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                 kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                 bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                 kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                 bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                 recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                 recurrent_dropout=recurrent_dropout, seed=seed),
            dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                 stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer), kwargs)


class GRU(_CellLayer):
    """Gated recurrent unit (Cho et al. 2014), Keras' gates z, r, h; reset_after=True (Keras 3's default) applies
    the reset gate after the recurrent product, with separate input and recurrent biases."""
    cell_class, cell_name = GRUCell, "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, **kwargs):
        super().__init__(
            dict(units=units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                 kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                 bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                 recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                 kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                 bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                 reset_after=reset_after),
            dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                 stateful=stateful, unroll=unroll, activity_regularizer=activity_regularizer), kwargs)
