"""Keras 3's files both ways (issue 14), checked against Keras 3 itself (torch backend): a .keras file written
here opens in keras.saving.load_model and predicts the same, with the optimizer's state; one Keras writes
opens here the same way; .weights.h5 files cross both ways; Keras' JSON configs build here and ours in
Keras. Each model is built by one function for both libraries (``lib`` is keras or tinygrad_relu)."""
import json
import zipfile

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import saving
from tinygrad_relu.models import load_model, model_from_json
from tinygrad_relu.saving import ModelFileError, h5_weights

pytest.importorskip("h5py")
rng = np.random.default_rng(0)
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


# ---- the models, built alike in both libraries ---------------------------------------------------------
def mlp(lib):
    return lib.Sequential([lib.Input((12,)), lib.layers.Dense(16, activation="relu"),
                           lib.layers.Dense(16, activation="tanh"), lib.layers.Dense(3, activation="softmax")])


def seed_cnn(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                           L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(),
                           L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])


def conv1d_net(lib):
    L = lib.layers
    x = lib.Input((40, 3), name="signal")
    h = L.MaxPooling1D(2)(L.Conv1D(8, 5, padding="same", activation="elu")(x))
    h = L.AveragePooling1D(2, padding="same")(L.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="gelu")(h))
    h = L.Conv1D(6, 3, strides=2, activation="silu")(h)
    pooled = L.Concatenate()([L.GlobalAveragePooling1D()(h), L.GlobalMaxPooling1D()(h)])
    return lib.Model(x, L.Dense(2, activation="sigmoid")(pooled), name="conv1d")


def batchnorm_prelu(lib):
    L = lib.layers
    # (no biases before the normalizations: their gradients would be float noise, which Adam amplifies)
    return lib.Sequential([lib.Input((10, 10, 2)), L.Conv2D(6, 3, padding="same", use_bias=False),
                           L.BatchNormalization(), L.PReLU(shared_axes=[1, 2]), L.AveragePooling2D((2, 2)), L.Flatten(),
                           L.Dense(8, use_bias=False),
                           L.BatchNormalization(momentum=0.9, epsilon=1e-2), L.PReLU(),
                           L.Dense(3, activation="softmax")])


def residual_block(lib):
    """A functional residual block around a nested Sequential and a nested functional model, with a concatenation
    and a dot product."""
    L = lib.layers
    inner = lib.Sequential([lib.Input((16,)), L.Dense(16, activation="relu"), L.Dense(16)], name="branch")
    gate_in = lib.Input((16,), name="gate_in")
    gate = lib.Model(gate_in, L.Multiply(name="gated")([gate_in, L.Dense(16, activation="sigmoid",
                                                                           name="gate_dense")(gate_in)]), name="gate")
    x = lib.Input((12,), name="features")
    h = L.Dense(16, activation="relu", name="stem")(x)
    r = L.Activation("relu", name="act")(L.add([h, gate(inner(h))], name="skip"))
    merged = L.Concatenate(name="cat")([r, L.Subtract(name="diff")([r, h])])
    score = L.Dot(axes=1, normalize=True, name="cos")([r, h])
    out = L.Dense(3, activation="softmax", name="head")(L.Concatenate(name="all")([merged, score]))
    return lib.Model(x, out, name="residual")


def layer_zoo(lib):
    """The remaining layers and options: reshape, merges, activation layers, global pools, strided same padding."""
    L = lib.layers
    x = lib.Input((6, 8, 2), name="grid")
    c = L.Conv2D(4, (3, 2), strides=(2, 1), padding="same", dilation_rate=1, use_bias=False, name="conv")(x)
    c = L.SpatialDropout2D(0.2, name="sdrop")(c)
    a = L.GlobalMaxPooling2D(name="gmax")(c)
    b = L.GlobalAveragePooling2D(keepdims=True, name="gavg")(c)
    b = L.Reshape((4,), name="reshape")(b)
    m = L.Multiply(name="mul")([a, b])
    m = L.Maximum(name="max")([m, L.Minimum(name="min")([a, b])])
    m = L.Average(name="avg")([m, a, b])
    m = L.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2, name="relu")(L.Dropout(0.3, name="drop")(m))
    m = L.LeakyReLU(negative_slope=0.05, name="leaky")(L.Dense(6, name="d1")(m))
    m = L.ELU(alpha=0.7, name="elu")(m)
    m = L.Softmax(name="soft")(L.Dense(5, activation="selu", name="d2")(m))
    return lib.Model(x, m, name="zoo")


def image_variants(lib):
    """The 2-D variants: preprocessing, grouped, depthwise, separable and transposed convolutions, channels_first
    (between two Permutes), cropping, padding, bilinear upsampling and the feature normalizations."""
    L = lib.layers
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(5).standard_normal((32, 8, 8, 3)).astype(np.float32) * 2.0 + 1.0)
    return lib.Sequential([
        lib.Input((8, 8, 3)), L.Rescaling(0.5, offset=0.1), norm,
        L.Conv2D(6, 3, padding="same", groups=3, activation="relu"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        L.SeparableConv2D(4, 3, depth_multiplier=2, activation="tanh"), L.GroupNormalization(groups=2),
        L.Conv2DTranspose(4, 3, strides=2), L.Cropping2D(((1, 2), (0, 1))), L.ZeroPadding2D(((0, 1), (2, 0))),
        L.UpSampling2D((1, 2), interpolation="bilinear"), L.UpSampling2D(1), L.Permute((3, 1, 2)),
        L.Conv2D(3, 3, strides=2, data_format="channels_first"), L.Permute((2, 3, 1)),
        L.LayerNormalization(), L.UnitNormalization(), L.Identity(), L.GlobalAveragePooling2D(),
        L.Dense(3, activation="softmax")], name="image_variants")


def sequence_variants(lib):
    """The 1-D variants and every noise and regularizing layer (random in training: STOCHASTIC)."""
    L = lib.layers
    return lib.Sequential([
        lib.Input((12, 4)), L.GaussianNoise(0.1), L.Conv1D(6, 3, groups=2, padding="causal"),
        L.DepthwiseConv1D(3, depth_multiplier=2), L.SeparableConv1D(4, 3, padding="same", activation="relu"),
        L.Conv1DTranspose(5, 3, strides=2), L.Cropping1D((1, 2)), L.ZeroPadding1D((2, 1)), L.UpSampling1D(2),
        L.SpatialDropout1D(0.2), L.GaussianDropout(0.1), L.AlphaDropout(0.1),
        L.ActivityRegularization(l1=0.01, l2=0.01), L.Conv1D(3, 2, data_format="channels_first"),
        L.GlobalMaxPooling1D(), L.RepeatVector(3), L.Flatten(), L.Dense(2, activation="sigmoid")],
        name="sequence_variants")


def token_sequences(lib):
    """Tokens through Embedding(mask_zero=True) (the mask reaching every recurrent layer), Bidirectional LSTM and
    GRU (reset_after False) with merge modes, TimeDistributed, and a functional LSTM whose return_sequences and
    return_state feed a GRU's initial state."""
    L = lib.layers
    x = lib.Input((7,), name="tokens")
    e = L.Embedding(20, 6, mask_zero=True, name="embed")(x)
    h = L.Bidirectional(L.LSTM(5, return_sequences=True), name="bi_lstm")(e)
    h = L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=False), merge_mode="sum", name="bi_gru")(h)
    h = L.TimeDistributed(L.Dense(4, activation="relu"), name="per_step")(h)
    seq, state_h, state_c = L.LSTM(3, return_sequences=True, return_state=True, name="lstm_states")(h)
    last = L.GRU(3, go_backwards=True, name="gru_from_h")(seq, initial_state=[state_h])
    out = L.Dense(3, activation="softmax", name="head")(L.Concatenate(name="cat")([last, state_c]))
    return lib.Model(x, out, name="token_sequences")


def masked_cells(lib):
    """Masking ahead of RNN over each built-in cell, SimpleRNN, GRU (reset_after True), and Bidirectional's
    'ave', 'mul' and None merges."""
    L = lib.layers
    x = lib.Input((6, 3), name="frames")
    m = L.Masking(0.0, name="masking")(x)
    h = L.RNN(L.SimpleRNNCell(4), return_sequences=True, name="rnn_simple")(m)
    h = L.RNN(L.GRUCell(4, reset_after=True), return_sequences=True, go_backwards=True, name="rnn_gru")(h)
    h = L.Bidirectional(L.RNN(L.LSTMCell(3), return_sequences=True), merge_mode="ave", name="bi_rnn_lstm")(h)
    h = L.Bidirectional(L.SimpleRNN(3, return_sequences=True), merge_mode="mul", name="bi_simple")(h)
    fwd, bwd = L.Bidirectional(L.GRU(2), merge_mode=None, name="bi_none")(h)
    return lib.Model(x, L.Dense(2, activation="sigmoid", name="head")(L.Concatenate(name="cat")([fwd, bwd])),
                     name="masked_cells")


MODELS = {"mlp": (mlp, (12,)), "seed_cnn": (seed_cnn, (28, 28, 1)), "conv1d": (conv1d_net, (40, 3)),
          "batchnorm_prelu": (batchnorm_prelu, (10, 10, 2)), "residual": (residual_block, (12,)),
          "layer_zoo": (layer_zoo, (6, 8, 2)), "image_variants": (image_variants, (8, 8, 3)),
          "sequence_variants": (sequence_variants, (12, 4)), "token_sequences": (token_sequences, (7,)),
          "masked_cells": (masked_cells, (6, 3))}
STOCHASTIC = {"layer_zoo", "sequence_variants"}  # its Dropout draws different masks in each library: no step-by-step comparison
LOSSES = {"mlp": "categorical_crossentropy", "seed_cnn": "categorical_crossentropy", "conv1d": "binary_crossentropy",
          "batchnorm_prelu": "categorical_crossentropy", "residual": "categorical_crossentropy", "layer_zoo": "mse",
          "image_variants": "categorical_crossentropy", "sequence_variants": "binary_crossentropy",
          "token_sequences": "categorical_crossentropy", "masked_cells": "binary_crossentropy"}


def padded(x, n):
    """Zero the last steps of each sample (a random count, the first sample none) and one inner step of sample 1:
    what the masks skip."""
    for i, cut in enumerate(rng.integers(0, x.shape[1] - 1, n)):
        x[i, x.shape[1] - (cut if i else 0):] = 0
    x[1, 2] = 0
    return x


def data(name, n=8):
    shape, out = MODELS[name][1], {"conv1d": 2, "seed_cnn": 10, "layer_zoo": 5, "sequence_variants": 2,
                                   "masked_cells": 2}.get(name, 3)
    if name == "token_sequences":
        x = padded(rng.integers(1, 20, (n,) + shape).astype(np.float32), n)
    elif name == "masked_cells":
        x = padded(rng.standard_normal((n,) + shape).astype(np.float32), n)
    else:
        x = rng.standard_normal((n,) + shape).astype(np.float32)
    if LOSSES[name] == "binary_crossentropy":
        return x, rng.integers(0, 2, (n, out)).astype(np.float32)
    if LOSSES[name] == "mse":
        return x, rng.random((n, out)).astype(np.float32)
    return x, np.eye(out, dtype=np.float32)[rng.integers(0, out, n)]


def trained(lib, name, optimizer="adam"):
    """The model, compiled and trained two steps, so that its optimizer has state and BatchNormalization moved."""
    model = MODELS[name][0](lib)
    model.compile(optimizer=optimizer, loss=LOSSES[name], metrics=["accuracy"] if "crossentropy" in LOSSES[name]
                  else None)
    x, y = data(name)
    for _ in range(2):
        model.train_on_batch(x, y)
    return model


def keras_state(keras, model):
    return [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]


def our_state(model):
    return h5_weights.optimizer_arrays(model.optimizer, model.trainable_weights)


def assert_same_state(theirs, ours):
    assert len(theirs) == len(ours)
    assert int(theirs[0]) == int(ours[0])  # iterations
    for a, b in zip(theirs[1:], ours[1:]):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_the_models_cover_every_layer_class():
    covered = {type(layer).__name__ for name in MODELS for layer in MODELS[name][0](tr)._flatten_layers()}
    assert set(tr.layers.LAYER_CLASSES) - covered == {"Lambda"}  # (test_a_keras_lambda_... has it)


# ---- ours -> Keras ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_opens_our_keras_file_and_predicts_the_same(keras, tmp_path, name):
    ours = trained(tr, name)
    path = tmp_path / f"{name}.keras"
    ours.save(path)
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
    assert config["module"] in ("keras", "keras.src.models.functional")
    assert {layer["module"] for layer in config["config"]["layers"]} <= {"keras", "keras.layers",
                                                                          "keras.src.models.functional"}
    theirs = keras.saving.load_model(path)
    x, y = data(name)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               ours.predict(x, verbose=0), **TOLERANCE)
    assert_same_state(keras_state(keras, theirs), our_state(ours))
    if name in STOCHASTIC:
        return
    # and training goes on from the same state: one more step on each side lands on the same weights
    theirs.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for a, b in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=1e-4, atol=1e-5)


# ---- Keras -> ours ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_we_open_keras_files_and_predict_the_same(keras, tmp_path, name):
    theirs = trained(keras, name)
    path = tmp_path / f"{name}.keras"
    theirs.save(path)
    ours = load_model(path)
    assert type(ours).__name__ == type(theirs).__name__
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    x, y = data(name)
    np.testing.assert_allclose(ours.predict(x, verbose=0),
                               keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)), **TOLERANCE)
    assert type(ours.optimizer).__name__ == "Adam"
    assert_same_state(keras_state(keras, theirs), our_state(ours))
    if name not in STOCHASTIC:
        theirs.train_on_batch(x, y)
        ours.train_on_batch(x, y)
        for a, b in zip(theirs.get_weights(), ours.get_weights()):
            np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=1e-4, atol=1e-5)
    # and back: our save of what Keras wrote opens in Keras again
    again = tmp_path / "again.keras"
    ours.save(again)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.saving.load_model(again).predict(x, verbose=0)),
                               ours.predict(x, verbose=0), **TOLERANCE)


OPTIMIZERS = {
    "sgd_momentum": dict(class_name="SGD", config=dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "sgd_plain": dict(class_name="SGD", config=dict(learning_rate=0.05)),
    "adam_amsgrad": dict(class_name="Adam", config=dict(amsgrad=True, beta_1=0.8)),
    "adamw": dict(class_name="AdamW", config=dict(weight_decay=0.01)),
    "rmsprop_centered": dict(class_name="RMSprop", config=dict(momentum=0.5, centered=True)),
    "adagrad": dict(class_name="Adagrad", config=dict(initial_accumulator_value=0.2)),
    "nadam": dict(class_name="Nadam", config=dict(learning_rate=0.01)),
    "adamax": dict(class_name="Adamax", config=dict(learning_rate=0.01)),
    "adadelta": dict(class_name="Adadelta", config=dict(learning_rate=0.5)),
    "ftrl": dict(class_name="Ftrl", config=dict(learning_rate=0.1, l1_regularization_strength=0.01)),
    "lion": dict(class_name="Lion", config=dict(learning_rate=0.001)),
    "lamb": dict(class_name="Lamb", config=dict(learning_rate=0.01)),
    "adam_ema": dict(class_name="Adam", config=dict(use_ema=True, ema_momentum=0.9)),
    "adam_schedule": dict(class_name="Adam", config=dict(learning_rate=dict(
        class_name="ExponentialDecay", config=dict(initial_learning_rate=0.01, decay_steps=3, decay_rate=0.5)))),
    "nadam_ema_overwrite": dict(class_name="Nadam", config=dict(use_ema=True, ema_momentum=0.5,
                                                               ema_overwrite_frequency=2)),
    "adam_cosine_warmup": dict(class_name="Adam", config=dict(learning_rate=dict(class_name="CosineDecay", config=dict(
        initial_learning_rate=0.01, decay_steps=4, alpha=0.1, warmup_target=0.02, warmup_steps=2)))),
    "sgd_cosine_restarts": dict(class_name="SGD", config=dict(momentum=0.5, learning_rate=dict(
        class_name="CosineDecayRestarts", config=dict(initial_learning_rate=0.05, first_decay_steps=2, t_mul=2.0,
                                                      m_mul=0.5, alpha=0.1)))),
    "rmsprop_inverse_time": dict(class_name="RMSprop", config=dict(learning_rate=dict(
        class_name="InverseTimeDecay", config=dict(initial_learning_rate=0.01, decay_steps=2, decay_rate=0.5,
                                                   staircase=True)))),
    "adamax_polynomial": dict(class_name="Adamax", config=dict(learning_rate=dict(
        class_name="PolynomialDecay", config=dict(initial_learning_rate=0.01, decay_steps=3, end_learning_rate=0.001,
                                                  power=2.0, cycle=True)))),
    "adagrad_piecewise": dict(class_name="Adagrad", config=dict(learning_rate=dict(
        class_name="PiecewiseConstantDecay", config=dict(boundaries=[1, 2], values=[0.1, 0.05, 0.01])))),
}


def make_optimizer(lib, spec):
    config = dict(spec["config"])
    if isinstance(config.get("learning_rate"), dict):
        schedule = config["learning_rate"]
        config["learning_rate"] = getattr(lib.optimizers.schedules, schedule["class_name"])(**schedule["config"])
    return getattr(lib.optimizers, spec["class_name"])(**config)


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_every_optimizers_state_crosses_both_ways(keras, tmp_path, case):
    theirs = trained(keras, "mlp", make_optimizer(keras, OPTIMIZERS[case]))
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert type(ours.optimizer).__name__ == OPTIMIZERS[case]["class_name"]
    assert_same_state(keras_state(keras, theirs), our_state(ours))

    mine = trained(tr, "mlp", make_optimizer(tr, OPTIMIZERS[case]))
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    assert_same_state(keras_state(keras, back), our_state(mine))
    x, y = data("mlp")
    back.train_on_batch(x, y)
    mine.train_on_batch(x, y)
    for a, b in zip(back.get_weights(), mine.get_weights()):
        np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=1e-4, atol=1e-5)


# ---- losses in the compile config -------------------------------------------------------------------------
LOSS_CASES = {
    "hinge": ("Hinge", {}), "squared_hinge": ("SquaredHinge", {}), "categorical_hinge": ("CategoricalHinge", {}),
    "kl_divergence": ("KLDivergence", {}), "poisson": ("Poisson", {}),
    "cosine_similarity": ("CosineSimilarity", {"axis": -1}), "log_cosh": ("LogCosh", {}),
    "mape": ("MeanAbsolutePercentageError", {}), "msle": ("MeanSquaredLogarithmicError", {}),
    "huber": ("Huber", {"delta": 0.3}),
    "binary_focal": ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5,
                                                 "label_smoothing": 0.1}),
    "categorical_focal": ("CategoricalFocalCrossentropy", {"alpha": 0.4, "gamma": 3.0, "label_smoothing": 0.2}),
    "categorical_smoothing": ("CategoricalCrossentropy", {"label_smoothing": 0.1}),
    "binary_smoothing": ("BinaryCrossentropy", {"label_smoothing": 0.2}),
    "by_name": ("squared_hinge", None), "by_alias": ("kld", None), "by_function_name": ("log_cosh", None),
}


KERAS_LEAVES_OUT = {"Huber": ("delta",)}  # Keras 3.15's Huber.get_config writes no delta: its files load delta=1


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_every_loss_crosses_both_ways_in_the_compile_config(keras, tmp_path, case):
    name, options = LOSS_CASES[case]
    x = data("mlp")[0]
    y = np.clip(data("mlp")[1] * 0.8 + 0.1, 0, 1)  # soft labels, valid for every loss here

    def compiled(lib):
        model = mlp(lib)
        model.compile(lib.optimizers.SGD(0.1), getattr(lib.losses, name)(**options) if options is not None else name)
        return model

    def same_loss(ours, theirs):
        assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), rel=1e-5, abs=1e-6)
        ours.train_on_batch(x, y)
        theirs.train_on_batch(x, y)
        for a, b in zip(theirs.get_weights(), ours.get_weights()):
            np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=1e-4, atol=1e-6)

    compiled(keras).save(tmp_path / "k.keras")
    theirs = keras.saving.load_model(tmp_path / "k.keras")  # what the file means to Keras
    ours = load_model(tmp_path / "k.keras")
    if options is not None:
        assert type(ours.loss).__name__ == name
        written = {k: v for k, v in options.items() if k not in KERAS_LEAVES_OUT.get(name, ())}
        assert {k: ours.loss.get_config()[k] for k in written} == written
    same_loss(ours, theirs)

    mine = compiled(tr)
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    if options is not None:
        assert type(back.loss).__name__ == name
    same_loss(mine, back)


# ---- metrics in the compile config ----------------------------------------------------------------------------
METRIC_CASES = {  # class -> (its options, the labels it takes: one-hot, class indices or soft targets)
    "Accuracy": ({}, "onehot"), "BinaryAccuracy": ({"threshold": 0.3}, "onehot"),
    "CategoricalAccuracy": ({}, "onehot"), "SparseCategoricalAccuracy": ({}, "sparse"),
    "TopKCategoricalAccuracy": ({"k": 2}, "onehot"), "SparseTopKCategoricalAccuracy": ({"k": 2}, "sparse"),
    "MeanSquaredError": ({}, "soft"), "MeanAbsoluteError": ({}, "soft"), "MeanAbsolutePercentageError": ({}, "soft"),
    "MeanSquaredLogarithmicError": ({}, "soft"), "RootMeanSquaredError": ({}, "soft"),
    "R2Score": ({"class_aggregation": "variance_weighted_average"}, "soft"),
    "TruePositives": ({"thresholds": [0.2, 0.5]}, "onehot"), "FalsePositives": ({"thresholds": 0.3}, "onehot"),
    "TrueNegatives": ({}, "onehot"), "FalseNegatives": ({"thresholds": [0.4]}, "onehot"),
    "Precision": ({"thresholds": 0.4, "class_id": 1}, "onehot"), "Recall": ({"top_k": 2}, "onehot"),
    "AUC": ({"num_thresholds": 50, "curve": "PR", "summation_method": "minoring"}, "onehot"),
    "FBetaScore": ({"beta": 2.0, "average": "macro", "threshold": 0.4}, "onehot"),
    "F1Score": ({"average": "weighted"}, "onehot"),
    "IoU": ({"num_classes": 3, "target_class_ids": [0, 2], "sparse_y_pred": False}, "sparse"),
    "MeanIoU": ({"num_classes": 3, "sparse_y_true": False, "sparse_y_pred": False}, "onehot"),
}
# Mean, Sum and MeanMetricWrapper take values or a function, not (y_true, y_pred); AutoAccuracy is 'accuracy' here
NOT_COMPILE_METRICS = {"Mean", "Sum", "MeanMetricWrapper", "AutoAccuracy"}


def test_the_metric_cases_cover_every_metric_class():
    assert set(tr.metrics._CLASSES) - NOT_COMPILE_METRICS == set(METRIC_CASES)


@pytest.mark.parametrize("case", sorted(METRIC_CASES))
def test_every_metric_crosses_both_ways_in_the_compile_config(keras, tmp_path, case):
    options, labels = METRIC_CASES[case]
    x, onehot = data("mlp", n=24)
    y = {"onehot": onehot, "sparse": onehot.argmax(-1), "soft": np.clip(onehot * 0.8 + 0.1, 0, 1)}[labels]
    weights = rng.random(24).astype(np.float32)

    def compiled(lib):
        model = mlp(lib)
        metric = getattr(lib.metrics, case)
        model.compile(lib.optimizers.SGD(0.1), "sparse_categorical_crossentropy" if labels == "sparse" else "mse",
                      metrics=[metric(name="plain", **options)], weighted_metrics=[metric(name="weighted", **options)])
        return model

    def same_values(ours, theirs):
        expected = theirs.evaluate(x, y, sample_weight=weights, batch_size=8, verbose=0, return_dict=True)
        assert set(expected) == {"loss", "plain", "weighted"}
        got = ours.evaluate(x, y, sample_weight=weights, batch_size=8, verbose=0, return_dict=True)
        assert set(got) == set(expected)
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
        if case != "Accuracy":  # (exact equality of softmax outputs and labels never holds: 0 either way)
            assert not np.allclose(got["plain"], got["weighted"])  # the sample weights reached one of them only

    compiled(keras).save(tmp_path / "k.keras")
    theirs = keras.saving.load_model(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    same_values(ours, theirs)
    mine = compiled(tr)
    mine.save(tmp_path / "o.keras")
    same_values(mine, keras.saving.load_model(tmp_path / "o.keras"))


# ---- weights files ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["seed_cnn", "residual", "batchnorm_prelu", "image_variants", "token_sequences",
                                  "masked_cells"])
def test_weights_h5_files_cross_both_ways(keras, tmp_path, name):
    build = MODELS[name][0]
    x, _ = data(name)
    theirs, ours = trained(keras, name), build(tr)
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               **TOLERANCE)
    mine, fresh = trained(tr, name), build(keras)
    mine.save_weights(tmp_path / "o.weights.h5")
    fresh.load_weights(tmp_path / "o.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fresh.predict(x, verbose=0)), mine.predict(x, verbose=0),
                               **TOLERANCE)
    twin = build(tr)  # and a .keras file's weights load into a model built here
    twin.load_weights(tmp_path / "o.weights.h5")
    mine.save(tmp_path / "whole.keras")
    other = build(tr)
    other.load_weights(tmp_path / "whole.keras")
    np.testing.assert_array_equal(other.predict(x, verbose=0), mine.predict(x, verbose=0))


def test_load_weights_into_a_compiled_model_restores_its_optimizer_or_warns(keras, tmp_path):
    theirs = trained(keras, "mlp")
    theirs.save_weights(tmp_path / "k.weights.h5")
    ours = mlp(tr)
    ours.compile("adam", "categorical_crossentropy")
    ours.load_weights(tmp_path / "k.weights.h5")
    assert_same_state(keras_state(keras, theirs), our_state(ours))
    other = mlp(tr)
    other.compile("sgd", "categorical_crossentropy")  # SGD without momentum keeps 2 variables, not Adam's 16
    with pytest.warns(UserWarning, match="optimizer's variables were not loaded"):
        other.load_weights(tmp_path / "k.weights.h5")
    x = data("mlp")[0]
    np.testing.assert_array_equal(other.predict(x, verbose=0), ours.predict(x, verbose=0))
    assert other.optimizer.iterations == 0


# ---- custom classes: the same registered name on both sides -------------------------------------------------
def gated_block(lib, register):
    @register(package="roundtrip", name="Gated")
    class Gated(lib.layers.Layer):
        """A layer with its own weights, a sublayer attribute and a list of sublayers (Keras' nested paths)."""

        def __init__(self, units=6, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.proj = lib.layers.Dense(units)
            self.stack = [lib.layers.Dense(units, activation="relu"), lib.layers.Dense(units)]

        def build(self, input_shape):
            self.gate = self.add_weight(shape=(self.units,), initializer="ones", name="gate")
            self.offset = self.add_weight(shape=(1,), initializer="zeros", trainable=False, name="offset")

        def call(self, x):
            return self.stack[1](self.stack[0](self.proj(x))) * lib.ops.sigmoid(self.gate) + self.offset

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Gated


def test_a_registered_custom_layer_crosses_both_ways(keras, tmp_path):
    KerasGated = gated_block(keras, keras.saving.register_keras_serializable)
    OurGated = gated_block(tr, saving.register_keras_serializable)

    def build(lib, cls):
        return lib.Sequential([lib.Input((5,)), cls(name="gated"), lib.layers.Dense(2)])

    x = rng.standard_normal((4, 5)).astype(np.float32)
    theirs = build(keras, KerasGated)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert type(ours.layers[0]) is OurGated
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               **TOLERANCE)
    mine = build(tr, OurGated)
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back.predict(x, verbose=0)), mine.predict(x, verbose=0),
                               **TOLERANCE)


# ---- configs: Keras' JSON here, ours in Keras --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_json_crosses_both_ways(keras, name):
    build = MODELS[name][0]
    theirs = build(keras)
    ours = model_from_json(theirs.to_json())
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.weights])
    x, _ = data(name)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               **TOLERANCE)
    back = keras.models.model_from_json(build(tr).to_json())
    assert [tuple(w.shape) for w in back.weights] == [w.shape for w in ours.weights]
    rebuilt = type(ours).from_config(theirs.get_config())
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in ours.weights]


@pytest.mark.parametrize("layer,key", [
    ("BatchNormalization(renorm=True)", "renorm"),
    ("Dense(4, dtype='mixed_float16')", "dtype"),
])
def test_keras_settings_that_would_change_the_result_are_refused(keras, layer, key):
    theirs = keras.Sequential([keras.Input((4,)), eval("keras.layers." + layer, {"keras": keras})])
    with pytest.raises((ValueError, NotImplementedError), match=key.split("_")[0]) as info:
        model_from_json(theirs.to_json())
    assert theirs.layers[0].name in str(info.value)


def constrained(lib):
    C = lib.constraints
    return lib.Sequential([lib.Input((5,)),
                           lib.layers.Dense(6, kernel_constraint=C.MaxNorm(0.5), bias_constraint=C.NonNeg()),
                           lib.layers.PReLU(alpha_constraint=C.MinMaxNorm(0.1, 0.3, rate=0.5),
                                            alpha_initializer="ones"),
                           lib.layers.Dense(3, kernel_constraint=C.UnitNorm(axis=1))])


def test_constraints_cross_both_ways_and_act_after_each_step(keras, tmp_path):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    kinds = ["MaxNorm", "NonNeg", "MinMaxNorm", "UnitNorm"]

    def constraints_of(model):
        return [type(c).__name__ for layer in model.layers for c in (
            getattr(layer, "kernel_constraint", None), getattr(layer, "bias_constraint", None),
            getattr(layer, "alpha_constraint", None)) if c is not None]

    def step_and_compare(theirs, ours):
        for model in (theirs, ours):
            model.train_on_batch(x, y)
        for a, b in zip(theirs.get_weights(), ours.get_weights()):
            np.testing.assert_allclose(b, keras.ops.convert_to_numpy(a), rtol=1e-5, atol=1e-6)
        kernel = ours.layers[0].kernel.data  # the constraints hold after the step
        assert np.all(np.linalg.norm(kernel, axis=0) <= 0.5 + 1e-6) and np.all(ours.layers[0].bias.data >= 0)
        np.testing.assert_allclose(np.linalg.norm(ours.layers[2].kernel.data, axis=1), 1.0, rtol=1e-5)

    theirs = constrained(keras)
    theirs.compile(keras.optimizers.SGD(0.5), "mse")
    theirs.save(tmp_path / "k.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "k.keras").read("config.json"))
    assert config["config"]["layers"][1]["config"]["kernel_constraint"]["module"] == "keras.constraints"
    ours = load_model(tmp_path / "k.keras")
    assert constraints_of(ours) == kinds
    assert ours.layers[1].alpha_constraint.get_config() == {"min_value": 0.1, "max_value": 0.3, "rate": 0.5, "axis": 0}
    step_and_compare(theirs, ours)

    mine = constrained(tr)
    mine.compile(tr.optimizers.SGD(0.5), "mse")
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    assert constraints_of(back) == kinds
    assert back.layers[2].kernel_constraint.get_config() == {"axis": 1}
    step_and_compare(back, mine)


def test_keras_keys_that_mean_nothing_here_are_ignored(keras):
    config = json.loads(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2),
                                          keras.layers.BatchNormalization()]).to_json())
    dense = config["config"]["layers"][1]["config"]
    assert dense["quantization_config"] is None and dense["dtype"]["class_name"] == "DTypePolicy"
    batchnorm = config["config"]["layers"][2]["config"]
    assert batchnorm["renorm"] is False and batchnorm["synchronized"] is False
    batchnorm["synchronized"] = True  # the same statistics on one device (Keras' torch backend refuses it)
    model = model_from_json(json.dumps(config))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNormalization"]


def test_keras_mask_operations_are_dropped_only_when_they_are_the_layers_own_masks(keras):
    """Keras writes a mask's computation as operation nodes (NotEqual, Any) feeding the masked layers' `mask`
    keyword; here the layers pass masks on themselves, so those nodes go, and any other operation is refused."""
    config = json.loads(token_sequences(keras).to_json())
    assert "NotEqual" in [layer["class_name"] for layer in config["config"]["layers"]]
    assert "NotEqual" not in [layer["class_name"] for layer in model_from_json(json.dumps(config)).get_config()[
        "layers"]]
    x = keras.Input((5, 3))  # a mask computed by hand, not by a layer here: its computation would be lost
    out = keras.layers.LSTM(2)(x, mask=keras.ops.not_equal(keras.ops.sum(x, axis=-1), 1.0))
    with pytest.raises(ValueError, match="operation node 'sum' \\(keras.src.ops.numpy.Sum\\)"):
        model_from_json(keras.Model(x, out).to_json())
    for layer in config["config"]["layers"]:  # Embedding's mask is not_equal(tokens, 0): another value is refused
        if layer["class_name"] == "NotEqual":
            layer["inbound_nodes"][0]["args"][1] = 3
    with pytest.raises(ValueError, match="not the mask of an Embedding"):
        model_from_json(json.dumps(config))


# ---- Lambda: refused unless safe_mode=False, as in Keras ------------------------------------------------------
def test_a_keras_lambda_loads_only_with_safe_mode_off(keras, tmp_path):
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Lambda(lambda v: v * 2.0 + 1.0)])
    theirs.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="safe_mode=False"):
        load_model(tmp_path / "lambda.keras")
    ours = load_model(tmp_path / "lambda.keras", safe_mode=False)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               **TOLERANCE)
    ours.save(tmp_path / "ours.keras")  # ours writes the bytecode as Keras does; Keras loads it on the same terms
    with pytest.raises(ValueError, match="safe_mode"):
        keras.saving.load_model(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras", safe_mode=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               **TOLERANCE)
    named = tr.Sequential([tr.Input((3,)), tr.layers.Lambda(tr.ops.tanh), tr.layers.Lambda(tr.activations.gelu)])
    named.save(tmp_path / "named.keras")  # functions Keras has under the same names need no safe_mode=False
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.saving.load_model(tmp_path / "named.keras").predict(
        x, verbose=0)), named.predict(x, verbose=0), **TOLERANCE)


# ---- which name gives which format ---------------------------------------------------------------------------
def test_the_file_name_chooses_the_format_and_old_native_keras_files_still_load(tmp_path):
    model = trained(tr, "mlp")
    x, _ = data("mlp")
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.trm")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert "model.weights.h5" in z.namelist()
    with zipfile.ZipFile(tmp_path / "m.trm") as z:
        assert "weights.json" in z.namelist()
    saving.native.save_model(model, tmp_path / "old.keras")  # what earlier versions wrote for a .keras name
    for name in ("m.keras", "m.trm", "old.keras"):
        np.testing.assert_array_equal(load_model(tmp_path / name).predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "w.weights.h5")
    with open(tmp_path / "w.weights.h5", "rb") as f:
        assert f.read(8) == b"\x89HDF\r\n\x1a\n"
    for bad, call in [("m.h5", model.save), ("m.weights.h5", model.save), ("w.keras", model.save_weights),
                      ("w.h5", model.save_weights)]:
        with pytest.raises(ValueError, match=bad.split(".", 1)[1].replace(".", r"\.")):
            call(tmp_path / bad)
    with pytest.raises(ModelFileError, match="HDF5 file"):
        load_model(tmp_path / "w.weights.h5")


# ---- a nested functional model called twice: Keras numbers its calls from 0 in node arguments, from 1 in outputs
def twice_gated(lib):
    inner_in = lib.Input((6,), name="inner_in")
    gate = lib.Model(inner_in, lib.layers.Dense(6, activation="tanh", name="inner_dense")(inner_in), name="gate")
    x = lib.Input((6,), name="x")
    first = gate(x)
    return lib.Model(x, [gate(first), lib.layers.Dense(2, name="side")(first)], name="twice")


def test_a_nested_functional_model_called_twice_crosses_both_ways(keras, tmp_path):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    theirs = twice_gated(keras)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), **TOLERANCE)
    for mine, keras_layer in zip(ours.get_config()["layers"], json.loads(theirs.to_json())["config"]["layers"]):
        assert [n["args"] for n in mine["inbound_nodes"]] == [n["args"] for n in keras_layer["inbound_nodes"]]
    assert ours.get_config()["output_layers"] == [list(t) for t in theirs.get_config()["output_layers"]]
    ours.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    for a, b in zip(back.predict(x, verbose=0), ours.predict(x, verbose=0)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), b, **TOLERANCE)


def test_native_files_of_format_1_with_nested_calls_numbered_from_one_still_load(tmp_path):
    model = twice_gated(tr)
    model.save(tmp_path / "new.trm")
    with zipfile.ZipFile(tmp_path / "new.trm") as z:
        items = {name: z.read(name) for name in z.namelist()}
    config, metadata = json.loads(items["config.json"]), json.loads(items["metadata.json"])
    for layer in config["config"]["layers"]:  # format 1: the arguments numbered a nested Functional's calls from 1
        for node in layer["inbound_nodes"]:
            for arg in node["args"]:
                if arg["config"]["keras_history"][0] == "gate":
                    arg["config"]["keras_history"][1] += 1
    items.update({"config.json": json.dumps(config).encode(),
                  "metadata.json": json.dumps(dict(metadata, format_version=1)).encode()})
    with zipfile.ZipFile(tmp_path / "old.trm", "w") as z:
        for name, data in items.items():
            z.writestr(name, data)
    old = load_model(tmp_path / "old.trm")
    x = rng.standard_normal((3, 6)).astype(np.float32)
    for a, b in zip(old.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


def subclassed(lib, register, block):
    @register(package="roundtrip", name="Net")
    class Net(lib.Model):
        """A subclassed model: Keras saves its attributes in sorted order, private ones last, then 'layers'."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.zeta = lib.layers.Dense(6, activation="relu")
            self.alpha = block(units=6)
            self._private = lib.layers.Dense(2)

        def call(self, x):
            return self._private(self.alpha(self.zeta(x)))

    return Net


def test_a_registered_subclassed_model_crosses_both_ways(keras, tmp_path):
    KerasNet = subclassed(keras, keras.saving.register_keras_serializable,
                          gated_block(keras, keras.saving.register_keras_serializable))
    OurNet = subclassed(tr, saving.register_keras_serializable, gated_block(tr, saving.register_keras_serializable))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    theirs = KerasNet()
    theirs.compile("rmsprop", "mse")
    theirs.train_on_batch(x, y)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert type(ours) is OurNet
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               **TOLERANCE)
    assert_same_state(keras_state(keras, theirs), our_state(ours))
    mine = OurNet()
    mine.compile("adam", "mse")
    mine.train_on_batch(x, y)
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back.predict(x, verbose=0)), mine.predict(x, verbose=0),
                               **TOLERANCE)
    assert_same_state(keras_state(keras, back), our_state(mine))


def two_headed(lib):
    x = lib.Input((4,), name="features")
    h = lib.layers.Dense(8, activation="relu", name="trunk")(x)
    return lib.Model(x, [lib.layers.Dense(3, activation="softmax", name="cls")(h), lib.layers.Dense(1, name="reg")(h)],
                     name="two_headed")


def test_per_output_losses_metrics_and_weights_cross_both_ways(keras, tmp_path):
    def compiled(lib):
        model = two_headed(lib)
        model.compile(lib.optimizers.SGD(0.01, momentum=0.5),
                      loss={"cls": lib.losses.SparseCategoricalCrossentropy(), "reg": "mae"},
                      loss_weights={"cls": 2.0, "reg": 0.5},
                      metrics={"cls": [lib.metrics.SparseCategoricalAccuracy()], "reg": ["mse"]})
        return model

    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = [rng.integers(0, 3, 16), rng.standard_normal((16, 1)).astype(np.float32)]
    mine = compiled(tr)
    mine.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    mine.save(tmp_path / "o.keras")
    back = keras.saving.load_model(tmp_path / "o.keras")
    expected = mine.evaluate(x, y, verbose=0, return_dict=True)
    assert back.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(expected, rel=1e-5)
    theirs = compiled(keras)
    theirs.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert ours.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        theirs.evaluate(x, y, verbose=0, return_dict=True), rel=1e-5)
    assert_same_state(keras_state(keras, theirs), our_state(ours))
