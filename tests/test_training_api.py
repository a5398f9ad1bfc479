"""fit / evaluate / *_on_batch in depth (issue 11): exact metrics for any batch size and label shape, sample and
class weights, weighted_metrics, checked against the whole-set values, hand-computed values and Keras 3."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import callbacks, layers as L, losses, optimizers
from tinygrad_relu.models import Sequential

BATCH_SIZES = (1, 7, 32, 64, 101)
N = 101  # a last partial batch at every batch size but N


def binary_model(dtype="float32"):
    model = Sequential([L.Input((4,)), L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy", "binary_accuracy", "mse", "mae",
                                                         tr.metrics.AUC(name="auc")])
    return model


def binary_data(seed=0, label_shape="1d"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=N) > 0).astype("float32")
    return x, (y if label_shape == "1d" else y[:, None])


def whole_set_values(p, y):
    p, y = p[:, 0].astype(np.float64), np.asarray(y, np.float64).reshape(-1)
    return {"accuracy": np.mean((p > 0.5) == y), "binary_accuracy": np.mean((p > 0.5) == y),
            "mse": np.mean((p - y) ** 2), "mae": np.mean(np.abs(p - y))}


@pytest.mark.parametrize("label_shape", ["1d", "column"])
def test_evaluate_metrics_are_the_whole_set_values_at_every_batch_size(label_shape):
    x, y = binary_data(label_shape=label_shape)
    model = binary_model()
    expected = whole_set_values(model.predict(x, verbose=0), y)
    aucs = []
    for batch_size in BATCH_SIZES:
        logs = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        for key, value in expected.items():
            assert logs[key] == pytest.approx(value, rel=1e-6), (key, batch_size)
        aucs.append(logs["auc"])
    assert max(aucs) - min(aucs) < 1e-12


def test_validation_metrics_seen_by_early_stopping_are_exact():
    """val_* (what EarlyStopping and ModelCheckpoint read) is the validation set's value, whatever the batch."""
    x, y = binary_data()
    x_val, y_val = binary_data(seed=1)
    for batch_size in (7, 64):
        model = binary_model()
        seen = []
        stop = callbacks.EarlyStopping(monitor="val_binary_accuracy", patience=5)
        record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
        model.fit(x, y, batch_size=batch_size, epochs=2, verbose=0, validation_data=(x_val, y_val),
                  callbacks=[stop, record])
        expected = whole_set_values(model.predict(x_val, verbose=0), y_val)
        for key in ("binary_accuracy", "mse", "mae"):
            assert seen[-1]["val_" + key] == pytest.approx(expected[key], rel=1e-6)
        assert stop.best == max(logs["val_binary_accuracy"] for logs in seen)


def test_the_epoch_loss_and_metrics_weigh_each_batch_by_its_size():
    x, y = binary_data()
    model = Sequential([L.Input((4,)), L.Dense(1)])
    model.compile(tr.optimizers.SGD(0.0), "mse", metrics=["mae"])  # lr 0: the weights never move
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    p = model.predict(x, verbose=0)[:, 0]
    assert history.history["loss"][0] == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    assert history.history["mae"][0] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-5)


# ---- sample weights, hand-computed -------------------------------------------------------------------------
def test_a_weighted_loss_is_the_weighted_sum_over_the_batch_size():
    """Keras 3's rule: sum_i w_i loss_i / n per batch (not divided by the sum of the weights)."""
    model = Sequential([L.Input((2,)), L.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    x = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]], np.float32)
    y = np.array([1.0, 0.0, 2.0], np.float32)
    w = np.array([2.0, 0.0, 0.5], np.float32)
    p = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    loss, mae, weighted_mae = model.test_on_batch(x, y, sample_weight=w)
    assert loss == pytest.approx(np.sum(w * (p - y) ** 2) / 3, rel=1e-6)
    assert mae == pytest.approx(np.mean(np.abs(p - y)), rel=1e-6)  # metrics= never see the weights
    assert weighted_mae == pytest.approx(np.sum(w * np.abs(p - y)) / np.sum(w), rel=1e-6)
    assert model.metrics_names == ["loss", "mae", "weighted_mae"]


def test_class_weights_become_sample_weights_for_sparse_one_hot_and_binary_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).astype("float32")
    labels = rng.integers(0, 3, 12)
    class_weight = {0: 0.5, 1: 2.0}  # class 2 is missing: weight 1
    expected_w = np.array([class_weight.get(c, 1.0) for c in labels])
    for loss, y in (("sparse_categorical_crossentropy", labels), ("categorical_crossentropy", np.eye(3)[labels])):
        model = Sequential([L.Input((3,)), L.Dense(3, activation="softmax")])
        twin = Sequential([L.Input((3,)), L.Dense(3, activation="softmax")])
        twin.set_weights(model.get_weights())
        model.compile(tr.optimizers.SGD(0.1), loss)
        twin.compile(tr.optimizers.SGD(0.1), loss)
        weighted = model.evaluate(x, y, sample_weight=expected_w, verbose=0, batch_size=12)
        before = model.get_weights()
        first = model.train_on_batch(x, y, class_weight=class_weight)  # the loss before the step
        second = twin.train_on_batch(x, y, sample_weight=expected_w)
        assert first == pytest.approx(second) and first == pytest.approx(weighted, rel=1e-6)
        for a, b in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(before[0], model.get_weights()[0])
    binary = (labels == 1).astype("float32")[:, None]
    model = Sequential([L.Input((3,)), L.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy")
    a = model.evaluate(x, binary, sample_weight=np.where(binary[:, 0] == 1, 2.0, 0.5), verbose=0)
    assert model.test_on_batch(x, binary, sample_weight=np.where(binary[:, 0] == 1, 2.0, 0.5)) == pytest.approx(a)


@pytest.mark.parametrize("call,match", [
    (lambda m, x, y: m.fit(x, y, sample_weight=np.ones(len(y)), class_weight={0: 1.0}, verbose=0),
     "class_weight and sample_weight"),
    (lambda m, x, y: m.fit(x, y, sample_weight=np.ones(len(y) - 1), verbose=0),
     r"sample_weight must hold one weight per sample: expected 10 rows, received an array of shape \(9,\)"),
    (lambda m, x, y: m.fit(x, y, class_weight=[1.0, 2.0], verbose=0), "class_weight must be a dict"),
    (lambda m, x, y: m.evaluate(x, y, verbose=0, sample_weights=np.ones(10)), "arguments not recognized"),
    (lambda m, x, y: m.compile("sgd", "mse", weighted_metrics="mae"), "weighted_metrics"),
    (lambda m, x, y: m.train_on_batch(x, y, sample_weight=np.ones(len(y)), class_weight={0: 2.0}),
     "class_weight and sample_weight"),
])
def test_weight_mistakes_are_refused_with_their_names(call, match):
    model = Sequential([L.Input((3,)), L.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=match):
        call(model, np.zeros((10, 3), np.float32), np.zeros(10, np.float32))


def test_steps_per_execution_is_refused_rather_than_ignored():
    model = Sequential([L.Input((3,)), L.Dense(1)])
    with pytest.raises(NotImplementedError, match="steps_per_execution"):
        model.compile("sgd", "mse", steps_per_execution=4)


def test_class_weight_needs_a_single_output():
    inputs = tr.Input((3,))
    model = tr.Model(inputs, [L.Dense(2, activation="softmax", name="a")(inputs), L.Dense(1, name="b")(inputs)])
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        model.fit(np.zeros((4, 3)), [np.zeros(4), np.zeros(4)], class_weight={0: 1.0}, verbose=0)


# ---- against Keras 3 ----------------------------------------------------------------------------------------
def _twin_models(keras, units, activation, hidden=4, features=5):
    theirs = keras.Sequential([keras.Input((features,)), keras.layers.Dense(hidden, activation="relu"),
                               keras.layers.Dense(units, activation=activation)])
    ours = Sequential([L.Input((features,)), L.Dense(hidden, activation="relu"), L.Dense(units, activation=activation)])
    ours.set_weights([w.astype("float32") for w in theirs.get_weights()])
    return ours, theirs


def _compare_histories(ours, theirs, tolerance=2e-5):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=tolerance, atol=tolerance, err_msg=key)


FIT_CASES = {
    "sample_weight+weighted_metrics+validation_weights": dict(
        units=3, activation="softmax", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        weighted_metrics=["accuracy"], labels="sparse", fit=dict(sample_weight="w", epochs=3, batch_size=16,
                                                                 validation_data="xyw")),
    "class_weight+validation_split": dict(
        units=3, activation="softmax", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        weighted_metrics=None, labels="sparse", fit=dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5}, epochs=3,
                                                         batch_size=16, validation_split=0.2)),
    "class_weight on one-hot labels, two weighted metrics": dict(
        units=3, activation="softmax", loss="categorical_crossentropy", metrics=["accuracy"],
        weighted_metrics=["accuracy", "mse"], labels="onehot", fit=dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5},
                                                                        epochs=2, batch_size=9)),
    "binary (n, 1) labels, class_weight": dict(
        units=1, activation="sigmoid", loss="binary_crossentropy", metrics=["accuracy", "auc"],
        weighted_metrics=None, labels="binary", fit=dict(class_weight={0: 0.3, 1: 2.0}, epochs=2, batch_size=32)),
    "regression, 1-D labels, sample_weight": dict(
        units=1, activation=None, loss="mse", metrics=["mae"], weighted_metrics=["mse"], labels="regression",
        fit=dict(sample_weight="w", epochs=2, batch_size=7)),
}


@pytest.mark.parametrize("case", FIT_CASES, ids=list(FIT_CASES))
def test_weighted_training_matches_keras(keras, case):
    spec = FIT_CASES[case]
    rng = np.random.default_rng(1)
    n = 70
    x = rng.normal(size=(n, 5)).astype("float32")
    labels = rng.integers(0, 3, n)
    y = {"sparse": labels, "onehot": np.eye(3, dtype="float32")[labels],
         "binary": (labels == 1).astype("float32")[:, None], "regression": x[:, 0] - x[:, 1]}[spec["labels"]]
    w = rng.random(n).astype("float32")
    fit = dict(spec["fit"])
    if fit.get("sample_weight") == "w":
        fit["sample_weight"] = w
    if fit.get("validation_data") == "xyw":
        fit["validation_data"] = (x[:20], y[:20], w[:20])
    ours, theirs = _twin_models(keras, spec["units"], spec["activation"])
    ours.compile(optimizers.SGD(0.1), spec["loss"], metrics=spec["metrics"], weighted_metrics=spec["weighted_metrics"])
    theirs.compile(keras.optimizers.SGD(0.1), spec["loss"], metrics=spec["metrics"],
                   weighted_metrics=spec["weighted_metrics"])
    ours_history = ours.fit(x, y, shuffle=False, verbose=0, **fit).history
    theirs_history = theirs.fit(x, y, shuffle=False, verbose=0, **fit).history
    _compare_histories(ours_history, theirs_history)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)
    ours_eval = ours.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    theirs_eval = theirs.evaluate(x, y, sample_weight=w, batch_size=16, verbose=0, return_dict=True)
    assert ours_eval == pytest.approx({k: float(v) for k, v in theirs_eval.items()}, rel=2e-5, abs=2e-6)


def test_train_and_test_on_batch_with_weights_match_keras(keras):
    rng = np.random.default_rng(2)
    x, labels, w = rng.normal(size=(16, 5)).astype("float32"), rng.integers(0, 3, 16), rng.random(16)
    ours, theirs = _twin_models(keras, 3, "softmax")
    for model, module in ((ours, tr), (theirs, keras)):
        model.compile(module.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"],
                      weighted_metrics=["accuracy"])
    # (as dicts: Keras' list form repeats 'accuracy' for the weighted one, a quirk of its ordering)
    for kwargs in ({"sample_weight": w}, {"class_weight": {0: 2.0, 2: 0.25}}, {}):
        mine = ours.train_on_batch(x, labels, return_dict=True, **kwargs)
        assert mine == pytest.approx({k: float(v) for k, v in theirs.train_on_batch(
            x, labels, return_dict=True, **kwargs).items()}, rel=2e-5)
    mine = ours.test_on_batch(x, labels, sample_weight=w, return_dict=True)
    assert mine == pytest.approx({k: float(v) for k, v in theirs.test_on_batch(
        x, labels, sample_weight=w, return_dict=True).items()}, rel=2e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-6)


def test_multi_output_sample_weights_match_keras(keras):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 4)).astype("float32")
    y_a, y_b = rng.integers(0, 2, 40), rng.normal(size=(40, 1)).astype("float32")
    w_a, w_b = rng.random(40).astype("float32"), rng.random(40).astype("float32")

    def build(module):
        inputs = module.Input((4,))
        hidden = module.layers.Dense(6, activation="relu", name="hidden")(inputs)
        return module.Model(inputs, [module.layers.Dense(2, activation="softmax", name="a")(hidden),
                                     module.layers.Dense(1, name="b")(hidden)])
    ours, theirs = build(tr), build(keras)
    ours.set_weights(theirs.get_weights())
    for model, module in ((ours, tr), (theirs, keras)):
        model.compile(module.optimizers.SGD(0.05), ["sparse_categorical_crossentropy", "mse"],
                      metrics=[["accuracy"], ["mae"]], weighted_metrics=[["accuracy"], ["mae"]])
    for weights in ([w_a, w_b], w_a):  # (Keras 3.15 fails on dicts of targets and weights for a list of outputs)
        ours_history = ours.fit(x, [y_a, y_b], sample_weight=weights, batch_size=16, epochs=1, shuffle=False,
                                verbose=0).history
        theirs_history = theirs.fit(x, [y_a, y_b], sample_weight=weights, batch_size=16, epochs=1, shuffle=False,
                                    verbose=0).history
        _compare_histories(ours_history, theirs_history)
    by_name = ours.evaluate(x, {"a": y_a, "b": y_b}, sample_weight={"a": w_a, "b": w_b}, verbose=0)
    assert by_name == ours.evaluate(x, [y_a, y_b], sample_weight=[w_a, w_b], verbose=0)


def test_metrics_with_1d_labels_match_keras_at_every_batch_size(keras):
    """The issue's numbers: binary accuracy and regression mse with labels of shape (n,) and one output unit."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(N, 5)).astype("float32")
    y_binary = (x[:, 0] > 0).astype("float32")
    y_regression = (3 * x[:, 1] + rng.normal(size=N)).astype("float32")
    for activation, loss, y, names in ((None, "mse", y_regression, ["mse", "mae"]),
                                       ("sigmoid", "binary_crossentropy", y_binary, ["accuracy", "binary_accuracy"])):
        ours, theirs = _twin_models(keras, 1, activation)
        ours.compile("sgd", loss, metrics=names)
        theirs.compile("sgd", loss, metrics=names)
        for batch_size in BATCH_SIZES:
            assert ours.evaluate(x, y, batch_size=batch_size, verbose=0) == pytest.approx(
                theirs.evaluate(x, y, batch_size=batch_size, verbose=0), rel=2e-5)


def test_a_model_trained_only_by_add_loss_needs_no_targets(keras):
    """The guide's LogisticEndpoint: compile() without a loss, fit(x) without y."""
    class Endpoint(L.Layer):
        def call(self, targets, logits):
            self.add_loss(losses.BinaryCrossentropy(from_logits=True)(targets, logits))
            return tr.ops.softmax(logits)

    inputs, targets = tr.Input((3,), name="inputs"), tr.Input((2,), name="targets")
    model = tr.Model([inputs, targets], Endpoint()(targets, L.Dense(2)(inputs)))
    model.compile("adam")
    data = {"inputs": np.random.random((8, 3)), "targets": np.random.randint(0, 2, (8, 2)).astype("float32")}
    history = model.fit(data, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.compile("adam", loss="mse")
    with pytest.raises(ValueError, match=r"fit: y \(the targets\) is required: compile\(\) was given a loss"):
        model.fit(data, verbose=0)


def test_saved_models_keep_their_metrics_and_weighted_metrics(tmp_path):
    x, y = binary_data()
    w = np.linspace(0.1, 2.0, N)
    model = binary_model()
    model.compile("adam", "binary_crossentropy", metrics=[tr.metrics.AUC(curve="PR"), tr.metrics.Precision(
        thresholds=[0.3, 0.6]), "accuracy"], weighted_metrics=["accuracy", tr.metrics.Recall()])
    model.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tr.models.load_model(tmp_path / "m.keras")
    before = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    after = loaded.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert sorted(after) == ["accuracy", "auc", "loss", "precision", "recall", "weighted_accuracy"]
    for key, value in before.items():
        np.testing.assert_allclose(after[key], value, rtol=1e-6, err_msg=key)
