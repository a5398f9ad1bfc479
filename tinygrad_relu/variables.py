"""Variable: Keras' ``keras.Variable``, a Tensor with a name, a path and in-place updates.

Layer weights, metric state, ``optimizer.learning_rate`` and ``optimizer.iterations`` are
Variables. A Variable *is* a Tensor (a subclass), so the engine treats a weight exactly as it
did: ops read ``.data``, backward fills ``.grad``, the optimizer updates ``.data`` in place.
What the subclass adds is Keras' surface:

    v.name ('kernel'), v.path ('dense/kernel'), v.trainable, v.shape, v.dtype, v.value,
    v.numpy() (a copy), v.assign(x), v.assign_add(x), v.assign_sub(x)

``trainable`` is whether the engine records a gradient for it (``requires_grad``): freezing a
layer sets it to False on the layer's weights, as Keras sets ``variable.trainable``.
"""
import numpy as np

from . import _state, config, initializers
from .tensor import Tensor


class Variable(Tensor):
    """A named, in-place-updatable Tensor: ``Variable(initializer, shape=None, dtype=None, trainable=True,
    name=None)`` with ``initializer`` a value (array, list, number) or an initializer (a name such as
    'zeros', or a callable ``init(shape, dtype)``) that needs ``shape``."""

    __slots__ = ("name", "path")

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
                 synchronization="auto", name=None, path=None):
        if isinstance(initializer, str) or (callable(initializer) and not isinstance(initializer, Tensor)):
            if shape is None:
                raise ValueError(f"Variable {name!r}: an initializer ({initializer!r}) needs a `shape`")
            dtype = np.dtype(dtype or config.floatx())
            values = np.asarray(initializers.get(initializer)(tuple(shape), dtype=dtype.name), dtype=dtype)
        else:
            values = np.array(getattr(initializer, "data", initializer),
                              dtype=None if dtype is None else np.dtype(dtype))
            if dtype is None and values.dtype.kind == "f" and values.dtype.itemsize < 4:
                values = values.astype(config.floatx())
            if shape is not None and tuple(values.shape) != tuple(shape):
                raise ValueError(f"Variable {name!r}: the initial value has shape {values.shape}, but shape="
                                 f"{tuple(shape)} was given")
        if values.dtype.kind not in "biuf":
            raise TypeError(f"Variable {name!r}: values must be numbers, received dtype {values.dtype}")
        if not values.flags.c_contiguous:  # (copy: np.ascontiguousarray would turn a scalar into 1-D)
            values = values.copy(order="C")
        super().__init__(values, requires_grad=bool(trainable) and values.dtype.kind == "f")
        self.name = "variable" if name is None else str(name)
        self.path = path if path is not None else scoped_path(self.name)

    @classmethod
    def _wrap(cls, values, trainable, name, path):
        """A Variable around ``values`` as they are (a C-contiguous array the caller made for it)."""
        variable = cls._make(values, bool(trainable) and values.dtype.kind == "f", None)
        variable.name, variable.path = name, path
        return variable

    # ---- Keras' surface -------------------------------------------------------------------------
    @property
    def trainable(self):
        return self.requires_grad

    @trainable.setter
    def trainable(self, value):
        self.requires_grad = bool(value) and self.data.dtype.kind == "f"
        _state.structure_changed()  # a model's list of trainable weights changes with it

    @property
    def value(self):
        """The Variable itself: a Tensor every op takes (gradients flow through it)."""
        return self

    def numpy(self):
        """A copy of the values (the variable keeps changing as it trains; the copy does not)."""
        return self.data.copy()

    def __format__(self, spec):
        if self.data.ndim == 0:
            return format(self.data.item(), spec)
        return format(str(self), spec)

    def __index__(self):
        if self.data.ndim or self.data.dtype.kind not in "iub":
            raise TypeError(f"Variable '{self.path}' of shape {self.shape} and dtype {self.dtype} is not an integer "
                            "scalar")
        return int(self.data)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.data}>"


class CounterVariable(Variable):
    """An integer scalar Variable that counts (``optimizer.iterations``): its arithmetic with numbers gives
    numbers (``iterations + 1``, ``beta ** t``), as a scalar tensor of the backend does in Keras, since a
    count is never differentiated; compare it with ``==`` as a number."""

    __slots__ = ()

    def __init__(self, name="iteration", path=None):
        super().__init__(np.array(0, dtype=np.int64), trainable=False, name=name, path=path)

    def _int(self):
        return int(self.data)

    def __add__(self, other): return self._int() + _number(other)
    def __radd__(self, other): return _number(other) + self._int()
    def __sub__(self, other): return self._int() - _number(other)
    def __rsub__(self, other): return _number(other) - self._int()
    def __mul__(self, other): return self._int() * _number(other)
    def __rmul__(self, other): return _number(other) * self._int()
    def __truediv__(self, other): return self._int() / _number(other)
    def __rtruediv__(self, other): return _number(other) / self._int()
    def __floordiv__(self, other): return self._int() // _number(other)
    def __mod__(self, other): return self._int() % _number(other)
    def __pow__(self, other): return self._int() ** _number(other)
    def __rpow__(self, other): return _number(other) ** self._int()
    def __neg__(self): return -self._int()
    def __eq__(self, other): return self._int() == _number(other)
    def __ne__(self, other): return self._int() != _number(other)
    def __lt__(self, other): return self._int() < _number(other)
    def __le__(self, other): return self._int() <= _number(other)
    def __gt__(self, other): return self._int() > _number(other)
    def __ge__(self, other): return self._int() >= _number(other)
    __hash__ = Tensor.__hash__


def _number(x):
    """A scalar Tensor's value; anything else as it is."""
    return x.data.item() if isinstance(x, Tensor) and x.data.ndim == 0 else x


def scoped_path(name):
    """'outer/inner/name' under the layers building in this thread (Keras' name scopes)."""
    return "/".join(_state.local.name_scope + [name])


class name_scope:
    """Context manager: variables created inside get paths under ``name`` ('sequential/dense/kernel')."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        _state.local.name_scope.append(self.name)
        return self

    def __exit__(self, *exc):
        _state.local.name_scope.pop()
        return False
