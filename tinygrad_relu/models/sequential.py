"""Sequential: a stack of layers (Keras' ``keras.Sequential``).

    >>> from tinygrad_relu.models import Sequential
    >>> from tinygrad_relu.layers import Dense
    >>> model = Sequential([Dense(64, activation="relu", input_shape=(20,)), Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x, y, epochs=5)            # doctest: +SKIP
"""
import numpy as np

from .. import _state, config, debug
from .._state import unique_name
from ..layers import InputLayer, KerasTensor, Layer
from ..layers.base import marks_built
from ..layers.checks import shape_str
from ..saving import serialization_lib
from ..tensor import Tensor
from ..utils import tree
from ..variables import name_scope
from .data import as_float_array
from .model import Model, layer_output_shape
from .compile_utils import fused_loss

class Sequential(Model):
    """A linear stack of layers."""
    _container = True

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._layers = []
        self._layer_names = set()
        self._input_batch_shape = None
        self._input_layer = None     # the InputLayer the symbolic graph starts from (made at build if not given)
        self._input_layer_name = None
        self._graph_outputs = []     # each layer's symbolic output once built: layer.output, model.outputs
        self._output_shapes = []
        self._fused_cache = None
        for layer in layers or []:
            self.add(layer)

    # ---- building the stack ------------------------------------------------------------
    def add(self, layer):
        """Append a layer (or an ``Input`` as the first element, which fixes the input shape)."""
        if isinstance(layer, KerasTensor) and layer._keras_history is not None and \
                isinstance(layer._keras_history.layer, InputLayer):
            layer = layer._keras_history.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_batch_shape is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the first element of the model")
            self._input_batch_shape = layer.batch_shape
            self._input_layer, self._input_layer_name = layer, layer.name
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': only layers can be added, received {layer!r} "
                            f"of type {type(layer).__name__}")
        if layer.name in self._layer_names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             f"is already the name of a layer in model '{self.name}'.")
        if not self._layers and self._input_batch_shape is None and layer._batch_input_shape is not None:
            self._input_batch_shape = layer._batch_input_shape
        if self.built:  # extend the built stack (and its graph) right away, as Keras does
            with name_scope(self.name):
                output = self._symbolic_step(layer, self._graph_outputs[-1] if self._graph_outputs else
                                             self._input_layer.output)
            self._graph_outputs.append(output)
            self._output_shapes.append(output.shape)
        self._layers.append(layer)
        self._layer_names.add(layer.name)
        self._fused_cache = None
        _state.structure_changed()
        if not self.built and self._input_batch_shape is not None:
            self.build()

    def pop(self):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}': there are no layers to pop")
        layer = self._layers.pop()
        self._layer_names.discard(layer.name)
        self._fused_cache = None
        _state.structure_changed()
        if self._output_shapes:
            self._output_shapes.pop()
            self._graph_outputs.pop()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def _tracked_layers(self):
        return list(self._layers)

    @marks_built
    def build(self, input_shape=None):
        """Create every layer's weights for inputs of ``input_shape`` (batch axis included, may be None)."""
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': cannot build without an input shape; pass input_shape= to "
                             "the first layer, start with Input(shape=...), call build((None, ...)) or call the model "
                             "on data")
        shape = tuple(None if d is None else int(d) for d in input_shape)
        self._check_declared_input(shape)
        if self._input_batch_shape is None:
            self._input_batch_shape = (None,) + shape[1:]
        if self._input_layer is None:  # Keras makes one too (its name counts, as Keras')
            self._input_layer = InputLayer(batch_shape=self._input_batch_shape, dtype=self._dtype())
            self._input_layer_name = self._input_layer.name
        # The layers are called on the Input's symbolic tensor, as Keras' Sequential does: that builds each one
        # for the shape it receives and records the graph (layer.output, model.inputs / outputs).
        x, outputs = self._input_layer.output, []
        with name_scope(self.name):  # Keras' weight paths: 'sequential/dense/kernel'
            for layer in self._layers:
                x = self._symbolic_step(layer, x)
                outputs.append(x)
        self._graph_outputs = outputs
        self._output_shapes = [t.shape for t in outputs]
        self._build_input_shape = (None,) + tuple(self._input_batch_shape[1:])
        self.built = True
        unique_name("functional")  # Keras' Sequential builds a Functional model, whose name counts
        _state.structure_changed()

    def _symbolic_step(self, layer, x):
        """The symbolic output of ``layer`` called on ``x`` (one tensor, as a Sequential layer must return)."""
        output = layer(x)
        if not isinstance(output, KerasTensor):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' returned "
                             f"{len(tree.flatten(output))} outputs; each layer of a Sequential model must return "
                             "one tensor (use the Functional API for more)")
        return output

    @property
    def inputs(self):
        """[the Input's symbolic tensor], once built (Keras' Sequential.inputs)."""
        if not self.built:
            raise AttributeError(f"Sequential model '{self.name}' has no defined inputs yet.")
        return [self._input_layer.output]

    @property
    def outputs(self):
        """[the last layer's symbolic output], once built."""
        if not self.built or not self._graph_outputs:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        return [self._graph_outputs[-1]]

    @property
    def input(self):
        return self.inputs[0]

    @property
    def output(self):
        return self.outputs[0]

    def _ensure_built(self, input_shape):
        if not self.built:
            self.build((None,) + tuple(input_shape[1:]))
        self._check_data_shape(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            layer.check_input_shape(shape)
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _check_declared_input(self, shape):
        """Data of ``shape`` must fit the first layer and any declared input shape."""
        if self._layers:
            self._layers[0].check_input_shape(shape)
        declared = self._input_batch_shape
        if declared is None:
            return
        who = self._layers[0].name if self._layers else self.name
        if len(shape) != len(declared) or any(d is not None and s is not None and d != s
                                              for d, s in zip(declared[1:], shape[1:])):
            raise ValueError(f"Input 0 of layer '{who}' is incompatible with the layer: expected shape="
                             f"{shape_str(declared)}, found shape={shape_str(shape)}")

    def _check_data_shape(self, shape):
        """Check all of x's shape through the stack before any batch runs (messages show the full shape)."""
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        if not self.built:
            self.build((None,) + tuple(shape[1:]))
        # train_on_batch checks every batch: a shape this very stack already accepted passes at once
        key = (tuple(shape[1:]), len(shape), tuple(self._layers), self._input_batch_shape)
        if key == self.__dict__.get("_accepted_shape"):
            return
        self._check_declared_input(tuple(shape))
        for layer in self._layers:
            layer.check_input_shape(tuple(shape))
            shape = tuple(layer.compute_output_shape(tuple(shape)))
        self.__dict__["_accepted_shape"] = key  # (not setattr: the key lists layers)

    @property
    def input_shape(self):
        return self._input_batch_shape

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no output shape")
        return self._output_shapes[-1]

    # ---- computing ------------------------------------------------------------------------
    def call(self, x, training=False):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        if not isinstance(x, Tensor):
            x = Tensor(np.ascontiguousarray(np.asarray(x, dtype=self._dtype())))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def layer_outputs(self, x, training=False):
        """[(layer, its output Tensor)] for every layer in order: what the lab's instruments look inside."""
        if not isinstance(x, Tensor):
            x = Tensor(np.ascontiguousarray(np.asarray(x, dtype=self._dtype())))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        outputs = []
        for layer in self._layers:
            x = layer(x, training=training)
            outputs.append((layer, x))
        return outputs

    def _dtype(self):
        return self._layers[0].dtype if self._layers else config.floatx()

    def _single_output_known(self):
        return True

    def _standardize_inputs(self, x, who):
        if isinstance(x, (dict, tuple)) or (isinstance(x, list) and x and isinstance(x[0], (np.ndarray, Tensor))
                                           and len(x) > 1):
            raise ValueError(f"{who}: a Sequential model takes one input array, received a {type(x).__name__} of "
                             f"{len(x)} arrays")
        return as_float_array(x, self._dtype(), f"{who}: x")

    def _check_inputs(self, x):
        self._check_data_shape(x.shape)

    def _predict_batch(self, x):
        return self.call(Tensor._make(x, False, None)).data

    # ---- one batch's loss ---------------------------------------------------------------------
    def _fused_loss(self):
        """The from_logits=True copy of the loss when the last layer ends in its matching activation."""
        key = (id(self._layers[-1]), id(self._loss_fn))
        if self._fused_cache is not None and self._fused_cache[0] == key:
            return self._fused_cache[1]
        fused = fused_loss(self._layers[-1], self._loss_fn)
        self._fused_cache = (key, fused)
        return fused

    def _forward_loss(self, x, y, training, sample_weight=None):
        """(total loss Tensor, predictions ndarray or None when no metric reads them) for one batch.

        ``x`` has passed _prepare_x, which checked its shape through the whole stack, so a built
        layer receiving its own dtype is called directly, without Layer.__call__'s per-batch checks.
        """
        if y is None:
            self._check_no_targets_needed()
        h = Tensor._make(x, False, None)
        layers = self._layers
        plan = self._training_plan()
        if plan.loss_layers:
            plan.clear_losses()
        fused = self._fused_loss()
        body = layers if fused is None else layers[:-1]
        state = _state.local
        direct = state.anomaly_hook is None  # detect_anomaly() needs Layer.__call__'s layer names
        state.call_depth += 1  # the layers run inside this model's call: a shared layer keeps its losses
        try:
            for layer in body:
                if direct and layer._fast_call and layer.built and h.data.dtype == layer.dtype \
                        and h._keras_mask is None:
                    h = layer.call(h, training=training)
                else:
                    h = layer(h, training=training)
            if fused is not None and h._keras_mask is not None:  # the mask weighs the loss: the output keeps it
                h, fused = layers[-1](h, training=training), None
        finally:
            state.call_depth -= 1
        self._output_masks = None if fused is not None or h._keras_mask is None else [h._keras_mask.data]
        if fused is not None:
            last = layers[-1]
            last._ensure_built(h.shape)
            if direct:
                h = last.call_logits(h, training=training)
            else:
                with debug.layer_scope(last.name):
                    h = last.call_logits(h, training=training)
        loss, predictions = self._output_loss(h, y, sample_weight, fused)
        return self._with_extra_losses(loss, plan), predictions

    # ---- summary and configuration -------------------------------------------------------------
    def _summary_cells(self, layer):
        i = self._layers.index(layer)
        shape = self._output_shapes[i] if self.built and i < len(self._output_shapes) else None
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        return (f"{layer.name} ({type(layer).__name__})", layer_output_shape(layer) if shape is None else
                shape_str(shape), params)

    def get_config(self):
        layer_configs = []
        if self._input_batch_shape is not None:
            layer_configs.append({"class_name": "InputLayer", "config": {
                "batch_shape": list(self._input_batch_shape), "dtype": self._dtype(),
                "name": self._input_layer_name or "input_layer"}})
        for layer in self._layers:
            layer_configs.append(serialization_lib.serialize_keras_object(layer))
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("Sequential.from_config: expected a dict with a 'layers' list")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for i, entry in enumerate(config["layers"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
                    or not isinstance(entry.get("config", {}), dict):
                raise ValueError(f"Sequential.from_config: layer entry {i} must be a dict with 'class_name' and 'config'")
            try:
                layer = serialization_lib.deserialize_layer(entry, custom_objects)
            except (TypeError, ValueError, NotImplementedError, KeyError) as err:
                raise ValueError(f"Sequential.from_config: invalid config for layer {i} ({entry['class_name']}): "
                                 f"{err}") from None
            model.add(layer)
        return model
