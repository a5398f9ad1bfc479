"""Losses (and regularizers): forward and gradient against PyTorch / Keras' formulas in float64, label checks."""
import numpy as np
import pytest

from tinygrad_relu import Tensor, losses, regularizers
from tinygrad_relu.losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError,
                                  MeanSquaredError, SparseCategoricalCrossentropy)

EPS = 1e-7
rng = np.random.default_rng(0)


def value_and_grad(loss, y_true, y_pred):
    x = Tensor(y_pred.copy(), requires_grad=True)
    out = loss(y_true, x)
    assert out.shape == ()
    out.backward()
    return out.item(), x.grad


def torch_value_and_grad(torch, fn, y_pred):
    x = torch.tensor(y_pred, requires_grad=True)
    out = fn(x)
    out.backward()
    return out.item(), x.grad.numpy()


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def one_hot(idx, n):
    return np.eye(n)[idx]


# ---- crossentropies ------------------------------------------------------------------------
def test_categorical_probabilities_keras_formula_and_grad():
    torch = pytest.importorskip("torch")
    probs = rng.uniform(0.05, 2.0, size=(6, 4))  # unnormalized: Keras renormalizes first
    probs[0, 1] = 0.0  # clipped to eps
    y = one_hot(rng.integers(0, 4, 6), 4)
    y[2] = [0.1, 0.2, 0.3, 0.4]  # soft labels are fine
    value, grad = value_and_grad(CategoricalCrossentropy(), y, probs)
    normalized = probs / probs.sum(-1, keepdims=True)
    expected = np.mean(-np.sum(y * np.log(np.clip(normalized, EPS, 1 - EPS)), axis=-1))
    assert value == pytest.approx(expected, rel=1e-12)
    tv, tg = torch_value_and_grad(torch, lambda x: (-(torch.tensor(y) * torch.log(
        torch.clamp(x / x.sum(-1, keepdim=True), EPS, 1 - EPS))).sum(-1)).mean(), probs)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-12)


def test_categorical_logits_matches_torch_with_label_smoothing():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = rng.standard_normal((5, 3)) * 4
    y = one_hot(rng.integers(0, 3, 5), 3)
    for smoothing in (0.0, 0.2):
        value, grad = value_and_grad(CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing), y, logits)
        tv, tg = torch_value_and_grad(
            torch, lambda x: F.cross_entropy(x, torch.tensor(y), label_smoothing=smoothing), logits)
        assert value == pytest.approx(tv, rel=1e-12)
        np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-13)


def test_sparse_logits_and_probabilities_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = rng.standard_normal((7, 5)) * 3
    labels = rng.integers(0, 5, 7)
    target = torch.tensor(labels)
    value, grad = value_and_grad(SparseCategoricalCrossentropy(from_logits=True), labels, logits)
    tv, tg = torch_value_and_grad(torch, lambda x: F.cross_entropy(x, target), logits)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-13)
    # labels shaped (n, 1) and float-typed whole numbers are accepted, as in Keras
    assert SparseCategoricalCrossentropy(from_logits=True)(labels.reshape(-1, 1).astype(np.float32),
                                                          Tensor(logits)).item() == pytest.approx(tv, rel=1e-12)

    probs = softmax(logits)
    value, grad = value_and_grad(SparseCategoricalCrossentropy(), labels, probs)
    tv, tg = torch_value_and_grad(torch, lambda x: F.nll_loss(torch.log(torch.clamp(
        x / x.sum(-1, keepdim=True), EPS, 1 - EPS)), target), probs)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-12)


def test_sparse_equals_categorical_on_one_hot():
    logits = rng.standard_normal((4, 6))
    labels = np.array([0, 5, 2, 2])
    a = SparseCategoricalCrossentropy(from_logits=True)(labels, Tensor(logits)).item()
    b = CategoricalCrossentropy(from_logits=True)(one_hot(labels, 6), Tensor(logits)).item()
    assert a == pytest.approx(b, rel=1e-12)


def test_logits_path_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-500.0, 500.0, 0.0]])
    labels = np.array([1, 1])
    value, grad = value_and_grad(SparseCategoricalCrossentropy(from_logits=True), labels, logits)
    assert value == pytest.approx(500.0)  # (1000 + 0) / 2
    assert np.isfinite(grad).all()
    # the probability path saturates at -log(eps) instead of reaching inf
    p = CategoricalCrossentropy()(one_hot(labels, 3), Tensor(softmax(logits))).item()
    assert p == pytest.approx(-np.log(EPS) / 2, rel=1e-6)


def test_binary_probabilities_and_logits_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = rng.standard_normal((8, 2)) * 3
    logits[0, 0] = 0.0  # the kink of the stable formula: gradient must still be sigmoid(0) - y
    y = rng.integers(0, 2, (8, 2)).astype(np.float64)
    value, grad = value_and_grad(BinaryCrossentropy(from_logits=True), y, logits)
    tv, tg = torch_value_and_grad(torch, lambda x: F.binary_cross_entropy_with_logits(x, torch.tensor(y)), logits)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-13)

    probs = 1 / (1 + np.exp(-logits))
    value, grad = value_and_grad(BinaryCrossentropy(), y, probs)
    tv, tg = torch_value_and_grad(torch, lambda x: F.binary_cross_entropy(torch.clamp(x, EPS, 1 - EPS),
                                                                          torch.tensor(y)), probs)
    assert value == pytest.approx(tv, rel=1e-10)
    np.testing.assert_allclose(grad, tg, rtol=1e-8, atol=1e-12)

    big = np.array([[800.0], [-800.0]])
    assert BinaryCrossentropy(from_logits=True)(np.array([0.0, 1.0]), Tensor(big)).item() == pytest.approx(800.0)


def test_binary_label_smoothing_keras_formula():
    probs = np.array([[0.9], [0.2], [0.6]])
    y = np.array([[1.0], [0.0], [1.0]])
    smooth = y * 0.8 + 0.1
    expected = np.mean(-(smooth * np.log(probs) + (1 - smooth) * np.log(1 - probs)))
    assert BinaryCrossentropy(label_smoothing=0.2)(y, Tensor(probs)).item() == pytest.approx(expected, rel=1e-12)


# ---- regression losses -------------------------------------------------------------------------
@pytest.mark.parametrize("loss,torch_fn", [
    (MeanSquaredError(), lambda F, x, y: F.mse_loss(x, y)),
    (MeanAbsoluteError(), lambda F, x, y: F.l1_loss(x, y)),
    (Huber(), lambda F, x, y: F.huber_loss(x, y, delta=1.0)),
    (Huber(delta=0.3), lambda F, x, y: F.huber_loss(x, y, delta=0.3)),
])
def test_regression_losses_match_torch(loss, torch_fn):
    torch = pytest.importorskip("torch")
    pred = rng.standard_normal((6, 3)) * 2
    y = rng.standard_normal((6, 3))
    value, grad = value_and_grad(loss, y, pred)
    tv, tg = torch_value_and_grad(torch, lambda x: torch_fn(torch.nn.functional, x, torch.tensor(y)), pred)
    assert value == pytest.approx(tv, rel=1e-12)
    np.testing.assert_allclose(grad, tg, rtol=1e-10, atol=1e-13)


def test_regression_accepts_flat_labels_for_single_output_and_keeps_float32():
    pred = Tensor(np.array([[1.0], [2.0], [4.0]], dtype=np.float32), requires_grad=True)
    out = losses.get("mse")(np.array([1, 2, 3]), pred)
    assert out.dtype == np.float32 and out.item() == pytest.approx(1 / 3)
    out.backward()
    assert pred.grad.dtype == np.float32
    np.testing.assert_allclose(pred.grad, [[0.0], [0.0], [2 / 3]], rtol=1e-6)


def test_sample_weight_and_reductions():
    pred, y = Tensor(np.array([[1.0], [3.0]])), np.array([[0.0], [0.0]])
    assert MeanSquaredError()(y, pred, sample_weight=np.array([1.0, 0.0])).item() == pytest.approx(0.5)
    assert MeanSquaredError(reduction="sum")(y, pred).item() == pytest.approx(10.0)
    np.testing.assert_allclose(MeanSquaredError(reduction="none")(y, pred).data, [1.0, 9.0])


# ---- label checks (issue 7) ---------------------------------------------------------------------
def test_integer_labels_to_categorical_suggest_sparse():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy") as info:
        CategoricalCrossentropy()(np.array([0, 2, 1]), Tensor(softmax(rng.standard_normal((3, 3)))))
    assert "(3,)" in str(info.value) and "(3, 3)" in str(info.value)
    with pytest.raises(ValueError, match="to_categorical"):
        losses.get("categorical_crossentropy")(np.array([[0], [2]]), Tensor(np.full((2, 3), 1 / 3)))


def test_one_hot_labels_to_sparse_suggest_categorical():
    with pytest.raises(ValueError, match=r"looks one-hot.*loss='categorical_crossentropy'"):
        SparseCategoricalCrossentropy()(one_hot(np.array([0, 1]), 4), Tensor(np.full((2, 4), 0.25)))


def test_class_index_out_of_range():
    with pytest.raises(ValueError, match=r"class index 5 is out of range .* 3 classes"):
        SparseCategoricalCrossentropy(from_logits=True)(np.array([0, 5]), Tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="class index -1"):
        SparseCategoricalCrossentropy(from_logits=True)(np.array([0, -1]), Tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="whole numbers"):
        SparseCategoricalCrossentropy(from_logits=True)(np.array([0.5, 1.0]), Tensor(np.zeros((2, 3))))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"y_true shape \(4, 2\) and y_pred shape \(4, 3\)"):
        MeanSquaredError()(np.zeros((4, 2)), Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 3\)"):
        CategoricalCrossentropy()(np.zeros((5, 3)), Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"expected shape \(4,\).*received y_true shape \(3,\)"):
        SparseCategoricalCrossentropy()(np.zeros(3), Tensor(np.zeros((4, 3))))


def test_binary_labels_outside_unit_interval():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\].*sparse_categorical_crossentropy"):
        BinaryCrossentropy()(np.array([0, 3, 1]), Tensor(np.full((3, 1), 0.5)))


# ---- lookup and config ---------------------------------------------------------------------------
def test_get_names_and_aliases():
    expected = {"categorical_crossentropy": CategoricalCrossentropy,
                "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
                "binary_crossentropy": BinaryCrossentropy, "mse": MeanSquaredError, "MSE": MeanSquaredError,
                "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError, "mean_absolute_error":
                MeanAbsoluteError, "huber": Huber, "huber_loss": Huber, "CategoricalCrossentropy":
                CategoricalCrossentropy}
    for name, cls in expected.items():
        assert type(losses.get(name)) is cls
    assert losses.get("mse").name == "mean_squared_error"
    assert Huber().name == "huber_loss" and BinaryCrossentropy().name == "binary_crossentropy"
    with pytest.raises(ValueError, match="Unknown loss 'cross_entropy'.*categorical_crossentropy"):
        losses.get("cross_entropy")


def test_config_round_trip_and_logits_copy():
    loss = CategoricalCrossentropy(label_smoothing=0.1)
    copy = type(loss).from_config({**loss.get_config(), "from_logits": True})
    assert copy.from_logits and copy.label_smoothing == 0.1 and copy.name == "categorical_crossentropy"
    assert losses.deserialize(losses.serialize(Huber(delta=2.0))).delta == 2.0


def test_custom_function_loss():
    def my_loss(y_true, y_pred):
        return ((y_pred - y_true) ** 2).sum(axis=-1)
    loss = losses.get(my_loss)
    assert loss.name == "my_loss"
    assert loss(np.zeros((2, 2)), Tensor(np.ones((2, 2)))).item() == pytest.approx(2.0)


# ---- regularizers ---------------------------------------------------------------------------------
def test_regularizers_values_and_gradients():
    w = Tensor(np.array([[1.0, -2.0], [0.5, 0.0]]), requires_grad=True)
    reg = regularizers.L1L2(l1=0.1, l2=0.2)
    out = reg(w)
    assert out.item() == pytest.approx(0.1 * 3.5 + 0.2 * 5.25)
    out.backward()
    np.testing.assert_allclose(w.grad, 0.1 * np.sign(w.data) + 0.4 * w.data)
    assert regularizers.get("l2")(Tensor(np.array([3.0]))).item() == pytest.approx(0.09)
    assert regularizers.get("l1")(Tensor(np.array([-3.0]))).item() == pytest.approx(0.03)
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.get(None) is None
    again = regularizers.get(regularizers.serialize(reg))
    assert isinstance(again, regularizers.L1L2) and again.get_config() == reg.get_config()
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'.*l1, l1_l2, l2"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4)])
def test_fused_softmax_crossentropy_equals_composed_log_softmax(shape):
    """The fused from_logits ops against log_softmax-multiply-sum, per sample, with uneven upstream weights."""
    logits = rng.standard_normal(shape) * 3
    labels = rng.integers(0, shape[-1], shape[:-1])
    weights = rng.uniform(0.1, 2.0, shape[:-1])
    soft = softmax(rng.standard_normal(shape))  # soft targets: the gradient needs the sum_k y_k term
    for loss, y, target in [(SparseCategoricalCrossentropy(from_logits=True), labels, one_hot(labels, shape[-1])),
                            (CategoricalCrossentropy(from_logits=True), soft, soft)]:
        x = Tensor(logits.copy(), requires_grad=True)
        out = loss(y, x, sample_weight=weights)
        out.backward()
        ref_x = Tensor(logits.copy(), requires_grad=True)
        ref = (-(ref_x.log_softmax(axis=-1) * target).sum(axis=-1) * weights).mean()
        ref.backward()
        assert out.item() == pytest.approx(ref.item(), rel=1e-12)
        np.testing.assert_allclose(x.grad, ref_x.grad, rtol=1e-10, atol=1e-14)
        per_sample = type(loss)(from_logits=True, reduction="none")(y, Tensor(logits))
        assert per_sample.shape == shape[:-1]


def test_fused_backward_twice_with_retain_graph():
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    out = SparseCategoricalCrossentropy(from_logits=True)(np.array([0, 1, 3]), x)
    out.backward(retain_graph=True)
    first = x.grad.copy()
    out.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


# ---- the fused softmax-crossentropy's fast pieces against plain numpy -------------------------------
def plain_numpy_softmax_xent(logits, target, sparse):
    """The straightforward numpy spelling the fused path must reproduce bit for bit."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(axis=-1, keepdims=True)
    probs /= total
    if sparse:
        rows = np.arange(target.size)
        losses_ = np.log(total)[..., 0] - shifted.reshape(-1, logits.shape[-1])[rows, target.reshape(-1)].reshape(
            target.shape)
        grad = probs.copy()
        grad.reshape(-1, logits.shape[-1])[rows, target.reshape(-1)] -= 1
    else:
        mass = target.sum(axis=-1, keepdims=True)
        losses_ = (np.log(total) * mass)[..., 0] - np.einsum("...k,...k->...", target, shifted)
        grad = probs * mass - target
    value = losses_.mean(dtype=logits.dtype)
    grad *= np.ones((), logits.dtype) / losses_.size
    return value, grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 10), (100, 10), (3, 4, 7), (5, 1)])
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "categorical"])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_fused_softmax_xent_bit_identical_to_plain_numpy(dtype, shape, sparse, layout):
    r = np.random.default_rng(sum(shape))
    logits = (r.standard_normal(shape) * 4).astype(dtype)
    logits.flat[::13] = 0.0  # ties and zeros
    if layout == "strided":  # a non-contiguous view takes the numpy fallback of the row-max shift
        wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype)
        wide[..., ::2] = logits
        logits = wide[..., ::2]
        assert not logits.flags.c_contiguous
    labels = r.integers(0, shape[-1], shape[:-1])
    target = labels if sparse else np.eye(shape[-1], dtype=dtype)[labels]
    loss = (SparseCategoricalCrossentropy if sparse else CategoricalCrossentropy)(from_logits=True)
    x = Tensor(logits, requires_grad=True)
    out = loss(target, x)
    out.backward()
    value, grad = plain_numpy_softmax_xent(np.ascontiguousarray(logits), target, sparse)
    assert out.dtype == dtype and np.asarray(out.data).tobytes() == np.asarray(value).tobytes()
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(x.grad, grad)


def test_row_max_shift_kernel():
    from tinygrad_relu._kernels import losses as kernels
    r = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = r.standard_normal((9, 6)).astype(dtype)
        x[2, 3] = np.nan  # NaN wins the maximum, as np.maximum: the whole row becomes NaN
        x[4, 0] = np.inf
        out = kernels.shift_by_row_max(x)
        assert out.dtype == dtype and out.shape == x.shape
        with np.errstate(invalid="ignore"):  # inf - inf in the reference
            np.testing.assert_array_equal(out, x - x.max(axis=-1, keepdims=True))
        assert np.isnan(out[2]).all() and not np.isnan(out[3]).any()
    assert kernels.shift_by_row_max(np.ones((3, 4), np.float16)) is None
    assert kernels.shift_by_row_max(np.ones((4, 3), np.float32).T) is None
    assert kernels.shift_by_row_max(np.ones((3, 0), np.float32)) is None
