"""Preprocessing layers: Normalization (learned with ``adapt`` or given mean and variance) and Rescaling.

    Normalization   y = (x - mean) / max(sqrt(variance), 1e-7)      (invert=True: y = mean + x * max(...))
    Rescaling       y = x * scale + offset

Neither trains: Normalization's mean and variance are non-trainable weights (Keras' order: mean,
variance, count), set by ``adapt`` from data and saved with the model; the gradient flows to the input
(dy/dx = 1 / max(sqrt(variance), 1e-7), resp. scale).
"""
import itertools
import numbers

import numpy as np

from ..tensor import Tensor
from .base import Layer, keeps_shape

EPSILON = 1e-7  # keras.backend.epsilon()


def _array_config(value):
    """A scale, offset, mean or variance as JSON: numbers stay numbers, arrays take Keras' '__numpy__' form."""
    if value is None or isinstance(value, numbers.Number):
        return value
    array = np.asarray(value)
    return {"class_name": "__numpy__", "config": {"value": array.tolist(), "dtype": array.dtype.name}}


def _from_array_config(value, who, name):
    if isinstance(value, dict):
        if value.get("class_name") != "__numpy__" or not isinstance(value.get("config"), dict):
            raise ValueError(f"{who}: cannot read `{name}` from {value!r}")
        return np.asarray(value["config"].get("value"), dtype=np.dtype(value["config"].get("dtype", "float32")))
    return value


def _numeric(value, who, name):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: `{name}` must be a number or an array of numbers, received {name}={value!r}") \
            from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{who}: `{name}` must be finite, received {name}={value!r}")
    return array


def _first_element(batch):
    """Keras' adapt reads the inputs of (inputs, targets) batches."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """Shift and scale features to mean 0 and variance 1, with a mean and variance per index of ``axis``
    (None: one scalar for everything), from ``adapt(data)`` or given as ``mean`` and ``variance``."""
    _fast_call = True
    compute_output_shape = keeps_shape

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        who = f"Normalization '{self.name}'"
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise ValueError(f"{who}: `axis` must be an int, a tuple of ints or None, received axis={axis!r}") \
                    from None
        self.axis = axis
        mean, variance = _from_array_config(mean, who, "mean"), _from_array_config(variance, who, "variance")
        if (mean is None) != (variance is None):
            raise ValueError(f"{who}: when setting values directly, both `mean` and `variance` must be set, received "
                             f"mean={mean!r} and variance={variance!r}")
        if mean is not None:
            mean_array, variance_array = _numeric(mean, who, "mean"), _numeric(variance, who, "variance")
            if mean_array.shape != variance_array.shape:
                raise ValueError(f"{who}: `mean` and `variance` must have the same shape, received shapes "
                                 f"{mean_array.shape} and {variance_array.shape}")
            if mean_array.ndim > len(self.axis):
                raise ValueError(f"{who}: the rank of `mean` must be at most the number of axes ({len(self.axis)}), "
                                 f"received mean of shape {mean_array.shape} for axis {self.axis}")
            if (variance_array < 0).any():
                raise ValueError(f"{who}: `variance` must not be negative, received variance={variance!r}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._keep = self._shape_kept = None

    # ---- shapes ------------------------------------------------------------------------------------
    def _kept_axes(self, ndim):
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Normalization '{self.name}': all `axis` values must be in the range [-ndim, ndim), "
                             f"received inputs with ndim={ndim}, while axis={self.axis}")
        return tuple(sorted(a % ndim for a in self.axis))

    def check_input_shape(self, shape):
        keep = self._kept_axes(len(shape))
        if self.built and self._keep is not None:
            if tuple(shape[a] for a in keep) != self._shape_kept:
                raise ValueError(f"Normalization '{self.name}': the layer was built for sizes {self._shape_kept} on "
                                 f"axes {keep}, received an input of shape {tuple(shape)}")

    def build(self, input_shape):
        keep = self._kept_axes(len(input_shape))
        kept = tuple(input_shape[a] for a in keep)
        if any(d is None for d in kept):
            raise ValueError(f"Normalization '{self.name}': all `axis` values to be kept must have a known size, "
                             f"received axis={self.axis}, input shape {tuple(input_shape)}")
        self._keep, self._shape_kept = keep, kept
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=kept, initializer="zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape=kept, initializer="ones", trainable=False, name="variance")
            self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count")
        else:
            broadcast = tuple(input_shape[a] if a in keep else 1 for a in range(len(input_shape)))
            self._given = [self._broadcast_given(value, keep, broadcast, len(input_shape))
                           for value in (self.input_mean, self.input_variance)]

    def _broadcast_given(self, value, keep, broadcast, ndim):
        value = _numeric(value, f"Normalization '{self.name}'", "mean")
        expanded = [1] * ndim
        for i in range(1, value.ndim + 1):  # the given axes are the last kept ones
            expanded[keep[-i]] = value.shape[-i]
        try:
            return np.broadcast_to(value.reshape(expanded), broadcast).astype(self.dtype)
        except ValueError:
            raise ValueError(f"Normalization '{self.name}': mean/variance of shape {value.shape} cannot be broadcast "
                             f"to the kept axes {keep} of sizes {tuple(broadcast[a] for a in keep)}") from None

    # ---- adapt ---------------------------------------------------------------------------------------
    def adapt(self, data):
        """Set the mean and variance from ``data``: an array (or Tensor), or an iterable of batches (a list of
        arrays, a generator; (inputs, targets) tuples use the inputs), combined exactly as one array would be."""
        who = f"Normalization '{self.name}'.adapt"
        if self.input_mean is not None:
            raise ValueError(f"{who}: the layer was given `mean` and `variance`; adapt() would not change them")
        if isinstance(data, (np.ndarray, Tensor)):
            batches = iter([np.asarray(data.data if isinstance(data, Tensor) else data)])
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            batches = iter(data)
        else:
            raise TypeError(f"{who}: expected an array or an iterable of batches (arrays), received "
                            f"{type(data).__name__}")
        first = next(batches, None)
        if first is None:
            raise ValueError(f"{who}: received an empty iterable (no batches); pass an array or a non-empty "
                             "iterable of arrays")
        total_mean = total_variance = None
        total_count = 0
        for batch in itertools.chain([first], batches):
            batch = _first_element(batch)
            values = np.asarray(batch.data if isinstance(batch, Tensor) else batch)
            if values.dtype.kind not in "biuf":
                raise TypeError(f"{who}: batches must hold numbers, received dtype {values.dtype}")
            values = values.astype(np.float64)
            if not self.built:
                self.build(values.shape)
            self.check_input_shape(values.shape)
            reduce = tuple(a for a in range(values.ndim) if a not in self._keep)
            count = int(np.prod([values.shape[a] for a in reduce])) if reduce else 1
            if count == 0:
                continue
            batch_mean, batch_variance = values.mean(axis=reduce), values.var(axis=reduce)
            if total_mean is None:
                total_mean, total_variance, total_count = batch_mean, batch_variance, count
                continue
            # Chan et al.'s pairwise update (Keras' formula): the combined mean and biased variance
            total_count += count
            weight = count / total_count
            mean = total_mean * (1 - weight) + batch_mean * weight
            total_variance = ((total_variance + (total_mean - mean) ** 2) * (1 - weight)
                              + (batch_variance + (batch_mean - mean) ** 2) * weight)
            total_mean = mean
        if total_mean is None:
            raise ValueError(f"{who}: the data holds no values")
        self.adapt_mean.data[...] = total_mean
        self.adapt_variance.data[...] = total_variance

    # ---- call --------------------------------------------------------------------------------------
    def statistics(self, ndim, dtype):
        """(mean, std) as the call applies them to an input of rank ``ndim``: arrays of ``dtype`` that broadcast
        against it, std = max(sqrt(variance), 1e-7)."""
        if self.input_mean is not None:
            mean, variance = self._given
        else:
            broadcast = tuple(self._shape_kept[self._keep.index(a)] if a in self._keep else 1 for a in range(ndim))
            mean, variance = self.adapt_mean.data.reshape(broadcast), self.adapt_variance.data.reshape(broadcast)
        dtype = np.dtype(dtype)
        return (np.asarray(mean, dtype=dtype),
                np.maximum(np.sqrt(np.asarray(variance, dtype=dtype)), dtype.type(EPSILON)))

    def call(self, x, training=False):
        mean, std = (Tensor._make(value, False, None) for value in self.statistics(x.ndim, x.dtype))
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": _array_config(self.input_mean), "variance": _array_config(self.input_variance)}


class Rescaling(Layer):
    """y = x * scale + offset (e.g. Rescaling(1 / 255) for pixel values); scale and offset may be arrays that
    broadcast against the input."""
    _fast_call = True
    compute_output_shape = keeps_shape

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        who = f"Rescaling '{self.name}'"
        self.scale = _from_array_config(scale, who, "scale")
        self.offset = _from_array_config(offset, who, "offset")
        self._scale, self._offset = _numeric(self.scale, who, "scale"), _numeric(self.offset, who, "offset")

    def call(self, x, training=False):
        dtype = x.dtype
        return x * Tensor._make(self._scale.astype(dtype), False, None) + \
            Tensor._make(self._offset.astype(dtype), False, None)

    def get_config(self):
        return {**super().get_config(), "scale": _array_config(self.scale), "offset": _array_config(self.offset)}
