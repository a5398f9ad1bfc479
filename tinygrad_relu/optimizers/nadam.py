"""Nadam, Keras' form: Adam with Nesterov momentum and Dozat's momentum schedule."""
import numpy as np

from .._kernels import optim_extra as _kernels
from .optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam, Keras' form: Adam with Nesterov momentum and Dozat's momentum schedule.

    t = iterations + 1;  u_t = beta_1 (1 - 0.5 * 0.96^t);  u_prod_t = u_1 u_2 ... u_t
    m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2)
    m_hat = u_(t+1) m / (1 - u_prod_t u_(t+1)) + (1 - u_t) g / (1 - u_prod_t);  v_hat = v / (1 - beta_2^t)
    w -= lr m_hat / (sqrt(v_hat) + epsilon)

    Keras keeps u_prod_t as a variable; it is a function of t, so here it is recomputed from the
    iteration count (in float64) rather than saved.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name="nadam"):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        for label, beta in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"Nadam: {label} must be in [0, 1), received {label}={beta}")
        self._u_products = (0, 1.0)  # (t, u_prod_t), extended one step at a time
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)

    keras_interleaved = ('momentum', 'velocity')  # Keras creates them together, parameter by parameter

    def _slot_specs(self):
        return [("momentum", 0.0), ("velocity", 0.0)]

    def _u(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _u_product(self, t):
        """u_1 u_2 ... u_t (1 for t = 0)."""
        product = 1.0
        for k in range(1, t + 1):
            product *= self._u(k)
        return product

    def keras_extra_state(self):
        """Keras' ``_u_product`` variable, u_prod after the steps taken (derived here from the iteration count)."""
        return [np.array(self._u_product(int(self.iterations)), dtype=np.float32)]

    def _step_constants(self):
        """(weight of m, weight of g, 1 - beta_2^t) of this step's m_hat and v_hat."""
        t = self.iterations + 1
        done, product = self._u_products
        if done > t:  # the iteration count went back (set_state): start over
            done, product = 0, 1.0
        for k in range(done + 1, t + 1):
            product *= self._u(k)
        self._u_products = (t, product)
        u_t, u_next = self._u(t), self._u(t + 1)
        return u_next / (1.0 - product * u_next), (1.0 - u_t) / (1.0 - product), 1.0 - self.beta_2 ** t

    _kernel = staticmethod(_kernels.nadam_update)

    def _kernel_slots(self):
        return "momentum", "velocity"

    def _kernel_args(self, lr):
        m_weight, g_weight, bias_2 = self._step_constants()
        return 1.0 - self.beta_1, 1.0 - self.beta_2, m_weight, g_weight, bias_2, lr, self.epsilon

    def _update(self, g, var, lr, i, buf):
        m, v = self._slots["momentum"][i], self._slots["velocity"][i]
        m_weight, g_weight, bias_2 = self._step_constants()
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        np.multiply(g, g, out=buf)
        buf -= v
        buf *= 1.0 - self.beta_2
        v += buf
        np.divide(v, bias_2, out=buf)
        np.sqrt(buf, out=buf)
        buf += self.epsilon                         # sqrt(v_hat) + epsilon
        m_hat = m * m_weight
        m_hat += g * g_weight
        m_hat *= lr
        np.divide(m_hat, buf, out=buf)
        var -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

