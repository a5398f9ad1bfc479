"""Functional: a model made by calling layers on symbolic tensors, ``Model(inputs, outputs)`` (Keras' Functional API).

    >>> inputs = Input(shape=(16,))
    >>> h = Dense(16, activation="relu")(inputs)
    >>> outputs = Dense(3, activation="softmax")(add([inputs, h]))   # a skip connection
    >>> model = Model(inputs, outputs)

Each layer call on symbolic tensors recorded a Node (layers/symbolic.py). From the outputs back to
the inputs those nodes form a graph; ``map_graph`` orders it as Keras 3 does (by depth from the
outputs, ties in the order a walk back from the outputs first meets each layer), which fixes
``model.layers`` and so the weight order: a Keras functional model's ``get_weights()`` loads here
with ``set_weights``. Running the model visits the nodes in that order, each layer called on the
values its node's inputs got. A layer called twice (shared) has two nodes and one set of weights.
"""
import collections

import numpy as np

from .. import _state
from ..layers import InputLayer, KerasTensor
from ..layers.base import marks_built
from ..layers.checks import is_shape, shape_str
from ..saving import serialization_lib
from ..tensor import Tensor
from ..utils import tree
from .data import as_float_array
from .compile_utils import fused_loss
from .model import Model


def map_graph(inputs, outputs):
    """(nodes by depth, layers in Keras' order) of the graph from ``inputs`` to ``outputs`` (flat lists)."""
    order, indices = [], {}   # nodes inputs-first; each layer's index in the walk from the outputs
    finished, in_progress = set(), set()
    for output in outputs:
        stack = [(output._keras_history.layer._inbound_nodes[output._keras_history.node_index], False)]
        while stack:  # an iterative depth-first walk: deep graphs never meet the recursion limit
            node, expanded = stack.pop()
            if expanded:
                in_progress.discard(node)
                finished.add(node)
                order.append(node)
                continue
            if node in finished:
                continue
            if node in in_progress:
                raise ValueError(f"The graph has a cycle through layer '{node.layer.name}'")
            indices.setdefault(node.layer, len(indices))
            in_progress.add(node)
            stack.append((node, True))
            for parent in reversed(node.parent_nodes):
                if parent not in finished:
                    stack.append((parent, False))
    depth_of_node, depth_of_layer = {}, {}
    members = set(order)
    for node in reversed(order):
        depth = max(depth_of_node.setdefault(node, 0), depth_of_layer.get(node.layer, 0))
        depth_of_layer[node.layer] = depth_of_node[node] = depth
        for parent in node.parent_nodes:
            if parent in members:
                depth_of_node[parent] = max(depth + 1, depth_of_node.get(parent, 0))
    for tensor in inputs:  # an input no output depends on is still the model's input
        layer = tensor._keras_history.layer
        if layer not in depth_of_layer:
            node = layer._inbound_nodes[tensor._keras_history.node_index]
            depth_of_layer[layer], depth_of_node[node], indices[layer] = 0, 0, -1
    nodes_by_depth, layers_by_depth = collections.defaultdict(list), collections.defaultdict(list)
    for node, depth in depth_of_node.items():
        nodes_by_depth[depth].append(node)
    for layer, depth in depth_of_layer.items():
        layers_by_depth[depth].append(layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers += sorted(layers_by_depth[depth], key=lambda layer: indices[layer])
    _check_computable(inputs, nodes_by_depth)
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. All layer names '
                             "should be unique.")
    return dict(nodes_by_depth), layers


def _check_computable(inputs, nodes_by_depth):
    known = {id(t) for t in inputs}
    done = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input and id(node.outputs[0]) not in known:
                raise ValueError(f"Graph disconnected: the outputs depend on {node.outputs[0]!r}, which is not one "
                                 "of the model's inputs; pass it in `inputs`")
            for tensor in node.input_tensors:
                if id(tensor) not in known:
                    raise ValueError(f"Graph disconnected: cannot obtain the value of {tensor!r}, an input of layer "
                                     f"'{node.layer.name}', from the model's inputs. The layers reached without a "
                                     f"problem: {done}")
            done.append(node.layer.name)
            known.update(id(t) for t in node.outputs)


class Functional(Model):
    """A model defined by its symbolic inputs and outputs (one tensor, a list, or a dict of them)."""
    _container = True
    _counts_own_node = True  # in input_layers / output_layers, Keras numbers a nested Functional's calls from 1

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name or _state.unique_name("functional"), trainable=True, **kwargs)
        for what, structure in (("inputs", inputs), ("outputs", outputs)):
            for x in tree.flatten(structure):
                if not isinstance(x, KerasTensor) or x._keras_history is None:
                    raise ValueError(f"Model: all `{what}` must be symbolic tensors (from Input() and layer calls); "
                                     f"received {x!r} of type {type(x).__name__}")
        for x in tree.flatten(inputs):
            if not isinstance(x._keras_history.layer, InputLayer):
                raise ValueError(f"Model: inputs must be tensors made by Input(); {x!r} comes from layer "
                                 f"'{x._keras_history.layer.name}'")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = tree.flatten(inputs)
        self.outputs = tree.flatten(outputs)
        if not self.inputs or not self.outputs:
            raise ValueError("Model: `inputs` and `outputs` must each hold at least one symbolic tensor")
        self._nodes_by_depth, self._operations = map_graph(self.inputs, self.outputs)
        self._graph_nodes = {id(n) for nodes in self._nodes_by_depth.values() for n in nodes}
        self._execution = [node for depth in sorted(self._nodes_by_depth, reverse=True)
                           for node in self._nodes_by_depth[depth] if not node.is_input]
        self.input_names = [t._keras_history.layer.name for t in self.inputs]
        self.output_names = [t._keras_history.layer.name for t in self.outputs]
        self.built = True
        if not trainable:
            self.trainable = False
        _state.structure_changed()

    # ---- structure ---------------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._operations)

    def _tracked_layers(self):
        return list(self._operations)

    @marks_built
    def build(self, input_shape=None):
        """A Functional model is built when it is made."""

    def _ensure_built(self, input_shape):
        pass

    @property
    def input(self):
        """The inputs given to the constructor (one symbolic tensor, or their list or dict), as Keras."""
        return self._inputs_struct

    @property
    def output(self):
        """The outputs given to the constructor."""
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _dtype(self):
        """The float dtype targets are converted to: the first float input's (integer inputs feed Embeddings)."""
        floats = [t.dtype for t in self.inputs if np.dtype(t.dtype).kind == "f"]
        return floats[0] if floats else "float32"

    def _output_names(self):
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)  # Keras names a dict's outputs by their keys
        return list(self.output_names)

    def compute_output_shape(self, input_shape):
        given = [input_shape] if is_shape(input_shape) else \
            list(input_shape.values()) if isinstance(input_shape, dict) else list(input_shape)
        if all(len(g) == len(t.shape) and all(a is None or b is None or a == b for a, b in zip(g, t.shape))
               for g, t in zip(given, self.inputs)):
            shapes = [t.shape for t in self.outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        return Model.compute_output_shape(self, input_shape)

    # ---- running the graph -----------------------------------------------------------------------------
    def _run_graph(self, flat_inputs, training, logits_of=None):
        """The flat outputs for flat input Tensors, every node's layer called in order. The node ``logits_of``,
        when it can run directly, gives its logits instead of its output (Layer.call_logits); the last item
        returned says whether it did."""
        values = {id(t): v for t, v in zip(self.inputs, flat_inputs)}
        state = _state.local
        direct = state.anomaly_hook is None
        state.call_depth += 1  # inside this model's call: nested layers inherit training, shared ones keep losses
        previous, state.call_training = state.call_training, training
        try:
            for node in self._execution:
                layer = node.layer
                single = node._single_input
                if single is not None and direct and layer._fast_call and layer.built:
                    x = values[id(single)]
                    if type(x) is Tensor and x.data.dtype == layer.dtype and x._keras_mask is None:
                        if node is logits_of:
                            values[id(node.outputs[0])] = layer.call_logits(x, training=bool(training))
                            logits_of = True
                        else:
                            values[id(node.outputs[0])] = layer.call(x, training=bool(training))
                        continue
                listed = node._list_input
                if listed is not None and direct and layer.built and getattr(layer, "_fast_list_call", False):
                    xs = [values[id(t)] for t in listed]
                    if all(type(x) is Tensor and x.data.dtype == layer.dtype for x in xs):
                        values[id(node.outputs[0])] = layer.call(xs)
                        continue
                args, kwargs = node.arguments(values)
                if training is not None:
                    kwargs = dict(kwargs, training=training)
                out = layer(*args, **kwargs)
                for tensor, value in zip(node.outputs, tree.flatten(out)):
                    values[id(tensor)] = value
        finally:
            state.call_depth -= 1
            state.call_training = previous
        outputs = [values[id(t)] for t in self.outputs]
        return outputs if logits_of is None else (outputs, logits_of is True)

    def layer_outputs(self, x, training=False):
        """[(layer, its output Tensor)] for every layer call of the graph, in the order they run (a layer
        called twice appears twice; input layers are left out): what the lab's instruments look inside."""
        flat = [v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=t.dtype))
                for v, t in zip(self._flat_inputs(x, self.name), self.inputs)]
        values = {id(t): v for t, v in zip(self.inputs, flat)}
        outputs = []
        for node in self._execution:
            args, kwargs = node.arguments(values)
            out = node.layer(*args, **dict(kwargs, training=training))
            for tensor, value in zip(node.outputs, tree.flatten(out)):
                values[id(tensor)] = value
                outputs.append((node.layer, value))
        return outputs

    def _flat_inputs(self, inputs, who):
        """``inputs`` (one array, a list in input order, or a dict by input name) as a flat list in input order."""
        n = len(self.inputs)
        if isinstance(inputs, dict):
            missing = [name for name in self.input_names if name not in inputs]
            if missing:
                raise ValueError(f"{who}: the inputs dict has keys {sorted(inputs)}, but model '{self.name}' needs "
                                 f"its inputs {self.input_names}")
            if isinstance(self._inputs_struct, dict) and set(inputs) == set(self._inputs_struct):
                return [inputs[k] for k in sorted(self._inputs_struct)]
            return [inputs[name] for name in self.input_names]
        if isinstance(inputs, (list, tuple)) and n > 1:
            if len(inputs) != n:
                raise ValueError(f"{who}: model '{self.name}' has {n} inputs {self.input_names}, received a list of "
                                 f"{len(inputs)}")
            return list(inputs)
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1 and isinstance(inputs[0], (np.ndarray, Tensor)):
            return [inputs[0]]
        if n > 1:
            raise ValueError(f"{who}: model '{self.name}' has {n} inputs {self.input_names}; pass a list of {n} "
                             "arrays or a dict by input name")
        return [inputs]

    def call(self, inputs, training=None, mask=None):
        flat = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=t.dtype))
                for x, t in zip(self._flat_inputs(inputs, self.name), self.inputs)]
        return self._pack(self._run_graph(flat, training))

    def _pack(self, flat_outputs):
        structure = self._outputs_struct
        if isinstance(structure, (list, tuple)) and len(structure) == 1:
            return flat_outputs[0]
        return tree.pack_sequence_as(structure, flat_outputs)

    # ---- what fit / evaluate / predict need --------------------------------------------------------------
    def _standardize_inputs(self, x, who):
        return [as_float_array(a, t.dtype, f"{who}: x ({name})")
                for a, t, name in zip(self._flat_inputs(x, who), self.inputs, self.input_names)]

    def _check_inputs(self, x):
        for array, tensor, name in zip(x, self.inputs, self.input_names):
            expected = tensor.shape
            if array.ndim != len(expected) or any(d is not None and d != s for d, s in zip(expected[1:],
                                                                                           array.shape[1:])):
                raise ValueError(f"Input '{name}' of model '{self.name}' is incompatible: expected shape "
                                 f"{shape_str(expected)}, received an array of shape {shape_str(array.shape)}")

    def _outputs(self, x, training):
        return self._pack(self._run_graph([Tensor._make(a, False, None) for a in x], training))

    def _flat_outputs(self, x, training):
        plan = self._training_plan()
        if plan.loss_layers:
            plan.clear_losses()
        return self._run_graph([Tensor._make(a, False, None) for a in x], training), plan

    def _fused_head(self):
        """(the output's node, compile_utils.fused_loss) when the one output is a layer's final softmax (sigmoid)
        that the compiled crossentropy can take as logits, and no other layer reads that output; else None."""
        cached = self.__dict__.get("_fused_cache")
        if cached is not None:
            return cached[0]
        head = None
        if len(self.outputs) == 1 and self._loss_fn is not None:
            output = self.outputs[0]
            history = output._keras_history
            node = history.layer._inbound_nodes[history.node_index]
            read_elsewhere = any(t is output for n in self._execution for t in n.input_tensors)
            if id(node) in self._graph_nodes and len(node.outputs) == 1 and not read_elsewhere:
                fused = fused_loss(node.layer, self._loss_fn)
                head = None if fused is None else (node, fused)
        self._fused_cache = (head,)
        return head

    def _forward_loss(self, x, y, training, sample_weight=None):
        """One output with a softmax (sigmoid) before its crossentropy: the loss from the logits, as Sequential
        computes it; everything else through the general path."""
        spec = None if y is None else self._ensure_spec()
        head = self._fused_head() if spec is not None and spec.single else None
        if head is None:
            return super()._forward_loss(x, y, training, sample_weight)
        plan = self._training_plan()
        if plan.loss_layers:
            plan.clear_losses()
        node, fused = head
        (output,), from_logits = self._run_graph([Tensor._make(a, False, None) for a in x], training, node)
        mask = getattr(output, "_keras_mask", None)
        self._output_masks = None if mask is None else [mask.data]
        loss, predictions = self._output_loss(output, y, sample_weight, fused if from_logits else None)
        return self._with_extra_losses(loss, plan), predictions

    # ---- summary --------------------------------------------------------------------------------------
    def _summary_connected(self):
        return not self._sequential_like()

    def _sequential_like(self):
        """Keras prints no 'Connected to' column for a chain: one node per depth, one input each, none shared."""
        for nodes in self._nodes_by_depth.values():
            if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].input_tensors) > 1):
                return False
        for layer in self._operations:
            if sum(id(node) in self._graph_nodes for node in layer._inbound_nodes) > 1:
                return False
        return True

    def _connections(self, layer):
        parts = []
        for node in layer._inbound_nodes:
            if id(node) not in self._graph_nodes:
                continue
            for tensor in node.input_tensors:
                history = tensor._keras_history
                parts.append(f"{history.layer.name}[{history.node_index}][{history.tensor_index}]")
        return ", ".join(parts) or "-"

    # ---- configuration ----------------------------------------------------------------------------------
    def _node_positions(self):
        """Each graph node's index among its layer's nodes in this graph."""
        positions = {}
        for layer in self._operations:
            kept = 0
            for node in layer._inbound_nodes:
                if id(node) in self._graph_nodes:
                    positions[id(node)] = kept
                    kept += 1
        return positions

    def get_config(self):
        positions = self._node_positions()

        def history(tensor, own_node_first=False):
            """[layer, node, tensor]; as Keras, input_layers and output_layers count a nested Functional's own
            node first, the nodes' arguments do not."""
            h = tensor._keras_history
            first = 1 if own_node_first and isinstance(h.layer, Functional) else 0
            return [h.layer.name, positions[id(h.layer._inbound_nodes[h.node_index])] + first, h.tensor_index]

        def serialize_argument(value):
            if isinstance(value, KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(value.shape), "dtype": value.dtype, "keras_history": history(value)}}
            if value is None or isinstance(value, (bool, int, float, str)):
                return value
            raise ValueError(f"Model '{self.name}' cannot be saved: a layer was called with the argument {value!r}; "
                             "only symbolic tensors and plain values (numbers, strings, None) can be saved")

        layers = []
        for layer in self._operations:
            nodes = []
            for node in layer._inbound_nodes:
                if id(node) in self._graph_nodes and not node.is_input:
                    nodes.append({"args": tree.map_structure(serialize_argument, list(node.call_args)),
                                  "kwargs": {k: tree.map_structure(serialize_argument, v)
                                             for k, v in node.call_kwargs.items()}})
            entry = serialization_lib.serialize_keras_object(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = nodes
            layers.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": tree.map_structure(lambda t: history(t, True), self._inputs_struct),
                "output_layers": tree.map_structure(lambda t: history(t, True), self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if cls.__init__ is not Functional.__init__:  # a subclass with its own __init__: revived as its graph
            cls = Functional
        return serialization_lib.functional_from_config(cls, config, custom_objects)
