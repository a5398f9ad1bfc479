"""Adadelta, Keras' form: steps scaled by the ratio of two running RMS values, of the updates and of the
gradients."""
import numpy as np

from .._kernels import optim_extra as _kernels
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta, Keras' form: steps scaled by the ratio of two running RMS values.

    a_g = rho a_g + (1 - rho) g^2;  delta = -sqrt(a_d + epsilon) g / sqrt(a_g + epsilon)
    a_d = rho a_d + (1 - rho) delta^2;  w += lr delta
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="adadelta"):
        self.rho, self.epsilon = float(rho), float(epsilon)
        if not 0 <= self.rho < 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1), received rho={rho}")
        if not self.epsilon > 0:
            raise ValueError(f"Adadelta: epsilon must be positive, received epsilon={epsilon}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ('accumulated_grad', 'accumulated_delta_var')  # Keras creates them together, parameter by parameter

    def _slot_specs(self):
        return [("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]

    _kernel = staticmethod(_kernels.adadelta_update)

    def _kernel_slots(self):
        return "accumulated_grad", "accumulated_delta_var"

    def _kernel_args(self, lr):
        return lr, self.rho, 1.0 - self.rho, self.epsilon

    def _update(self, g, var, lr, i, buf):
        rho = self.rho
        acc_grad, acc_delta = self._slots["accumulated_grad"][i], self._slots["accumulated_delta_var"][i]
        acc_grad *= rho
        np.multiply(g, g, out=buf)
        buf *= 1.0 - rho
        acc_grad += buf
        np.add(acc_delta, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        buf *= g
        buf /= np.sqrt(acc_grad + self.epsilon)
        np.negative(buf, out=buf)                   # delta
        acc_delta *= rho
        acc_delta += (buf * buf) * (1.0 - rho)
        buf *= lr
        var += buf

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
