"""Pooling layers: max / average over windows, and global pooling; channels_last, or channels_first
(windows: transposed at the boundary; global: reduced over the other axes)."""
from .. import functional as F, ops
from ..ops import convolution as conv_ops
from .base import Layer
from .checks import normalize_tuple, shape_str
from .conv import conv_output_length
from .data_format import ChannelsFormat


class _Pooling(ChannelsFormat, Layer):
    rank = None
    _fast_call = True
    pool_function = None  # name of the functional op, e.g. "max_pool2d"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", self.name)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides", self.name)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"{kind} '{self.name}': `padding` must be 'valid' or 'same', received padding={padding!r}")
        self.padding = padding
        self._set_data_format(data_format)
        self._workspace = conv_ops.Workspace()  # the argmax buffer, reused across steps

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)
        if self.padding == "valid":
            for axis, (n, p) in enumerate(zip(self._last_shape(shape)[1:-1], self.pool_size)):
                if n is not None and n < p:
                    raise ValueError(f"{type(self).__name__} '{self.name}': pool_size {self.pool_size} is larger than "
                                     f"spatial axis {axis + 1} of the input ({n}) with padding='valid'; input shape "
                                     f"{shape_str(shape)}")

    def compute_output_shape(self, input_shape):
        last = self._last_shape(input_shape)
        spatial = tuple(conv_output_length(n, p, s, 1, self.padding)
                        for n, p, s in zip(last[1:-1], self.pool_size, self.strides))
        return self._format_shape((last[0],) + spatial + (last[-1],))

    def call(self, x, training=False):
        pool = getattr(F, self.pool_function)
        x = self._to_last(x)
        if self.rank == 1:
            y = pool(x, pool_size=self.pool_size[0], strides=self.strides[0], padding=self.padding,
                     workspace=self._workspace)
        else:
            y = pool(x, pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                     workspace=self._workspace)
        return self._to_format(y)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                       "data_format": self.data_format})
        return config


class MaxPooling1D(_Pooling):
    """Maximum over windows of (N, steps, C)."""
    rank, pool_function = 1, "max_pool1d"


class MaxPooling2D(_Pooling):
    """Maximum over windows of (N, H, W, C)."""
    rank, pool_function = 2, "max_pool2d"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of (N, steps, C)."""
    rank, pool_function = 1, "avg_pool1d"


class AveragePooling2D(_Pooling):
    """Mean over windows of (N, H, W, C)."""
    rank, pool_function = 2, "avg_pool2d"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling(ChannelsFormat, Layer):
    rank = None
    _fast_call = True
    pool_function = None  # for channels_last inputs
    reduction = None      # "mean" or "max": channels_first inputs are reduced over their spatial axes directly

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self._set_data_format(data_format)
        self.keepdims = bool(keepdims)

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)

    def compute_output_shape(self, input_shape):
        last = self._last_shape(input_shape)
        if self.keepdims:
            return self._format_shape((last[0],) + (1,) * self.rank + (last[-1],))
        return (last[0], last[-1])

    def call(self, x, training=False):
        if self._channels_first:
            return getattr(x, self.reduction)(axis=tuple(range(2, self.rank + 2)), keepdims=self.keepdims)
        return getattr(F, self.pool_function)(x, keepdims=self.keepdims)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis: (N, steps, C) -> (N, C); with a mask, over the real steps only (Keras):
    sum(m x) / sum(m), so d out / d x_t = m_t / sum(m)."""
    rank, pool_function, reduction = 1, "global_avg_pool1d", "mean"
    _fast_call = True  # the models call it directly only on inputs without a mask
    _supports_masking = True

    def call(self, x, training=False, mask=None):
        if mask is None:
            return super().call(x)
        steps = 2 if self._channels_first else 1
        weights = ops.expand_dims(ops.cast(mask, x.dtype), 1 if self._channels_first else -1)
        return ops.divide(ops.sum(ops.multiply(x, weights), axis=steps, keepdims=self.keepdims),
                          ops.sum(weights, axis=steps, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""
    rank, pool_function, reduction = 2, "global_avg_pool2d", "mean"


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps axis: (N, steps, C) -> (N, C)."""
    rank, pool_function, reduction = 1, "global_max_pool1d", "max"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over H and W: (N, H, W, C) -> (N, C)."""
    rank, pool_function, reduction = 2, "global_max_pool2d", "max"
