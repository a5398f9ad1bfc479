"""Optimizers with Keras 3's defaults and update equations.

``opt.apply_gradients(params)`` takes the parameter Tensors whose ``.grad`` backward has
filled, and updates each ``param.data`` in place. One update, in Keras' order:

1. clip the gradients (clipnorm per tensor, global_clipnorm over all, or clipvalue);
2. weight decay, if set: w -= w * weight_decay * lr (decoupled, as AdamW);
3. the optimizer's own step (below), at learning rate ``lr`` = the schedule at ``iterations``;
4. ``iterations += 1``.

State (momenta, second moments) is created lazily per parameter, in the order parameters are
first seen, and saved with ``get_state()`` / restored with ``set_state()``.

Two paths compute the same update:
* the fused path (``opt.fused = True``, the default): one Cython kernel per parameter
  (cysrc/optim.pyx) reads the weight, its gradient and its slots once and writes them once,
  with clipping and weight decay folded in. Bit-identical to the numpy path (the same float
  operations in the same order); it declines arrays it cannot take (non-contiguous, mixed
  dtypes), which then take the numpy path;
* the numpy path (``opt.fused = False``): in-place ufuncs on a per-parameter scratch buffer,
  the readable reference the fused kernels are tested against.

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
