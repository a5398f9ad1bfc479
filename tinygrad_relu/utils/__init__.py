"""Keras' small utilities: one random generator for the whole library, to_categorical, normalize, PyDataset,
BLAS threads.

Every random draw in tinygrad_relu (initializers, shuffling, dropout) comes from the one
numpy Generator returned by ``get_rng()``, so ``set_random_seed(s)`` makes a run repeatable.
"""
import random
import sys

import numpy as np

from .. import _blas, _state
from .py_dataset import PyDataset, Sequence  # noqa: F401  (Keras' keras.utils.PyDataset / Sequence)
from ..preprocessing.sequence import pad_sequences  # noqa: F401  (Keras 3: keras.utils.pad_sequences)

# Created unseeded at import (fresh entropy, like Keras without a seed); set_random_seed reseeds it.
_rng = np.random.default_rng()


def set_random_seed(seed):
    """Seed the library's generator, numpy's legacy global generator, Python's ``random`` and,
    when the script has imported torch, PyTorch's (a ``torch.utils.data.DataLoader`` given to
    ``fit`` shuffles with it; Keras seeds TensorFlow for tf.data pipelines the same way).

    After ``set_random_seed(s)`` the same script gives the same weights, the same shuffling
    and the same dropout masks, as ``keras.utils.set_random_seed`` promises.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed: expected an integer seed, received {seed!r} of type {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"set_random_seed: the seed must be non-negative, received {seed}")
    # Reseed the one Generator in place, so references taken before (e.g. a layer's) follow the seed too.
    _rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    np.random.seed(seed % 2**32)  # the legacy global only takes 32-bit seeds
    random.seed(seed)
    torch = sys.modules.get("torch")  # never imported here: that alone takes seconds
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)


def get_rng():
    """The numpy Generator every random draw in the library uses."""
    return _rng


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels: shape (..., ) -> (..., num_classes), float64 as Keras' (cast it, or let
    fit convert it to the model's dtype once).

    As Keras: a trailing axis of size 1 is dropped first, so labels of shape (n, 1) give
    (n, num_classes); ``num_classes`` defaults to ``max(x) + 1``.
    """
    labels = np.asarray(x)
    if labels.dtype.kind == "f":
        if labels.size and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
            raise ValueError("to_categorical: labels must be whole numbers (class indices), "
                             f"received non-integer values such as {labels[labels != np.round(labels)][:3].tolist()}")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, received dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: class indices must be non-negative, received {int(labels.min())}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    else:
        num_classes = int(num_classes)
        if labels.size and labels.max() >= num_classes:
            raise ValueError(f"to_categorical: class index {int(labels.max())} is out of range "
                             f"for num_classes={num_classes} (valid indices are 0..{num_classes - 1})")
    out = np.zeros((labels.size, num_classes), dtype=np.float64)
    out[np.arange(labels.size), labels] = 1.0
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its ``order``-norm along ``axis`` (a zero norm divides by 1), as Keras' utils.normalize."""
    x = np.asarray(getattr(x, "data", x))
    if x.dtype.kind not in "biuf":
        raise TypeError(f"normalize: x must hold numbers, received dtype {x.dtype}")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, -1 if axis is None else axis)


def clear_session():
    """Reset the automatic layer names (dense, dense_1, ...), as keras.utils.clear_session."""
    _state.reset_names()


def set_blas_num_threads(n):
    """Limit numpy's OpenBLAS to n threads; returns False when no OpenBLAS is found (then nothing changes)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_blas_num_threads: n must be an integer, received {n!r} of type {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_blas_num_threads: n must be at least 1, received {n}")
    return _blas.set_num_threads(int(n))


def get_blas_num_threads():
    """Threads numpy's OpenBLAS uses, or None when no OpenBLAS is found."""
    return _blas.get_num_threads()
