"""Argument and shape checks the layers share, with Keras' wording in their errors."""
import numpy as np


def normalize_tuple(value, n, arg_name, layer_name, allow_zero=False):
    """An int or a sequence of n ints -> a tuple of n positive ints (ValueError otherwise)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(f"Layer '{layer_name}': `{arg_name}` must be an int or a tuple of {n} ints, "
                            f"received {arg_name}={value!r}") from None
        if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"Layer '{layer_name}': `{arg_name}` must be an int or a tuple of {n} ints, "
                             f"received {arg_name}={value!r}")
        values = tuple(int(v) for v in values)
    smallest = 0 if allow_zero else 1
    if any(v < smallest for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"Layer '{layer_name}': `{arg_name}` must contain only {kind} integers, "
                         f"received {arg_name}={value!r}")
    return values


def positive_int(value, arg_name, layer_name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer() and value > 0:
            return int(value)
        raise ValueError(f"Layer '{layer_name}': received an invalid value for `{arg_name}`, expected a "
                         f"positive integer, received {arg_name}={value!r}")
    if value <= 0:
        raise ValueError(f"Layer '{layer_name}': received an invalid value for `{arg_name}`, expected a "
                         f"positive integer, received {arg_name}={value}")
    return int(value)


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def is_shape(value):
    """A single shape (a tuple or list of ints and Nones), as opposed to a structure of shapes."""
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


def as_shape_structure(value):
    """Shapes as tuples, kept in their list / tuple / dict arrangement (a merge layer's list of shapes)."""
    if is_shape(value):
        return tuple(None if d is None else int(d) for d in value)
    if isinstance(value, dict):
        return {k: as_shape_structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_shape_structure(v) for v in value]
    raise TypeError(f"expected a shape (a tuple of ints) or a list of shapes, received {value!r}")
