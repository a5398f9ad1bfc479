"""Recurrent cells: one timestep of a SimpleRNN, LSTM or GRU, with Keras 3's weights, options and configs.

A cell holds the weights, Keras' layout and order: ``kernel`` (input_dim, G*units), ``recurrent_kernel``
(units, G*units) and ``bias`` (G*units,), G gates side by side in Keras' order: LSTM i, f, c, o; GRU
z, r, h, its bias (2, 3*units) with ``reset_after=True`` (row 0 for the input, row 1 for the recurrent
product); SimpleRNN one block. ``call(inputs, states)`` is one step written with the engine's ops (so
autograd differentiates it as it stands): what ``RNN`` loops over for a custom cell, for recurrent
dropout and for activations the fused kernels lack. The layers in rnn.py otherwise run the whole
sequence as one op (ops/recurrent.py).

Dropout as Keras' DropoutRNNCell: one mask per call of the layer, drawn on the first step's shapes
and kept for every step; with ``recurrent_dropout`` (or ``implementation=1``) one mask per gate.
"""
import numpy as np

from .. import activations, initializers, ops, regularizers, utils
from ..tensor import Tensor
from .base import Layer
from .checks import positive_int, shape_str


def _rate(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not np.isfinite(value):
        raise ValueError(f"{who}: `{name}` must be a number between 0 and 1, received {name}={value!r}")
    return min(1.0, max(0.0, float(value)))  # Keras clips it into [0, 1]


def _constraint(value, name, who):
    if value is not None and not callable(value):
        raise NotImplementedError(f"{who}: {name}={value!r} is not supported; pass a callable that maps a weight "
                                  "Tensor to its constrained values")
    return value


def _project(x, weight, masks, gates):
    """x @ weight, each gate's block of columns from x times that gate's dropout mask when there is one."""
    if masks is None:
        return x @ weight
    if not isinstance(masks, list):
        return (x * masks) @ weight
    width = weight.shape[1] // gates
    return ops.concatenate([(x * m) @ weight[:, g * width:(g + 1) * width] for g, m in enumerate(masks)], axis=-1)


class _Cell(Layer):
    """The options, weights, configs and dropout masks the three cells share."""
    gates = 1
    recurrent_activation = None

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        who = f"{type(self).__name__} '{self.name}'"
        self.units = positive_int(units, "units", self.name)
        if implementation not in (1, 2):
            raise ValueError(f"{who}: implementation must be 1 or 2, received implementation={implementation!r}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraint(kernel_constraint, "kernel_constraint", who)
        self.recurrent_constraint = _constraint(recurrent_constraint, "recurrent_constraint", who)
        self.bias_constraint = _constraint(bias_constraint, "bias_constraint", who)
        self.dropout = _rate(dropout, "dropout", who)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", who)
        self.implementation = 1 if self.recurrent_dropout else implementation
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._dropout_masks = (None, None)  # (inputs, state) masks while a layer call runs; see dropout_masks
        self.state_size = self.units
        self.output_size = self.units
        self.kernel = self.recurrent_kernel = self.bias = None

    # ---- weights -------------------------------------------------------------------------------
    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the last axis of the input must be known, received "
                             f"input shape {shape_str(input_shape)}")
        width = self.gates * self.units
        self.kernel = self.add_weight(shape=(input_dim, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, width), initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), initializer=self._bias_initializer(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def get_initial_state(self, batch_size=None):
        return [Tensor(np.zeros((batch_size, self.units), dtype=self.dtype)) for _ in range(self._state_count())]

    def _state_count(self):
        return 1

    # ---- dropout: one set of masks per layer call ---------------------------------------------------
    def dropout_masks(self, inputs_shape, state_shape, dtype):
        """Draw this call's masks: (inputs masks, state masks), each None, one array, or a list of one per gate."""
        count = self.gates if self.implementation == 1 and self.gates > 1 else None
        return (self._draw(inputs_shape, self.dropout, count, dtype),
                self._draw(state_shape, self.recurrent_dropout, count, dtype))

    def _draw(self, shape, rate, count, dtype):
        if not 0.0 < rate < 1.0:  # Keras applies neither rate 0 nor rate 1
            return None
        rng = self._rng if self._rng is not None else utils.get_rng()
        keep = np.dtype(dtype).type(1.0 - rate)

        def one():
            return Tensor._make((rng.random(shape) < keep).astype(dtype) / keep, False, None)
        return one() if count is None else [one() for _ in range(count)]

    def _step_masks(self, training):
        return self._dropout_masks if training else (None, None)

    # ---- configuration -------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=activations.serialize(self.activation))
        if self.recurrent_activation is not None:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config.update(
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        if any(c is not None for c in (self.kernel_constraint, self.recurrent_constraint, self.bias_constraint)):
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': a layer with weight constraints cannot be "
                                      "saved (constraints are callables here, with no config)")
        return config


class SimpleRNNCell(_Cell):
    """h' = activation(x @ kernel + bias + h @ recurrent_kernel)"""

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x_mask, h_mask = self._step_masks(training)
        z = _project(inputs, self.kernel, x_mask, 1)
        if self.use_bias:
            z = z + self.bias
        output = self.activation(z + _project(h, self.recurrent_kernel, h_mask, 1))
        return output, ([output] if isinstance(states, (list, tuple)) else output)


class LSTMCell(_Cell):
    """i, f, o = recurrent_activation(z_i, z_f, z_o), g = activation(z_c), z = x @ kernel + h @ recurrent_kernel
    + bias;  c' = f c + i g,  h' = o activation(c')."""
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _state_count(self):
        return 2

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, initializer = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):  # Keras: the forget gate's bias starts at 1
            return np.concatenate([np.asarray(initializer((units,), dtype=dtype)), np.ones(units, dtype=dtype),
                                   np.asarray(initializer((2 * units,), dtype=dtype))])
        return forget_bias_one

    def call(self, inputs, states, training=False):
        h, c = states[0], states[1]
        x_mask, h_mask = self._step_masks(training)
        z = _project(inputs, self.kernel, x_mask, 4) + _project(h, self.recurrent_kernel, h_mask, 4)
        if self.use_bias:
            z = z + self.bias
        u, gate, act = self.units, self.recurrent_activation, self.activation
        i, f, g, o = gate(z[:, :u]), gate(z[:, u:2 * u]), act(z[:, 2 * u:3 * u]), gate(z[:, 3 * u:])
        c = f * c + i * g
        h = o * act(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """z, r = recurrent_activation(x W_z + h R_z + b, x W_r + h R_r + b), hh = activation(x W_h + r (h R_h + b))
    (reset_after=True; False: activation(x W_h + (r h) R_h + b));  h' = z h + (1 - z) hh."""
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def biases(self):
        """(input bias, recurrent bias) as Tensors in the graph, either None."""
        if not self.use_bias:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        x_mask, h_mask = self._step_masks(training)
        u, gate, act = self.units, self.recurrent_activation, self.activation
        input_bias, recurrent_bias = self.biases()
        xz = _project(inputs, self.kernel, x_mask, 3)
        if input_bias is not None:
            xz = xz + input_bias
        if self.reset_after:
            hz = _project(h, self.recurrent_kernel, h_mask, 3)
            if recurrent_bias is not None:
                hz = hz + recurrent_bias
            z, r = gate(xz[:, :u] + hz[:, :u]), gate(xz[:, u:2 * u] + hz[:, u:2 * u])
            hh = act(xz[:, 2 * u:] + r * hz[:, 2 * u:])
        else:
            masks = h_mask if isinstance(h_mask, list) else [h_mask] * 3
            hz = _project(h, self.recurrent_kernel[:, :2 * u], masks[:2] if h_mask is not None else None, 2)
            z, r = gate(xz[:, :u] + hz[:, :u]), gate(xz[:, u:2 * u] + hz[:, u:])
            h_reset = r * (h if masks[2] is None else h * masks[2])
            hh = act(xz[:, 2 * u:] + h_reset @ self.recurrent_kernel[:, 2 * u:])
        out = z * h + (1.0 - z) * hh
        return out, ([out] if isinstance(states, (list, tuple)) else out)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
