"""ProgbarLogger: Keras 3's progress output for fit / evaluate / predict, as a callback."""
import sys

from ..utils.progbar import Progbar
from .callback import Callback


class ProgbarLogger(Callback):
    """verbose=1: a bar per epoch; verbose=2: one line per epoch. ``fit`` adds one (last) unless verbose=0."""

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self._called_in_fit = False
        self.progbar = None

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")  # None: a generator of unknown length, shown as 'Unknown'

    def _reset(self):
        self.progbar = Progbar(self.target, verbose=self.verbose)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self.progbar.update(batch + 1, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, None)

    def _finalize(self, logs):
        if self.target is None:  # the first pass over a generator has shown its length: later bars know it
            self.target = self.progbar.seen
            self.progbar.target = self.target
        self.progbar.update(self.progbar.seen, logs, finalize=True)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(None)
