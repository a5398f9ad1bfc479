"""LAMB (You et al. 2019), Keras' form: Adam's step rescaled per weight tensor by the trust ratio
|w| / |step|, for large batches."""
import math

import numpy as np

from .optimizer import Optimizer


class Lamb(Optimizer):
    """LAMB, Keras' form: Adam's step rescaled per weight tensor by the trust ratio |w| / |step|.

    t = iterations + 1;  m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
    r = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)
    ratio = |w| / |r| (the L2 norms of the whole tensor; 1 where either is 0);  w -= ratio lr r

    No fused kernel: the ratio needs the norm of the whole step before any weight may change, so
    the update is two passes over the tensor whichever way it is written.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="lamb"):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        for label, beta in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Lamb: {label} must be in [0, 1), received {label}={beta}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ('momentum', 'velocity')  # Keras creates them together, parameter by parameter

    def _slot_specs(self):
        return [("momentum", 0.0), ("velocity", 0.0)]

    def _update(self, g, var, lr, i, buf):
        m, v = self._slots["momentum"][i], self._slots["velocity"][i]
        t = self.iterations + 1
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        np.multiply(g, g, out=buf)
        buf -= v
        buf *= 1.0 - self.beta_2
        v += buf
        np.divide(v, 1.0 - self.beta_2 ** t, out=buf)
        np.sqrt(buf, out=buf)
        buf += self.epsilon
        np.divide(m / (1.0 - self.beta_1 ** t), buf, out=buf)   # the Adam step r
        w_norm = math.sqrt(float(np.vdot(var, var)))
        r_norm = math.sqrt(float(np.vdot(buf, buf)))
        ratio = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        buf *= ratio * lr
        var -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
