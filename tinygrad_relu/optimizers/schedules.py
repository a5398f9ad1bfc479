"""Learning-rate schedules: ``schedule(step) -> learning rate``, Keras 3's formulas.

The optimizer evaluates its schedule at ``optimizer.iterations`` (the number of updates
already applied) before each update, as Keras does.
"""
import math

from .._registry import Configurable
from .._registry import serialize  # noqa: F401  (public: schedules.serialize)


class LearningRateSchedule(Configurable):
    """Base class: ``__call__(step) -> float``, ``get_config``/``from_config``."""

    def __call__(self, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):  # pragma: no cover - abstract
        raise NotImplementedError


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: decay by decay_rate per decay_steps steps."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        if decay_steps <= 0:
            raise ValueError(f"{type(self).__name__}: decay_steps must be > 0, received decay_steps={decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step):
        """step / decay_steps, floored if staircase."""
        progress = float(step) / self.decay_steps
        return math.floor(progress) if self.staircase else progress

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """initial_learning_rate * decay_rate ** (step / decay_steps); the exponent floored if staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: values must have one more entry than boundaries, received "
                             f"{len(boundaries)} boundaries {boundaries} and {len(values)} values {values}")
        if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must be increasing, received {boundaries}")
        self.boundaries = boundaries
        self.values = [float(v) for v in values]
        self.name = name

    def __call__(self, step):
        step = float(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(_StepDecay):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps); the ratio floored if staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class CosineDecay(LearningRateSchedule):
    """Cosine from initial_learning_rate down to alpha * initial_learning_rate over decay_steps (no warmup)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        if warmup_target is not None or warmup_steps:
            raise NotImplementedError(f"CosineDecay: warmup is not supported, received warmup_target={warmup_target!r}, "
                                      f"warmup_steps={warmup_steps!r}")
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be > 0, received decay_steps={decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)
        self.name = name

    def __call__(self, step):
        progress = min(float(step), self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, CosineDecay)}


def deserialize(config):
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"schedules.deserialize: unknown schedule {config!r}; known: {', '.join(sorted(_CLASSES))}")
    return cls.from_config(dict(config.get("config") or {}))
