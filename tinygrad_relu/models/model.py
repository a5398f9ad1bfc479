"""Model: Keras' ``keras.Model``, a Layer that also trains (trainer.py), summarizes and saves itself.

Three kinds, as in Keras 3:

- ``Model(inputs, outputs)`` on symbolic tensors is a Functional model (functional.py);
- ``Sequential([...])`` is a stack (sequential.py);
- a subclass defines ``__init__`` (its layers as attributes) and ``call(inputs, training=...)``, and is
  built on its first call.

Because a Model is a Layer, models nest: a Sequential inside another, or inside a Functional model
(the transfer-learning pattern), and ``base.trainable = False`` freezes everything inside ``base``.
"""
import json
import re
from typing import NamedTuple

import numpy as np

from .. import _registry, _state, saving
from ..export import export_model
from ..layers import Layer
from ..saving import keras_config
from ..layers.base import marks_built
from ..layers.checks import as_shape_structure, is_shape, shape_str
from ..tensor import Tensor, no_grad
from ..utils import tree
from ..utils.summary_utils import summary_text
from .data import as_float_arrays
from .trainer import Trainer


class TrainingPlan(NamedTuple):
    """What a training step needs from the layers, gathered once per change of structure (see _state.generation)."""
    generation: int
    params: list          # the trainable weights, in Keras' order
    regularized: list     # (weight, regularizer) of trainable weights with a penalty
    constrained: list     # (weight, constraint) applied after each update
    loss_layers: list     # layers that may add_loss during a call

    @classmethod
    def of(cls, model):
        params = model.trainable_weights
        trainable = {id(w) for w in params}
        regularized, constrained, loss_layers = [], [], []
        for layer in model._flatten_layers():
            for record in layer._weight_records:
                if id(record.tensor) in trainable:
                    if record.regularizer is not None:
                        regularized.append((record.tensor, record.regularizer))
                    if record.constraint is not None:
                        constrained.append((record.tensor, record.constraint))
            if (not layer._fast_call and not layer._container) or layer.activity_regularizer is not None:
                loss_layers.append(layer)
        order = {id(w): i for i, w in enumerate(params)}  # Keras adds the penalties in weight order
        regularized.sort(key=lambda pair: order[id(pair[0])])
        return cls(_state.generation, params, regularized, constrained, loss_layers)

    def clear_losses(self):
        for layer in self.loss_layers:
            layer._losses.clear()

    def extra_losses(self):
        """The add_loss values of the call just made and the weight penalties."""
        extra = [x for layer in self.loss_layers for x in layer._losses] if self.loss_layers else []
        for weight, regularizer in self.regularized:
            extra.append(regularizer(weight))
        return extra


class Model(Trainer, Layer):
    """The base of the model classes (Keras' ``keras.Model``)."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            cls = _registry.model_class("Functional")  # Model(inputs, outputs) is a Functional model, as in Keras
        return Layer.__new__(cls, *args, **kwargs)

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            # a subclass that calls super().__init__(inputs, outputs) is a functional model with the subclass's
            # methods: as Keras does, the instance's class gains Functional as a base
            functional = _registry.model_class("Functional")
            if not isinstance(self, functional):
                self.__class__ = _functional_subclass(type(self), functional)
            functional.__init__(self, *args, name=name, trainable=trainable, **kwargs)
            return
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: `name` must be a non-empty string, received {name!r}")
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        self._init_trainer()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _registry.register_model_class(cls)

    # ---- layers and building ------------------------------------------------------------------------
    @property
    def layers(self):
        return self._tracked_layers()

    @marks_built
    def build(self, input_shape=None):
        """Create the weights by calling the model once on zeros of ``input_shape`` (batch axis included)."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': build needs the input shape, e.g. "
                             "model.build((None, 784)), or call the model on data")
        shapes = as_shape_structure(input_shape)
        zeros = tree.map_structure(lambda s: Tensor(np.zeros(tuple(1 if d is None else d for d in s), self.dtype)),
                                   _shape_tree(shapes))
        self._mark_built(shapes)
        try:
            with no_grad():
                self(zeros)
        except Exception:
            self.built = False
            raise

    def _ensure_built(self, input_shape):
        # a subclassed model is built by its first real call: its layers build as they are called
        if not self.built:
            self._mark_built(as_shape_structure(input_shape))

    def _mark_built(self, shapes):
        self._build_input_shape = shapes
        self.built = True
        _state.structure_changed()

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Model subclass {type(self).__name__} must define call(self, inputs)")

    def _training_plan(self):
        plan = self.__dict__.get("_plan")
        if plan is None or plan.generation != _state.generation:
            plan = self.__dict__["_plan"] = TrainingPlan.of(self)  # (not setattr: the plan lists layers)
        return plan

    def _dtype(self):
        return self.dtype

    # ---- one batch, any structure -------------------------------------------------------------------
    def _standardize_inputs(self, x, who):
        return as_float_arrays(x, self._dtype(), f"{who}: x")

    def _check_inputs(self, x):
        """Check all of x before any batch runs (Sequential and Functional know their input shapes)."""

    def _outputs(self, x, training):
        """The model's outputs for the batch ``x`` (as prepared by _standardize_inputs), as the model returns them."""
        x = tree.map_structure(lambda a: Tensor._make(a, False, None), x)
        return self(x, training=training)

    def _output_names(self):
        """The flat outputs' names, or None before the first call of a subclassed model."""
        return self.__dict__.get("_seen_output_names")

    def _flat_outputs(self, x, training):
        plan = self._training_plan()
        if plan.loss_layers:
            plan.clear_losses()
        outputs = self._outputs(x, training)
        flat = tree.flatten(outputs)
        if self.__dict__.get("_seen_output_names") is None:
            self._seen_output_names = _output_names_of(outputs)
        return flat, plan

    def _predict_batch(self, x):
        return tree.map_structure(lambda t: t.data if isinstance(t, Tensor) else np.asarray(t),
                                  self._outputs(x, training=False))

    # ---- summary ------------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras 3's table: Layer (type) | Output Shape | Param # (| Connected to) (| Trainable), then the
        totals. ``expand_nested`` lists a nested model's layers under it; ``layer_range`` = (first, last) names
        (or regular expressions) limits the rows; ``positions`` are the columns' right edges as fractions of the
        line."""
        print_fn = print_fn or print
        connected = self._summary_connected()
        layers = self.layers
        start, stop = layer_range_bounds(layers, layer_range)
        rows = []

        def add(owner, layer, level):
            name, shape, params = owner._summary_cells(layer)
            row = ("   " * level + "└ " if level else "") + name, shape, params
            if connected:  # a nested layer's calls are not this graph's: Keras shows '-'
                row += (self._connections(layer) if level == 0 else "-",)
            if show_trainable:
                row += (("Y" if layer.trainable else "N") if layer.weights else "-",)
            rows.append(row)
            if expand_nested and isinstance(layer, Model):
                for inner in layer.layers:
                    add(layer, inner, level + 1)
        for layer in layers[start:stop]:
            add(self, layer, 0)
        print_fn(summary_text(self, rows, line_length=line_length, connected=connected,
                              show_trainable=show_trainable, positions=positions))

    def _summary_connected(self):
        """Whether the summary shows Keras' 'Connected to' column (a Functional graph that is not a chain)."""
        return False

    def _summary_cells(self, layer):
        """(name (type), output shape, parameter count) of one of this model's layers."""
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        return f"{layer.name} ({type(layer).__name__})", layer_output_shape(layer), params

    # ---- configuration and saving --------------------------------------------------------------------
    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("get_layer: provide only a layer name or a layer index, not both")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for model '{self.name}' with "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")

    def set_weights(self, weights):
        """Load a Keras-ordered list of arrays; every count and shape is checked before anything changes."""
        if not self.built:
            self.build()
        Layer.set_weights(self, weights)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on model '{self.name}', but the model isn't built. "
                             "Build it with `model.build(input_shape)` or by calling it on data.")
        return Layer.count_params(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A subclass from its config; a Functional model's config (layers and their calls) rebuilds that graph."""
        if isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            functional = cls if cls._container else _registry.model_class("Functional")
            return functional.from_config(config, custom_objects=custom_objects)
        return cls(**config)

    def to_json(self, **kwargs):
        """The architecture as JSON in Keras 3's spelling: ``keras.models.model_from_json`` reads it too."""
        return json.dumps(keras_config.model_config(self, include_compile=False), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Write architecture, weights and optimizer state to one file, atomically: Keras 3's format for a .keras
        name (Keras opens it), the native zip of JSON and .npy for any other name (no HDF5 needed)."""
        if zipped not in (None, True) or kwargs:
            raise NotImplementedError(f"save: zipped={zipped!r} and {sorted(kwargs)} are not supported")
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Write the weights (and optimizer state): Keras' weights file for a .weights.h5 name, else native."""
        if max_shard_size is not None:
            raise NotImplementedError("save_weights: max_shard_size (sharded weights files) is not supported")
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights from a .weights.h5, a .keras or a native file; every array is checked before any is set."""
        if skip_mismatch:
            raise NotImplementedError("load_weights: skip_mismatch=True is not supported; every weight must fit")
        saving.load_weights(self, filepath)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Export the model for inference elsewhere: ``format="onnx"`` writes an ONNX model (needs the onnx
        package), with a dynamic batch axis; ``opset_version=`` picks the opset (17 and up, default 17)."""
        export_model(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}, layers={len(self.layers)}>"

    def _describe(self):
        return f"{type(self).__name__} '{self.name}'"


_registry.register_model_class(Model)  # (its subclasses register themselves)


def _shape_tree(shapes):
    """A structure of shapes in which each shape is one leaf (a list of ints would otherwise be walked)."""
    if is_shape(shapes):
        return _Shape(shapes)
    if isinstance(shapes, dict):
        return {k: _shape_tree(v) for k, v in shapes.items()}
    return [_shape_tree(s) for s in shapes]


class _Shape:
    """One shape as a leaf of utils.tree structures; iterates as its dimensions."""

    def __init__(self, dims):
        self.dims = tuple(dims)

    def __iter__(self):
        return iter(self.dims)


def _output_names_of(outputs):
    """Keras' names of a subclassed model's outputs: the keys of a dict, else None for each."""
    if isinstance(outputs, dict):
        return sorted(outputs)
    if isinstance(outputs, (list, tuple)):
        return [None] * len(tree.flatten(outputs))
    return None


_FUNCTIONAL_SUBCLASSES = {}


def _functional_subclass(cls, functional):
    """``cls`` with Functional after it in the method order (made once per class): its own methods first, then
    the graph's call, build and config."""
    made = _FUNCTIONAL_SUBCLASSES.get(cls)
    if made is None:
        made = _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, functional),
                                                  {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return made


def layer_output_shape(layer):
    """The summary's Output Shape: from the layer's symbolic calls, else from the shape it was built for."""
    nodes = layer._inbound_nodes
    if nodes:
        shapes = [t.shape for t in nodes[-1].outputs]
    elif layer.built and layer._build_input_shape is not None and type(layer).compute_output_shape is not \
            Layer.compute_output_shape:
        try:
            out = layer.compute_output_shape(layer._build_input_shape)
        except (ValueError, TypeError, NotImplementedError):
            return "?"
        shapes = [tuple(out)] if is_shape(out) else [s.dims for s in tree.flatten(_shape_tree(out))]
    else:
        return "?"
    if len(shapes) == 1:
        return shape_str(shapes[0])
    return "[" + ", ".join(shape_str(s) for s in shapes) + "]"


def layer_range_bounds(layers, layer_range):
    """[start, stop) of the layers from the first whose name matches layer_range[0] to the last matching
    layer_range[1] (names or regular expressions), as Keras' summary(layer_range=...)."""
    if layer_range is None:
        return 0, len(layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or \
            not all(isinstance(name, str) for name in layer_range):
        raise ValueError(f"summary: layer_range must be a list of two layer names (or patterns), received "
                         f"{layer_range!r}")
    first = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    last = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not first or not last:
        raise ValueError(f"summary: layer_range={list(layer_range)} matches no layer; the layers are "
                         f"{[layer.name for layer in layers]}")
    return first[0], last[-1] + 1
