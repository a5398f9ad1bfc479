"""LambdaCallback: a callback made of plain functions."""
from .callback import HOOKS, Callback


class LambdaCallback(Callback):
    """A callback from plain functions: LambdaCallback(on_epoch_end=lambda epoch, logs: ...).

    Keras' argument names: on_epoch_begin/end(epoch, logs), on_train_batch_begin/end(batch, logs)
    (also on_batch_begin/end), on_train_begin/end(logs), and any other on_* hook.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for hook, fn in given.items():
            if hook not in HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {hook!r}; known hooks: {', '.join(HOOKS)}")
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: {hook} must be callable, received {fn!r}")
                setattr(self, hook, fn)
