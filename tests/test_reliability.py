"""Bad input, one case at a time: each mistake gives a ValueError (TypeError for a wrong type)
whose message names the layer or function and the values involved (issue 7, "Bad input").

Inputs in a convertible form (float64, ints, non-contiguous arrays, nested lists) are not
mistakes: they are accepted, converted once, and train exactly as float32 arrays do.
"""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu import utils
from tinygrad_relu.models import Sequential

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def mlp(loss="categorical_crossentropy", n_in=10):
    model = Sequential([L.Dense(4, activation="relu", input_shape=(n_in,), name="hidden"),
                        L.Dense(3, activation="softmax", name="out")])
    model.compile("adam", loss)
    return model


X = np.zeros((20, 10), np.float32)
Y_ONEHOT = np.eye(3, dtype=np.float32)[np.arange(20) % 3]
Y_INT = np.arange(20) % 3


# ---- shapes of the data ---------------------------------------------------------------------------
def test_feature_count_not_matching_the_model_names_layer_axis_and_shape():
    with pytest.raises(ValueError, match=r"Input 0 of layer 'hidden' is incompatible.*10.*\(20, 12\)"):
        mlp().fit(np.zeros((20, 12)), Y_ONEHOT, verbose=0)
    with pytest.raises(ValueError, match=r"layer 'hidden'.*10.*\(5, 12\)"):
        mlp().predict(np.zeros((5, 12)), verbose=0)


def test_feature_count_checked_after_a_model_built_itself_from_data():
    model = Sequential([L.Dense(4, name="first"), L.Dense(3)])
    model.compile("adam", "mse")
    model.fit(np.zeros((8, 10)), np.zeros((8, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"layer 'first'.*10.*\(8, 12\)"):
        model.fit(np.zeros((8, 12)), np.zeros((8, 3)), verbose=0)


@pytest.mark.parametrize("layer, data_shape, expected_ndim", [
    (lambda: L.Conv2D(2, 3, name="c2"), (2, 8, 8), 4),
    (lambda: L.Conv1D(2, 3, name="c1"), (2, 8), 3),
    (lambda: L.MaxPooling2D(2, name="p2"), (2, 8, 8), 4),
    (lambda: L.AveragePooling1D(2, name="p1"), (2, 8, 8, 1), 3),
    (lambda: L.GlobalAveragePooling2D(name="g2"), (2, 8, 8), 4),
])
def test_wrong_rank_for_conv_and_pooling_names_layer_and_both_ranks(layer, data_shape, expected_ndim):
    made = layer()
    pattern = rf"layer '{made.name}'.*expected ndim={expected_ndim}, found ndim={len(data_shape)}"
    with pytest.raises(ValueError, match=pattern):
        Sequential([made]).predict(np.zeros(data_shape), verbose=0)
    with pytest.raises(ValueError, match=pattern):  # called directly on a Tensor too
        type(made)(**made.get_config())(tr.Tensor(np.zeros(data_shape, np.float32)))


def test_wrong_rank_declared_in_input_shape_fails_at_construction():
    with pytest.raises(ValueError, match=r"layer 'conv'.*expected ndim=4, found ndim=3.*\(None, 8, 8\)"):
        Sequential([L.Conv2D(2, 3, input_shape=(8, 8), name="conv")])


def test_x_and_y_of_different_lengths_name_both_lengths():
    for method in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
        kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
        with pytest.raises(ValueError, match=rf"{method}: x and y .*x with 20 samples.*y with 15 samples"):
            getattr(mlp(), method)(X, Y_ONEHOT[:15], **kwargs)


def test_empty_data():
    with pytest.raises(ValueError, match=r"fit: x is empty \(shape \(0, 10\)\)"):
        mlp().fit(np.zeros((0, 10)), np.zeros((0, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"predict: x is empty"):
        mlp().predict(np.zeros((0, 10)), verbose=0)


@pytest.mark.parametrize("name, value", [("batch_size", 0), ("batch_size", -1), ("batch_size", 2.5),
                                         ("epochs", 0), ("epochs", -3), ("epochs", 1.5)])
def test_batch_size_and_epochs_must_be_positive(name, value):
    with pytest.raises(ValueError, match=rf"fit: {name} must be a positive integer, received {name}={re.escape(repr(value))}"):
        mlp().fit(X, Y_ONEHOT, verbose=0, **{name: value})


def test_batch_size_checked_in_evaluate_and_predict():
    with pytest.raises(ValueError, match=r"evaluate: batch_size .*batch_size=0"):
        mlp().evaluate(X, Y_ONEHOT, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"predict: batch_size .*batch_size=-2"):
        mlp().predict(X, batch_size=-2, verbose=0)


def test_non_numeric_and_ragged_data():
    with pytest.raises(TypeError, match=r"fit: x must hold numbers, received dtype <U"):
        mlp().fit(np.array([["a"] * 10] * 20), Y_ONEHOT, verbose=0)
    with pytest.raises(ValueError, match=r"fit: x must be a rectangular array"):
        mlp().fit([[1.0, 2.0], [3.0]], Y_ONEHOT[:2], verbose=0)
    with pytest.raises(ValueError, match=r"fit: y \(the targets\) is required"):
        mlp().fit(X, verbose=0)


# ---- labels that do not fit the loss --------------------------------------------------------------
def test_integer_labels_to_categorical_crossentropy_suggest_the_sparse_loss():
    with pytest.raises(ValueError, match=r"categorical_crossentropy: y_true of shape \(20,\).*\(20, 3\)"
                                         r".*sparse_categorical_crossentropy"):
        mlp().fit(X, Y_INT, verbose=0)


def test_one_hot_labels_to_the_sparse_loss():
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: y_true of shape \(20, 3\) looks one-hot"
                                         r".*loss='categorical_crossentropy'"):
        mlp("sparse_categorical_crossentropy").fit(X, Y_ONEHOT, verbose=0)


@pytest.mark.parametrize("bad", [3, 7, -1])
def test_class_index_out_of_range(bad):
    labels = Y_INT.copy()
    labels[4] = bad
    with pytest.raises(ValueError, match=rf"sparse_categorical_crossentropy: class index {bad} is out of range"
                                         r".*3 classes.*0\.\.2"):
        mlp("sparse_categorical_crossentropy").fit(X, labels, verbose=0)


def test_target_shape_not_matching_the_output():
    with pytest.raises(ValueError, match=r"mean_squared_error: .*y_true shape \(20, 4\).*y_pred shape \(20, 3\)"):
        mlp("mse").fit(X, np.zeros((20, 4)), verbose=0)


def test_fractional_class_indices():
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: class indices must be whole numbers"):
        mlp("sparse_categorical_crossentropy").fit(X, np.full(20, 0.5), verbose=0)


# ---- layer arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: Sequential([L.Conv2D(2, 5, input_shape=(3, 3, 1), name="c")]),
     r"Conv2D 'c': the kernel \(size \(5, 5\).*larger than spatial axis 1 of the input \(3\) with padding='valid'"),
    (lambda: Sequential([L.Conv1D(2, 5, input_shape=(3, 1), name="c")]),
     r"Conv1D 'c': the kernel \(size \(5,\).*larger than spatial axis 1 of the input \(3\)"),
    (lambda: Sequential([L.Conv2D(2, 3, dilation_rate=2, input_shape=(4, 4, 1), name="c")]),
     r"Conv2D 'c': the kernel \(size \(3, 3\), dilation \(2, 2\), spanning 5\).*input \(4\)"),
    (lambda: Sequential([L.MaxPooling2D(4, input_shape=(3, 3, 1), name="p")]),
     r"MaxPooling2D 'p': pool_size \(4, 4\) is larger than spatial axis 1 of the input \(3\)"),
    (lambda: Sequential([L.Conv2D(2, 5, name="c")]).predict(np.zeros((1, 3, 3, 1)), verbose=0),
     r"Conv2D 'c': the kernel .*larger than spatial axis 1 of the input \(3\)"),
])
def test_kernel_larger_than_the_input_with_valid_padding(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_same_padding_accepts_a_kernel_larger_than_the_input():
    model = Sequential([L.Conv2D(2, 5, padding="same", input_shape=(3, 3, 1))])
    assert model.predict(np.ones((1, 3, 3, 1)), verbose=0).shape == (1, 3, 3, 2)


@pytest.mark.parametrize("make, argument, value", [
    (lambda v: L.Dense(v, name="x"), "units", 0),
    (lambda v: L.Dense(v, name="x"), "units", -4),
    (lambda v: L.Conv2D(v, 3, name="x"), "filters", 0),
    (lambda v: L.Conv1D(v, 3, name="x"), "filters", -1),
    (lambda v: L.Conv2D(2, 3, strides=v, name="x"), "strides", 0),
    (lambda v: L.Conv1D(2, 3, strides=v, name="x"), "strides", -1),
    (lambda v: L.Conv2D(2, v, name="x"), "kernel_size", 0),
    (lambda v: L.Conv2D(2, 3, dilation_rate=v, name="x"), "dilation_rate", 0),
    (lambda v: L.Conv1D(2, 3, dilation_rate=v, name="x"), "dilation_rate", -2),
    (lambda v: L.MaxPooling2D(v, name="x"), "pool_size", 0),
    (lambda v: L.AveragePooling1D(v, name="x"), "pool_size", -1),
    (lambda v: L.MaxPooling1D(2, strides=v, name="x"), "strides", 0),
    (lambda v: L.Conv2D(2, 3, strides=v, name="x"), "strides", (1, 0)),
])
def test_zero_or_negative_sizes_name_layer_argument_and_value(make, argument, value):
    with pytest.raises(ValueError, match=rf"Layer 'x'.*`{argument}`.*{argument}={re.escape(repr(value))}"):
        make(value)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "half"])
def test_dropout_rate_outside_zero_one(rate):
    with pytest.raises(ValueError, match=rf"Dropout 'drop': `rate` must be a number in \[0, 1\), "
                                         rf"received rate={re.escape(repr(rate))}"):
        L.Dropout(rate, name="drop")


def test_unknown_padding_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Conv2D 'c': `padding` must be one of \('valid', 'same'\), "
                                         r"received padding='full'"):
        L.Conv2D(2, 3, padding="full", name="c")


@pytest.mark.parametrize("make, message", [
    (lambda v: L.BatchNormalization(momentum=v, name="bn"),
     r"BatchNormalization 'bn': `momentum` must be a number in \[0, 1\], received momentum={}"),
    (lambda v: L.BatchNormalization(epsilon=v, name="bn"),
     r"BatchNormalization 'bn': `epsilon` must be a finite positive number, received epsilon={}"),
    (lambda v: L.LeakyReLU(negative_slope=v, name="a"),
     r"LeakyReLU 'a': `negative_slope` must be a finite number, received negative_slope={}"),
    (lambda v: L.ReLU(negative_slope=v, name="a"), r"ReLU 'a': `negative_slope` must be a finite number"),
    (lambda v: L.ReLU(threshold=v, name="a"), r"ReLU 'a': `threshold` must be a finite number, received threshold={}"),
    (lambda v: L.ReLU(max_value=v, name="a"), r"ReLU 'a': `max_value` must be a finite number"),
    (lambda v: L.ELU(alpha=v, name="a"), r"ELU 'a': `alpha` must be a finite number, received alpha={}"),
])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_infinite_layer_settings_name_layer_argument_and_value(make, message, value):
    with pytest.raises(ValueError, match=message.format(re.escape(repr(value)))):
        make(value)


def test_zero_sized_input_shape_names_the_layer():
    with pytest.raises(ValueError, match=r"Layer 'd': every axis of the input shape must be positive, received "
                                         r"input shape \(0,\)"):
        L.Dense(2, input_shape=(0,), name="d")
    with pytest.raises(ValueError, match=r"Layer 'c': .*input shape \(8, 0, 1\)"):
        L.Conv2D(2, 3, input_shape=(8, 0, 1), name="c")


def test_float16_layers_are_refused_float16_inputs_computed_as_float32():
    # decision: the kernels compute in float32 and float64; a float16 layer is refused at once, and
    # float16 data is converted to the layer's dtype, so it trains exactly as its float32 values do
    with pytest.raises(ValueError, match=r"Layer 'half': dtype must be float32 or float64, received "
                                         r"dtype='float16' \(float16 inputs are fine"):
        L.Dense(2, dtype="float16", name="half")
    rng = np.random.default_rng(3)
    x16, y = rng.normal(size=(40, 6)).astype(np.float16), rng.normal(size=(40, 2)).astype(np.float32)
    reference = trained_weights(x16.astype(np.float32), y)
    for a, b in zip(reference, trained_weights(x16, y)):
        np.testing.assert_array_equal(a, b)
    layer = L.Dense(3, activation="relu")
    x = tr.Tensor(x16, dtype="float16", requires_grad=True)
    out = layer(x)
    out.sum().backward()
    twin = tr.Tensor(x16.astype(np.float32), requires_grad=True)
    layer(twin).sum().backward()
    np.testing.assert_array_equal(out.data, layer(twin).data)
    np.testing.assert_array_equal(x.grad, twin.grad.astype(np.float16))


@pytest.mark.parametrize("noise_shape, input_shape", [((None, 5), (4, 3)), ((7,), (4, 3)), ((None,), (4, 3)),
                                                      ((4, 2, 3), (4, 3, 3))])
def test_dropout_noise_shape_not_fitting_the_input_names_the_layer(noise_shape, input_shape):
    message = rf"Dropout 'drop': noise_shape {re.escape(str(noise_shape))} does not fit an input of shape"
    with pytest.raises(ValueError, match=message):
        L.Dropout(0.5, noise_shape=noise_shape, name="drop")(tr.Tensor(np.ones(input_shape, np.float32)), training=True)
    with pytest.raises(ValueError, match=message):  # in a model: when it is built, before any data
        Sequential([L.Dense(input_shape[-1], input_shape=input_shape[1:]), L.Dropout(0.5, noise_shape=noise_shape,
                                                                                       name="drop")])
    with pytest.raises(ValueError, match=r"Dropout 'drop': `noise_shape` must be a tuple of positive ints or None"):
        L.Dropout(0.5, noise_shape=(None, 0), name="drop")


def test_dropout_noise_shape_shares_the_mask_along_axes_of_one():
    out = L.Dropout(0.5, noise_shape=(None, 1, 4), seed=1)(tr.Tensor(np.ones((3, 5, 4), np.float32)), training=True)
    assert (out.data == out.data[:, :1, :]).all() and 0 < np.count_nonzero(out.data) < out.data.size


# ---- unknown names list the known ones ------------------------------------------------------------
def test_unknown_activation():
    with pytest.raises(ValueError, match=r"unknown activation 'relu7'; known names: .*leaky_relu.*relu"):
        L.Dense(3, activation="relu7")
    with pytest.raises(TypeError, match=r"activations.get: .*int 5"):
        L.Dense(3, activation=5)


def test_unknown_optimizer_loss_and_metric():
    model = Sequential([L.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'. Known optimizers: .*adam.*sgd"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'. Known losses: .*mean_squared_error"):
        model.compile("adam", "msee")
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'. Known metrics: .*accuracy"):
        model.compile("adam", "mse", metrics=["acuracy"])


def test_unknown_initializer_and_regularizer():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot'. Known initializers: .*glorot_uniform"):
        L.Dense(3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l3'. Known regularizers: l1, l1_l2, l2"):
        L.Dense(3, kernel_regularizer="l3")


def test_unknown_layer_class_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown layer class 'Denze'; known layers: .*Dense"):
        L.get("Denze")


# ---- order of calls and weights -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_or_evaluating_before_compile(method):
    model = Sequential([L.Dense(3, input_shape=(10,))], name="uncompiled")
    with pytest.raises(ValueError, match=rf"You must call `compile\(\)` before calling `{method}\(\)` "
                                         r"on model 'uncompiled'"):
        getattr(model, method)(X, Y_ONEHOT)


def test_set_weights_with_the_wrong_count():
    with pytest.raises(ValueError, match=r"set_weights expected a list of 4 arrays.*received 1"):
        mlp().set_weights([np.zeros((10, 4))])
    with pytest.raises(ValueError, match=r"Layer 'hidden': set_weights expected a list of 2 arrays "
                                         r"\(kernel, bias\), received 3"):
        mlp().layers[0].set_weights([np.zeros((10, 4)), np.zeros(4), np.zeros(4)])


def test_set_weights_with_the_wrong_shape_names_layer_and_both_shapes():
    model = mlp()
    before = model.get_weights()
    wrong = [np.ones((10, 4)), np.ones(4), np.ones((4, 5)), np.ones(3)]
    with pytest.raises(ValueError, match=r"Layer 'out': weight 'kernel' has shape \(4, 3\), "
                                         r"received an array of shape \(4, 5\)"):
        model.set_weights(wrong)
    for a, b in zip(before, model.get_weights()):  # checked before anything changed
        np.testing.assert_array_equal(a, b)


def test_library_level_arguments():
    with pytest.raises(ValueError, match=r"set_random_seed: expected an integer seed, received 'a'"):
        utils.set_random_seed("a")
    with pytest.raises(ValueError, match=r"set_random_seed: the seed must be non-negative, received -1"):
        utils.set_random_seed(-1)
    with pytest.raises(ValueError, match=r"set_num_threads: n must be at least 1, got 0"):
        tr.set_num_threads(0)
    with pytest.raises(ValueError, match=r"to_categorical: class index 5 is out of range for num_classes=3"):
        utils.to_categorical([0, 5], num_classes=3)


def test_set_num_threads_with_a_wrong_type_names_the_function():
    with pytest.raises(TypeError, match=r"set_num_threads: .*'two'"):
        tr.set_num_threads("two")


def test_set_num_threads_has_an_upper_bound():
    before = tr.get_num_threads()
    cap = tr.max_num_threads()
    assert cap >= 4 * (os.cpu_count() or 1) and cap >= 64
    with pytest.raises(ValueError, match=rf"set_num_threads: n must be at most {cap} \(4 per CPU, at least 64.*"
                                         r"got 20000"):
        tr.set_num_threads(20000)
    assert tr.get_num_threads() == before  # nothing changed


def test_optimizer_set_state_checks_everything_before_changing_anything():
    model = mlp()
    model.train_on_batch(X, Y_ONEHOT)
    optimizer = model.optimizer
    state = optimizer.get_state()
    # other values in every slot, and a wrong shape in the last one only
    broken = state[:2] + [a + 1 for a in state[2:-1]] + [np.zeros(7, np.float32)]
    for bad, message in ((broken, r"slot 'velocity' of parameter 3 has shape \(3,\)"),
                         ([state[0], np.array(-1e6)] + state[2:],
                          r"learning_rate must be a finite non-negative number, received -1000000.0"),
                         ([state[0], np.array(np.nan)] + state[2:], r"received nan")):
        bad[0] = np.array(99, np.int64)
        with pytest.raises(ValueError, match=rf"Adam.set_state: .*{message}"):
            optimizer.set_state(bad)
        assert optimizer.iterations == 1 and optimizer.learning_rate == pytest.approx(0.001)
        for a, b in zip(state, optimizer.get_state()):
            np.testing.assert_array_equal(a, b)


# ---- replacing .data after the forward ---------------------------------------------------------------
REPLACED_DATA = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    import numpy as np
    import tinygrad_relu as tr
    from tinygrad_relu import layers as L

    def attempt(name, run):
        x = tr.Tensor(np.random.default_rng(0).normal(size=1000).astype(np.float32), requires_grad=True)
        try:
            run(x)
            print(name, "ok", flush=True)
        except Exception as err:
            print(name, type(err).__name__, err, flush=True)

    def between_ops(x):  # the kernels would read the saved 1,000 floats as 1,000,000
        y = x.relu()
        y.data = np.zeros(10 ** 6, np.float32)
        y.sum().backward()

    def after_the_forward(x):
        y = x.relu()
        loss = y.sum()
        y.data = np.zeros(10, np.float32)
        loss.backward()

    def leaf(x):  # a broadcastable shape: the gradient was silently broadcast to it
        loss = (x * 2).relu().sum()
        x.data = np.zeros((3, 1000), np.float32)
        loss.backward()

    def layer_weight(x):
        layer = L.Dense(4, activation="relu")
        loss = layer(x.reshape(10, 100)).sum()
        layer.kernel.data = np.zeros((100, 5), np.float32)
        loss.backward()

    def same_shape(x):  # replacing values, not the shape, is allowed
        y = x.relu()
        y.data = np.ones(1000, np.float32)
        y.sum().backward()
        assert x.grad.shape == (1000,)

    for name, run in [("between_ops", between_ops), ("after_the_forward", after_the_forward), ("leaf", leaf),
                      ("layer_weight", layer_weight), ("same_shape", same_shape)]:
        attempt(name, run)
""")


def test_replacing_data_by_another_shape_then_backward_names_the_op_and_both_shapes():
    out = subprocess.run([sys.executable, "-c", REPLACED_DATA.format(repo=REPO)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"the interpreter died ({out.returncode}): {out.stdout} {out.stderr}"
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert re.match(r"RuntimeError backward: ReLU produced a tensor of shape \(1000,\), but that tensor now holds "
                    r"shape \(1000000,\) and the gradient reaching it has shape \(1000000,\)", lines["between_ops"])
    assert re.match(r"RuntimeError backward: ReLU produced a tensor of shape \(1000,\), but that tensor now holds "
                    r"shape \(10,\)", lines["after_the_forward"])
    assert re.match(r"RuntimeError backward: Mul returned a gradient of shape \(1000,\) for an input tensor that "
                    r"now has shape \(3, 1000\)", lines["leaf"])
    assert re.match(r"RuntimeError backward: \w+ returned a gradient of shape \(100, 4\) for an input tensor that "
                    r"now has shape \(100, 5\)", lines["layer_weight"])
    assert lines["same_shape"] == "ok"


# ---- convertible inputs are accepted and converted once -------------------------------------------
class CountingArrayLike:
    """An array-like that counts how often it is converted (a conversion per batch would show)."""

    def __init__(self, array):
        self.array = array
        self.conversions = 0

    def __len__(self):
        return len(self.array)

    def __array__(self, dtype=None, copy=None):
        self.conversions += 1
        return self.array if dtype is None else self.array.astype(dtype)


def trained_weights(x, y, record=None):
    L.reset_uids()
    utils.set_random_seed(7)
    model = Sequential([L.Dense(5, activation="relu", input_shape=(6,)), L.Dense(2)])
    model.compile("sgd", "mse")
    if record is not None:
        first = model.layers[0]
        original = first.call

        def spy(h, training=False):
            record.append((h.data.dtype, h.data.flags.c_contiguous))
            return original(h, training=training)
        first.call = spy
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model.get_weights()


def test_float64_int_noncontiguous_and_list_inputs_train_exactly_like_float32():
    rng = np.random.default_rng(1)
    x_int = rng.integers(-3, 4, size=(40, 6))
    y = rng.normal(size=(40, 2))
    reference = trained_weights(x_int.astype(np.float32), y.astype(np.float32))
    wide = np.zeros((40, 12))
    wide[:, ::2] = x_int
    variants = {"float64": x_int.astype(np.float64), "int64": x_int, "int32": x_int.astype(np.int32),
                "non-contiguous": wide[:, ::2], "fortran": np.asfortranarray(x_int.astype(np.float32)),
                "nested list": x_int.tolist()}
    assert not variants["non-contiguous"].flags.c_contiguous
    for name, x in variants.items():
        seen = []
        weights = trained_weights(x, y.tolist() if name == "nested list" else y, record=seen)
        assert seen and all(d == np.float32 and contiguous for d, contiguous in seen), name
        for a, b in zip(reference, weights):
            np.testing.assert_array_equal(a, b, err_msg=name)
        assert all(w.dtype == np.float32 for w in weights)


def test_inputs_are_converted_once_not_per_batch():
    rng = np.random.default_rng(2)
    x = CountingArrayLike(rng.normal(size=(64, 6)))   # float64: needs conversion to float32
    y = CountingArrayLike(rng.normal(size=(64, 2)))
    model = Sequential([L.Dense(3, input_shape=(6,)), L.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # 32 batches
    assert x.conversions == 1 and y.conversions == 1
    model.predict(x, batch_size=4, verbose=0)
    assert x.conversions == 2


def test_integer_labels_and_bool_targets_accepted():
    model = mlp("sparse_categorical_crossentropy")
    for labels in (Y_INT.astype(np.int32), Y_INT.astype(np.uint8), Y_INT.astype(np.float64), Y_INT.tolist()):
        assert np.isfinite(model.train_on_batch(X, labels))
    binary = Sequential([L.Dense(1, activation="sigmoid", input_shape=(10,))])
    binary.compile("adam", "binary_crossentropy")
    assert np.isfinite(binary.train_on_batch(X, (Y_INT > 0)[:, None]))
