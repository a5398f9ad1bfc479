"""FTRL-Proximal (McMahan et al. 2013), Keras' form: per-coordinate learning rates with L1 and L2
regularization solved in closed form, for wide, sparse models."""
import numpy as np

from .._kernels import optim_extra as _kernels
from .optimizer import Optimizer


class Ftrl(Optimizer):
    """FTRL-Proximal, Keras' form (p = learning_rate_power, n = accumulator, z = linear):

    l2 = l2_regularization_strength + beta / (2 lr);  g' = g + 2 l2_shrinkage_regularization_strength w
    n' = n + g^2;  z += g' - (n'^-p - n^-p) / lr * w
    w = (clip(z, -l1, l1) - z) / (n'^-p / lr + 2 l2);  n = n'

    so a weight is exactly 0 while |z| <= l1. With the default p = -0.5, n^-p is sqrt(n).
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="ftrl"):
        settings = {"initial_accumulator_value": initial_accumulator_value,
                    "l1_regularization_strength": l1_regularization_strength,
                    "l2_regularization_strength": l2_regularization_strength,
                    "l2_shrinkage_regularization_strength": l2_shrinkage_regularization_strength}
        for label, value in settings.items():
            if not float(value) >= 0:
                raise ValueError(f"Ftrl: {label} must be positive or zero, received {label}={value}")
        if not float(learning_rate_power) <= 0:
            raise ValueError(f"Ftrl: learning_rate_power must be negative or zero, received "
                             f"learning_rate_power={learning_rate_power}")
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ('accumulator', 'linear')  # Keras creates them together, parameter by parameter

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value), ("linear", 0.0)]

    def _power(self, n):
        """n^-p: a square root for the default p = -0.5 (as the kernel takes it), else np.power."""
        return np.sqrt(n) if self.learning_rate_power == -0.5 else np.power(n, -self.learning_rate_power)

    _kernel = staticmethod(_kernels.ftrl_update)

    def _kernel_slots(self):
        return "accumulator", "linear"

    def _kernel_args(self, lr):
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        return (lr, -self.learning_rate_power, self.l1_regularization_strength, 2.0 * l2,
                2.0 * self.l2_shrinkage_regularization_strength)

    def _update(self, g, var, lr, i, buf):
        accumulator, linear = self._slots["accumulator"][i], self._slots["linear"][i]
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        l1 = self.l1_regularization_strength
        np.multiply(var, 2.0 * self.l2_shrinkage_regularization_strength, out=buf)
        buf += g                                    # g' = g + 2 l2_shrinkage w
        new_accumulator = g * g
        new_accumulator += accumulator
        new_power = self._power(new_accumulator)
        change = new_power - self._power(accumulator)
        change /= lr
        change *= var
        buf -= change
        linear += buf
        quadratic = new_power / lr
        quadratic += 2.0 * l2
        np.subtract(np.clip(linear, -l1, l1), linear, out=buf)
        np.divide(buf, quadratic, out=var)
        accumulator[...] = new_accumulator

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength, "beta": self.beta}
