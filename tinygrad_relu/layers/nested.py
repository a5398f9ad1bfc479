"""A layer inside another layer's config (RNN's cell, Bidirectional's and TimeDistributed's layer): written in
Keras' serialized form and found again by its class name, among the custom objects first, then the
library's layers and models. Looked up, never imported: a config cannot make loading run code."""
from .. import _registry
from .base import Layer


def serialize_layer(layer):
    cls = type(layer)
    out = {"module": cls.__module__, "class_name": cls.__name__, "config": layer.get_config(),
           "registered_name": _registry.CUSTOM_NAMES.get(cls)}
    build_config = layer.get_build_config()
    if build_config is not None:
        out["build_config"] = build_config
    return out


def deserialize_layer(config, who):
    """The layer a serialized config describes (a Layer instance passes through)."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) or \
            not isinstance(config.get("config", {}), dict):
        raise ValueError(f"{who}: a nested layer config must be a dict with 'class_name' and 'config', "
                         f"received {config!r}")
    name = config["class_name"]
    cls = _registry.custom_object([config.get("registered_name"), name]) or _registry.layer_class(name) \
        or _registry.model_class(name)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"{who}: unknown layer class {name!r} in its config; register a custom layer with "
                         "@tinygrad_relu.saving.register_keras_serializable() or pass it in custom_objects")
    layer = cls.from_config(dict(config.get("config") or {}))
    if config.get("build_config") and not layer.built:
        layer.build_from_config(config["build_config"])
    return layer
