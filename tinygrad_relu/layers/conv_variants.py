"""The convolution variants, with Keras' arguments, weight names and layouts:

- Conv1DTranspose / Conv2DTranspose: the adjoint of a convolution (upsampling by ``strides``), kernel
  (..., filters, cin); output sizes by TensorFlow's rule (ops.conv_variants.transpose_geometry).
- DepthwiseConv1D / DepthwiseConv2D: each input channel convolved with ``depth_multiplier`` kernels of
  its own, kernel (..., cin, depth_multiplier) -> cin * depth_multiplier channels.
- SeparableConv1D / SeparableConv2D: a depthwise convolution, then a 1x1 convolution to ``filters``
  (depthwise_kernel, pointwise_kernel (1..., cin * depth_multiplier, filters), bias).

All take data_format="channels_first" (transposed at the boundary) and the activation is applied to
the output (the separable one's fused into its pointwise convolution).
"""
from .. import activations, constraints, functional as F, initializers, regularizers
from ..ops import convolution as conv_ops, nn as nn_ops
from ..ops.conv_variants import transpose_geometry
from .checks import normalize_tuple, positive_int
from .conv import BaseConv
from .kernel_options import fused_activation_name, kernel_options_config, set_kernel_options


def _activation_options(layer, activation, use_bias, activity_regularizer):
    layer.activation = activations.get(activation)
    layer.use_bias = bool(use_bias)
    layer.activity_regularizer = activity_regularizer
    layer.bias = None


def _weight_options(layer, prefix, initializer, regularizer, constraint):
    setattr(layer, f"{prefix}_initializer", initializers.get(initializer))
    setattr(layer, f"{prefix}_regularizer", regularizers.get(regularizer))
    setattr(layer, f"{prefix}_constraint", constraints.get(constraint))


def _weight_config(layer, *prefixes):
    config = {}
    for kind, module in (("initializer", initializers), ("regularizer", regularizers), ("constraint", constraints)):
        for prefix in prefixes:
            config[f"{prefix}_{kind}"] = module.serialize(getattr(layer, f"{prefix}_{kind}"))
    return config


def _add(layer, name, shape, prefix):
    return layer.add_weight(shape=shape, initializer=getattr(layer, f"{prefix}_initializer"),
                            regularizer=getattr(layer, f"{prefix}_regularizer"),
                            constraint=getattr(layer, f"{prefix}_constraint"), name=name)


# ---- transposed ----------------------------------------------------------------------------------
class _ConvTranspose(BaseConv):

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self._set_window(kernel_size, strides, padding, data_format, dilation_rate)
        if output_padding is not None:
            output_padding = normalize_tuple(output_padding, self.rank, "output_padding", self.name, allow_zero=True)
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(f"{type(self).__name__} '{self.name}': `output_padding` must be strictly less than "
                                 f"`strides` along every axis, received output_padding={output_padding}, "
                                 f"strides={self.strides}")
        self.output_padding = output_padding
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                                 bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint)

    def check_input_shape(self, shape):  # any input size works: no window check
        self._require_ndim(shape, self.rank + 2)
        if self.built:
            self._require_axis(self._last_shape(shape), -1, self.kernel.shape[-1])

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def compute_output_shape(self, input_shape):
        last = self._last_shape(input_shape)
        paddings = self.output_padding or (None,) * self.rank
        spatial = tuple(None if n is None else transpose_geometry(n, k, s, d, self.padding, p)[0]
                        for n, k, s, d, p in zip(last[1:-1], self.kernel_size, self.strides, self.dilation_rate,
                                                 paddings))
        return self._format_shape((input_shape[0],) + spatial + (self.filters,))

    def _convolve(self, x, activation):
        y = nn_ops.transposed_convolution(f"{type(self).__name__} '{self.name}'", self.rank, self._to_last(x),
                                          self.kernel, self.bias, self.strides, self.padding, self.output_padding,
                                          self.dilation_rate)
        return self._to_format(y)

    def get_config(self):
        config = super().get_config()
        config["filters"] = self.filters
        config.update(self._window_config())
        config["output_padding"] = None if self.output_padding is None else list(self.output_padding)
        config.update(kernel_options_config(self))
        return config


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution: (N, L, cin) -> (N, L', filters); kernel (k, filters, cin)."""
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution: (N, H, W, cin) -> (N, H', W', filters); kernel (kh, kw, filters, cin)."""
    rank = 2


# ---- depthwise -----------------------------------------------------------------------------------
class _DepthwiseConv(BaseConv):

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._set_window(kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self.name)
        _activation_options(self, activation, use_bias, activity_regularizer)
        _weight_options(self, "depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        _weight_options(self, "bias", bias_initializer, bias_regularizer, bias_constraint)

    def _check_channels(self, last_shape, shape):
        if self.built:
            self._require_axis(last_shape, -1, self.kernel.shape[-2])

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = _add(self, "kernel", self.kernel_size + (channels, self.depth_multiplier), "depthwise")
        if self.use_bias:
            self.bias = _add(self, "bias", (channels * self.depth_multiplier,), "bias")

    def compute_output_shape(self, input_shape):
        channels = self._last_shape(input_shape)[-1]
        return self._output_shape(input_shape, None if channels is None else channels * self.depth_multiplier)

    def _convolve(self, x, activation):
        y = nn_ops.depthwise_convolution(f"{type(self).__name__} '{self.name}'", self.rank, self._to_last(x),
                                         self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        return self._to_format(y)

    def get_config(self):
        config = super().get_config()
        config["depth_multiplier"] = self.depth_multiplier
        config.update(self._window_config())
        config.update({"activation": activations.serialize(self.activation), "use_bias": self.use_bias})
        config.update(_weight_config(self, "depthwise", "bias"))
        return config


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1-D convolution: (N, L, C) -> (N, L', C * depth_multiplier); kernel (k, C, depth_multiplier)."""
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2-D convolution: (N, H, W, C) -> (N, H', W', C * depth_multiplier); kernel
    (kh, kw, C, depth_multiplier)."""
    rank = 2


# ---- separable -----------------------------------------------------------------------------------
class _SeparableConv(BaseConv):

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self._set_window(kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self.name)
        _activation_options(self, activation, use_bias, activity_regularizer)
        _weight_options(self, "depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        _weight_options(self, "pointwise", pointwise_initializer, pointwise_regularizer, pointwise_constraint)
        _weight_options(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.depthwise_kernel = self.pointwise_kernel = None
        self._workspace = conv_ops.Workspace()

    def _check_channels(self, last_shape, shape):
        if self.built:
            self._require_axis(last_shape, -1, self.depthwise_kernel.shape[-2])

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = _add(self, "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
                                     "depthwise")
        self.pointwise_kernel = _add(self, "pointwise_kernel",
                                     (1,) * self.rank + (channels * self.depth_multiplier, self.filters), "pointwise")
        if self.use_bias:
            self.bias = _add(self, "bias", (self.filters,), "bias")

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def _fused_activation(self):
        return fused_activation_name(self, conv_ops.FUSABLE)

    def _convolve(self, x, activation):
        """The depthwise convolution, then the pointwise (1x1) one with the bias and the activation fused."""
        where = f"{type(self).__name__} '{self.name}'"
        depthwise = nn_ops.depthwise_convolution(where, self.rank, self._to_last(x), self.depthwise_kernel, None,
                                                 self.strides, self.padding, self.dilation_rate)
        pointwise = F.conv1d if self.rank == 1 else F.conv2d
        y = pointwise(depthwise, self.pointwise_kernel, self.bias, activation=activation, workspace=self._workspace)
        return self._to_format(y)

    def get_config(self):
        config = super().get_config()
        config["depth_multiplier"] = self.depth_multiplier
        config["filters"] = self.filters
        config.update(self._window_config())
        config.update({"activation": activations.serialize(self.activation), "use_bias": self.use_bias})
        config.update(_weight_config(self, "depthwise", "pointwise", "bias"))
        return config


class SeparableConv1D(_SeparableConv):
    """Depthwise then pointwise 1-D convolution: (N, L, C) -> (N, L', filters)."""
    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise then pointwise 2-D convolution: (N, H, W, C) -> (N, H', W', filters)."""
    rank = 2

