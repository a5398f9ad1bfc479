"""Callbacks against a fake model that offers exactly what the contract lets callbacks use."""
import math
import os
import warnings

import numpy as np
import pytest

from tinygrad_relu import callbacks as cbs
from tinygrad_relu.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
                                     LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """stop_training, get_weights, set_weights, save, save_weights, optimizer.learning_rate: nothing more."""

    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.optimizer = FakeOptimizer()
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def fake_fit(model, callbacks, epoch_logs, batch_losses=None, steps=2):
    """Drive the hooks in Keras' order; epoch_logs[i] are the logs of epoch i. Returns epochs run."""
    callback_list = CallbackList(callbacks, add_history=True, model=model, epochs=len(epoch_logs), steps=steps,
                                 verbose=0)
    callback_list.on_train_begin()
    run = 0
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            loss = batch_losses[epoch * steps + batch] if batch_losses else logs.get("loss", 0.0)
            model.weights = [w + 1 for w in model.weights]  # "training" changes the weights
            callback_list.on_train_batch_end(batch, {"loss": loss})
            if model.stop_training:
                break
        if "val_loss" in logs:
            callback_list.on_test_begin()
            callback_list.on_test_batch_begin(0)
            callback_list.on_test_batch_end(0, {"loss": logs["val_loss"]})
            callback_list.on_test_end({"loss": logs["val_loss"]})
        callback_list.on_epoch_end(epoch, dict(logs))
        run += 1
        if model.stop_training:
            break
    callback_list.on_train_end()
    return run, callback_list


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and callable(attr):
            def record(*args, **kwargs):
                object.__getattribute__(self, "calls").append(name)
                return attr(*args, **kwargs)
            return record
        return attr


def test_hooks_fire_in_keras_order_and_get_model_and_params():
    model, rec = FakeModel(), Recorder()
    fake_fit(model, [rec], [{"loss": 1.0, "val_loss": 2.0}], steps=1)
    assert rec.calls == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_batch_begin",
                         "on_train_batch_end", "on_batch_end", "on_test_begin", "on_test_batch_begin",
                         "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end"]
    assert rec.model is model and rec.params == {"epochs": 1, "steps": 1, "verbose": 0}


def test_callback_list_rejects_non_callbacks_and_dispatches_predict_hooks():
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([lambda: None])
    rec = Recorder()
    lst = CallbackList([rec])
    lst.on_predict_begin()
    lst.on_predict_batch_begin(0)
    lst.on_predict_batch_end(0, {"outputs": None})
    lst.on_predict_end()
    assert rec.calls == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]


def test_history_records_and_sets_model_history():
    model = FakeModel()
    logs = [{"loss": 1.0, "accuracy": 0.5}, {"loss": 0.5, "accuracy": 0.75}]
    _, lst = fake_fit(model, [], logs)
    history = lst.history
    assert isinstance(history, History) and model.history is history
    assert history.history == {"loss": [1.0, 0.5], "accuracy": [0.5, 0.75]}
    assert history.epoch == [0, 1]


def test_early_stopping_patience_and_restore_best_weights(capsys):
    model = FakeModel()
    stopper = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    val = [1.0, 0.8, 0.9, 0.95, 0.7, 0.6]
    run, _ = fake_fit(model, [stopper], [{"loss": 1.0, "val_loss": v} for v in val])
    assert run == 4 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    # two batches per epoch add 1 each: the best epoch (index 1) ended with weights 4
    np.testing.assert_array_equal(model.weights[0], [4.0, 4.0])
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out and "best epoch: 2." in out


def test_early_stopping_modes_delta_baseline_and_start():
    model = FakeModel()
    acc = EarlyStopping(monitor="val_accuracy", patience=1)  # 'acc' in the name: higher is better
    run, _ = fake_fit(model, [acc], [{"val_accuracy": a} for a in (0.5, 0.6, 0.7, 0.65, 0.8)])
    assert run == 4
    delta = EarlyStopping(monitor="loss", min_delta=0.1, patience=1)
    run, _ = fake_fit(FakeModel(), [delta], [{"loss": v} for v in (1.0, 0.95, 0.5, 0.45, 0.44)])
    assert run == 2  # 0.95 is not 0.1 better than 1.0
    base = EarlyStopping(monitor="loss", baseline=0.5, patience=2)
    run, _ = fake_fit(FakeModel(), [base], [{"loss": 0.9}] * 5)
    assert run == 2  # the baseline was never beaten, so the first epoch already counted against patience
    run, _ = fake_fit(FakeModel(), [EarlyStopping(monitor="loss", patience=2)], [{"loss": 0.9}] * 5)
    assert run == 3
    late = EarlyStopping(monitor="loss", patience=0, start_from_epoch=3)
    run, _ = fake_fit(FakeModel(), [late], [{"loss": v} for v in (1.0, 2.0, 3.0, 4.0, 5.0)])
    assert run == 5  # epochs 0-2 are ignored, epoch 3 sets the best, epoch 4 is worse and stops
    assert late.stopped_epoch == 4


def test_early_stopping_unknown_direction_and_missing_monitor():
    with pytest.raises(ValueError, match="mode='max'"):
        fake_fit(FakeModel(), [EarlyStopping(monitor="val_zork")], [{"val_zork": 1.0}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run, _ = fake_fit(FakeModel(), [EarlyStopping(monitor="val_loss")], [{"loss": 1.0}] * 3)
    assert run == 3 and any("val_loss" in str(w.message) for w in caught)


def test_model_checkpoint_formats_path_and_saves_best_only(tmp_path, capsys):
    model = FakeModel()
    pattern = str(tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.tgr")
    ckpt = ModelCheckpoint(pattern, save_best_only=True, verbose=1)
    fake_fit(model, [ckpt], [{"loss": 1.0, "val_loss": v} for v in (0.9, 0.95, 0.5)])
    names = [os.path.basename(p) for _, p in model.saved]
    assert names == ["model-01-0.90.tgr", "model-03-0.50.tgr"]
    assert all(kind == "model" for kind, _ in model.saved)
    assert os.path.exists(tmp_path / "ckpt" / "model-03-0.50.tgr")
    out = capsys.readouterr().out
    assert "val_loss improved from None to 0.90000" in out and "val_loss did not improve from 0.90000" in out


def test_model_checkpoint_weights_every_n_batches(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(str(tmp_path / "w-{epoch}-{batch}.tgr"), save_weights_only=True, save_freq=3)
    fake_fit(model, [ckpt], [{"loss": 1.0}] * 3, steps=2)  # 6 batches: saves after batch 3 and 6
    assert [os.path.basename(p) for _, p in model.saved] == ["w-2-1.tgr", "w-3-2.tgr"]
    assert all(kind == "weights" for kind, _ in model.saved)
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("x", save_freq="sometimes")
    with pytest.raises(KeyError, match="val_acc"):
        fake_fit(FakeModel(), [ModelCheckpoint(str(tmp_path / "{val_acc}.tgr"))], [{"loss": 1.0}])


def test_learning_rate_scheduler_both_signatures():
    model = FakeModel()
    seen = []
    fake_fit(model, [LearningRateScheduler(lambda epoch, lr: lr * 0.5),
                     LambdaCallback(on_epoch_begin=lambda epoch, logs=None: seen.append(model.optimizer.learning_rate))],
             [{"loss": 1.0}] * 3)
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    model = FakeModel()
    _, lst = fake_fit(model, [LearningRateScheduler(lambda epoch: 1.0 / (epoch + 1))], [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == 0.5
    assert lst.history.history["learning_rate"] == [1.0, 0.5]
    with pytest.raises(ValueError, match="must return a float"):
        fake_fit(FakeModel(), [LearningRateScheduler(lambda epoch: "fast")], [{"loss": 1.0}])


def test_reduce_lr_on_plateau_patience_cooldown_min_lr(capsys):
    model = FakeModel()
    reducer = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2, min_lr=0.02, verbose=1)
    _, lst = fake_fit(model, [reducer], [{"loss": 1.0}] * 6)
    # logs carry the rate the epoch ran with. Reductions after epochs 1, 3, 5 (indices): the cooldown of 2
    # skips counting at epoch 2 and restarts the count at epoch 3; the last one stops at min_lr.
    assert lst.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05." in capsys.readouterr().out
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.5)


def test_terminate_on_nan_stops_after_the_batch(capsys):
    model = FakeModel()
    history_losses = [1.0, 2.0, float("nan"), 3.0, 4.0, 5.0]
    run, lst = fake_fit(model, [TerminateOnNaN()], [{"loss": 1.0}] * 3, batch_losses=history_losses, steps=2)
    assert model.stop_training and run == 2
    np.testing.assert_array_equal(model.weights[0], [3.0, 3.0])  # no batch ran after the NaN one
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    inf_model = FakeModel()
    fake_fit(inf_model, [TerminateOnNaN()], [{"loss": 1.0}], batch_losses=[math.inf, 1.0])
    assert inf_model.stop_training
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        fake_fit(FakeModel(), [TerminateOnNaN(raise_error=True)], [{"loss": 1.0}], batch_losses=[math.nan, 1.0])


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    fake_fit(FakeModel(), [CSVLogger(str(path))], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"  # Keras pre-declares the val_ columns
    assert lines[1:] == ["0,0.25,0.5,NA,NA", "1,0.5,0.25,NA,NA"]
    fake_fit(FakeModel(), [CSVLogger(str(path), separator=";", append=True)],
             [{"loss": 0.125, "accuracy": 1.0}])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[3] == "0;1.0;0.125;NA;NA"  # no second header


def test_lambda_callback_and_unknown_hook():
    events = []
    cb = LambdaCallback(on_train_begin=lambda logs: events.append("begin"),
                        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch, logs["loss"])),
                        on_batch_end=lambda batch, logs: events.append(("batch", batch)),
                        on_train_end=lambda logs: events.append("end"))
    fake_fit(FakeModel(), [cb], [{"loss": 0.5}], steps=2)
    assert events == ["begin", ("batch", 0), ("batch", 1), ("epoch", 0, 0.5), "end"]
    with pytest.raises(ValueError, match="unknown hook 'on_epoch_middle'"):
        LambdaCallback(on_epoch_middle=print)


def test_module_exports_keras_names():
    for name in ("Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
                 "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger", "LambdaCallback"):
        assert hasattr(cbs, name)
