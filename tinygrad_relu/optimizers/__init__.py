"""Optimizers with Keras 3's defaults and update equations (the order of one update, the state and
the fused and numpy paths are described in optimizer.py).

One module per optimizer; each class registers itself (optimizer.py), so the names below and the
command line's choices come from the classes: adding an optimizer is its module and one import here.
"""
from .._registry import cannot_interpret, check_serialized, from_serialized, unknown_name
from .._registry import serialize  # noqa: F401  (public: optimizers.serialize)
from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .nadam import Nadam
from .optimizer import REGISTRY, Optimizer
from .rmsprop import RMSprop
from .sgd import SGD


def names():
    """Keras' names of the optimizers there are ('adam', 'sgd', ...)."""
    return tuple(sorted(REGISTRY))


def get_class(name):
    """The optimizer class for a Keras name ('adam') or a class name ('Adam'), any case."""
    if isinstance(name, str):
        cls = REGISTRY.get(name.lower())
        if cls is not None:
            return cls
    raise unknown_name(name, REGISTRY, "optimizer", "optimizers")


def deserialize(config):
    check_serialized(config, "optimizers.deserialize")
    classes = {cls.__name__: cls for cls in REGISTRY.values()}
    return from_serialized(config, classes, REGISTRY, "Unknown optimizer class {name!r}. Known: {known}",
                           ignore_case=True)


def get(identifier):
    """An optimizer from a Keras name ('adam', 'sgd', 'nadam', ...: see names()), a dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        return get_class(identifier)()
    raise cannot_interpret("optimizers.get", identifier, "an optimizer",
                           f"; give a name ({', '.join(names())}) or an Optimizer instance")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Ftrl", "Lamb", "Lion",
           "Nadam", "schedules", "get", "get_class", "names", "serialize", "deserialize"]
