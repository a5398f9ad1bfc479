"""What the callbacks that watch a quantity share: which way is better, and reading a log value."""
import warnings

import numpy as np

_MAXIMIZED = ("acc", "auc", "precision", "recall")
_MINIMIZED = ("loss", "error", "mse", "mae", "crossentropy", "hinge")


def improvement_direction(monitor, mode, model, who):
    """'min' or 'max' for the monitored quantity: from mode, else from the model's metrics, else its name."""
    if mode in ("min", "max"):
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss":
        return "min"
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == name:
            direction = getattr(metric, "direction", None) or getattr(metric, "_direction", None)
            if direction in ("up", "down"):
                return "max" if direction == "up" else "min"
    lowered = name.lower()
    if any(word in lowered for word in _MAXIMIZED):
        return "max"
    if any(word in lowered for word in _MINIMIZED):
        return "min"
    raise ValueError(f"{who}: received monitor={monitor!r} but cannot tell whether it should be maximized or "
                     "minimized; pass mode='max' to keep the highest value or mode='min' for the lowest")


def check_mode(mode, who):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who} mode {mode} is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def scalar(value):
    """A float from a log value (Python number, numpy scalar or 0-d array)."""
    return float(np.asarray(value))
