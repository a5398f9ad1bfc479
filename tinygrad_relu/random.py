"""Keras' ``keras.random``: random tensors for custom layers (a VAE's sampling, a custom dropout).

Without a seed every draw comes from the library's one generator (``utils.set_random_seed`` makes
runs repeat); an integer seed gives the same values at every call, as Keras promises; a
``SeedGenerator`` is a stream of its own. The results are constants (no gradient flows into
the randomness), except ``dropout``, whose output is differentiable in its input.
"""
import numpy as np

from . import utils
from .ops import convert_to_tensor, multiply
from .tensor import Tensor

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "dropout", "shuffle"]


class SeedGenerator:
    """A random stream of its own: pass it as ``seed=`` to draw from it (Keras' keras.random.SeedGenerator)."""

    def __init__(self, seed=None, name=None, **kwargs):
        self.name = name
        self.initial_seed = seed
        start = seed if seed is not None else int(utils.get_rng().integers(2 ** 63))
        self.generator = np.random.default_rng(start)

    def get_config(self):
        return {"seed": self.initial_seed}


def _generator(seed, who):
    if seed is None:
        return utils.get_rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise ValueError(f"{who}: seed must be None, an int or a SeedGenerator, received {seed!r}")


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _float(dtype):
    dtype = np.dtype(dtype or "float32")
    if dtype.kind != "f":
        raise ValueError(f"keras.random: a float dtype is needed, received {dtype}")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev^2)."""
    values = _generator(seed, "normal").normal(mean, stddev, size=_shape(shape))
    return Tensor._make(values.astype(_float(dtype)), False, None)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of U[minval, maxval)."""
    values = _generator(seed, "uniform").uniform(minval, maxval, size=_shape(shape))
    return Tensor._make(values.astype(_float(dtype)), False, None)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations of the mean (Keras' rule)."""
    rng = _generator(seed, "truncated_normal")
    values = rng.standard_normal(size=_shape(shape))
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2
    return Tensor._make((mean + stddev * values).astype(_float(dtype)), False, None)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in [minval, maxval)."""
    values = _generator(seed, "randint").integers(minval, maxval, size=_shape(shape))
    return Tensor._make(values.astype(np.dtype(dtype)), False, None)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each value with probability ``rate`` and scale the rest by 1 / (1 - rate): d out / d x is the mask."""
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), received {rate!r}")
    x = inputs if isinstance(inputs, Tensor) else convert_to_tensor(inputs)
    shape = x.shape if noise_shape is None else tuple(s if n is None else n for s, n in zip(x.shape, noise_shape))
    keep = 1.0 - rate
    mask = (_generator(seed, "dropout").random(shape) < keep).astype(x.dtype) / x.dtype.type(keep)
    return multiply(x, Tensor._make(mask, False, None))


def shuffle(x, axis=0, seed=None):
    """x with its entries along ``axis`` in a random order (a constant)."""
    values = np.array(x.data if isinstance(x, Tensor) else x)
    _generator(seed, "shuffle").shuffle(np.moveaxis(values, axis, 0))
    return Tensor._make(values, False, None)
