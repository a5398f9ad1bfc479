"""Keras 3's config.json, both ways.

Writing: ``model_config(model)`` is the model's ``serialize_keras_object`` form spelled as Keras 3
writes it, so that Keras' loader, which finds a built-in class only under its own module names
('keras.layers', 'keras.initializers', ...), finds each one: the modules, ``registered_name`` null for
built-ins, dtype policies, and no ``batch_input_shape`` in layer configs (a Sequential's first entry
is its InputLayer, as in Keras).

Reading: Keras' layer configs are already ours. Each layer takes Keras' arguments, ignores the keys
Keras writes that mean nothing here while they hold their inactive value (``quantization_config:
None``, ``synchronized``, dtype policies, ``build_config``) and refuses, naming itself and the key,
one that would change the result (``renorm: true``, a mixed-precision policy). What
is left is the compile config: ``compile_config_from_keras`` takes Keras' function references and
refuses what compile cannot honour here.

A new layer needs no entry here when its class is in ``layers.LAYER_CLASSES`` and its config uses
Keras' keys; a model class Keras keeps elsewhere goes into ``MODEL_MODULES``.
"""
from .. import _registry, initializers, regularizers
from ..layers import LAYER_CLASSES, Layer
from .serialization_lib import serialize_keras_object

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this package writes and is tested against

MODEL_MODULES = {"Sequential": "keras", "Functional": "keras.src.models.functional", "Model": "keras"}

# A nested config's module from the key it is stored under, as Keras names its arguments.
_MODULE_BY_KEY_SUFFIX = (("initializer", "keras.initializers"), ("regularizer", "keras.regularizers"),
                         ("constraint", "keras.constraints"))
_MODULE_BY_KEY = {"optimizer": "keras.optimizers", "learning_rate": "keras.optimizers.schedules",
                  "loss": "keras.losses", "metrics": "keras.metrics", "weighted_metrics": "keras.metrics"}
_SPECIAL = ("__keras_tensor__", "__numpy__", "__lambda__", "function")

# What Keras' compile() takes besides what tinygrad_relu's honours, and the values that change nothing here.
_INERT_COMPILE_KEYS = {"run_eagerly": (False, True),
                       "steps_per_execution": (1,), "jit_compile": (False, True, "auto"),
                       "auto_scale_loss": (True, False)}


def model_config(model, include_compile=True):
    """config.json of a .keras file for ``model``: Keras 3's serialized form, with its compile config."""
    config = to_keras(serialize_keras_object(model))
    if include_compile and getattr(model, "compiled", False) and model._compile_config is not None:
        config["compile_config"] = compile_config_to_keras(model._compile_config)
    return config


def to_keras(value, key=None):
    """A serialized value (from serialize_keras_object or get_config) in Keras 3's spelling."""
    if isinstance(value, list):
        return [to_keras(v, key) for v in value]
    if not isinstance(value, dict):
        return value
    if "class_name" not in value or "config" not in value or value["class_name"] in _SPECIAL:
        # (a dict by output name keeps the compile key it is stored under: 'loss', 'metrics')
        return {k: to_keras(v, key if key in _MODULE_BY_KEY else k) for k, v in value.items()}
    class_name, builtin = value["class_name"], _is_builtin(value)
    out = {"module": _keras_module(class_name, key) if builtin else value.get("module"),
           "class_name": class_name, "config": value["config"],
           "registered_name": None if builtin else value.get("registered_name") or class_name}
    inner = value["config"]
    if isinstance(inner, dict):
        layer = _is_layer(value)
        inner = {k: to_keras(v, k) for k, v in inner.items() if not (layer and k == "batch_input_shape")}
        if layer and class_name != "InputLayer" and isinstance(inner.get("dtype"), str):
            inner["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": inner["dtype"]},
                              "registered_name": None}
        out["config"] = inner
    for extra in ("build_config", "compile_config", "name", "inbound_nodes"):
        if extra in value:
            out[extra] = to_keras(value[extra], extra)
    return out


def _is_builtin(value):
    registered = value.get("registered_name")
    module = value.get("module")
    if isinstance(module, str) and module.split(".")[0] != "tinygrad_relu":
        return False
    return registered is None or registered == value["class_name"] and module is None


def _is_layer(value):
    name = value["class_name"]
    if name in LAYER_CLASSES or _registry.model_class(name) is not None:
        return True
    found = _registry.custom_object([value.get("registered_name"), name])
    return isinstance(found, type) and issubclass(found, Layer)


def _keras_module(class_name, key):
    if class_name in MODEL_MODULES:
        return MODEL_MODULES[class_name]
    if class_name in LAYER_CLASSES:
        return "keras.layers"
    if key in _MODULE_BY_KEY:
        return _MODULE_BY_KEY[key]
    for suffix, module in _MODULE_BY_KEY_SUFFIX:
        if isinstance(key, str) and key.endswith(suffix):
            return module
    for module, lookup in (("keras.initializers", initializers.get), ("keras.regularizers", regularizers.get)):
        try:
            lookup(class_name)
            return module
        except (ValueError, TypeError):
            continue
    raise ValueError(f"save: cannot tell which Keras module holds the class {class_name!r} (stored under "
                     f"{key!r}); register it with register_keras_serializable to save it as a custom object")


def compile_config_to_keras(config):
    """Our compile config (trainer's) as Keras' CompileConfig writes it."""
    return {"optimizer": to_keras(config.get("optimizer"), "optimizer"),
            "loss": to_keras(config.get("loss"), "loss"),
            "loss_weights": config.get("loss_weights"),
            "metrics": to_keras(config.get("metrics") or None, "metrics"),
            "weighted_metrics": to_keras(config.get("weighted_metrics") or None, "weighted_metrics"),
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def compile_config_from_keras(config, who):
    """Keras' compile config as compile() here takes it: function references become their names, and a key
    that would change training or its metrics here is refused (ValueError naming it)."""
    if not isinstance(config, dict):
        raise ValueError(f"{who}: compile_config is not an object")
    known = {"optimizer", "loss", "loss_weights", "metrics", "weighted_metrics"}
    for key, value in config.items():
        if key in known:
            continue
        if key not in _INERT_COMPILE_KEYS:
            raise ValueError(f"{who}: compile_config holds {key!r}, which compile() here does not take")
        if not any(value == inert and type(value) is type(inert) for inert in _INERT_COMPILE_KEYS[key]):
            raise ValueError(f"{who}: compile_config has {key}={value!r}, which is not supported here")
    return {key: _function_names(config.get(key)) for key in known}


def _function_names(value):
    """Keras' {'class_name': 'function', 'config': 'mse', ...} references as their names, in any nesting."""
    if isinstance(value, list):
        return [_function_names(v) for v in value]
    if isinstance(value, dict):
        if value.get("class_name") == "function" and isinstance(value.get("config"), str):
            return value.get("registered_name") or value["config"]
        if "class_name" in value:
            return value
        return {k: _function_names(v) for k, v in value.items()}
    return value
