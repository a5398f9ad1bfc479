"""Learning-rate schedules: ``schedule(step) -> learning rate``, Keras 3's formulas.

The optimizer evaluates its schedule at ``optimizer.iterations`` (the number of updates
already applied) before each update, as Keras does.
"""
import math
import numbers

from .._registry import Configurable
from .._registry import serialize  # noqa: F401  (public: schedules.serialize)


class LearningRateSchedule(Configurable):
    """Base class: ``__call__(step) -> float``, ``get_config``/``from_config``."""

    def __call__(self, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):  # pragma: no cover - abstract
        raise NotImplementedError


def _check_steps(value, name, who, positive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not (value > 0 if positive else value >= 0):
        raise ValueError(f"{who}: {name} must be {'> 0' if positive else '>= 0'}, received {name}={value!r}")
    return value


def _cosine(fraction, alpha):
    """(1 - alpha) * (1 + cos(pi * fraction)) / 2 + alpha: 1 at fraction 0, alpha at fraction 1."""
    return (1.0 - alpha) * (0.5 * (1.0 + math.cos(math.pi * fraction))) + alpha


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: decay by decay_rate per decay_steps steps."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_steps(decay_steps, "decay_steps", type(self).__name__)
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
    """Cosine from initial_learning_rate down to alpha * initial_learning_rate over decay_steps, then flat.

    With ``warmup_target``, first a linear warmup from initial_learning_rate to warmup_target over
    warmup_steps, then the cosine from warmup_target: lr(step) = initial + (target - initial) * step /
    warmup_steps while step < warmup_steps, else target * cosine((step - warmup_steps) / decay_steps).
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_steps(decay_steps, "decay_steps", "CosineDecay")
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = _check_steps(warmup_steps, "warmup_steps", "CosineDecay", positive=False)

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return self.initial_learning_rate * _cosine(min(step, self.decay_steps) / self.decay_steps, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (step / self.warmup_steps) \
                + self.initial_learning_rate
        return self.warmup_target * _cosine((step - self.warmup_steps) / self.decay_steps, self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017): a cosine from initial_learning_rate to
    alpha * initial_learning_rate over first_decay_steps, then again over t_mul times as many steps, each
    restart's peak m_mul times the previous one's.

    With i the number of restarts so far and f the fraction of the current period done:
    lr = initial_learning_rate * ((1 - alpha) * m_mul^i * (1 + cos(pi f)) / 2 + alpha).
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = _check_steps(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        self._t_mul = float(_check_steps(t_mul, "t_mul", "CosineDecayRestarts"))
        self._m_mul = float(_check_steps(m_mul, "m_mul", "CosineDecayRestarts", positive=False))
        self.alpha = float(alpha)
        self.name = name

    def __call__(self, step):
        fraction = float(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restarts = math.floor(fraction)
            fraction -= restarts
        else:  # periods 1, t, t^2 ...: the restarts so far solve (1 - t^i) / (1 - t) <= fraction
            restarts = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restarts) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restarts
        cosine = 0.5 * self._m_mul ** restarts * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial_learning_rate - end_learning_rate) * (1 - step / decay_steps)^power + end_learning_rate, then
    end_learning_rate; with ``cycle`` the decay restarts, over the first multiple of decay_steps past step."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_steps(decay_steps, "decay_steps", "PolynomialDecay")
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        step = float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, decay_steps)
        remaining = 1.0 - step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * remaining ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay, CosineDecay,
                                          CosineDecayRestarts, PolynomialDecay)}


def deserialize(config):
    cls = _CLASSES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"schedules.deserialize: unknown schedule {config!r}; known: {', '.join(sorted(_CLASSES))}")
    return cls.from_config(dict(config.get("config") or {}))
