"""tinygrad_relu.constraints: Keras' formulas (against keras.constraints itself), names, serialization, and
the projection fit applies after each optimizer step (against Keras' own training step)."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import constraints, layers as L
from tinygrad_relu.models import Sequential, load_model

rng = np.random.default_rng(0)

CASES = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 0.7, "axis": 1}), ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": [0, 1]}),
    ("MinMaxNorm", {}), ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.8, "rate": 0.3, "axis": -1}),
]


@pytest.mark.parametrize("name,config", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_each_constraint_computes_what_keras_computes(keras, name, config):
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(getattr(keras.constraints, name)(**config)(w))
    got = getattr(constraints, name)(**config)(tr.Tensor(w))
    assert isinstance(got, tr.Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(got.data, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(getattr(constraints, name)(**config)(w).data, expected, rtol=1e-6, atol=1e-7)


def test_a_keras_script_finds_keras_constraints_in_a_fresh_interpreter():
    import subprocess
    import sys
    script = ("import tinygrad_relu as keras; "
              "print(type(keras.constraints.max_norm(3)).__name__, keras.layers.Dense(2, kernel_constraint="
              "keras.constraints.NonNeg()).kernel_constraint.get_config())")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=__file__.rsplit("/tests/", 1)[0])
    assert run.stdout.strip() == "MaxNorm {}", run.stderr[-2000:]


def test_max_norm_by_hand():
    w = np.array([[3.0, 0.1], [4.0, 0.2]])  # column norms 5 and sqrt(0.05)
    out = constraints.MaxNorm(max_value=2.0)(w).data
    np.testing.assert_allclose(out[:, 0], np.array([3.0, 4.0]) * 2.0 / (5.0 + 1e-7))
    np.testing.assert_allclose(out[:, 1], w[:, 1] * np.sqrt(0.05) / (np.sqrt(0.05) + 1e-7))
    assert constraints.NonNeg()(np.array([-1.0, 0.0, 2.0])).data.tolist() == [0.0, 0.0, 2.0]


def test_names_aliases_get_and_serialize_round_trip(keras):
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm and constraints.min_max_norm is constraints.MinMaxNorm
    for name, cls in [("max_norm", constraints.MaxNorm), ("NonNeg", constraints.NonNeg),
                      ("unit_norm", constraints.UnitNorm), ("MinMaxNorm", constraints.MinMaxNorm)]:
        assert type(constraints.get(name)) is cls
    assert constraints.get(None) is None
    original = constraints.MinMaxNorm(min_value=0.2, max_value=0.9, rate=0.5, axis=[0, 1])
    copy = constraints.get(constraints.serialize(original))
    assert type(copy) is constraints.MinMaxNorm and copy.get_config() == original.get_config()
    # Keras' own serialized form (with its module and registered_name) loads here
    theirs = keras.constraints.serialize(keras.constraints.MaxNorm(max_value=3, axis=[0, 1, 2]))
    ours = constraints.get(theirs)
    assert type(ours) is constraints.MaxNorm and ours.get_config() == {"max_value": 3, "axis": [0, 1, 2]}

    def clip_to_one(w):
        return np.clip(w.data, -1, 1)
    assert constraints.get(clip_to_one) is clip_to_one


@pytest.mark.parametrize("bad,match", [
    (lambda: constraints.MaxNorm(max_value=-1), "max_value must be a finite number >= 0"),
    (lambda: constraints.MaxNorm(axis="0"), "axis must be an int or a list of ints"),
    (lambda: constraints.MinMaxNorm(min_value=2.0, max_value=1.0), "max_value must be >= min_value"),
    (lambda: constraints.MinMaxNorm(rate=float("nan")), "rate must be a finite number"),
    (lambda: constraints.get("max_nrom"), "Unknown constraint 'max_nrom'. Known constraints: .*max_norm"),
    (lambda: constraints.get(3), "cannot interpret 3"),
    (lambda: constraints.MaxNorm(axis=2)(np.ones((3, 4))), r"axis=2 is out of range for a weight of shape \(3, 4\)"),
    (lambda: constraints.serialize(lambda w: w), "cannot be saved"),
    (lambda: L.Dense(3, kernel_constraint="nope"), "Unknown constraint 'nope'"),
])
def test_bad_constraints_are_named(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()


def test_fit_applies_the_constraints_after_each_update():
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = (x @ rng.standard_normal((6, 1))).astype(np.float32) * 5
    model = Sequential([tr.Input((6,)), L.Dense(8, kernel_constraint=constraints.MaxNorm(0.5),
                                                bias_constraint="non_neg", activation="relu"),
                        L.Dense(1, kernel_constraint=constraints.UnitNorm())])
    model.compile(tr.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    kernel, bias, out_kernel, _ = model.get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-6
    assert bias.min() >= 0.0
    np.testing.assert_allclose(np.linalg.norm(out_kernel, axis=0), 1.0, rtol=1e-5)


def test_one_training_step_with_constraints_matches_keras(keras):
    def build(lib):
        return lib.Sequential([lib.Input((5,)),
                               lib.layers.Dense(4, kernel_constraint=lib.constraints.MaxNorm(0.4),
                                                bias_constraint=lib.constraints.NonNeg(), activation="relu"),
                               lib.layers.Dense(2, kernel_constraint=lib.constraints.MinMaxNorm(0.3, 0.6, rate=0.5))])
    theirs, ours = build(keras), build(tr)
    weights = [w + 0.3 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    for model, lib in ((theirs, keras), (ours, tr)):
        model.compile(lib.optimizers.SGD(0.5), "mse")
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    theirs.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for got, expected in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, keras.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-6)


def test_frozen_weights_are_not_projected():
    layer = L.Dense(3, kernel_constraint=constraints.NonNeg())
    model = Sequential([tr.Input((2,)), layer, L.Dense(1)])
    model.compile("sgd", "mse")
    kernel = -np.ones((2, 3), np.float32)
    layer.set_weights([kernel, np.zeros(3, np.float32)])
    layer.trainable = False
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32))
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)


@pytest.mark.parametrize("make,attr", [
    (lambda: L.Conv2D(4, 3, kernel_constraint=constraints.MaxNorm(1.0, axis=[0, 1, 2]), bias_constraint="non_neg"),
     ("kernel_constraint", "bias_constraint")),
    (lambda: L.BatchNormalization(beta_constraint="non_neg", gamma_constraint=constraints.MaxNorm(2)),
     ("beta_constraint", "gamma_constraint")),
    (lambda: L.PReLU(alpha_constraint="non_neg"), ("alpha_constraint",)),
])
def test_layer_constraints_are_kept_in_the_config_and_saved(tmp_path, make, attr):
    layer = make()
    config = layer.get_config()
    for name in attr:
        assert config[name]["class_name"] == type(getattr(layer, name)).__name__
    clone = type(layer).from_config(config)
    assert [type(getattr(clone, name)) for name in attr] == [type(getattr(layer, name)) for name in attr]
    model = Sequential([tr.Input((6, 6, 2)), layer])
    model.compile("sgd", "mse")
    path = tmp_path / "constrained.keras"
    model.save(path)
    loaded = load_model(path)
    assert [type(getattr(loaded.layers[0], name)) for name in attr] == [type(getattr(layer, name)) for name in attr]


def test_a_registered_constraint_function_is_saved_by_name(tmp_path):
    @tr.saving.register_keras_serializable(package="test_constraints")
    def clip_weights(w):
        return np.clip(np.asarray(w.data if isinstance(w, tr.Tensor) else w), -0.1, 0.1)

    model = Sequential([tr.Input((3,)), L.Dense(2, kernel_constraint=clip_weights)])
    model.compile(tr.optimizers.SGD(1.0), "mse")
    model.train_on_batch(np.ones((2, 3), np.float32) * 10, np.zeros((2, 2), np.float32) + 100)
    assert np.abs(model.get_weights()[0]).max() <= 0.1
    model.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").layers[0].kernel_constraint is clip_weights
