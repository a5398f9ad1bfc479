"""The Functional API: Input, layers called on symbolic tensors, Model(inputs, outputs) with several inputs and
outputs, shared layers, merge layers, nesting; fit / evaluate / predict / save / load / get_config; Keras'
layer order (so Keras weights load and predict the same), log names and summary, checked against Keras 3."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import Model, Sequential, clone_model, load_model, model_from_json

rng = np.random.default_rng(0)


def as_numpy(keras, values):
    return [keras.ops.convert_to_numpy(v) for v in values]


def residual_mlp(lib, width=16):
    """x -> relu(h2(h1(x)) + proj(x)) -> softmax head: the shortcut's layer is made after the branch."""
    x = lib.Input((8,), name="x")
    h = lib.layers.Dense(width, activation="relu", name="h1")(x)
    h = lib.layers.Dense(width, name="h2")(h)
    shortcut = lib.layers.Dense(width, name="proj")(x)
    r = lib.layers.Activation("relu", name="act")(lib.layers.add([h, shortcut], name="sum"))
    return lib.Model(x, lib.layers.Dense(3, activation="softmax", name="head")(r), name="residual_mlp")


def residual_cnn(lib):
    """A ResNet basic block with batch normalization, then global pooling and a classifier."""
    x = lib.Input((8, 8, 3), name="image")
    stem = lib.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(x)
    h = lib.layers.Conv2D(8, 3, padding="same", name="conv_a")(stem)
    h = lib.layers.BatchNormalization(name="bn_a")(h)
    h = lib.layers.ReLU(name="relu_a")(h)
    h = lib.layers.Conv2D(8, 3, padding="same", name="conv_b")(h)
    h = lib.layers.BatchNormalization(name="bn_b")(h)
    h = lib.layers.ReLU(name="relu_out")(lib.layers.Add(name="skip")([h, stem]))
    h = lib.layers.GlobalAveragePooling2D(name="pool")(h)
    return lib.Model(x, lib.layers.Dense(4, activation="softmax", name="classes")(h), name="resnet_block")


@pytest.mark.parametrize("build,shape", [(residual_mlp, (5, 8)), (residual_cnn, (3, 8, 8, 3))])
def test_keras_residual_weights_load_and_predict_the_same(keras, build, shape):
    theirs, ours = build(keras), build(tr)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [w + np.float32(0.1) * rng.standard_normal(w.shape).astype(np.float32)
               for w in as_numpy(keras, theirs.get_weights())]
    weights = [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, theirs.weights)]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_layer_order_is_by_depth_then_walk_order():
    model = residual_mlp(tr)
    assert [layer.name for layer in model.layers] == ["x", "h1", "h2", "proj", "sum", "act", "head"]
    assert model.weight_names[:4] == ["h1/kernel", "h1/bias", "h2/kernel", "h2/bias"]


def test_a_residual_network_trains():
    x = rng.standard_normal((300, 8)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)  # three classes, piecewise-linear borders
    model = residual_mlp(tr)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=20, verbose=0)
    assert history.history["loss"][-1] < 0.4 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def two_headed(lib):
    x = lib.Input((4,), name="features")
    h = lib.layers.Dense(8, activation="relu", name="trunk")(x)
    return lib.Model(x, [lib.layers.Dense(3, activation="softmax", name="cls")(h),
                         lib.layers.Dense(1, name="reg")(h)], name="two_headed")


COMPILES = {
    "lists": dict(loss=["sparse_categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae", "mse"]],
                  loss_weights=[1.0, 0.5]),
    "dicts": dict(loss={"cls": "sparse_categorical_crossentropy", "reg": "mae"}, metrics={"reg": "mse"},
                  loss_weights={"cls": 2.0, "reg": 1.0}),
    "one_loss_for_all": dict(loss="mse"),
    "no_loss_for_one": dict(loss=[None, "mse"], metrics=[None, ["mae"]]),
}


@pytest.mark.parametrize("case", sorted(COMPILES))
def test_per_output_losses_and_metrics_have_keras_names_and_values(keras, case):
    theirs, ours = two_headed(keras), two_headed(tr)
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    x = rng.standard_normal((24, 4)).astype(np.float32)
    y_cls = rng.integers(0, 3, 24)
    y_reg = rng.standard_normal((24, 1)).astype(np.float32)
    targets = [y_cls, y_reg] if case != "one_loss_for_all" else [np.eye(3, dtype=np.float32)[y_cls], y_reg]
    for model in (theirs, ours):
        model.compile(optimizer="sgd", **COMPILES[case])
    expected = theirs.evaluate(x, targets, batch_size=8, verbose=0, return_dict=True)
    got = ours.evaluate(x, targets, batch_size=8, verbose=0, return_dict=True)
    assert list(got) == sorted(expected)
    for name in expected:
        assert got[name] == pytest.approx(float(expected[name]), rel=1e-4), name
    assert ours.evaluate(x, targets, batch_size=8, verbose=0) == pytest.approx(
        [float(v) for v in theirs.evaluate(x, targets, batch_size=8, verbose=0)], rel=1e-4)  # Keras' list order
    history = ours.fit(x, {"cls": targets[0], "reg": targets[1]}, epochs=1, verbose=0)
    assert sorted(history.history) == sorted(expected)


def test_dict_outputs_are_named_by_their_keys_and_predict_returns_the_dict(keras):
    def build(lib):
        x = lib.Input((4,), name="x")
        h = lib.layers.Dense(5, name="h")(x)
        return lib.Model(x, {"p": lib.layers.Dense(2, name="pd")(h), "q": lib.layers.Dense(1, name="qd")(h)})

    theirs, ours = build(keras), build(tr)
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = {"p": rng.standard_normal((6, 2)).astype(np.float32), "q": rng.standard_normal((6, 1)).astype(np.float32)}
    for model in (theirs, ours):
        model.compile("sgd", loss={"p": "mse", "q": "mae"}, metrics={"q": ["mse"]})
    expected = theirs.evaluate(x, y, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(got) == sorted(expected) == ["loss", "p_loss", "q_loss", "q_mse"]
    assert got["loss"] == pytest.approx(float(expected["loss"]), rel=1e-5)
    predicted = ours.predict(x, verbose=0)
    assert set(predicted) == {"p", "q"} and predicted["q"].shape == (6, 1)


def test_several_inputs_as_a_list_or_a_dict_and_a_shared_layer():
    a, b = tr.Input((4,), name="left"), tr.Input((4,), name="right")
    shared = L.Dense(3, name="shared")
    model = Model([a, b], L.Dense(1, name="out")(L.concatenate([shared(a), shared(b)])))
    assert len(shared._inbound_nodes) == 2 and len(model.weights) == 4  # one set of weights, two calls
    xa, xb = rng.standard_normal((10, 4)), rng.standard_normal((10, 4))
    by_list = model.predict([xa, xb], verbose=0)
    np.testing.assert_array_equal(by_list, model.predict({"right": xb, "left": xa}, verbose=0))
    kernel, bias = shared.get_weights()
    out_kernel, out_bias = model.get_layer("out").get_weights()
    expected = np.concatenate([xa @ kernel + bias, xb @ kernel + bias], axis=1) @ out_kernel + out_bias
    np.testing.assert_allclose(by_list, expected, rtol=1e-5, atol=1e-6)
    model.compile("sgd", "mse")
    before = shared.get_weights()[0].copy()
    model.fit({"left": xa, "right": xb}, np.ones((10, 1)), epochs=1, verbose=0)
    assert not np.allclose(before, shared.get_weights()[0])
    with pytest.raises(ValueError, match=r"has 2 inputs \['left', 'right'\]"):
        model.predict(xa, verbose=0)
    with pytest.raises(ValueError, match=r"Input 'right' of model .* expected shape \(None, 4\), received an array "
                                         r"of shape \(10, 5\)"):
        model.predict([xa, np.ones((10, 5))], verbose=0)


def test_summary_has_keras_connected_to_column(keras, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich, which prints Keras' table, crops it to the terminal
    def siamese(lib):
        a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
        shared = lib.layers.Dense(3, name="shared")
        merged = lib.layers.concatenate([shared(a), shared(b)], name="cat")
        return lib.Model([a, b], lib.layers.Dense(1, name="out")(merged), name="siamese")

    for build, length in ((siamese, 100), (residual_mlp, 108), (two_headed, 90)):
        expected = []
        build(keras).summary(line_length=length, print_fn=lambda line, **kwargs: expected.append(line))
        build(tr).summary(line_length=length)
        assert capsys.readouterr().out.rstrip("\n").splitlines() == "\n".join(expected).splitlines()
    chain_in = tr.Input((3,), name="c")
    chain = Model(chain_in, L.Dense(2, name="d")(chain_in), name="chain")
    chain.summary(line_length=88)
    assert "Connected to" not in capsys.readouterr().out  # a chain prints Keras' three columns


def test_merge_layers_compute_what_keras_computes(keras):
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((4, 3)).astype(np.float32)
    c = rng.standard_normal((4, 1)).astype(np.float32)
    cases = [("Add", {}, [a, b, c]), ("Subtract", {}, [a, b]), ("Multiply", {}, [a, b, c]), ("Average", {}, [a, b]),
             ("Maximum", {}, [a, b]), ("Minimum", {}, [a, c]), ("Concatenate", {"axis": -1}, [a, b, c]),
             ("Dot", {"axes": 1}, [a, b]), ("Dot", {"axes": 1, "normalize": True}, [a, b])]
    for name, kwargs, inputs in cases:
        ours = getattr(L, name)(**kwargs)(inputs).data
        theirs = keras.ops.convert_to_numpy(getattr(keras.layers, name)(**kwargs)(inputs))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=name)
    x3 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y3 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(L.Dot(axes=(2, 2))([x3, y3]).data,
                               keras.ops.convert_to_numpy(keras.layers.Dot(axes=(2, 2))([x3, y3])), rtol=1e-5)
    assert L.Dot(axes=(2, 2))([tr.Input((3, 4)), tr.Input((5, 4))]).shape == (None, 3, 5)


def test_merge_gradients_reach_every_input():
    a = tr.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tr.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    L.Add()([a, b]).sum().backward()
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))  # a skip connection passes the gradient unchanged
    a.grad = b.grad = None
    L.Multiply()([a, b]).sum().backward()
    np.testing.assert_array_equal(a.grad, b.data)
    # float64 layers: a float32 layer would round the nudged inputs of the finite differences
    assert tr.gradcheck(lambda p, q: L.Dot(axes=1, normalize=True, dtype="float64")([p, q]), [a.data, b.data])
    assert tr.gradcheck(lambda p, q: L.Concatenate(axis=0, dtype="float64")([p, q]) * 3.0, [a.data, b.data])


def test_merge_layer_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"Add 'add' should be called on at least 2 inputs"):
        L.Add()([tr.Input((3,))])
    with pytest.raises(ValueError, match=r"Subtract 'subtract' should be called on exactly 2 inputs, received 3"):
        L.Subtract()([tr.Input((3,))] * 3)
    with pytest.raises(ValueError, match=r"incompatible shapes \(None, 3\), \(None, 4\)"):
        L.Add(name="bad")([tr.Input((3,)), tr.Input((4,))])
    with pytest.raises(ValueError, match=r"matching shapes except for the concatenation axis"):
        L.Concatenate(axis=1)([tr.Input((3, 2)), tr.Input((4, 3))])
    assert (tr.Input((3,)) + 1.0)._keras_history.layer.op_name == "add"  # with a constant: the op, as Keras
    assert (tr.Input((3,)) + tr.Input((3,)))._keras_history.layer.__class__ is L.Add


def test_graph_errors_are_explained():
    x, other = tr.Input((3,), name="x"), tr.Input((3,), name="other")
    y = L.Dense(2)(other)
    with pytest.raises(ValueError, match=r"Graph disconnected: the outputs depend on .*name=other.*not one of the model's inputs"):
        Model(x, y)
    with pytest.raises(ValueError, match="must be symbolic tensors"):
        Model(x, np.ones(3))
    with pytest.raises(ValueError, match="inputs must be tensors made by Input"):
        Model(y, L.Dense(1)(y))
    h = L.Dense(2, name="twin")(x)
    with pytest.raises(ValueError, match=r'The name "twin" is used 2 times'):
        Model(x, L.Dense(2, name="twin")(h))


def test_save_load_config_and_json_round_trips(tmp_path):
    model = residual_cnn(tr)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((16, 8, 8, 3)).astype(np.float32), rng.integers(0, 4, 16)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "resnet.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded).__name__ == "Functional" and loaded.name == "resnet_block"
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)  # the optimizer state came along
    np.testing.assert_allclose(loaded.get_weights()[0], model.get_weights()[0], rtol=1e-5, atol=1e-7)
    rebuilt = Model.from_config(model.get_config())
    assert rebuilt.get_config()["layers"] == model.get_config()["layers"]
    assert [w.shape for w in model_from_json(model.to_json()).weights] == [w.shape for w in model.weights]


def test_config_is_keras_functional_config(keras):
    theirs = two_headed(keras).get_config()
    ours = two_headed(tr).get_config()
    assert ours["input_layers"] == list(theirs["input_layers"]) == ["features", 0, 0]
    assert ours["output_layers"] == [list(t) for t in theirs["output_layers"]] == [["cls", 0, 0], ["reg", 0, 0]]
    assert [l["name"] for l in ours["layers"]] == [l["name"] for l in theirs["layers"]]
    for mine, keras_layer in zip(ours["layers"], theirs["layers"]):
        assert [len(n["args"]) for n in mine["inbound_nodes"]] == [len(n["args"]) for n in keras_layer["inbound_nodes"]]
        for node, keras_node in zip(mine["inbound_nodes"], keras_layer["inbound_nodes"]):
            history = node["args"][0]["config"]["keras_history"]
            assert history == list(keras_node["args"][0]["config"]["keras_history"])
    loaded = Model.from_config(theirs)  # Keras' own config builds the same graph here
    assert [l.name for l in loaded.layers] == [l["name"] for l in theirs["layers"]]


def test_nested_sequential_transfer_learning_freezes_the_base(capsys):
    base = Sequential([L.Input((6,)), L.Dense(8, activation="relu"), L.BatchNormalization(), L.Dense(4)], name="base")
    base.trainable = False
    inputs = tr.Input((6,), name="features")
    outputs = L.Dense(2, activation="softmax", name="new_head")(base(inputs, training=False))
    model = Model(inputs, outputs)
    frozen = base.get_weights()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 2, 32)
    model.fit(x, y, epochs=2, verbose=0)
    for before, after in zip(frozen, base.get_weights()):
        np.testing.assert_array_equal(before, after)  # weights and BN statistics alike
    model.summary(line_length=88)
    out = capsys.readouterr().out
    assert "│ base (Sequential)" in out and " Trainable params: 10 (40.00 B)" in out
    assert " Non-trainable params: 124 (496.00 B)" in out  # 56 + 32 (BN: 16 trainable + 16 moving) + 36
    base.trainable = True
    assert len(model.trainable_weights) == 2 + 6  # head + the base's kernels, biases, gamma, beta


def test_keras_nested_model_weights_load(keras):
    def build(lib):
        base = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, activation="relu", name="b1"),
                               lib.layers.Dense(3, name="b2")], name="base")
        x = lib.Input((5,), name="x")
        return lib.Model(x, lib.layers.Dense(2, name="head")(lib.layers.concatenate([base(x), x])))

    theirs, ours = build(keras), build(tr)
    ours.set_weights(as_numpy(keras, theirs.get_weights()))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_sequential_inside_sequential():
    inner = Sequential([L.Dense(4, activation="relu"), L.Dense(4)], name="inner")
    outer = Sequential([L.Input((3,)), inner, L.Dense(1)])
    assert [w.shape for w in outer.weights] == [(3, 4), (4,), (4, 4), (4,), (4, 1), (1,)]
    outer.compile("sgd", "mse")
    x = rng.standard_normal((8, 3)).astype(np.float32)
    before = inner.get_weights()[0].copy()
    outer.fit(x, np.ones((8, 1)), verbose=0)
    assert not np.allclose(before, inner.get_weights()[0])


def test_clone_model_has_the_architecture_and_fresh_weights():
    model = residual_mlp(tr)
    twin = clone_model(model)
    assert [l.name for l in twin.layers] == [l.name for l in model.layers]
    assert not np.allclose(twin.get_weights()[0], model.get_weights()[0])
    twin.set_weights(model.get_weights())
    x = rng.standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    seq = Sequential([L.Input((3,)), L.Dense(2)])
    assert clone_model(seq).layers[0].kernel.shape == (3, 2)
    renamed = clone_model(model, clone_function=lambda layer: layer.__class__.from_config(
        {**layer.get_config(), "name": layer.name + "_copy"}))
    assert "h1_copy" in [l.name for l in renamed.layers]


@pytest.mark.parametrize("loss, labels", [("categorical_crossentropy", "onehot"),
                                          ("sparse_categorical_crossentropy", "sparse")])
def test_a_functional_softmax_head_is_fused_into_its_crossentropy_as_in_sequential(loss, labels):
    """The same layers as a Sequential and as a Functional model train to the same bits: both compute the loss from
    the logits, so a confidently wrong prediction gives a large finite loss, not inf."""
    x = rng.standard_normal((32, 6)).astype(np.float32) * 40  # large inputs: a saturated softmax
    classes = rng.integers(0, 4, 32)
    y = np.eye(4, dtype=np.float32)[classes] if labels == "onehot" else classes

    def build(functional):
        tr.utils.set_random_seed(3)
        hidden, head = L.Dense(8, activation="relu"), L.Dense(4, activation="softmax")
        if functional:
            inputs = tr.Input((6,))
            model = Model(inputs, head(hidden(inputs)))
        else:
            model = Sequential([tr.Input((6,)), hidden, head])
        model.compile("adam", loss, metrics=["accuracy"])
        return model

    seq, fun = build(False), build(True)
    for _ in range(3):
        a, b = seq.train_on_batch(x, y), fun.train_on_batch(x, y)
        assert a == b and np.isfinite(a[0])
    for w1, w2 in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    assert fun._fused_head() is not None


def test_a_softmax_output_that_another_layer_reads_is_not_fused():
    inputs = tr.Input((5,))
    probabilities = L.Dense(3, activation="softmax")(inputs)
    model = Model(inputs, [probabilities, L.Dense(2)(probabilities)])
    model.compile("sgd", ["categorical_crossentropy", "mse"])
    assert model._fused_head() is None  # two outputs: the general path
    single = Model(inputs, L.Add()([probabilities, L.Dense(3, activation="softmax")(probabilities)]))
    single.compile("sgd", "categorical_crossentropy")
    assert single._fused_head() is None  # its head is an Add
    x, y = rng.standard_normal((4, 5)).astype(np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    single.train_on_batch(x, y)
