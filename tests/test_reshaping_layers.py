"""UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D, Permute, RepeatVector, Identity and Lambda: Keras 3's
outputs and shapes, gradients against finite differences and PyTorch's bilinear interpolation, Lambda's
saving rules (a named function is saved by name and found among the custom objects; in safe mode a lambda's
bytecode is never run; arguments that cannot be saved are refused)."""
import json
import os

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import Model, Sequential, load_model, model_from_json
from tinygrad_relu.ops.resize import bilinear_matrix

rng = np.random.default_rng(0)

LAYERS = {
    "upsampling1d": (lambda l: l.layers.UpSampling1D(3), (2, 4, 3)),
    "upsampling2d": (lambda l: l.layers.UpSampling2D((2, 3)), (2, 4, 5, 3)),
    "upsampling2d_channels_first": (lambda l: l.layers.UpSampling2D((2, 3), data_format="channels_first"),
                                    (2, 3, 4, 5)),
    "upsampling2d_bilinear": (lambda l: l.layers.UpSampling2D((2, 3), interpolation="bilinear"), (2, 4, 5, 3)),
    "upsampling2d_bilinear_channels_first": (lambda l: l.layers.UpSampling2D(4, interpolation="bilinear",
                                                                             data_format="channels_first"), (2, 3, 4, 5)),
    "zeropadding1d": (lambda l: l.layers.ZeroPadding1D((1, 2)), (2, 4, 3)),
    "zeropadding1d_channels_first": (lambda l: l.layers.ZeroPadding1D(2, data_format="channels_first"), (2, 3, 4)),
    "zeropadding2d": (lambda l: l.layers.ZeroPadding2D(((1, 2), (0, 3))), (2, 4, 5, 3)),
    "zeropadding2d_channels_first": (lambda l: l.layers.ZeroPadding2D((1, 2), data_format="channels_first"),
                                     (2, 3, 4, 5)),
    "cropping1d": (lambda l: l.layers.Cropping1D((1, 2)), (2, 6, 3)),
    "cropping2d": (lambda l: l.layers.Cropping2D(((1, 2), (0, 1))), (2, 6, 5, 3)),
    "cropping2d_channels_first": (lambda l: l.layers.Cropping2D(1, data_format="channels_first"), (2, 3, 6, 5)),
    "permute": (lambda l: l.layers.Permute((2, 1)), (2, 4, 3)),
    "permute3": (lambda l: l.layers.Permute((3, 1, 2)), (2, 4, 3, 5)),
    "repeat_vector": (lambda l: l.layers.RepeatVector(4), (2, 3)),
    "identity": (lambda l: l.layers.Identity(), (2, 3)),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer_matches_keras(keras, case):
    make, shape = LAYERS[case]
    theirs, ours = make(keras), make(tr)
    x = rng.standard_normal(shape).astype(np.float32)
    expected = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-6, atol=1e-6)
    assert tuple(ours.compute_output_shape((None,) + shape[1:])) == tuple(theirs.compute_output_shape((None,) + shape[1:]))
    config = ours.get_config()
    assert type(ours).from_config(config).get_config() == config
    json.dumps(config)


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_gradients_match_finite_differences(case):
    make, shape = LAYERS[case]
    layer = make(tr)
    layer.dtype = "float64"
    assert tr.gradcheck(lambda t: layer(t), [rng.standard_normal(shape)])


def test_bilinear_weights_are_pytorchs_half_pixel_ones():
    torch = pytest.importorskip("torch")
    for size, new in [(4, 8), (5, 15), (3, 12), (1, 4)]:
        eye = torch.eye(size, dtype=torch.float64)[None]  # each input cell's response: a column of A
        response = torch.nn.functional.interpolate(eye, size=new, mode="linear", align_corners=False)[0]
        np.testing.assert_allclose(bilinear_matrix(size, new), response.numpy().T, rtol=1e-12, atol=1e-15)
    x = rng.standard_normal((2, 4, 5, 3))
    xs = tr.Tensor(x, requires_grad=True)
    y = L.UpSampling2D((2, 3), interpolation="bilinear", dtype="float64")(xs)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=(2, 3), mode="bilinear", align_corners=False)
    yt.backward(torch.tensor(np.moveaxis(grad, -1, 1).copy()))
    np.testing.assert_allclose(y.data, np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-12)
    np.testing.assert_allclose(xs.grad, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-12)


def test_by_hand():
    x = np.arange(6.0).reshape(1, 3, 2)
    np.testing.assert_array_equal(L.UpSampling1D(2)(x).data[0, :, 0], [0, 0, 2, 2, 4, 4])
    np.testing.assert_array_equal(L.ZeroPadding1D((1, 0))(x).data[0, :, 1], [0, 1, 3, 5])
    np.testing.assert_array_equal(L.Cropping1D((1, 1))(x).data, [[[2.0, 3.0]]])
    np.testing.assert_array_equal(L.RepeatVector(2)(np.array([[1.0, 2.0]])).data, [[[1, 2], [1, 2]]])
    np.testing.assert_array_equal(L.Permute((2, 1))(x).data, x.transpose(0, 2, 1))


@pytest.mark.parametrize("bad,error,match", [
    (lambda: L.UpSampling1D(2.5), TypeError, "`size` must be an integer"),
    (lambda: L.UpSampling1D(0), ValueError, "size"),
    (lambda: L.UpSampling2D(interpolation="bicubic"), NotImplementedError, "interpolation='bicubic' is not supported"),
    (lambda: L.UpSampling2D(interpolation="cubic"), ValueError, "`interpolation` must be one of"),
    (lambda: L.UpSampling2D()(np.ones((2, 3, 3))), ValueError, "expected ndim=4"),
    (lambda: L.ZeroPadding2D(((1, 2), (3,))), ValueError, "padding"),
    (lambda: L.ZeroPadding1D(-1), ValueError, "non-negative"),
    (lambda: L.Cropping2D(3)(np.ones((1, 6, 8, 1))), ValueError, "leaves nothing of spatial axis 1"),
    (lambda: L.Cropping1D((2, 2))(np.ones((1, 4, 1))), ValueError, "leaves nothing"),
    (lambda: L.Permute((1, 3)), ValueError, "must be consecutive and start from 1"),
    (lambda: L.Permute((2, 1))(np.ones((2, 3))), ValueError, "expected ndim=3"),
    (lambda: L.RepeatVector(2)(np.ones((2, 3, 4))), ValueError, "expected ndim=2"),
    (lambda: L.RepeatVector("2"), TypeError, "`n` must be an integer"),
])
def test_bad_arguments_are_named(bad, error, match):
    with pytest.raises(error, match=match):
        bad()


def test_an_upsampling_autoencoder_trains():
    x = rng.standard_normal((16, 8, 8, 1)).astype(np.float32)
    model = Sequential([tr.Input((8, 8, 1)), L.ZeroPadding2D(1), L.Conv2D(4, 3, activation="relu"),
                        L.MaxPooling2D(), L.UpSampling2D(interpolation="bilinear"), L.Cropping2D(((1, 0), (0, 1))),
                        L.ZeroPadding2D(((0, 1), (1, 0))), L.Conv2D(1, 3, padding="same")])
    model.compile("adam", "mse")
    history = model.fit(x, x, epochs=10, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---- Lambda: saving rules (its calls, shapes and gradients are in tests/test_lambda_layer.py) -----------
def double(x):
    return x * 2.0


def scaled(x, factor=1.0):
    return x * factor


def lambda_model(function, **kwargs):
    inputs = tr.Input((3,))
    return Model(inputs, L.Dense(2)(L.Lambda(function, name="scale", **kwargs)(inputs)))


@pytest.mark.parametrize("filename", ["lambda.keras", "lambda.trm"])
def test_a_named_function_is_saved_by_name_and_found_through_custom_objects(tmp_path, filename):
    model = lambda_model(double)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    path = tmp_path / filename
    model.save(path)
    with pytest.raises(ValueError, match=r"Lambda 'scale': could not locate the function 'double'.*custom_objects"):
        load_model(path)  # a name, never imported: it must be given
    loaded = load_model(path, custom_objects={"double": double})
    assert loaded.get_layer("scale").function is double
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with tr.saving.custom_object_scope({"double": double}):
        assert model_from_json(model.to_json()).get_layer("scale").function is double


def test_in_safe_mode_a_lambdas_bytecode_is_never_run_and_its_function_can_be_passed_by_layer_name(tmp_path):
    marker = str(tmp_path / "ran")
    model = lambda_model(lambda t: (open(marker, "w").close(), t * 2.0)[1])  # running it leaves a file
    x = rng.standard_normal((4, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    config = json.loads(model.to_json())
    os.remove(marker)
    with pytest.raises(ValueError, match="Python lambda.*safe_mode=False"):
        load_model(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Python lambda.*safe_mode=False"):
        model_from_json(json.dumps(config))
    loaded = load_model(tmp_path / "m.keras", custom_objects={"scale": double})  # the bytecode is not read
    assert loaded.get_layer("scale").function is double
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    assert not os.path.exists(marker)
    trusted = load_model(tmp_path / "m.keras", safe_mode=False)  # the opt-out runs it: the marker shows it would
    np.testing.assert_allclose(trusted.predict(x, verbose=0), expected, rtol=1e-6)
    assert os.path.exists(marker)


@pytest.mark.parametrize("value", [np.ones(2), object(), {"nested": [1, {2}]}])
def test_lambda_arguments_that_cannot_be_saved_are_refused(tmp_path, value):
    model = lambda_model(scaled, arguments={"factor": value}, output_shape=(3,))
    with pytest.raises(ValueError, match=r"Lambda 'scale': only plain values .* in `arguments` can be saved; "
                                         r"arguments\['factor'\]"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
    model.save_weights(tmp_path / "m.weights.h5")  # the weights alone are fine
    plain = lambda_model(scaled, arguments={"factor": [0.5, 2.0, 3.0]})
    plain.save(tmp_path / "p.keras")
    loaded = load_model(tmp_path / "p.keras", custom_objects={"scaled": scaled})
    assert loaded.get_layer("scale").arguments == {"factor": [0.5, 2.0, 3.0]}
