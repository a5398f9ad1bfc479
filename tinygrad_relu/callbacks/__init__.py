"""Keras' callbacks: objects whose hooks the training loop calls at fixed moments.

Order in ``fit`` (as Keras): on_train_begin; per epoch on_epoch_begin, then per batch
on_train_batch_begin / on_train_batch_end, then (with validation data) on_test_begin,
on_test_batch_begin/end..., on_test_end, then on_epoch_end with the epoch's logs
(loss, metrics, val_*); finally on_train_end. ``evaluate`` and ``predict`` call the
on_test_* and on_predict_* hooks. Training stops after an epoch (or batch) in which a
callback set ``model.stop_training = True``.

Callbacks use only this much of the model: ``stop_training``, ``get_weights()``,
``set_weights()``, ``save(path)``, ``save_weights(path)``, ``named_weights()``, ``get_config()``,
``trainable_weights``, its ``optimizer`` (learning rate, iterations, moving averages) and, as in Keras,
``_initial_epoch`` (where BackupAndRestore tells ``fit`` to resume); BackupAndRestore writes and reads its
backup through ``saving.save_training_state`` / ``load_training_state``.
"""
from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .model_checkpoint import ModelCheckpoint
from .progbar_logger import ProgbarLogger
from .remote_monitor import RemoteMonitor
from .swap_ema_weights import SwapEMAWeights
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor",
           "SwapEMAWeights", "TensorBoard", "TerminateOnNaN"]
