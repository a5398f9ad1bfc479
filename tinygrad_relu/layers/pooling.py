"""Pooling layers, channels_last: max / average over windows, and global pooling."""
from .. import functional as F, ops
from ..ops import convolution as conv_ops
from .base import Layer
from .checks import normalize_tuple, shape_str
from .conv import conv_output_length


class _Pooling(Layer):
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
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{kind} '{self.name}': only data_format='channels_last' is supported, "
                             f"received data_format={data_format!r}")
        self._workspace = conv_ops.Workspace()  # the argmax buffer, reused across steps

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)
        if self.padding == "valid":
            for axis, (n, p) in enumerate(zip(shape[1:-1], self.pool_size)):
                if n is not None and n < p:
                    raise ValueError(f"{type(self).__name__} '{self.name}': pool_size {self.pool_size} is larger than "
                                     f"spatial axis {axis + 1} of the input ({n}) with padding='valid'; input shape "
                                     f"{shape_str(shape)}")

    def compute_output_shape(self, input_shape):
        spatial = tuple(conv_output_length(n, p, s, 1, self.padding)
                        for n, p, s in zip(input_shape[1:-1], self.pool_size, self.strides))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, x, training=False):
        pool = getattr(F, self.pool_function)
        if self.rank == 1:
            return pool(x, pool_size=self.pool_size[0], strides=self.strides[0], padding=self.padding,
                        workspace=self._workspace)
        return pool(x, pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                    workspace=self._workspace)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": list(self.pool_size), "strides": list(self.strides), "padding": self.padding,
                       "data_format": "channels_last"})
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


class _GlobalPooling(Layer):
    rank = None
    _fast_call = True
    pool_function = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__} '{self.name}': only data_format='channels_last' is supported, "
                             f"received data_format={data_format!r}")
        self.keepdims = bool(keepdims)

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def call(self, x, training=False):
        return getattr(F, self.pool_function)(x, keepdims=self.keepdims)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": "channels_last", "keepdims": self.keepdims})
        return config


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis: (N, steps, C) -> (N, C); with a mask, over the real steps only (Keras):
    sum(m x) / sum(m), so d out / d x_t = m_t / sum(m)."""
    rank, pool_function = 1, "global_avg_pool1d"
    _fast_call = True  # the models call it directly only on inputs without a mask
    _supports_masking = True

    def call(self, x, training=False, mask=None):
        if mask is None:
            return super().call(x)
        weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        return ops.divide(ops.sum(ops.multiply(x, weights), axis=1, keepdims=self.keepdims),
                          ops.sum(weights, axis=1, keepdims=self.keepdims))

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""
    rank, pool_function = 2, "global_avg_pool2d"


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps axis: (N, steps, C) -> (N, C)."""
    rank, pool_function = 1, "global_max_pool1d"


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over H and W: (N, H, W, C) -> (N, C)."""
    rank, pool_function = 2, "global_max_pool2d"
