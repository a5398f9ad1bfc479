"""Initializers (Keras formulas checked by statistics on large draws) and utils (seeding, to_categorical)."""
import math
import random

import numpy as np
import pytest

from tinygrad_relu import initializers, utils
from tinygrad_relu.initializers import compute_fans

TRUNC = 0.87962566103423978


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((20, 30), (20, 30)),
    ((3, 16, 32), (48, 96)),            # Conv1D kernel (k, cin, cout)
    ((3, 5, 16, 32), (240, 480)),       # Conv2D kernel (kh, kw, cin, cout)
])
def test_fans_as_keras(shape, fans):
    assert compute_fans(shape) == fans


# (name, shape, expected std, hard limit on |w| or None, truncated?)
def _cases():
    fan_in, fan_out = 3 * 3 * 64, 3 * 3 * 128   # a conv kernel: the receptive field counts in both fans
    shape = (3, 3, 64, 128)
    glorot_limit = math.sqrt(6 / (fan_in + fan_out))
    return [
        ("glorot_uniform", shape, glorot_limit / math.sqrt(3), glorot_limit),
        ("he_uniform", shape, math.sqrt(6 / fan_in) / math.sqrt(3), math.sqrt(6 / fan_in)),
        ("lecun_uniform", shape, math.sqrt(3 / fan_in) / math.sqrt(3), math.sqrt(3 / fan_in)),
        ("he_normal", shape, math.sqrt(2 / fan_in), 2 * math.sqrt(2 / fan_in) / TRUNC),
        ("glorot_normal", shape, math.sqrt(2 / (fan_in + fan_out)), 2 * math.sqrt(2 / (fan_in + fan_out)) / TRUNC),
        ("lecun_normal", shape, math.sqrt(1 / fan_in), 2 * math.sqrt(1 / fan_in) / TRUNC),
        ("random_normal", (300, 300), 0.05, None),
        ("random_uniform", (300, 300), 0.1 / math.sqrt(12), 0.05),
        ("truncated_normal", (300, 300), 0.05 * TRUNC, 0.1),
    ]


@pytest.mark.parametrize("name,shape,std,limit", _cases(), ids=[c[0] for c in _cases()])
def test_statistics_match_keras_formulas(name, shape, std, limit):
    w = initializers.get(name)(shape)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.mean()) < 0.02 * std * 10
    assert w.std() == pytest.approx(std, rel=0.02)
    if limit is not None:
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.95 * limit  # the draw reaches its bound: the limit is not too loose


def test_truncated_normals_are_really_truncated():
    # untruncated with this std would put ~4.6% of the values beyond 2 raw standard deviations
    w = initializers.HeNormal()((1000, 200))
    raw_std = math.sqrt(2 / 1000) / TRUNC
    assert np.abs(w).max() <= 2 * raw_std * (1 + 1e-6)
    untruncated = initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")((1000, 200))
    assert untruncated.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert (np.abs(untruncated) > 2 * math.sqrt(2 / 1000)).mean() == pytest.approx(0.0455, abs=0.005)


def test_constants_dtype_and_orthogonal():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("ones")((4,)), np.ones(4))
    c = initializers.Constant(0.25)((2, 2), dtype="float64")
    assert c.dtype == np.float64 and (c == 0.25).all()
    assert initializers.get("glorot_uniform")((3, 4), dtype=np.float64).dtype == np.float64
    q = initializers.Orthogonal(seed=1)((6, 4))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    assert initializers.Zeros()((2,), dtype="int32").dtype == np.int32  # counters, as Keras allows
    with pytest.raises(ValueError, match="floating point"):
        initializers.GlorotUniform()((2, 2), dtype="int32")


def test_seeded_initializer_repeats_and_global_seed_repeats():
    a = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(a((5, 5)), a((5, 5)))  # Keras: a seeded initializer gives the same values
    utils.set_random_seed(42)
    first = [initializers.get("he_normal")((4, 4)), initializers.get("random_uniform")((3,)), np.random.rand(),
             random.random()]
    utils.set_random_seed(42)
    second = [initializers.get("he_normal")((4, 4)), initializers.get("random_uniform")((3,)), np.random.rand(),
              random.random()]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    utils.set_random_seed(43)
    assert not np.array_equal(first[0], initializers.get("he_normal")((4, 4)))
    assert isinstance(utils.get_rng(), np.random.Generator)
    with pytest.raises(ValueError, match="integer seed"):
        utils.set_random_seed("42")


def test_get_serialize_and_errors():
    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    init = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=7)
    config = initializers.serialize(init)
    assert config == {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.5, "seed": 7}}
    again = initializers.get(config)
    np.testing.assert_array_equal(again((3,)), init((3,)))
    assert initializers.serialize(initializers.GlorotUniform()) == {"class_name": "GlorotUniform",
                                                                    "config": {"seed": None}}

    def custom(shape, dtype="float32"):
        return np.full(shape, 2.0, dtype=dtype)
    assert initializers.get(custom) is custom
    with pytest.raises(ValueError, match="Unknown initializer 'xavier'.*glorot_uniform.*he_normal"):
        initializers.get("xavier")
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sideways")


def test_to_categorical_as_keras():
    out = utils.to_categorical([0, 2, 1])
    assert out.dtype == np.float64  # Keras 3 returns float64 too
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert utils.to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)  # (n, 1) squeezed
    assert utils.to_categorical(np.array([[0, 1], [2, 0]])).shape == (2, 2, 3)
    np.testing.assert_array_equal(utils.to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="class index 5 is out of range for num_classes=3"):
        utils.to_categorical([0, 5], num_classes=3)
    with pytest.raises(ValueError, match="whole numbers"):
        utils.to_categorical([0.5, 1.0])


def test_seed_reaches_generators_fetched_before_seeding():
    rng = utils.get_rng()  # e.g. kept by a layer before the user seeds
    utils.set_random_seed(5)
    a = rng.random(3)
    utils.set_random_seed(5)
    np.testing.assert_array_equal(a, utils.get_rng().random(3))
    assert utils.get_rng() is rng
