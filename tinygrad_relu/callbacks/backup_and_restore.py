"""BackupAndRestore: resume a fit that was interrupted, from the last backup of its training state."""
import os
import shutil

from .. import saving
from .callback import Callback

BACKUP_NAME = "latest.tgr"  # the one file this callback writes in backup_dir (and its .bkp with double_checkpoint)


class BackupAndRestore(Callback):
    """Back up the training state (weights, optimizer state, epochs done) to ``backup_dir`` at the end of
    every epoch, or every ``save_freq`` batches; the next ``fit`` with this callback after an interruption
    restores it and goes on from the first epoch not done (an epoch interrupted midway runs again from its
    start, with the weights of the last backup); a ``fit`` that ends normally deletes the backup
    (``delete_checkpoint=False`` keeps it). Keras 3's semantics, with two differences for safety: the backup
    is one file written atomically (a kill mid-save leaves the previous backup whole), and on success only
    that file is removed, never other files in ``backup_dir``.

    ``double_checkpoint=True`` keeps the previous backup too, and falls back to it when the latest one
    cannot be read. The model must compile with the same optimizer as the run that wrote the backup.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: empty backup_dir argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError(f"BackupAndRestore: invalid value for save_freq, received save_freq={save_freq!r}; "
                             "expected 'epoch' or a positive number of batches")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, BACKUP_NAME)
        self._previous_path = self._path + ".bkp"
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0

    def on_train_begin(self, logs=None):
        self._current_epoch = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        fallback = self.double_checkpoint and os.path.exists(self._previous_path)
        if not os.path.exists(self._path) and not fallback:
            return
        try:
            training = saving.load_training_state(self.model, self._path)
        except (OSError, saving.ModelFileError):
            if not fallback:
                raise
            training = saving.load_training_state(self.model, self._previous_path)
        self._current_epoch = training.get("epoch", 0)
        self.model._initial_epoch = self._current_epoch  # fit starts there, as Keras' fit reads it

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch restarted the batch count
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def _save(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            # copied, then renamed: at every moment one whole backup exists (the latest is written atomically)
            shutil.copyfile(self._path, self._previous_path + ".tmp")
            os.replace(self._previous_path + ".tmp", self._previous_path)
        saving.save_training_state(self.model, self._path,
                                   training={"epoch": self._current_epoch, "batch": self._last_batch_seen})

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        for path in (self._path, self._previous_path, self._previous_path + ".tmp"):
            if os.path.exists(path):
                os.remove(path)
        try:
            os.rmdir(self.backup_dir)  # only when nothing else is in it
        except OSError:
            pass
