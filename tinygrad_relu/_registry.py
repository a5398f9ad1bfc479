"""What initializers, regularizers, losses, metrics, optimizers and schedules share: a base whose
config round-trips, Keras' serialized form {'class_name', 'config'}, and lookup by Keras name.

Each module keeps two tables: ``classes`` by class name ('HeNormal') and ``aliases`` by Keras'
lower-case name ('he_normal'). The error messages are built here so all modules word them alike.

The model classes register here when they are defined, so that reading a model file can find
"Sequential" without the reader importing the models package (which itself saves and loads).
"""
import re

from . import _state

_MODEL_CLASSES = {}
_LAYER_CLASSES = {}  # the library's layer classes by name, filled by layers/__init__.py


def register_model_class(cls):
    """Record one of the library's model classes; a user's Model subclass is found as a custom object instead."""
    if cls.__module__.split(".")[0] == "tinygrad_relu":
        _MODEL_CLASSES[cls.__name__] = cls
    return cls


def model_class(name):
    """The model class a file names ('Sequential'), or None."""
    return _MODEL_CLASSES.get(name) if isinstance(name, str) else None


def register_layer_classes(classes):
    _LAYER_CLASSES.update(classes)


def layer_class(name):
    """The library's layer class a config names ('LSTM'), or None; for layers that hold a layer (RNN's cell,
    Bidirectional), which cannot import the layers package they belong to."""
    return _LAYER_CLASSES.get(name) if isinstance(name, str) else None


_SYMBOLIC_OP_HANDLER = []  # [handler]: the layers package's, set when it is imported


def register_symbolic_op_handler(handler):
    """How an ``ops`` function called on symbolic tensors (a functional model's inputs) records itself: the
    layers package sets it (layers/op_layer.py), since ops know nothing of layers."""
    _SYMBOLIC_OP_HANDLER[:] = [handler]


def symbolic_op_handler():
    return _SYMBOLIC_OP_HANDLER[0] if _SYMBOLIC_OP_HANDLER else None


def model_class_names():
    return sorted(_MODEL_CLASSES)


def snake_case(name):
    """Keras' class-name-to-object-name rule: Conv2D -> conv2d, ReLU -> re_lu."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


class Configurable:
    """``get_config``/``from_config`` round trip; the repr shows the config."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serialize(obj):
    """{'class_name': ..., 'config': ...}, Keras' serialized form (None stays None, as in Keras); a registered
    custom class adds its 'registered_name' ('package>Name')."""
    if obj is None:
        return None
    out = {"class_name": type(obj).__name__, "config": obj.get_config()}
    if type(obj) in CUSTOM_NAMES:
        out["registered_name"] = CUSTOM_NAMES[type(obj)]
    return out


def find_class(name, classes, aliases):
    """The class a Keras name ('he_normal', 'HE_NORMAL') or class name ('HeNormal') stands for, or None;
    then the custom objects (registered, or in a custom_object_scope)."""
    return aliases.get(name) or classes.get(name) or aliases.get(name.lower()) or custom_object([name])


def unknown_name(name, known, kind, kinds):
    """The ValueError for a name nothing answers to, listing the known ones."""
    return ValueError(f"Unknown {kind} {name!r}. Known {kinds}: {', '.join(sorted(known))}")


def cannot_interpret(who, identifier, what, hint=""):
    """The TypeError for an identifier that is no name, dict, object or callable of the kind."""
    return TypeError(f"{who}: cannot interpret {identifier!r} (type {type(identifier).__name__}) as {what}{hint}")


def check_serialized(config, who):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{who}: expected a dict with 'class_name' and 'config', received {config!r}")


def from_serialized(config, classes, aliases, unknown, ignore_case=False):
    """The object a serialized dict describes. ``unknown`` is the message for a class name nothing
    answers to, formatted with ``name`` and ``known`` (the class names)."""
    name = config.get("class_name")
    cls = classes.get(name) or aliases.get(name)
    if cls is None and ignore_case:
        cls = aliases.get(str(name).lower())
    if cls is None:
        cls = custom_object([config.get("registered_name"), name])
    if cls is None:
        raise ValueError(unknown.format(name=name, known=", ".join(sorted(classes))))
    return cls.from_config(dict(config.get("config") or {}))


# ---- custom objects: user classes and functions a saved config may name ----------------------------
# register_keras_serializable fills these (process-wide, as classes are defined once per process);
# custom_object_scope adds a per-thread layer on top (tinygrad_relu._state).
CUSTOM_OBJECTS = {}   # registered name ('package>Name') -> class or function
CUSTOM_NAMES = {}     # class or function -> registered name


def registered_name(obj):
    """The name ``obj`` (a class or function) was registered under, else its own __name__."""
    return CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def custom_object(names, custom_objects=None):
    """The first of ``names`` (registered name, class name, ...) found in this thread's custom_object_scope,
    the registered objects or ``custom_objects``; None when none is. Looked up, never imported."""
    tables = [_state.local.custom_objects_scope, CUSTOM_OBJECTS, custom_objects or {}]
    for name in names:
        if not isinstance(name, str):
            continue
        for table in tables:
            if name in table:
                return table[name]
    for name in names:  # a bare name matches a registered 'package>name'
        if isinstance(name, str) and ">" not in name:
            for table in tables:
                for key, obj in table.items():
                    if key.endswith(">" + name):
                        return obj
    return None
