"""Wrappers: a layer applied in a new way. ``Bidirectional`` runs a recurrent layer over the sequence
forwards and backwards and merges the two; ``TimeDistributed`` applies a layer to every timestep.

Both hold the wrapped layer(s) as sublayers, so their weights are the wrapped layers' in Keras' order
(Bidirectional: the forward layer's, then the backward layer's).
"""
from .. import ops
from .base import Layer
from .checks import shape_str
from .nested import deserialize_layer, serialize_layer
from .normalization import BatchNormalization

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed_copy(layer, name, **changes):
    """A fresh layer with ``layer``'s config (not its weights), renamed, some options changed (Keras does this)."""
    config = dict(layer.get_config(), name=name, **changes)
    return type(layer).from_config(config)


def _without_prefix(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a copy backwards (go_backwards=True) over the sequence and merges the outputs:
    ``merge_mode`` 'concat' (default; d out splits back into the halves), 'sum', 'mul', 'ave' or None (both
    returned). With return_sequences the backward outputs are flipped back into time order first."""
    _supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. Received: "
                             f"{backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        for needed in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, needed):
                raise ValueError(f"Bidirectional: the wrapped layer must be a recurrent layer (it needs "
                                 f"`{needed}`), received {type(layer).__name__}")
        super().__init__(**kwargs)
        self.forward_layer = _renamed_copy(layer, "forward_" + _without_prefix(layer.name, "forward_"))
        if backward_layer is None:
            backward_layer = _renamed_copy(layer, "backward_" + _without_prefix(layer.name, "backward_"),
                                           go_backwards=True)
        self.backward_layer = backward_layer
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError("Forward layer and backward layer should have different `go_backwards` value. Received: "
                             f"forward_layer.go_backwards {forward.go_backwards}, backward_layer.go_backwards="
                             f"{backward.go_backwards}")
        for name in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, name) != getattr(backward, name):
                raise ValueError(f'Forward layer and backward layer are expected to have the same value for attribute '
                                 f'"{name}", got "{getattr(forward, name)}" for forward layer and '
                                 f'"{getattr(backward, name)}" for backward layer')
        for sub in (forward, backward):  # Keras: padded steps give zeros, so the two directions line up
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = weights

    def check_input_shape(self, shape):
        self.forward_layer.check_input_shape(shape)

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(sequences_shape)
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(sequences_shape)
        states = []
        if self.return_state:
            shape, states = shape[0], list(shape[1:])
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (None if shape[-1] is None else 2 * shape[-1],)
        outputs = [tuple(shape), tuple(shape)] if self.merge_mode is None else [tuple(shape)]
        if self.return_state:
            return outputs + states + states
        return outputs if self.merge_mode is None else outputs[0]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, mask=mask, training=training)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            return (output + states) if self.merge_mode is None else (output,) + states
        return output

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            output_mask = (mask, mask) if self.merge_mode is None else mask
        else:
            output_mask = (None, None) if self.merge_mode is None else None
        if self.return_state:
            states = (None,) * (2 * len(self.forward_layer.state_size))
            return (output_mask + states) if self.merge_mode is None else (output_mask,) + states
        return output_mask

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer), "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], "Bidirectional")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"], "Bidirectional")
        return cls(**config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every timestep: (batch, timesteps, ...) -> (batch, timesteps, ...'), one set of weights.

    The timesteps are folded into the batch, (batch * timesteps, ...), and the layer runs once, which gives
    Keras' per-step results for every layer that treats samples independently. A BatchNormalization inside
    is the exception (its training statistics depend on the batch it sees): then, as in Keras, the layer
    runs once per timestep.
    """
    _supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `TimeDistributed` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with at least 3 dimensions, "
                             f"received: {input_shape}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def check_input_shape(self, shape):
        child = self._child_shape(shape)
        self.layer.check_input_shape(child)

    def build(self, input_shape):
        self.layer._ensure_built(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = tuple(self.layer.compute_output_shape(self._child_shape(input_shape)))
        return (child[0], input_shape[1]) + child[1:]

    def call(self, inputs, training=None, mask=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        if mask is not None:
            mask_shape = tuple(mask.shape)
            if len(mask_shape) < 2 or mask_shape[:2] != (batch, steps):
                raise ValueError(f"The `mask` passed to the `TimeDistributed` layer '{self.name}' has a shape "
                                 f"{mask_shape} that is incompatible with the input shape {shape_str(inputs.shape)}: "
                                 f"it must start with (batch, timesteps) = ({batch}, {steps})")
        takes_mask = self.layer._call_signature.takes_mask
        if training and any(isinstance(sub, BatchNormalization) for sub in self.layer._flatten_layers()):
            steps_out = []
            for t in range(steps):
                step_mask = None if mask is None or not takes_mask else mask[:, t]
                steps_out.append(self.layer(inputs[:, t], training=training, mask=step_mask))
            return ops.stack(steps_out, axis=1)
        folded = inputs.reshape((batch * steps,) + tuple(inputs.shape[2:]))
        kwargs = {}
        if mask is not None and takes_mask:
            values = ops.convert_to_numpy(mask)
            kwargs["mask"] = values.reshape((batch * steps,) + values.shape[2:])
        outputs = self.layer(folded, training=training, **kwargs)
        return outputs.reshape((batch, steps) + tuple(outputs.shape[1:]))

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], "TimeDistributed")
        return cls(**config)
