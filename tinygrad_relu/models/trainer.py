"""Trainer: Keras' compile / fit / evaluate / predict and the per-batch steps, for any model.

The model supplies the structure: ``_standardize_inputs``/``_check_inputs`` (what x may be),
``_flat_outputs(x, training)`` (its outputs for one batch, flat, and its TrainingPlan),
``_predict_batch``, ``_output_names()`` and ``_dtype()``; Sequential replaces ``_forward_loss`` with
its fast path. What ``fit`` prints, the keys of ``History.history`` and the order of callback
hooks are Keras 3's, so a Keras script runs here with only its imports changed.
"""
import copy
import math

import numpy as np

from .. import _registry, optimizers, utils
from ..callbacks import CallbackList
from ..tensor import Tensor, no_grad
from ..utils import tree
from . import compile_utils
from .data import (MeanTracker, as_target_array, num_samples, positive_int, reject_unsupported, resolve_verbose,
                   take_rows)


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
        self._loss_weight = None
        self._compile_args = None
        self._spec = None
        self._metric_entries = []   # [(log key, metric object, output index or None)]
        self._loss_trackers = []    # [(log name, MeanTracker)]: per-output losses of a multi-output model

    # ---- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, the loss(es) and the metrics (names, objects or functions; lists or dicts by
        output name for a model with several outputs, as Keras)."""
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported yet (sample weights are not)")
        if isinstance(loss_weights, (list, tuple)) and any(isinstance(w, str) for w in loss_weights):
            raise ValueError(f"compile: loss_weights holds names {loss_weights}; did you mean metrics=?")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._compile_args = (loss, loss_weights, metrics)
        self._spec = None
        names = self._output_names()
        if names is not None or self._single_output_known():
            self._apply_spec(compile_utils.resolve(loss, loss_weights, metrics, names))
        else:  # a subclassed model: resolved at its first batch, when its outputs are seen
            self._loss_fn, self._loss_weight, self._metric_entries, self._loss_trackers = None, None, [], []
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": tree.map_structure(_serialize_loss, loss) if loss is not None else None,
            "loss_weights": loss_weights,
            "metrics": _serialize_metrics(metrics),
        }

    def _single_output_known(self):
        """Whether the model is known to have one output before it runs (Sequential)."""
        return False

    def _apply_spec(self, spec):
        self._spec = spec
        if spec.single:
            entry = spec.losses[0] if spec.losses else None
            self._loss_fn = entry.loss if entry else None
            self._loss_weight = entry.weight if entry else None
        else:
            self._loss_fn, self._loss_weight = None, None
        self._metric_entries = spec.metric_entries
        self._loss_trackers = [(name, MeanTracker()) for name in spec.loss_names]
        self._compiled_changed()

    def _ensure_spec(self):
        if self._spec is None and self._compile_args is not None:
            self._apply_spec(compile_utils.resolve(*self._compile_args, self._output_names()))
        return self._spec

    def _compiled_changed(self):
        """Hook: the loss or the metrics changed (a model may cache what depends on them)."""

    @property
    def metrics_names(self):
        return ["loss"] + [name for name, _ in self._loss_trackers] + [entry[0] for entry in self._metric_entries]

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{what}()` on model '{self.name}'.")

    # ---- one step ------------------------------------------------------------------------------
    def _train_step(self, x, y):
        for p in self._training_plan().params:
            p.grad = None
        loss, predictions = self._forward_loss(x, y, training=True)
        plan = self._training_plan()  # (again: a subclassed model's first call has just made its weights)
        params = plan.params
        if not self.optimizer.built and params:
            self.optimizer.build(params)  # state in the model's weight order, which saving relies on
        if loss.requires_grad:
            loss.backward()
            for p in params:  # a weight the loss does not reach gets a zero gradient (Keras does too)
                if p.grad is None:
                    p.grad = np.zeros_like(p.data)
            self.optimizer.apply_gradients(params)
            for weight, constraint in plan.constrained:  # Keras applies constraints after the update
                value = constraint(weight)
                weight.data[...] = value.data if isinstance(value, Tensor) else value
        for p in params:  # release the gradients: nothing grows across steps
            p.grad = None
        return float(loss.item()), predictions

    def _forward_loss(self, x, y, training):
        """(total loss Tensor, predictions for the metrics) of one batch: the compiled losses of each output,
        weighted, plus add_loss values and weight penalties."""
        flat, plan = self._flat_outputs(x, training)
        self._output_masks = [None if getattr(t, "_keras_mask", None) is None else t._keras_mask.data for t in flat]
        spec = self._ensure_spec()
        total = None
        if spec.single:
            if len(flat) != 1:
                raise ValueError(f"model '{self.name}' returned {len(flat)} outputs, but compile() was given one loss "
                                 "for one output")
            if self._loss_fn is not None:
                total = self._loss_fn(y, flat[0])
                if self._loss_weight is not None:
                    total = total * self._loss_weight
            predictions = flat[0].data
        else:
            y = self._target_list(y)
            trackers = dict(self._loss_trackers)
            for entry in spec.losses:
                value = entry.loss(y[entry.index], flat[entry.index])
                if trackers:
                    trackers[f"{entry.name}_loss"].add(float(value.item()), len(flat[entry.index]))
                weighted = value if entry.weight is None else value * entry.weight
                total = weighted if total is None else total + weighted
            predictions = [t.data for t in flat]
        for penalty in plan.extra_losses():
            total = penalty if total is None else total + penalty
        if total is None:
            raise ValueError(f"No loss to compute for model '{self.name}': pass loss= to compile(), or add losses "
                             "in the model's call with add_loss()")
        return total, predictions

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
            total = num_samples(x, "fit")
            split_at = int(math.floor(total * (1.0 - validation_split)))  # Keras keeps the last part
            if split_at == 0 or split_at == total:
                raise ValueError(f"fit: validation_split={validation_split} leaves "
                                 f"{'no training' if split_at == 0 else 'no validation'} samples out of {total}")
            train, held = slice(0, split_at), slice(split_at, None)
            x, x_val = take_rows(x, train), take_rows(x, held)
            y, y_val = take_rows(y, train), take_rows(y, held)
        else:
            x_val = y_val = None
        val_batch_size = batch_size if validation_batch_size is None else positive_int(
            validation_batch_size, "validation_batch_size", "fit")

        n = num_samples(x, "fit")
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
                xb, yb = take_rows(x, rows), take_rows(y, rows)
                loss, predictions = self._train_step(xb, yb)
                tracker.add(loss, num_samples(xb, "fit"))
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
                                     steps=math.ceil(num_samples(x, "evaluate") / batch_size))
        logs = self._test_loop(x, y, batch_size, callback_list)
        return self._format_result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as one numpy array (computed batch by batch, without a graph)."""
        reject_unsupported("predict", steps=steps)
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size", "predict")
        verbose = resolve_verbose(verbose, "predict")
        x = self._prepare_x(x, "predict")
        steps_total = math.ceil(num_samples(x, "predict") / batch_size)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=steps_total)
        outputs = []
        callback_list.on_predict_begin()
        with no_grad():
            for step in range(steps_total):
                callback_list.on_predict_batch_begin(step)
                out = self._predict_batch(take_rows(x, slice(step * batch_size, (step + 1) * batch_size)))
                outputs.append(out)
                callback_list.on_predict_batch_end(step, {"outputs": out})
        callback_list.on_predict_end()
        if isinstance(outputs[0], np.ndarray):
            return np.concatenate(outputs, axis=0)
        columns = zip(*[tree.flatten(out) for out in outputs])
        return tree.pack_sequence_as(outputs[0], [np.concatenate(column, axis=0) for column in columns])

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
        tracker.add(loss, num_samples(x, who))
        self._update_metrics(y, predictions)
        return self._format_result(self._logs(tracker), return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x(x, "predict_on_batch")
        with no_grad():
            return self._predict_batch(x)

    def _test_loop(self, x, y, batch_size, callback_list):
        self._reset_metrics()
        tracker = MeanTracker()
        steps = math.ceil(num_samples(x, "evaluate") / batch_size)
        callback_list.on_test_begin()
        for step in range(steps):
            callback_list.on_test_batch_begin(step)
            rows = slice(step * batch_size, (step + 1) * batch_size)
            xb, yb = take_rows(x, rows), take_rows(y, rows)
            loss, predictions = self._test_step(xb, yb)
            tracker.add(loss, num_samples(xb, "evaluate"))
            self._update_metrics(yb, predictions)
            callback_list.on_test_batch_end(step, self._logs(tracker))
        logs = self._logs(tracker)
        callback_list.on_test_end(logs)
        return logs

    def _format_result(self, logs, return_dict):
        if return_dict:
            return logs
        if not self._metric_entries and not self._loss_trackers:
            return logs["loss"]
        return [logs[name] for name in self.metrics_names]

    # ---- metrics bookkeeping ---------------------------------------------------------------
    def _reset_metrics(self):
        for _, metric, _ in self._metric_entries:
            metric.reset_state()
        for _, loss_tracker in self._loss_trackers:
            loss_tracker.reset()

    def _update_metrics(self, y, predictions):
        if isinstance(y, dict):
            y = self._target_list(y)
        masks = self.__dict__.get("_output_masks")  # as Keras, a masked output's metrics count its real steps only
        for _, metric, index in self._metric_entries:
            args = (y, predictions) if index is None else (y[index], predictions[index])
            mask = masks[index or 0] if masks else None
            if mask is None:
                metric.update_state(*args)
            else:
                metric.update_state(*args, sample_weight=mask)

    def _target_list(self, y):
        """Targets as a list in output order (a subclassed model's first fit gets them before its outputs are named)."""
        if isinstance(y, dict):
            return compile_utils.standardize_targets(y, self._output_names(), "fit")
        return y

    def _logs(self, tracker):
        logs = {"loss": tracker.result()}
        for name, loss_tracker in self._loss_trackers:
            logs[name] = loss_tracker.result()
        for key, metric, _ in self._metric_entries:
            logs[key] = float(metric.result())
        return {k: logs[k] for k in sorted(logs)}  # Keras 3 sorts the logs by name

    # ---- input conversion (once per call, never per batch) ------------------------------------
    def _prepare_x(self, x, who):
        if x is None:
            raise ValueError(f"{who}: x is required")
        x = self._standardize_inputs(x, who)
        if num_samples(x, who) == 0:
            shape = x.shape if isinstance(x, np.ndarray) else [np.shape(a) for a in tree.flatten(x)]
            raise ValueError(f"{who}: x is empty (shape {shape}); there is nothing to run on")
        self._check_inputs(x)
        return x

    def _prepare_xy(self, x, y, who):
        if y is None:
            raise ValueError(f"{who}: y (the targets) is required")
        x = self._prepare_x(x, who)
        names = self._output_names()
        if names is not None and len(names) > 1:
            y = [as_target_array(v, self._dtype(), f"{who}: y[{name!r}]")
                 for v, name in zip(compile_utils.standardize_targets(y, names, who), names)]
        elif names is None and not self._single_output_known() and (isinstance(y, dict) or (
                isinstance(y, (list, tuple)) and any(isinstance(v, (np.ndarray, Tensor)) for v in y))):
            # a subclassed model not yet called: its outputs are named at the first batch
            y = tree.map_structure(lambda v: as_target_array(v, self._dtype(), f"{who}: y"), y)
        else:
            if isinstance(y, dict) and names is not None and set(y) == set(names):
                y = y[names[0]]
            y = as_target_array(y, self._dtype(), f"{who}: y")
        n_x = num_samples(x, who)
        for target in ((y,) if type(y) is np.ndarray else tree.flatten(y)):
            if np.ndim(target) == 0 or len(target) != n_x:
                raise ValueError(f"{who}: x and y must hold the same number of samples, received x with {n_x} "
                                 f"samples and y with {len(target) if np.ndim(target) else 0} samples (shape "
                                 f"{np.shape(target)})")
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


def _serialize_loss(identifier):
    if identifier is None or isinstance(identifier, str):
        return identifier
    if isinstance(identifier, type):
        return identifier.__name__
    if hasattr(identifier, "get_config"):
        return _registry.serialize(identifier)
    return getattr(identifier, "name", None) or getattr(identifier, "__name__", None)


def _serialize_metrics(metrics):
    def one(identifier):
        if identifier is None or isinstance(identifier, str):
            return identifier
        if isinstance(identifier, type):
            return identifier.__name__
        if hasattr(identifier, "get_config"):
            return _registry.serialize(identifier)
        return getattr(identifier, "name", None) or getattr(identifier, "__name__", type(identifier).__name__)
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        return {k: tree.map_structure(one, v) for k, v in metrics.items()}
    if not isinstance(metrics, (list, tuple)):
        metrics = [metrics]
    return [tree.map_structure(one, m) for m in metrics]
