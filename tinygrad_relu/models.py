"""Sequential: a stack of layers with Keras' compile / fit / evaluate / predict, summary and saving.

    >>> from tinygrad_relu.models import Sequential
    >>> from tinygrad_relu.layers import Dense
    >>> model = Sequential([Dense(64, activation="relu", input_shape=(20,)), Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x, y, epochs=5)            # doctest: +SKIP

What ``fit`` prints, the keys of ``History.history`` and the order of callback hooks are
Keras 3's, so a Keras script runs here with only its imports changed.
"""
import json
import math
import shutil
import sys
import time

import numpy as np

from . import _registry, activations, debug, function, losses, optimizers, utils
from . import callbacks as callbacks_module, metrics as metrics_module
from .function import no_grad
from .layers import InputLayer, Layer
from .layers import get as get_layer_class
from .layers.base import shape_str, unique_name
from .tensor import Tensor

_LAYER_CALL = Layer.__call__  # layers that keep it may be called directly on checked batches

# Softmax (sigmoid) followed by its crossentropy is computed from the logits: log-softmax
# never takes log(0), so a confident wrong prediction gives a large finite loss, not inf.
_FUSABLE = (("softmax", "CategoricalCrossentropy"), ("softmax", "SparseCategoricalCrossentropy"),
            ("sigmoid", "BinaryCrossentropy"))


class Sequential:
    """A linear stack of layers (Keras' ``keras.Sequential``)."""

    def __init__(self, layers=None, trainable=True, name=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"Sequential: `name` must be a non-empty string, received {name!r}")
        self.name = name if name is not None else unique_name("sequential")
        self._layers = []
        self._input_batch_shape = None
        self._input_layer_name = None
        self._output_shapes = []
        self.built = False
        self.trainable = trainable
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._loss_fn = None
        self._metric_entries = []   # [(log key, metric object)]
        self._fused_cache = None
        for layer in layers or []:
            self.add(layer)

    # ---- building the stack ------------------------------------------------------------
    def add(self, layer):
        """Append a layer (or an ``Input`` as the first element, which fixes the input shape)."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input_batch_shape is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the first element of the model")
            self._input_batch_shape = layer.batch_shape
            self._input_layer_name = layer.name
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': only layers can be added, received {layer!r} "
                            f"of type {type(layer).__name__}")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             f"is already the name of a layer in model '{self.name}'.")
        if not self._layers and self._input_batch_shape is None and layer._batch_input_shape is not None:
            self._input_batch_shape = layer._batch_input_shape
        self._layers.append(layer)
        self._fused_cache = None
        if self.built:  # extend the built stack right away, as Keras does
            shape = self._output_shapes[-1]
            layer._ensure_built(shape)
            self._output_shapes.append(tuple(layer.compute_output_shape(shape)))
        elif self._input_batch_shape is not None:
            self.build()

    def pop(self):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}': there are no layers to pop")
        layer = self._layers.pop()
        self._fused_cache = None
        if self._output_shapes:
            self._output_shapes.pop()
        return layer

    @property
    def layers(self):
        return list(self._layers)

    def build(self, input_shape=None):
        """Create every layer's weights for inputs of ``input_shape`` (batch axis included, may be None)."""
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': cannot build without an input shape; pass input_shape= to "
                             "the first layer, start with Input(shape=...), call build((None, ...)) or call the model "
                             "on data")
        shape = tuple(None if d is None else int(d) for d in input_shape)
        self._check_declared_input(shape)
        shapes = []
        for layer in self._layers:
            layer._ensure_built(shape)
            shape = tuple(layer.compute_output_shape(shape))
            shapes.append(shape)
        if self._input_batch_shape is None:
            self._input_batch_shape = (None,) + tuple(input_shape[1:])
        self._output_shapes = shapes
        self.built = True

    def _check_declared_input(self, shape):
        """Data of ``shape`` must fit the first layer and any declared input shape."""
        if self._layers:
            self._layers[0].check_input_shape(shape)
        declared = self._input_batch_shape
        if declared is None:
            return
        who = self._layers[0].name if self._layers else self.name
        if len(shape) != len(declared) or any(d is not None and s is not None and d != s
                                              for d, s in zip(declared[1:], shape[1:])):
            raise ValueError(f"Input 0 of layer '{who}' is incompatible with the layer: expected shape="
                             f"{shape_str(declared)}, found shape={shape_str(shape)}")

    def _check_data_shape(self, shape):
        """Check all of x's shape through the stack before any batch runs (messages show the full shape)."""
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        if not self.built:
            self.build((None,) + tuple(shape[1:]))
        # train_on_batch checks every batch: a shape this very stack already accepted passes at once
        key = (tuple(shape[1:]), len(shape), tuple(self._layers), self._input_batch_shape)
        if key == self.__dict__.get("_accepted_shape"):
            return
        self._check_declared_input(tuple(shape))
        for layer in self._layers:
            layer.check_input_shape(tuple(shape))
            shape = tuple(layer.compute_output_shape(tuple(shape)))
        self._accepted_shape = key

    @property
    def input_shape(self):
        return self._input_batch_shape

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no output shape")
        return self._output_shapes[-1]

    # ---- computing ------------------------------------------------------------------------
    def __call__(self, x, training=False):
        return self.call(x, training=training)

    def call(self, x, training=False):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        if not isinstance(x, Tensor):
            x = Tensor(np.ascontiguousarray(np.asarray(x, dtype=self._dtype())))
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def _dtype(self):
        return self._layers[0].dtype if self._layers else "float32"

    # ---- weights ----------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    @property
    def losses(self):
        return [p for layer in self._layers for p in layer.losses]

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on model '{self.name}', but the model isn't built. "
                             "Build it with `model.build(input_shape)` or by calling it on data.")
        return int(sum(layer.count_params() for layer in self._layers))

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("get_layer: provide only a layer name or a layer index, not both")
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"get_layer: index {index} is out of range for model '{self.name}' with "
                                 f"{len(self._layers)} layers")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self._layers]}.")

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Load a Keras-ordered list of arrays; every count and shape is checked before anything changes."""
        if not self.built:
            self.build()
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"Sequential '{self.name}': set_weights expected a list of {expected} arrays "
                             f"(one per weight), received {len(weights)}")
        checked, start = [], 0
        for layer in self._layers:
            n = len(layer.weights)
            checked.append((layer, layer._checked_weights(weights[start:start + n])))
            start += n
        for layer, arrays in checked:
            for target, value in zip(layer.weights, arrays):
                target.data[...] = value

    # ---- summary -------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print Keras 3's table: Layer (type) | Output Shape | Param #, then the parameter totals."""
        print_fn = print_fn or print
        print_fn(summary_text(self, line_length=line_length))

    # ---- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, the loss and the metrics (names or objects, as Keras)."""
        if loss_weights is not None:
            hint = " (did you mean metrics=?)" if isinstance(loss_weights, (list, tuple)) and \
                any(isinstance(w, str) for w in loss_weights) else ""
            raise NotImplementedError(f"compile: loss_weights is not supported for a single-output model{hint}")
        self.optimizer = optimizers.get(optimizer)
        self._loss_fn = losses.get(loss) if loss is not None else None
        self.loss = loss
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        entries = []
        for m in metrics:
            metric = metrics_module.get(m, loss=self._loss_fn)
            key = m if isinstance(m, str) else getattr(metric, "name", type(metric).__name__)
            if any(key == k for k, _ in entries):
                raise ValueError(f"compile: metric '{key}' is given twice")
            entries.append((key, metric))
        self._metric_entries = entries
        self._fused_cache = None
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _serialize_loss(loss, self._loss_fn),
            "metrics": [_serialize_metric(m, metric) for m, (_, metric) in zip(metrics, entries)],
        }

    @property
    def metrics_names(self):
        return ["loss"] + [key for key, _ in self._metric_entries]

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{what}()` on model '{self.name}'.")
        if self._loss_fn is None and what != "predict":
            raise ValueError(f"{what}: model '{self.name}' was compiled without a loss; pass loss= to compile()")

    # ---- one step ------------------------------------------------------------------------------
    def _fused_loss(self):
        """The from_logits=True copy of the loss when the last layer ends in its matching activation."""
        key = (id(self._layers[-1]), id(self._loss_fn))
        if self._fused_cache is not None and self._fused_cache[0] == key:
            return self._fused_cache[1]
        fused = None
        last = self._layers[-1]
        activation = last.output_activation_name()
        loss = self._loss_fn
        if (activation, type(loss).__name__) in _FUSABLE and not getattr(loss, "from_logits", True):
            fused = (_from_logits_copy(loss), activations.get(activation))
        self._fused_cache = (key, fused)
        return fused

    def _forward_loss(self, x, y, training):
        """(total loss Tensor, predictions ndarray or None when no metric reads them) for one batch.

        ``x`` has passed _prepare_x, which checked its shape through the whole stack, so a built
        layer receiving its own dtype is called directly, without Layer.__call__'s per-batch checks.
        """
        h = Tensor._make(x, False, None)
        layers = self._layers
        fused = self._fused_loss()
        body = layers if fused is None else layers[:-1]
        direct = function._anomaly_hook is None  # detect_anomaly() needs Layer.__call__'s layer names
        for layer in body:
            if direct and type(layer).__call__ is _LAYER_CALL and layer.built and h.data.dtype == layer.dtype:
                h = layer.call(h, training=training)
            else:
                h = layer(h, training=training)
        if fused is None:
            loss = self._loss_fn(y, h)
            predictions = h.data
        else:
            last = layers[-1]
            last._ensure_built(h.shape)
            if direct:
                logits = last.call_logits(h, training=training)
            else:
                with debug.layer_scope(last.name):
                    logits = last.call_logits(h, training=training)
            loss_from_logits, activation = fused
            loss = loss_from_logits(y, logits)
            predictions = None
            if self._metric_entries:  # only metrics read the predictions: skip the softmax otherwise
                with no_grad():
                    predictions = activation(Tensor._make(logits.data, False, None)).data
        if self._has_regularizers():
            for penalty in self.losses:
                loss = loss + penalty
        return loss, predictions

    def _has_regularizers(self):
        """Whether any layer may add a penalty (cheaper than building the empty ``losses`` list per step)."""
        for layer in self._layers:
            if type(layer).losses is not Layer.losses:  # a layer with its own losses: ask it
                return True
            for record in layer._weight_records:
                if record[3] is not None:
                    return True
        return False

    def _train_step(self, x, y):
        params = self.trainable_weights
        for p in params:
            p.grad = None
        if not self.optimizer.built and params:
            self.optimizer.build(params)  # state in the model's weight order, which saving relies on
        loss, predictions = self._forward_loss(x, y, training=True)
        if loss.requires_grad:
            loss.backward()
            for p in params:  # a weight the loss does not reach gets a zero gradient (Keras does too)
                if p.grad is None:
                    p.grad = np.zeros_like(p.data)
            self.optimizer.apply_gradients(params)
        for p in params:  # release the gradients: nothing grows across steps
            p.grad = None
        return float(loss.item()), predictions

    def _test_step(self, x, y):
        with no_grad():
            loss, predictions = self._forward_loss(x, y, training=False)
        return float(loss.item()), predictions

    # ---- fit / evaluate / predict ---------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the History callback (``history.history`` has Keras' keys)."""
        self._require_compiled("fit")
        _unsupported("fit", class_weight=class_weight, sample_weight=sample_weight, steps_per_epoch=steps_per_epoch,
                     validation_steps=validation_steps)
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "fit")
        epochs = _positive_int(epochs, "epochs", "fit")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be a non-negative integer, received {initial_epoch!r}")
        validation_freq = _positive_int(validation_freq, "validation_freq", "fit")
        verbose = _resolve_verbose(verbose, "fit")
        x, y = self._prepare_xy(x, y, "fit")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be a number in [0, 1), received {validation_split!r}")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val), received "
                                 f"{type(validation_data).__name__}")
            if len(validation_data) == 3 and validation_data[2] is not None:
                raise ValueError("fit: sample weights in validation_data are not supported")
            x_val, y_val = self._prepare_xy(validation_data[0], validation_data[1], "fit (validation_data)")
        elif validation_split:
            split_at = int(math.floor(len(x) * (1.0 - validation_split)))  # Keras keeps the last part
            if split_at == 0 or split_at == len(x):
                raise ValueError(f"fit: validation_split={validation_split} leaves "
                                 f"{'no training' if split_at == 0 else 'no validation'} samples out of {len(x)}")
            x, x_val, y, y_val = x[:split_at], x[split_at:], y[:split_at], y[split_at:]
        else:
            x_val = y_val = None
        val_batch_size = batch_size if validation_batch_size is None else _positive_int(
            validation_batch_size, "validation_batch_size", "fit")

        n = len(x)
        steps = math.ceil(n / batch_size)
        history = callbacks_module.History()
        hooks = _Hooks(callbacks, history, ProgbarLogger() if verbose else None, self,
                       {"verbose": verbose, "epochs": epochs, "steps": steps})
        self.stop_training = False
        self.history = history
        rng = utils.get_rng()
        training_logs = {}
        hooks.call("on_train_begin")
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            hooks.call("on_epoch_begin", epoch)
            order = rng.permutation(n) if shuffle else None
            tracker = _MeanTracker()
            for step in range(steps):
                hooks.call("on_train_batch_begin", step)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                if order is not None:
                    rows = order[rows]
                xb, yb = x[rows], y[rows]
                loss, predictions = self._train_step(xb, yb)
                tracker.add(loss, len(xb))
                self._update_metrics(yb, predictions)
                logs = self._logs(tracker)
                hooks.call("on_train_batch_end", step, logs=logs)
                if self.stop_training:
                    break
            epoch_logs = self._logs(tracker)
            if x_val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._test_loop(x_val, y_val, val_batch_size, hooks)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            hooks.call("on_epoch_end", epoch, logs=epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        hooks.call("on_train_end", logs=training_logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over the data: a float, a list [loss, metric, ...], or a dict with return_dict."""
        self._require_compiled("evaluate")
        _unsupported("evaluate", sample_weight=sample_weight, steps=steps)
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "evaluate")
        verbose = _resolve_verbose(verbose, "evaluate")
        x, y = self._prepare_xy(x, y, "evaluate")
        hooks = _Hooks(callbacks, None, ProgbarLogger() if verbose else None, self,
                       {"verbose": verbose, "epochs": 1, "steps": math.ceil(len(x) / batch_size)})
        logs = self._test_loop(x, y, batch_size, hooks)
        return self._format_result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as one numpy array (computed batch by batch, without a graph)."""
        _unsupported("predict", steps=steps)
        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size", "predict")
        verbose = _resolve_verbose(verbose, "predict")
        x = self._prepare_x(x, "predict")
        steps_total = math.ceil(len(x) / batch_size)
        hooks = _Hooks(callbacks, None, ProgbarLogger() if verbose else None, self,
                       {"verbose": verbose, "epochs": 1, "steps": steps_total})
        outputs = []
        hooks.call("on_predict_begin")
        with no_grad():
            for step in range(steps_total):
                hooks.call("on_predict_batch_begin", step)
                out = self.call(Tensor._make(x[step * batch_size:(step + 1) * batch_size], False, None)).data
                outputs.append(out)
                hooks.call("on_predict_batch_end", step, logs={"outputs": out})
        hooks.call("on_predict_end")
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        _unsupported("train_on_batch", sample_weight=sample_weight, class_weight=class_weight)
        return self._one_batch(self._train_step, x, y, "train_on_batch", return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch, without training."""
        self._require_compiled("test_on_batch")
        _unsupported("test_on_batch", sample_weight=sample_weight)
        return self._one_batch(self._test_step, x, y, "test_on_batch", return_dict)

    def _one_batch(self, step, x, y, who, return_dict):
        """train_on_batch / test_on_batch: ``step`` on one batch, with fresh metrics."""
        x, y = self._prepare_xy(x, y, who)
        self._reset_metrics()
        loss, predictions = step(x, y)
        tracker = _MeanTracker()
        tracker.add(loss, len(x))
        self._update_metrics(y, predictions)
        return self._format_result(self._logs(tracker), return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x(x, "predict_on_batch")
        with no_grad():
            return self.call(Tensor._make(x, False, None)).data

    def _test_loop(self, x, y, batch_size, hooks):
        self._reset_metrics()
        tracker = _MeanTracker()
        steps = math.ceil(len(x) / batch_size)
        hooks.call("on_test_begin")
        logs = {}
        for step in range(steps):
            hooks.call("on_test_batch_begin", step)
            rows = slice(step * batch_size, (step + 1) * batch_size)
            xb, yb = x[rows], y[rows]
            loss, predictions = self._test_step(xb, yb)
            tracker.add(loss, len(xb))
            self._update_metrics(yb, predictions)
            logs = self._logs(tracker)
            hooks.call("on_test_batch_end", step, logs=logs)
        logs = self._logs(tracker)
        hooks.call("on_test_end", logs=logs)
        return logs

    def _format_result(self, logs, return_dict):
        if return_dict:
            return logs
        if not self._metric_entries:
            return logs["loss"]
        return [logs[name] for name in self.metrics_names]

    # ---- metrics bookkeeping ---------------------------------------------------------------
    def _reset_metrics(self):
        for _, metric in self._metric_entries:
            metric.reset_state()

    def _update_metrics(self, y, predictions):
        for _, metric in self._metric_entries:
            metric.update_state(y, predictions)

    def _logs(self, tracker):
        logs = {"loss": tracker.result()}
        for key, metric in self._metric_entries:
            logs[key] = float(metric.result())
        return {k: logs[k] for k in sorted(logs)}  # Keras 3 sorts the logs by name

    # ---- input conversion (once per call, never per batch) ------------------------------------
    def _prepare_x(self, x, who):
        if x is None:
            raise ValueError(f"{who}: x is required")
        x = _as_float_array(x, self._dtype(), f"{who}: x")
        if x.ndim == 0:
            raise ValueError(f"{who}: x must have a batch axis, received a scalar")
        if len(x) == 0:
            raise ValueError(f"{who}: x is empty (shape {x.shape}); there is nothing to run on")
        self._check_data_shape(x.shape)
        return x

    def _prepare_xy(self, x, y, who):
        if y is None:
            raise ValueError(f"{who}: y (the targets) is required")
        x = self._prepare_x(x, who)
        y = _as_target_array(y, self._dtype(), f"{who}: y")
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(f"{who}: x and y must hold the same number of samples, received x with {len(x)} "
                             f"samples (shape {x.shape}) and y with {len(y) if y.ndim else 0} samples "
                             f"(shape {y.shape})")
        return x, y

    # ---- configuration and saving ------------------------------------------------------------
    def get_config(self):
        layer_configs = []
        if self._input_batch_shape is not None:
            layer_configs.append({"class_name": "InputLayer", "config": {
                "batch_shape": list(self._input_batch_shape), "dtype": self._dtype(),
                "name": self._input_layer_name or "input_layer"}})
        for layer in self._layers:
            layer_configs.append(_registry.serialize(layer))
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("Sequential.from_config: expected a dict with a 'layers' list")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        custom_objects = custom_objects or {}
        for i, entry in enumerate(config["layers"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
                    or not isinstance(entry.get("config", {}), dict):
                raise ValueError(f"Sequential.from_config: layer entry {i} must be a dict with 'class_name' and 'config'")
            class_name = entry["class_name"]
            layer_cls = custom_objects.get(class_name) or get_layer_class(class_name)
            try:
                layer = layer_cls.from_config(dict(entry.get("config", {})))
            except (TypeError, ValueError, NotImplementedError) as err:
                raise ValueError(f"Sequential.from_config: invalid config for layer {i} ({class_name}): {err}") from None
            model.add(layer)
        return model

    def to_json(self):
        return json.dumps({"class_name": "Sequential", "config": self.get_config()})

    def save(self, filepath, overwrite=True):
        """Write architecture, weights and optimizer state to one file (atomic; no pickle)."""
        from . import saving
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        from . import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        from . import saving
        saving.load_weights(self, filepath)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}, layers={len(self._layers)}>"


def load_model(filepath, custom_objects=None, compile=True):
    """Read a file written by ``model.save``: a model that predicts identically and trains on."""
    from . import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


def model_from_json(json_string, custom_objects=None):
    data = json.loads(json_string)
    if not isinstance(data, dict) or data.get("class_name") != "Sequential":
        raise ValueError("model_from_json: only Sequential models are supported")
    return Sequential.from_config(data.get("config"), custom_objects=custom_objects)


# ---- helpers ---------------------------------------------------------------------------------
class _MeanTracker:
    """Running mean of the loss weighted by batch size (Keras' loss tracker)."""

    def __init__(self):
        self.total = 0.0
        self.count = 0

    def add(self, value, n):
        self.total += value * n
        self.count += n

    def result(self):
        return self.total / self.count if self.count else 0.0


class _Hooks:
    """Calls a hook on every callback in Keras' order: the user's, then History, then the progress bar."""

    def __init__(self, user_callbacks, history, progbar, model, params):
        if user_callbacks is None:
            user_callbacks = []
        elif not isinstance(user_callbacks, (list, tuple)):
            user_callbacks = getattr(user_callbacks, "callbacks", None) or [user_callbacks]
        self.callbacks = list(user_callbacks)
        if history is not None:
            self.callbacks.append(history)
        if progbar is not None:
            self.callbacks.append(progbar)
        for cb in self.callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(model)
            if hasattr(cb, "set_params"):
                cb.set_params(dict(params))

    def call(self, hook, *args, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args, logs)  # positional, as Keras passes it: lambda epoch, l: ... works


class ProgbarLogger:
    """Keras 3's progress output for fit / evaluate / predict (verbose=1 bar, verbose=2 one line)."""

    def __init__(self):
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.model = None
        self._called_in_fit = False
        self.progbar = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _reset(self):
        self.progbar = Progbar(self.target, verbose=self.verbose)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()

    def on_predict_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        if self.verbose and self.epochs > 1:
            _write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self.progbar.update(batch + 1, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, None)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self.progbar.seen, logs, finalize=True)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self.progbar.update(self.progbar.seen, logs, finalize=True)

    def on_predict_end(self, logs=None):
        self.progbar.update(self.progbar.seen, None, finalize=True)


def _write(text):
    sys.stdout.write(text)
    sys.stdout.flush()


class Progbar:
    """Keras 3's bar: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9000 - loss: 0.3000``.

    On a terminal it is redrawn in place with a carriage return; otherwise (a log file, a
    pipe) only the final line of each epoch is written, so logs stay one line per epoch.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.dynamic = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        self.seen = 0
        self.values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    def _time_per_step(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    @staticmethod
    def _format_time(per_step):
        if per_step >= 1 or per_step == 0:
            return f"{per_step:.0f}s/step"
        if per_step >= 1e-3:
            return f"{per_step * 1e3:.0f}ms/step"
        return f"{per_step * 1e6:.0f}us/step"

    def _metrics_text(self):
        text = ""
        for key, value in self.values.items():
            text += f" - {key}: {value:.4f}" if abs(value) > 1e-3 else f" - {key}: {value:.4e}"
        return text

    def update(self, current, values=None, finalize=False):
        if values:
            self.values = {k: float(v) for k, v in values.items() if _is_number(v)}
        self.seen = current
        now = time.time()
        per_step = self._time_per_step(current, now)
        if self.verbose == 2:
            if finalize:
                count = f"{current:{len(str(self.target))}d}/{self.target}"
                _write(f"{count} - {now - self._start:.0f}s - {self._format_time(per_step)}{self._metrics_text()}\n")
            return
        if self.verbose != 1 or (not finalize and not self.dynamic):
            return
        if not finalize and now - self._last_update < self.interval:
            return
        self._last_update = now
        digits = len(str(self.target))
        filled = int(self.width * current / self.target) if self.target else self.width
        if self.dynamic:
            head = f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m "
            bar = (f"\x1b[32m{'━' * filled}\x1b[0m" if filled else "") + f"\x1b[37m{'━' * (self.width - filled)}\x1b[0m"
        else:
            head = f"{current:{digits}d}/{self.target} "
            bar = "━" * self.width
        if finalize:
            timing = f" {now - self._start:.0f}s"
        else:
            eta = per_step * (self.target - current)
            timing = f" {eta // 3600:.0f}:{(eta % 3600) // 60:02.0f}:{eta % 60:02.0f}" if eta > 3600 else \
                f" {eta // 60:.0f}:{eta % 60:02.0f}" if eta > 60 else f" {eta:.0f}s"
        line = f"{head}{bar}{timing} {self._format_time(per_step)}{self._metrics_text()}"
        if self.dynamic:
            visible = len(_strip_ansi(line))
            pad = " " * max(0, self._prev_width - visible)
            self._prev_width = visible
            _write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            _write(line + "\n")


def _strip_ansi(text):
    import re
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _is_number(value):
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def _resolve_verbose(verbose, who):
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2) and not isinstance(verbose, bool):
        return int(verbose)
    if verbose is True or verbose is False:
        return int(verbose)
    raise ValueError(f"{who}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")


def _positive_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, received {name}={value!r}")
    return int(value)


def _unsupported(who, **kwargs):
    given = [k for k, v in kwargs.items() if v is not None]
    if given:
        raise NotImplementedError(f"{who}: {', '.join(given)} is not supported yet")


def _numeric_array(data, who):
    """``data`` (a Tensor or anything array-like) as a numpy array of numbers."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.asarray(data)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{who} must be a rectangular array; {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who} must hold numbers, received dtype {arr.dtype}")
    return arr


def _as_float_array(data, dtype, who):
    arr = _numeric_array(data, who)
    if arr.dtype != dtype or not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    return arr


def _as_target_array(data, dtype, who):
    arr = _numeric_array(data, who)
    if arr.dtype.kind == "f" and arr.dtype != dtype:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "b":
        arr = arr.astype(dtype)
    return np.ascontiguousarray(arr)


def _from_logits_copy(loss):
    """The same loss with from_logits=True (its other settings kept)."""
    try:
        config = dict(loss.get_config())
        config["from_logits"] = True
        return type(loss).from_config(config) if hasattr(type(loss), "from_config") else type(loss)(**config)
    except (AttributeError, TypeError):
        import copy
        clone = copy.copy(loss)
        clone.from_logits = True
        return clone


def _serialize_loss(identifier, loss_fn):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return identifier
    if hasattr(loss_fn, "get_config"):
        return _registry.serialize(loss_fn)
    return getattr(loss_fn, "name", None) or getattr(loss_fn, "__name__", None)


def _serialize_metric(identifier, metric):
    if isinstance(identifier, str):
        return identifier
    if hasattr(metric, "get_config"):
        return _registry.serialize(metric)
    return getattr(metric, "name", type(metric).__name__)


# ---- summary ---------------------------------------------------------------------------------
def _readable_size(nbytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes / 1024 < 1:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


def _weights_size(weights):
    return float(sum(w.size * w.dtype.itemsize for w in weights))


def summary_text(model, line_length=None):
    """Keras 3's summary table, drawn with the same box characters (without colour)."""
    if line_length is None:
        line_length = min(88, shutil.get_terminal_size().columns - 4)
    inner = line_length - 4  # four vertical borders
    name_w = round(inner * 0.455)
    param_w = round(inner * 0.205)
    shape_w = inner - name_w - param_w
    widths = (name_w, shape_w, param_w)

    def border(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    def cells(values, edge, aligns=("<", "<", ">")):
        """One table row; text too wide for its column wraps at spaces onto more lines, as Keras' does."""
        columns = [_wrap(str(value), w - 2) for value, w in zip(values, widths)]
        height = max(len(c) for c in columns)
        out = []
        for k in range(height):
            parts = [" " + f"{(c[k] if k < len(c) else ''):{a}{w - 2}}" + " "
                     for c, w, a in zip(columns, widths, aligns)]
            out.append(edge + edge.join(parts) + edge)
        return "\n".join(out)

    rows = []
    for i, layer in enumerate(model.layers):
        shape = model._output_shapes[i] if model.built and i < len(model._output_shapes) else None
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append((f"{layer.name} ({type(layer).__name__})", "?" if shape is None else shape_str(shape), params))
    lines = [f'Model: "{model.name}"',
             border("┏", "━", "┳", "┓"),
             cells(("Layer (type)", "Output Shape", "Param #"), "┃"),
             border("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            lines.append(border("├", "─", "┼", "┤"))
        lines.append(cells(row, "│"))
    lines.append(border("└", "─", "┴", "┘"))
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    n_train = sum(w.size for w in trainable)
    n_non = sum(w.size for w in non_trainable)
    size_train, size_non = _weights_size(trainable), _weights_size(non_trainable)
    optimizer = model.optimizer
    n_opt = size_opt = None
    if model.compiled and optimizer is not None and getattr(optimizer, "built", False):
        # Keras counts every optimizer variable (iterations, the learning rate, the slots) at
        # 4 bytes each, and adds them to the total
        state = optimizer.get_state() if hasattr(optimizer, "get_state") else []
        n_opt = sum(np.asarray(a).size for a in state)
        size_opt = 4.0 * n_opt
    lines.append(f" Total params: {n_train + n_non + (n_opt or 0):,} "
                 f"({_readable_size(size_train + size_non + (size_opt or 0.0))})")
    lines.append(f" Trainable params: {n_train:,} ({_readable_size(size_train)})")
    lines.append(f" Non-trainable params: {n_non:,} ({_readable_size(size_non)})")
    if n_opt is not None:
        lines.append(f" Optimizer params: {n_opt:,} ({_readable_size(size_opt)})")
    return "\n".join(lines)


def _wrap(text, width):
    """Split text into lines of at most width characters, at spaces where possible."""
    lines, line = [], ""
    for word in text.split(" "):
        while len(word) > width:  # a single word longer than the column is cut hard
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines
