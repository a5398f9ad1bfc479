"""An ``ops`` function called on symbolic tensors: ``ops.expand_dims(x, -1)`` or ``x * 2.0`` inside a
functional model adds a node, as Keras 3's ops do. The node's layer holds the function and its
arguments, with the symbolic tensors taken out; called on real Tensors it puts them back and
computes. It has no weights, and its output shape is found by running it (layers/symbolic.py).

Such a model runs and trains; saving or cloning it raises, since the function is code that a file
would have to name: put the op in a Lambda layer (saved by name) or a custom layer to save it.
"""
from .. import _registry, _state
from ..utils import tree
from .base import Layer
from .symbolic import KerasTensor


class _Slot:
    """Where the i-th symbolic tensor stood among an op's arguments."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class OpLayer(Layer):
    """One call of ``function`` (an ``ops`` function) whose arguments held symbolic tensors."""

    def __init__(self, op_name, function, args, kwargs):
        super().__init__(name=_state.unique_name(op_name), autocast=False)
        self.op_name, self.function = op_name, function
        tensors = []

        def take(value):
            if isinstance(value, KerasTensor):
                tensors.append(value)
                return _Slot(len(tensors) - 1)
            return value
        self._template = (tree.map_structure(take, list(args)), {k: tree.map_structure(take, v)
                                                                  for k, v in kwargs.items()})
        self.symbolic_inputs = tensors

    def call(self, tensors):
        def fill(value):
            return tensors[value.index] if isinstance(value, _Slot) else value
        args, kwargs = self._template
        return self.function(*tree.map_structure(fill, args), **{k: tree.map_structure(fill, v)
                                                                for k, v in kwargs.items()})

    def get_config(self):
        raise NotImplementedError(
            f"Layer '{self.name}' is the call ops.{self.op_name}(...) on a functional model's symbolic tensors: "
            "a model holding such calls runs and trains, but cannot be saved here; put the op inside a Lambda "
            "layer or a custom layer to save the model")


def record_op(op_name, function, args, kwargs):
    layer = OpLayer(op_name, function, args, kwargs)
    return layer(list(layer.symbolic_inputs))


_registry.register_symbolic_op_handler(record_op)
