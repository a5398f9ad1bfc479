"""Lambda: a function of Tensors used as a layer, ``Lambda(lambda x: x * 2)`` (Keras' keras.layers.Lambda).

Saving follows the rule that loading never runs code from a file. A Lambda is saved with its function's
*name* only (Keras' ``{'class_name': 'function', 'config': name}`` form), and loading finds the function
by that name among the custom objects: ``load_model(path, custom_objects={'name': fn})``, a
``custom_object_scope``, or a function registered with ``register_keras_serializable``.

A Python ``lambda`` has no name to find it by. Keras 3 saves its bytecode and runs it on loading only
with ``safe_mode=False``; this library never writes or runs bytecode, so saving a model with one raises
(register it under a name, ``register_keras_serializable(name='double')(lambda x: 2 * x)``, or write it
with ``def``). A config Keras wrote with bytecode (``'__lambda__'``) loads only when the function is
passed as a custom object under the Lambda layer's name; the bytecode is never read.
"""
import inspect

from .. import _registry
from ..utils import tree
from .base import Layer

_PLAIN = (str, int, float, bool, type(None))


def _function_config(fn, layer, what):
    """Keras' serialized form of a named (or registered) function, by name only."""
    name = _registry.CUSTOM_NAMES.get(fn) or getattr(fn, "__name__", None)
    if not name or name == "<lambda>":
        raise ValueError(
            f"Lambda '{layer.name}': its {what} is a Python lambda, which cannot be saved: loading never runs code "
            "from a file (Keras 3 saves the bytecode and runs it only with safe_mode=False). Give the function a name "
            "(def it, or register_keras_serializable(name='...')(fn)) and pass it when loading with custom_objects=, "
            "or save only the weights with save_weights()")
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": name,
            "registered_name": name}


def _find_function(value, layer_name, what):
    """The function a config names; a Keras '__lambda__' (bytecode) config is looked up by the layer's name."""
    if callable(value):
        return value
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, dict) and value.get("class_name") == "function":
        names = [value.get("registered_name"), value.get("config")]
    elif isinstance(value, dict) and value.get("class_name") == "__lambda__":
        found = _registry.custom_object([layer_name])
        if found is None:
            raise ValueError(
                f"Lambda '{layer_name}': its {what} was saved as Python bytecode (a lambda), which loading never "
                f"runs. Pass the function itself: load_model(..., custom_objects={{'{layer_name}': fn}})")
        return found
    else:
        raise ValueError(f"Lambda '{layer_name}': cannot read its {what} from the config {value!r}")
    found = _registry.custom_object(names)
    if found is None:
        raise ValueError(
            f"Lambda '{layer_name}': its {what} {names[-1]!r} is code, which loading never imports or runs from a "
            f"file; pass it: load_model(..., custom_objects={{'{names[-1]}': {names[-1]}}}), or register it with "
            "@tinygrad_relu.saving.register_keras_serializable()")
    return found


class Lambda(Layer):
    """y = function(x, **arguments); the function gets ``training`` too when it declares it.

    ``output_shape`` (without the batch axis, or a function of the input shape) gives the output shape;
    without it the shape is found by running the function once on zeros.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': `function` must be callable, received {function!r}")
        if mask is not None:
            raise NotImplementedError(f"Lambda '{self.name}': `mask` is not supported (this library has no masking)")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda '{self.name}': `arguments` must be a dict of keyword arguments, received "
                            f"{arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = None
        if output_shape is not None and not callable(output_shape):
            try:
                output_shape = tuple(None if d is None else int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"Lambda '{self.name}': `output_shape` must be a shape without the batch axis or a "
                                 f"function of the input shape, received {output_shape!r}") from None
        self._output_shape = output_shape
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # builtins without a signature
            parameters = {}
        self._takes_training = "training" in parameters

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (tree.flatten(input_shape)[0],) + self._output_shape

    def get_config(self):
        config = super().get_config()
        config["function"] = _function_config(self.function, self, "function")
        if self._output_shape is not None:
            config["output_shape"] = (_function_config(self._output_shape, self, "output_shape")
                                      if callable(self._output_shape) else list(self._output_shape))
        if not all(isinstance(v, _PLAIN) for v in tree.flatten(list(self.arguments.values()))):
            raise ValueError(f"Lambda '{self.name}': only plain values (str, int, float, bool, None, lists of them) "
                             f"in `arguments` can be saved, received {self.arguments!r}")
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        name = config.get("name", "lambda")
        config["function"] = _find_function(config.get("function"), name, "function")
        output_shape = config.get("output_shape")
        if isinstance(output_shape, (dict, str)):
            config["output_shape"] = _find_function(output_shape, name, "output_shape")
        return cls(**config)
