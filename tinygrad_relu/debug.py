"""detect_anomaly(): find the first op whose forward or backward produced NaN or inf.

    >>> with tinygrad_relu.debug.detect_anomaly():
    ...     loss = model_loss(x)       # raises FloatingPointError naming the op and its shape
    ...     loss.backward()

Like ``torch.autograd.detect_anomaly``: it checks every op's output in forward and every
gradient it returns in backward, so it costs a full scan per op: a tool for finding where
a run blew up, not for training.
"""
import contextlib

import numpy as np

from . import function


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf while anomaly detection was on."""


def _check(op, stage, array):
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return
    bad = "NaN" if np.isnan(array).any() else "inf"
    inputs = ", ".join(str(p.shape) for p in op.parents)
    raise AnomalyError(
        f"detect_anomaly: {type(op).__name__} produced {bad} in its {stage} pass "
        f"({'output' if stage == 'forward' else 'gradient'} shape {array.shape}, input shapes {inputs})")


@contextlib.contextmanager
def detect_anomaly():
    """Raise AnomalyError at the first op whose forward output or backward gradient is not finite."""
    previous = function._anomaly_hook
    function._anomaly_hook = _check
    try:
        yield
    finally:
        function._anomaly_hook = previous
