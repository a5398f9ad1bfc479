"""Optimizers against hand-written Keras 3 update equations (and PyTorch where the two agree)."""
import math
import zlib

import numpy as np
import pytest

from tinygrad_relu import Tensor, optimizers
from tinygrad_relu.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from tinygrad_relu.optimizers.schedules import ExponentialDecay, PiecewiseConstantDecay

SHAPES = [(4, 3), (3,)]
STEPS = 6


# ---- the reference: Keras' equations written out plainly, float64 -------------------------------
def keras_clip(grads, cfg):
    if cfg.get("clipnorm"):
        c = cfg["clipnorm"]
        return [g * c / max(np.sqrt((g * g).sum()), c) for g in grads]
    if cfg.get("global_clipnorm"):
        c = cfg["global_clipnorm"]
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        return [g * (c * min(1.0 / norm, 1.0 / c)) for g in grads]
    if cfg.get("clipvalue"):
        v = cfg["clipvalue"]
        return [np.clip(g, -v, v) for g in grads]
    return grads


def keras_reference(kind, cfg, params, grad_seq, lr_at):
    """Run Keras' update equations for len(grad_seq) steps; lr_at(step) gives the learning rate."""
    params = [p.copy() for p in params]
    state = {}
    for step, grads in enumerate(grad_seq):
        grads = keras_clip(grads, cfg)
        lr = lr_at(step)
        for i, (p, g) in enumerate(zip(params, grads)):
            wd = cfg.get("weight_decay", 0.004 if kind == "adamw" else None)
            if wd:
                p -= p * wd * lr
            s = state.setdefault(i, {})
            if kind == "sgd":
                mu = cfg.get("momentum", 0.0)
                if mu:
                    m = s.get("m", np.zeros_like(p))
                    m = mu * m - lr * g
                    s["m"] = m
                    p += (mu * m - lr * g) if cfg.get("nesterov") else m
                else:
                    p -= lr * g
            elif kind in ("adam", "adamw"):
                b1, b2 = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999)
                eps = cfg.get("epsilon", 1e-7)
                t = step + 1
                alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                m = s.get("m", np.zeros_like(p)) + (g - s.get("m", np.zeros_like(p))) * (1 - b1)
                v = s.get("v", np.zeros_like(p)) + (g * g - s.get("v", np.zeros_like(p))) * (1 - b2)
                s["m"], s["v"] = m, v
                if cfg.get("amsgrad"):
                    s["vhat"] = np.maximum(s.get("vhat", np.zeros_like(p)), v)
                    v = s["vhat"]
                p -= alpha * m / (np.sqrt(v) + eps)
            elif kind == "rmsprop":
                rho, mu, eps = cfg.get("rho", 0.9), cfg.get("momentum", 0.0), cfg.get("epsilon", 1e-7)
                v = rho * s.get("v", np.zeros_like(p)) + (1 - rho) * g * g
                s["v"] = v
                if cfg.get("centered"):
                    a = rho * s.get("a", np.zeros_like(p)) + (1 - rho) * g
                    s["a"] = a
                    denominator = v - a * a + eps
                else:
                    denominator = v + eps
                increment = lr * g / np.sqrt(denominator)
                if mu > 0:
                    s["mom"] = mu * s.get("mom", np.zeros_like(p)) + increment
                    p -= s["mom"]
                else:
                    p -= increment
            elif kind == "adagrad":
                acc = s.get("acc", np.full_like(p, cfg.get("initial_accumulator_value", 0.1))) + g * g
                s["acc"] = acc
                p -= lr * g / np.sqrt(acc + cfg.get("epsilon", 1e-7))
    return params


CLASSES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "adagrad": 0.001}

CASES = [
    ("sgd", {}), ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("adam", {}), ("adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("adamw", {"learning_rate": 0.01}), ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("rmsprop", {}), ("rmsprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.5, "rho": 0.8}),
    ("adagrad", {}), ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
    ("adam", {"learning_rate": 0.01, "clipnorm": 0.5}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.5, "global_clipnorm": 0.7}),
    ("rmsprop", {"learning_rate": 0.01, "clipvalue": 0.3}),
]


def make_problem(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params0 = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grad_seq = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return params0, grad_seq


def run_ours(opt, params0, grad_seq):
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    for grads in grad_seq:
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.apply_gradients(params)
    return params


@pytest.mark.parametrize("kind,cfg", CASES, ids=[f"{k}-{'-'.join(c) or 'defaults'}" for k, c in CASES])
def test_matches_keras_equations(kind, cfg):
    params0, grad_seq = make_problem(zlib.crc32(repr((kind, tuple(cfg))).encode()) % 1000)  # hash() varies per run
    opt = CLASSES[kind](**cfg)
    lr = cfg.get("learning_rate", DEFAULT_LR[kind])
    ours = run_ours(opt, params0, grad_seq)
    expected = keras_reference(kind, cfg, params0, grad_seq, lambda step: lr)
    for p, e in zip(ours, expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14)
    assert opt.iterations == STEPS
    # the update moved the parameters: a no-op optimizer would fail the comparison above anyway,
    # but make the point explicit
    assert not np.array_equal(ours[0].data, params0[0])


@pytest.mark.parametrize("schedule,lr_at", [
    (ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5), lambda s: 0.1 * 0.5 ** (s / 2)),
    (ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True), lambda s: 0.1 * 0.5 ** (s // 2)),
    (PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]), lambda s: 0.1 if s <= 1 else (0.05 if s <= 3 else 0.01)),
])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_schedules_evaluated_at_iterations(schedule, lr_at, kind):
    params0, grad_seq = make_problem(7)
    cfg = {"momentum": 0.9} if kind == "sgd" else {}
    opt = CLASSES[kind](learning_rate=schedule, **cfg)
    assert opt.learning_rate == pytest.approx(lr_at(0))
    ours = run_ours(opt, params0, grad_seq)
    assert opt.learning_rate == pytest.approx(lr_at(STEPS))
    expected = keras_reference(kind, cfg, params0, grad_seq, lr_at)
    for p, e in zip(ours, expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14)


def test_schedule_values():
    s = ExponentialDecay(1.0, decay_steps=10, decay_rate=0.1)
    assert s(0) == 1.0 and s(10) == pytest.approx(0.1) and s(5) == pytest.approx(0.1 ** 0.5)
    assert ExponentialDecay(1.0, 10, 0.1, staircase=True)(19) == pytest.approx(0.1)
    p = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [p(0), p(10), p(11), p(20), p(21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="one more entry"):
        PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="decay_steps"):
        ExponentialDecay(0.1, 0, 0.5)


def test_sgd_matches_torch():
    torch = pytest.importorskip("torch")
    params0, grad_seq = make_problem(3)
    for cfg in ({"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {}):
        ours = run_ours(SGD(learning_rate=0.05, **cfg), params0, grad_seq)
        tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
        topt = torch.optim.SGD(tparams, lr=0.05, **cfg)
        for grads in grad_seq:
            for tp, g in zip(tparams, grads):
                tp.grad = torch.tensor(g)
            topt.step()
        for p, tp in zip(ours, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_keras_adam_differs_from_torch_adam_as_documented():
    """Keras puts epsilon outside the bias correction: with a large epsilon the two visibly differ."""
    torch = pytest.importorskip("torch")
    params0, grad_seq = make_problem(4)
    ours = run_ours(Adam(learning_rate=0.1, epsilon=0.1), params0, grad_seq)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
    topt = torch.optim.Adam(tparams, lr=0.1, eps=0.1)
    for grads in grad_seq:
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
    assert np.abs(ours[0].data - tparams[0].detach().numpy()).max() > 1e-3


def test_in_place_float32_and_no_grad_skipped():
    p = Tensor(np.ones((5, 2), dtype=np.float32), requires_grad=True)
    frozen = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    buffer = p.data
    p.grad = np.full((5, 2), 0.5, dtype=np.float32)
    opt = Adam(learning_rate=0.1)
    opt.apply_gradients([p, frozen])
    assert p.data is buffer and p.data.dtype == np.float32
    # first Adam step: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is about lr
    alpha = 0.1 * math.sqrt(0.001) / 0.1
    np.testing.assert_allclose(p.data, 1 - alpha * 0.05 / (math.sqrt(0.00025) + 1e-7), rtol=1e-6)
    np.testing.assert_array_equal(frozen.data, 1.0)
    assert opt.iterations == 1
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([frozen])


def test_keras_style_grads_and_vars_pairs():
    p = Tensor(np.zeros(3), requires_grad=True)
    SGD(learning_rate=0.5).apply_gradients([(np.array([1.0, 2.0, 3.0]), p)])
    np.testing.assert_allclose(p.data, [-0.5, -1.0, -1.5])


def test_global_clipnorm_nan_on_infinite_norm():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([np.inf, 1.0])
    SGD(learning_rate=0.1, global_clipnorm=1.0).apply_gradients([p])
    assert np.isnan(p.data).all()


def test_exclude_from_weight_decay():
    kernel, bias = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    opt = SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay([bias])
    kernel.grad, bias.grad = np.zeros(2), np.zeros(2)
    opt.apply_gradients([kernel, bias])
    np.testing.assert_allclose(kernel.data, 1 - 0.05)
    np.testing.assert_allclose(bias.data, 1.0)


@pytest.mark.parametrize("kind,cfg", [("adam", {"amsgrad": True}), ("sgd", {"momentum": 0.9}),
                                      ("rmsprop", {"centered": True, "momentum": 0.5}), ("adagrad", {}),
                                      ("sgd", {})])
def test_state_round_trip_continues_identically(kind, cfg):
    params0, grad_seq = make_problem(11)
    straight = run_ours(CLASSES[kind](**cfg), params0, grad_seq)

    first = CLASSES[kind](**cfg)
    halfway = run_ours(first, params0, grad_seq[:3])
    state = first.get_state()
    assert state[0] == 3 and state[0].dtype == np.int64
    fresh = CLASSES[kind](**cfg)
    fresh.set_state(state)  # before it has seen any parameter: slots wait for the first update
    assert fresh.iterations == 3
    resumed = run_ours(fresh, [p.data for p in halfway], grad_seq[3:])
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_layout_and_validation():
    params0, grad_seq = make_problem(12)
    opt = Adam()
    run_ours(opt, params0, grad_seq[:1])
    state = opt.get_state()
    # [iterations, learning_rate, momentum per param..., velocity per param...]: Keras' order
    assert len(state) == 2 + 2 * len(SHAPES)
    assert [s.shape for s in state[2:]] == SHAPES + SHAPES
    bad = list(state)
    bad[2] = np.zeros((9, 9))
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*\(9, 9\)"):
        opt.set_state(bad)
    with pytest.raises(ValueError, match="slot arrays"):
        opt.set_state(state[:-1])


def test_learning_rate_settable_and_schedule_locked():
    opt = SGD()
    assert opt.learning_rate == 0.01
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.get_config()["learning_rate"] == 0.5
    scheduled = Adam(learning_rate=ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        scheduled.learning_rate = 0.3


def test_config_round_trip():
    for opt in (SGD(learning_rate=0.2, momentum=0.5, nesterov=True, clipnorm=1.0),
                Adam(learning_rate=ExponentialDecay(0.1, 5, 0.9, staircase=True), amsgrad=True),
                AdamW(weight_decay=0.01), RMSprop(centered=True), Adagrad(initial_accumulator_value=0.2)):
        again = type(opt).from_config(opt.get_config())
        assert again.get_config() == opt.get_config()
        assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == opt.get_config()
    keras_style = {**Adam().get_config(), "use_ema": False, "ema_momentum": 0.99, "loss_scale_factor": None}
    assert Adam.from_config(keras_style).get_config() == Adam().get_config()


def test_defaults_and_get():
    assert (SGD().momentum, SGD().nesterov, SGD().name) == (0.0, False, "SGD")
    a = Adam()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    assert AdamW().weight_decay == 0.004
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    g = Adagrad()
    assert (g.learning_rate, g.initial_accumulator_value, g.epsilon) == (0.001, 0.1, 1e-7)
    for name, cls in [("adam", Adam), ("SGD", SGD), ("rmsprop", RMSprop), ("adamw", AdamW), ("Adagrad", Adagrad)]:
        assert type(optimizers.get(name)) is cls
    opt = Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="Unknown optimizer 'adamx'.*adadelta, adagrad, adam, adamax, adamw, ftrl, "
                                         "lamb, lion, nadam, rmsprop, sgd"):
        optimizers.get("adamx")


def test_bad_settings():
    with pytest.raises(ValueError, match="only one of clipnorm"):
        SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        Adam(learning_rate=-1.0)
    with pytest.raises(ValueError, match="clipnorm"):
        Adam(clipnorm=0)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)
    p = Tensor(np.zeros(3), requires_grad=True)
    p.grad = np.zeros(4)
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        SGD().apply_gradients([p])


def test_step_allocates_little():
    """The update reuses its buffers: after warm-up, a step of a 1M-parameter Adam allocates < 1 MB."""
    import tracemalloc
    p = Tensor(np.zeros(1_000_000, dtype=np.float32), requires_grad=True)
    p.grad = np.full(1_000_000, 0.1, dtype=np.float32)
    opt = Adam()
    opt.apply_gradients([p])
    tracemalloc.start()
    opt.apply_gradients([p])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000


# ---- the fused Cython kernels against the numpy reference path -------------------------------------
from tinygrad_relu._kernels import optim as optim_kernels  # noqa: E402

FUSED_CASES = CASES + [
    ("adam", {"learning_rate": 0.01, "amsgrad": True, "clipvalue": 0.2}),
    ("adamw", {"learning_rate": 0.01, "amsgrad": True, "global_clipnorm": 0.5}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "clipnorm": 0.3, "weight_decay": 0.01}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "weight_decay": 0.02}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.5, "clipnorm": 0.4}),
    ("adagrad", {"learning_rate": 0.1, "clipvalue": 0.3, "weight_decay": 0.05}),
    ("adam", {"learning_rate": ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)}),
    ("sgd", {"learning_rate": PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]), "momentum": 0.9}),
]
FUSED_SHAPES = [(37, 23), (23,), (5, 3, 2)]  # odd sizes: vector loops end in a scalar remainder


def run_path(kind, cfg, fused, dtype, steps=5, seed=0, shapes=FUSED_SHAPES):
    rng = np.random.default_rng(seed)
    params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    grad_seq = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    opt = CLASSES[kind](**cfg)
    opt.fused = fused
    for grads in grad_seq:
        for p, g in zip(params, grads):
            p.grad = g
        opt.apply_gradients(params)
    return [p.data for p in params], opt.get_state()


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-12)], ids=["float32", "float64"])
@pytest.mark.parametrize("kind,cfg", FUSED_CASES,
                         ids=[f"{k}-{'-'.join(c) or 'defaults'}" for k, c in FUSED_CASES])
def test_fused_matches_numpy_path(kind, cfg, dtype, rtol):
    fused, fused_state = run_path(kind, cfg, True, dtype)
    reference, reference_state = run_path(kind, cfg, False, dtype)
    for a, b in zip(fused, reference):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3)
    assert len(fused_state) == len(reference_state)
    for a, b in zip(fused_state, reference_state):  # the slots (m, v, v_hat, ...) agree too
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3)


def test_fused_is_the_default_and_skips_the_numpy_update(monkeypatch):
    def forbidden(*args):
        raise AssertionError("the numpy update ran although every array suits the kernel")
    for kind, cfg in [("adam", {"amsgrad": True}), ("sgd", {"momentum": 0.9}), ("rmsprop", {"centered": True}),
                      ("adagrad", {})]:
        cls = CLASSES[kind]
        assert cls().fused is True
        monkeypatch.setattr(cls, "_update", forbidden)
        run_path(kind, cfg, True, np.float32, steps=2)


@pytest.mark.parametrize("kind,cfg", [("adam", {"amsgrad": True, "weight_decay": 0.01}),
                                      ("sgd", {"momentum": 0.9, "nesterov": True}),
                                      ("rmsprop", {"centered": True, "momentum": 0.5}), ("adagrad", {})])
def test_fused_threaded_blocks_match(kind, cfg):
    """Above the OpenMP threshold the array is split into per-thread blocks; force that on a small array."""
    shapes = [(1001,), (7, 9)]
    single, _ = run_path(kind, cfg, True, np.float32, shapes=shapes)
    old = optim_kernels.set_parallel_threshold(0)
    try:
        threaded, _ = run_path(kind, cfg, True, np.float32, shapes=shapes)
    finally:
        optim_kernels.set_parallel_threshold(old)
    reference, _ = run_path(kind, cfg, False, np.float32, shapes=shapes)
    for a, b, c in zip(threaded, single, reference):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-9)


def test_unusual_parameters_fall_back_to_numpy():
    """Non-contiguous, read-only-grad, mixed-dtype and float16 parameters update exactly as the numpy path."""
    rng = np.random.default_rng(5)

    def problem():
        base = rng.standard_normal((6, 8)).astype(np.float32)
        return [base.copy().T,                                    # a non-contiguous (transposed) view
                rng.standard_normal(5).astype(np.float32),        # its gradient comes as float64
                rng.standard_normal(4).astype(np.float16),        # a dtype the kernels do not take
                rng.standard_normal(3).astype(np.float32)]        # an ordinary one, beside them

    datas = problem()
    grads = [rng.standard_normal(d.shape).astype(np.float32) for d in datas]
    grads[1] = grads[1].astype(np.float64)
    grads[2] = grads[2].astype(np.float16)
    grads[3].setflags(write=False)  # a read-only gradient is fine: the kernel only reads it
    results = []
    for fused in (True, False):
        params = [Tensor(np.array(d, copy=True, order="K"), requires_grad=True) for d in datas]
        params[0].data = datas[0].copy(order="F")  # keep the transposed layout
        assert not params[0].data.flags.c_contiguous
        opt = Adam(learning_rate=0.1, amsgrad=True, clipnorm=0.5)
        opt.fused = fused
        for _ in range(3):
            for p, g in zip(params, grads):
                p.grad = g
            opt.apply_gradients(params)
        results.append([p.data for p in params])
    for a, b in zip(*results):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(results[0][0], datas[0])


def test_kernels_decline_what_they_cannot_take():
    w = np.zeros(4, np.float32)
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    args = (1.0, -np.inf, np.inf, 0.0, False, 0.1, 0.001, 1e-7, 0.01)
    assert optim_kernels.adam_update(w, np.ones(4, np.float32), m, v, None, *args) is True
    assert not np.array_equal(w, 0)
    for g in (np.ones(4, np.float64), np.ones(5, np.float32), np.ones(8, np.float32)[::2], [1.0, 1.0, 1.0, 1.0]):
        before = (w.copy(), m.copy(), v.copy())
        assert optim_kernels.adam_update(w, g, m, v, None, *args) is False
        for a, b in zip((w, m, v), before):
            np.testing.assert_array_equal(a, b)  # declined means untouched
    frozen = np.zeros(4, np.float32)
    frozen.setflags(write=False)
    assert optim_kernels.sgd_update(frozen, np.ones(4, np.float32), None, 1.0, -np.inf, np.inf, 0.0, False,
                                    0.1, 0.0, False) is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_nan_and_inf_propagate_like_numpy(dtype):
    """NaN through the clamp, amsgrad's maximum and a non-finite global norm; inf weights under decay."""
    def run(fused, cfg, grads, weights):
        p = Tensor(np.array(weights, dtype=dtype), requires_grad=True)
        opt = Adam(learning_rate=0.1, **cfg)
        opt.fused = fused
        for g in grads:
            p.grad = np.array(g, dtype=dtype)
            opt.apply_gradients([p])
        return p.data, opt.get_state()

    weights = [1.0, np.inf, -2.0, 0.5]
    cases = [({"amsgrad": True, "clipvalue": 0.5}, [[0.1, 0.2, np.nan, -0.3], [0.2, -0.1, 0.3, np.nan]]),
             ({"amsgrad": True, "weight_decay": 0.1}, [[np.nan, 1.0, 2.0, -3.0], [1.0, 2.0, 3.0, 4.0]]),
             ({"global_clipnorm": 1.0}, [[np.inf, 1.0, 0.0, 0.0]]),
             ({"clipnorm": 1.0}, [[1.0, 2.0, 3.0, np.inf]])]
    for cfg, grads in cases:
        with np.errstate(invalid="ignore"):  # the numpy path warns on inf - inf; the kernels are silent
            (a, sa), (b, sb) = run(True, cfg, grads, weights), run(False, cfg, grads, weights)
        np.testing.assert_array_equal(a, b)  # assert_array_equal treats NaN == NaN
        for x, y in zip(sa, sb):
            np.testing.assert_array_equal(x, y)


def test_fused_step_per_parameter_overhead_is_small():
    """Six tiny parameters: the step is Python overhead only; a few microseconds per parameter at most."""
    import time
    params = [Tensor(np.zeros(s, np.float32), requires_grad=True) for s in [(2, 3), (3,)] * 3]
    opt = Adam()
    for p in params:
        p.grad = np.full(p.shape, 0.1, np.float32)
    for _ in range(20):
        opt.apply_gradients(params)
    best = float("inf")
    for _ in range(7):
        start = time.thread_time()
        for _ in range(200):
            opt.apply_gradients(params)
        best = min(best, (time.thread_time() - start) / 200)
    assert best / len(params) < 20e-6  # measured ~0.7 us per parameter; generous for slow CI machines


def test_a_new_optimizer_class_is_found_by_its_keras_name_as_contributing_says():
    from tinygrad_relu import optimizers
    from tinygrad_relu.optimizers.optimizer import REGISTRY

    class PlainDescent(optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, name="plain_descent", **kwargs):
            super().__init__(learning_rate, name, **kwargs)

        def _update(self, g, var, lr, i, buf):
            var -= lr * g

    try:
        assert "plaindescent" in optimizers.names()
        opt = optimizers.get("PlainDescent")
        assert isinstance(opt, PlainDescent)
        w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
        w.grad = np.array([0.5, 0.5])
        opt.apply_gradients([w])
        np.testing.assert_allclose(w.data, [0.95, -2.05])
    finally:
        REGISTRY.pop("plaindescent", None)
    assert set(optimizers.names()) == {"sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "ftrl",
                                       "lamb", "lion", "nadam"}
