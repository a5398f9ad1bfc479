"""Trainer: Keras' compile / fit / evaluate / predict and the per-batch steps, for any model.

The model supplies the structure: ``_forward_loss(x, y, training)`` (the loss Tensor and the
predictions of one batch), ``call``, ``_dtype()``, ``_check_data_shape(shape)`` and its weights.
What ``fit`` prints, the keys of ``History.history`` and the order of callback hooks are Keras
3's, so a Keras script runs here with only its imports changed.
"""
import copy
import math

import numpy as np

from .. import _registry, losses, metrics as metrics_module, optimizers, utils
from ..callbacks import CallbackList
from ..tensor import Tensor, no_grad
from .data import (MeanTracker, as_float_array, as_target_array, positive_int, reject_unsupported,
                   resolve_verbose)


class Trainer:
    """The training half of a Keras model; mixed into Model."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._loss_fn = None
        self._metric_entries = []   # [(log key, metric object)]

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
        self._compiled_changed()
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _serialize_loss(loss, self._loss_fn),
            "metrics": [_serialize_metric(m, metric) for m, (_, metric) in zip(metrics, entries)],
        }

    def _compiled_changed(self):
        """Hook: the loss or the metrics changed (a model may cache what depends on them)."""

    @property
    def metrics_names(self):
        return ["loss"] + [key for key, _ in self._metric_entries]

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{what}()` on model '{self.name}'.")
        if self._loss_fn is None and what != "predict":
            raise ValueError(f"{what}: model '{self.name}' was compiled without a loss; pass loss= to compile()")

    # ---- one step ------------------------------------------------------------------------------
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
        reject_unsupported("fit", class_weight=class_weight, sample_weight=sample_weight,
                           steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size", "fit")
        epochs = positive_int(epochs, "epochs", "fit")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be a non-negative integer, received {initial_epoch!r}")
        validation_freq = positive_int(validation_freq, "validation_freq", "fit")
        verbose = resolve_verbose(verbose, "fit")
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
        val_batch_size = batch_size if validation_batch_size is None else positive_int(
            validation_batch_size, "validation_batch_size", "fit")

        n = len(x)
        steps = math.ceil(n / batch_size)
        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=epochs, steps=steps)
        history = callback_list.history
        self.stop_training = False
        self.history = history
        rng = utils.get_rng()
        training_logs = {}
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            callback_list.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else None
            tracker = MeanTracker()
            for step in range(steps):
                callback_list.on_train_batch_begin(step)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                if order is not None:
                    rows = order[rows]
                xb, yb = x[rows], y[rows]
                loss, predictions = self._train_step(xb, yb)
                tracker.add(loss, len(xb))
                self._update_metrics(yb, predictions)
                callback_list.on_train_batch_end(step, self._logs(tracker))
                if self.stop_training:
                    break
            epoch_logs = self._logs(tracker)
            if x_val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._test_loop(x_val, y_val, val_batch_size, callback_list)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            training_logs = epoch_logs
            if self.stop_training:
                break
        callback_list.on_train_end(training_logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over the data: a float, a list [loss, metric, ...], or a dict with return_dict."""
        self._require_compiled("evaluate")
        reject_unsupported("evaluate", sample_weight=sample_weight, steps=steps)
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size", "evaluate")
        verbose = resolve_verbose(verbose, "evaluate")
        x, y = self._prepare_xy(x, y, "evaluate")
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=math.ceil(len(x) / batch_size))
        logs = self._test_loop(x, y, batch_size, callback_list)
        return self._format_result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as one numpy array (computed batch by batch, without a graph)."""
        reject_unsupported("predict", steps=steps)
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size", "predict")
        verbose = resolve_verbose(verbose, "predict")
        x = self._prepare_x(x, "predict")
        steps_total = math.ceil(len(x) / batch_size)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=steps_total)
        outputs = []
        callback_list.on_predict_begin()
        with no_grad():
            for step in range(steps_total):
                callback_list.on_predict_batch_begin(step)
                out = self.call(Tensor._make(x[step * batch_size:(step + 1) * batch_size], False, None)).data
                outputs.append(out)
                callback_list.on_predict_batch_end(step, {"outputs": out})
        callback_list.on_predict_end()
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        reject_unsupported("train_on_batch", sample_weight=sample_weight, class_weight=class_weight)
        return self._one_batch(self._train_step, x, y, "train_on_batch", return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch, without training."""
        self._require_compiled("test_on_batch")
        reject_unsupported("test_on_batch", sample_weight=sample_weight)
        return self._one_batch(self._test_step, x, y, "test_on_batch", return_dict)

    def _one_batch(self, step, x, y, who, return_dict):
        """train_on_batch / test_on_batch: ``step`` on one batch, with fresh metrics."""
        x, y = self._prepare_xy(x, y, who)
        self._reset_metrics()
        loss, predictions = step(x, y)
        tracker = MeanTracker()
        tracker.add(loss, len(x))
        self._update_metrics(y, predictions)
        return self._format_result(self._logs(tracker), return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x(x, "predict_on_batch")
        with no_grad():
            return self.call(Tensor._make(x, False, None)).data

    def _test_loop(self, x, y, batch_size, callback_list):
        self._reset_metrics()
        tracker = MeanTracker()
        steps = math.ceil(len(x) / batch_size)
        callback_list.on_test_begin()
        for step in range(steps):
            callback_list.on_test_batch_begin(step)
            rows = slice(step * batch_size, (step + 1) * batch_size)
            xb, yb = x[rows], y[rows]
            loss, predictions = self._test_step(xb, yb)
            tracker.add(loss, len(xb))
            self._update_metrics(yb, predictions)
            callback_list.on_test_batch_end(step, self._logs(tracker))
        logs = self._logs(tracker)
        callback_list.on_test_end(logs)
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
        x = as_float_array(x, self._dtype(), f"{who}: x")
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
        y = as_target_array(y, self._dtype(), f"{who}: y")
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(f"{who}: x and y must hold the same number of samples, received x with {len(x)} "
                             f"samples (shape {x.shape}) and y with {len(y) if y.ndim else 0} samples "
                             f"(shape {y.shape})")
        return x, y


def from_logits_copy(loss):
    """The same loss with from_logits=True (its other settings kept)."""
    try:
        config = dict(loss.get_config())
        config["from_logits"] = True
        return type(loss).from_config(config) if hasattr(type(loss), "from_config") else type(loss)(**config)
    except (AttributeError, TypeError):
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
