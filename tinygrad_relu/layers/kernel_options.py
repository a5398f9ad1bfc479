"""The options Dense and the convolutions share (activation, bias, initializers, regularizers,
constraints), resolved by Keras' names and written back in Keras' order; and which of their
activations a fused kernel computes. Functions of the layer, so the Layer base stays the contract."""
from .. import activations, constraints, initializers, regularizers


def set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                        kernel_regularizer, bias_regularizer, activity_regularizer,
                        kernel_constraint, bias_constraint):
    """The constructor options Dense and the convolutions share, resolved by Keras' names."""
    self.activation = activations.get(activation)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = initializers.get(kernel_initializer)
    self.bias_initializer = initializers.get(bias_initializer)
    self.kernel_regularizer = regularizers.get(kernel_regularizer)
    self.bias_regularizer = regularizers.get(bias_regularizer)
    self.activity_regularizer = activity_regularizer
    self.kernel_constraint = constraints.get(kernel_constraint)
    self.bias_constraint = constraints.get(bias_constraint)
    self.kernel = self.bias = None


def kernel_options_config(self):
    """The get_config entries of the options set_kernel_options resolved, in Keras' order."""
    return {
        "activation": activations.serialize(self.activation),
        "use_bias": self.use_bias,
        "kernel_initializer": initializers.serialize(self.kernel_initializer),
        "bias_initializer": initializers.serialize(self.bias_initializer),
        "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
        "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        "kernel_constraint": constraints.serialize(self.kernel_constraint),
        "bias_constraint": constraints.serialize(self.bias_constraint),
    }


def fused_activation_name(self, fusable):
    """Name of self.activation when a fused op computes it (a name in ``fusable``), else None.

    Cached per activation function; a custom callable that merely shares a built-in's
    name is not fused.
    """
    activation = self.activation
    cached = self.__dict__.get("_fused_for")
    if cached is not None and cached[0] is activation:
        return cached[1]
    name = activations.fused_name(activation, fusable)
    self._fused_for = (activation, name)
    return name
