"""Merge layers: combine a list of tensors into one (Keras' Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate, Dot), and their functional forms ``add([a, b])``, ``concatenate([a, b])``, ...

    >>> x = Input(shape=(16,))
    >>> y = Dense(16, activation="relu")(x)
    >>> out = add([x, y])                      # a residual connection: d out / d x = 1 + d y / d x

The elementwise ones broadcast axes of size 1 (not the batch axis); inputs must have one rank.
"""
import numpy as np

from .. import ops
from .base import Layer
from .checks import shape_str
from .symbolic import BINARY_LAYERS


class _Merge(Layer):
    """Checks a list of at least two inputs of one rank; subclasses combine them."""
    _fast_call = False  # called on a list, not one tensor ...
    _fast_list_call = True  # ... which a functional model may pass to call() directly once built (no weights)
    min_inputs, max_inputs = 2, None

    def _check_list(self, input_shape):
        kind = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"A merge layer ({kind} '{self.name}') should be called on a list of inputs, "
                             f"received: input_shape={input_shape}")
        count = len(input_shape)
        if count < self.min_inputs or (self.max_inputs is not None and count > self.max_inputs):
            wanted = "exactly 2" if self.max_inputs == 2 else f"at least {self.min_inputs}"
            raise ValueError(f"{kind} '{self.name}' should be called on {wanted} inputs, received {count}")
        return [tuple(s) for s in input_shape]

    def check_input_shape(self, shape):
        """(The base class checks single tensors; a merge layer checks its list in build and compute_output_shape.)"""

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs must have the same rank, received shapes "
                             f"{', '.join(shape_str(s) for s in shapes)}")
        out = list(shapes[0])
        for shape in shapes[1:]:
            for axis, (a, b) in enumerate(zip(out, shape)):
                if a is None or b is None:
                    out[axis] = b if a == 1 else (a if b == 1 else None)
                elif a == 1:
                    out[axis] = b
                elif b != 1 and a != b:
                    raise ValueError(f"{type(self).__name__} '{self.name}': inputs have incompatible shapes "
                                     f"{', '.join(shape_str(s) for s in shapes)} (axis {axis}: {a} vs {b})")
        return tuple(out)

    def call(self, inputs):
        self._check_list([tuple(x.shape) for x in inputs])
        return self._merge(list(inputs))

    _supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras': a step is real where any input has it real (a logical OR); no mask when an input has none."""
        if mask is None or any(m is None for m in mask):
            return None
        out = ops.convert_to_numpy(mask[0])
        for m in mask[1:]:
            out = out | ops.convert_to_numpy(m)
        return out


class Add(_Merge):
    """Elementwise sum: d out / d x_i = 1 for every input (the gradient reaches each one whole)."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(_Merge):
    """x_0 - x_1 (exactly two inputs): d out / d x_0 = 1, d out / d x_1 = -1."""
    max_inputs = 2

    def _merge(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """Elementwise product: d out / d x_i = the product of the other inputs."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.multiply(out, x)
        return out


class Average(_Merge):
    """Elementwise mean: d out / d x_i = 1 / n."""

    def _merge(self, inputs):
        return ops.divide(Add._merge(self, inputs), float(len(inputs)))


class Maximum(_Merge):
    """Elementwise maximum: the gradient goes to the largest input (split on ties)."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.maximum(out, x)
        return out


class Minimum(_Merge):
    """Elementwise minimum: the gradient goes to the smallest input (split on ties)."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (default the last); the gradient is split back into the pieces."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} does not fit inputs of shapes "
                             f"{', '.join(shape_str(s) for s in shapes)}")
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ValueError(f"A Concatenate layer requires inputs with matching shapes except for the "
                                     f"concatenation axis {self.axis}; layer '{self.name}' received shapes "
                                     f"{', '.join(shape_str(s) for s in shapes)}")
                elif a is None:
                    out[i] = b
        return tuple(out)

    def _merge(self, inputs):
        return ops.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Keras': each input's mask (all True for an unmasked one) widened to its shape, joined along the
        axis, then any() over the last axis."""
        if mask is None or all(m is None for m in mask):
            return None
        full = [np.ones(x.shape, bool) if m is None else
                np.broadcast_to(np.reshape(ops.convert_to_numpy(m), np.shape(m) + (1,) * (x.ndim - np.ndim(m))),
                                x.shape) for x, m in zip(inputs, mask)]
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot product of two inputs along ``axes`` (per sample; the batch axis is kept), Keras' batch_dot.

    ``normalize=True`` takes the cosine instead: each input is L2-normalized along its axis first.
    """
    max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, int):
            axes = (axes, axes)
        axes = tuple(int(a) for a in axes)
        if len(axes) != 2:
            raise ValueError(f"Dot '{self.name}': axes must be an int or a pair of ints, received {axes}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, shapes):
        axes = tuple(a % len(s) for a, s in zip(self.axes, shapes))
        if 0 in axes:
            raise ValueError(f"Dot '{self.name}': cannot take the dot product along the batch axis (axes={self.axes})")
        return axes

    def compute_output_shape(self, input_shape):
        a, b = self._check_list(input_shape)
        ax, bx = self._resolved_axes((a, b))
        if a[ax] is not None and b[bx] is not None and a[ax] != b[bx]:
            raise ValueError(f"Dot '{self.name}': dimension incompatibility {a[ax]} != {b[bx]} along axes "
                             f"{self.axes}; shapes {shape_str(a)} and {shape_str(b)}")
        out = a[:ax] + a[ax + 1:] + b[1:bx] + b[bx + 1:]
        return out if len(out) > 1 else out + (1,)

    def _merge(self, inputs):
        x, y = inputs
        ax, bx = self._resolved_axes((x.shape, y.shape))
        if self.normalize:
            x, y = ops.normalize(x, axis=ax), ops.normalize(y, axis=bx)
        x_rest = tuple(d for i, d in enumerate(x.shape) if i not in (0, ax))
        y_rest = tuple(d for i, d in enumerate(y.shape) if i not in (0, bx))
        batch, n = x.shape[0], x.shape[ax]
        x2 = ops.reshape(ops.moveaxis(x, ax, -1), (batch, -1, n))   # (batch, p, n)
        y2 = ops.reshape(ops.moveaxis(y, bx, 1), (batch, n, -1))    # (batch, n, q)
        out = ops.reshape(ops.matmul(x2, y2), (batch,) + x_rest + y_rest)
        return out if out.ndim > 1 else ops.reshape(out, (batch, 1))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


BINARY_LAYERS.update(add=Add, subtract=Subtract, multiply=Multiply)


def add(inputs, **kwargs):
    """Add()(inputs): the elementwise sum of a list of tensors."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Subtract()(inputs): inputs[0] - inputs[1]."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
