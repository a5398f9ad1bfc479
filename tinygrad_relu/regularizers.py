"""Weight penalties added to the loss, Keras' formulas: l1 * sum|w| and l2 * sum(w^2) (no 1/2).

A regularizer is called on a weight Tensor and returns a differentiable scalar Tensor.
"""
import math

from ._registry import Configurable, cannot_interpret, find_class, from_serialized, unknown_name
from ._registry import serialize  # noqa: F401  (public: regularizers.serialize)
from .tensor import Tensor


def _penalty_factor(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative finite number, received {name}={value!r}")
    return float(value)


def _check_weight(weight, who):
    if not isinstance(weight, Tensor):
        raise TypeError(f"{who}: expected a Tensor weight, received {type(weight).__name__}")


class Regularizer(Configurable):
    """Base class: ``reg(weight) -> scalar Tensor``; ``get_config``/``from_config``."""

    def __call__(self, weight):  # pragma: no cover - abstract
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _penalty_factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _penalty_factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, weight):
        _check_weight(weight, "L1L2")
        penalty = None
        if self.l1:
            penalty = weight.abs().sum() * self.l1
        if self.l2:
            l2_term = (weight * weight).sum() * self.l2
            penalty = l2_term if penalty is None else penalty + l2_term
        if penalty is None:  # both factors zero: a constant 0 that still belongs to the graph
            penalty = weight.sum() * 0.0
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1 * sum(|w|)."""

    def __init__(self, l1=0.01):
        self.l1 = _penalty_factor(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, weight):
        _check_weight(weight, "L1")
        return weight.abs().sum() * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(w^2)."""

    def __init__(self, l2=0.01):
        self.l2 = _penalty_factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, weight):
        _check_weight(weight, "L2")
        return (weight * weight).sum() * self.l2

    def get_config(self):
        return {"l2": self.l2}


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier):
    """A regularizer from 'l1', 'l2', 'l1_l2' (Keras: 0.01 each), a serialized dict, an object or None."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return from_serialized(identifier, _CLASSES, _NAMES, "Unknown regularizer class {name!r}. Known: {known}")
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if cls is None:
            raise unknown_name(identifier, _NAMES, "regularizer", "regularizers")
        return L1L2(l1=0.01, l2=0.01) if cls is L1L2 else cls()  # the string form's defaults, as Keras documents
    if callable(identifier):
        return identifier
    raise cannot_interpret("regularizers.get", identifier, "a regularizer")


l1, l2, l1_l2 = L1, L2, L1L2
