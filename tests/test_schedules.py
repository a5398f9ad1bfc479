"""Learning-rate schedules against Keras 3 (which evaluates them in float32) and hand-computed values (float64)."""
import math

import numpy as np
import pytest

from tinygrad_relu import Tensor, optimizers
from tinygrad_relu.optimizers import schedules

CASES = [
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "alpha": 0.2}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.5, "warmup_steps": 7}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 10, "alpha": 0.1, "warmup_target": 0.2,
                     "warmup_steps": 5}),
    ("CosineDecay", {"initial_learning_rate": 0.3, "decay_steps": 10, "warmup_target": 0.1, "warmup_steps": 0}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 5}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4, "t_mul": 1.0, "m_mul": 0.5,
                             "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.2, "first_decay_steps": 3, "t_mul": 1.5, "m_mul": 0.8,
                             "alpha": 0.05}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 0.5, "staircase": True}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 12}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "end_learning_rate": 0.01, "power": 2.0}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "end_learning_rate": 0.01, "power": 0.5,
                         "cycle": True}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [3, 9], "values": [0.1, 0.05, 0.01]}),
]
IDS = [f"{name}-{'-'.join(k for k in cfg if 'learning_rate' not in k and 'steps' not in k) or 'plain'}"
       for name, cfg in CASES]


@pytest.mark.parametrize("name,cfg", CASES, ids=IDS)
def test_values_match_keras_3(keras, name, cfg):
    ours = getattr(schedules, name)(**cfg)
    theirs = getattr(keras.optimizers.schedules, name)(**cfg)
    steps = list(range(0, 40)) + [57, 100, 1000]
    ours_values = np.array([ours(s) for s in steps])
    keras_values = np.array([float(theirs(s)) for s in steps])
    np.testing.assert_allclose(ours_values, keras_values, rtol=1e-5, atol=1e-8)  # Keras computes in float32
    assert len(set(np.round(ours_values, 9))) > 2  # it does change over the steps
    config = ours.get_config()
    assert config == {k: (float(v) if isinstance(v, float) else v) for k, v in theirs.get_config().items()} or \
        name == "PiecewiseConstantDecay"
    again = schedules.deserialize(schedules.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == config
    keras_copy = getattr(keras.optimizers.schedules, name).from_config(config)
    assert float(keras_copy(13)) == pytest.approx(ours(13), rel=2e-6)


def test_hand_computed_values():
    cosine = schedules.CosineDecay(1.0, decay_steps=10, alpha=0.2)
    assert cosine(0) == 1.0 and cosine(5) == pytest.approx(0.8 * 0.5 + 0.2) and cosine(10) == pytest.approx(0.2)
    assert cosine(25) == cosine(10)
    warm = schedules.CosineDecay(0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)
    assert [warm(s) for s in (0, 1, 2)] == [0.0, 0.5, 1.0]
    assert warm(4) == pytest.approx(0.5) and warm(6) == pytest.approx(0.0, abs=1e-15) and warm(99) == warm(6)
    sgdr = schedules.CosineDecayRestarts(1.0, first_decay_steps=2, t_mul=2.0, m_mul=0.5)
    # periods [0, 2), [2, 6), [6, 14): restart peaks 1, 0.5, 0.25; halfway through the second: 0.25
    assert [sgdr(0), sgdr(2), sgdr(6)] == pytest.approx([1.0, 0.5, 0.25])
    assert sgdr(4) == pytest.approx(0.25) and sgdr(1) == pytest.approx(0.5)
    poly = schedules.PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0, power=2.0)
    assert [poly(s) for s in (0, 2, 4, 8)] == [1.0, 0.25, 0.0, 0.0]
    cyc = schedules.PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0, cycle=True)
    assert cyc(0) == 1.0 and cyc(4) == 0.0 and cyc(6) == pytest.approx(0.25)  # 1 - 6/8
    inverse = schedules.InverseTimeDecay(1.0, decay_steps=2, decay_rate=1.0)
    assert inverse(4) == pytest.approx(1 / 3) and math.isclose(inverse(1), 1 / 1.5)


def test_an_optimizer_follows_the_schedule_at_its_iterations():
    schedule = schedules.CosineDecay(0.0, decay_steps=4, warmup_target=0.5, warmup_steps=2)
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = optimizers.SGD(learning_rate=schedule)
    moved = []
    for _ in range(7):
        p.grad = np.ones(1)
        before = p.data.copy()
        opt.apply_gradients([p])
        moved.append(float(before[0] - p.data[0]))
    np.testing.assert_allclose(moved, [schedule(s) for s in range(7)], rtol=1e-12, atol=1e-15)
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    assert optimizers.SGD.from_config(config).get_config() == config


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="CosineDecay: decay_steps must be > 0.*0"):
        schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1)
    with pytest.raises(ValueError, match="CosineDecayRestarts: first_decay_steps must be > 0"):
        schedules.CosineDecayRestarts(0.1, -3)
    with pytest.raises(ValueError, match="t_mul must be > 0"):
        schedules.CosineDecayRestarts(0.1, 3, t_mul=0.0)
    with pytest.raises(ValueError, match="PolynomialDecay: decay_steps must be > 0"):
        schedules.PolynomialDecay(0.1, float("nan"))
    with pytest.raises(ValueError, match="InverseTimeDecay: decay_steps"):
        schedules.InverseTimeDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="unknown schedule.*CosineDecayRestarts.*PolynomialDecay"):
        schedules.deserialize({"class_name": "LinearWarmup", "config": {}})
