"""Sequential: building, summary, Keras-layout weights, fit/evaluate/predict, progress output, callbacks."""
import re

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import callbacks, layers as L, utils
from tinygrad_relu.models import Sequential


SEED = 42  # conftest.py seeds every test with it


def blobs(n=600, features=8, classes=3, seed=0):
    """Gaussian clusters: a learnable classification set."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, features))
    labels = rng.integers(0, classes, size=n)
    x = centers[labels] + rng.normal(size=(n, features))
    return x.astype(np.float32), labels


def mlp(features=8, classes=3, **kwargs):
    return Sequential([L.Dense(16, activation="relu", input_shape=(features,)),
                       L.Dense(classes, activation="softmax")], **kwargs)


def seed_cnn():
    return Sequential([L.Input(shape=(28, 28, 1)),
                       L.Conv2D(32, (3, 3), activation="relu"),
                       L.MaxPooling2D((2, 2)),
                       L.Conv2D(64, (3, 3), activation="relu"),
                       L.MaxPooling2D((2, 2)),
                       L.Flatten(),
                       L.Dropout(0.5),
                       L.Dense(10, activation="softmax")])


# ---- building and summary -------------------------------------------------------------------
def test_summary_of_the_keras_mnist_convnet(capsys):
    model = seed_cnn()
    assert model.built
    assert [l.count_params() for l in model.layers] == [320, 0, 18496, 0, 0, 0, 16010]
    assert model.count_params() == 34826
    model.summary(line_length=88)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert lines[1].startswith("┏") and lines[1].endswith("┓") and len(lines[1]) == 88
    assert re.match(r"┃ Layer \(type\) +┃ Output Shape +┃ +Param # ┃", lines[2])
    assert re.search(r"│ conv2d \(Conv2D\) +│ \(None, 26, 26, 32\) +│ +320 │", out)
    assert re.search(r"│ max_pooling2d_1 \(MaxPooling2D\) +│ \(None, 5, 5, 64\) +│ +0 │", out)
    assert re.search(r"│ flatten \(Flatten\) +│ \(None, 1600\) +│ +0 │", out)
    assert re.search(r"│ dense \(Dense\) +│ \(None, 10\) +│ +16,010 │", out)
    assert " Total params: 34,826 (136.04 KB)" in lines
    assert " Trainable params: 34,826 (136.04 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


def test_summary_counts_non_trainable_batchnorm_statistics(capsys):
    model = Sequential([L.Dense(4, input_shape=(3,)), L.BatchNormalization()])
    model.summary()
    out = capsys.readouterr().out
    # dense 3*4+4 = 16; batch norm: gamma, beta trainable (8), moving mean/variance not (8)
    assert " Total params: 32 (128.00 B)" in out
    assert " Trainable params: 24 (96.00 B)" in out
    assert " Non-trainable params: 8 (32.00 B)" in out


def test_summary_wraps_long_names_and_counts_optimizer_variables_in_the_total(capsys):
    # Keras 3 prints, for this model after one epoch of SGD with momentum:
    # Total params: 66 (264.00 B) ... Optimizer params: 31 (124.00 B)
    model = Sequential([L.Dense(3, input_shape=(4,)), L.BatchNormalization(), L.Dense(2)])
    model.compile(optimizer=tr.optimizers.SGD(momentum=0.9), loss="mse")
    model.fit(np.random.rand(8, 4), np.random.rand(8, 2), verbose=0)
    model.summary()
    out = capsys.readouterr().out
    assert re.search(r"│ batch_normalization +│ \(None, 3\) +│ +12 │\n│ \(BatchNormalization\) +│ +│ +│", out)
    assert " Total params: 66 (264.00 B)" in out
    assert " Trainable params: 29 (116.00 B)" in out
    assert " Non-trainable params: 6 (24.00 B)" in out
    assert " Optimizer params: 31 (124.00 B)" in out


def test_unbuilt_model_summary_and_lazy_build():
    model = Sequential([L.Dense(4), L.Dense(2)])
    assert not model.built
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "0 (unbuilt)" in text and "?" in text
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    y = model(np.zeros((5, 3), np.float32))
    assert y.shape == (5, 2) and model.built and model.count_params() == 3 * 4 + 4 + 4 * 2 + 2


def test_build_with_none_batch_and_input_first():
    model = Sequential([L.Dense(4), L.Dense(2)])
    model.build((None, 7))
    assert model.output_shape == (None, 2)
    assert model.layers[0].get_weights()[0].shape == (7, 4)
    model2 = Sequential()
    model2.add(L.Input(shape=(5,)))
    model2.add(L.Dense(3))
    assert model2.built and model2.layers[0].kernel.shape == (5, 3) and len(model2.layers) == 1


def test_duplicate_layer_names_rejected():
    with pytest.raises(ValueError, match="unique names"):
        Sequential([L.Dense(2, name="a"), L.Dense(2, name="a")])


def test_get_layer_and_weights_round_trip():
    model = mlp()
    assert model.get_layer("dense_1") is model.layers[1]
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(8, 16), (16,), (16, 3), (3,)]
    model.set_weights([w + 1 for w in weights])
    np.testing.assert_allclose(model.get_weights()[2], weights[2] + 1)
    with pytest.raises(ValueError, match=r"expected a list of 4 arrays.*received 3"):
        model.set_weights(weights[:3])
    bad = list(weights)
    bad[2] = np.zeros((3, 16))
    with pytest.raises(ValueError, match=r"'dense_1'.*\(16, 3\).*\(3, 16\)"):
        model.set_weights(bad)
    np.testing.assert_allclose(model.get_weights()[0], weights[0] + 1)  # nothing changed on error


# ---- Keras layout: weights from an equivalent PyTorch model --------------------------------------
def test_keras_layout_weights_predict_like_the_pytorch_twin():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(6 * 4 * 4, 5), torch.nn.Softmax(dim=-1))
    model = Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(10, 10, 2)), L.MaxPooling2D(),
                        L.Conv2D(6, 3, padding="same", activation="relu"), L.Flatten(),
                        L.Dense(5, activation="softmax")])
    c1, c2, fc = net[0], net[3], net[6]
    # Keras flattens (H, W, C); PyTorch flattens (C, H, W): reorder the dense kernel's rows
    fc_w = fc.weight.detach().numpy().reshape(5, 6, 4, 4).transpose(2, 3, 1, 0).reshape(-1, 5)
    keras_weights = [c1.weight.detach().numpy().transpose(2, 3, 1, 0), c1.bias.detach().numpy(),
                     c2.weight.detach().numpy().transpose(2, 3, 1, 0), c2.bias.detach().numpy(),
                     fc_w, fc.bias.detach().numpy()]
    model.set_weights(keras_weights)
    x = np.random.default_rng(1).normal(size=(7, 10, 10, 2)).astype(np.float32)
    expected = net(torch.tensor(x).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-4)
    for ours, theirs in zip(model.get_weights(), keras_weights):
        np.testing.assert_array_equal(ours, theirs)


# ---- training ----------------------------------------------------------------------------------
def test_fit_learns_and_history_has_keras_keys():
    x, labels = blobs()
    y = utils.to_categorical(labels, 3)
    model = mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.2, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == list(range(8)) and model.history is history
    assert all(len(v) == 8 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.9 and np.isfinite(loss)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"accuracy", "loss"}
    probabilities = model.predict(x[:10], verbose=0)
    assert probabilities.shape == (10, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_sparse_labels_sgd_and_validation_data():
    x, labels = blobs(seed=1)
    model = mlp()
    model.compile(optimizer=tr.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:500], labels[:500], epochs=5, validation_data=(x[500:], labels[500:]), verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9
    assert model.evaluate(x, labels, verbose=0)[1] > 0.9


def test_cnn_with_batchnorm_and_dropout_trains():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(128, 8, 8, 1)).astype(np.float32) * 0.3
    labels = rng.integers(0, 2, size=128)
    x[labels == 1, 2:6, 2:6, 0] += 1.5  # class 1 has a bright square
    model = Sequential([L.Conv2D(4, 3, padding="same", input_shape=(8, 8, 1)),
                        L.BatchNormalization(momentum=0.8),  # short run: let the moving statistics catch up
                        L.ReLU(), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.2),
                        L.Dense(1, activation="sigmoid")])
    model.compile(tr.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    before = model.layers[1].get_weights()[2].copy()
    model.fit(x, labels.astype(np.float32), epochs=6, batch_size=16, verbose=0)
    assert not np.allclose(model.layers[1].get_weights()[2], before)  # moving mean moved
    assert model.evaluate(x, labels.astype(np.float32), verbose=0)[1] > 0.9


def test_softmax_output_with_crossentropy_is_computed_from_logits():
    model = Sequential([L.Dense(2, activation="softmax", input_shape=(1,), use_bias=False)])
    model.compile("sgd", "categorical_crossentropy")
    model.set_weights([np.array([[200.0, -200.0]])])  # softmax saturates to exactly (1, 0)
    x = np.ones((4, 1), np.float32)
    y = np.tile([0.0, 1.0], (4, 1))  # the confident prediction is wrong
    loss = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(400.0, rel=1e-4)  # log-softmax: finite and exact, not clipped to 16.1
    model.train_on_batch(x, y)
    assert np.all(np.isfinite(model.get_weights()[0]))


def test_frozen_layer_is_not_updated():
    x, labels = blobs(n=64)
    model = mlp()
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2


def test_same_seed_same_training():
    x, labels = blobs(n=128)
    results = []
    for _ in range(2):
        L.reset_uids()
        utils.set_random_seed(7)
        model = Sequential([L.Dense(8, activation="relu", input_shape=(8,)), L.Dropout(0.3), L.Dense(3)])
        model.compile("adam", tr.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_on_batch_methods():
    x, labels = blobs(n=32)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, labels)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert set(model.test_on_batch(x, labels, return_dict=True)) == {"accuracy", "loss"}
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x, verbose=0), rtol=1e-6)


def test_inputs_of_any_numeric_kind_are_converted_once(monkeypatch):
    x, labels = blobs(n=64)
    model = mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")
    reference = model.evaluate(x, labels, verbose=0)
    x64_strided = np.asfortranarray(x.astype(np.float64))
    assert model.evaluate(x64_strided, labels, verbose=0) == pytest.approx(reference, rel=1e-6)
    assert model.evaluate(x.tolist(), labels.tolist(), verbose=0) == pytest.approx(reference, rel=1e-6)
    # one conversion per call, however many batches
    from tinygrad_relu.models import sequential
    calls = []
    original = sequential.as_float_array
    monkeypatch.setattr(sequential, "as_float_array", lambda *a: calls.append(1) or original(*a))
    model.fit(x64_strided, labels, batch_size=8, epochs=2, verbose=0)
    assert len(calls) == 1
    ints = np.random.default_rng(0).integers(0, 3, size=(64, 8))
    model.fit(ints, labels, verbose=0)


# ---- bad input -----------------------------------------------------------------------------------
def test_fit_bad_input_messages():
    x, labels = blobs(n=40)
    model = mlp()
    with pytest.raises(ValueError, match=r"compile\(\)"):
        model.fit(x, labels)
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"x with 40 samples.*y with 39 samples"):
        model.fit(x, labels[:39], verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], labels[:0], verbose=0)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            model.fit(x, labels, batch_size=bad, verbose=0)
        with pytest.raises(ValueError, match="epochs"):
            model.fit(x, labels, epochs=bad, verbose=0)
    with pytest.raises(ValueError) as err:
        model.predict(np.zeros((20, 12), np.float32))
    assert str(err.value) == ("Input 0 of layer 'dense' is incompatible with the layer: expected axis -1 of input "
                              "shape to have value 8, but received input with shape (20, 12)")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.compile("adam", "categorical_crossentropy")
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile("adam", "mse", metrics=["acuracy"])


def test_wrong_rank_for_conv_model():
    model = Sequential([L.Conv2D(2, 3, input_shape=(8, 8, 1)), L.Flatten(), L.Dense(1)])
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        model.fit(np.zeros((4, 8, 8), np.float32), np.zeros(4), verbose=0)


# ---- progress output -------------------------------------------------------------------------------
BAR_LINE = re.compile(r"^(\d+)/(\d+) ━{20} \d+s \d+(us|ms|s)/step(?: - [a-z_]+: \d+\.\d{4}(?:e[-+]\d+)?)*$")


def test_verbose_1_prints_keras3_epoch_lines(capsys):
    x, labels = blobs(n=100)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=3, batch_size=32, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6  # not a TTY: one line per epoch
    for line in lines[1::2]:
        assert BAR_LINE.match(line), line
        assert line.startswith("3/3 ")
        assert re.search(r" - accuracy: [\d.]+ - loss: [\d.]+ - val_accuracy: [\d.]+ - val_loss: [\d.]+$", line)
    model.evaluate(x, labels)
    line = capsys.readouterr().out.strip()
    assert BAR_LINE.match(line) and line.startswith("4/4 ")
    model.predict(x)
    assert BAR_LINE.match(capsys.readouterr().out.strip())


def test_single_epoch_prints_no_epoch_header_and_verbose_2_and_0(capsys):
    x, labels = blobs(n=64)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, labels, epochs=1, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("2/2 ━")
    model.fit(x, labels, epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2"
    assert re.match(r"^2/2 - \d+s - \d+(us|ms|s)/step - loss: \d+\.\d{4}$", out[1])
    model.fit(x, labels, epochs=2, verbose=0)
    model.evaluate(x, labels, verbose=0)
    assert capsys.readouterr().out == ""


def test_tty_progress_is_redrawn_in_place(monkeypatch, capsys):
    import sys
    x, labels = blobs(n=64)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    model.fit(x, labels, epochs=1, batch_size=8)
    out = capsys.readouterr().out
    assert out.startswith("\r") and out.endswith("\n") and out.count("\n") == 1
    assert "8/8" in out and "\x1b[32m" in out


# ---- callbacks ---------------------------------------------------------------------------------------
class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def __getattribute__(self, name):
        if name.startswith("on_") and not name.startswith("on_batch"):
            events = object.__getattribute__(self, "events")

            def record(*args):  # Keras passes logs positionally, last
                events.append((name,) + args[:-1])
            return record
        return object.__getattribute__(self, name)


def test_lambda_callback_with_positional_logs_as_keras_writes_it():
    x, labels = blobs(n=40)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    seen = []
    model.fit(x, labels, epochs=2, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, l: seen.append((e, sorted(l))))])
    assert seen == [(0, ["loss"]), (1, ["loss"])]


def test_callback_hooks_fire_in_keras_order():
    x, labels = blobs(n=40)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = Recorder()
    model.fit(x[:32], labels[:32], batch_size=16, epochs=2, verbose=0, callbacks=[recorder],
              validation_data=(x[32:], labels[32:]))
    epoch = lambda e: [("on_epoch_begin", e),
                       ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
                       ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
                       ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_end",),
                       ("on_epoch_end", e)]
    assert recorder.events == [("on_train_begin",)] + epoch(0) + epoch(1) + [("on_train_end",)]
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    recorder.events.clear()
    model.predict(x, batch_size=40, verbose=0, callbacks=[recorder])
    assert recorder.events == [("on_predict_begin",), ("on_predict_batch_begin", 0),
                               ("on_predict_batch_end", 0), ("on_predict_end",)]


def test_early_stopping_stops_training():
    x, labels = blobs(n=64)
    model = mlp()
    model.compile("sgd", "sparse_categorical_crossentropy")

    class StopAfterTwo(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, labels, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
    assert history.epoch == [0, 1]


def test_keras_top_level_names_resolve():
    import tinygrad_relu as keras  # a Keras 3 script with only its import changed
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2, activation="relu")])
    assert model.predict(np.ones((3, 4), np.float32), verbose=0).shape == (3, 2)
    assert keras.load_model is tr.models.load_model
    # Keras >= 3.9 writes optional=False into InputLayer configs
    config = model.get_config()
    config["layers"][0]["config"]["optional"] = False
    assert Sequential.from_config(config).layers[0].units == 2
