"""SwapEMAWeights: evaluate (and predict) with the optimizer's moving averages of the weights."""
from .callback import Callback


class SwapEMAWeights(Callback):
    """Swap the model's weights with the optimizer's moving averages (``use_ema=True``) before evaluation and
    prediction, and back after, as Keras 3 does: validation metrics then measure the averaged model.

    ``swap_on_epoch=True`` also swaps at each epoch's end and back at the next one's start, so callbacks after
    this one (ModelCheckpoint) see the averages; after the last epoch the averages stay in the model.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = bool(swap_on_epoch)
        self._averages_in_model = False

    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not getattr(optimizer, "use_ema", False):
            raise ValueError("SwapEMAWeights must be used when use_ema=True is set on the optimizer, received "
                             f"use_ema={getattr(optimizer, 'use_ema', None)}")
        return optimizer

    def _swap(self):
        optimizer = self._optimizer()
        if optimizer.built:  # before the first update there are no averages yet: the weights are all there is
            optimizer.swap_moving_averages()
        self._averages_in_model = not self._averages_in_model

    def on_train_begin(self, logs=None):
        self._optimizer()  # fail at once, not at the first validation
        self._averages_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._averages_in_model:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._averages_in_model:
            if epoch == self.params.get("epochs", 0) - 1:
                # the last epoch: fit ends by setting the weights to their averages; keep them there
                self._optimizer().finalize_variable_values(self.model.trainable_weights)
                self._averages_in_model = True
            else:
                self._swap()

    def on_test_begin(self, logs=None):
        if not self._averages_in_model:
            self._swap()

    def on_test_end(self, logs=None):
        if self._averages_in_model:
            self._swap()

    def on_predict_begin(self, logs=None):
        if not self._averages_in_model:
            self._swap()

    def on_predict_end(self, logs=None):
        if self._averages_in_model:
            self._swap()
