"""LayerNormalization, GroupNormalization, UnitNormalization, Normalization (adapt, mean/variance, invert) and
Rescaling: the same outputs and weights as Keras 3, gradients against PyTorch in float64 and finite
differences, hand-computed values, bad arguments named."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential, load_model

rng = np.random.default_rng(0)


def same_as_keras(keras, make, shape, tol=2e-6):
    theirs, ours = make(keras), make(tr)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    theirs(x)
    ours(x)
    assert [v.path.rsplit("/", 1)[-1] for v in theirs.weights] == [n.rsplit("/", 1)[-1] for n in ours.weight_names]
    weights = [np.asarray(keras.ops.convert_to_numpy(w)) for w in theirs.get_weights()]
    weights = [w + 0.1 * rng.standard_normal(w.shape).astype(w.dtype) if w.dtype.kind == "f" else w for w in weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours(x).data, keras.ops.convert_to_numpy(theirs(x)), rtol=tol, atol=tol * 5)


LAYERS = {
    "layer_norm": (lambda l: l.layers.LayerNormalization(), (3, 4, 5)),
    "layer_norm_two_axes": (lambda l: l.layers.LayerNormalization(axis=[2, 3], epsilon=1e-5, center=False),
                            (2, 4, 5, 3)),
    "layer_norm_apart_axes": (lambda l: l.layers.LayerNormalization(axis=[1, 3]), (2, 4, 5, 3)),
    "layer_norm_no_scale": (lambda l: l.layers.LayerNormalization(scale=False), (3, 6)),
    "group_norm": (lambda l: l.layers.GroupNormalization(groups=2), (2, 4, 5, 6)),
    "instance_norm_channels_first": (lambda l: l.layers.GroupNormalization(groups=-1, axis=1), (2, 4, 5, 6)),
    "group_norm_middle_axis": (lambda l: l.layers.GroupNormalization(groups=3, axis=-2, center=False), (2, 4, 6, 5)),
    "unit_norm": (lambda l: l.layers.UnitNormalization(), (3, 4, 5)),
    "unit_norm_two_axes": (lambda l: l.layers.UnitNormalization(axis=[1, 2]), (3, 4, 5)),
    "rescaling": (lambda l: l.layers.Rescaling(1 / 255.0, offset=-1), (3, 4, 5)),
    "rescaling_arrays": (lambda l: l.layers.Rescaling(np.array([1.0, 2.0, 3.0], np.float32),
                                                      offset=np.array([0.5, 0.0, 1.0], np.float32)), (2, 4, 3)),
    "normalization_given": (lambda l: l.layers.Normalization(mean=[1.0, 2, 3], variance=[1.0, 4, 9]), (2, 4, 3)),
    "normalization_scalar": (lambda l: l.layers.Normalization(axis=None, mean=2.0, variance=3.0), (2, 4, 3)),
    "normalization_invert": (lambda l: l.layers.Normalization(axis=(1, 2), mean=[1.0, 2, 3], variance=[1.0, 4, 9],
                                                              invert=True), (2, 4, 3)),
    "normalization_weights": (lambda l: l.layers.Normalization(axis=(1, 2)), (2, 4, 3)),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer_matches_keras(keras, case):
    make, shape = LAYERS[case]
    same_as_keras(keras, make, shape)


def test_layer_normalization_by_hand_on_any_axis():
    x = rng.standard_normal((2, 4, 5))
    layer = L.LayerNormalization(axis=1, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([np.arange(1.0, 5.0), np.full(4, 0.5)])
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * np.arange(1.0, 5.0)[:, None] + 0.5
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12)


@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_layer_normalization_gradients_match_torch_and_finite_differences(axis):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 5))
    layer = L.LayerNormalization(axis=axis, dtype="float64")
    layer.build(x.shape)
    gamma, beta = rng.standard_normal(layer.gamma.shape), rng.standard_normal(layer.beta.shape)
    layer.set_weights([gamma, beta])
    xs = tr.Tensor(x, requires_grad=True)
    y = layer(xs)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    axes = [a % 3 for a in (axis if isinstance(axis, list) else [axis])]
    # PyTorch's layer_norm normalizes trailing axes: move ours there
    rest = [a for a in range(3) if a not in axes]
    order = rest + axes
    xt = torch.tensor(x.transpose(order).copy(), requires_grad=True)
    gt, bt = (torch.tensor(v, requires_grad=True) for v in (gamma, beta))
    yt = torch.nn.functional.layer_norm(xt, gamma.shape, gt, bt, eps=1e-3)
    yt.backward(torch.tensor(grad.transpose(order).copy()))
    back = np.argsort(order)
    np.testing.assert_allclose(y.data, yt.detach().numpy().transpose(back), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy().transpose(back), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.gamma.grad, gt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.beta.grad, bt.grad.numpy(), rtol=1e-9, atol=1e-10)
    assert tr.gradcheck(lambda t: layer(t), [x])


def test_group_normalization_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 5, 4, 6))  # channels last: 6 channels in 3 groups
    layer = L.GroupNormalization(groups=3, dtype="float64")
    layer.build(x.shape)
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    layer.set_weights([gamma, beta])
    xs = tr.Tensor(x, requires_grad=True)
    y = layer(xs)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    gt, bt = (torch.tensor(v, requires_grad=True) for v in (gamma, beta))
    yt = torch.nn.functional.group_norm(xt, 3, gt, bt, eps=1e-3)
    yt.backward(torch.tensor(np.moveaxis(grad, -1, 1).copy()))
    np.testing.assert_allclose(y.data, np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.gamma.grad, gt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.beta.grad, bt.grad.numpy(), rtol=1e-9, atol=1e-10)
    assert tr.gradcheck(lambda t: L.GroupNormalization(groups=2, axis=1, dtype="float64")(t), [x[:, :4]])


def test_unit_normalization_gradients_match_torch_and_the_zero_vector_is_bounded():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 6))
    xs = tr.Tensor(x, requires_grad=True)
    y = L.UnitNormalization(dtype="float64")(xs)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.normalize(xt, dim=-1, eps=1e-12)
    yt.backward(torch.tensor(grad))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert tr.gradcheck(lambda t: L.UnitNormalization(axis=[0, 1], dtype="float64")(t), [x[:, :3]])
    zero = tr.Tensor(np.zeros((1, 3)), requires_grad=True)
    out = L.UnitNormalization(dtype="float64")(zero)
    out.backward(np.ones((1, 3)))
    assert np.all(out.data == 0) and np.all(zero.grad == 1e12)  # x * 1/epsilon: slope 1/epsilon, no NaN


# ---- Normalization: adapt ------------------------------------------------------------------------
def batches_of(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_adapt_matches_keras_on_arrays_lists_and_generators(keras, axis):
    data = (rng.standard_normal((50, 4, 3)) * [1.0, 2.0, 5.0] + [0.0, 3.0, -1.0]).astype(np.float32)
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(data)
    expected = [keras.ops.convert_to_numpy(w) for w in theirs.get_weights()]
    for source in (data, batches_of(data, 7), (b for b in batches_of(data, 16)),
                   [(b, np.zeros(len(b))) for b in batches_of(data, 9)], tr.Tensor(data)):
        ours = L.Normalization(axis=axis)
        ours.adapt(source)
        got = ours.get_weights()
        assert [w.dtype for w in got] == [w.dtype for w in expected]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours(data).data, keras.ops.convert_to_numpy(theirs(data)), rtol=1e-5, atol=1e-5)


def test_adapted_layer_standardizes_and_inverts():
    data = rng.standard_normal((200, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]
    layer = L.Normalization(dtype="float64")
    layer.adapt(data)
    out = layer(data).data
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-12)
    inverse = L.Normalization(invert=True, dtype="float64")
    inverse.adapt(data)
    np.testing.assert_allclose(inverse(out).data, data, rtol=1e-12, atol=1e-12)
    keras_doc = L.Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(keras_doc(np.array([[1.0], [2.0], [3.0]])).data.ravel(),
                               [-1.4142135, -0.70710677, 0.0], rtol=1e-6)


def test_a_normalization_model_saves_its_statistics_and_gradients_reach_the_input(tmp_path):
    data = (rng.standard_normal((64, 3)) * 4 + 2).astype(np.float32)
    norm = L.Normalization()
    norm.adapt(data)
    model = Sequential([tr.Input((3,)), norm, L.Dense(1)])
    model.compile("adam", "mse")
    model.fit(data, data[:, :1] * 2, epochs=2, verbose=0)
    np.testing.assert_allclose(norm.get_weights()[0], data.mean(axis=0), rtol=1e-5)  # training leaves them
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 3
    for name in ("norm.keras", "norm.trm", "norm.weights.h5"):  # (its count is an int32 variable, as in Keras)
        if name.endswith(".weights.h5"):
            model.save_weights(tmp_path / name)
            loaded = Sequential([tr.Input((3,)), L.Normalization(), L.Dense(1)])
            loaded.load_weights(tmp_path / name)
        else:
            model.save(tmp_path / name)
            loaded = load_model(tmp_path / name)
        np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], norm.get_weights()[0])
        assert loaded.layers[0].count.data.dtype == np.int32
        np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    x = tr.Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    given = L.Normalization(mean=[0.0, 0.0, 0.0], variance=[4.0, 1.0, 0.25], dtype="float64")
    given(x).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.5, 1.0, 2.0]])


@pytest.mark.parametrize("bad,error,match", [
    (lambda: L.Normalization(mean=1.0), ValueError, "both `mean` and `variance` must be set"),
    (lambda: L.Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, "must have the same shape"),
    (lambda: L.Normalization(axis=None, mean=[1.0], variance=[1.0]), ValueError, "rank of `mean` must be at most"),
    (lambda: L.Normalization(mean=[1.0], variance=[-1.0]), ValueError, "must not be negative"),
    (lambda: L.Normalization().adapt([]), ValueError, "empty iterable"),
    (lambda: L.Normalization().adapt(3.0), TypeError, "expected an array or an iterable"),
    (lambda: L.Normalization(axis=3).adapt(np.ones((4, 2))), ValueError, r"range \[-ndim, ndim\)"),
    (lambda: L.Normalization(mean=1.0, variance=1.0).adapt(np.ones((4, 2))), ValueError, "would not change them"),
    (lambda: L.Normalization().adapt([np.ones((4, 2)), np.ones((4, 3))]), ValueError, "built for sizes"),
    (lambda: L.LayerNormalization(axis="last"), TypeError, "`axis` must be an int"),
    (lambda: L.LayerNormalization(epsilon=0), ValueError, "`epsilon` must be a finite positive number"),
    (lambda: L.LayerNormalization(axis=3)(np.ones((2, 3))), ValueError, "axis 3 is not a feature axis"),
    (lambda: L.GroupNormalization(groups=0), ValueError, "invalid value for argument `groups`"),
    (lambda: L.GroupNormalization(groups=4)(np.ones((2, 6))), ValueError, "must be a multiple of the number of groups"),
    (lambda: L.GroupNormalization(groups=8)(np.ones((2, 4))), ValueError, "must be a multiple"),
    (lambda: L.UnitNormalization(axis=2)(np.ones((2, 3))), ValueError, "out of bounds"),
    (lambda: L.Rescaling("half"), ValueError, "`scale` must be a number"),
])
def test_bad_arguments_are_named(bad, error, match):
    with pytest.raises(error, match=match):
        bad()


def test_configs_round_trip_and_read_keras_configs(keras):
    for make in (lambda l: l.layers.LayerNormalization(axis=[1, 2], epsilon=1e-4, center=False),
                 lambda l: l.layers.GroupNormalization(groups=4, axis=1),
                 lambda l: l.layers.UnitNormalization(axis=[1, 2]),
                 lambda l: l.layers.Normalization(axis=None, mean=2.0, variance=3.0, invert=True),
                 lambda l: l.layers.Rescaling(np.array([1.0, 2.0]), offset=0.5)):
        theirs = make(keras)
        ours = type(make(tr)).from_config(theirs.get_config())
        again = type(ours).from_config(ours.get_config())
        assert again.get_config() == ours.get_config()
    rescale = L.Rescaling.from_config(keras.layers.Rescaling(np.array([1.0, 2.0], np.float32)).get_config())
    np.testing.assert_array_equal(rescale(np.ones((1, 2), np.float32)).data, [[1.0, 2.0]])
