"""Layers: forward values and gradients against PyTorch, Keras names/configs/weights, bad input."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu import utils

torch = pytest.importorskip("torch")


SEED = 1234  # conftest.py seeds every test with it


def run_layer(layer, x, grad_seed=0):
    """Forward x (float64) through layer, backprop a random cotangent; return (y, dx, [dweights])."""
    xt = tr.Tensor(x, requires_grad=True)
    y = layer(xt, training=False)
    g = np.random.default_rng(grad_seed).normal(size=y.shape)
    (y * tr.Tensor(g)).sum().backward()
    return y.data, xt.grad, [w.grad for w in layer.trainable_weights], g


def torch_grads(fn, x, params, g):
    xt = torch.tensor(x, requires_grad=True)
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    y = fn(xt, *ps)
    (y * torch.tensor(g)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), [p.grad.numpy() for p in ps]


def assert_close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---- names ----------------------------------------------------------------------------------
def test_automatic_names_follow_keras_per_class_counters():
    assert [L.Dense(2).name, L.Dense(2).name, L.Dense(2).name] == ["dense", "dense_1", "dense_2"]
    assert L.Conv2D(1, 3).name == "conv2d"
    assert L.MaxPooling2D().name == "max_pooling2d"
    assert L.ReLU().name == "re_lu"
    assert L.LeakyReLU().name == "leaky_re_lu"
    assert L.BatchNormalization().name == "batch_normalization"
    assert L.GlobalAveragePooling2D().name == "global_average_pooling2d"
    assert L.Dense(2, name="head").name == "head"
    L.reset_uids()
    assert L.Dense(2).name == "dense"


# ---- Dense ------------------------------------------------------------------------------------
def test_dense_matches_torch_linear_forward_and_gradients():
    layer = L.Dense(5, activation="tanh", dtype="float64", bias_initializer="random_normal")
    x = np.random.default_rng(0).normal(size=(7, 4))
    y, dx, (dk, db), g = run_layer(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 5) and bias.shape == (5,)  # Keras layout (in, out)
    ty, tdx, (tdk, tdb) = torch_grads(lambda x, k, b: torch.tanh(x @ k + b), x, [kernel, bias], g)
    assert_close(y, ty)
    assert_close(dx, tdx)
    assert_close(dk, tdk)
    assert_close(db, tdb)


def test_dense_on_rank3_input_acts_on_last_axis():
    layer = L.Dense(3, dtype="float64")
    x = np.random.default_rng(1).normal(size=(2, 4, 6))
    y = layer(x).data
    kernel, bias = layer.get_weights()
    assert_close(y, x @ kernel + bias)
    assert layer.compute_output_shape((None, 4, 6)) == (None, 4, 3)


def test_dense_feature_mismatch_message_names_layer_and_shapes():
    layer = L.Dense(4)
    layer(np.zeros((20, 10), np.float32))
    with pytest.raises(ValueError) as err:
        layer(np.zeros((20, 12), np.float32))
    assert str(err.value) == ("Input 0 of layer 'dense' is incompatible with the layer: expected axis -1 of input "
                              "shape to have value 10, but received input with shape (20, 12)")


@pytest.mark.parametrize("units", [0, -3, 2.5, "8"])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        L.Dense(units)


def test_unknown_activation_and_initializer_names_are_listed():
    with pytest.raises(ValueError, match="relu"):
        L.Dense(3, activation="rellu")
    with pytest.raises(ValueError, match="glorot_uniform"):
        L.Dense(3, kernel_initializer="glorious")


def test_unknown_constructor_argument_is_a_type_error():
    with pytest.raises(TypeError, match="unrecognized"):
        L.Dense(3, unitz=4)


# ---- Conv ------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1),
                                                      ("same", 2, 1), ("valid", 1, 2)])
def test_conv2d_matches_torch(padding, strides, dilation):
    layer = L.Conv2D(4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation, activation="relu",
                     dtype="float64", bias_initializer="random_normal")
    x = np.random.default_rng(2).normal(size=(2, 9, 8, 3))
    y, dx, (dk, db), g = run_layer(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 3, 4)  # Keras layout (kh, kw, cin, cout)
    assert y.shape[1:] == layer.compute_output_shape((None, 9, 8, 3))[1:]

    def torch_conv(xt, k, b):
        xin = xt.permute(0, 3, 1, 2)
        if padding == "same":  # TensorFlow's rule: total pad split with the odd cell at the end
            pads = []
            for n, kk in ((8, 2), (9, 3)):  # width first for F.pad
                out = -(-n // strides)
                total = max((out - 1) * strides + (kk - 1) * dilation + 1 - n, 0)
                pads += [total // 2, total - total // 2]
            xin = torch.nn.functional.pad(xin, pads)
        out = torch.nn.functional.conv2d(xin, k.permute(3, 2, 0, 1), b, stride=strides, dilation=dilation)
        return torch.relu(out).permute(0, 2, 3, 1)

    ty, tdx, (tdk, tdb) = torch_grads(torch_conv, x, [kernel, bias], g)
    assert_close(y, ty)
    assert_close(dx, tdx)
    assert_close(dk, tdk)
    assert_close(db, tdb)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_matches_torch(padding):
    layer = L.Conv1D(3, 3, padding=padding, dtype="float64", bias_initializer="random_normal")
    x = np.random.default_rng(3).normal(size=(2, 10, 4))
    y, dx, (dk, db), g = run_layer(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 4, 3)

    def torch_conv(xt, k, b):
        xin = xt.permute(0, 2, 1)
        pads = {"valid": (0, 0), "same": (1, 1), "causal": (2, 0)}[padding]
        xin = torch.nn.functional.pad(xin, pads)
        return torch.nn.functional.conv1d(xin, k.permute(2, 1, 0), b).permute(0, 2, 1)

    ty, tdx, (tdk, tdb) = torch_grads(torch_conv, x, [kernel, bias], g)
    assert_close(y, ty)
    assert_close(dx, tdx)
    assert_close(dk, tdk)
    assert_close(db, tdb)


def test_conv_bad_input():
    with pytest.raises(ValueError, match="larger than"):
        L.Conv2D(2, 5)(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        L.Conv2D(2, 3)(np.zeros((1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="filters"):
        L.Conv2D(0, 3)
    with pytest.raises(ValueError, match="strides"):
        L.Conv2D(2, 3, strides=0)
    with pytest.raises(ValueError, match="dilation_rate"):
        L.Conv1D(2, 3, dilation_rate=-1)
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="full")


# ---- pooling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling2d_matches_torch(kind):
    layer = (L.MaxPooling2D if kind == "max" else L.AveragePooling2D)((2, 2), dtype="float64")
    x = np.random.default_rng(4).normal(size=(2, 6, 7, 3))
    y, dx, _, g = run_layer(layer, x)
    fn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    ty, tdx, _ = torch_grads(lambda t: fn(t.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1), x, [], g)
    assert y.shape == (2, 3, 3, 3) == layer.compute_output_shape((2, 6, 7, 3))
    assert_close(y, ty)
    assert_close(dx, tdx)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling1d_matches_torch(kind):
    layer = (L.MaxPooling1D if kind == "max" else L.AveragePooling1D)(pool_size=3, strides=2, dtype="float64")
    x = np.random.default_rng(5).normal(size=(2, 11, 4))
    y, dx, _, g = run_layer(layer, x)
    fn = torch.nn.functional.max_pool1d if kind == "max" else torch.nn.functional.avg_pool1d
    ty, tdx, _ = torch_grads(lambda t: fn(t.permute(0, 2, 1), 3, 2).permute(0, 2, 1), x, [], g)
    assert_close(y, ty)
    assert_close(dx, tdx)


def test_global_pooling():
    x = np.random.default_rng(6).normal(size=(2, 5, 4, 3))
    assert_close(L.GlobalAveragePooling2D(dtype="float64")(x).data, x.mean(axis=(1, 2)))
    assert_close(L.GlobalMaxPooling2D(dtype="float64")(x).data, x.max(axis=(1, 2)))
    assert L.GlobalAveragePooling2D(keepdims=True, dtype="float64")(x).shape == (2, 1, 1, 3)
    x1 = x[:, :, 0, :]
    assert_close(L.GlobalAveragePooling1D(dtype="float64")(x1).data, x1.mean(axis=1))
    assert_close(L.GlobalMaxPooling1D(dtype="float64")(x1).data, x1.max(axis=1))


def test_pooling_bad_input():
    with pytest.raises(ValueError, match="pool_size"):
        L.MaxPooling2D(pool_size=0)
    with pytest.raises(ValueError, match="larger than"):
        L.MaxPooling2D((3, 3))(np.zeros((1, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3"):
        L.MaxPooling1D()(np.zeros((1, 8), np.float32))


# ---- activation layers -------------------------------------------------------------------------
X_ACT = np.random.default_rng(7).normal(size=(4, 6)) * 3


@pytest.mark.parametrize("layer,torch_fn", [
    (lambda: L.ReLU(dtype="float64"), torch.relu),
    (lambda: L.LeakyReLU(dtype="float64"), lambda t: torch.nn.functional.leaky_relu(t, 0.3)),
    (lambda: L.ELU(alpha=0.7, dtype="float64"), lambda t: torch.nn.functional.elu(t, 0.7)),
    (lambda: L.Softmax(dtype="float64"), lambda t: torch.softmax(t, -1)),
    (lambda: L.Activation("sigmoid", dtype="float64"), torch.sigmoid),
    (lambda: L.ReLU(max_value=2.0, dtype="float64"), lambda t: torch.clamp(t, 0, 2.0)),
])
def test_activation_layers_match_torch(layer, torch_fn):
    y, dx, _, g = run_layer(layer(), X_ACT)
    ty, tdx, _ = torch_grads(torch_fn, X_ACT, [], g)
    assert_close(y, ty)
    assert_close(dx, tdx)


def test_leaky_relu_default_slope_is_keras3_0_3():
    assert L.LeakyReLU().negative_slope == 0.3


def test_relu_threshold_and_negative_slope():
    layer = L.ReLU(negative_slope=0.1, threshold=0.5, dtype="float64")
    y = layer(X_ACT).data
    expected = np.where(X_ACT >= 0.5, X_ACT, 0.1 * (X_ACT - 0.5))
    assert_close(y, expected)


def test_prelu_matches_torch_and_shares_axes():
    x = np.random.default_rng(8).normal(size=(3, 4, 5, 2))
    layer = L.PReLU(alpha_initializer="random_uniform", shared_axes=[1, 2], dtype="float64")
    y, dx, (dalpha,), g = run_layer(layer, x)
    (alpha,) = layer.get_weights()
    assert alpha.shape == (1, 1, 2)
    ty, tdx, (tda,) = torch_grads(lambda t, a: torch.where(t > 0, t, a * t), x, [alpha], g)
    assert_close(y, ty)
    assert_close(dx, tdx)
    assert_close(dalpha, tda)
    full = L.PReLU()
    full(np.zeros((2, 4, 5, 2), np.float32))
    assert full.get_weights()[0].shape == (4, 5, 2)
    assert not full.get_weights()[0].any()  # alpha starts at zero, as in Keras


# ---- BatchNormalization ------------------------------------------------------------------------
def test_batchnorm_training_matches_torch_and_updates_moving_stats():
    x = np.random.default_rng(9).normal(loc=2.0, scale=3.0, size=(8, 5, 3))
    layer = L.BatchNormalization(dtype="float64", gamma_initializer="random_normal",
                                 beta_initializer="random_normal")
    xt = tr.Tensor(x, requires_grad=True)
    y = layer(xt, training=True)
    g = np.random.default_rng(10).normal(size=y.shape)
    (y * tr.Tensor(g)).sum().backward()
    gamma, beta, moving_mean, moving_var = layer.get_weights()
    assert layer.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2

    def torch_bn(t, gm, bt):
        flat = t.reshape(-1, 3)
        out = torch.nn.functional.batch_norm(flat, None, None, gm, bt, training=True, eps=1e-3)
        return out.reshape(t.shape)

    ty, tdx, (tdg, tdb) = torch_grads(torch_bn, x, [gamma, beta], g)
    assert_close(y.data, ty)
    assert_close(xt.grad, tdx)
    assert_close(layer.gamma.grad, tdg)
    assert_close(layer.beta.grad, tdb)
    flat = x.reshape(-1, 3)
    assert_close(moving_mean, 0.99 * 0 + 0.01 * flat.mean(0))
    assert_close(moving_var, 0.99 * 1 + 0.01 * flat.var(0))  # biased variance, as Keras

    # inference uses the moving statistics
    y_inf = layer(x, training=False).data
    assert_close(y_inf, (x - moving_mean) / np.sqrt(moving_var + 1e-3) * gamma + beta)


def test_frozen_batchnorm_runs_in_inference_mode_during_training():
    layer = L.BatchNormalization(dtype="float64")
    layer.trainable = False
    x = np.random.default_rng(11).normal(size=(6, 4))
    y = layer(x, training=True).data
    assert_close(y, x / np.sqrt(1 + 1e-3))
    assert_close(layer.get_weights()[2], np.zeros(4))  # moving mean untouched
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


# ---- Dropout, Flatten, Reshape -------------------------------------------------------------------
def test_dropout_scales_in_training_and_is_identity_in_inference():
    layer = L.Dropout(0.25, dtype="float64")
    x = np.ones((200, 50))
    assert_close(layer(x, training=False).data, x)
    y = layer(x, training=True).data
    kept = y != 0
    assert 0.70 < kept.mean() < 0.80
    assert_close(y[kept], np.full(kept.sum(), 1 / 0.75))


def test_dropout_is_repeatable_under_set_random_seed():
    x = np.ones((10, 10))
    utils.set_random_seed(5)
    a = L.Dropout(0.5, dtype="float64")(x, training=True).data
    utils.set_random_seed(5)
    b = L.Dropout(0.5, dtype="float64")(x, training=True).data
    assert_close(a, b)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_dropout_rejects_rate_outside_0_1(rate):
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(rate)


def test_flatten_and_reshape_shapes_and_gradient():
    x = tr.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = L.Flatten()(x)
    assert y.shape == (2, 12)
    z = L.Reshape((4, -1))(y)
    assert z.shape == (2, 4, 3)
    z.sum().backward()
    assert_close(x.grad, np.ones((2, 3, 4)))
    assert L.Flatten().compute_output_shape((None, 5, 5, 64)) == (None, 1600)
    with pytest.raises(ValueError, match="total size"):
        L.Reshape((5, 5))(np.zeros((2, 12), np.float32))


# ---- config and weights ----------------------------------------------------------------------------
ALL_LAYERS = [
    lambda: L.Dense(3, activation="relu", kernel_initializer="he_normal", kernel_regularizer="l2"),
    lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
    lambda: L.Conv1D(2, 5, padding="causal", dilation_rate=2),
    lambda: L.MaxPooling2D((3, 3), strides=(1, 1), padding="same"),
    lambda: L.AveragePooling1D(4),
    lambda: L.GlobalMaxPooling2D(keepdims=True),
    lambda: L.Flatten(),
    lambda: L.Reshape((2, -1)),
    lambda: L.Dropout(0.3, seed=3),
    lambda: L.Activation("softmax"),
    lambda: L.ReLU(max_value=6.0),
    lambda: L.LeakyReLU(0.1),
    lambda: L.PReLU(shared_axes=[1]),
    lambda: L.ELU(0.5),
    lambda: L.Softmax(axis=-1),
    lambda: L.BatchNormalization(momentum=0.9, epsilon=1e-5),
]


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_config_round_trips_through_json(make):
    import json
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    clone = type(layer).from_config(config)
    assert clone.get_config() == layer.get_config()


def test_weights_order_and_set_weights_errors():
    layer = L.Dense(3)
    layer.build((None, 2))
    assert [w.shape for w in layer.weights] == [(2, 3), (3,)]
    with pytest.raises(ValueError, match=r"'dense'.*\(2, 3\).*\(3, 2\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="expected a list of 2 arrays"):
        layer.set_weights([np.zeros((2, 3))])
    layer.set_weights([np.ones((2, 3)), np.full(3, 2.0)])
    assert_close(layer(np.ones((1, 2), np.float32)).data, np.full((1, 3), 4.0), 1e-6)


def test_trainable_false_freezes_weights():
    layer = L.Dense(2)
    layer.build((None, 2))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert not any(w.requires_grad for w in layer.weights)


def test_regularizer_losses():
    layer = L.Dense(2, kernel_regularizer=tr.regularizers.L2(0.5), dtype="float64")
    layer.build((None, 3))
    kernel = layer.get_weights()[0]
    (penalty,) = layer.losses
    assert_close(penalty.item(), 0.5 * (kernel ** 2).sum())


def test_input_declares_shape():
    inp = L.Input(shape=(28, 28, 1))
    assert inp.shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="shape"):
        L.Input()
