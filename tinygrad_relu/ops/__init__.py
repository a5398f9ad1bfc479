"""``tinygrad_relu.ops``: Keras' ``keras.ops``, the functions custom layers, losses and metrics are written with.

    >>> from tinygrad_relu import ops
    >>> ops.mean(ops.square(ops.subtract([1.0, 2.0], [0.0, 0.0])))
    Tensor(2.5)

They take Tensors, numpy arrays, lists and numbers alike, return Tensors, and are differentiable
where Keras' are: ``core.py`` converts and casts, ``numpy.py`` holds the numpy-like math, ``arrays.py``
the functions that rearrange elements (shapes, joins, gathers), ``nn.py`` the neural-network set.

The submodules by kind are the differentiable ops themselves (one ``Function`` each, forward and
backward side by side): ``elementwise``, ``reduce``, ``movement``, ``linalg``, ``activation``
(the one activation table), ``dense``, ``convolution``, ``pool``.
"""
import builtins
import functools
import types

from .. import _registry
from . import arrays, core, numpy, nn
from .core import *  # noqa: F401,F403
from .numpy import *  # noqa: F401,F403
from .arrays import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = sorted(set(core.__all__) | set(numpy.__all__) | set(arrays.__all__) | set(nn.__all__))


def _holds_symbolic(args, kwargs):  # (this namespace's any, all, max ... shadow the builtins)
    """Whether an argument (or an item of a list or tuple argument) is a symbolic tensor (layers.KerasTensor)."""
    for value in (*args, *kwargs.values()):
        if getattr(value, "keras_symbolic", False) or (type(value) in (list, tuple) and builtins.any(
                getattr(item, "keras_symbolic", False) for item in value)):
            return True
    return False


def _symbolic_aware(name, function):
    """``function`` as this namespace exposes it: called on a functional model's symbolic inputs it adds a node
    to the model (as Keras' ops do), on Tensors and arrays it computes."""
    @functools.wraps(function)
    def op(*args, **kwargs):
        if _holds_symbolic(args, kwargs):
            handler = _registry.symbolic_op_handler()
            if handler is not None:
                return handler(name, function, args, kwargs)
        return function(*args, **kwargs)
    return op


for _name in __all__:
    if isinstance(globals()[_name], types.FunctionType):
        globals()[_name] = _symbolic_aware(_name, globals()[_name])
del _name
