"""TerminateOnNaN: stop (or raise) after a batch whose loss is not finite."""
import math

from .callback import Callback
from .monitor import scalar


class TerminateOnNaN(Callback):
    """Stop training after the batch whose loss is NaN or infinite (``raise_error=True``: raise instead)."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = scalar(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
