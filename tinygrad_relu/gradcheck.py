"""gradcheck: compare an op's analytic gradient with central finite differences in float64.

Example, checking your own composite op::

    >>> import numpy as np, tinygrad_relu as tr
    >>> def softsign(x):
    ...     return x / (1 + x.abs())
    >>> tr.gradcheck(softsign, [np.random.randn(3, 4)])
    True

Every input is copied to float64 with ``requires_grad=True``. The output is reduced to a
scalar with fixed random weights (so every output element counts and errors cannot
cancel), then each input element is nudged by ``±eps``.
"""
import numpy as np

from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with finite differences."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Return True if ``fn``'s gradients match central differences; raise GradcheckError otherwise."""
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def scalar(values):
        with_values = [Tensor(v) for v in values]
        return float(np.sum(fn(*with_values).data * weights))

    (out * weights).sum().backward()
    for k, (t, a) in enumerate(zip(tensors, arrays)):
        analytic = np.zeros_like(a) if t.grad is None else t.grad
        numeric = np.zeros_like(a)
        flat = a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = scalar(arrays)
            flat[i] = old - eps
            minus = scalar(arrays)
            flat[i] = old
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and np.nanmax(err) > 0 or np.isnan(analytic).any() != np.isnan(numeric).any():
            worst = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(err)), a.shape)) if a.ndim else ()
            raise GradcheckError(
                f"gradcheck: input {k} (shape {a.shape}) element {worst}: analytic gradient "
                f"{analytic[worst]:.10g} vs finite difference {numeric[worst]:.10g} "
                f"(atol={atol}, rtol={rtol}, eps={eps})")
    return True
