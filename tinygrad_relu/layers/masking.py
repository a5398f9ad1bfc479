"""Masking: mark the timesteps whose features all equal ``mask_value`` as padding (Keras' ``keras.layers.Masking``).

For input (batch, timesteps, features), step t of sample n is real when any of its features differs
from mask_value. The output is the input with padded steps set to 0 (d out / d x = 1 on real steps,
0 on padded ones) and carries the mask (batch, timesteps) to the layers after it.
"""
import numpy as np

from .. import ops
from ..tensor import Tensor
from .base import Layer, keeps_shape


class Masking(Layer):
    """Skip the timesteps that are all ``mask_value`` in the layers downstream (LSTM, GRU, pooling, losses)."""
    _supports_masking = True
    compute_output_shape = keeps_shape

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Masking '{self.name}': mask_value must be a number, received {mask_value!r}")
        self.mask_value = float(mask_value)
        self.built = True

    def _real(self, inputs):
        values = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return np.any(values != self.mask_value, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return Tensor._make(self._real(inputs), False, None)

    def call(self, inputs):
        real = self._real(inputs)
        zero = Tensor._make(np.zeros((), dtype=inputs.dtype), False, None)
        outputs = ops.where(real[..., None], inputs, zero)
        outputs._keras_mask = Tensor._make(real, False, None)
        return outputs

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
