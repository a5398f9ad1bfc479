"""The optimizers against Keras 3 itself (torch backend, float64): the same initial weights and the same
gradient sequence for several steps, then every weight and every optimizer slot compared; the fused
kernels against the numpy path; use_ema, global_clipnorm, configs and state for the new optimizers."""
import contextlib
import zlib

import numpy as np
import pytest

from tinygrad_relu import Tensor, layers, models, optimizers
from tinygrad_relu._kernels import optim_extra as extra_kernels

SHAPES = [(5, 3), (3,), (2, 2, 2)]
STEPS = 7

NEW = ["Nadam", "Adamax", "Adadelta", "Ftrl", "Lion", "Lamb"]
CASES = [(name, {}) for name in NEW] + [
    ("Nadam", {"learning_rate": 0.0625, "beta_1": 0.5, "beta_2": 0.75, "epsilon": 1e-3}),
    ("Adamax", {"learning_rate": 0.125, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-4}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-5}),
    ("Ftrl", {"learning_rate": 0.25, "learning_rate_power": -0.75, "initial_accumulator_value": 0.5,
              "l1_regularization_strength": 0.05, "l2_regularization_strength": 0.1,
              "l2_shrinkage_regularization_strength": 0.05, "beta": 0.5}),
    ("Ftrl", {"learning_rate": 0.5, "l1_regularization_strength": 0.5}),  # many weights held at exactly 0
    ("Lion", {"learning_rate": 0.0625, "beta_1": 0.5, "beta_2": 0.9}),
    ("Lamb", {"learning_rate": 0.0625, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-4}),
    # the shared settings, on new and old optimizers alike
    ("Nadam", {"learning_rate": 0.0625, "weight_decay": 0.125}),
    ("Lamb", {"learning_rate": 0.0625, "weight_decay": 0.25, "global_clipnorm": 0.5}),
    ("Lion", {"learning_rate": 0.0625, "clipnorm": 0.5}),
    ("Adadelta", {"learning_rate": 1.0, "clipvalue": 0.25}),
    ("Adamax", {"learning_rate": 0.125, "global_clipnorm": 0.75}),
    ("Ftrl", {"learning_rate": 0.25, "global_clipnorm": 1.0, "weight_decay": 0.0625}),
    ("Nadam", {"learning_rate": 0.0625, "use_ema": True}),
    ("Lion", {"learning_rate": 0.0625, "use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 3}),
    ("Lamb", {"learning_rate": 0.0625, "use_ema": True, "ema_momentum": 0.75}),
    ("Adam", {"learning_rate": 0.0625, "use_ema": True, "ema_overwrite_frequency": 2, "global_clipnorm": 0.5}),
    ("SGD", {"learning_rate": 0.125, "momentum": 0.875, "nesterov": True, "use_ema": True}),
    ("RMSprop", {"learning_rate": 0.0625, "centered": True, "momentum": 0.5, "use_ema": True, "ema_momentum": 0.8}),
    ("Adagrad", {"learning_rate": 0.125, "global_clipnorm": 0.5, "use_ema": True}),
    ("AdamW", {"learning_rate": 0.0625, "weight_decay": 0.125, "amsgrad": True, "global_clipnorm": 2.0,
               "use_ema": True, "ema_overwrite_frequency": 4}),
    ("SGD", {"learning_rate": 0.125, "global_clipnorm": 0.25}),
    ("RMSprop", {"learning_rate": 0.0625, "global_clipnorm": 0.25}),
    # the first five, plain, against Keras 3 itself too
    ("SGD", {}), ("SGD", {"learning_rate": 0.125, "momentum": 0.5, "weight_decay": 0.0625}),
    ("Adam", {}), ("Adam", {"learning_rate": 0.0625, "amsgrad": True, "epsilon": 1e-3}),
    ("AdamW", {"learning_rate": 0.0625}), ("RMSprop", {}), ("RMSprop", {"learning_rate": 0.0625, "centered": True}),
    ("Adagrad", {}), ("Adagrad", {"learning_rate": 0.125, "initial_accumulator_value": 0.5, "clipvalue": 0.5}),
]
IDS = [f"{name}-{'-'.join(cfg) or 'defaults'}" for name, cfg in CASES]


def problem(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.uniform(0.1, 3.0)).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return weights, grads


def run_ours(opt, weights, grads):
    params = [Tensor(w.copy(), requires_grad=True) for w in weights]
    for step in grads:
        for p, g in zip(params, step):
            p.grad = g.copy()
        opt.apply_gradients(params)
    return [p.data for p in params]


@contextlib.contextmanager
def keras_float64(keras):
    """Keras computes in floatx where it creates values (its learning-rate variable, ops.mean ...): float64 here."""
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(old)


def run_keras(keras, name, cfg, weights, grads):
    import torch
    with keras_float64(keras):
        opt = getattr(keras.optimizers, name)(**cfg)
        variables = [keras.Variable(w.copy(), dtype="float64", name=f"w{i}") for i, w in enumerate(weights)]
        for step in grads:
            opt.apply_gradients(zip([torch.tensor(g) for g in step], variables))
        return [v.numpy() for v in variables], {v.name: v.numpy() for v in opt.variables}


@pytest.mark.parametrize("name,cfg", CASES, ids=IDS)
def test_matches_keras_3(keras, name, cfg):
    weights, grads = problem(zlib.crc32(repr((name, tuple(cfg))).encode()) % 1000)  # hash() of a str varies per run
    opt = getattr(optimizers, name)(**cfg)
    ours = run_ours(opt, weights, grads)
    theirs, keras_state = run_keras(keras, name, cfg, weights, grads)
    # Keras' torch backend computes the clipping scale in float32 (ops.minimum of a float64 tensor and a Python
    # float promotes to float32 there), so with clipping it agrees to float32's precision only
    clipped = any(key in cfg for key in ("clipnorm", "global_clipnorm"))
    rtol = 1e-6 if clipped else 1e-12
    for w, k in zip(ours, theirs):
        np.testing.assert_allclose(w, k, rtol=rtol, atol=max(1e-14, rtol * np.abs(k).max()))
    # the weights moved (Adadelta's first steps move them by ~1e-6 relative: within allclose's tolerance)
    assert not np.array_equal(ours[0], weights[0])
    # every slot, found by name in Keras' variables ('w1_momentum'; Keras 3.15 orders them otherwise)
    state = opt.get_state()
    assert int(state[0]) == int(keras_state["iteration"]) == STEPS
    kinds = [kind for kind, _ in opt._state_specs()]
    assert len(state) == 2 + len(kinds) * len(SHAPES)
    assert len(keras_state) == len(state) + (1 if name == "Nadam" else 0)  # Keras' Nadam keeps u_product
    for k, kind in enumerate(kinds):
        for i in range(len(SHAPES)):
            expected = keras_state[f"w{i}_{kind}"]
            np.testing.assert_allclose(state[2 + k * len(SHAPES) + i], expected, rtol=rtol,
                                       atol=max(1e-14, rtol * np.abs(expected).max()), err_msg=f"{kind} of weight {i}")


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy"])
@pytest.mark.parametrize("name", sorted(optimizers.names()))
def test_global_clipnorm_rescales_every_gradient_by_one_factor(name, fused):
    """global_clipnorm=c is the same run on gradients scaled by c / |all gradients| when that is below 1, for
    every optimizer (exactly: the same products in the same order)."""
    weights, grads = problem(21)
    clip = 2.0
    scaled = []
    for step in grads:
        norm = np.sqrt(sum(float(np.vdot(g, g)) for g in step))
        scaled.append([g * (clip / norm) if norm > clip else g for g in step])
    assert any(s is not g for step, orig in zip(scaled, grads) for s, g in zip(step, orig))
    results = []
    for cfg, sequence in (({"global_clipnorm": clip}, grads), ({}, scaled)):
        opt = optimizers.get(name).from_config({**optimizers.get(name).get_config(), **cfg})
        opt.fused = fused
        results.append(run_ours(opt, weights, sequence))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,cfg", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_matches_numpy_path(name, cfg, dtype):
    weights, grads = problem(11, dtype)
    results = []
    for fused in (True, False):
        opt = getattr(optimizers, name)(**cfg)
        opt.fused = fused
        results.append((run_ours(opt, weights, grads), opt.get_state()))
    (a, state_a), (b, state_b) = results
    exact = not (name == "Ftrl" and cfg.get("learning_rate_power", -0.5) != -0.5)  # libm pow vs numpy's power
    for x, y in zip(a + state_a, b + state_b):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        if exact:
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-5 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("name", [n for n in NEW if n != "Lamb"])
def test_the_fused_kernel_runs_and_threads_agree(monkeypatch, name):
    """The kernel is what runs (the numpy update is never called), and split into per-thread blocks it gives
    the same bits."""
    weights, grads = [np.random.default_rng(2).standard_normal((1001,)).astype(np.float32)], None
    grads = [[np.random.default_rng(k).standard_normal((1001,)).astype(np.float32)] for k in range(4)]
    cls = getattr(optimizers, name)
    single = run_ours(cls(), weights, grads)
    old = extra_kernels.set_parallel_threshold(0)
    try:
        threaded = run_ours(cls(), weights, grads)
    finally:
        extra_kernels.set_parallel_threshold(old)
    np.testing.assert_array_equal(single[0], threaded[0])

    def forbidden(*args):
        raise AssertionError("the numpy update ran although every array suits the kernel")
    monkeypatch.setattr(cls, "_update", forbidden)
    run_ours(cls(), weights, grads)


def test_kernels_check_their_slots_and_decline_what_they_cannot_take():
    w, g = np.zeros(4, np.float32), np.ones(4, np.float32)
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    common = (1.0, -np.inf, np.inf, 0.0, False)
    assert extra_kernels.lion_update(w, g, m, *common, 0.1, 0.9, 0.1, 0.99, 0.01) is True
    np.testing.assert_allclose(w, -0.1)
    with pytest.raises(TypeError, match="nadam_update: v must be a numpy array, got list"):
        extra_kernels.nadam_update(w, g, m, [0.0] * 4, *common, 0.1, 0.001, 1.0, 1.0, 1.0, 0.1, 1e-7)
    with pytest.raises(ValueError, match="ftrl_update: exponent"):
        extra_kernels.ftrl_update(w, g, m, v, *common, 0.1, -0.5, 0.0, 0.0, 0.0)
    before = w.copy()
    assert extra_kernels.adamax_update(w, g.astype(np.float64), m, v, *common, 0.1, 0.999, 1e-7, 0.1, 0.1) is False
    assert extra_kernels.adadelta_update(w, g[:3], m, v, *common, 1.0, 0.95, 0.05, 1e-7) is False
    np.testing.assert_array_equal(w, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate_as_in_the_numpy_path(dtype):
    for name in NEW:
        results = []
        for fused in (True, False):
            p = Tensor(np.array([1.0, np.inf, -2.0, 0.5, 0.0], dtype=dtype), requires_grad=True)
            opt = getattr(optimizers, name)(learning_rate=0.125, clipvalue=10.0)
            opt.fused = fused
            for g in ([0.1, 0.2, np.nan, -0.3, 0.0], [np.inf, -0.1, 0.3, np.nan, 1.0]):
                p.grad = np.array(g, dtype=dtype)
                with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                    opt.apply_gradients([p])
            results.append((p.data, opt.get_state()))
        (a, sa), (b, sb) = results
        np.testing.assert_array_equal(a, b, err_msg=name)
        for x, y in zip(sa, sb):
            np.testing.assert_array_equal(x, y, err_msg=name)


def test_nadam_state_round_trip_continues_identically():
    """Nadam's momentum-schedule product is recomputed from the iteration count after set_state."""
    weights, grads = problem(5)
    straight = run_ours(optimizers.Nadam(learning_rate=0.0625), weights, grads)
    first = optimizers.Nadam(learning_rate=0.0625)
    halfway = run_ours(first, weights, grads[:3])
    fresh = optimizers.Nadam(learning_rate=0.0625)
    fresh.set_state(first.get_state())
    resumed = run_ours(fresh, halfway, grads[3:])
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NEW)
def test_config_round_trip_and_names(name, keras):
    cls = getattr(optimizers, name)
    opt = cls(learning_rate=0.5, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=5, clipnorm=1.0)
    assert type(optimizers.get(name.lower())) is cls and name.lower() in optimizers.names()
    config = opt.get_config()
    assert cls.from_config(config).get_config() == config
    assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == config
    keras_config = getattr(keras.optimizers, name)().get_config()
    assert set(config) == set(keras_config) - {"loss_scale_factor", "gradient_accumulation_steps"}
    keras_config["name"] = keras_config["name"].rsplit("_", 1)[0]  # Keras numbers its automatic names: 'nadam_3'
    defaults = cls().get_config()
    for key, value in keras_config.items():
        if key in defaults and key != "learning_rate":
            assert defaults[key] == value, key
    assert cls.from_config(keras_config).get_config() == cls(learning_rate=keras_config["learning_rate"]).get_config()


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="ema_momentum must be in the range \\[0, 1\\].*1.5"):
        optimizers.Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="ema_overwrite_frequency must be an integer >= 1.*0"):
        optimizers.SGD(use_ema=True, ema_overwrite_frequency=0)
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps=4 is not supported"):
        optimizers.Lion(gradient_accumulation_steps=4)
    with pytest.raises(ValueError, match="learning_rate_power must be negative or zero"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="l1_regularization_strength must be positive or zero"):
        optimizers.Ftrl(l1_regularization_strength=-1)
    with pytest.raises(ValueError, match="Lion: beta_1 must be in the \\(0, 1\\]"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="Nadam: beta_2 must be in \\[0, 1\\)"):
        optimizers.Nadam(beta_2=1.0)
    with pytest.raises(ValueError, match="Adadelta: rho"):
        optimizers.Adadelta(rho=1.5)


def test_ema_by_hand_and_finalize():
    """average = w after the first step, then 0.5 average + 0.5 w; finalize_variable_values copies it in."""
    p = Tensor(np.array([1.0]), requires_grad=True)
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    for g in (1.0, 2.0, 4.0):
        p.grad = np.array([g])
        opt.apply_gradients([p])
    # weights 0, -2, -6; averages 0, -1, -3.5
    np.testing.assert_array_equal(p.data, [-6.0])
    np.testing.assert_array_equal(opt.get_state()[2], [-3.5])
    opt.finalize_variable_values([p])
    np.testing.assert_array_equal(p.data, [-3.5])
    with pytest.raises(ValueError, match="never updated by this optimizer"):
        opt.finalize_variable_values([Tensor(np.zeros(1), requires_grad=True)])
    plain = optimizers.SGD()
    q = Tensor(np.ones(1), requires_grad=True)
    plain.finalize_variable_values([q])  # without use_ema: nothing to do
    np.testing.assert_array_equal(q.data, 1.0)


def test_fit_ends_with_the_moving_averages_as_keras_does(keras, tmp_path):
    """fit with use_ema=True leaves the model at its EMA weights (Keras' finalize_variable_values), the same as
    Keras 3 on the same data, initial weights and batch order; saving keeps the averages."""
    import torch
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1
    init = [rng.standard_normal((3, 4)) * 0.5, np.zeros(4), rng.standard_normal((4, 1)) * 0.5, np.zeros(1)]
    cfg = {"learning_rate": 0.0625, "use_ema": True, "ema_momentum": 0.75}
    ours = models.Sequential([layers.Input((3,), dtype="float64"), layers.Dense(4, activation="relu", dtype="float64"),
                              layers.Dense(1, dtype="float64")])
    ours.set_weights(init)
    ours.compile(optimizer=optimizers.Nadam(**cfg), loss="mse")
    ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    with keras_float64(keras):
        theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                                   keras.layers.Dense(1)])
        theirs.set_weights(init)
        theirs.compile(optimizer=keras.optimizers.Nadam(**cfg), loss="mse")
        theirs.fit(torch.tensor(x), torch.tensor(y), epochs=3, batch_size=16, shuffle=False, verbose=0)
        keras_weights = theirs.get_weights()
    # Keras reduces the float64 loss in float32 (see test_losses_keras.py): its gradients agree to ~1e-7, and 12
    # steps of Nadam and the moving average carry that to a few 1e-5 relative on the smallest weights
    for a, b in zip(ours.get_weights(), keras_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    plain = models.Sequential([layers.Input((3,), dtype="float64"),
                               layers.Dense(4, activation="relu", dtype="float64"), layers.Dense(1, dtype="float64")])
    plain.set_weights(init)
    plain.compile(optimizer=optimizers.Nadam(learning_rate=0.0625), loss="mse")
    plain.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert np.abs(plain.get_weights()[0] - ours.get_weights()[0]).max() > 1e-2  # the averages are not the weights
    averages = ours.optimizer.get_state()[2:6]
    for a, b in zip(ours.get_weights(), averages):
        np.testing.assert_array_equal(a, b)
    ours.save(tmp_path / "ema.keras")
    again = models.load_model(tmp_path / "ema.keras")
    assert again.optimizer.use_ema and again.optimizer.ema_momentum == 0.75
    for a, b in zip(again.optimizer.get_state(), ours.optimizer.get_state()):
        np.testing.assert_array_equal(a, b)


def test_every_optimizer_trains_a_model_by_name():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 4)).astype(np.float32)
    y = (x[:, :1] - x[:, 1:2] > 0).astype(np.float32)
    learning_rates = {"adadelta": 1.0, "ftrl": 0.5, "lion": 0.003, "sgd": 0.1}
    for name in optimizers.names():
        model = models.Sequential([layers.Input((4,)), layers.Dense(16, activation="relu"),
                                   layers.Dense(1, activation="sigmoid")])
        opt = optimizers.get({"class_name": name, "config": {"learning_rate": learning_rates.get(name, 0.01)}})
        model.compile(optimizer=opt, loss="binary_crossentropy")
        history = model.fit(x, y, epochs=10, batch_size=32, verbose=0, shuffle=False)
        assert history.history["loss"][-1] < 0.9 * history.history["loss"][0], name
