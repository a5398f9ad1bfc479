"""Weight constraints, Keras' names and formulas: a projection applied to a weight after each optimizer step.

A constraint is called on a weight (a Tensor, or a numpy array) and returns the projected values, a
Tensor of the same shape; ``fit`` (and ``train_on_batch``) write them back into the weight right after
the update, as Keras' optimizer does. Any callable ``w -> w'`` works as a constraint too.

The norms are taken along ``axis`` (Keras' default 0: for a Dense kernel (in, out), the vector of
weights coming into each unit; for a Conv2D kernel pass ``axis=[0, 1, 2]``, one norm per filter):

    MaxNorm     w * clip(|w|, 0, max_value) / (eps + |w|)
    UnitNorm    w / (eps + |w|)
    MinMaxNorm  w * (rate * clip(|w|, min_value, max_value) + (1 - rate) * |w|) / (eps + |w|)
    NonNeg      max(w, 0)

with eps = 1e-7 (keras.backend.epsilon()). No gradient flows through a constraint: it runs outside
the graph, on the values.
"""
import math

import numpy as np

from . import _registry
from ._registry import Configurable, cannot_interpret, find_class, from_serialized, unknown_name
from .tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg", "unit_norm",
           "min_max_norm", "get", "serialize", "deserialize"]


def _values(w):
    return np.asarray(w.data if isinstance(w, Tensor) else w)


def _axis(axis, who):
    """An int or a list of ints (Keras writes tuples as lists in configs)."""
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
        return [int(a) for a in axis]
    raise ValueError(f"{who}: axis must be an int or a list of ints, received axis={axis!r}")


def _number(value, name, who, low=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < low:
        raise ValueError(f"{who}: {name} must be a finite number >= {low:g}, received {name}={value!r}")
    return value


def _norms(values, axis, who):
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    if any(not -values.ndim <= a < values.ndim for a in axes):
        raise ValueError(f"{who}: axis={axis!r} is out of range for a weight of shape {values.shape}")
    return np.sqrt(np.sum(np.square(values), axis=axes, keepdims=True))


class Constraint(Configurable):
    """Base class: ``__call__(w)`` returns the projected weight (this one returns it unchanged)."""

    def __call__(self, w):
        return w


class MaxNorm(Constraint):
    """Rescale each weight vector (along ``axis``) whose norm exceeds ``max_value`` down to that norm."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", "MaxNorm")
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        values = _values(w)
        norms = _norms(values, self.axis, "MaxNorm")
        desired = np.clip(norms, 0, self.max_value)
        return Tensor._make((values * (desired / (EPSILON + norms))).astype(values.dtype, copy=False), False, None)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Set negative weights to 0."""

    def __call__(self, w):
        values = _values(w)
        return Tensor._make(np.maximum(values, 0).astype(values.dtype, copy=False), False, None)


class UnitNorm(Constraint):
    """Rescale each weight vector (along ``axis``) to norm 1."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        values = _values(w)
        norms = _norms(values, self.axis, "UnitNorm")
        return Tensor._make((values / (EPSILON + norms)).astype(values.dtype, copy=False), False, None)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each weight vector's norm toward [min_value, max_value]; ``rate`` 1 puts it there at once."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", "MinMaxNorm")
        self.max_value = _number(max_value, "max_value", "MinMaxNorm")
        if self.max_value < self.min_value:
            raise ValueError(f"MinMaxNorm: max_value must be >= min_value, received min_value={min_value!r}, "
                             f"max_value={max_value!r}")
        self.rate = _number(rate, "rate", "MinMaxNorm")
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, w):
        values = _values(w)
        norms = _norms(values, self.axis, "MinMaxNorm")
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return Tensor._make((values * (desired / (EPSILON + norms))).astype(values.dtype, copy=False), False, None)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras' lower-case aliases
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_NAMES = {"constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
          "min_max_norm": MinMaxNorm}


def serialize(constraint):
    """Keras' serialized form: {'class_name', 'config'} for a Constraint, the function form
    {'class_name': 'function', 'config': name} for a plain function (found again by its registered name)."""
    if constraint is None or hasattr(constraint, "get_config"):
        return _registry.serialize(constraint)
    name = _registry.registered_name(constraint)
    if not name or name == "<lambda>":
        raise ValueError(f"constraints.serialize: {constraint!r} cannot be saved: give the constraint a name (a def "
                         "registered with register_keras_serializable) or make it a Constraint subclass")
    return {"class_name": "function", "config": name, "registered_name": name}


def deserialize(config, custom_objects=None):
    """The constraint a serialized dict describes; classes and functions are looked up by name, never imported."""
    _registry.check_serialized(config, "constraints.deserialize")
    if config["class_name"] == "function":
        found = _registry.custom_object([config.get("registered_name"), config.get("config")], custom_objects)
        if found is None:
            raise ValueError(f"constraints.deserialize: unknown constraint function {config.get('config')!r}; "
                             "register it with register_keras_serializable or pass it in custom_objects")
        return found
    found = _registry.custom_object([config.get("registered_name"), config["class_name"]], custom_objects) \
        if custom_objects else None
    if found is not None:
        return found.from_config(dict(config.get("config") or {}))
    return from_serialized(config, _CLASSES, _NAMES, "Unknown constraint class {name!r}. Known: {known}")


def get(identifier):
    """A constraint from a Keras name ('max_norm', 'NonNeg'), a serialized dict, an object, a callable or None."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if cls is None:
            raise unknown_name(identifier, _NAMES, "constraint", "constraints")
        return cls()
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise cannot_interpret("constraints.get", identifier, "a constraint",
                           " (expected a name, a dict, a Constraint or a callable w -> w')")
