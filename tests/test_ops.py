"""tinygrad_relu.ops, Keras' keras.ops: values against numpy and keras.ops itself, gradients of the new
ops against finite differences (float64) and PyTorch, inputs of any kind, and the errors."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import ops
from tinygrad_relu.gradcheck import gradcheck

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


# name -> (ours, the same in torch, inputs); each new op (and the composite ones) is differentiated
CASES = {
    "square": (ops.square, lambda t, a: a * a, [randn(3, 4)]),
    "power_tensor": (ops.power, lambda t, a, b: t.pow(a, b), [positive(3, 4), randn(3, 4)]),
    "power_broadcast": (ops.power, lambda t, a, b: t.pow(a, b), [positive(3, 4), randn(4)]),
    "power_scalar": (lambda a: ops.power(a, 3.0), lambda t, a: a ** 3.0, [randn(5)]),
    "sin": (ops.sin, lambda t, a: t.sin(a), [randn(4, 3)]),
    "cos": (ops.cos, lambda t, a: t.cos(a), [randn(4, 3)]),
    "log1p": (ops.log1p, lambda t, a: t.log1p(a), [positive(6)]),
    "expm1": (ops.expm1, lambda t, a: t.expm1(a), [randn(6)]),
    "min": (lambda a: ops.min(a, axis=1), lambda t, a: t.amin(a, dim=1), [randn(4, 5)]),
    "min_ties": (lambda a: ops.min(a), lambda t, a: t.amin(a), [np.array([1.0, 0.5, 0.5, 2.0])]),
    "cumsum": (lambda a: ops.cumsum(a, axis=1), lambda t, a: t.cumsum(a, dim=1), [randn(3, 4)]),
    "cumsum_flat": (ops.cumsum, lambda t, a: t.cumsum(a.reshape(-1), dim=0), [randn(2, 3)]),
    "broadcast_to": (lambda a: ops.broadcast_to(a, (4, 2, 3)), lambda t, a: a.expand(4, 2, 3), [randn(2, 1)]),
    "tile": (lambda a: ops.tile(a, (2, 3)), lambda t, a: a.tile((2, 3)), [randn(2, 3)]),
    "tile_more_axes": (lambda a: ops.tile(a, (2, 1, 2)), lambda t, a: a.tile((2, 1, 2)), [randn(2, 3)]),
    "var": (lambda a: ops.var(a, axis=0), lambda t, a: t.var(a, dim=0, unbiased=False), [randn(5, 3)]),
    "std": (lambda a: ops.std(a), lambda t, a: t.std(a, unbiased=False), [randn(5, 3)]),
    "logsumexp": (lambda a: ops.logsumexp(a, axis=-1), lambda t, a: t.logsumexp(a, dim=-1), [randn(4, 6) * 30]),
    "take": (lambda a: ops.take(a, [2, 0, 2], axis=1), lambda t, a: a[:, [2, 0, 2]], [randn(3, 4)]),
    "take_along_axis": (lambda a: ops.take_along_axis(a, np.array([[1], [0], [3]]), axis=1),
                        lambda t, a: t.take_along_dim(a, t.tensor([[1], [0], [3]]), dim=1), [randn(3, 4)]),
    "stack": (lambda a, b: ops.stack([a, b, a], axis=1), lambda t, a, b: t.stack([a, b, a], dim=1),
              [randn(2, 3), randn(2, 3)]),
    "split": (lambda a: ops.split(a, [1, 3], axis=1)[1] * 2 + ops.split(a, 2, axis=0)[0].sum(),
              lambda t, a: a[:, 1:3] * 2 + a[:2].sum(), [randn(4, 5)]),
    "expand_squeeze_swap": (lambda a: ops.swapaxes(ops.squeeze(ops.expand_dims(a, 0), 0), 0, 1),
                            lambda t, a: a.T, [randn(2, 3)]),
    "moveaxis": (lambda a: ops.moveaxis(a, 0, -1), lambda t, a: t.movedim(a, 0, -1), [randn(2, 3, 4)]),
    "divide_no_nan": (lambda a, b: ops.divide_no_nan(a, b * ops.convert_to_tensor(np.array([1.0, 0.0, 1.0]))),
                      lambda t, a, b: _torch_divide_no_nan(t, a, b * t.tensor([1.0, 0.0, 1.0], dtype=t.float64)),
                      [randn(3), positive(3)]),
    "flip": (lambda a: ops.flip(a, axis=1) * ops.arange(3, dtype="float64"), lambda t, a: t.flip(a, [1]) *
             t.arange(3, dtype=t.float64), [randn(2, 3)]),
    "roll": (lambda a: ops.roll(a, 2, axis=0) * ops.arange(5, dtype="float64"), lambda t, a: t.roll(a, 2, 0) *
             t.arange(5, dtype=t.float64), [randn(5)]),
    "repeat": (lambda a: ops.repeat(a, 2, axis=1), lambda t, a: t.repeat_interleave(a, 2, dim=1), [randn(2, 3)]),
    "tensordot": (lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 1])), lambda t, a, b: t.tensordot(
        a, b, dims=([1, 2], [0, 1])), [randn(2, 3, 4), randn(3, 4, 5)]),
    "sort": (lambda a: ops.sort(a) * ops.arange(4, dtype="float64"), lambda t, a: t.sort(a, dim=-1).values *
             t.arange(4, dtype=t.float64), [randn(3, 4)]),
    "top_k": (lambda a: ops.top_k(a, 2)[0], lambda t, a: t.topk(a, 2).values, [randn(3, 5)]),
    "norm": (lambda a: ops.norm(a, axis=1), lambda t, a: t.linalg.vector_norm(a, dim=1), [randn(3, 4)]),
    "log2_log10_rsqrt": (lambda a: ops.log2(a) + ops.log10(a) + ops.rsqrt(a), lambda t, a: t.log2(a) + t.log10(a) +
                         t.rsqrt(a), [positive(5)]),
    "normalize": (ops.normalize, lambda t, a: t.nn.functional.normalize(a, dim=-1), [randn(3, 4)]),
    "log_sigmoid": (ops.log_sigmoid, lambda t, a: t.nn.functional.logsigmoid(a), [randn(7) * 10]),
    "categorical_ce_logits": (lambda a: ops.categorical_crossentropy(np.eye(4)[[0, 3, 1]], a, from_logits=True),
                              lambda t, a: t.nn.functional.cross_entropy(a, t.tensor([0, 3, 1]), reduction="none"),
                              [randn(3, 4)]),
    "sparse_ce_logits": (lambda a: ops.sparse_categorical_crossentropy([0, 3, 1], a, from_logits=True),
                         lambda t, a: t.nn.functional.cross_entropy(a, t.tensor([0, 3, 1]), reduction="none"),
                         [randn(3, 4)]),
    "binary_ce_logits": (lambda a: ops.binary_crossentropy(np.array([[0.0, 1.0], [1.0, 0.3]]), a, from_logits=True),
                         lambda t, a: t.nn.functional.binary_cross_entropy_with_logits(
                             a, t.tensor([[0.0, 1.0], [1.0, 0.3]], dtype=t.float64), reduction="none"),
                         [randn(2, 2)]),
    "binary_ce_probabilities": (lambda a: ops.binary_crossentropy(np.array([0.0, 1.0, 1.0]), ops.sigmoid(a)),
                                lambda t, a: t.nn.functional.binary_cross_entropy(
                                    t.sigmoid(a), t.tensor([0.0, 1.0, 1.0], dtype=t.float64), reduction="none"),
                                [randn(3)]),
    "conv": (lambda a, k: ops.conv(a, k, padding="same"),
             lambda t, a, k: t.nn.functional.conv2d(a.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1),
                                                    padding="same").permute(0, 2, 3, 1),
             [randn(2, 5, 5, 2), randn(3, 3, 2, 3)]),
    "max_pool": (lambda a: ops.max_pool(a, 2), lambda t, a: t.nn.functional.max_pool1d(
        a.permute(0, 2, 1), 2).permute(0, 2, 1), [randn(2, 6, 3)]),
    "average_pool": (lambda a: ops.average_pool(a, (2, 2)), lambda t, a: t.nn.functional.avg_pool2d(
        a.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1), [randn(2, 4, 4, 3)]),
}


def _torch_divide_no_nan(t, a, b):
    zero = b == 0
    return t.where(zero, t.zeros_like(a), a / t.where(zero, t.ones_like(b), b))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    fn, _, inputs = CASES[name]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, torch_fn, inputs = CASES[name]
    ours = [tr.Tensor(np.array(a), requires_grad=True) for a in inputs]
    out = fn(*ours)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    theirs = [torch.tensor(np.array(a), requires_grad=True) for a in inputs]
    expected = torch_fn(torch, *theirs)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-7, atol=1e-10)
    expected.backward(torch.tensor(g))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-7, atol=1e-10)


def test_cast_between_floats_sends_the_gradient_back_in_the_input_dtype():
    x = tr.Tensor(np.array([1.5, -2.0, 0.25], np.float32), requires_grad=True)
    y = ops.cast(x, "float64")
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_every_keras_name_in_the_list_exists_and_takes_numpy_and_lists():
    wanted = ("add subtract multiply divide matmul dot sum mean max min square sqrt exp log abs clip where maximum "
              "minimum reshape transpose expand_dims squeeze concatenate stack ones zeros ones_like zeros_like cast "
              "convert_to_tensor convert_to_numpy one_hot argmax equal greater logical_and relu sigmoid softmax "
              "log_softmax conv max_pool average_pool binary_crossentropy categorical_crossentropy "
              "sparse_categorical_crossentropy").split()
    assert [name for name in wanted if not callable(getattr(ops, name, None))] == []
    a, b = [[1.0, -2.0], [3.0, 4.0]], np.array([[0.5, 0.5], [2.0, -1.0]])
    for name in ("add", "subtract", "multiply", "divide", "maximum", "minimum", "matmul"):
        out = getattr(ops, name)(a, b)
        assert isinstance(out, tr.Tensor)
        expected = getattr(np, name)(np.array(a), b)
        np.testing.assert_allclose(out.data, expected)
    np.testing.assert_allclose(ops.relu(a).data, np.maximum(a, 0))
    np.testing.assert_allclose(ops.softmax(b).data.sum(axis=-1), [1, 1], rtol=1e-12)


def test_constructors_and_conversions_follow_keras_dtypes():
    assert ops.convert_to_tensor([1, 2]).dtype == np.int32  # Python ints: int32, as Keras
    assert ops.convert_to_tensor([1.5]).dtype == np.float32
    assert ops.convert_to_tensor(np.zeros(2)).dtype == np.float64  # numpy keeps its dtype
    assert ops.zeros((2, 3)).dtype == np.float32 and ops.ones(4, dtype="int32").dtype == np.int32
    assert ops.convert_to_numpy(ops.arange(3)).tolist() == [0, 1, 2]
    assert ops.one_hot([0, 2, 5], 3).data.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]  # out of range: zeros
    x = tr.Tensor([[0.1, 0.9, 0.3]], requires_grad=True)
    assert ops.argmax(x, axis=-1).data.tolist() == [1] and not ops.argmax(x).requires_grad
    assert ops.equal(x, 0.9).data.tolist() == [[False, True, False]]
    assert ops.logical_and(ops.greater(x, 0.2), [[True, True, False]]).data.tolist() == [[False, True, False]]
    assert ops.cast(x, "int32").dtype == np.int32 and not ops.cast(x, "int32").requires_grad
    assert ops.cast(x, "float64").requires_grad  # float to float keeps the graph
    assert ops.shape(x) == (1, 3) and ops.ndim(x) == 2


def test_constants_beside_a_tensor_take_its_dtype():
    x = tr.Tensor(np.ones(3, np.float32), requires_grad=True)
    assert ops.add(x, np.ones(3)).dtype == np.float32
    assert ops.where([True, False, True], x, 0.0).dtype == np.float32


def test_errors_name_the_function_and_the_values():
    with pytest.raises(ValueError, match=r"squeeze: cannot squeeze axis 0 of a tensor of shape \(2, 3\)"):
        ops.squeeze(ops.ones((2, 3)), 0)
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape"):
        ops.stack([ops.ones((2,)), ops.ones((3,))])
    with pytest.raises(ValueError, match=r"split: axis 0 of length 5 does not divide into 2"):
        ops.split(ops.ones((5,)), 2)
    with pytest.raises(ValueError, match=r"categorical_crossentropy: target and output must have the same shape"):
        ops.categorical_crossentropy(np.ones((2, 3)), ops.ones((2, 4)))
    with pytest.raises(NotImplementedError, match=r"conv: only 1-D and 2-D"):
        ops.conv(ops.ones((1, 2, 2, 2, 1)), ops.ones((1, 1, 1, 1, 1)))
    with pytest.raises(ValueError, match=r"cast: unsupported dtype"):
        ops.cast([1.0], "complex64")
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(tr.layers.Input(shape=(3,)))  # no values to compute with (ops on it add a node instead)


def test_matches_keras_ops(keras):
    K = keras.ops
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((3, 4)).astype(np.float32)
    labels = np.array([0, 3, 1])
    probs = np.abs(x) / np.abs(x).sum(axis=-1, keepdims=True)
    pairs = [
        (ops.logsumexp(x, axis=1), K.logsumexp(x, axis=1)),
        (ops.var(x, axis=0), K.var(x, axis=0)),
        (ops.std(x), K.std(x)),
        (ops.cumsum(x, axis=1), K.cumsum(x, axis=1)),
        (ops.tile(x, (2, 1)), K.tile(x, (2, 1))),
        (ops.take(x, [1, 1, 0], axis=1), K.take(x, np.array([1, 1, 0]), axis=1)),
        (ops.gelu(x), K.gelu(x)),  # the tanh approximation, keras.ops' default
        (ops.leaky_relu(x), K.leaky_relu(x)),
        (ops.log_sigmoid(x), K.log_sigmoid(x)),
        (ops.normalize(x), K.normalize(x)),
        (ops.categorical_crossentropy(np.eye(4)[labels], x, from_logits=True),
         K.categorical_crossentropy(np.eye(4, dtype=np.float32)[labels], x, from_logits=True)),
        (ops.categorical_crossentropy(np.eye(4)[labels], probs), K.categorical_crossentropy(
            np.eye(4, dtype=np.float32)[labels], probs)),
        (ops.sparse_categorical_crossentropy(labels, probs), K.sparse_categorical_crossentropy(labels, probs)),
        (ops.binary_crossentropy((y > 0).astype(np.float32), x, from_logits=True),
         K.binary_crossentropy((y > 0).astype(np.float32), x, from_logits=True)),
        (ops.moments(x, axes=[0])[1], K.moments(x, axes=[0])[1]),
        (ops.divide_no_nan(x, np.where(y > 0, y, 0)), K.divide_no_nan(x, np.where(y > 0, y, 0))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, K.convert_to_numpy(theirs), rtol=2e-5, atol=1e-6)
    images = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(ops.conv(images, kernel, strides=2, padding="same").data,
                               K.convert_to_numpy(K.conv(images, kernel, strides=2, padding="same")),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ops.max_pool(images, 3, strides=2, padding="same").data,
                               K.convert_to_numpy(K.max_pool(images, 3, strides=2, padding="same")), rtol=1e-6)
    np.testing.assert_allclose(ops.average_pool(images, 2).data, K.convert_to_numpy(K.average_pool(images, 2)),
                               rtol=1e-5)


def test_random_seeds_repeat_and_dropout_is_differentiable():
    from tinygrad_relu import random
    assert np.array_equal(random.normal((3,), seed=4).data, random.normal((3,), seed=4).data)
    stream = random.SeedGenerator(7)
    assert not np.array_equal(random.uniform((3,), seed=stream).data, random.uniform((3,), seed=stream).data)
    tr.utils.set_random_seed(1)
    first = random.normal((2,)).data
    tr.utils.set_random_seed(1)
    assert np.array_equal(first, random.normal((2,)).data)
    x = tr.Tensor(np.ones((100, 10)), requires_grad=True)
    out = random.dropout(x, 0.5, seed=0)
    kept = out.data != 0
    assert 0.3 < kept.mean() < 0.7 and np.allclose(out.data[kept], 2.0)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.where(kept, 2.0, 0.0))
    assert np.all(np.abs(random.truncated_normal((1000,), seed=0).data) <= 2)


def ops_graph(lib):
    """A functional model with ops called on its symbolic tensors (Keras 3 records them as nodes) and with
    Python operators against constants, indexing included."""
    x = lib.Input((4,), name="x")
    h = lib.layers.Dense(3, name="d1")(x)
    stacked = lib.ops.concatenate([lib.ops.expand_dims(h, -1), lib.ops.expand_dims(h * 2.0, -1)], axis=-1)
    z = lib.ops.sum(stacked, axis=-1) - 1.0
    z = lib.ops.relu(-z[:, :2]) / 3.0 + lib.ops.square(z[:, 1:])
    return lib.Model(x, lib.layers.Dense(2, name="d2")(lib.ops.tanh(z)))


def test_ops_on_symbolic_tensors_build_the_same_model_as_keras(keras):
    ours, theirs = ops_graph(tr), ops_graph(keras)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.weights])
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5,
                               atol=1e-6)
    assert ours.output_shape == tuple(theirs.output.shape)


def test_a_model_with_ops_trains_through_them_and_refuses_to_be_saved(tmp_path):
    model = ops_graph(tr)
    model.compile("sgd", "mse")
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    first = model.get_weights()[0].copy()
    model.train_on_batch(x, y)
    assert not np.array_equal(model.get_weights()[0], first)  # the gradient crossed every op to d1
    names = [layer.name for layer in model.layers]
    assert "concatenate" in names and "get_item" in names
    with pytest.raises(NotImplementedError, match=r"ops\.\w+\(...\) on a functional model's symbolic tensors.* "
                                                  r"Lambda layer"):
        model.save(tmp_path / "ops.keras")
    assert not (tmp_path / "ops.keras").exists()
