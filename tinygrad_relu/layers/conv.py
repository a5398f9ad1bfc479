"""Convolution layers, channels_last as Keras: Conv1D (N, L, C) and Conv2D (N, H, W, C)."""
from .. import activations, functional as F, initializers, regularizers
from ..ops import convolution as conv_ops
from .base import Layer
from .checks import normalize_tuple, positive_int, shape_str


def conv_output_length(length, kernel, stride, dilation, padding):
    """Keras' output length of one spatial axis (None stays None)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (length - span) // stride + 1
    return (length + stride - 1) // stride  # 'same' and 'causal': ceil(length / stride)


class _Conv(Layer):
    rank = None  # 1 or 2
    _fast_call = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.filters = positive_int(filters, "filters", self.name)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, self.rank, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", self.name)
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in allowed:
            raise ValueError(f"{kind} '{self.name}': `padding` must be one of {allowed}, received padding={padding!r}")
        self.padding = padding
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{kind} '{self.name}': only data_format='channels_last' is supported, "
                             f"received data_format={data_format!r}")
        if groups != 1:
            raise ValueError(f"{kind} '{self.name}': only groups=1 is supported, received groups={groups!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{kind} '{self.name}': strides > 1 together with dilation_rate > 1 is not supported "
                             f"(Keras forbids it too), received strides={self.strides}, dilation_rate={self.dilation_rate}")
        self._set_kernel_options(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)
        self._workspace = conv_ops.Workspace()  # scratch buffers reused across steps (one slot each)

    def _fused_activation(self):
        """The activation's name when the convolution op applies it itself, else None."""
        return self._fused_activation_name(conv_ops.FUSABLE)

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)
        if self.built:
            self._require_axis(shape, -1, self.kernel.shape[-2])
        spatial = shape[1:-1]
        for axis, (n, k, d) in enumerate(zip(spatial, self.kernel_size, self.dilation_rate)):
            span = (k - 1) * d + 1
            if self.padding == "valid" and n is not None and n < span:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': the kernel (size {self.kernel_size}, dilation "
                    f"{self.dilation_rate}, spanning {span}) is larger than spatial axis {axis + 1} of the input "
                    f"({n}) with padding='valid'; input shape {shape_str(shape)}. Use padding='same' or a smaller kernel.")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel axis (last) of the input must be "
                             f"known, received input shape {shape_str(input_shape)}")
        self.kernel = self.add_weight(shape=self.kernel_size + (channels, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")

    def compute_output_shape(self, input_shape):
        spatial = tuple(conv_output_length(n, k, s, d, self.padding) for n, k, s, d in
                        zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def call(self, x, training=False):
        name = self._fused_activation()
        if name is None:
            return self.activation(self.call_logits(x, training))
        return self._convolve(x, name)

    def call_logits(self, x, training=False):
        return self._convolve(x, "linear")

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": list(self.dilation_rate),
            "groups": 1,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        })
        return config


class Conv1D(_Conv):
    """1-D convolution over (N, steps, channels); kernel (k, cin, filters)."""
    rank = 1

    def _convolve(self, x, activation):
        return F.conv1d(x, self.kernel, self.bias, strides=self.strides[0], padding=self.padding,
                        dilation_rate=self.dilation_rate[0], activation=activation, workspace=self._workspace)


class Conv2D(_Conv):
    """2-D convolution over (N, H, W, channels); kernel (kh, kw, cin, filters)."""
    rank = 2

    def _convolve(self, x, activation):
        return F.conv2d(x, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                        dilation_rate=self.dilation_rate, activation=activation, workspace=self._workspace)
