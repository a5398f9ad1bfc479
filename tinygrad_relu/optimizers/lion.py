"""Lion (Chen et al. 2023), Keras' form: a step of fixed size lr per weight, in the direction of the sign of
an interpolated momentum."""
import numpy as np

from .._kernels import optim_extra as _kernels
from .optimizer import Optimizer


class Lion(Optimizer):
    """Lion, Keras' form: w -= lr sign(beta_1 m + (1 - beta_1) g);  then m = beta_2 m + (1 - beta_2) g.

    Every weight moves by exactly lr (or 0), so Lion wants a learning rate 3-10x smaller than Adam's.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name="lion"):
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        if not 0 < self.beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in the (0, 1] range, otherwise the optimizer degenerates to "
                             f"SignSGD; received beta_1={beta_1}")
        if not 0 <= self.beta_2 <= 1:
            raise ValueError(f"Lion: beta_2 must be in [0, 1], received beta_2={beta_2}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    def _slot_specs(self):
        return [("momentum", 0.0)]

    _kernel = staticmethod(_kernels.lion_update)

    def _kernel_slots(self):
        return ("momentum",)

    def _kernel_args(self, lr):
        return lr, self.beta_1, 1.0 - self.beta_1, self.beta_2, 1.0 - self.beta_2

    def _update(self, g, var, lr, i, buf):
        m = self._slots["momentum"][i]
        np.multiply(m, self.beta_1, out=buf)
        buf += g * (1.0 - self.beta_1)
        np.sign(buf, out=buf)                       # sign(NaN) is NaN, as in Keras
        buf *= lr
        var -= buf
        m *= self.beta_2
        m += g * (1.0 - self.beta_2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
