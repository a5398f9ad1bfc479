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
from . import arrays, core, numpy, nn
from .core import *  # noqa: F401,F403
from .numpy import *  # noqa: F401,F403
from .arrays import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = sorted(set(core.__all__) | set(numpy.__all__) | set(arrays.__all__) | set(nn.__all__))
