"""What initializers, regularizers, losses, metrics, optimizers and schedules share: a base whose
config round-trips, Keras' serialized form {'class_name', 'config'}, and lookup by Keras name.

Each module keeps two tables: ``classes`` by class name ('HeNormal') and ``aliases`` by Keras'
lower-case name ('he_normal'). The error messages are built here so all modules word them alike.

The model classes register here when they are defined, so that reading a model file can find
"Sequential" without the reader importing the models package (which itself saves and loads).
"""
import re

_MODEL_CLASSES = {}


def register_model_class(cls):
    _MODEL_CLASSES[cls.__name__] = cls
    return cls


def model_class(name):
    """The model class a file names ('Sequential'), or None."""
    return _MODEL_CLASSES.get(name) if isinstance(name, str) else None


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
    """{'class_name': ..., 'config': ...}, Keras' serialized form (None stays None, as in Keras)."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def find_class(name, classes, aliases):
    """The class a Keras name ('he_normal', 'HE_NORMAL') or class name ('HeNormal') stands for, or None."""
    return aliases.get(name) or classes.get(name) or aliases.get(name.lower())


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
        raise ValueError(unknown.format(name=name, known=", ".join(sorted(classes))))
    return cls.from_config(dict(config.get("config") or {}))
