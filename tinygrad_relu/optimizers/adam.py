"""Adam, Keras' form: the bias corrections scale the step, epsilon is added to sqrt(v)."""
import math

import numpy as np

from .._kernels import optim as _kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam, Keras' form: the bias corrections scale the step, epsilon is added to sqrt(v).

    t = iterations + 1;  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2);  (amsgrad: v_hat = max(v_hat, v), used for v)
    w -= alpha * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam"):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        for label, beta in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{type(self).__name__}: {label} must be in [0, 1), received {label}={beta}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ("momentum", "velocity")

    def _slot_specs(self):
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        return specs + [("velocity_hat", 0.0)] if self.amsgrad else specs

    _kernel = staticmethod(_kernels.adam_update)

    def _kernel_slots(self):
        return "momentum", "velocity", "velocity_hat" if self.amsgrad else None

    def _kernel_args(self, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        return 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon, alpha

    def _update(self, g, var, lr, i, buf):
        m, v = self._slots["momentum"][i], self._slots["velocity"][i]
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        np.multiply(g, g, out=buf)
        buf -= v
        buf *= 1.0 - self.beta_2
        v += buf
        if self.amsgrad:
            v_hat = self._slots["velocity_hat"][i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= alpha
        var -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
