"""tinygrad_relu: a from-scratch autograd engine with Cython kernels and a Keras-style API.

    >>> import tinygrad_relu as tr
    >>> x = tr.Tensor([-5.0, 0.0, 5.0, -1.2], requires_grad=True)
    >>> y = x.relu(); y.sum().backward()
    >>> x.grad
    array([0., 0., 1., 0.], dtype=float32)
"""
import os

# OpenMP workers that spin after a parallel region fight numpy's BLAS threads for the cores
# (an im2col after a matrix product ran 30x slower: docs/performance.md, "Measurements behind the thresholds").
# Sleeping workers cost nothing measurable here. libgomp reads this once, at load; a value
# the user set wins. (Where numpy's OpenBLAS runs its jobs on our team instead, _blas.py lets the
# workers spin briefly: it is imported before any kernel module loads libgomp.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from . import _blas  # noqa: E402,F401  (numpy's OpenBLAS runs its parallel jobs on our OpenMP team)
from . import _memory  # noqa: E402,F401  (glibc keeps a step's large arrays for the next: _memory.py)

from .tensor import Tensor
from .tensor import Function, no_grad, enable_grad, is_grad_enabled
from .gradcheck import gradcheck, GradcheckError
from .ops import movement as _M
from .ops import concatenate, maximum, minimum, where  # noqa: F401  (tr.maximum, ... as before)


def pad(x, pad_width, value=0.0):
    """Constant padding, numpy's pad_width convention."""
    return _M.Pad.apply(x, pad_width=pad_width, value=value)


def max_num_threads():
    """The most threads ``set_num_threads`` accepts: 4 per CPU, and at least 64.

    More threads than cores only slow the kernels down, and an OpenMP runtime asked for
    thousands may fail to create them and abort the process.
    """
    return max(64, 4 * (os.cpu_count() or 1))


def set_num_threads(n):
    """Use n threads (1 to ``max_num_threads()``) in our OpenMP kernels and in numpy's BLAS.

    OMP_NUM_THREADS is respected at start-up by the OpenMP runtime itself.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an integer, received {n!r} of type {type(n).__name__}")
    if n > max_num_threads():
        raise ValueError(f"set_num_threads: n must be at most {max_num_threads()} (4 per CPU, at least 64; this "
                         f"machine has {os.cpu_count()} CPUs), got {n}")
    from ._kernels import threads
    from .utils import set_blas_num_threads
    threads.set_num_threads(int(n))
    set_blas_num_threads(int(n))


def get_num_threads():
    """Threads our OpenMP kernels use (1 when built without OpenMP)."""
    from ._kernels import threads
    return threads.get_num_threads()


from . import debug  # noqa: E402

# Keras-style submodules load on first use, so `import tinygrad_relu` stays light:
# `tr.layers.Dense`, `tr.models.Sequential`, ... work without importing each one.
_SUBMODULES = ("activations", "functional", "layers", "models", "optimizers", "losses", "metrics",
               "callbacks", "initializers", "regularizers", "constraints", "utils", "datasets", "diagnostics",
               "graphviz", "plot", "saving", "random", "lab", "config", "backend", "variables",
               "preprocessing")


# Keras 3 scripts write keras.Sequential, keras.Input, keras.layers.Dense, ...: with
# `import tinygrad_relu as keras` those resolve too.
_TOP_LEVEL = {"Sequential": "models", "Model": "models", "load_model": "models", "Input": "layers",
              "Layer": "layers", "KerasTensor": "layers", "Variable": "variables"}


def __getattr__(name):
    import importlib
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _TOP_LEVEL:
        return getattr(importlib.import_module(f".{_TOP_LEVEL[name]}", __name__), name)
    raise AttributeError(f"module 'tinygrad_relu' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_TOP_LEVEL))

from ._version import __version__  # noqa: E402,F401
