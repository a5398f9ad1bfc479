"""Gradient descent with optional (Nesterov) momentum, Keras' form."""
import numbers

import numpy as np

from .._kernels import optim as _kernels
from .optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras' form.

    m = momentum * m - lr * g;  w += m   (nesterov: w += momentum * m - lr * g);
    without momentum: w -= lr * g.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="SGD"):
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be a float in [0, 1], received momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    def _slot_specs(self):
        return [("momentum", 0.0)] if self.momentum != 0 else []

    _kernel = staticmethod(_kernels.sgd_update)

    def _kernel_slots(self):
        return ("momentum" if self.momentum != 0 else None,)

    def _kernel_args(self, lr):
        return lr, self.momentum, self.nesterov

    def _update(self, g, var, lr, i, buf):
        np.multiply(g, lr, out=buf)  # lr * g
        if self.momentum == 0:
            var -= buf
            return
        m = self._slots["momentum"][i]
        m *= self.momentum
        m -= buf
        if self.nesterov:
            var -= buf
            np.multiply(m, self.momentum, out=buf)
            var += buf
        else:
            var += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
