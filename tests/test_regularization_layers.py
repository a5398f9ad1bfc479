"""SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization: Keras' formulas
checked by their statistics and by hand (noise cannot be compared draw for draw), identities in inference,
the gradient through the noise, seeds, configs against Keras', bad arguments named."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential, load_model

rng = np.random.default_rng(0)


@pytest.mark.parametrize("make", [
    lambda: L.SpatialDropout1D(0.5), lambda: L.SpatialDropout2D(0.5), lambda: L.GaussianNoise(0.5),
    lambda: L.GaussianDropout(0.5), lambda: L.AlphaDropout(0.5), lambda: L.ActivityRegularization(0.1, 0.1)])
def test_inference_is_the_identity(make):
    layer = make()
    x = rng.standard_normal((2, 4, 5) if "1D" in type(layer).__name__ else (2, 4, 5, 3)).astype(np.float32)
    assert layer(x).data is not None and np.array_equal(layer(x).data, x)
    assert np.array_equal(layer(x, training=False).data, x)


def test_spatial_dropout_drops_whole_channels_and_rescales():
    x = np.ones((400, 6, 5, 8), np.float32)
    y = L.SpatialDropout2D(0.25, seed=1)(x, training=True).data
    per_map = y.reshape(400, 30, 8)
    assert np.all(per_map == per_map[:, :1, :])  # one decision per (sample, channel)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((per_map[:, 0, :] == 0).mean() - 0.25) < 0.03
    first = L.SpatialDropout2D(0.5, data_format="channels_first", seed=2)(x, training=True).data
    assert np.all(first == first[:, :, :1, :1])  # channels first: axis 1 is the channel
    steps = L.SpatialDropout1D(0.5, seed=3)(np.ones((50, 7, 4), np.float32), training=True).data
    assert np.all(steps == steps[:, :1, :])


def test_gaussian_noise_and_dropout_statistics_and_gradients():
    x = np.full((200_000,), 2.0)
    noisy = L.GaussianNoise(0.3, seed=0, dtype="float64")(x, training=True).data - x
    assert abs(noisy.mean()) < 3e-3 and abs(noisy.std() - 0.3) < 3e-3
    xs = tr.Tensor(x, requires_grad=True)
    scaled = L.GaussianDropout(0.2, seed=0, dtype="float64")(xs, training=True)
    multiplier = scaled.data / x
    assert abs(multiplier.mean() - 1) < 3e-3 and abs(multiplier.std() - np.sqrt(0.2 / 0.8)) < 3e-3
    scaled.sum().backward()
    np.testing.assert_allclose(xs.grad, multiplier)  # dy/dx is the multiplier drawn
    a = L.GaussianNoise(0.5, seed=7)(np.zeros((3, 4), np.float32), training=True).data
    b = L.GaussianNoise(0.5, seed=7)(np.zeros((3, 4), np.float32), training=True).data
    assert np.array_equal(a, b)  # a seeded layer's draws repeat


def test_alpha_dropout_keeps_a_selu_nets_mean_and_variance_and_uses_keras_affine_map():
    standardized = L.AlphaDropout(0.2, seed=0, dtype="float64")(rng.standard_normal(400_000), training=True).data
    assert abs(standardized.mean()) < 0.01 and abs(standardized.var() - 1) < 0.01
    x = rng.uniform(0.1, 2.0, 100_000)  # positive: a kept value never equals the dropped one (alpha' < 0)
    xs = tr.Tensor(x, requires_grad=True)
    y = L.AlphaDropout(0.2, seed=0, dtype="float64")(xs, training=True)
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * 0.2
    kept = np.isclose(y.data, a * x + b)
    np.testing.assert_allclose(y.data[~kept], a * alpha_p + b)  # dropped: SELU's saturation, mapped
    assert abs((~kept).mean() - 0.2) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(xs.grad, np.where(kept, a, 0.0))
    shared = L.AlphaDropout(0.5, noise_shape=(None, 1), seed=1)(np.ones((30, 6), np.float32), training=True).data
    assert np.all(shared == shared[:, :1])


def test_activity_regularization_adds_its_penalty_per_sample():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    layer = L.ActivityRegularization(l1=0.1, l2=0.01)
    layer(x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2  # divided by the batch size, as Keras
    assert [float(v.item()) for v in layer.losses] == pytest.approx([expected])
    model = Sequential([tr.Input((2,)), L.Dense(2), L.ActivityRegularization(l2=1.0)])
    model.compile("sgd", "mse")
    zero_target = np.zeros((2, 2), np.float32)
    loss = model.evaluate(x, zero_target, verbose=0)
    outputs = model.predict(x, verbose=0)
    assert loss == pytest.approx(np.mean(outputs ** 2) + (outputs ** 2).sum() / 2, rel=1e-5)


def test_configs_match_keras_and_round_trip(keras):
    for make in (lambda l: l.layers.SpatialDropout1D(0.3, seed=4),
                 lambda l: l.layers.SpatialDropout2D(0.3, data_format="channels_first"),
                 lambda l: l.layers.GaussianNoise(0.2, seed=1), lambda l: l.layers.GaussianDropout(0.4),
                 lambda l: l.layers.AlphaDropout(0.1, noise_shape=[None, 1]),
                 lambda l: l.layers.ActivityRegularization(l1=0.5, l2=0.25)):
        theirs = {k: v for k, v in make(keras).get_config().items() if k not in ("name", "dtype", "trainable")}
        ours = make(tr).get_config()
        assert {k: ours[k] for k in theirs} == {k: list(v) if isinstance(v, tuple) else v for k, v in theirs.items()}
        copy = type(make(tr)).from_config(ours)
        assert copy.get_config() == ours


def test_a_model_with_every_regularizing_layer_trains_saves_and_loads(tmp_path):
    x = rng.standard_normal((64, 6, 4)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None]
    model = Sequential([tr.Input((6, 4)), L.GaussianNoise(0.1), L.SpatialDropout1D(0.2), L.Flatten(),
                        L.Dense(16, activation="selu"), L.AlphaDropout(0.1), L.GaussianDropout(0.1),
                        L.ActivityRegularization(l2=1e-4), L.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "reg.keras")
    np.testing.assert_allclose(load_model(tmp_path / "reg.keras").predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("bad,match", [
    (lambda: L.GaussianNoise(1.5), r"`stddev` must be a number in \[0, 1\]"),
    (lambda: L.GaussianNoise(-0.1), "stddev"),
    (lambda: L.GaussianDropout(1.0), r"`rate` must be a number in \[0, 1\)"),
    (lambda: L.AlphaDropout(1.0), r"`rate` must be a number in \[0, 1\)"),
    (lambda: L.AlphaDropout(0.5, noise_shape=(3, 1))(np.ones((2, 4)), training=True), "does not fit an input"),
    (lambda: L.SpatialDropout1D(1.0), "`rate` must be a number in"),
    (lambda: L.SpatialDropout2D(0.5, data_format="nhwc"), "`data_format` must be"),
    (lambda: L.SpatialDropout2D(0.5)(np.ones((2, 3, 4))), "expected ndim=4"),
    (lambda: L.GaussianNoise(0.1, seed="1"), "`seed` must be an integer"),
    (lambda: L.ActivityRegularization(l1=-1.0), "l1 must be a non-negative finite number"),
])
def test_bad_arguments_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
