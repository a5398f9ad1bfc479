"""Adam with decoupled weight decay (w -= w * weight_decay * lr before the Adam step)."""
from .adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= w * weight_decay * lr before the Adam step)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw"):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float, received weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name)
