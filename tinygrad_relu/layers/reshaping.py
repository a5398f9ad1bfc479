"""Reshaping layers, with Keras' arguments: UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D, Permute,
RepeatVector (Flatten and Reshape are in core.py).

Each is a rearrangement whose gradient is the reverse rearrangement: padding's gradient is the
interior slice, cropping's the slice padded back with zeros, nearest upsampling's the sum over each
block of copies, bilinear upsampling's the transposed interpolation (ops/resize.py).
"""
import numpy as np

from ..ops import movement as M
from ..ops.resize import BilinearResize2D
from .base import Layer
from .checks import normalize_tuple, positive_int, shape_str
from .data_format import ChannelsFormat

# Keras' interpolations for UpSampling2D; the ones not in INTERPOLATIONS raise NotImplementedError
KERAS_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")
INTERPOLATIONS = ("nearest", "bilinear")


def _pairs(value, arg, layer):
    """Keras' 2-D padding/cropping argument: an int, (sym_h, sym_w) or ((top, bottom), (left, right))."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': `{arg}` should be an int, a tuple of 2 ints or a "
                         f"tuple of 2 tuples of 2 ints ((top, bottom), (left, right)), received {arg}={value!r}")
    return tuple(normalize_tuple(v, 2, f"{arg}[{i}]", layer.name, allow_zero=True) for i, v in enumerate(value))


class _Spatial(ChannelsFormat, Layer):
    """A layer on (N, spatial..., C) images of a fixed rank; channels_first ones are moved at the boundary."""
    _fast_call = True
    rank = None

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)

    def compute_output_shape(self, input_shape):
        last = self._last_shape(input_shape)
        return self._format_shape((last[0],) + self._spatial(last[1:-1]) + (last[-1],))

    def call(self, x, training=False):
        return self._to_format(self._rearrange(self._to_last(x)))


# ---- upsampling ------------------------------------------------------------------------------------
def _repeat_each(x, sizes):
    """Each cell of the spatial axes of x (N, spatial..., C) repeated sizes[i] times along axis i + 1."""
    n, *spatial, c = x.shape
    spread = [n]
    for length in spatial:
        spread += [length, 1]
    blocks = M.Tile.apply(x.reshape(tuple(spread) + (c,)),
                          reps=(1,) + tuple(r for s in sizes for r in (1, s)) + (1,))
    return blocks.reshape((n,) + tuple(length * s for length, s in zip(spatial, sizes)) + (c,))


class UpSampling1D(_Spatial):
    """Repeat each step ``size`` times: (N, L, C) -> (N, L * size, C)."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"UpSampling1D '{self.name}': `size` must be an integer, received size={size!r}")
        self.size = positive_int(size, "size", self.name)

    def _spatial(self, spatial):
        return tuple(None if n is None else n * self.size for n in spatial)

    def _rearrange(self, x):
        return _repeat_each(x, (self.size,))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_Spatial):
    """Upsample rows by size[0] and columns by size[1]: nearest (repeat each cell) or bilinear (Keras'
    ``ops.image.resize`` weights)."""
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size", self.name)
        self._set_data_format(data_format)
        mode = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if mode in KERAS_INTERPOLATIONS and mode not in INTERPOLATIONS:
            raise NotImplementedError(f"UpSampling2D '{self.name}': interpolation={interpolation!r} is not supported; "
                                      f"use one of {INTERPOLATIONS}")
        if mode not in INTERPOLATIONS:
            raise ValueError(f"UpSampling2D '{self.name}': `interpolation` must be one of {KERAS_INTERPOLATIONS}, "
                             f"received interpolation={interpolation!r}")
        self.interpolation = mode

    def _spatial(self, spatial):
        return tuple(None if n is None else n * s for n, s in zip(spatial, self.size))

    def _rearrange(self, x):
        if self.interpolation == "nearest":
            return _repeat_each(x, self.size)
        return BilinearResize2D.apply(x, size=(x.shape[1] * self.size[0], x.shape[2] * self.size[1]))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


# ---- padding and cropping ------------------------------------------------------------------------------
class ZeroPadding1D(_Spatial):
    """Zeros before and after the steps: padding=p or (before, after)."""
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = normalize_tuple(padding, 2, "padding", self.name, allow_zero=True)
        self._set_data_format(data_format)

    def _spatial(self, spatial):
        return tuple(None if n is None else n + sum(self.padding) for n in spatial)

    def _rearrange(self, x):
        return M.Pad.apply(x, pad_width=((0, 0), self.padding, (0, 0)))

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


class ZeroPadding2D(_Spatial):
    """Zeros around each image: padding=p, (sym_h, sym_w) or ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, "padding", self)
        self._set_data_format(data_format)

    def _spatial(self, spatial):
        return tuple(None if n is None else n + sum(p) for n, p in zip(spatial, self.padding))

    def _rearrange(self, x):
        return M.Pad.apply(x, pad_width=((0, 0),) + self.padding + ((0, 0),))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class _Cropping(_Spatial):
    croppings = ()  # per spatial axis (before, after)

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        for axis, (n, (before, after)) in enumerate(zip(self._last_shape(shape)[1:-1], self.croppings)):
            if n is not None and before + after >= n:
                raise ValueError(f"{type(self).__name__} '{self.name}': cropping {self.croppings} leaves nothing of "
                                 f"spatial axis {axis + 1} (size {n}) of an input of shape {shape_str(shape)}")

    def _spatial(self, spatial):
        return tuple(None if n is None else n - before - after for n, (before, after) in zip(spatial, self.croppings))

    def _rearrange(self, x):
        index = tuple(slice(before, n - after) for n, (before, after) in zip(x.shape[1:-1], self.croppings))
        return x[(slice(None),) + index + (slice(None),)]


class Cropping1D(_Cropping):
    """Drop steps at the start and end: cropping=c or (start, end)."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = normalize_tuple(cropping, 2, "cropping", self.name, allow_zero=True)
        self.croppings = (self.cropping,)

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(_Cropping):
    """Drop rows and columns at the edges: cropping=c, (sym_h, sym_w) or ((top, bottom), (left, right))."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = self.croppings = _pairs(cropping, "cropping", self)
        self._set_data_format(data_format)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping],
                "data_format": self.data_format}


# ---- axes ----------------------------------------------------------------------------------------------
class Permute(Layer):
    """Reorder the axes after the batch axis: dims=(2, 1) swaps the two axes of (N, a, b)."""
    _fast_call = True

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise TypeError(f"Permute '{self.name}': `dims` must be a tuple of ints, received dims={dims!r}") from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute '{self.name}': the set of indices in `dims` must be consecutive and start "
                             f"from 1, received dims={dims}")
        self.dims = dims

    def check_input_shape(self, shape):
        self._require_ndim(shape, len(self.dims) + 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, x, training=False):
        return x.permute((0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """(N, features) -> (N, n, features): the vector repeated n times."""
    _fast_call = True

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"RepeatVector '{self.name}': `n` must be an integer, received n={n!r}")
        self.n = positive_int(n, "n", self.name)

    def check_input_shape(self, shape):
        self._require_ndim(shape, 2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x, training=False):
        return M.Tile.apply(x.reshape(x.shape[0], 1, x.shape[1]), reps=(1, self.n, 1))

    def get_config(self):
        return {**super().get_config(), "n": self.n}
