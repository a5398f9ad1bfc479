"""Tensor: a numpy array that remembers how it was made, so gradients can flow back; and Function,
the base of every op that makes one.

An op is a small class with ``forward`` (numpy arrays in, one numpy array out) and ``backward``
(the gradient of the output in, one gradient per input out) side by side, so the derivative sits
beside the formula it differentiates (micrograd's habit). ``Function.apply`` runs ``forward`` and,
when gradients are being recorded, links the output to this op. ``Tensor.backward`` walks the
recorded graph once, in reverse topological order, computed iteratively (a chain of 20,000 ops
does not touch Python's recursion limit), calling each op's ``backward`` and summing gradients
where a tensor feeds several ops.

Function lives here, beside Tensor, because each needs the other: an op makes Tensors, and a
Tensor's methods (``x.relu()``, ``a + b``) call ops (tinygrad keeps them together for the same
reason). Grad mode is per thread (``no_grad`` in one thread leaves the others recording).
"""
from itertools import repeat

import numpy as np

from . import _state

_local = _state.local


class Function:
    """Base class of differentiable ops. Subclasses define forward() and backward().

    Positional arguments of ``apply`` are the differentiable inputs (Tensors, or numbers and
    arrays that become constants); keyword arguments are plain settings (axis, shape, ...).
    """

    # True when backward returns arrays it just allocated and keeps no other reference to (or
    # only a Workspace slot, which reuses an array only once nobody else holds it), one per input:
    # a leaf's first gradient can then be the array itself instead of a copy of it. A tuple
    # (one flag per input) when that differs per input or per call (Add passes dy through).
    fresh_grads = False
    # Optionally a method that hands back buffers backward no longer needs; Tensor.backward
    # calls it once the graph is released (not with retain_graph=True, which may run again).
    release = None

    def __init__(self, *parents):
        self.parents = parents
        self.needs_input_grad = tuple([p.requires_grad for p in parents])

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *inputs, **kwargs):
        # Fast path: every input already a Tensor (the usual case inside a model; a weight is a
        # Variable, a Tensor subclass) needs no conversion; this method runs once per op per step.
        tensors = inputs
        for x in inputs:
            if not isinstance(x, Tensor):
                tensors = _as_tensors(inputs)
                break
        ctx = cls(*tensors)
        out = ctx.forward(*[t.data for t in tensors], **kwargs)
        state = _local
        if state.anomaly_hook is not None:
            state.anomaly_hook(ctx, "forward", out)
        if state.grad_enabled and True in ctx.needs_input_grad:
            ctx.output_shape = out.shape  # backward checks the gradient against it
            return Tensor._make(out, True, ctx)
        return Tensor._make(out, False, None)


def _as_tensors(inputs):
    """Tensors pass through; numbers and arrays become constants of the Tensors' dtype."""
    dtype = None
    for x in inputs:
        if isinstance(x, Tensor) and x.data.dtype.kind == "f":
            dtype = x.data.dtype
            break
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        else:
            arr = np.asarray(x)
            if dtype is not None and dtype.kind == "f" and arr.dtype != dtype:
                arr = arr.astype(dtype)
            out.append(Tensor._make(arr, False, None))
    return out


class _GradMode:
    """Context manager (and decorator) setting this thread's grad mode for its block."""
    enabled = True

    def __enter__(self):
        self._prev = _local.grad_enabled
        _local.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _local.grad_enabled = self._prev
        return False

    def __call__(self, fn):
        mode = type(self)

        def wrapper(*args, **kwargs):
            with mode():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class no_grad(_GradMode):
    """Stop recording the graph in this thread, like torch.no_grad (a context manager or a decorator)."""
    enabled = False


class enable_grad(_GradMode):
    """Record the graph again inside a no_grad block (this thread only), like torch.enable_grad."""
    enabled = True


def is_grad_enabled():
    """Whether ops run in this thread record the graph."""
    return _local.grad_enabled


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting expanded, so it has ``shape`` again."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "f" and data.dtype.itemsize >= 4:
            return data
        if data.dtype.kind in "iub":
            return data
        return data.astype(np.float32)
    if isinstance(data, np.generic):
        return _to_array(np.asarray(data), None)
    arr = np.asarray(data)
    if arr.dtype.kind in "iufb":  # Python lists, ints, floats and bools become float32
        return arr.astype(np.float32)
    raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} with dtype {arr.dtype}")


class Tensor:
    """A numpy array with an optional gradient and a link to the op that produced it."""

    # _graph_freed: backward() released the graph that produced this tensor; _keras_mask: the
    # boolean Tensor a masking layer attached (Keras' tensor._keras_mask, read by the next layers)
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retain_grad", "_graph_freed", "_keras_mask",
                 "__weakref__")
    __array_priority__ = 1000  # numpy array (op) Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._retain_grad = False
        self._graph_freed = False
        self._keras_mask = None

    @classmethod
    def _make(cls, data, requires_grad, ctx):
        """Fast constructor used by ops: ``data`` is already a suitable ndarray."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t._retain_grad = False
        t._graph_freed = False
        t._keras_mask = None
        return t

    # ---- the numpy view -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def numpy(self):
        return self.data

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor can be converted to a number, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        return Tensor._make(self.data, False, None)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (as in PyTorch)."""
        self._retain_grad = True
        return self

    def zero_grad(self):
        self.grad = None

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.dtype != np.float32:
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + ", ".join([body] + extras) + ")"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # ---- backpropagation ------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` that requires it.

        ``grad`` is the gradient flowing into this tensor; it may be omitted only for a
        single-element tensor (then it is 1). The graph is freed afterwards unless
        ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph "
                               "(did you create the inputs with requires_grad=True, or run under no_grad()?)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: grad can be omitted only for a single-element tensor, this one has shape "
                    f"{self.shape}; pass grad= an array of that shape (or call .sum() first)")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape} but the tensor has shape {self.shape}")
        if self._ctx is None:  # a leaf: d(self)/d(self) = grad
            if self._graph_freed:
                raise RuntimeError(
                    "backward: the graph behind this tensor was freed by an earlier backward(); "
                    "call the first backward with retain_graph=True to run backward twice")
            self._accumulate(grad)
            return
        hook = _local.anomaly_hook

        # One dict lookup per edge and no per-node function calls: this loop runs once per op
        # per training step, so for small networks it is a visible share of the step.
        grads = {id(self): grad}
        pop = grads.pop
        for node in reversed(self._topological_order()):
            g = pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            data = node.data
            # an op's backward trusts its gradient to have the shape its forward produced (the
            # kernels index by it): a .data replaced since the forward must stop here, not there
            if g.shape != ctx.output_shape or data.shape != ctx.output_shape:
                raise _replaced_data_error(ctx, data.shape, g.shape)
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if node._retain_grad:
                node.grad = g.copy() if node.grad is None else node.grad + g
            input_grads = ctx.backward(g)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            fresh = ctx.fresh_grads
            for parent, pg, needed, owned in zip(ctx.parents, input_grads, ctx.needs_input_grad,
                                                 fresh if type(fresh) is tuple else repeat(fresh)):
                if pg is None or not needed:
                    continue
                if hook is not None:
                    hook(ctx, "backward", pg)
                if parent._ctx is None:
                    if pg.shape != parent.data.shape:
                        raise _replaced_leaf_error(ctx, parent.data.shape, pg.shape)
                    parent._accumulate(pg, owned)
                else:
                    key = id(parent)
                    prev = grads.get(key)
                    grads[key] = pg if prev is None else prev + pg
            if not retain_graph:
                node._ctx = None
                node._graph_freed = True
                if ctx.release is not None:
                    ctx.release()
        if not retain_graph:
            self._graph_freed = True

    def _accumulate(self, g, owned=False):
        """Add ``g`` (of this leaf's shape) into ``.grad``; ``owned``: g is a fresh array nobody else holds."""
        data = self.data
        if self.grad is None:
            if owned and g.dtype == data.dtype and type(g) is np.ndarray and g.flags.writeable:
                self.grad = g
            else:
                self.grad = np.array(g, dtype=data.dtype, copy=True)
        else:
            self.grad = self.grad + g

    def _topological_order(self):
        """Nodes with a recorded op, every input before the ops that consume it."""
        order, visited = [], set()
        add = visited.add
        stack = [(self, False)]
        push, pop = stack.append, stack.pop
        while stack:
            node, expanded = pop()
            if expanded:
                order.append(node)
                continue
            key = id(node)
            if key in visited:
                continue
            add(key)
            push((node, True))
            for parent in node._ctx.parents:
                if parent._ctx is not None:
                    if id(parent) not in visited:
                        push((parent, False))
                elif parent._graph_freed and parent.requires_grad:
                    # checked before any gradient moves: reaching a freed part of a graph
                    # would otherwise stop the gradient there without a word
                    raise RuntimeError(
                        "backward: part of this graph was freed by an earlier backward(); call the "
                        "first backward with retain_graph=True to run backward through it again")
        return order

    # ---- arithmetic -----------------------------------------------------------------
    def __add__(self, other): return E.Add.apply(self, other)
    def __radd__(self, other): return E.Add.apply(other, self)
    def __sub__(self, other): return E.Sub.apply(self, other)
    def __rsub__(self, other): return E.Sub.apply(other, self)
    def __mul__(self, other): return E.Mul.apply(self, other)
    def __rmul__(self, other): return E.Mul.apply(other, self)
    def __truediv__(self, other): return E.Div.apply(self, other)
    def __rtruediv__(self, other): return E.Div.apply(other, self)
    def __neg__(self): return E.Neg.apply(self)
    def __matmul__(self, other): return L.MatMul.apply(self, other)
    def __rmatmul__(self, other): return L.MatMul.apply(other, self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
            raise TypeError("pow: only a scalar (Python number) exponent is supported")
        return E.Pow.apply(self, exponent=float(exponent))

    # comparisons give plain boolean arrays (not differentiable), as masks
    def __gt__(self, other): return self.data > _raw(other)
    def __ge__(self, other): return self.data >= _raw(other)
    def __lt__(self, other): return self.data < _raw(other)
    def __le__(self, other): return self.data <= _raw(other)
    def __eq__(self, other): return self.data == _raw(other)  # elementwise, as Keras' and PyTorch's tensors
    def __ne__(self, other): return self.data != _raw(other)

    __hash__ = object.__hash__  # still hashed by identity: a tensor is a dict key for its object, not its values

    def exp(self): return E.Exp.apply(self)
    def log(self): return E.Log.apply(self)
    def sqrt(self): return E.Sqrt.apply(self)
    def abs(self): return E.Abs.apply(self)
    def clip(self, min=None, max=None): return E.Clip.apply(self, min=min, max=max)
    def maximum(self, other): return E.Maximum.apply(self, other)
    def minimum(self, other): return E.Minimum.apply(self, other)

    # ---- reductions -----------------------------------------------------------------
    def sum(self, axis=None, keepdims=False): return R.Sum.apply(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return R.Mean.apply(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return R.Max.apply(self, axis=axis, keepdims=keepdims)

    # ---- movement -------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return M.Reshape.apply(self, shape=shape)

    def permute(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return M.Permute.apply(self, axes=axes)

    def transpose(self, dim0=-2, dim1=-1):
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return M.Permute.apply(self, axes=tuple(axes))

    @property
    def T(self):
        return M.Permute.apply(self, axes=tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim=0, end_dim=-1):
        nd = self.ndim
        start, end = start_dim % nd if nd else 0, end_dim % nd if nd else 0
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return M.Reshape.apply(self, shape=shape)

    def __getitem__(self, index):
        return M.GetItem.apply(self, index=_raw_index(index))

    def pad(self, pad_width, value=0.0):
        return M.Pad.apply(self, pad_width=pad_width, value=value)

    # ---- Keras Variable's in-place updates (state such as counters and moving averages) ----
    def assign(self, value):
        """Overwrite the values in place, as Keras' ``Variable.assign``; no graph is recorded."""
        return self._update_in_place("assign", value, None)

    def assign_add(self, value):
        """self += value, in place (Keras' ``Variable.assign_add``)."""
        return self._update_in_place("assign_add", value, np.add)

    def assign_sub(self, value):
        """self -= value, in place (Keras' ``Variable.assign_sub``)."""
        return self._update_in_place("assign_sub", value, np.subtract)

    def _update_in_place(self, who, value, ufunc):
        value = np.asarray(_raw(value))
        if value.shape != self.shape and value.size != 1:
            raise ValueError(f"{who}: the value has shape {value.shape} but the variable has shape {self.shape}")
        if value.shape != self.shape:
            value = value.reshape(())
        if ufunc is None:
            self.data[...] = value
        else:
            ufunc(self.data, value, out=self.data, casting="unsafe")
        return self


def _replaced_data_error(ctx, shape, grad_shape):
    op = type(ctx).__name__
    return RuntimeError(
        f"backward: {op} produced a tensor of shape {ctx.output_shape}, but that tensor now holds shape {shape} "
        f"and the gradient reaching it has shape {grad_shape}: was its .data (or a later tensor's) replaced "
        f"by an array of another shape after the forward? Run the forward again after changing .data")


def _replaced_leaf_error(ctx, shape, grad_shape):
    op = type(ctx).__name__
    return RuntimeError(
        f"backward: {op} returned a gradient of shape {grad_shape} for an input tensor that now has shape "
        f"{shape}: was the input's .data replaced by an array of another shape after the forward? "
        f"Run the forward again after changing .data")


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


# ops import Function, which imports Tensor: so they come after the class.
from .ops import elementwise as E  # noqa: E402
from .ops import linalg as L  # noqa: E402
from .ops import movement as M  # noqa: E402
from .ops import reduce as R  # noqa: E402
from .ops import activation as A  # noqa: E402

# The activations as methods (x.relu(), x.leaky_relu(0.01), x.softmax(axis=-1), ...), from the
# table in ops/activation.py, with the Tensor defaults (PyTorch's where they differ from Keras').
for _row in A.TABLE:
    if _row.tensor is not None:
        setattr(Tensor, _row.name, A.make_function(_row, _row.tensor, name=f"Tensor.{_row.name}"))
del _row
