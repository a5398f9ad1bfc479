"""Adagrad, Keras' form: acc += g^2;  w -= lr g / sqrt(acc + epsilon)."""
import numpy as np

from .._kernels import optim as _kernels
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad, Keras' form: acc += g^2;  w -= lr g / sqrt(acc + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="adagrad"):
        if initial_accumulator_value < 0:
            raise ValueError("Adagrad: initial_accumulator_value must be non-negative, "
                             f"received {initial_accumulator_value}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    _kernel = staticmethod(_kernels.adagrad_update)

    def _kernel_slots(self):
        return ("accumulator",)

    def _kernel_args(self, lr):
        return lr, self.epsilon

    def _update(self, g, var, lr, i, buf):
        acc = self._slots["accumulator"][i]
        np.multiply(g, g, out=buf)
        acc += buf
        np.add(acc, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        var -= buf

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
