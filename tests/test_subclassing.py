"""Model subclasses trained with fit, custom losses and metrics, and saving custom objects as Keras does:
register_keras_serializable, custom_object_scope, serialize/deserialize_keras_object, load_model(custom_objects),
clone_model; loading finds only registered or passed classes and never imports a module a file names."""
import json
import sys
import zipfile

import numpy as np
import pytest

import tinygrad_relu as keras  # a Keras 3 script with only its import changed
from tinygrad_relu import layers, ops, saving
from tinygrad_relu.models import Sequential, clone_model, load_model

rng = np.random.default_rng(0)


def blobs(n=120, features=6, classes=3):
    centers = rng.normal(scale=3.0, size=(classes, features))
    labels = rng.integers(0, classes, n)
    return (centers[labels] + rng.normal(size=(n, features))).astype(np.float32), labels


# ---- Model subclasses -------------------------------------------------------------------------------
class Classifier(keras.Model):
    def __init__(self, classes=3, hidden=16, **kwargs):
        super().__init__(**kwargs)
        self.classes, self.hidden = classes, hidden
        self.body = Sequential([layers.Dense(hidden, activation="relu"), layers.Dense(hidden, activation="relu")])
        self.dropout = layers.Dropout(0.5)
        self.head = layers.Dense(classes)

    def call(self, inputs, training=False):
        return self.head(self.dropout(self.body(inputs), training=training))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes, "hidden": self.hidden}


def test_a_subclassed_model_builds_on_its_first_call_and_trains_with_fit():
    x, y = blobs()
    model = Classifier()
    assert not model.built and model.weights == []
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert model.built and len(model.weights) == 6
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] < model.evaluate(x, y, verbose=0)[1]  # dropout on in fit, off here
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    np.testing.assert_array_equal(model.predict(x[:5], verbose=0), model.predict(x[:5], verbose=0))  # no dropout
    assert [layer.name for layer in model.layers][-2:] == ["dropout", "dense_2"]


def test_subclassed_model_summary_counts_its_nested_layers(capsys):
    model = Classifier(name="clf")
    model.build((None, 6))
    model.summary(line_length=88)
    out = capsys.readouterr().out
    assert 'Model: "clf"' in out and "│ sequential (Sequential)" in out
    assert " Total params: 435 (1.70 KB)" in out  # 6*16+16 + 16*16+16 + 16*3+3


def test_saving_a_registered_subclassed_model(tmp_path):
    @saving.register_keras_serializable(package="test_subclassing")
    class Registered(Classifier):
        pass

    x, y = blobs(n=40)
    model = Registered(hidden=8)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is Registered and loaded.hidden == 8
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, epochs=1, verbose=0)  # the optimizer state was restored: training continues


def test_an_unregistered_class_loads_only_when_passed(tmp_path):
    class Unregistered(Classifier):
        pass

    x, _ = blobs(n=10)
    model = Unregistered()
    model(x)
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(saving.ModelFileError, match="'Unregistered'.*custom_objects"):
        load_model(path)
    loaded = load_model(path, custom_objects={"Unregistered": Unregistered})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with saving.custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(load_model(path), Unregistered)


def test_clone_model_of_a_subclassed_model():
    model = Classifier(hidden=4)
    model.build((None, 6))
    twin = clone_model(model)
    assert type(twin) is Classifier and twin.hidden == 4 and twin.built
    assert [w.shape for w in twin.weights] == [w.shape for w in model.weights]


def functional_subclass(lib):
    """Keras' subclassed functional model: layers made in __init__, super().__init__(inputs, outputs), own methods."""
    class Encoder(lib.Model):
        def __init__(self, units=4, **kwargs):
            inputs = lib.Input((3,), name="features")
            hidden = lib.layers.Dense(units, activation="relu", name="hidden")
            outputs = lib.layers.Dense(2, name="head")(hidden(inputs))
            super().__init__(inputs, outputs, **kwargs)
            self.hidden, self.units = hidden, units

        def width(self):
            return self.units
    return Encoder


def test_a_subclass_passing_inputs_and_outputs_is_a_functional_model_with_its_own_methods(request, tmp_path):
    keras_module = request.getfixturevalue("keras")  # (this module names the package itself keras)
    ours, theirs = functional_subclass(keras)(name="encoder"), functional_subclass(keras_module)(name="encoder")
    assert isinstance(ours, keras.Model) and type(ours).__name__ == "Encoder" and ours.width() == 4
    assert ours.hidden is ours.layers[1] and [layer.name for layer in ours.layers] == ["features", "hidden", "head"]
    ours.set_weights([keras_module.ops.convert_to_numpy(w) for w in theirs.weights])
    x = rng.standard_normal((6, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_module.ops.convert_to_numpy(theirs(x)), rtol=1e-6)
    ours.compile("adam", "mse")
    ours.fit(x, x[:, :2], epochs=2, verbose=0)
    ours.save(tmp_path / "encoder.keras")  # revived as the functional graph it is
    loaded = load_model(tmp_path / "encoder.keras", custom_objects={"Encoder": type(ours)})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), ours.predict(x, verbose=0))


# ---- custom losses ----------------------------------------------------------------------------------
class MeanAbsolute(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def test_loss_subclass_reductions_name_and_config():
    y_true, y_pred = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 3.0]])
    per_sample = np.array([1.5, 2.0])
    loss = MeanAbsolute()
    assert loss.name == "mean_absolute" and loss.get_config() == {"name": "mean_absolute",
                                                                   "reduction": "sum_over_batch_size"}
    assert loss(y_true, y_pred).item() == pytest.approx(per_sample.mean())
    assert MeanAbsolute(reduction="sum")(y_true, y_pred).item() == pytest.approx(per_sample.sum())
    np.testing.assert_allclose(MeanAbsolute(reduction=None)(y_true, y_pred).data, per_sample)
    weighted = MeanAbsolute(reduction="mean_with_sample_weight")(y_true, y_pred, sample_weight=[3.0, 1.0])
    assert weighted.item() == pytest.approx((3 * 1.5 + 2.0) / 4)
    assert MeanAbsolute.from_config(loss.get_config()).reduction == "sum_over_batch_size"
    with pytest.raises(ValueError, match="reduction must be one of"):
        MeanAbsolute(reduction="average")


def test_custom_loss_values_and_gradients_match_keras(keras):
    import torch
    y_true = rng.standard_normal((4, 3)).astype(np.float32)
    y_pred = rng.standard_normal((4, 3)).astype(np.float32)

    class KerasHuberish(keras.losses.Loss):
        def call(self, t, p):
            e = keras.ops.abs(t - p)
            return keras.ops.mean(keras.ops.where(e < 1, 0.5 * keras.ops.square(e), e - 0.5), axis=-1)

    class Huberish(keras_mod().losses.Loss):
        def call(self, t, p):
            e = ops.abs(t - p)
            return ops.mean(ops.where(ops.less(e, 1.0), 0.5 * ops.square(e), e - 0.5), axis=-1)

    theirs_pred = torch.tensor(y_pred, requires_grad=True)
    expected = KerasHuberish()(y_true, theirs_pred)
    expected.backward()
    ours_pred = keras_mod().Tensor(y_pred, requires_grad=True)
    got = Huberish()(y_true, ours_pred)
    got.backward()
    assert got.item() == pytest.approx(float(expected.detach()), rel=1e-6)
    np.testing.assert_allclose(ours_pred.grad, theirs_pred.grad.numpy(), rtol=1e-5, atol=1e-7)


def keras_mod():
    return keras  # (the module under test, as the `keras` fixture shadows the name inside tests)


def test_a_plain_function_and_a_loss_subclass_train_a_model():
    x, y = blobs(n=60)
    targets = np.eye(3, dtype=np.float32)[y]

    def squared(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    for loss in (squared, MeanAbsolute()):
        model = Sequential([layers.Input((6,)), layers.Dense(3, activation="softmax")])
        model.compile("adam", loss=loss)
        history = model.fit(x, targets, epochs=5, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]


# ---- custom metrics ---------------------------------------------------------------------------------
class TruePositives(keras.metrics.Metric):
    def __init__(self, name="true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ops.cast(ops.logical_and(ops.equal(y_true, 1), ops.greater(y_pred, 0.5)), self.dtype)
        if sample_weight is not None:
            hits = ops.multiply(hits, ops.cast(sample_weight, self.dtype))
        self.tp.assign(self.tp + ops.sum(hits))

    def result(self):
        return self.tp


def test_metric_subclass_contract():
    metric = TruePositives()
    assert float(metric([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7])) == 2.0
    metric.update_state([1, 1], [0.6, 0.6], sample_weight=[0.5, 2.0])
    assert float(metric.result()) == 4.5 and len(metric.variables) == 1
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert metric.get_config() == {"name": "true_positives", "dtype": "float32"}
    assert TruePositives.from_config(metric.get_config()).name == "true_positives"


def test_custom_metric_matches_keras_and_is_logged_by_fit(keras):
    class KerasTruePositives(keras.metrics.Metric):
        def __init__(self, name="true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            K = keras.ops
            self.tp.assign(self.tp + K.sum(K.cast(K.logical_and(K.equal(y_true, 1), K.greater(y_pred, 0.5)),
                                                  self.dtype)))

        def result(self):
            return self.tp

    y_true = rng.integers(0, 2, (50, 1)).astype(np.float32)
    y_pred = rng.random((50, 1)).astype(np.float32)
    assert float(TruePositives()(y_true, y_pred)) == float(KerasTruePositives()(y_true, y_pred))
    model = Sequential([layers.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=[TruePositives(), "accuracy"])
    history = model.fit(rng.standard_normal((20, 2)), rng.integers(0, 2, (20, 1)), epochs=2, batch_size=5, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "true_positives"]


def test_registered_custom_loss_and_metric_reload_with_the_model(tmp_path):
    @saving.register_keras_serializable(package="test_subclassing")
    class RegisteredLoss(MeanAbsolute):
        pass

    @saving.register_keras_serializable(package="test_subclassing")
    class RegisteredTruePositives(TruePositives):
        pass

    @saving.register_keras_serializable(package="test_subclassing")
    def negated_accuracy(y_true, y_pred):
        return -ops.cast(ops.equal(y_true, ops.round(y_pred)), "float32")

    model = Sequential([layers.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", RegisteredLoss(), metrics=[RegisteredTruePositives(), negated_accuracy])
    x, y = rng.standard_normal((8, 2)), rng.integers(0, 2, (8, 1))
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded._loss_fn) is RegisteredLoss
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(expected)


# ---- registration and serialization -------------------------------------------------------------------
def test_registration_api():
    @saving.register_keras_serializable(package="pkg_a")
    class Twice(layers.Layer):
        def call(self, x):
            return x * 2.0

    assert saving.get_registered_name(Twice) == "pkg_a>Twice"
    assert saving.get_custom_objects()["pkg_a>Twice"] is Twice
    assert saving.get_registered_object("pkg_a>Twice") is Twice
    config = saving.serialize_keras_object(Twice(name="tw"))
    assert config["class_name"] == "Twice" and config["registered_name"] == "pkg_a>Twice"
    assert set(config) >= {"module", "class_name", "config", "registered_name"}
    twin = saving.deserialize_keras_object(config)
    assert isinstance(twin, Twice) and twin.name == "tw"
    with pytest.raises(ValueError, match="does not have a get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_serialize_round_trips_builtins_arrays_and_functions():
    dense = layers.Dense(3, activation="relu", name="d")
    dense.build((None, 2))
    config = saving.serialize_keras_object(dense)
    assert config["registered_name"] is None and config["build_config"] == {"input_shape": [None, 2]}
    again = saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert isinstance(again, layers.Dense) and again.built and again.kernel.shape == (2, 3)
    loss = saving.deserialize_keras_object(saving.serialize_keras_object(keras.losses.Huber(delta=2.0)))
    assert isinstance(loss, keras.losses.Huber) and loss.delta == 2.0
    array = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(saving.deserialize_keras_object(saving.serialize_keras_object(array)), array)

    @saving.register_keras_serializable(package="pkg_b")
    def gain(x):
        return x * 3

    assert saving.deserialize_keras_object(saving.serialize_keras_object(gain)) is gain
    with pytest.raises(ValueError, match="a lambda cannot be saved"):
        saving.serialize_keras_object(lambda x: x)
    with pytest.raises(ValueError, match="is code, which loading never runs"):
        saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "..."}})


def test_a_file_naming_a_module_never_makes_loading_import_it(tmp_path):
    model = Sequential([layers.Input((2,)), layers.Dense(1)])
    path = tmp_path / "m.keras"
    model.save(path)
    hostile = tmp_path / "hostile.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(hostile, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][1].update({"module": "tinygrad_relu_evil_plugin", "class_name": "Payload",
                                                      "registered_name": "evil>Payload"})
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.raises(saving.ModelFileError, match="Unknown layer class 'Payload'"):
        load_model(hostile)
    assert "tinygrad_relu_evil_plugin" not in sys.modules
    hostile_model = tmp_path / "model_class.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(hostile_model, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps({**json.loads(data), "class_name": "Classifier"}).encode()
            target.writestr(item, data)
    with pytest.raises(saving.ModelFileError, match="'Classifier'.*not one of"):
        load_model(hostile_model)  # defined in this process, but neither registered nor passed


def test_old_native_files_still_load(tmp_path):
    """A file as the previous version wrote it: layers as {'class_name', 'config'} without module or build config."""
    model = Sequential([layers.Input((3,)), layers.Dense(2, activation="relu"), layers.Dense(1)])
    path = tmp_path / "old.keras"
    saving.native.save_model(model, path)  # earlier versions wrote the native format for every name
    old = tmp_path / "older.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"] = [{"class_name": entry["class_name"], "config": entry["config"]}
                                              for entry in config["config"]["layers"]]
                data = json.dumps(config).encode()
            target.writestr(item, data)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_model(old).predict(x, verbose=0), model.predict(x, verbose=0))


def test_custom_layers_and_nested_models_save_and_load(tmp_path):
    @saving.register_keras_serializable(package="test_subclassing")
    class Gate(layers.Layer):
        """Multiplies its input by a learned sigmoid gate per feature."""

        def build(self, input_shape):
            self.logits = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="logits")

        def call(self, x):
            return x * ops.sigmoid(self.logits)

    base = Sequential([layers.Input((5,)), layers.Dense(6, activation="relu"), Gate()], name="base")
    inputs = keras.Input((5,), name="features")
    outputs = layers.Dense(2, name="head")(layers.concatenate([base(inputs), Gate()(inputs)]))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "nested.keras")
    loaded = load_model(tmp_path / "nested.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == ["InputLayer", "Sequential", "Gate", "Concatenate",
                                                                "Dense"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    outer = Sequential([layers.Input((5,)), base, layers.Dense(1)])
    outer.save_weights(tmp_path / "outer.weights")
    twin = Sequential([layers.Input((5,)), Sequential([layers.Dense(6, activation="relu"), Gate()]), layers.Dense(1)])
    twin.load_weights(tmp_path / "outer.weights")  # nested layers' automatic names differ; order and names match
    np.testing.assert_array_equal(twin.predict(x, verbose=0), outer.predict(x, verbose=0))


def test_subclassed_models_with_several_outputs_log_keras_names(keras):
    def build(lib, as_dict):
        class Heads(lib.Model):
            def __init__(self):
                super().__init__()
                self.a, self.b = lib.layers.Dense(2), lib.layers.Dense(1)

            def call(self, x):
                return {"p": self.a(x), "q": self.b(x)} if as_dict else [self.a(x), self.b(x)]
        return Heads()

    x = rng.random((8, 3)).astype(np.float32)
    targets = [rng.random((8, 2)).astype(np.float32), rng.random((8, 1)).astype(np.float32)]
    for as_dict, compile_args, y in (
            (False, dict(loss=["mse", "mae"], metrics=[["mae"], ["mse"]]), targets),
            (True, dict(loss={"p": "mse", "q": "mae"}, metrics={"q": ["mse"]}), dict(zip("pq", targets)))):
        names = []
        for lib in (keras, keras_mod()):
            model = build(lib, as_dict)
            model.compile("sgd", **compile_args)
            names.append(sorted(model.fit(x, y, verbose=0).history))
        assert names[0] == names[1], names
    predicted = model.predict(x, verbose=0)
    assert set(predicted) == {"p", "q"} and predicted["p"].shape == (8, 2)


# ---- the guide's end-to-end example: a variational autoencoder, written with ops and keras.random -----
class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * epsilon, epsilon ~ N(0, 1): the reparametrization trick."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    def __init__(self, latent_dim=2, intermediate_dim=16, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.proj = layers.Dense(intermediate_dim, activation="relu")
        self.mean, self.log_var = layers.Dense(latent_dim), layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        h = self.proj(inputs)
        z_mean, z_log_var = self.mean(h), self.log_var(h)
        return z_mean, z_log_var, self.sampling((z_mean, z_log_var))


class Decoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim=16, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.proj = layers.Dense(intermediate_dim, activation="relu")
        self.out = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.proj(inputs))


class VariationalAutoEncoder(keras.Model):
    def __init__(self, original_dim, intermediate_dim=16, latent_dim=2, name="autoencoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.encoder = Encoder(latent_dim, intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        self.add_loss(-0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1))  # KL divergence
        return self.decoder(z)


def test_the_variational_autoencoder_trains_with_its_kl_loss():
    images = (rng.random((128, 20)) < np.linspace(0.1, 0.9, 20)).astype(np.float32)
    vae = VariationalAutoEncoder(20)
    vae.compile(keras.optimizers.Adam(learning_rate=1e-2), loss=keras.losses.MeanSquaredError())
    history = vae.fit(images, images, epochs=6, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    reconstruction = vae.predict(images, verbose=0)
    assert reconstruction.shape == images.shape and len(vae.losses) == 1  # the KL term of the last call
    assert [layer.name for layer in vae.layers] == ["encoder", "decoder"] and len(vae.weights) == 10


def test_a_custom_dropout_sees_the_training_phase():
    class CustomDropout(layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs, training=None):
            return keras.random.dropout(inputs, rate=self.rate) if training else inputs

    layer = CustomDropout(0.5)
    x = np.ones((200, 10), np.float32)
    assert np.array_equal(layer(x).data, x)
    dropped = layer(x, training=True).data
    assert 0.3 < (dropped == 0).mean() < 0.7 and set(np.unique(dropped)) == {0.0, 2.0}
    assert CustomDropout.from_config(layer.get_config()).rate == 0.5  # auto config: plain constructor arguments
