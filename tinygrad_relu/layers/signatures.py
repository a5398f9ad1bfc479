"""What a layer class's signatures say: which arguments ``call`` takes, and the constructor's
arguments as a config (Keras' automatic ``get_config`` for classes that define none)."""
import inspect
from typing import NamedTuple

from ..utils import tree

_AUTO_CONFIG_TYPES = (str, int, float, bool, type(None))


class CallSignature(NamedTuple):
    """What a layer's ``call`` accepts, read once per class: Keras passes ``training`` and ``mask`` only
    to a call that declares them."""
    takes_training: bool
    takes_mask: bool
    training_default: object
    takes_kwargs: bool

    @classmethod
    def of(cls, function):
        params = inspect.signature(function).parameters
        training = params.get("training")
        return cls("training" in params, "mask" in params,
                   None if training is None or training.default is inspect.Parameter.empty else training.default,
                   any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()))


def constructor_config(cls, args, kwargs):
    """The constructor's arguments (defaults filled in, ``name`` left out) as a dict, when every value is a
    plain str, int, float, bool or None (possibly in lists); otherwise None."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    params = list(signature.parameters.values())
    arguments.pop(params[0].name)
    for p in params:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(p.name, {}))
        elif p.kind is inspect.Parameter.VAR_POSITIONAL and arguments.pop(p.name, ()):
            return None
    arguments.pop("name", None)
    if not all(isinstance(v, _AUTO_CONFIG_TYPES) for v in tree.flatten(list(arguments.values()))):
        return None
    return arguments


def accepts_name(cls):
    """Whether ``cls(name=...)`` works: its constructor names ``name`` or takes **kwargs."""
    params = inspect.signature(cls.__init__).parameters
    return "name" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
