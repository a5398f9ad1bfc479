"""Lambda: a layer that calls a Python function on its inputs (Keras' ``keras.layers.Lambda``).

    >>> double = Lambda(lambda x: x * 2.0)
    >>> scaled = Lambda(ops.multiply, arguments={"x2": 3.0})

Saving a Lambda saves its function as Keras does: a named function by name (to load, register it with
``register_keras_serializable`` or pass it in ``custom_objects``), a Python lambda as its marshalled
bytecode. Loading bytecode runs code from the file, so it is refused unless the loader opts out of
safe mode (``load_model(path, safe_mode=False)``, Keras' switch); it loads only in the Python version
that wrote it. Inside such a function, ``keras.ops`` and ``ops`` name ``tinygrad_relu.ops``. In safe
mode a lambda's function can instead be passed in ``custom_objects`` under the Lambda layer's name:
the bytecode is then never read.
"""
import base64
import binascii
import inspect
import marshal
import types

from .. import _state, activations, ops
from .._registry import custom_object, registered_name
from .base import Layer


def _function_config(fn, who):
    """Keras' config of a Lambda's function: bytecode for a Python lambda, a reference otherwise."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")  # (Keras' spelling: lines of 76)
        closure = [cell.cell_contents for cell in fn.__closure__] if fn.__closure__ else None
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__,
                                                       "closure": closure}}
    name = getattr(fn, "__name__", None)
    if not name:
        raise ValueError(f"{who}: cannot save the function {fn!r}; give a named function or a lambda")
    module = getattr(fn, "__module__", None)
    if activations.ALL_ACTIVATIONS.get(name) is fn:
        module = "keras.activations"  # where Keras has the same function under the same name
    elif getattr(ops, name, None) is fn:
        module = "keras.ops"
    return {"module": module, "class_name": "function", "config": registered_name(fn),
            "registered_name": registered_name(fn)}


def load_lambda(config, who):
    """The function a ``{'class_name': '__lambda__', ...}`` config holds, when this thread allows running code
    from files (``safe_mode=False``); ValueError otherwise."""
    if _state.local.safe_mode:
        raise ValueError(f"{who}: the file holds a Python lambda (bytecode); loading it runs code from the file, "
                         "which safe mode refuses. If you trust the file, load it with safe_mode=False, or pass the "
                         "function in custom_objects under the layer's name")
    inner = config.get("config") if isinstance(config, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    if not isinstance(code, str):
        raise ValueError(f"{who}: the lambda's config holds no bytecode string")
    try:
        compiled = marshal.loads(base64.decodebytes(code.encode("ascii")))
    except (ValueError, EOFError, TypeError, binascii.Error) as err:
        raise ValueError(f"{who}: the lambda's bytecode cannot be read in this Python version ({err})") from None
    if not isinstance(compiled, types.CodeType):
        raise ValueError(f"{who}: the lambda's bytecode is not a code object")
    defaults = inner.get("defaults")
    closure = inner.get("closure")
    cells = tuple(types.CellType(value) for value in closure) if closure else None
    if len(cells or ()) != len(compiled.co_freevars):
        raise ValueError(f"{who}: the lambda needs {len(compiled.co_freevars)} closure values, the file holds "
                         f"{len(cells or ())}")
    namespace = {"ops": ops, "keras": types.SimpleNamespace(ops=ops, activations=activations)}
    return types.FunctionType(compiled, namespace, "<lambda>", tuple(defaults) if defaults else None, cells)


class Lambda(Layer):
    """output = function(inputs, **arguments); ``training`` is passed when the function takes it."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': `function` must be callable, received {function!r}")
        if mask is not None:
            raise NotImplementedError(f"Lambda '{self.name}': mask is not supported (masking is not)")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda '{self.name}': `arguments` must be a dict, received {arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.output_shape_arg = tuple(output_shape) if isinstance(output_shape, list) else output_shape
        try:
            self._takes_training = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            self._takes_training = False

    def call(self, inputs, training=None):
        if self._takes_training:
            return self.function(inputs, training=training, **self.arguments)
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        declared = self.output_shape_arg
        if declared is None:
            return Layer.compute_output_shape(self, input_shape)
        if callable(declared):
            return tuple(declared(input_shape))
        first = input_shape[0] if input_shape and isinstance(input_shape[0], (list, tuple)) else input_shape
        return (first[0],) + tuple(declared)  # Keras: output_shape leaves out the batch axis

    def get_config(self):
        config = super().get_config()
        config["function"] = _function_config(self.function, f"Lambda '{self.name}'")
        declared = self.output_shape_arg
        if declared is not None:
            config["output_shape"] = _function_config(declared, f"Lambda '{self.name}'") if callable(declared) \
                else list(declared)
        config["arguments"] = _plain_arguments(self.arguments, f"Lambda '{self.name}'")
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        who = f"Lambda '{config.get('name', 'lambda')}'"
        for key in ("function", "output_shape"):
            value = config.get(key)
            if isinstance(value, dict) and value.get("class_name") == "__lambda__":
                passed = custom_object([config.get("name")]) if key == "function" else None
                config[key] = passed if callable(passed) else load_lambda(value, who)
            elif isinstance(value, dict) and value.get("class_name") == "function":
                config[key] = _registered_function(value, who)
        return cls(**config)


def _plain_arguments(arguments, who):
    """``arguments`` as saved: plain JSON values only, so that loading builds nothing from the file."""
    def plain(value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return True
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return isinstance(value, dict) and all(isinstance(k, str) and plain(v) for k, v in value.items())

    for key, value in arguments.items():
        if not plain(value):
            raise ValueError(f"{who}: only plain values (numbers, strings, booleans, None, and lists and dicts of them) "
                             f"in `arguments` can be saved; arguments[{key!r}] is {type(value).__name__} {value!r}")
    return dict(arguments)


def _registered_function(config, who):
    """A function a config names: a custom object, or one of keras.activations' or keras.ops' functions (ours of
    the same name); looked up, never imported."""
    name = config.get("config")
    found = custom_object([config.get("registered_name"), name])
    tables = [activations.ALL_ACTIVATIONS, vars(ops)]
    if config.get("module") == "keras.ops":
        tables.reverse()  # keras.ops.gelu is the tanh form, keras.activations.gelu the exact one
    for table in tables:
        if found is None and isinstance(name, str) and isinstance(table.get(name), types.FunctionType):
            found = table[name]
    if found is None:
        raise ValueError(f"{who}: could not locate the function {name!r}; register it with "
                         "register_keras_serializable or pass it in custom_objects")
    return found
