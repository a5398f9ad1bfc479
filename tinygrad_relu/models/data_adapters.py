"""What fit / evaluate / predict read their batches from (after Keras 3's trainers/data_adapters).

Three kinds of data, each behind one adapter that hands out ``(x, y, sample_weight)`` batches:

- **arrays** (numpy arrays, nested lists, pandas DataFrames and Series, anything with ``__array__``;
  lists or dicts of them for several inputs or outputs): converted once per call, then sliced into
  batches of ``batch_size`` (the last one smaller), in a new random order each pass when shuffled;
- **a stream of batches**: a Python generator or iterator (read once: it is never rewound), or any
  other iterable that yields batches, such as a PyTorch ``DataLoader`` (iterated afresh each pass).
  A batch is ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``; tensors of other libraries become
  numpy arrays through ``__array__`` (PyTorch's after ``.detach().cpu()``), so no framework is
  imported here;
- **a PyDataset** (``tinygrad_relu.utils.PyDataset``): batches by index, ``len(ds)`` per pass, read
  ahead by worker threads or processes when it asks for them.

``EpochIterator`` turns an adapter into epochs: ``steps_per_epoch`` batches each (continuing the
current pass into the next epoch, as Keras does), or one pass when it is not given.
"""
import concurrent.futures
import math
import multiprocessing
import types
import warnings

import numpy as np

from ..tensor import Tensor
from ..utils import tree
from ..utils.py_dataset import PyDataset


# ---- telling the kinds apart ------------------------------------------------------------------------
def is_array_data(x):
    """Whether ``x`` is array data (sliced into batches here) rather than a source of batches."""
    if x is None or isinstance(x, (np.ndarray, np.generic, list, tuple, dict)):
        return True
    if isinstance(x, (PyDataset, types.GeneratorType)) or hasattr(x, "__next__"):
        return False
    return hasattr(x, "__array__") or not hasattr(x, "__iter__")


def describe(x):
    return f"{type(x).__module__}.{type(x).__name__}"


def unsupported_argument(name, what, kind):
    return ValueError(f"When providing `x` as a {kind}, `{name}` should not be passed. Instead, {what} should be "
                      f"included as part of the {kind}.")


def to_numpy(value):
    """A batch leaf as a numpy array: our Tensors' arrays, another library's tensor (PyTorch's) through
    ``.detach().cpu()`` and ``__array__``, anything else through ``np.asarray``."""
    if isinstance(value, np.ndarray) or value is None:
        return value
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
    return np.asarray(value)


def unpack_batch(batch, kind):
    """(x, y, sample_weight) from a yielded batch: a tuple or list of 1 to 3 items (a lone array is x)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        if isinstance(batch, dict) or is_array_data(batch):
            return batch, None, None
        batch = ()
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"A {kind} must yield batches (x,), (x, y) or (x, y, sample_weight); received "
                         f"{type(batch).__name__} of {len(batch)} items")
    return tuple(batch) + (None,) * (3 - len(batch))


def class_weights_as_sample_weights(y, class_weight, dtype):
    """Each sample's weight from its class (Keras' class_weight_to_sample_weights): one-hot labels by their argmax,
    labels of shape (n, 1) squeezed, then rounded to integers; a class missing from the dict weighs 1."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict mapping class indices to weights, received "
                         f"{type(class_weight).__name__}")
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = np.argmax(labels, axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    if labels.ndim != 1:
        raise ValueError(f"class_weight needs one label per sample (labels of shape (n,), (n, 1) or one-hot (n, "
                         f"classes)), received labels of shape {np.shape(y)}")
    labels = np.round(labels).astype(np.int64)
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table.get(int(c), 1.0) for c in labels], dtype=dtype)


# ---- arrays -------------------------------------------------------------------------------------------------
class ArrayAdapter:
    """Batches sliced from arrays already converted by the model (``x``, ``y``, ``sample_weight`` structures)."""

    def __init__(self, x, y, sample_weight, batch_size, steps, shuffle, rng, count):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.count = count
        if batch_size is None:  # Keras: steps and no batch size split the data into that many batches
            batch_size = math.ceil(count / steps) if steps else 32
        self.batch_size = batch_size
        self.num_batches = math.ceil(count / batch_size)
        self.shuffle, self.rng = shuffle, rng
        self.one_shot = False

    def passes(self):
        """One pass over the data: (x, y, sample_weight) per batch, in a fresh random order when shuffled."""
        n, size = self.count, self.batch_size
        order = self.rng.permutation(n) if self.shuffle and self.shuffle != "batch" else None
        x, y, weights = self.x, self.y, self.sample_weight
        for step in range(self.num_batches):
            start = step * size
            rows = slice(start, start + size)
            if order is not None:
                rows = order[rows]
            elif self.shuffle == "batch":
                rows = start + self.rng.permutation(min(size, n - start))
            yield (_take(x, rows), None if y is None else _take(y, rows),
                   None if weights is None else _take(weights, rows))

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


def _take(data, rows):
    if type(data) is np.ndarray:
        return data[rows]
    return tree.map_structure(lambda a: None if a is None else a[rows], data)


# ---- streams: generators, iterators, DataLoaders --------------------------------------------------------
class StreamAdapter:
    """Batches yielded by a generator or iterator (one stream, read once) or by a re-iterable object (a DataLoader:
    iterated afresh for each pass); ``convert`` turns each (x, y, sample_weight) into the model's arrays."""

    def __init__(self, source, convert, kind):
        self.source, self.convert, self.kind = source, convert, kind
        self.one_shot = isinstance(source, types.GeneratorType) or hasattr(source, "__next__")
        self._stream = source if self.one_shot else None
        try:
            self.num_batches = None if self.one_shot else len(source)
        except TypeError:
            self.num_batches = None

    def passes(self):
        stream = self._stream if self.one_shot else iter(self.source)
        for batch in stream:
            x, y, weights = unpack_batch(batch, self.kind)
            yield self.convert(tree.map_structure(to_numpy, x), None if y is None else tree.map_structure(to_numpy, y),
                               None if weights is None else tree.map_structure(to_numpy, weights))

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


# ---- PyDataset -----------------------------------------------------------------------------------------------
_WORKER_DATASET = {}  # in a worker process: the PyDataset it reads from


def _set_worker_dataset(dataset):
    _WORKER_DATASET["dataset"] = dataset


def _worker_getitem(index):
    return _WORKER_DATASET["dataset"][index]


class PyDatasetAdapter:
    """Batches by index from a PyDataset: ``len(ds)`` per pass (in a shuffled order with ``shuffle``), read ahead by
    ``ds.workers`` threads or processes, at most ``ds.max_queue_size`` ahead; ``class_weight`` weighs each batch's
    samples by their labels."""

    def __init__(self, dataset, convert, shuffle, rng, class_weight, dtype):
        self.dataset, self.convert, self.shuffle, self.rng = dataset, convert, shuffle, rng
        self.class_weight, self.dtype = class_weight, dtype
        workers, processes = dataset.workers, dataset.use_multiprocessing
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
            raise ValueError(f"PyDataset: workers must be a non-negative integer, received workers={workers!r}")
        self.workers, self.processes = int(workers), bool(processes)
        self.queue_size = max(1, int(dataset.max_queue_size))
        self.num_batches = dataset.num_batches
        if self.num_batches is None and shuffle:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` was provided as an "
                          "infinite PyDataset. The PyDataset is expected to already be shuffled.", stacklevel=4)
        self.one_shot = self.num_batches is None
        self._next_index = 0  # an infinite data set continues where it stopped

    def _indices(self):
        if self.num_batches is None:
            while True:
                yield self._next_index
                self._next_index += 1
        order = list(range(self.num_batches))
        if self.shuffle:
            order = [int(i) for i in self.rng.permutation(self.num_batches)]
        yield from order

    def _executor(self):
        """The pool that loads batches ahead (None: load them one by one, in this thread)."""
        if self.processes and self.workers > 0:  # the data set goes to each worker once, as it is now
            return concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(),
                                                          initializer=_set_worker_dataset, initargs=(self.dataset,))
        if self.workers > 1:
            return concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="py_dataset")
        return None

    def _batches(self):
        indices = self._indices()
        executor = self._executor()
        if executor is None:
            for index in indices:
                yield self.dataset[index]
            return
        load = _worker_getitem if self.processes else self.dataset.__getitem__
        try:
            pending = [executor.submit(load, i) for i in _take_some(indices, self.queue_size)]
            while pending:
                batch = pending.pop(0).result()  # in index order, whichever worker finished first
                pending += [executor.submit(load, i) for i in _take_some(indices, 1)]
                yield batch
        finally:  # the pass ended, or was dropped unfinished (closed): the workers stop either way
            executor.shutdown(wait=True, cancel_futures=True)

    def passes(self):
        for batch in self._batches():
            x, y, weights = unpack_batch(batch, "PyDataset")
            if self.class_weight is not None and y is not None:
                if weights is not None:
                    raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time: the "
                                     "PyDataset yields sample weights")
                weights = class_weights_as_sample_weights(to_numpy(y), self.class_weight, self.dtype)
            yield self.convert(tree.map_structure(to_numpy, x), None if y is None else tree.map_structure(to_numpy, y),
                               None if weights is None else tree.map_structure(to_numpy, weights))

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def _take_some(iterator, n):
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


# ---- epochs ----------------------------------------------------------------------------------------------------
def ran_out_warning():
    warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or generator can "
                  "generate at least `steps_per_epoch * epochs` batches.", stacklevel=4)


class EpochIterator:
    """Epochs of batches from an adapter: ``steps_per_epoch`` batches each, continuing the pass the previous epoch
    left unfinished (Keras' rule), or one whole pass when ``steps_per_epoch`` is None.

    ``num_batches`` is an epoch's length when it is known (None: the progress bar shows 'Unknown' until the
    first pass has ended). ``exhausted`` turns True when a stream that is read once has ended: there is no next
    pass to train on."""

    def __init__(self, adapter, steps_per_epoch=None):
        self.adapter, self.steps_per_epoch = adapter, steps_per_epoch
        self.num_batches = steps_per_epoch or adapter.num_batches
        self.exhausted = False
        self._pass = None
        self._seen_in_pass = 0

    def __iter__(self):
        """(step, (x, y, sample_weight)) for one epoch."""
        adapter = self.adapter
        adapter.on_epoch_begin()
        try:
            known = adapter.num_batches
            if self._pass is None or self.steps_per_epoch is None or (known is not None and
                                                                      self._seen_in_pass >= known):
                self.close()
                self._pass, self._seen_in_pass = adapter.passes(), 0
            step = 0
            while self.steps_per_epoch is None or step < self.steps_per_epoch:
                try:
                    batch = next(self._pass)
                except StopIteration:
                    self._pass = None
                    self.exhausted = adapter.one_shot
                    if self.steps_per_epoch is not None:
                        ran_out_warning()  # fewer batches than steps_per_epoch asked for
                    if self.num_batches is None and self._seen_in_pass:
                        self.num_batches = self._seen_in_pass
                    return
                self._seen_in_pass += 1
                yield step, batch
                step += 1
        finally:
            adapter.on_epoch_end()

    def close(self):
        """Drop an unfinished pass (a PyDataset's workers stop)."""
        if self._pass is not None:
            self._pass.close()
            self._pass = None
