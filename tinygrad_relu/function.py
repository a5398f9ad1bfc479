"""Function: the base of every differentiable op.

An op is a small class with ``forward`` (numpy arrays in, one numpy array out) and
``backward`` (the gradient of the output in, one gradient per input out) side by side,
so the derivative sits beside the formula it differentiates (micrograd's habit).
``Function.apply`` runs ``forward`` and, when gradients are being recorded, links the
output to this op so that ``Tensor.backward`` can later call ``backward``.

Positional arguments of ``apply`` are the differentiable inputs (Tensors, or numbers and
arrays that become constants); keyword arguments are plain settings (axis, shape, ...).
"""
import numpy as np

_grad_enabled = True
# Set by tinygrad_relu.debug.detect_anomaly(): a callable (op, stage, array) -> None.
_anomaly_hook = None


class Function:
    """Base class of differentiable ops. Subclasses define forward() and backward()."""

    # True when backward returns arrays it just allocated and keeps no other reference to:
    # a leaf's first gradient can then be the array itself instead of a copy of it.
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
        # Fast path: every input already a Tensor (the usual case inside a model) needs no
        # conversion; this method runs once per op per step, so each attribute lookup counts.
        tensors = inputs
        for x in inputs:
            if type(x) is not Tensor:
                tensors = _as_tensors(inputs)
                break
        ctx = cls(*tensors)
        out = ctx.forward(*[t.data for t in tensors], **kwargs)
        if _anomaly_hook is not None:
            _anomaly_hook(ctx, "forward", out)
        if _grad_enabled and True in ctx.needs_input_grad:
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


class no_grad:
    """Context manager (and decorator) that stops recording the graph, like torch.no_grad."""

    def __enter__(self):
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def is_grad_enabled():
    return _grad_enabled


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


from .tensor import Tensor  # noqa: E402  (Tensor's methods import ops, which import Function)
