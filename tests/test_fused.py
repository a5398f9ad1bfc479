"""Fused paths against the unfused ones they replace: the Dense op, the engine's fast paths,
and the per-step shortcuts of Sequential. Values and gradients must agree."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import activations, gradcheck
from tinygrad_relu.layers import Dense, Input
from tinygrad_relu.models import Sequential
from tinygrad_relu.ops import dense as dense_op
from tinygrad_relu.tensor import Tensor

FUSED = sorted(dense_op.FUSABLE)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}


def _inputs(dtype, use_bias, seed=0, n=7, n_in=5, n_out=4):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((n, n_in)).astype(dtype), requires_grad=True)
    kernel = Tensor(rng.standard_normal((n_in, n_out)).astype(dtype), requires_grad=True)
    bias = Tensor(rng.standard_normal(n_out).astype(dtype), requires_grad=True) if use_bias else None
    upstream = rng.standard_normal((n, n_out)).astype(dtype)
    return x, kernel, bias, upstream


def _unfused(x, kernel, bias, name):
    z = x @ kernel
    if bias is not None:
        z = z + bias
    return activations.ALL_ACTIVATIONS[name](z)


def _grads(tensors):
    return [None if t is None else t.grad for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("name", FUSED)
def test_fused_dense_matches_unfused_values_and_gradients(name, use_bias, dtype):
    x, kernel, bias, upstream = _inputs(dtype, use_bias)
    fused = dense_op.dense(x, kernel, bias, name)
    fused.backward(upstream)
    fused_grads = _grads([x, kernel, bias])

    x2, kernel2, bias2, _ = _inputs(dtype, use_bias)
    reference = _unfused(x2, kernel2, bias2, name)
    reference.backward(upstream)

    assert fused.dtype == dtype and fused.shape == reference.shape
    np.testing.assert_allclose(fused.data, reference.data, **TOL[dtype])
    for got, want in zip(fused_grads, _grads([x2, kernel2, bias2])):
        if want is None:
            assert got is None
            continue
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("name", ["relu", "linear", "tanh", "gelu", "leaky_relu"])
def test_fused_dense_passes_gradcheck(name):
    rng = np.random.default_rng(1)
    # keep pre-activations away from relu's kink, where finite differences are meaningless
    x = rng.standard_normal((4, 3))
    kernel = rng.standard_normal((3, 5))
    bias = rng.standard_normal(5)
    z = x @ kernel + bias
    bias = bias + np.where(np.abs(z).min(axis=0) < 1e-3, 0.1, 0.0)
    assert gradcheck(lambda a, k, b: dense_op.dense(a, k, b, name), [x, kernel, bias])


@pytest.mark.parametrize("use_bias", [True, False])
def test_needs_input_grad_is_respected(use_bias):
    x, kernel, bias, upstream = _inputs(np.float32, use_bias)
    x = Tensor(x.data)  # a plain input: no gradient wanted
    kernel.requires_grad = False  # a frozen kernel
    y = dense_op.dense(x, kernel, bias, "relu")
    if not use_bias:
        assert not y.requires_grad and y._ctx is None  # nothing to differentiate: no graph kept
        return
    grads = y._ctx.backward(upstream)
    assert grads[0] is None and grads[1] is None and grads[2] is not None
    y.backward(upstream)
    assert x.grad is None and kernel.grad is None
    mask = (x.data @ kernel.data + bias.data) > 0
    np.testing.assert_allclose(bias.grad, (upstream * mask).sum(axis=0), rtol=1e-5, atol=1e-6)


def test_fresh_gradients_accumulate_without_aliasing():
    x, kernel, bias, upstream = _inputs(np.float64, True)
    y = dense_op.dense(x, kernel, bias, "relu")
    y.backward(upstream, retain_graph=True)
    first = kernel.grad.copy()
    y.backward(upstream)
    np.testing.assert_allclose(kernel.grad, 2 * first)
    # a leaf fed through two fused ops sums both contributions
    k = Tensor(kernel.data.copy(), requires_grad=True)
    a = dense_op.dense(Tensor(x.data), k, None, "linear")
    b = dense_op.dense(Tensor(x.data), k, None, "linear")
    (a + b).sum().backward()
    np.testing.assert_allclose(k.grad, 2 * x.data.T @ np.ones_like(a.data))


def test_relu_derivative_at_zero_is_zero_and_nan_propagates():
    x = Tensor(np.array([[0.0, 1.0], [2.0, -1.0]], dtype=np.float32), requires_grad=True)
    kernel = Tensor(np.eye(2, dtype=np.float32), requires_grad=True)
    y = dense_op.dense(x, kernel, None, "relu")
    y.backward(np.ones((2, 2), dtype=np.float32))
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0], [1.0, 0.0]])  # ReLU'(0) = 0
    with_nan = Tensor(np.array([[np.nan, 1.0]], dtype=np.float32))
    fused = dense_op.dense(with_nan, kernel, None, "relu").data
    assert np.isnan(fused[0, 0]) and np.isnan(fused[0, 1])  # nan @ eye spreads; relu keeps it
    np.testing.assert_array_equal(fused, (with_nan @ kernel).relu().data)


# ---- the Dense layer: fused call against activation(call_logits) --------------------------------
def _twin_layers(activation, dtype="float32", use_bias=True):
    fused = Dense(6, activation=activation, use_bias=use_bias, dtype=dtype)
    fn = activations.get(activation)
    plain = Dense(6, activation=lambda t: fn(t), use_bias=use_bias, dtype=dtype)  # a custom callable: not fused
    fused.build((None, 5))
    plain.build((None, 5))
    plain.set_weights(fused.get_weights())
    return fused, plain


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax", None, "selu"])
def test_dense_layer_fused_call_matches_unfused(activation, dtype):
    fused, plain = _twin_layers(activation, dtype)
    assert (fused._fused_activation() is None) == (activation == "softmax")
    assert plain._fused_activation() is None
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)  # 3-D: Dense acts on the last axis
    upstream = rng.standard_normal((3, 4, 6)).astype(dtype)
    outs = []
    for layer in (fused, plain):
        xt = Tensor(x, requires_grad=True)
        y = layer(xt)
        y.backward(upstream)
        outs.append((y.data, xt.grad, layer.kernel.grad, layer.bias.grad))
        layer.kernel.grad = layer.bias.grad = None
    for got, want in zip(*outs):
        np.testing.assert_allclose(got, want, **TOL[np.dtype(dtype).type])


def test_dense_layer_mixed_dtype_input_falls_back_to_unfused_ops():
    fused, plain = _twin_layers("relu", "float32")
    x = Tensor(np.random.default_rng(3).standard_normal((4, 5)), requires_grad=True)  # float64
    y = fused(x)
    y.sum().backward()
    np.testing.assert_allclose(y.data, plain(Tensor(x.data)).data, rtol=1e-5, atol=1e-6)
    assert x.grad is not None and fused.kernel.grad is not None


def test_reassigned_activation_is_not_served_from_the_cache():
    layer, _ = _twin_layers("relu")
    x = Tensor(-np.ones((2, 5), dtype=np.float32))
    assert layer._fused_activation() == "relu"
    layer.activation = activations.get("tanh")
    assert layer._fused_activation() == "tanh"
    np.testing.assert_allclose(layer(x).data, np.tanh(x.data @ layer.kernel.data + layer.bias.data), rtol=1e-6)


# ---- Sequential's per-step shortcuts --------------------------------------------------------------
def _model(metrics=None, regularizer=None):
    tr.utils.set_random_seed(0)
    model = Sequential([Input((5,)), Dense(8, activation="relu", kernel_regularizer=regularizer),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metrics)
    return model


def _batch(n=6):
    rng = np.random.default_rng(4)
    return rng.standard_normal((n, 5)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


def test_train_on_batch_same_losses_with_and_without_metrics():
    x, y = _batch()
    plain, with_metrics = _model(), _model(metrics=["accuracy"])
    for _ in range(3):
        loss = plain.train_on_batch(x, y)
        loss_m, acc = with_metrics.train_on_batch(x, y)
        assert loss == pytest.approx(loss_m, rel=1e-6)
    probs = with_metrics.predict(x, verbose=0)
    assert acc == pytest.approx(float(np.mean(probs.argmax(1) == y.argmax(1))))


def test_regularization_penalty_still_added():
    x, y = _batch()
    plain, regularized = _model(), _model(regularizer="l2")
    assert regularized.train_on_batch(x, y) > plain.train_on_batch(x, y)


def test_shape_check_cache_still_rejects_a_wrong_batch_after_a_good_one():
    model = _model()
    x, y = _batch()
    model.train_on_batch(x, y)
    with pytest.raises(ValueError, match="incompatible"):
        model.train_on_batch(np.zeros((6, 4), dtype=np.float32), y)
    model.train_on_batch(x, y)  # and the good shape still passes


def test_train_step_leaves_no_gradients_behind():
    model = _model()
    x, y = _batch()
    model.train_on_batch(x, y)
    assert all(w.grad is None for w in model.trainable_weights)
