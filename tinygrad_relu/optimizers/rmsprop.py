"""RMSprop, Keras' form (epsilon inside the square root)."""
import numpy as np

from .._kernels import optim as _kernels
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, Keras' form (epsilon inside the square root).

    v = rho v + (1 - rho) g^2;  centered: a = rho a + (1 - rho) g, denominator v - a^2 + eps, else v + eps
    step = lr g / sqrt(denominator);  momentum: mom = momentum mom + step, w -= mom;  else w -= step
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="rmsprop"):
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        if not 0 <= self.rho < 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), received rho={rho}")
        if self.momentum < 0:
            raise ValueError(f"RMSprop: momentum must be non-negative, received momentum={momentum}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    def _slot_specs(self):
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return specs

    _kernel = staticmethod(_kernels.rmsprop_update)

    def _kernel_slots(self):
        return ("velocity", "average_gradient" if self.centered else None,
                "momentum" if self.momentum > 0 else None)

    def _kernel_args(self, lr):
        return lr, self.rho, 1.0 - self.rho, self.epsilon, self.momentum

    def _update(self, g, var, lr, i, buf):
        rho = self.rho
        v = self._slots["velocity"][i]
        v *= rho
        np.multiply(g, g, out=buf)
        buf *= 1.0 - rho
        v += buf
        if self.centered:
            a = self._slots["average_gradient"][i]
            a *= rho
            np.multiply(g, 1.0 - rho, out=buf)
            a += buf
            np.multiply(a, a, out=buf)
            np.subtract(v, buf, out=buf)
            buf += self.epsilon
        else:
            np.add(v, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        if self.momentum > 0:
            mom = self._slots["momentum"][i]
            mom *= self.momentum
            mom += buf
            var -= mom
        else:
            var -= buf

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
