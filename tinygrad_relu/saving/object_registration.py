"""Custom objects: the user classes and functions a saved model may name (Keras' keras.saving registration).

    >>> @register_keras_serializable(package="my_package")
    ... class MyDense(Layer): ...
    >>> get_registered_name(MyDense)
    'my_package>MyDense'

Loading finds a class only here: registered with the decorator, passed as ``custom_objects`` to
``load_model``, or put in a ``custom_object_scope``. A name in a file is looked up in these
tables, never imported; the ``module`` a file records is not used.
"""
import inspect

from .. import _registry, _state


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (which needs ``get_config``) or a function under ``'package>name'``
    (``name`` defaults to its __name__), so that configs naming it can be loaded."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', received {package!r}")

    def decorator(obj):
        object_name = name if name is not None else getattr(obj, "__name__", None)
        if not object_name:
            raise ValueError(f"register_keras_serializable: cannot name {obj!r}; pass name=")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        registered = f"{package}>{object_name}"
        _registry.CUSTOM_OBJECTS[registered] = obj
        _registry.CUSTOM_NAMES[obj] = registered
        return obj

    return decorator


def get_custom_objects():
    """The live dict of registered objects, by registered name (changing it changes the registry)."""
    return _registry.CUSTOM_OBJECTS


def get_registered_name(obj):
    """The name ``obj`` was registered under ('package>Name'), else its __name__."""
    return _registry.registered_name(obj)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or scoped, or in ``custom_objects`` / ``module_objects``) as ``name``, or None."""
    found = _registry.custom_object([name], custom_objects)
    if found is None and module_objects and name in module_objects:
        found = module_objects[name]
    return found


class CustomObjectScope:
    """``with custom_object_scope({'MyLayer': MyLayer}):`` loading in this block (in this thread) finds them."""

    def __init__(self, custom_objects):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(f"custom_object_scope: expected a dict of name -> object, received "
                            f"{type(custom_objects).__name__}")
        self.custom_objects = dict(custom_objects or {})
        self._previous = None

    def __enter__(self):
        self._previous = _state.local.custom_objects_scope
        _state.local.custom_objects_scope = {**self._previous, **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _state.local.custom_objects_scope = self._previous
        return False


custom_object_scope = CustomObjectScope
