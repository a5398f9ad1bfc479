"""Layer subclasses with Keras 3's contracts: the idioms of Keras' guide "Making new layers and models via
subclassing" (written here with the imports changed), call signatures, add_weight, output shapes,
add_loss and activity penalties through nesting, trainable through nesting, get_config; against
Keras 3 where it is installed and against hand-computed values."""
import numpy as np
import pytest

import tinygrad_relu as keras  # a Keras 3 script with only its import changed
from tinygrad_relu import layers, ops
from tinygrad_relu.models import Sequential


# ---- the guide's idioms ---------------------------------------------------------------------------
class EagerLinear(keras.layers.Layer):
    """Weights made in __init__ (the guide's first Linear)."""

    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class Linear(keras.layers.Layer):
    """Weights deferred to build(input_shape), config round trip."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class RunningSum(keras.layers.Layer):
    """A non-trainable weight updated in place during call."""

    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


class ThreeLinear(keras.layers.Layer):
    """Sublayers tracked as attributes, built on the first call."""

    def __init__(self):
        super().__init__()
        self.first, self.second, self.last = Linear(32), Linear(32), Linear(1)

    def call(self, inputs):
        x = keras.activations.relu(self.first(inputs))
        return self.last(keras.activations.relu(self.second(x)))


class MeanPenalty(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class Wrapper(keras.layers.Layer):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def call(self, inputs):
        return self.inner(inputs)


def test_weights_made_in_init_and_in_build():
    layer = EagerLinear(4, 2)
    y = layer(ops.ones((2, 2)))
    assert y.shape == (2, 4)
    assert layer.weights == [layer.w, layer.b]
    lazy = Linear(32)
    assert not lazy.built and lazy.weights == []
    lazy(ops.ones((3, 5)))
    assert lazy.built and [w.shape for w in lazy.weights] == [(5, 32), (32,)]


def test_a_non_trainable_weight_updated_in_call():
    layer = RunningSum(2)
    assert layer(ops.ones((2, 2))).numpy().tolist() == [2.0, 2.0]
    assert layer(ops.ones((2, 2))).numpy().tolist() == [4.0, 4.0]
    assert (len(layer.weights), len(layer.non_trainable_weights), layer.trainable_weights) == (1, 1, [])


def test_nested_layers_are_tracked_and_their_weights_collected():
    block = ThreeLinear()
    block(ops.ones((3, 64)))
    assert len(block.weights) == 6 and len(block.trainable_weights) == 6
    assert block._tracked_layers() == [block.first, block.second, block.last]


def test_add_loss_is_reset_at_each_top_level_call_and_collected_through_nesting():
    outer = Wrapper(MeanPenalty(1e-2))
    assert outer.losses == []
    outer(ops.ones((1, 1)))
    assert len(outer.losses) == 1 and outer.losses[0].item() == pytest.approx(1e-2)
    outer(ops.zeros((1, 1)))
    assert len(outer.losses) == 1 and outer.losses[0].item() == 0.0
    regularized = Wrapper(layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3)))
    regularized(ops.zeros((1, 1)))
    (penalty,) = regularized.losses
    assert penalty.item() == pytest.approx(1e-3 * np.sum(regularized.inner.kernel.data ** 2), rel=1e-6)


def test_add_loss_trains_with_and_without_a_compiled_loss():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, MeanPenalty(0.5)(layers.Dense(3)(inputs)))
    x, y = np.random.random((4, 3)), np.random.random((4, 3))
    model.compile(optimizer="sgd", loss="mse")
    with_mse = model.evaluate(x, y, verbose=0)
    prediction = model.predict(x, verbose=0)
    assert with_mse == pytest.approx(np.mean((prediction - y) ** 2) + 0.5 * prediction.mean(), rel=1e-5)
    model.compile(optimizer="sgd")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(0.5 * prediction.mean(), rel=1e-5)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]  # it minimizes the added loss alone
    plain = keras.Model(inputs, layers.Dense(3)(inputs))
    plain.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        plain.fit(x, y, verbose=0)


def test_config_round_trip_with_and_without_get_config():
    layer = Linear(64, name="lin")
    config = layer.get_config()
    assert config == {"name": "lin", "trainable": True, "dtype": "float32", "units": 64}
    assert Linear.from_config(config).units == 64

    class Scaled(keras.layers.Layer):  # no get_config: Keras serializes the constructor's plain arguments
        def __init__(self, factor=2.0, label="x", **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    config = Scaled(3.0, name="s").get_config()
    assert config["factor"] == 3.0 and config["label"] == "x" and config["name"] == "s"
    assert Scaled.from_config(config).factor == 3.0

    class Holder(keras.layers.Layer):
        def __init__(self, table):
            super().__init__()
            self.table = table

        def call(self, x):
            return x

    with pytest.raises(NotImplementedError, match="must define get_config"):
        Holder(np.zeros(3)).get_config()


# ---- call signatures ------------------------------------------------------------------------------
class Records(keras.layers.Layer):
    """Records the training value its call receives."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class NoTrainingArgument(keras.layers.Layer):
    """Its call takes no training; the Records inside still learns the phase from the outer call."""

    def __init__(self):
        super().__init__()
        self.inner = Records()

    def call(self, x):
        return self.inner(x)


def test_training_reaches_layers_nested_in_a_call_without_a_training_argument():
    layer = NoTrainingArgument()
    model = Sequential([layers.Input((2,)), layer, layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    assert layer.inner.seen[-2:] == [True, False]
    layer.inner.seen.clear()
    layer(x)  # at the top level, without training: False (the call's default None becomes False)
    layer(x, training=True)
    assert layer.inner.seen == [False, True]


def test_mask_is_passed_only_to_a_call_that_takes_it():
    class Masked(keras.layers.Layer):
        def call(self, x, mask=None):
            return x if mask is None else x * ops.cast(mask, "float32")

    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(Masked()(x, mask=np.array([[1, 0, 1], [0, 1, 1]])).data, [[1, 0, 1], [0, 1, 1]])
    with pytest.raises(TypeError, match="takes no `mask`"):
        layers.Dense(2)(x, mask=np.ones((2, 3)))


# ---- add_weight -------------------------------------------------------------------------------------
def test_add_weight_in_keras_keyword_and_positional_order():
    layer = keras.layers.Layer()
    w = layer.add_weight((4, 3), "ones")
    assert w.shape == (4, 3) and np.all(w.data == 1) and w.requires_grad
    b = layer.add_weight(shape=(3,), initializer="zeros", dtype="float64", trainable=False, name="b")
    assert b.dtype == np.float64 and not b.requires_grad and layer.weight_names == ["variable", "b"]
    scalar = layer.add_weight()
    assert scalar.shape == ()  # Keras: shape defaults to a scalar, the initializer to glorot_uniform
    counter = layer.add_weight(shape=(), dtype="int32", trainable=False)
    assert counter.dtype == np.int32 and counter.item() == 0
    with pytest.raises(ValueError, match="pass the name by keyword"):
        layer.add_weight("kernel", (3, 3))
    layer.add_weight(shape=(2,), constraint="non_neg", name="positive")  # Keras' names resolve, as constraints.get
    assert type(layer._weight_records[-1].constraint).__name__ == "NonNeg"
    with pytest.raises(ValueError, match="Unknown constraint 'non_negative'"):
        layer.add_weight(shape=(2,), constraint="non_negative")


def test_a_weight_constraint_is_applied_after_each_update():
    class NonNegative(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="ones",
                                     constraint=lambda w: ops.maximum(w, 0.0))

        def call(self, x):
            return ops.matmul(x, self.w)

    model = Sequential([layers.Input((3,)), NonNegative()])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    model.fit(np.ones((8, 3), np.float32), -10 * np.ones((8, 1), np.float32), epochs=2, verbose=0)
    assert np.all(model.layers[0].w.data == 0)  # the update drove them negative; the constraint clipped


# ---- output shapes ----------------------------------------------------------------------------------
class Widen(keras.layers.Layer):
    """Changes the width and defines no compute_output_shape."""

    def call(self, x):
        return ops.concatenate([x, x * x, ops.sin(x)], axis=-1)


def test_a_layer_that_changes_the_width_feeds_the_next_dense():
    model = Sequential([layers.Input((4,)), Widen(), layers.Dense(2)])
    assert model.layers[1].kernel.shape == (12, 2)
    assert model.output_shape == (None, 2)
    assert model.predict(np.ones((3, 4), np.float32), verbose=0).shape == (3, 2)


def test_output_shapes_found_by_running_on_zeros_keep_unknown_axes_unknown():
    x = keras.Input(shape=(None, 3))

    class SumTime(keras.layers.Layer):
        def call(self, x):
            return ops.sum(x, axis=1)

    assert Widen()(x).shape == (None, None, 9)
    assert SumTime()(x).shape == (None, 3)
    running = RunningSum(3)
    running(keras.Input(shape=(3,)))  # a symbolic call does not run the update for real
    assert np.all(running.total.data == 0)


def test_multiple_outputs_and_a_tuple_input():
    class Split(keras.layers.Layer):
        def call(self, x):
            return x[:, :2], x[:, 2:]

    class Join(keras.layers.Layer):
        def call(self, inputs):
            a, b = inputs
            return ops.concatenate([b, a], axis=-1)

    inputs = keras.Input((5,))
    a, b = Split()(inputs)
    assert (a.shape, b.shape) == ((None, 2), (None, 3))
    model = keras.Model(inputs, Join()((a, b)))
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.concatenate([x[:, 2:], x[:, :2]], axis=1))


# ---- activity penalties, freezing, weight order: against Keras ----------------------------------------
def test_activity_regularizer_is_the_penalty_per_sample_as_keras(keras):
    x = np.arange(8, dtype=np.float32).reshape(4, 2) / 10
    ours = layers.Dense(3, activity_regularizer=keras_l2(0.1))
    out = ours(x)
    (penalty,) = ours.losses
    assert penalty.item() == pytest.approx(0.1 * np.sum(out.data ** 2) / 4, rel=1e-6)
    theirs = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1))
    theirs.build((None, 2))
    theirs.set_weights(ours.get_weights())
    theirs(x)
    assert penalty.item() == pytest.approx(float(theirs.losses[0]), rel=1e-5)
    assert ours.get_config()["activity_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}


def keras_l2(value):
    return keras.regularizers.L2(value)


def test_fit_adds_the_activity_penalty_to_the_loss():
    model = Sequential([layers.Input((2,)), layers.Dense(3, activity_regularizer=keras_l2(0.5))])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 3), np.float32)
    out = model.predict(x, verbose=0)
    expected = np.mean(out ** 2) + 0.5 * np.sum(out ** 2) / 4
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


class Block(keras.layers.Layer):
    """Own weights (trainable and not) interleaved with sublayers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = layers.Dense(3)
        self.scale = self.add_weight(shape=(3,), initializer="ones", name="scale")
        self.d2 = layers.Dense(2)
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, x):
        return self.d2(self.d1(x) * self.scale)


def test_nested_weight_order_is_keras_order_and_keras_weights_load(keras):
    ours = Block()
    ours(np.ones((2, 4), np.float32))
    assert ours.weight_names == ["scale", "count", "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]

    class KerasBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.d1 = keras.layers.Dense(3)
            self.scale = self.add_weight(shape=(3,), initializer="random_normal", name="scale")
            self.d2 = keras.layers.Dense(2)
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

        def call(self, x):
            return self.d2(self.d1(x) * self.scale)

    theirs = KerasBlock()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(theirs(x))
    assert [w.path.split("/")[-1] for w in theirs.weights] == [n.split("/")[-1] for n in ours.weight_names]
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in theirs.get_weights()])
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-5, atol=1e-6)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 5


def test_freezing_a_layer_freezes_everything_inside_it():
    block = Block()
    block(np.ones((2, 4), np.float32))
    block.trainable = False
    assert not block.d1.trainable and block.trainable_weights == [] and len(block.non_trainable_weights) == 6
    assert not any(w.requires_grad for w in block.weights)
    block.trainable = True
    assert block.d2.trainable and len(block.trainable_weights) == 5 and not block.count.requires_grad


def test_frozen_nested_weights_do_not_move_in_fit_and_summary_counts_them(capsys):
    block = Block()
    model = Sequential([layers.Input((4,)), block, layers.Dense(1)])
    block.trainable = False
    before = block.get_weights()
    model.compile("adam", "mse")
    model.fit(np.ones((8, 4), np.float32), np.ones((8, 1), np.float32), epochs=2, verbose=0)
    for a, b in zip(before, block.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.summary(line_length=88)
    out = capsys.readouterr().out
    assert " Trainable params: 3 (12.00 B)" in out  # only the last Dense: 2 weights + 1 bias
    assert " Non-trainable params: 27 (108.00 B)" in out  # 3 + 1 + 15 + 8


def test_forgetting_super_init_is_named():
    class Forgetful(keras.layers.Layer):
        def __init__(self):
            self.units = 3

        def call(self, x):
            return x

    with pytest.raises(RuntimeError, match=r"forgot to call `super\(\).__init__\(\)`"):
        Forgetful()(np.ones((1, 2)))
