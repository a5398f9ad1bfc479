"""Keras' ``keras.backend`` functions a script reaches for: ``clear_session`` and the settings of ``config``."""
from . import _state
from .config import backend, epsilon, floatx, image_data_format, set_epsilon, set_floatx  # noqa: F401


def clear_session(free_memory=True):
    """Forget the automatic names (the next Dense is 'dense' again, the next Precision 'precision'), as Keras'
    ``clear_session``. Models built before keep working; nothing else is global here to reset."""
    _state.reset_names()


def get_uid(prefix=""):
    """1, 2, 3, ... on successive calls with the same prefix (Keras' backend.get_uid)."""
    name = _state.unique_name(prefix)
    return 1 if name == prefix else int(name.rsplit("_", 1)[1]) + 1
