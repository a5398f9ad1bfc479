"""Symbolic tensors and nodes: what calling a layer on ``Input(...)`` records (Keras' KerasTensor and Node).

A ``KerasTensor`` has a shape (batch axis None), a dtype and a history: the layer that made
it, which of that layer's calls (its node) and which of the call's outputs it is. A ``Node``
is one call of a layer on symbolic tensors: the layer, the call's arguments (KerasTensors
in place of values) and its output KerasTensors. Following the histories back from a
model's outputs to its inputs gives the graph a Functional model runs.

A KerasTensor holds no values: using it as an array raises. ``+``, ``-`` and ``*`` between two
KerasTensors call the Add, Subtract and Multiply layers (registered in ``BINARY_LAYERS`` by
layers/merging.py); the other operators, those with a constant, indexing and the ``ops``
functions add a node that calls the op (layers/op_layer.py), as Keras 3's operations do.
"""
import operator
from typing import NamedTuple

import numpy as np

from .. import _registry, _state, ops
from ..tensor import Tensor, no_grad
from ..utils import tree

BINARY_LAYERS = {}  # "add" / "subtract" / "multiply" -> the merge layer class, filled by merging.py


class KerasHistory(NamedTuple):
    layer: object
    node_index: int
    tensor_index: int


class KerasTensor:
    """A symbolic tensor: a shape and a dtype, and the layer call that produced it."""

    __array_priority__ = 1000  # numpy defers to our operators
    keras_symbolic = True  # what the ops namespace looks for (it cannot import this class)

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype).name
        self.name = name
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"{self!r} is symbolic: it has a shape but no values. It stands for a model's input "
                        "while the model is being defined; compute with it by calling layers on it, and call "
                        "the model (or predict) on real data")

    def __len__(self):
        raise TypeError(f"{self!r} is symbolic: len() is undefined; use .shape")

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic: it has no truth value (there are no values to test yet)")

    def _binary(self, other, kind, reflected=False):
        """Between two KerasTensors a merge layer (Add, Subtract, Multiply), as Keras' operators give; with a
        constant, the ops function (a node of layers/op_layer.py)."""
        if isinstance(other, KerasTensor) and kind in BINARY_LAYERS:
            return BINARY_LAYERS[kind]()([other, self] if reflected else [self, other])
        function = getattr(ops, kind)
        return function(other, self) if reflected else function(self, other)

    def __add__(self, other):
        return self._binary(other, "add")

    def __radd__(self, other):
        return self._binary(other, "add", reflected=True)

    def __sub__(self, other):
        return self._binary(other, "subtract")

    def __rsub__(self, other):
        return self._binary(other, "subtract", reflected=True)

    def __mul__(self, other):
        return self._binary(other, "multiply")

    def __rmul__(self, other):
        return self._binary(other, "multiply", reflected=True)

    def __truediv__(self, other):
        return self._binary(other, "divide")

    def __rtruediv__(self, other):
        return self._binary(other, "divide", reflected=True)

    def __pow__(self, other):
        return self._binary(other, "power")

    def __matmul__(self, other):
        return self._binary(other, "matmul")

    def __neg__(self):
        return ops.negative(self)

    def __getitem__(self, key):  # x[:, 0] in a functional model: a node that indexes (layers/op_layer.py)
        return _registry.symbolic_op_handler()("get_item", operator.getitem, (self, key), {})


def is_symbolic(structure):
    """Whether any leaf of ``structure`` is a KerasTensor."""
    return any(isinstance(x, KerasTensor) for x in tree.flatten(structure))


class Node:
    """One call of ``layer`` on symbolic tensors: its arguments and the KerasTensors it returned."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs)
        self.output_structure = outputs
        self.outputs = tree.flatten(outputs)
        self.input_tensors = [x for x in tree.flatten([list(self.call_args), self.call_kwargs])
                              if isinstance(x, KerasTensor)]
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.outputs):
            tensor._keras_history = KerasHistory(layer, index, i)
        # the common call, one tensor and nothing else, skips the structure walk when the graph runs
        single = len(self.call_args) == 1 and not self.call_kwargs and isinstance(self.call_args[0], KerasTensor)
        self._single_input = self.call_args[0] if single else None
        # ... and so does a merge layer's: one flat list of tensors
        listed = (len(self.call_args) == 1 and not self.call_kwargs and isinstance(self.call_args[0], (list, tuple))
                  and all(isinstance(x, KerasTensor) for x in self.call_args[0]))
        self._list_input = list(self.call_args[0]) if listed else None

    @property
    def is_input(self):
        return not self.input_tensors

    @property
    def parent_nodes(self):
        return [t._keras_history.layer._inbound_nodes[t._keras_history.node_index] for t in self.input_tensors]

    def arguments(self, values):
        """(args, kwargs) with each KerasTensor replaced by ``values[id(tensor)]``."""
        single = self._single_input
        if single is not None:
            return (values[id(single)],), {}

        def fill(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x
        return (tuple(tree.map_structure(fill, list(self.call_args))),
                {k: tree.map_structure(fill, v) for k, v in self.call_kwargs.items()})

    def __repr__(self):
        return f"<Node of layer '{self.layer.name}', {len(self.input_tensors)} inputs, {len(self.outputs)} outputs>"


# ---- calling a layer on symbolic tensors ---------------------------------------------------------
def shape_of(x):
    """The shape of a tensor-like leaf (other leaves are returned as they are)."""
    if isinstance(x, (KerasTensor, Tensor, np.ndarray)):
        return tuple(x.shape)
    return x


def placeholders(shapes, dtype):
    """KerasTensors for a shape (a tuple of ints and Nones) or a list or dict of shapes."""
    if isinstance(shapes, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        return KerasTensor(shapes, dtype)
    if isinstance(shapes, dict):
        return {k: placeholders(v, dtype) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return [placeholders(v, dtype) for v in shapes]
    raise TypeError(f"compute_output_shape must return a shape (a tuple of ints) or a list or dict of them, "
                    f"received {shapes!r}")


def symbolic_call(layer, args, kwargs, training, mask, default_output_shape):
    """What ``layer(*args)`` does when the arguments hold KerasTensors: build the layer for their shapes, work
    out the output shapes and record a Node. ``default_output_shape`` is the base class's compute_output_shape:
    a layer that keeps it has its shapes found by running it on zeros (``infer_output_specs``)."""
    shapes = tree.map_structure(shape_of, args[0])
    layer._ensure_built(shapes)
    call_kwargs = dict(kwargs)
    if training is not None:
        call_kwargs["training"] = training
    if mask is not None:
        call_kwargs["mask"] = mask
    if type(layer).compute_output_shape is default_output_shape:
        outputs = infer_output_specs(layer, args, kwargs)
    else:
        extra = [tree.map_structure(shape_of, a) for a in args[1:]]
        outputs = placeholders(layer.compute_output_shape(shapes, *extra), layer.dtype)
    Node(layer, args, call_kwargs, outputs)
    for i, tensor in enumerate(tree.flatten(outputs)):
        tensor.name = layer.name if i == 0 else f"{layer.name}_{i}"
    return outputs


def infer_output_specs(layer, args, kwargs):
    """The output KerasTensor(s) of ``layer`` called on ``args`` (KerasTensors inside), found by calling it
    on zeros.

    Axes of unknown size (None) are tried at two sizes; an output axis that follows them is None.
    Weights keep their values (a call that updates state is undone) and add_loss records nothing.
    """
    symbolic = [x for x in tree.flatten([list(args), kwargs]) if isinstance(x, KerasTensor)]
    unknown = any(d is None for x in symbolic for d in x.shape)
    runs = []
    for size in ((2, 3) if unknown else (2,)):
        def zeros(x, size=size):
            if not isinstance(x, KerasTensor):
                return x
            return Tensor(np.zeros(tuple(size if d is None else d for d in x.shape), dtype=x.dtype))
        runs.append(_run_quietly(layer, tree.map_structure(zeros, list(args)),
                                 {k: tree.map_structure(zeros, v) for k, v in kwargs.items()}))
    specs = []
    for outputs in zip(*[tree.flatten(r) for r in runs]):
        first = outputs[0]
        if not isinstance(first, Tensor):
            raise TypeError(f"Layer '{layer.name}' returned {type(first).__name__}, not a Tensor; return Tensors "
                            "(or define compute_output_shape)")
        shape = tuple(d if all(o.shape[i] == d for o in outputs) else None for i, d in enumerate(first.shape))
        specs.append(KerasTensor(shape, first.dtype))
    return tree.pack_sequence_as(runs[0], specs) if tree.is_nested(runs[0]) else specs[0]


def _run_quietly(layer, args, kwargs):
    state = _state.local
    saved = [(w, w.data.copy()) for w in layer.weights]
    previous = state.inferring_shapes
    state.inferring_shapes = True
    try:
        with no_grad():
            return layer(*args, training=False, **kwargs)
    except Exception as err:
        message = (f"Layer '{layer.name}' ({type(layer).__name__}): its output shape was inferred by calling it on "
                   f"zeros, which failed: {err}. Define compute_output_shape(input_shape) for it.")
        try:
            replacement = type(err)(message)
        except Exception:  # an exception class that wants other arguments keeps its own message
            raise
        raise replacement from err
    finally:
        state.inferring_shapes = previous
        for w, values in saved:
            w.data[...] = values
