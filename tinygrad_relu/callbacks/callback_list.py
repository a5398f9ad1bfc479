"""CallbackList: calls each hook on every callback, in order."""
from .callback import HOOKS, Callback
from .history import History
from .progbar_logger import ProgbarLogger


class CallbackList(Callback):
    """Calls each hook on every callback in order: the one dispatcher ``fit``, ``evaluate`` and ``predict`` use.

    ``add_history``/``add_progbar`` append a History / ProgbarLogger when none is given (in that order,
    after the user's callbacks, as Keras does).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks: expected Callback instances, received {cb!r} of type "
                                f"{type(cb).__name__}")
        self.callbacks = callbacks
        if add_history and not any(isinstance(cb, History) for cb in callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            self.callbacks.append(ProgbarLogger())  # last, as Keras: it prints what the others logged
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


def _dispatch_indexed(hook):
    def call_all(self, index, logs=None):
        for cb in self.callbacks:
            getattr(cb, hook)(index, logs)
    call_all.__name__ = hook
    return call_all


def _dispatch_logs(hook):
    def call_all(self, logs=None):
        for cb in self.callbacks:
            getattr(cb, hook)(logs)
    call_all.__name__ = hook
    return call_all


# Each hook is passed its logs positionally, as Keras does, so `lambda epoch, logs: ...` works.
for _hook in HOOKS:
    if _hook in ("on_batch_begin", "on_batch_end"):  # callbacks reach these through on_train_batch_*
        continue
    indexed = "batch" in _hook or "epoch" in _hook
    setattr(CallbackList, _hook, (_dispatch_indexed if indexed else _dispatch_logs)(_hook))
