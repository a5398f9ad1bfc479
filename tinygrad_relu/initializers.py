"""Weight initializers with Keras 3's names, defaults and formulas.

An initializer is called as ``init(shape, dtype="float32")`` and returns a numpy array.
Unseeded initializers draw from ``tinygrad_relu.utils.get_rng()`` (so ``set_random_seed``
makes them repeatable); a seeded one gives the same values on every call, as in Keras.

The variance-scaling family (Glorot, He, LeCun) scales by the fan of the weight:
a Dense kernel (in, out) has fan_in=in, fan_out=out; a conv kernel (*window, cin, cout)
has fan_in = window_size * cin and fan_out = window_size * cout.
"""
import math

import numpy as np

from . import _registry, utils
from ._registry import (Configurable, cannot_interpret, check_serialized, find_class, from_serialized,
                        unknown_name)

# The std of a standard normal truncated to [-2, 2]: dividing by it restores the wanted std.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of this shape, Keras' rule."""
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _numeric_dtype(dtype, who):
    """Constant initializers make integer and boolean weights too (counters, step numbers), as Keras'."""
    dt = np.dtype(dtype)
    if dt.kind not in "fiub":
        raise ValueError(f"{who}: can only make numeric weights, received dtype {dt}")
    return dt


def _float_dtype(dtype, who):
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"{who}: can only make floating point weights, received dtype {dt}")
    return dt


def _check_shape(shape, who):
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{who}: shape must be a tuple of integers, received {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{who}: shape must not have negative dimensions, received {shape}")
    return shape


class Initializer(Configurable):
    """Base class: subclasses define ``__call__(shape, dtype)`` and ``get_config``."""

    def __call__(self, shape, dtype="float32"):  # pragma: no cover - abstract
        raise NotImplementedError


class _RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__}: seed must be an integer or None, received {seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        # A seeded initializer restarts its own stream each call: same values every time (Keras' rule).
        return utils.get_rng() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _normal(rng, shape, dtype, mean, stddev):
    out = rng.standard_normal(shape, dtype=dtype)
    if stddev != 1.0:
        out *= dtype.type(stddev)
    if mean != 0.0:
        out += dtype.type(mean)
    return out


def _truncated_normal(rng, shape, dtype, mean, stddev):
    """Normal samples redrawn until all lie within two standard deviations of the mean."""
    z = rng.standard_normal(shape, dtype=dtype)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()), dtype=dtype)
        outside = np.abs(z) > 2
    if stddev != 1.0:
        z *= dtype.type(stddev)
    if mean != 0.0:
        z += dtype.type(mean)
    return z


def _uniform(rng, shape, dtype, minval, maxval):
    out = rng.random(shape, dtype=dtype)
    out *= dtype.type(maxval - minval)
    out += dtype.type(minval)
    return out


# ---- constant initializers -------------------------------------------------------------
class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype="float32"):
        return np.zeros(_check_shape(shape, "Zeros"), dtype=_numeric_dtype(dtype, "Zeros"))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(_check_shape(shape, "Ones"), dtype=_numeric_dtype(dtype, "Ones"))


class Constant(Initializer):
    """Every element equal to ``value``."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype="float32"):
        return np.full(_check_shape(shape, "Constant"), self.value, dtype=_numeric_dtype(dtype, "Constant"))

    def get_config(self):
        return {"value": self.value}


# ---- plain random initializers ---------------------------------------------------------
class RandomNormal(_RandomInitializer):
    """Normal(mean, stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype="float32"):
        return _normal(self._rng(), _check_shape(shape, "RandomNormal"), _float_dtype(dtype, "RandomNormal"),
                       self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(_RandomInitializer):
    """Normal(mean, stddev) with values beyond two stddevs redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype="float32"):
        return _truncated_normal(self._rng(), _check_shape(shape, "TruncatedNormal"),
                                 _float_dtype(dtype, "TruncatedNormal"), self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_RandomInitializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)
        if self.maxval < self.minval:
            raise ValueError(f"RandomUniform: maxval ({maxval}) must not be below minval ({minval})")

    def __call__(self, shape, dtype="float32"):
        return _uniform(self._rng(), _check_shape(shape, "RandomUniform"), _float_dtype(dtype, "RandomUniform"),
                        self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


# ---- variance scaling: Glorot, He, LeCun ------------------------------------------------
class VarianceScaling(_RandomInitializer):
    """Samples with variance ``scale / n``, n the fan_in, fan_out or their average.

    distribution 'truncated_normal': stddev sqrt(scale/n) / .8796 (truncation shrinks it),
    'untruncated_normal': stddev sqrt(scale/n), 'uniform': limit sqrt(3 scale/n).
    """
    _modes = ("fan_in", "fan_out", "fan_avg")
    _distributions = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        name = type(self).__name__
        if input_axes is not None or output_axes is not None:  # Keras >= 3.12 writes them (None) into configs
            raise NotImplementedError(f"{name}: input_axes and output_axes are not supported")
        if scale <= 0:
            raise ValueError(f"{name}: scale must be positive, received scale={scale}")
        if mode not in self._modes:
            raise ValueError(f"{name}: mode must be one of {self._modes}, received mode={mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":  # Keras' legacy spelling
            distribution = "truncated_normal"
        if distribution not in self._distributions:
            raise ValueError(f"{name}: distribution must be one of {self._distributions}, "
                             f"received distribution={distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype="float32"):
        name = type(self).__name__
        shape, dtype = _check_shape(shape, name), _float_dtype(dtype, name)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            return _truncated_normal(rng, shape, dtype, 0.0, math.sqrt(variance) / _TRUNCATED_STD)
        if self.distribution == "untruncated_normal":
            return _normal(rng, shape, dtype, 0.0, math.sqrt(variance))
        limit = math.sqrt(3.0 * variance)
        return _uniform(rng, shape, dtype, -limit, limit)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class _NamedVarianceScaling(VarianceScaling):
    _preset = None  # (scale, mode, distribution)

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed, input_axes=input_axes,
                         output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_NamedVarianceScaling):
    """Uniform(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). Keras' default kernel initializer."""
    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_NamedVarianceScaling):
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) after truncation."""
    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_NamedVarianceScaling):
    """Truncated normal, stddev sqrt(2 / fan_in) after truncation: the ReLU initializer."""
    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_NamedVarianceScaling):
    """Uniform(-limit, limit), limit = sqrt(6 / fan_in)."""
    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_NamedVarianceScaling):
    """Truncated normal, stddev sqrt(1 / fan_in) after truncation: the SELU initializer."""
    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_NamedVarianceScaling):
    """Uniform(-limit, limit), limit = sqrt(3 / fan_in)."""
    _preset = (1.0, "fan_in", "uniform")


class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, times gain."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype="float32"):
        shape, dtype = _check_shape(shape, "Orthogonal"), _float_dtype(dtype, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the weight must have at least 2 dimensions, received shape {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the result uniformly distributed over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


# ---- lookup ------------------------------------------------------------------------------
_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
    GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)}

_NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal, "random_uniform": RandomUniform,
    "normal": RandomNormal, "uniform": RandomUniform,  # Keras' short aliases (Embedding's default is "uniform")
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
}


def serialize(initializer):
    """{'class_name': ..., 'config': ...}, Keras' serialized form (None stays None)."""
    if initializer is not None and not isinstance(initializer, Initializer):
        raise TypeError(f"initializers.serialize: expected an Initializer, received {type(initializer).__name__}")
    return _registry.serialize(initializer)


def deserialize(config):
    """The inverse of ``serialize``."""
    check_serialized(config, "initializers.deserialize")
    return from_serialized(config, _CLASSES, _NAMES,
                           "initializers.deserialize: unknown initializer class {name!r}; known: {known}")


def get(identifier):
    """An initializer from a Keras name ('he_normal', 'HeNormal'), a serialized dict, an object or a callable."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if cls is None:
            raise unknown_name(identifier, _NAMES, "initializer", "initializers")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise cannot_interpret("initializers.get", identifier, "an initializer",
                           "; give a name, a dict, an Initializer or a callable")


# Keras also exports the lower-case aliases as classes.
zeros, ones, constant = Zeros, Ones, Constant
random_normal, truncated_normal, random_uniform = RandomNormal, TruncatedNormal, RandomUniform
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
