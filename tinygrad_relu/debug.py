"""detect_anomaly(): find the first op whose forward or backward produced NaN or inf.

    >>> with tinygrad_relu.debug.detect_anomaly():
    ...     loss = model_loss(x)       # raises FloatingPointError naming the op and its shape
    ...     loss.backward()

Like ``torch.autograd.detect_anomaly``: it checks every op's output in forward and every
gradient it returns in backward, so it costs a full scan per op: a tool for finding where
a run blew up, not for training. Ops run inside a layer are reported with the layer's name,
in backward too (the layer is noted on the op when its forward runs).
"""
import contextlib

import numpy as np

from . import _state


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf while anomaly detection was on."""


class layer_scope:
    """Context manager used by Layer.__call__ while anomaly detection is on: ops run inside belong
    to layer ``name`` (this thread's stack of running layers, innermost last)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        _state.local.layer_stack.append(self.name)

    def __exit__(self, *exc):
        _state.local.layer_stack.pop()
        return False


def is_active():
    """Whether detect_anomaly() is on in this thread."""
    return _state.local.anomaly_hook is not None


def _check(op, stage, array):
    layer_stack = _state.local.layer_stack
    if stage == "forward" and layer_stack:
        try:
            op._anomaly_layer = layer_stack[-1]
        except AttributeError:  # an op class with __slots__: reported without its layer
            pass
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return
    bad = "NaN" if np.isnan(array).any() else "inf"
    inputs = ", ".join(str(p.shape) for p in op.parents)
    layer = getattr(op, "_anomaly_layer", None)
    where = f" in layer '{layer}'" if layer is not None else ""
    raise AnomalyError(
        f"detect_anomaly: {type(op).__name__}{where} produced {bad} in its {stage} pass "
        f"({'output' if stage == 'forward' else 'gradient'} shape {array.shape}, input shapes {inputs})")


@contextlib.contextmanager
def detect_anomaly():
    """Raise AnomalyError at the first op whose forward output or backward gradient is not finite
    (ops run in this thread; other threads are not slowed down)."""
    state = _state.local
    previous = state.anomaly_hook
    state.anomaly_hook = _check
    try:
        yield
    finally:
        state.anomaly_hook = previous
