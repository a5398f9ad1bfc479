"""Trainer: Keras' compile / fit / evaluate / predict and the per-batch steps, for any model.

The model supplies the structure: ``_standardize_inputs``/``_check_inputs`` (what x may be),
``_flat_outputs(x, training)`` (its outputs for one batch, flat, and its TrainingPlan),
``_predict_batch``, ``_output_names()`` and ``_dtype()``; Sequential replaces ``_forward_loss`` with
its fast path. The data comes through data_adapters.py (arrays, streams of batches, PyDatasets);
what ``fit`` prints, the keys of ``History.history`` and the order of callback hooks are Keras 3's,
so a Keras script runs here with only its imports changed.

Sample weights (``sample_weight``, ``class_weight``, a third item in a batch or in
``validation_data``) weigh the loss as Keras does, sum_i w_i loss_i / n per batch, and the
``weighted_metrics``; the ``metrics`` never see them.
"""
import math
import warnings

import numpy as np

from .. import config, optimizers, utils
from ..callbacks import CallbackList
from ..tensor import Tensor, no_grad
from ..utils import tree
from ..utils.py_dataset import PyDataset
from . import compile_utils
from .data import (MeanTracker, as_target_array, num_samples, per_output_weights, positive_int, resolve_verbose,
                   take_rows, as_weight_array)
from .data_adapters import (ArrayAdapter, EpochIterator, PyDatasetAdapter, StreamAdapter,
                            class_weights_as_sample_weights, describe, is_array_data, ran_out_warning,
                            unsupported_argument)


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
        self._metric_entries = []   # [MetricEntry(log key, metric, output index or None, weighted)]
        self._loss_trackers = []    # [(log name, MeanTracker)]: per-output losses of a multi-output model
        self._initial_epoch = None  # set by a callback's on_train_begin (BackupAndRestore) to resume there

    # ---- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, the loss(es), the metrics and the weighted metrics (names, objects or functions;
        lists or dicts by output name for a model with several outputs, as Keras)."""
        if isinstance(loss_weights, (list, tuple)) and any(isinstance(w, str) for w in loss_weights):
            raise ValueError(f"compile: loss_weights holds names {loss_weights}; did you mean metrics=?")
        if steps_per_execution != 1:
            raise NotImplementedError(f"compile: steps_per_execution={steps_per_execution!r} is not supported (each "
                                      "step already runs eagerly, one batch at a time)")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._compile_args = (loss, loss_weights, metrics, weighted_metrics)
        self._spec = None
        names = self._output_names()
        if names is not None or self._single_output_known():
            self._apply_spec(compile_utils.resolve(loss, loss_weights, metrics, names, weighted_metrics))
        else:  # a subclassed model: resolved at its first batch, when its outputs are seen
            self._loss_fn, self._loss_weight, self._metric_entries, self._loss_trackers = None, None, [], []
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": tree.map_structure(compile_utils.serialize_loss, loss) if loss is not None else None,
            "loss_weights": loss_weights,
            "metrics": compile_utils.serialize_metrics(metrics),
        }
        if weighted_metrics:
            self._compile_config["weighted_metrics"] = compile_utils.serialize_metrics(weighted_metrics)

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
            loss, loss_weights, metrics, weighted = self._compile_args
            self._apply_spec(compile_utils.resolve(loss, loss_weights, metrics, self._output_names(), weighted))
        return self._spec

    def _compiled_changed(self):
        """The loss or the metrics changed: forget what was derived from them."""
        self._fused_cache = None

    # ---- the loss of a model with one output (Sequential and Functional's fast paths) ------------------
    def _output_loss(self, output, y, sample_weight, fused):
        """(the compiled loss of the one output, the predictions the metrics read). With ``fused`` (the loss
        with from_logits=True, the activation; see compile_utils.fused_loss) ``output`` holds the logits, and
        the activation runs only when a metric reads the predictions (None otherwise)."""
        if fused is None:
            loss_fn = self._loss_fn
            loss = None if loss_fn is None else \
                loss_fn(y, output) if sample_weight is None else loss_fn(y, output, sample_weight)
            return loss, output.data
        loss_from_logits, activation = fused
        loss = loss_from_logits(y, output) if sample_weight is None else loss_from_logits(y, output, sample_weight)
        predictions = None
        if self._metric_entries:
            with no_grad():
                predictions = activation(Tensor._make(output.data, False, None)).data
        return loss, predictions

    def _with_extra_losses(self, loss, plan):
        """The output's loss, weighted, plus add_loss values and weight penalties."""
        if loss is not None and self._loss_weight is not None:
            loss = loss * self._loss_weight
        if plan.loss_layers or plan.regularized:
            for penalty in plan.extra_losses():
                loss = penalty if loss is None else loss + penalty
        if loss is None:
            raise ValueError(f"No loss to compute for model '{self.name}': pass loss= to compile(), or add losses "
                             "in a layer's call with add_loss()")
        return loss

    @property
    def metrics_names(self):
        return ["loss"] + [name for name, _ in self._loss_trackers] + [entry.key for entry in self._metric_entries]

    @property
    def metrics(self):
        """The compiled metric objects (each output's), in compile order."""
        return [entry.metric for entry in self._metric_entries]

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{what}()` on model '{self.name}'.")

    # ---- one step ------------------------------------------------------------------------------
    def _train_step(self, x, y, sample_weight=None):
        for p in self._training_plan().params:
            p.grad = None
        loss, predictions = self._forward_loss(x, y, True, sample_weight)
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

    def _forward_loss(self, x, y, training, sample_weight=None):
        """(total loss Tensor, predictions for the metrics) of one batch: the compiled losses of each output,
        weighted, plus add_loss values and weight penalties."""
        flat, plan = self._flat_outputs(x, training)
        self._output_masks = [None if getattr(t, "_keras_mask", None) is None else t._keras_mask.data for t in flat]
        spec = self._ensure_spec()
        if y is None:
            self._check_no_targets_needed()
        total = None
        if spec.single:
            if len(flat) != 1:
                raise ValueError(f"model '{self.name}' returned {len(flat)} outputs, but compile() was given one loss "
                                 "for one output")
            if self._loss_fn is not None:
                total = self._loss_fn(y, flat[0]) if sample_weight is None else \
                    self._loss_fn(y, flat[0], sample_weight)
                if self._loss_weight is not None:
                    total = total * self._loss_weight
            predictions = flat[0].data
        else:
            y = self._target_list(y)
            trackers = dict(self._loss_trackers)
            for entry in spec.losses:
                weights = None if sample_weight is None else sample_weight[entry.index]
                value = entry.loss(y[entry.index], flat[entry.index]) if weights is None else \
                    entry.loss(y[entry.index], flat[entry.index], weights)
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

    def _check_no_targets_needed(self, who=None):
        """Data without targets (y) is fine only when no compiled loss or metric compares with them."""
        spec = self._spec
        if spec is not None and (spec.losses or spec.metric_entries):
            raise ValueError(f"{who or f'Model {self.name!r}'}: y (the targets) is required: compile() was given "
                             f"{'a loss that compares' if spec.losses else 'metrics that compare'} the predictions "
                             "with them; pass y (or yield (x, y) batches)")

    def _test_step(self, x, y, sample_weight=None):
        with no_grad():
            loss, predictions = self._forward_loss(x, y, False, sample_weight)
        return float(loss.item()), predictions

    # ---- fit / evaluate / predict ---------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the History callback (``history.history`` has Keras' keys)."""
        self._require_compiled("fit")
        batch_size = None if batch_size is None else positive_int(batch_size, "batch_size", "fit")
        epochs = positive_int(epochs, "epochs", "fit")
        steps_per_epoch = None if steps_per_epoch is None else positive_int(steps_per_epoch, "steps_per_epoch", "fit")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be a non-negative integer, received {initial_epoch!r}")
        validation_freq = positive_int(validation_freq, "validation_freq", "fit")
        resolve_verbose(verbose, "fit")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be a number in [0, 1), received {validation_split!r}")
        val_batch_size = batch_size if validation_batch_size is None else positive_int(
            validation_batch_size, "validation_batch_size", "fit")
        validation_steps = None if validation_steps is None else positive_int(validation_steps, "validation_steps",
                                                                              "fit")
        if validation_data is not None:
            if isinstance(validation_data, (tuple, list)):
                if not 1 <= len(validation_data) <= 3:
                    raise ValueError(f"fit: validation_data must be (x_val, y_val) or (x_val, y_val, "
                                     f"val_sample_weight), received a {type(validation_data).__name__} of "
                                     f"{len(validation_data)} items")
                val_x, val_y, val_weight = tuple(validation_data) + (None,) * (3 - len(validation_data))
            else:  # a generator, a PyDataset, a DataLoader: it holds the targets itself
                val_x, val_y, val_weight = validation_data, None, None
            validation = (val_x, val_y, val_weight)
        elif validation_split:
            if not is_array_data(x):
                raise ValueError(f"fit: validation_split is only supported for arrays; received x of type {describe(x)}"
                                 " (pass validation_data instead)")
            x, y = self._prepare_xy(x, y, "fit")
            sample_weight = self._sample_weights(sample_weight, None, y, num_samples(x, "fit"), "fit")
            total = num_samples(x, "fit")
            split_at = int(math.floor(total * (1.0 - validation_split)))  # Keras keeps the last part
            if split_at == 0 or split_at == total:
                raise ValueError(f"fit: validation_split={validation_split} leaves "
                                 f"{'no training' if split_at == 0 else 'no validation'} samples out of {total}")
            train, held = slice(0, split_at), slice(split_at, None)
            validation = tuple(None if a is None else take_rows(a, held) for a in (x, y, sample_weight))
            x, y = take_rows(x, train), take_rows(y, train)
            sample_weight = None if sample_weight is None else take_rows(sample_weight, train)
        else:
            validation = None
        iterator = self._epoch_iterator(x, y, sample_weight, class_weight, batch_size, steps_per_epoch, shuffle, "fit")
        val_iterator = None
        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=epochs, steps=iterator.num_batches)
        history = callback_list.history
        self.stop_training = False
        self.history = history
        training_logs = {}
        callback_list.on_train_begin()
        if getattr(self, "_initial_epoch", None):  # as Keras: a restored backup resumes at its epoch
            initial_epoch, self._initial_epoch = self._initial_epoch, None
        try:
            for epoch in range(initial_epoch, epochs):
                if iterator.exhausted:  # a generator read to its end has nothing for another epoch
                    ran_out_warning()
                    break
                self._reset_metrics()
                callback_list.on_epoch_begin(epoch)
                tracker = MeanTracker()
                for step, (xb, yb, wb) in iterator:
                    callback_list.on_train_batch_begin(step)
                    loss, predictions = self._train_step(xb, yb, wb)
                    tracker.add(loss, num_samples(xb, "fit"))
                    self._update_metrics(yb, predictions, wb)
                    callback_list.on_train_batch_end(step, self._logs(tracker))
                    if self.stop_training:
                        break
                if not tracker.count and epoch == initial_epoch:
                    raise ValueError(f"fit: x ({describe(x)}) gave no batch to train on")
                epoch_logs = self._logs(tracker)
                if validation is not None and (epoch + 1) % validation_freq == 0:
                    if val_iterator is None:  # (fit's batch_size serves validation arrays, not a validation stream)
                        size = val_batch_size if is_array_data(validation[0]) else validation_batch_size
                        val_iterator = self._epoch_iterator(*validation, None, size, validation_steps, False,
                                                            "fit (validation_data)")
                    if val_iterator.exhausted:  # a validation generator read to its end: nothing to report
                        warnings.warn(f"fit: validation_data ran out of batches; epoch {epoch + 1} has no val_* logs "
                                      "(give validation_steps and a generator that does not end, or arrays)",
                                      stacklevel=2)
                    else:
                        val_logs = self._test_loop(val_iterator, callback_list)
                        epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                training_logs = epoch_logs
                if self.stop_training:
                    break
        finally:
            iterator.close()
            if val_iterator is not None:
                val_iterator.close()
        if self.optimizer.built:  # with use_ema the weights end as their moving averages (Keras)
            self.optimizer.finalize_variable_values(self.trainable_weights)
        callback_list.on_train_end(training_logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) over the data: a float, a list [loss, metric, ...], or a dict with return_dict."""
        self._require_compiled("evaluate")
        if kwargs:
            raise ValueError(f"evaluate: arguments not recognized: {sorted(kwargs)}")
        batch_size = None if batch_size is None else positive_int(batch_size, "batch_size", "evaluate")
        steps = None if steps is None else positive_int(steps, "steps", "evaluate")
        resolve_verbose(verbose, "evaluate")
        iterator = self._epoch_iterator(x, y, sample_weight, None, batch_size, steps, False, "evaluate")
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=iterator.num_batches)
        try:
            logs = self._test_loop(iterator, callback_list)
        finally:
            iterator.close()
        return self._format_result(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, as one numpy array (computed batch by batch, without a graph)."""
        batch_size = None if batch_size is None else positive_int(batch_size, "batch_size", "predict")
        steps = None if steps is None else positive_int(steps, "steps", "predict")
        resolve_verbose(verbose, "predict")
        iterator = self._epoch_iterator(x, None, None, None, batch_size, steps, False, "predict", targets=False)
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=iterator.num_batches)
        outputs = []
        callback_list.on_predict_begin()
        try:
            with no_grad():
                for step, (xb, _, _) in iterator:
                    callback_list.on_predict_batch_begin(step)
                    out = self._predict_batch(xb)
                    outputs.append(out)
                    callback_list.on_predict_batch_end(step, {"outputs": out})
        finally:
            iterator.close()
        if not outputs:
            raise ValueError(f"predict: x ({describe(x)}) gave no batch to predict on")
        callback_list.on_predict_end()
        if isinstance(outputs[0], np.ndarray):
            return np.concatenate(outputs, axis=0)
        columns = zip(*[tree.flatten(out) for out in outputs])
        return tree.pack_sequence_as(outputs[0], [np.concatenate(column, axis=0) for column in columns])

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        return self._one_batch(self._train_step, x, y, sample_weight, class_weight, "train_on_batch", return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch, without training."""
        self._require_compiled("test_on_batch")
        return self._one_batch(self._test_step, x, y, sample_weight, None, "test_on_batch", return_dict)

    def _one_batch(self, step, x, y, sample_weight, class_weight, who, return_dict):
        """train_on_batch / test_on_batch: ``step`` on one batch, with fresh metrics."""
        x, y = self._prepare_xy(x, y, who)
        n = num_samples(x, who)
        sample_weight = self._sample_weights(sample_weight, class_weight, y, n, who)
        self._reset_metrics()
        loss, predictions = step(x, y, sample_weight)
        tracker = MeanTracker()
        tracker.add(loss, n)
        self._update_metrics(y, predictions, sample_weight)
        return self._format_result(self._logs(tracker), return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x(x, "predict_on_batch")
        with no_grad():
            return self._predict_batch(x)

    def _test_loop(self, iterator, callback_list):
        self._reset_metrics()
        tracker = MeanTracker()
        callback_list.on_test_begin()
        for step, (xb, yb, wb) in iterator:
            callback_list.on_test_batch_begin(step)
            loss, predictions = self._test_step(xb, yb, wb)
            tracker.add(loss, num_samples(xb, "evaluate"))
            self._update_metrics(yb, predictions, wb)
            callback_list.on_test_batch_end(step, self._logs(tracker))
        if not tracker.count:
            raise ValueError("evaluate: the data gave no batch to evaluate on")
        logs = self._logs(tracker)
        callback_list.on_test_end(logs)
        return logs

    def _format_result(self, logs, return_dict):
        if return_dict:
            return logs
        if not self._metric_entries and not self._loss_trackers:
            return logs["loss"]
        return [logs[name] for name in self.metrics_names]

    # ---- the data: arrays converted once, or a source of batches -------------------------------
    def _epoch_iterator(self, x, y, sample_weight, class_weight, batch_size, steps, shuffle, who, targets=True):
        """An EpochIterator over (x, y, sample_weight) batches of the model's arrays."""
        if is_array_data(x):
            if targets:
                if y is None:
                    self._check_no_targets_needed(who)
                x, y = self._prepare_xy(x, y, who)
            else:
                x = self._prepare_x(x, who)
            n = num_samples(x, who)
            weights = self._sample_weights(sample_weight, class_weight, y, n, who) if targets else None
            adapter = ArrayAdapter(x, y, weights, batch_size, steps, shuffle, utils.get_rng(), n)
            return EpochIterator(adapter, steps)
        dataset = isinstance(x, PyDataset)
        one_shot = hasattr(x, "__next__")
        kind = "PyDataset" if dataset else "generator" if one_shot else describe(x)
        for name, value, what in (("y", y, "the targets"), ("sample_weight", sample_weight, "the sample weights")):
            if value is not None:
                raise unsupported_argument(name, what, kind)
        if batch_size is not None:  # Keras ignores it (its guide passes one with a PyDataset): say so
            warnings.warn(f"{who}: batch_size={batch_size} is not used: x is a {kind}, whose own batches are the "
                          "batches", stacklevel=3)
        if class_weight is not None and not dataset:
            raise ValueError(f"Argument `class_weight` is not supported for {kind} inputs (Keras' rule); yield "
                             f"(x, y, sample_weight) batches instead. Received: class_weight={class_weight}")
        if shuffle and not dataset:
            warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                          f"{kind}. It is expected to yield already-shuffled data.", stacklevel=3)

        def convert(xb, yb, wb):
            if not targets:
                return self._prepare_x(xb, who), None, None
            xb, yb = self._prepare_xy(xb, yb, f"{who} ({kind} batch)")
            return xb, yb, self._sample_weights(wb, None, yb, num_samples(xb, who), f"{who} ({kind} batch)")
        if dataset:
            adapter = PyDatasetAdapter(x, convert, shuffle, utils.get_rng(), class_weight, config.floatx())
        else:
            adapter = StreamAdapter(x, convert, kind)
        return EpochIterator(adapter, steps)

    def _sample_weights(self, sample_weight, class_weight, y, count, who):
        """The batch rows' weights as arrays (a list per output for several outputs), or None."""
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(f"{who}: you cannot use class_weight and sample_weight at the same time")
            if y is None:
                raise ValueError(f"{who}: class_weight weighs samples by their labels: pass y")
            if not isinstance(y, np.ndarray):
                raise ValueError("`class_weight` is only supported for Models with a single output.")
            return class_weights_as_sample_weights(y, class_weight, self._dtype())
        if sample_weight is None:
            return None
        names = self._output_names()
        if names is not None and len(names) > 1:
            return per_output_weights(sample_weight, names, self._dtype(), count, who)
        return as_weight_array(sample_weight, self._dtype(), count, f"{who}: sample_weight")

    # ---- metrics bookkeeping ---------------------------------------------------------------
    def _reset_metrics(self):
        for entry in self._metric_entries:
            entry.metric.reset_state()
        for _, loss_tracker in self._loss_trackers:
            loss_tracker.reset()

    def reset_metrics(self):
        """Zero every metric and loss tracker (Keras' model.reset_metrics)."""
        self._reset_metrics()

    def _update_metrics(self, y, predictions, sample_weight=None):
        if y is None:  # (no metric to update: _forward_loss checked)
            return
        if isinstance(y, dict):
            y = self._target_list(y)
        masks = self.__dict__.get("_output_masks")  # as Keras, a masked output's metrics count its real steps only
        for _, metric, index, weighted in self._metric_entries:
            weights = None
            if weighted and sample_weight is not None:
                weights = sample_weight if index is None else sample_weight[index]
            y_true, y_pred = (y, predictions) if index is None else (y[index], predictions[index])
            mask = masks[index or 0] if masks else None
            if mask is not None:
                weights = mask if weights is None else mask * np.reshape(
                    weights, np.shape(weights) + (1,) * (mask.ndim - np.ndim(weights)))
            if weights is None:
                metric.update_state(y_true, y_pred)
            else:
                metric.update_state(y_true, y_pred, sample_weight=weights)

    def _target_list(self, y):
        """Targets as a list in output order (a subclassed model's first fit gets them before its outputs are named)."""
        if isinstance(y, dict):
            return compile_utils.standardize_targets(y, self._output_names(), "fit")
        return y

    def _logs(self, tracker):
        logs = {"loss": tracker.result()}
        for name, loss_tracker in self._loss_trackers:
            logs[name] = loss_tracker.result()
        for entry in self._metric_entries:
            result = entry.metric.result()
            logs[entry.key] = float(result) if np.ndim(result) == 0 else np.asarray(result)
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
        x = self._prepare_x(x, who)
        if y is None:  # a model whose losses are all add_loss() terms trains without targets (Keras allows it)
            return x, None
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
