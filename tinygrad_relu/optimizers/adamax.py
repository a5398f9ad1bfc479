"""Adamax, Keras' form: Adam with the infinity norm of the gradients in place of their second moment."""
import numpy as np

from .._kernels import optim_extra as _kernels
from .optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax, Keras' form: Adam with the infinity norm of the gradients in place of their second moment.

    t = iterations + 1;  m += (g - m)(1 - beta_1);  u = max(beta_2 u, |g|)
    w -= lr m / ((1 - beta_1^t)(u + epsilon))
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="adamax"):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        for label, beta in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Adamax: {label} must be in [0, 1), received {label}={beta}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ('momentum', 'norm')  # Keras creates them together, parameter by parameter

    def _slot_specs(self):
        return [("momentum", 0.0), ("norm", 0.0)]

    _kernel = staticmethod(_kernels.adamax_update)

    def _kernel_slots(self):
        return "momentum", "norm"

    def _kernel_args(self, lr):
        return 1.0 - self.beta_1, self.beta_2, self.epsilon, 1.0 - self.beta_1 ** (self.iterations + 1), lr

    def _update(self, g, var, lr, i, buf):
        m, u = self._slots["momentum"][i], self._slots["norm"][i]
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        u *= self.beta_2
        np.abs(g, out=buf)
        np.maximum(u, buf, out=u)                   # NaN in either wins, as in Keras
        np.add(u, self.epsilon, out=buf)
        buf *= 1.0 - self.beta_1 ** (self.iterations + 1)
        np.divide(m * lr, buf, out=buf)
        var -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
