"""Keras' serialized form of objects, ``{'module', 'class_name', 'config', 'registered_name'}``, both ways.

``serialize_keras_object`` turns a layer, loss, metric, ... (anything with ``get_config``), a function,
an array or a symbolic tensor into plain JSON values; ``deserialize_keras_object`` turns them back.
Deserializing looks a class up by name only: first among the custom objects (registered with
``register_keras_serializable``, in a ``custom_object_scope``, or passed as ``custom_objects``), then
among the library's own classes. The ``module`` a config records is informational: it is never
imported, so a file cannot make loading run code from anywhere.

``functional_from_config`` rebuilds a Functional model: it re-creates the layers, then calls each one
on the symbolic tensors its recorded nodes name, in an order where every input exists already.
"""
import inspect
import types

import numpy as np

from .. import _registry, _state, initializers, losses, metrics, optimizers, regularizers
from ..layers import LAYER_CLASSES, KerasTensor, Layer
from ..layers.lambda_layer import load_lambda
from .keras_masks import without_mask_operations
from .object_registration import CustomObjectScope

_PLAIN = (str, int, float, bool, type(None))


class SafeModeScope:
    """``with SafeModeScope(False):`` deserializing in this block (in this thread) may load the bytecode of a
    Python lambda (a Lambda layer's function), which runs code from the config: only for files you trust."""

    def __init__(self, safe_mode=True):
        if not isinstance(safe_mode, bool):
            raise TypeError(f"safe_mode must be True or False, received {safe_mode!r}")
        self.safe_mode = safe_mode

    def __enter__(self):
        self._previous, _state.local.safe_mode = _state.local.safe_mode, self.safe_mode
        return self

    def __exit__(self, *exc):
        _state.local.safe_mode = self._previous
        return False


def serialize_keras_object(obj):
    """Plain JSON values describing ``obj`` (Keras 3's format)."""
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, KerasTensor):
        history = obj._keras_history
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(obj.shape), "dtype": obj.dtype,
                           "keras_history": None if history is None else
                           [history.layer.name, history.node_index, history.tensor_index]}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        if obj.__name__ == "<lambda>":
            raise ValueError("serialize_keras_object: a lambda cannot be saved (loading never runs code from a "
                             "file); use a named function registered with register_keras_serializable")
        name = _registry.registered_name(obj)
        return {"module": obj.__module__, "class_name": "function", "config": name, "registered_name": name}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"serialize_keras_object: cannot serialize {obj!r} of type {type(obj).__name__}; a class "
                        "must define get_config()")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The get_config() method of {obj!r} should return a dict, it returned {config!r}")
    cls = type(obj)
    out = {"module": cls.__module__, "class_name": cls.__name__, "config": serialize_keras_object(config),
           "registered_name": _registry.CUSTOM_NAMES.get(cls, None if _is_builtin(cls) else cls.__name__)}
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None:
        out["build_config"] = serialize_keras_object(build_config)
    return out


def _is_builtin(cls):
    return cls.__module__.split(".")[0] == "tinygrad_relu"


def _find(config, custom_objects):
    return _registry.custom_object([config.get("registered_name"), config.get("class_name")], custom_objects)


def deserialize_keras_object(config, custom_objects=None):
    """The object ``config`` (from serialize_keras_object) describes; classes are looked up, never imported."""
    if isinstance(config, _PLAIN):
        if isinstance(config, str):
            found = _registry.custom_object([config], custom_objects)
            return config if found is None else found
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: cannot read {config!r}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=np.dtype(inner["dtype"]))
    if class_name == "__keras_tensor__":
        tensor = KerasTensor(inner["shape"], inner["dtype"])
        tensor._pre_serialization_keras_history = inner.get("keras_history")
        return tensor
    if class_name == "__lambda__" and not _state.local.safe_mode:
        return load_lambda(config, "deserialize_keras_object")
    if class_name in ("__lambda__", "__typespec__"):
        raise ValueError(f"deserialize_keras_object: a {class_name[2:-2]} in a config is code, which loading never "
                         "runs in safe mode; register a named function or class instead (or, for a file you trust, "
                         "load it with safe_mode=False)")
    if class_name == "function":
        found = _registry.custom_object([config.get("registered_name"), inner], custom_objects)
        if found is None:
            raise TypeError(f"Could not locate function {inner!r}. Register it with "
                            "@tinygrad_relu.saving.register_keras_serializable() or pass it in custom_objects")
        return found
    found = _find(config, custom_objects)
    if (found is None and (class_name in LAYER_CLASSES or _registry.model_class(class_name) is not None)) or \
            (isinstance(found, type) and issubclass(found, Layer)):
        return deserialize_layer(config, custom_objects)
    with CustomObjectScope(custom_objects or {}):
        found = _find(config, custom_objects)
        if found is not None:
            if not hasattr(found, "from_config"):
                raise TypeError(f"Unable to reconstruct an instance of '{class_name}': the class has no from_config()")
            return found.from_config(dict(inner or {}))
        for module in (losses, metrics, regularizers, initializers, optimizers):
            try:
                return module.deserialize({"class_name": class_name, "config": inner})
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    raise TypeError(f"Could not locate class {class_name!r}. Make sure custom classes are decorated with "
                    "@tinygrad_relu.saving.register_keras_serializable() or passed in custom_objects")


def deserialize_layer(config, custom_objects=None):
    """The layer (or model) a serialized layer config describes, built when the config says how."""
    class_name = config.get("class_name")
    inner = config.get("config") or {}
    if not isinstance(class_name, str) or not isinstance(inner, dict):
        raise ValueError(f"a layer config must hold a 'class_name' string and a 'config' dict, received {config!r}")
    cls = _find(config, custom_objects)
    if cls is not None and not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"custom object {class_name!r} is {cls!r}, not a Layer class")
    cls = cls or LAYER_CLASSES.get(class_name) or _registry.model_class(class_name)
    if cls is None:
        raise ValueError(f"Unknown layer class {class_name!r}: not a built-in layer ({', '.join(sorted(LAYER_CLASSES))}) "
                         "and not a custom object. Register the class with "
                         "@tinygrad_relu.saving.register_keras_serializable() or pass it in custom_objects")
    with CustomObjectScope(custom_objects or {}):
        if _registry.model_class(cls.__name__) is cls and "custom_objects" in _from_config_parameters(cls):
            layer = cls.from_config(dict(inner), custom_objects=custom_objects)
        else:
            layer = cls.from_config(dict(inner))
        build_config = config.get("build_config")
        if build_config and not layer.built:
            layer.build_from_config(build_config)
    if not isinstance(layer, Layer):
        raise TypeError(f"{cls.__name__}.from_config returned {type(layer).__name__}, not a layer")
    return layer


def _from_config_parameters(cls):
    return inspect.signature(cls.from_config).parameters


def functional_from_config(cls, config, custom_objects=None):
    """Rebuild a Functional model (class ``cls``) from its get_config(): layers first, then their calls."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError("Functional.from_config: expected a dict with a 'layers' list")
    config = without_mask_operations(config)
    created, pending = {}, []
    for i, data in enumerate(config["layers"]):
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ValueError(f"Functional.from_config: layer entry {i} must be a dict with a 'name'")
        layer = deserialize_layer(data, custom_objects)
        if data["name"] in created:
            raise ValueError(f"Functional.from_config: the layer name {data['name']!r} appears twice")
        created[data["name"]] = layer
        nodes = data.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Functional.from_config: inbound_nodes of layer {data['name']!r} must be a list")
        pending.append([layer, list(nodes)])

    def tensor(history, in_arguments=True):
        if not (isinstance(history, (list, tuple)) and len(history) == 3 and isinstance(history[0], str)
                and all(isinstance(v, int) and not isinstance(v, bool) for v in history[1:])):
            raise ValueError(f"Functional.from_config: invalid tensor reference {history!r}")
        name, node_index, tensor_index = history
        if name not in created:
            raise ValueError(f"Functional.from_config: unknown layer {name!r}")
        layer = created[name]
        if getattr(layer, "_counts_own_node", False) and not in_arguments:
            node_index -= 1  # in input_layers and output_layers, Keras counts a Functional model's own node first
        if not 0 <= node_index < len(layer._inbound_nodes):
            raise IndexError(name)  # not made yet: try again after other layers' calls
        outputs = layer._inbound_nodes[node_index].outputs
        if not 0 <= tensor_index < len(outputs):
            raise ValueError(f"Functional.from_config: layer {name!r} has no output {tensor_index}")
        return outputs[tensor_index]

    def revive(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return tensor((value.get("config") or {}).get("keras_history"))
        if isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str) and \
                value[0] in created and all(isinstance(v, int) for v in value[1:]):
            return tensor(value)  # Keras' older node format: [layer, node, tensor]
        if isinstance(value, (list, tuple)):
            return [revive(v) for v in value]
        if isinstance(value, dict):
            return {k: revive(v) for k, v in value.items()}
        return value

    while any(nodes for _, nodes in pending):
        progressed = False
        for entry in pending:
            layer, nodes = entry
            while nodes:
                node = nodes[0]
                try:
                    if isinstance(node, dict):
                        args = revive(node.get("args") or [])
                        kwargs = revive(node.get("kwargs") or {})
                    else:  # Keras' older format: a list of [layer, node, tensor(, kwargs)] entries
                        args, kwargs = [revive([list(ref[:3]) for ref in node])], {}
                        if len(args[0]) == 1:
                            args = [args[0][0]]
                except IndexError:
                    break
                layer(*args, **kwargs)
                nodes.pop(0)
                progressed = True
        if not progressed:
            stuck = [layer.name for layer, nodes in pending if nodes]
            raise ValueError(f"Functional.from_config: the graph has loops or disconnected nodes; these layers' "
                             f"calls cannot be made: {stuck}")

    def structure(value):
        if isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str):
            return tensor(value, in_arguments=False)
        if isinstance(value, dict):
            return {k: structure(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [structure(v) for v in value]
        raise ValueError(f"Functional.from_config: invalid input or output reference {value!r}")

    inputs = structure(config.get("input_layers"))
    outputs = structure(config.get("output_layers"))
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"), trainable=config.get("trainable", True))



def renumber_nested_calls(config):
    """A model config from a native file of format 1, whose nodes' arguments numbered a nested Functional
    model's calls from 1, with Keras' numbering (from 0); changed in place, and returned."""
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        if not isinstance(value, dict):
            continue
        layers = value.get("layers") if value.get("class_name") is None else None
        if isinstance(layers, list) and "output_layers" in value:
            nested = {entry.get("name") for entry in layers if isinstance(entry, dict)
                      and entry.get("class_name") == "Functional"}
            for entry in layers:
                for history in _argument_histories(entry.get("inbound_nodes") if isinstance(entry, dict) else None):
                    if history[0] in nested and isinstance(history[1], int) and history[1] > 0:
                        history[1] -= 1
        stack.extend(value.values())
    return config


def _argument_histories(nodes):
    """The [layer, node, tensor] lists of the symbolic tensors in a layer's inbound nodes."""
    found, stack = [], [nodes]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            inner = value.get("config")
            if value.get("class_name") == "__keras_tensor__" and isinstance(inner, dict):
                history = inner.get("keras_history")
                if isinstance(history, list) and len(history) == 3:
                    found.append(history)
                continue
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
