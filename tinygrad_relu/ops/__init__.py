"""``tinygrad_relu.ops``: Keras' ``keras.ops``, the functions custom layers, losses and metrics are written with.

    >>> from tinygrad_relu import ops
    >>> ops.mean(ops.square(ops.subtract([1.0, 2.0], [0.0, 0.0])))
    Tensor(2.5)

They take Tensors, numpy arrays, lists and numbers alike, return Tensors, and are differentiable
where Keras' are: ``numpy.py`` holds the numpy-like set, ``nn.py`` the neural-network set.

The submodules by kind are the differentiable ops themselves (one ``Function`` each, forward and
backward side by side): ``elementwise``, ``reduce``, ``movement``, ``linalg``, ``activation``
(the one activation table), ``dense``, ``convolution``, ``pool``.
"""
from . import numpy, nn
from .numpy import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = sorted(set(numpy.__all__) | set(nn.__all__))
