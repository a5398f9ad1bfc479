"""An ONNX graph under construction, and the walk of a model's layers that fills it.

``Graph`` hands out unique tensor names, turns arrays into initializers and adds nodes; the few ops
whose signature changed between opsets (the reductions took ``axes`` as an attribute until opset 18,
as an input since) are written once here. ``convert_model`` walks a Sequential stack, a Functional
graph and models nested in either, calling each layer's converter (onnx_layers.py) on the names of
its inputs. Data stays channels-last, as here; the layers whose ONNX ops want channels first
(convolutions, pooling) transpose around themselves, and onnxruntime folds the pairs that meet.
"""
from typing import NamedTuple

import numpy as np

from .. import _registry

DEFAULT_OPSET = 17
MIN_OPSET = 17


class ExportError(ValueError):
    """A model that cannot be exported: names the layer and why."""


class Call(NamedTuple):
    """One layer call being converted: the layer, its input name(s) and their static shapes (None: unknown)."""
    layer: object
    inputs: object       # a tensor name, or a list of names for a layer called on a list
    shapes: object       # the matching shape, or list of shapes, batch axis first


class Graph:
    """Nodes, initializers and names of one ONNX graph."""

    def __init__(self, onnx, opset, dtype):
        self.onnx, self.opset, self.dtype = onnx, opset, np.dtype(dtype)
        self.nodes, self.initializers, self._used = [], [], set()
        self._transposed = {}  # output of a Transpose node -> (its input, its perm)

    def name(self, hint):
        base = hint.replace(" ", "_") or "t"
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def const(self, value, hint, dtype=None):
        """An initializer holding ``value`` (in the graph's float dtype unless ``dtype`` is given); its name."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values, hint):
        return self.const(np.asarray(values, dtype=np.int64), hint, np.int64)

    def op(self, op_type, inputs, hint, **attributes):
        """Add one node; the name of its (single) output."""
        output = self.name(f"{hint}/{op_type}")
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], name=output, **attributes))
        return output

    def reduce(self, op_type, x, axes, keepdims, hint):
        """ReduceMean / ReduceMax / ReduceSum over ``axes``, in this opset's spelling."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, f"{hint}/axes")], hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint, axes=list(axes), keepdims=int(keepdims))

    def transpose(self, x, perm, hint):
        """x transposed; when x is itself a transpose that this one undoes, its input (no node added)."""
        source = self._transposed.get(x)
        if source is not None and [source[1][i] for i in perm] == list(range(len(perm))):
            return source[0]
        out = self.op("Transpose", [x], hint, perm=list(perm))
        self._transposed[out] = (x, list(perm))
        return out

    def used_nodes(self, outputs):
        """The nodes the graph's ``outputs`` depend on, in order (a transpose undone by the next is left out)."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if any(name in needed for name in node.output):
                kept.append(node)
                needed.update(node.input)
        return kept[::-1]


def model_kind(layer):
    for kind in ("Sequential", "Functional"):
        cls = _registry.model_class(kind)
        if cls is not None and type(layer) is cls:
            return kind
    return None


def convert_model(graph, model, inputs, shapes, convert_layer):
    """(output names, output shapes) of ``model`` (a Sequential or Functional model) called on the tensors ``inputs``
    (a list of names, with their ``shapes``); ``convert_layer(graph, call)`` converts one layer."""
    kind = model_kind(model)
    if kind == "Sequential":
        x, shape = inputs[0], shapes[0]
        for layer in model.layers:
            x, shape = _convert(graph, Call(layer, x, shape), convert_layer)
        return [x], [shape]
    if kind == "Functional":
        names = {id(t): name for t, name in zip(model.inputs, inputs)}
        known = {id(t): shape for t, shape in zip(model.inputs, shapes)}
        for node in model._execution:
            args, kwargs = node.arguments(names)
            extra = {k: v for k, v in kwargs.items() if v is not None and k not in ("training", "mask")}
            if len(args) != 1 or extra:
                raise ExportError(f"layer '{node.layer.name}' ({type(node.layer).__name__}) is called with arguments "
                                  "ONNX export does not take (one input, or one list of inputs, is exported)")
            node_shapes, _ = node.arguments(known)
            outputs, _ = _convert(graph, Call(node.layer, args[0], node_shapes[0]), convert_layer)
            outputs = outputs if isinstance(outputs, list) else [outputs]
            for tensor, name in zip(node.outputs, outputs):
                names[id(tensor)] = name
                known[id(tensor)] = tuple(tensor.shape)
        return [names[id(t)] for t in model.outputs], [tuple(t.shape) for t in model.outputs]
    raise ExportError(f"model '{model.name}' ({type(model).__name__}) is a subclassed model: its call() is Python "
                      "code, which ONNX export does not trace; build it as a Sequential or Functional model")


def _convert(graph, call, convert_layer):
    """(output name(s), output shape) of one layer call; a nested model recurses."""
    layer = call.layer
    if model_kind(layer) is not None:
        single = not isinstance(call.inputs, list)
        inputs = [call.inputs] if single else list(call.inputs)
        shapes = [call.shapes] if single else list(call.shapes)
        outputs, shapes = convert_model(graph, layer, inputs, shapes, convert_layer)
        if len(outputs) == 1:
            return outputs[0], shapes[0]
        return outputs, shapes
    return convert_layer(graph, call), tuple(layer.compute_output_shape(call.shapes))
