"""TensorBoard: write training logs as TensorBoard event files, through tensorboardX (no TensorFlow needed).

``pip install "tinygrad_relu[tensorboard]"`` installs tensorboardX; then ``tensorboard --logdir logs`` (the
tensorboard package) shows the runs. The files and tags are Keras 3's: ``<log_dir>/train`` holds
``epoch_<metric>`` (and ``epoch_learning_rate``) per epoch, ``<log_dir>/validation`` the validation
metrics as ``epoch_<metric>`` and ``evaluation_<metric>_vs_iterations``; with ``update_freq`` a number of
batches (or "batch"), ``batch_<metric>`` every that many steps; with ``histogram_freq``, a histogram of
every weight (``<layer>/<weight>/histogram``) every that many epochs.
"""
import json
import os
import time

import numpy as np

from .callback import Callback


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError('TensorBoard needs tensorboardX to write event files: pip install "tinygrad_relu['
                          'tensorboard]" (or pip install tensorboardX)') from None
    return SummaryWriter


class TensorBoard(Callback):
    """Keras 3's TensorBoard callback (its arguments and tags). ``write_graph`` writes the model's config as a
    text summary named "keras" (TensorBoard's graph view needs a TensorFlow graph, which this engine has not);
    profiling, weight images and embeddings are not available here, and asking for them raises."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        for name, value in (("write_images", write_images), ("embeddings_freq", embeddings_freq),
                            ("embeddings_metadata", embeddings_metadata)):
            if value:
                raise NotImplementedError(f"TensorBoard: {name}={value!r} is not supported here")
        if profile_batch:
            raise ValueError("TensorBoard: profiling is not available here (as with Keras' torch backend); "
                             f"received profile_batch={profile_batch!r} (must be 0)")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative int, received {histogram_freq!r}")
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError("TensorBoard: update_freq must be 'epoch', 'batch' or a positive number of batches, "
                             f"received {update_freq!r}")
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start = (0, 0.0)  # (optimizer iterations, time) at the epoch's start

    def _writer(self, which):
        """The event-file writer of 'train' or 'validation', made on first use (no empty runs on disk)."""
        if which not in self._writers:
            self._writers[which] = self._writer_class(logdir=os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            try:
                config = json.dumps({"class_name": type(self.model).__name__, "config": self.model.get_config()})
            except (TypeError, ValueError, NotImplementedError):
                config = None  # a model whose config does not serialize: nothing to show
            if config is not None:
                self._writer("train").add_text("keras", config, global_step=0)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            writer.add_scalar("batch_steps_per_second", 1.0 / elapsed if elapsed > 0 else float("inf"), step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (self.model.optimizer.iterations, time.time())

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None:
            train_logs["learning_rate"] = float(optimizer.learning_rate)
        if logs and self.write_steps_per_second:
            iterations, start = self._epoch_start
            train_logs["steps_per_second"] = (optimizer.iterations - iterations) / max(time.time() - start, 1e-9)
        for which, values in (("train", train_logs), ("validation", val_logs)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for owner, name, weight in self.model.named_weights():
                writer.add_histogram(f"{owner.name}/{name}/histogram", np.asarray(weight.data), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not logs:
            return
        writer = self._writer("validation")
        for name, value in logs.items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), int(optimizer.iterations))

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
