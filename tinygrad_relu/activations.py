"""Keras' activation functions (``keras.activations``): same names, signatures and defaults.

    >>> from tinygrad_relu import activations, Tensor
    >>> activations.relu(Tensor([-10.0, -5.0, 0.0, 5.0, 10.0]), max_value=5.0)
    Tensor([0., 0., 0., 5., 5.])
    >>> activations.get("leaky_relu") is activations.leaky_relu
    True

Built from the one table in ``ops/activation.py``. Defaults are ``keras.activations``' where
they differ from PyTorch's (and so from the Tensor methods): ``leaky_relu`` slope 0.2 (PyTorch
0.01). ``gelu(approximate=False)`` is the exact erf form in both (note ``keras.ops.gelu``
defaults to the tanh form; the activation does not). Inputs that are not Tensors (lists,
arrays) are wrapped first.
"""
from .ops import activation as _table
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


ALL_ACTIVATIONS = {row.name: _table.make_function(row, row.keras, convert=_tensor) for row in _table.TABLE}
globals().update(ALL_ACTIVATIONS)
_NAME_OF = {fn: name for name, fn in ALL_ACTIVATIONS.items()}  # the name Keras saves for each function
for _alias, _name in _table.ALIASES.items():
    ALL_ACTIVATIONS[_alias] = globals()[_alias] = ALL_ACTIVATIONS[_name]
del _alias, _name

__all__ = sorted(ALL_ACTIVATIONS) + ["get", "serialize", "deserialize"]


def get(identifier):
    """An activation function from a name, None (-> linear), a Keras config dict or a callable."""
    if identifier is None:
        return ALL_ACTIVATIONS["linear"]
    if isinstance(identifier, dict):  # {'class_name': 'function', 'config': 'relu', ...} from Keras configs
        config = identifier.get("config")
        identifier = config if isinstance(config, str) else identifier.get("class_name")
    if isinstance(identifier, str):
        fn = ALL_ACTIVATIONS.get(identifier)
        if fn is None:
            raise ValueError(
                f"activations.get: unknown activation {identifier!r}; known names: "
                f"{', '.join(sorted(ALL_ACTIVATIONS))}")
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activations.get: expected a name, None or a callable, got {type(identifier).__name__} "
        f"{identifier!r}")


def serialize(activation):
    """The name Keras saves for an activation function ('silu' for swish); custom callables give their __name__."""
    name = _NAME_OF.get(activation)
    if name is not None:
        return name
    name = getattr(activation, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(f"activations.serialize: cannot name activation {activation!r}; "
                         f"use a named function or one of {', '.join(sorted(ALL_ACTIVATIONS))}")
    return name


def deserialize(name):
    """Inverse of serialize for the built-in names."""
    return get(name)


def fused_name(activation, fusable):
    """The table name of ``activation`` when it is one of ours and a fused op can compute it, else None.

    A user's function that merely shares a built-in's name is not ours, so it is not fused.
    """
    name = _NAME_OF.get(activation)
    return name if name in fusable else None
