"""BackupAndRestore: an interrupted fit resumes from its last backup and ends where an uninterrupted one ends;
the backup is one atomic file of weights, optimizer state and epochs done (saving.save_training_state)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_relu import callbacks, layers, models, optimizers, saving, utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Interrupt(callbacks.Callback):
    """Raise at the start of epoch ``epoch`` (or after global batch ``batch``), as a crash would stop fit."""

    def __init__(self, epoch=None, batch=None):
        super().__init__()
        self.epoch, self.batch, self.seen = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("Interrupting!")

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.batch:
            raise RuntimeError("Interrupting!")


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2] > 0).astype(np.float32)
    return x, y


def make_model(optimizer="adam"):
    utils.set_random_seed(1)  # every model starts from the same weights
    model = models.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def fit(model, backup, epochs=10, extra=()):
    x, y = data()
    return model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0, callbacks=[backup, *extra])


def test_an_interrupted_fit_resumes_at_the_epoch_it_reached_and_ends_as_an_uninterrupted_one(tmp_path):
    straight = make_model(optimizers.Nadam(learning_rate=0.01, use_ema=True))
    fit(straight, callbacks.BackupAndRestore(tmp_path / "straight"))

    backup_dir = tmp_path / "backup"
    backup = callbacks.BackupAndRestore(backup_dir)
    model = make_model(optimizers.Nadam(learning_rate=0.01, use_ema=True))
    with pytest.raises(RuntimeError, match="Interrupting"):
        fit(model, backup, extra=[Interrupt(epoch=4)])
    assert os.listdir(backup_dir) == ["latest.tgr"]
    # a fresh process would build a fresh model: the backup holds all the state that matters
    resumed = make_model(optimizers.Nadam(learning_rate=0.01, use_ema=True))
    history = fit(resumed, backup)
    assert len(history.history["loss"]) == 6  # epochs 4..9, as Keras' docstring example
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 50
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(resumed.optimizer.get_state(), straight.optimizer.get_state()):
        np.testing.assert_array_equal(a, b)
    assert not backup_dir.exists()  # deleted after a fit that ended normally
    assert resumed._initial_epoch is None  # the next fit starts at its own initial_epoch again
    assert len(fit(resumed, callbacks.BackupAndRestore(backup_dir), epochs=2).history["loss"]) == 2


def test_keras_counts_the_resumed_epochs_the_same_way(keras, tmp_path):
    """Keras 3's own docstring scenario: interrupted at epoch 4 of 10, the second fit runs 6 epochs."""
    import torch
    x = np.arange(100, dtype=np.float32).reshape(5, 20) / 100
    y = np.zeros((5, 1), np.float32)

    class KerasInterrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 4:
                raise RuntimeError("Interrupting!")

    counts = []
    for lib, interrupt, tensors in ((keras, KerasInterrupt(), True), (None, Interrupt(epoch=4), False)):
        backup_dir = str(tmp_path / ("keras" if lib else "ours"))
        if lib is None:
            model = models.Sequential([layers.Input((20,)), layers.Dense(10)])
            backup = callbacks.BackupAndRestore(backup_dir=backup_dir)
            model.compile(optimizers.SGD(), loss="mse")
        else:
            model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(10)])
            backup = keras.callbacks.BackupAndRestore(backup_dir=backup_dir)
            model.compile(keras.optimizers.SGD(), loss="mse")
        xs, ys = (torch.tensor(x), torch.tensor(np.zeros((5, 10), np.float32))) if tensors else (x, np.zeros((5, 10)))
        with pytest.raises(RuntimeError):
            model.fit(xs, ys, epochs=10, batch_size=1, callbacks=[backup, interrupt], verbose=0)
        history = model.fit(xs, ys, epochs=10, batch_size=1, callbacks=[backup], verbose=0)
        counts.append(len(history.history["loss"]))
        assert not os.path.exists(os.path.join(backup_dir, "latest.tgr"))
    assert counts == [6, 6]
    assert y.shape == (5, 1)


def test_backups_every_few_batches_rerun_the_interrupted_epoch_from_the_last_backup(tmp_path):
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=3)
    model = make_model()
    with pytest.raises(RuntimeError):
        fit(model, backup, epochs=4, extra=[Interrupt(batch=13)])  # 5 batches an epoch: in epoch 2, batch 3
    training = saving.load_training_state(make_model(), tmp_path / "b" / "latest.tgr")
    assert training == {"epoch": 2, "batch": 1}  # the last backup, after global batch 12
    resumed = make_model()
    history = fit(resumed, backup, epochs=4)
    assert len(history.history["loss"]) == 2  # epochs 2 and 3
    assert resumed.optimizer.iterations == 12 + 10


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    backup_dir = tmp_path / "b"
    model = make_model()
    with pytest.raises(RuntimeError):
        fit(model, callbacks.BackupAndRestore(backup_dir, double_checkpoint=True), extra=[Interrupt(epoch=3)])
    assert sorted(os.listdir(backup_dir)) == ["latest.tgr", "latest.tgr.bkp"]
    latest = backup_dir / "latest.tgr"
    latest.write_bytes(latest.read_bytes()[:200])  # a damaged latest backup
    with pytest.raises(saving.ModelFileError):
        fit(make_model(), callbacks.BackupAndRestore(backup_dir), epochs=10)
    history = fit(make_model(), callbacks.BackupAndRestore(backup_dir, double_checkpoint=True))
    assert len(history.history["loss"]) == 8  # the previous backup was taken after epoch 1


def test_only_its_own_files_are_removed(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    fit(make_model(), callbacks.BackupAndRestore(tmp_path), epochs=2)
    assert os.listdir(tmp_path) == ["notes.txt"]
    fit(make_model(), callbacks.BackupAndRestore(tmp_path / "kept", delete_checkpoint=False), epochs=2)
    assert os.listdir(tmp_path / "kept") == ["latest.tgr"]


def test_a_backup_for_another_optimizer_or_architecture_is_refused(tmp_path):
    with pytest.raises(RuntimeError):
        fit(make_model("adam"), callbacks.BackupAndRestore(tmp_path), extra=[Interrupt(epoch=2)])
    with pytest.raises(saving.ModelFileError, match="'Adam' but the model compiles with SGD"):
        fit(make_model("sgd"), callbacks.BackupAndRestore(tmp_path))
    other = models.Sequential([layers.Input((5,)), layers.Dense(3), layers.Dense(1)])
    other.compile("adam", "mse")
    with pytest.raises(saving.ModelFileError):
        fit(other, callbacks.BackupAndRestore(tmp_path))
    weights = make_model().get_weights()  # load_weights also reads a training-state file
    model = make_model()
    model.load_weights(tmp_path / "latest.tgr")
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty backup_dir"):
        callbacks.BackupAndRestore("")
    for bad in ("batch", 0, False, 1.5):
        with pytest.raises(ValueError, match="save_freq"):
            callbacks.BackupAndRestore("x", save_freq=bad)


def test_a_killed_process_resumes_in_a_new_one(tmp_path):
    """os._exit mid-fit (no exception, no cleanup), then a new process resumes and ends with the same weights as
    one uninterrupted run."""
    script = textwrap.dedent(f"""
        import os, sys
        import numpy as np
        sys.path.insert(0, {ROOT!r})
        from tinygrad_relu import callbacks, layers, models, utils
        utils.set_random_seed(0)
        kill_at = int(sys.argv[1])
        class Kill(callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == kill_at:
                    os._exit(3)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((40, 5)).astype(np.float32)
        y = (x[:, :1] > 0).astype(np.float32)
        model = models.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"),
                                   layers.Dense(1, activation="sigmoid")])
        model.compile("rmsprop", "binary_crossentropy")
        history = model.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0,
                            callbacks=[callbacks.BackupAndRestore(sys.argv[2]), Kill()])
        np.save(sys.argv[3], np.concatenate([w.ravel() for w in model.get_weights()]))
        print(len(history.history["loss"]))
    """)
    path = tmp_path / "run.py"
    path.write_text(script)

    def run(kill_at, backup, out):
        return subprocess.run([sys.executable, str(path), str(kill_at), str(tmp_path / backup), str(tmp_path / out)],
                              capture_output=True, text=True, timeout=120)
    killed = run(3, "b", "unused.npy")
    assert killed.returncode == 3, killed.stderr
    resumed = run(-1, "b", "resumed.npy")
    straight = run(-1, "s", "straight.npy")
    assert resumed.returncode == 0 and straight.returncode == 0, resumed.stderr + straight.stderr
    assert resumed.stdout.split() == ["3"] and straight.stdout.split() == ["6"]
    np.testing.assert_array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "straight.npy"))
