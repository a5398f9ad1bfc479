"""PyDataset: Keras' ``keras.utils.PyDataset`` (alias ``Sequence``), a data set that hands out whole batches.

Subclass it with ``__len__`` (the number of batches) and ``__getitem__(index)`` returning a batch,
``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end`` (e.g. to reshuffle) and
``on_epoch_begin`` run around each epoch. ``fit``/``evaluate``/``predict`` read it in index
order (``fit(shuffle=True)`` shuffles the order of the batches). With ``workers > 1`` the batches
are loaded ahead by that many threads, or processes with ``use_multiprocessing=True`` (the data
set is then copied into each worker process, so it must be safe to fork), at most
``max_queue_size`` batches ahead, and handed to the model in index order.
"""
import itertools
import warnings


class PyDataset:
    """Base class of a batch-indexed data set; see the module docstring."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = [name for name in ("_workers", "_use_multiprocessing", "_max_queue_size")
                   if name not in self.__dict__]
        if missing:
            self._workers = self.__dict__.get("_workers", 1)
            self._use_multiprocessing = self.__dict__.get("_use_multiprocessing", False)
            self._max_queue_size = self.__dict__.get("_max_queue_size", 10)
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    @property
    def num_batches(self):
        """The number of batches, from ``__len__``; None means the data set is infinite."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of batches) or a "
                                  "num_batches property (None for an infinite data set)")

    def __iter__(self):
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch (shuffle here)."""


Sequence = PyDataset
