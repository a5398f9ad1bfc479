"""Keras' activation functions (``keras.activations``): same names, signatures and defaults.

    >>> from tinygrad_relu import activations, Tensor
    >>> activations.relu(Tensor([-10.0, -5.0, 0.0, 5.0, 10.0]), max_value=5.0)
    Tensor([0., 0., 0., 5., 5.])
    >>> activations.get("leaky_relu") is activations.leaky_relu
    True

Defaults follow ``keras.activations`` where they differ from PyTorch's (and so from the
Tensor methods): ``leaky_relu`` slope 0.2 (PyTorch 0.01). ``gelu(approximate=False)`` is
the exact erf form in both (note ``keras.ops.gelu`` defaults to the tanh form; the
activation does not). Inputs that are not Tensors (lists, arrays) are wrapped first.
"""
from .ops import activation as _ops
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) by default; x <= threshold gives negative_slope * (x - threshold); capped at max_value."""
    return _ops.relu(_tensor(x), negative_slope=negative_slope, max_value=max_value,
                     threshold=threshold)


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope * x (Keras' default slope 0.2)."""
    return _ops.leaky_relu(_tensor(x), negative_slope=negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return _ops.relu6(_tensor(x))


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _ops.elu(_tensor(x), alpha=alpha)


def selu(x):
    """scale * elu(x, alpha) with alpha = 1.67326324, scale = 1.05070098."""
    return _ops.selu(_tensor(x))


def gelu(x, approximate=False):
    """x * Phi(x) (exact erf form); approximate=True uses the tanh formula."""
    return _ops.gelu(_tensor(x), approximate=approximate)


def silu(x):
    """x * sigmoid(x), also called swish."""
    return _ops.silu(_tensor(x))


swish = silu


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return _ops.sigmoid(_tensor(x))


def hard_sigmoid(x):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, x/6 + 1/2 between (Keras 3)."""
    return _ops.hard_sigmoid(_tensor(x))


def hard_silu(x):
    """x * hard_sigmoid(x), also called hard_swish."""
    x = _tensor(x)
    return x * _ops.hard_sigmoid(x)


hard_swish = hard_silu


def tanh(x):
    """Hyperbolic tangent."""
    return _ops.tanh(_tensor(x))


def softplus(x):
    """log(exp(x) + 1), computed without overflow."""
    return _ops.softplus(_tensor(x))


def softsign(x):
    """x / (abs(x) + 1)."""
    return _ops.softsign(_tensor(x))


def mish(x):
    """x * tanh(softplus(x))."""
    return _ops.mish(_tensor(x))


def exponential(x):
    """exp(x)."""
    return _tensor(x).exp()


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return _ops.softmax(_tensor(x), axis=axis)


def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along ``axis``."""
    return _ops.log_softmax(_tensor(x), axis=axis)


def linear(x):
    """The identity: returns its input unmodified (as a Tensor, like every activation here)."""
    return x if isinstance(x, Tensor) else Tensor(x)


ALL_ACTIVATIONS = {
    fn.__name__: fn
    for fn in (relu, leaky_relu, relu6, elu, selu, gelu, silu, sigmoid, hard_sigmoid,
               hard_silu, tanh, softplus, softsign, mish, exponential, softmax, log_softmax,
               linear)
}
ALL_ACTIVATIONS["swish"] = silu
ALL_ACTIVATIONS["hard_swish"] = hard_silu
_NAME_OF = {fn: name for name, fn in ALL_ACTIVATIONS.items() if name == fn.__name__}


def get(identifier):
    """An activation function from a name, None (-> linear), a Keras config dict or a callable."""
    if identifier is None:
        return linear
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
