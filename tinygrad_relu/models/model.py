"""Model: what every Keras-style model has, whatever its structure: weights, summary, saving, training.

A subclass (Sequential) defines the structure: ``layers``, ``build``, ``call``, ``_forward_loss``,
``get_config``/``from_config`` and ``_summary_rows``.
"""
import json

from .. import _registry, saving
from .._state import unique_name
from ..utils.summary_utils import summary_text
from .trainer import Trainer


class Model(Trainer):
    """The base of the model classes (Keras' ``keras.Model``)."""

    def __init__(self, name=None, trainable=True):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{type(self).__name__}: `name` must be a non-empty string, received {name!r}")
        self.name = name if name is not None else unique_name(_registry.snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self._init_trainer()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _registry.register_model_class(cls)

    # ---- weights ----------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    @property
    def losses(self):
        return [p for layer in self.layers for p in layer.losses]

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on model '{self.name}', but the model isn't built. "
                             "Build it with `model.build(input_shape)` or by calling it on data.")
        return int(sum(layer.count_params() for layer in self.layers))

    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("get_layer: provide only a layer name or a layer index, not both")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for model '{self.name}' with "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Load a Keras-ordered list of arrays; every count and shape is checked before anything changes."""
        if not self.built:
            self.build()
        weights = list(weights)
        layers = self.layers
        expected = sum(len(layer.weights) for layer in layers)
        if len(weights) != expected:
            raise ValueError(f"{type(self).__name__} '{self.name}': set_weights expected a list of {expected} "
                             f"arrays (one per weight), received {len(weights)}")
        checked, start = [], 0
        for layer in layers:
            n = len(layer.weights)
            checked.append((layer, layer._checked_weights(weights[start:start + n])))
            start += n
        for layer, arrays in checked:
            for target, value in zip(layer.weights, arrays):
                target.data[...] = value

    # ---- summary ---------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras 3's table: Layer (type) | Output Shape | Param #, then the parameter totals."""
        print_fn = print_fn or print
        print_fn(summary_text(self, self._summary_rows(), line_length=line_length))

    # ---- configuration and saving ----------------------------------------------------------
    def to_json(self):
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()})

    def save(self, filepath, overwrite=True):
        """Write architecture, weights and optimizer state to one file (atomic; no pickle)."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        saving.load_weights(self, filepath)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}, layers={len(self.layers)}>"

