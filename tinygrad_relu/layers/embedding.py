"""Embedding: integer indices -> rows of a learned (input_dim, output_dim) table (Keras' ``keras.layers.Embedding``).

    >>> layer = Embedding(input_dim=1000, output_dim=64, mask_zero=True)
    >>> layer(np.array([[4, 20, 0, 0]])).shape          # index 0 is padding: masked out downstream
    (1, 4, 64)

out[..., :] = embeddings[index]; d out / d embeddings adds each row's gradient into the row it was read
from (summed where an index repeats). Indices may be integers or whole floats (a Sequential model hands its
first layer float32, exact below 2**24). With ``mask_zero=True`` index 0 stands for padding: the output
carries the mask ``index != 0`` (layers/mask_propagation.py), which recurrent layers, pooling and the
losses honour, and input_dim must leave room for it (indices 1..input_dim-1 for real tokens).
"""
import warnings

import numpy as np

from .. import initializers, regularizers
from ..tensor import Tensor
from .base import Layer
from .checks import positive_int


class Embedding(Layer):
    """Turns indices (batch, ...) into vectors (batch, ..., output_dim)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "input_dim", self.name)
        self.output_dim = positive_int(output_dim, "output_dim", self.name)
        if lora_rank is not None or lora_alpha is not None:
            raise NotImplementedError(f"Embedding '{self.name}': LoRA (lora_rank, lora_alpha) is not supported")
        if embeddings_constraint is not None and not callable(embeddings_constraint):
            raise NotImplementedError(f"Embedding '{self.name}': embeddings_constraint={embeddings_constraint!r} is "
                                      "not supported; pass a callable that maps the table to its constrained values")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _indices(self, inputs):
        """The inputs as an integer index array, each checked to be a whole number in [0, input_dim)."""
        values = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        if values.dtype.kind == "f":
            whole = np.isfinite(values) & (values == np.floor(values))
            if not whole.all():
                raise ValueError(f"Embedding '{self.name}': indices must be whole numbers, received values such as "
                                 f"{values[~whole][:3].tolist()}")
            if values.dtype == np.float32 and values.size and np.abs(values).max() >= 2 ** 24:
                raise ValueError(f"Embedding '{self.name}': indices from 2**24 on are not exact as float32 (a "
                                 "Sequential model converts its input to its first layer's dtype); pass integer "
                                 "indices through a functional model's Input(dtype='int32')")
        elif values.dtype.kind not in "iub":
            raise TypeError(f"Embedding '{self.name}': indices must be integers, received dtype {values.dtype}")
        indices = values.astype(np.intp, copy=False)
        if indices.size:
            low, high = int(indices.min()), int(indices.max())
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise ValueError(f"Embedding '{self.name}': index {bad} is out of range for input_dim="
                                 f"{self.input_dim} (valid indices 0..{self.input_dim - 1})")
        return indices

    def _as_input(self, value):
        """Integer indices stay integers (the base class would convert them to the layer's float dtype)."""
        if not isinstance(value, Tensor):
            array = np.asarray(value)
            if array.dtype.kind in "iu":
                return Tensor._make(np.ascontiguousarray(array), False, None)
        return super()._as_input(value)

    def call(self, inputs):
        return self.embeddings[self._indices(inputs)]

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        values = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return Tensor._make(values != 0, False, None)

    def get_config(self):
        config = super().get_config()
        if self.embeddings_constraint is not None:
            raise NotImplementedError(f"Embedding '{self.name}': a layer with an embeddings_constraint cannot be saved "
                                      "(constraints are callables here, with no config)")
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                       "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                       "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                       "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                       "embeddings_constraint": None, "mask_zero": self.mask_zero})
        return config
