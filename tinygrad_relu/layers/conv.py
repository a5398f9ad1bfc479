"""Convolution layers: Conv1D (N, L, C) and Conv2D (N, H, W, C), channels_last as Keras' default (with
data_format="channels_first", (N, C, L) and (N, C, H, W), transposed at the layer's boundary).

With ``groups`` > 1 the channels split into groups convolved separately (kernel (..., cin/groups,
filters)). The variants (transposed, depthwise, separable) are in conv_variants.py, on the same base.
"""
from .. import functional as F
from ..ops import convolution as conv_ops, nn as nn_ops
from .base import Layer
from .kernel_options import fused_activation_name, kernel_options_config, set_kernel_options
from .checks import normalize_tuple, positive_int, shape_str
from .data_format import ChannelsFormat


def conv_output_length(length, kernel, stride, dilation, padding):
    """Keras' output length of one spatial axis (None stays None)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (length - span) // stride + 1
    return (length + stride - 1) // stride  # 'same' and 'causal': ceil(length / stride)


class BaseConv(ChannelsFormat, Layer):
    """What the convolution layers share: Keras' window arguments, checked, the data format, the output
    geometry, and the input checks (subclasses add theirs on the channels in ``_check_channels``)."""
    rank = None  # 1 or 2
    _fast_call = True
    paddings = ("valid", "same")

    def _set_window(self, kernel_size, strides, padding, data_format, dilation_rate):
        kind = type(self).__name__
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, self.rank, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", self.name)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in self.paddings:
            raise ValueError(f"{kind} '{self.name}': `padding` must be one of {self.paddings}, received "
                             f"padding={padding!r}")
        self.padding = padding
        self._set_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{kind} '{self.name}': strides > 1 together with dilation_rate > 1 is not supported "
                             f"(Keras forbids it too), received strides={self.strides}, dilation_rate={self.dilation_rate}")

    def check_input_shape(self, shape):
        self._require_ndim(shape, self.rank + 2)
        last = self._last_shape(shape)
        self._check_channels(last, shape)
        for axis, (n, k, d) in enumerate(zip(last[1:-1], self.kernel_size, self.dilation_rate)):
            span = (k - 1) * d + 1
            if self.padding == "valid" and n is not None and n < span:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': the kernel (size {self.kernel_size}, dilation "
                    f"{self.dilation_rate}, spanning {span}) is larger than spatial axis {axis + 1} of the input "
                    f"({n}) with padding='valid'; input shape {shape_str(shape)}. Use padding='same' or a smaller kernel.")

    def _check_channels(self, last_shape, shape):
        """Raise when the channels (last of ``last_shape``, the input as channels_last) cannot feed the layer."""

    def _input_channels(self, input_shape):
        channels = self._last_shape(input_shape)[-1]
        if channels is None:
            axis = "1" if self._channels_first else "last"
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel axis ({axis}) of the input must be "
                             f"known, received input shape {shape_str(input_shape)}")
        return channels

    def _output_spatial(self, input_shape):
        return tuple(conv_output_length(n, k, s, d, self.padding) for n, k, s, d in
                     zip(self._last_shape(input_shape)[1:-1], self.kernel_size, self.strides, self.dilation_rate))

    def _output_shape(self, input_shape, channels):
        return self._format_shape((input_shape[0],) + self._output_spatial(input_shape) + (channels,))

    def _window_config(self):
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate)}

    def call(self, x, training=False):
        name = self._fused_activation()
        if name is None:
            return self.activation(self.call_logits(x, training))
        return self._convolve(x, name)

    def call_logits(self, x, training=False):
        return self._convolve(x, "linear")

    def _fused_activation(self):
        """The activation's name when the op applies it itself (ops.activation.FUSABLE), else None."""
        return None


class _Conv(BaseConv):

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self._set_window(kernel_size, strides, padding, data_format, dilation_rate)
        self.groups = positive_int(groups, "groups", self.name)
        if self.filters % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of filters must be divisible by the "
                             f"number of groups, received filters={self.filters}, groups={self.groups}")
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)
        self._workspace = conv_ops.Workspace()  # scratch buffers reused across steps (one slot each)

    def _check_channels(self, last_shape, shape):
        channels = last_shape[-1]
        if self.built:
            self._require_axis(last_shape, -1, self.kernel.shape[-2] * self.groups)
        elif channels is not None and channels % self.groups:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of input channels must be divisible "
                             f"by the number of groups, received groups={self.groups}, input shape {shape_str(shape)}")

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def _fused_activation(self):
        return fused_activation_name(self, conv_ops.FUSABLE) if self.groups == 1 else None

    def _convolve(self, x, activation):
        """activation(conv(x) + bias), the activation fused into the op (plain convolution only: ``call`` applies
        a grouped convolution's, whose ``_fused_activation`` is None)."""
        x = self._to_last(x)
        if self.groups == 1:
            conv = F.conv1d if self.rank == 1 else F.conv2d
            strides, dilation = (self.strides[0], self.dilation_rate[0]) if self.rank == 1 else \
                (self.strides, self.dilation_rate)
            y = conv(x, self.kernel, self.bias, strides=strides, padding=self.padding, dilation_rate=dilation,
                     activation=activation, workspace=self._workspace)
        else:
            y = nn_ops.grouped_convolution(f"{type(self).__name__} '{self.name}'", self.rank, x, self.kernel,
                                           self.bias, self.groups, self.strides, self.padding, self.dilation_rate)
        return self._to_format(y)

    def get_config(self):
        config = super().get_config()
        config["filters"] = self.filters
        config.update(self._window_config())
        config["groups"] = self.groups
        config.update(kernel_options_config(self))
        return config


class Conv1D(_Conv):
    """1-D convolution over (N, steps, channels); kernel (k, cin/groups, filters). padding may be 'causal'."""
    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    """2-D convolution over (N, H, W, channels); kernel (kh, kw, cin/groups, filters)."""
    rank = 2
