"""``data_format``: Keras' "channels_last" (N, ..., C) and "channels_first" (N, C, ...) image layouts.

The kernels compute channels_last only. A layer given ``data_format="channels_first"`` moves the
channel axis last at its input and back at its output (two transposes, whose gradients are the
inverse transposes), and reads shapes the same way; ``None`` means channels_last, Keras' default
``image_data_format``.
"""
FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format, who):
    """'channels_last' or 'channels_first' (None -> 'channels_last'); ValueError naming ``who`` otherwise."""
    if data_format is None:
        return "channels_last"
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value not in FORMATS:
        raise ValueError(f"{who}: `data_format` must be 'channels_last' or 'channels_first', "
                         f"received data_format={data_format!r}")
    return value


def last_shape(shape):
    """(N, C, d1, ...) -> (N, d1, ..., C)."""
    shape = tuple(shape)
    return shape[:1] + shape[2:] + shape[1:2]


def first_shape(shape):
    """(N, d1, ..., C) -> (N, C, d1, ...)."""
    shape = tuple(shape)
    return shape[:1] + shape[-1:] + shape[1:-1]


def to_channels_last(x):
    return x.permute((0,) + tuple(range(2, x.ndim)) + (1,))


def to_channels_first(x):
    return x.permute((0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


class ChannelsFormat:
    """Mixin for layers written for channels_last: set ``self.data_format`` with ``_set_data_format`` and
    convert at the boundary with the four helpers (all identities for channels_last)."""

    data_format = "channels_last"

    def _set_data_format(self, data_format):
        self.data_format = standardize_data_format(data_format, f"{type(self).__name__} '{self.name}'")

    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    def _last_shape(self, shape):
        return last_shape(shape) if self._channels_first and len(shape) > 2 else tuple(shape)

    def _format_shape(self, shape):
        return first_shape(shape) if self._channels_first and len(shape) > 2 else tuple(shape)

    def _to_last(self, x):
        return to_channels_last(x) if self._channels_first else x

    def _to_format(self, x):
        return to_channels_first(x) if self._channels_first else x
