"""The losses against Keras 3 itself (torch backend) in float64, value and gradient, against PyTorch where it
has the loss, and against finite differences; names, aliases, reductions and configs as Keras has them."""
import numpy as np
import pytest

from tinygrad_relu import Tensor, gradcheck, losses

rng = np.random.default_rng(13)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def one_hot(n_rows, n_classes):
    return np.eye(n_classes)[rng.integers(0, n_classes, n_rows)]


def binary(shape):
    return rng.integers(0, 2, shape).astype(np.float64)


def probabilities(shape):
    return rng.uniform(0.02, 0.98, shape)


# (our class name, constructor arguments, labels, predictions): each compared with keras.losses.<class name>
CASES = [
    ("Hinge", {}, lambda: rng.choice([-1.0, 1.0], (6, 3)), lambda: rng.standard_normal((6, 3))),
    ("Hinge", {}, lambda: binary((6, 3)), lambda: rng.standard_normal((6, 3))),  # 0/1 labels become -1/1
    ("SquaredHinge", {}, lambda: rng.choice([-1.0, 1.0], (6, 3)), lambda: rng.standard_normal((6, 3))),
    ("SquaredHinge", {}, lambda: binary((5, 1)), lambda: rng.standard_normal((5, 1))),
    ("CategoricalHinge", {}, lambda: one_hot(6, 4), lambda: rng.standard_normal((6, 4))),
    ("KLDivergence", {}, lambda: softmax(rng.standard_normal((6, 4))), lambda: softmax(rng.standard_normal((6, 4)))),
    ("Poisson", {}, lambda: rng.poisson(2.0, (6, 3)).astype(float), lambda: rng.uniform(0.1, 4.0, (6, 3))),
    ("CosineSimilarity", {}, lambda: rng.standard_normal((6, 5)), lambda: rng.standard_normal((6, 5))),
    ("CosineSimilarity", {"axis": 0}, lambda: rng.standard_normal((6, 5)), lambda: rng.standard_normal((6, 5))),
    ("LogCosh", {}, lambda: rng.standard_normal((6, 3)), lambda: rng.standard_normal((6, 3)) * 3),
    ("MeanAbsolutePercentageError", {}, lambda: rng.uniform(0.5, 3.0, (6, 3)) * rng.choice([-1, 1], (6, 3)),
     lambda: rng.standard_normal((6, 3))),
    ("MeanSquaredLogarithmicError", {}, lambda: rng.uniform(0.0, 5.0, (6, 3)), lambda: rng.uniform(0.01, 5.0, (6, 3))),
    ("MeanSquaredError", {}, lambda: rng.standard_normal((6, 3)), lambda: rng.standard_normal((6, 3))),
    ("MeanAbsoluteError", {}, lambda: rng.standard_normal((6, 3)), lambda: rng.standard_normal((6, 3))),
    ("Huber", {"delta": 0.7}, lambda: rng.standard_normal((6, 3)), lambda: rng.standard_normal((6, 3)) * 2),
    ("BinaryFocalCrossentropy", {}, lambda: binary((6, 3)), lambda: probabilities((6, 3))),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5, "label_smoothing": 0.1},
     lambda: binary((6, 3)), lambda: probabilities((6, 3))),
    ("BinaryFocalCrossentropy", {"from_logits": True, "gamma": 3.0}, lambda: binary((6, 1)),
     lambda: rng.standard_normal((6, 1)) * 3),
    ("CategoricalFocalCrossentropy", {}, lambda: one_hot(6, 4), lambda: softmax(rng.standard_normal((6, 4)))),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.2, "from_logits": True},
     lambda: one_hot(6, 4), lambda: rng.standard_normal((6, 4)) * 2),
    ("CategoricalCrossentropy", {"label_smoothing": 0.15}, lambda: one_hot(6, 4),
     lambda: softmax(rng.standard_normal((6, 4)))),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 1},
     lambda: np.moveaxis(np.eye(3)[rng.integers(0, 3, (4, 5))], -1, 1), lambda: rng.standard_normal((4, 3, 5))),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, lambda: binary((6, 3)), lambda: probabilities((6, 3))),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1, "axis": 0}, lambda: binary((6, 3)),
     lambda: rng.standard_normal((6, 3)) * 2),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": -1},
     lambda: np.array([0, 2, -1, 1, -1, 3]), lambda: rng.standard_normal((6, 4))),
    ("SparseCategoricalCrossentropy", {"ignore_class": 2}, lambda: np.array([0, 2, 3, 1, 2, 3]),
     lambda: softmax(rng.standard_normal((6, 4)))),
]
IDS = [f"{name}-{'-'.join(kwargs) or 'defaults'}" for name, kwargs, _, _ in CASES]


def ours_value_and_grad(loss, y, pred, sample_weight=None):
    x = Tensor(pred.copy(), requires_grad=True)
    out = loss(y, x, sample_weight=sample_weight)
    out.sum().backward()
    return out.data, x.grad


def keras_value_and_grad(keras, loss, y, pred, sample_weight=None):
    import torch
    x = torch.tensor(pred.copy(), requires_grad=True)
    weights = None if sample_weight is None else torch.tensor(sample_weight)
    out = loss(torch.tensor(y), x, sample_weight=weights)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy()


# Keras 3 promotes float64 with float32 to float32 (keras.src.backend.common.dtypes.result_type), so on its
# torch backend ops.mean, divide_no_nan and others compute a float64 loss in float32: Keras agrees to
# float32's precision only. The float64 comparisons to 1e-12 are against Keras' formulas written in numpy
# (test_float64_against_keras_formulas_in_numpy), PyTorch and finite differences.
KERAS_RTOL = 1e-6
@pytest.mark.parametrize("name,kwargs,labels,predictions", CASES, ids=IDS)
def test_value_and_gradient_match_keras(keras, name, kwargs, labels, predictions):
    y, pred = labels(), predictions()
    ours = getattr(losses, name)(**kwargs, reduction="none")
    theirs = getattr(keras.losses, name)(**kwargs, reduction="none", dtype="float64")
    value, grad = ours_value_and_grad(ours, y, pred)
    k_value, k_grad = keras_value_and_grad(keras, theirs, y, pred)
    assert value.dtype == k_value.dtype == np.float64 and value.shape == k_value.shape
    np.testing.assert_allclose(value, k_value, rtol=KERAS_RTOL, atol=1e-12)
    np.testing.assert_allclose(grad, k_grad, rtol=KERAS_RTOL, atol=KERAS_RTOL * np.abs(k_grad).max())
    assert np.abs(grad).max() > 0  # the gradient is not trivially zero
    mean = getattr(losses, name)(**kwargs)(y, Tensor(pred))
    if "ignore_class" not in kwargs:  # (that one averages over the labels it keeps)
        assert mean.item() == np.mean(value)  # our reduction stays float64
    k_mean = getattr(keras.losses, name)(**kwargs, dtype="float64")(*map(__import__("torch").tensor, (y, pred)))
    np.testing.assert_allclose(mean.item(), float(k_mean), rtol=KERAS_RTOL)
    # Keras' config holds what ours holds (Huber's delta and CosineSimilarity's axis are missing from Keras'
    # get_config, a Keras slip that loses them on a round trip: ours keeps them, and SCCE's axis)
    config, k_config = getattr(losses, name)(**kwargs).get_config(), theirs.get_config()
    assert {k: v for k, v in k_config.items() if k not in ("reduction", "dtype")} == \
        {k: v for k, v in config.items() if k in k_config and k != "reduction"}


@pytest.mark.parametrize("reduction", ["sum", "none", "mean_with_sample_weight", "sum_over_batch_size"])
@pytest.mark.parametrize("name,kwargs,labels,predictions", [CASES[i] for i in (0, 6, 16, 20, 24)],
                         ids=[IDS[i] for i in (0, 6, 16, 20, 24)])
def test_reductions_and_sample_weights_match_keras(keras, name, kwargs, labels, predictions, reduction):
    y, pred = labels(), predictions()
    weights = rng.uniform(0.1, 2.0, len(pred))
    ours = getattr(losses, name)(**kwargs, reduction=reduction)
    theirs = getattr(keras.losses, name)(**kwargs, reduction=reduction, dtype="float64")
    rtol = KERAS_RTOL
    for sample_weight in (None, weights):
        value, grad = ours_value_and_grad(ours, y, pred, sample_weight)
        k_value, k_grad = keras_value_and_grad(keras, theirs, y, pred, sample_weight)
        assert value.shape == k_value.shape
        np.testing.assert_allclose(value, k_value, rtol=rtol, atol=1e-15)
        np.testing.assert_allclose(grad, k_grad, rtol=max(rtol, 1e-10), atol=1e-13)


@pytest.mark.parametrize("name", ["hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson",
                                  "cosine_similarity", "log_cosh", "mean_absolute_percentage_error",
                                  "mean_squared_logarithmic_error", "binary_focal_crossentropy",
                                  "categorical_focal_crossentropy", "kld", "mape", "msle", "MSLE", "KLD", "bce"])
def test_functional_forms_match_keras_per_sample(keras, name):
    import torch
    categorical = name in ("categorical_hinge", "kl_divergence", "kld", "KLD", "categorical_focal_crossentropy")
    y = softmax(rng.standard_normal((5, 4))) if name in ("kl_divergence", "kld", "KLD") else \
        one_hot(5, 4) if categorical else binary((5, 4)) if name in ("bce", "binary_focal_crossentropy") else \
        rng.uniform(0.5, 2.0, (5, 4))
    pred = softmax(rng.standard_normal((5, 4))) if categorical else probabilities((5, 4))
    ours = getattr(losses, name)(y, Tensor(pred))
    theirs = keras.losses.get(name)(torch.tensor(y), torch.tensor(pred)).numpy()
    assert ours.shape == (5,)
    np.testing.assert_allclose(ours.data, theirs, rtol=KERAS_RTOL)


def torch_formula(name, kwargs, y, p):
    """Keras 3's per-sample formula (keras/src/losses/losses.py) written in float64 torch ops."""
    import torch
    eps = 1e-7
    axis = kwargs.get("axis", -1)
    smoothing = kwargs.get("label_smoothing", 0.0)
    if name in ("Hinge", "SquaredHinge"):
        y = 2 * y - 1 if bool(((y == 0) | (y == 1)).all()) else y
        margin = torch.clamp(1 - y * p, min=0)
        return (margin if name == "Hinge" else margin ** 2).mean(-1)
    if name == "CategoricalHinge":
        return torch.clamp((p * (1 - y)).amax(-1) - (p * y).sum(-1) + 1, min=0)
    if name == "KLDivergence":
        y = y.clamp(eps, 1)
        return (y * torch.log(y / p.clamp(eps, 1))).sum(-1)
    if name == "Poisson":
        return (p - y * torch.log(p + eps)).mean(-1)
    if name == "CosineSimilarity":
        def unit(x):
            return x * torch.clamp(torch.rsqrt((x * x).sum(axis, keepdim=True)), max=1 / eps)
        return -(unit(y) * unit(p)).sum(axis)
    if name == "LogCosh":
        e = p - y
        return (e + torch.nn.functional.softplus(-2 * e) - np.log(2.0)).mean(-1)
    if name == "MeanAbsolutePercentageError":
        return 100 * torch.abs((y - p) / torch.clamp(y.abs(), min=eps)).mean(-1)
    if name == "MeanSquaredLogarithmicError":
        return ((torch.log(torch.clamp(p, min=eps) + 1) - torch.log(torch.clamp(y, min=eps) + 1)) ** 2).mean(-1)
    if name == "MeanSquaredError":
        return ((y - p) ** 2).mean(-1)
    if name == "MeanAbsoluteError":
        return (y - p).abs().mean(-1)
    if name == "Huber":
        d, e = kwargs["delta"], p - y
        return torch.where(e.abs() <= d, 0.5 * e ** 2, d * e.abs() - 0.5 * d ** 2).mean(-1)
    if name in ("BinaryFocalCrossentropy", "BinaryCrossentropy"):
        y = y * (1 - smoothing) + 0.5 * smoothing
        if name == "BinaryCrossentropy" and kwargs.get("from_logits"):
            return torch.nn.functional.binary_cross_entropy_with_logits(p, y, reduction="none").mean(axis)
        p = torch.sigmoid(p) if kwargs.get("from_logits") else p
        bce = torch.nn.functional.binary_cross_entropy(p.clamp(eps, 1 - eps), y, reduction="none")
        if name == "BinaryCrossentropy":
            return bce.mean(axis)
        p_t = y * p + (1 - y) * (1 - p)
        focal = (1 - p_t) ** kwargs.get("gamma", 2.0) * bce
        if kwargs.get("apply_class_balancing"):
            alpha = kwargs.get("alpha", 0.25)
            focal = (y * alpha + (1 - y) * (1 - alpha)) * focal
        return focal.mean(axis)
    if name in ("CategoricalFocalCrossentropy", "CategoricalCrossentropy"):
        y = y * (1 - smoothing) + smoothing / y.shape[-1]  # n from the last axis, as Keras
        if kwargs.get("from_logits") and name == "CategoricalCrossentropy":
            return -(y * torch.log_softmax(p, axis)).sum(axis)
        p = torch.softmax(p, axis) if kwargs.get("from_logits") else p
        out = (p / p.sum(axis, keepdim=True)).clamp(eps, 1 - eps)
        if name == "CategoricalCrossentropy":
            return -(y * torch.log(out)).sum(axis)
        return ((1 - out) ** kwargs.get("gamma", 2.0) * kwargs.get("alpha", 0.25) * (-y * torch.log(out))).sum(axis)
    if name == "SparseCategoricalCrossentropy":
        keep = y != kwargs["ignore_class"]
        labels = torch.where(keep, y, torch.zeros_like(y)).long()
        logp = torch.log_softmax(p, -1) if kwargs.get("from_logits") else \
            torch.log((p / p.sum(-1, keepdim=True)).clamp(eps, 1 - eps))
        return torch.where(keep, -logp.gather(-1, labels[:, None])[:, 0], torch.zeros((), dtype=p.dtype))
    raise AssertionError(name)


@pytest.mark.parametrize("name,kwargs,labels,predictions", CASES, ids=IDS)
def test_float64_against_keras_formulas_in_torch(name, kwargs, labels, predictions):
    """Keras' formulas in float64 PyTorch (what Keras would compute without its float32 promotion), to 1e-12."""
    torch = pytest.importorskip("torch")
    y, pred = labels(), predictions()
    value, grad = ours_value_and_grad(getattr(losses, name)(**kwargs, reduction="none"), y, pred)
    x = torch.tensor(pred.copy(), requires_grad=True)
    expected = torch_formula(name, kwargs, torch.tensor(y), x)
    expected.sum().backward()
    np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name,kwargs,labels,predictions", CASES, ids=IDS)
def test_gradient_matches_finite_differences(name, kwargs, labels, predictions):
    y, pred = labels(), predictions()
    loss = getattr(losses, name)(**kwargs, reduction="none")
    assert gradcheck(lambda p: loss(y, p), [pred], rtol=1e-5, atol=1e-7)


def test_the_ones_pytorch_has_match_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    y, pred = softmax(rng.standard_normal((6, 4))), softmax(rng.standard_normal((6, 4)))
    checks = [  # (our loss, PyTorch's, labels, predictions); no clipping is active on these values
        (losses.KLDivergence(), lambda x, t: F.kl_div(x.log(), t, reduction="sum") / len(x), y, pred),
        (losses.Poisson(), lambda x, t: F.poisson_nll_loss(x, t, log_input=False, eps=1e-7),
         rng.poisson(2.0, (6, 3)).astype(float), rng.uniform(0.1, 4.0, (6, 3))),
        (losses.CosineSimilarity(), lambda x, t: -F.cosine_similarity(x, t, dim=-1, eps=0.0).mean(),
         rng.standard_normal((6, 5)), rng.standard_normal((6, 5))),
        (losses.Hinge(), lambda x, t: torch.clamp(1 - x * t, min=0).mean(), rng.choice([-1.0, 1.0], (6, 3)),
         rng.standard_normal((6, 3))),
        (losses.LogCosh(), lambda x, t: torch.log(torch.cosh(x - t)).mean(), rng.standard_normal((6, 3)),
         rng.standard_normal((6, 3))),
    ]
    for loss, torch_loss, labels, predictions in checks:
        value, grad = ours_value_and_grad(loss, labels, predictions)
        x = torch.tensor(predictions, requires_grad=True)
        expected = torch_loss(x, torch.tensor(labels))
        expected.backward()
        np.testing.assert_allclose(value, expected.item(), rtol=1e-12, err_msg=loss.name)
        np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=loss.name)


def test_hand_computed_values():
    # hinge: labels 0/1 become -1/1; max(1 - y p, 0) = [0, 1.5] for p = [2, 0.5], y = [1, -1] -> mean 0.75
    assert losses.Hinge()(np.array([[1.0, 0.0]]), Tensor(np.array([[2.0, 0.5]]))).item() == pytest.approx(0.75)
    assert losses.SquaredHinge()(np.array([[1.0, 0.0]]), Tensor(np.array([[2.0, 0.5]]))).item() == \
        pytest.approx(1.125)
    # categorical hinge: pos = 0.2, neg = 0.7 -> 1.5
    assert losses.CategoricalHinge()(np.array([[0.0, 1.0, 0.0]]), Tensor(np.array([[0.7, 0.2, 0.1]]))).item() == \
        pytest.approx(1.5)
    # MAPE: |1 - 2| / 1 and |4 - 2| / 4 -> 100 * mean(1, 0.5) = 75
    assert losses.MeanAbsolutePercentageError()(np.array([[1.0, 4.0]]), Tensor(np.array([[2.0, 2.0]]))).item() == \
        pytest.approx(75.0)
    assert losses.CosineSimilarity()(np.array([[1.0, 0.0]]), Tensor(np.array([[-3.0, 0.0]]))).item() == \
        pytest.approx(1.0)
    # focal with gamma 0 is the plain crossentropy
    y, p = binary((4, 2)), probabilities((4, 2))
    assert losses.BinaryFocalCrossentropy(gamma=0.0)(y, Tensor(p)).item() == \
        pytest.approx(losses.BinaryCrossentropy()(y, Tensor(p)).item(), rel=1e-12)
    y, p = one_hot(4, 3), softmax(rng.standard_normal((4, 3)))
    assert losses.CategoricalFocalCrossentropy(gamma=0.0, alpha=1.0)(y, Tensor(p)).item() == \
        pytest.approx(losses.CategoricalCrossentropy()(y, Tensor(p)).item(), rel=1e-12)


def test_ignore_class_leaves_those_labels_out():
    logits = rng.standard_normal((5, 3))
    labels = np.array([0, 9, 2, 9, 1])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=9)
    kept = losses.SparseCategoricalCrossentropy(from_logits=True)(labels[[0, 2, 4]], Tensor(logits[[0, 2, 4]]))
    x = Tensor(logits.copy(), requires_grad=True)
    out = loss(labels, x)
    out.backward()
    assert out.item() == pytest.approx(kept.item(), rel=1e-12)
    np.testing.assert_array_equal(x.grad[[1, 3]], 0.0)
    assert losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=9)(
        np.array([9, 9]), Tensor(logits[:2])).item() == 0.0


def test_names_aliases_and_config_round_trips(keras):
    for name in ["hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "kld", "KLD", "poisson",
                 "cosine_similarity", "log_cosh", "mean_absolute_percentage_error", "mape", "MAPE",
                 "mean_squared_logarithmic_error", "msle", "MSLE", "binary_focal_crossentropy",
                 "categorical_focal_crossentropy", "bce", "BCE", "mse", "MAE"]:
        loss = losses.get(name)
        keras_object = keras.losses.get(name)  # a function in Keras: our Loss computes the same values
        assert getattr(losses, name).__name__ == keras_object.__name__
        assert loss.name == keras_object.__name__
        assert type(losses.get(type(loss).__name__)) is type(loss)
    for loss in (losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.0, from_logits=True,
                                                label_smoothing=0.1, axis=-1, reduction="sum", name="bfc"),
                 losses.CategoricalFocalCrossentropy(alpha=0.6), losses.CosineSimilarity(axis=0),
                 losses.KLDivergence(reduction="none"), losses.SparseCategoricalCrossentropy(ignore_class=3)):
        again = losses.deserialize(losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
        keras_copy = getattr(keras.losses, type(loss).__name__).from_config(loss.get_config())
        assert {k: v for k, v in keras_copy.get_config().items() if k in loss.get_config()} == \
            {k: v for k, v in loss.get_config().items() if k in keras_copy.get_config()}
    wrapped = losses.LossFunctionWrapper(losses.poisson, name="p")
    assert losses.deserialize(losses.serialize(wrapped)).fn is losses.poisson


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="label_smoothing must be a number in \\[0, 1\\].*1.5"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="gamma must be a finite non-negative number.*-1"):
        losses.BinaryFocalCrossentropy(gamma=-1)
    with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\]"):
        losses.BinaryFocalCrossentropy(alpha=2.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.Hinge(reduction="average")
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        losses.CosineSimilarity(axis=2)(np.zeros((2, 3)), Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="categorical_hinge: y_true of shape \\(4,\\) looks like integer"):
        losses.CategoricalHinge()(np.array([0, 1, 2, 1]), Tensor(np.ones((4, 3))))
    with pytest.raises(ValueError, match="poisson: y_true and y_pred must have the same shape"):
        losses.Poisson()(np.zeros((4, 2)), Tensor(np.ones((4, 3))))
    with pytest.raises(ValueError, match="binary_focal_crossentropy: labels must lie in \\[0, 1\\]"):
        losses.BinaryFocalCrossentropy()(np.array([[2.0]]), Tensor(np.array([[0.5]])))
    with pytest.raises(ValueError, match="ignore_class must be an int"):
        losses.SparseCategoricalCrossentropy(ignore_class="background")


def test_new_losses_train_a_model():
    """compile(loss=<name>) trains: the loss goes down for each new name."""
    from tinygrad_relu import layers, models
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y_binary = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    y_class = np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)]
    for loss, y, activation in [("hinge", y_binary, "tanh"), ("squared_hinge", y_binary, "tanh"),
                                ("binary_focal_crossentropy", y_binary, "sigmoid"),
                                ("categorical_focal_crossentropy", y_class, "softmax"),
                                ("categorical_hinge", y_class, "linear"), ("kld", y_class, "softmax"),
                                ("poisson", y_class, "softplus"), ("log_cosh", y_class, "linear"),
                                ("msle", y_class, "relu"), ("cosine_similarity", y_class, "linear")]:
        model = models.Sequential([layers.Input((4,)), layers.Dense(16, activation="relu"),
                                   layers.Dense(y.shape[1], activation=activation)])
        model.compile(optimizer="adam", loss=loss)
        history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, shuffle=False)
        assert history.history["loss"][-1] < history.history["loss"][0], loss
