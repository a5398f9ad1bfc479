"""Variables (weights, optimizer.learning_rate and .iterations), tinygrad_relu.config and backend, and the small
things of issue 11 a Keras user meets: summary options, layer.output / model.inputs, History.params,
ModelCheckpoint's lines, utils.normalize, to_categorical's dtype. Checked against Keras 3 where it is installed."""
import io
import re
import contextlib

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import backend, callbacks, config, layers as L, optimizers, utils
from tinygrad_relu.models import Sequential, load_model
from tinygrad_relu.variables import Variable


def _same_models(module):
    """The same little models built with ``module`` (ours or keras), in the same order (names count)."""
    module.utils.clear_session() if hasattr(module.utils, "clear_session") else None
    sequential = module.Sequential([module.Input((4,)), module.layers.Dense(3), module.layers.BatchNormalization()])
    inputs = module.Input((4,))
    functional = module.Model(inputs, module.layers.Dense(2)(sequential(inputs)))
    unbuilt = module.Sequential([module.layers.Dense(2)])
    unbuilt.build((None, 5))
    return sequential, functional, unbuilt


def test_weight_names_and_paths_are_keras(keras):
    ours, theirs = _same_models(tr), _same_models(keras)
    for mine, keras_model in zip(ours, theirs):
        assert [(w.name, w.path, w.trainable) for w in mine.weights] == \
               [(w.name, w.path, w.trainable) for w in keras_model.weights]
        assert all(isinstance(w, Variable) and isinstance(w, tr.Tensor) for w in mine.weights)


def test_variable_surface():
    layer = L.Dense(3)
    layer.build((None, 2))
    kernel = layer.kernel
    assert (kernel.name, kernel.path, kernel.shape, kernel.dtype) == ("kernel", "dense/kernel", (2, 3), np.float32)
    assert kernel.value is kernel and kernel.trainable
    snapshot = kernel.numpy()
    kernel.assign(np.ones((2, 3)))
    kernel.assign_add(2.0)
    kernel.assign_sub(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(layer.get_weights()[0], np.full((2, 3), 2.5))
    assert not np.array_equal(snapshot, kernel.numpy())  # numpy() is a copy, not a view of the live weight
    assert repr(kernel).startswith("<Variable path=dense/kernel, shape=(2, 3), dtype=float32, value=")
    with pytest.raises(ValueError, match=r"the value has shape \(3,\) but the variable has shape \(2, 3\)"):
        kernel.assign(np.ones(3))
    made = Variable("ones", shape=(2,), name="scale")
    assert made.path == "scale" and made.numpy().tolist() == [1.0, 1.0] and made.dtype == np.float32
    with pytest.raises(ValueError, match="needs a `shape`"):
        Variable("zeros")
    assert (tr.Tensor([1.0, 2.0]) == tr.Tensor([1.0, 3.0])).tolist() == [True, False]  # elementwise, as Keras


def test_trainable_is_the_gradient_switch_and_freezing_a_layer_sets_it():
    model = Sequential([L.Input((2,)), L.Dense(2), L.Dense(1)])
    model.compile(optimizers.SGD(0.5), "mse")
    first = model.layers[0]
    first.trainable = False
    assert [w.trainable for w in first.weights] == [False, False]
    first.trainable = True
    first.kernel.trainable = False  # one variable frozen by itself
    assert all(w is not first.kernel for w in model.trainable_weights) and len(model.trainable_weights) == 3
    kernel = first.kernel.numpy()
    model.fit(np.ones((4, 2)), np.zeros(4), verbose=0)
    np.testing.assert_array_equal(first.kernel.numpy(), kernel)


def test_learning_rate_is_a_variable_that_the_update_reads():
    weight = Variable(np.array([1.0, -2.0]), name="w")
    opt = optimizers.SGD(learning_rate=0.1)
    lr = opt.learning_rate
    assert isinstance(lr, Variable) and lr.path == "SGD/learning_rate" and float(lr) == pytest.approx(0.1)
    weight.grad = np.array([1.0, 1.0])
    opt.apply_gradients([weight])
    np.testing.assert_allclose(weight.numpy(), [0.9, -2.1])
    opt.learning_rate.assign(1e-2)  # Keras' way
    weight.grad = np.array([1.0, 1.0])
    opt.apply_gradients([weight])
    np.testing.assert_allclose(weight.numpy(), [0.89, -2.11])
    opt.learning_rate = 0.5  # and plain assignment: the same Variable takes the value
    assert opt.learning_rate is lr and lr == 0.5 and opt.get_config()["learning_rate"] == 0.5
    assert opt.iterations == 2 and int(opt.iterations) == 2 and opt.iterations + 1 == 3
    assert isinstance(opt.iterations, Variable) and opt.iterations.path == "SGD/iteration"
    lr.assign(-1.0)
    weight.grad = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="learning_rate must be a finite non-negative number, received -1.0"):
        opt.apply_gradients([weight])


def test_schedules_and_callables_keep_working():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule)
    weight = Variable(np.zeros(2))
    for _ in range(2):
        weight.grad = np.ones(2)
        opt.apply_gradients([weight])
    assert opt.learning_rate == pytest.approx(0.025) and opt.iterations == 2
    np.testing.assert_allclose(weight.numpy(), [-0.15, -0.15])
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3
    opt.learning_rate = lambda: 0.2  # a callable replaces the schedule, as in Keras
    assert opt.learning_rate == pytest.approx(0.2)


def test_learning_rate_callbacks_and_saved_files_see_the_variable(tmp_path):
    model = Sequential([L.Input((2,)), L.Dense(1)])
    model.compile(optimizers.Adam(0.01), "mse")
    lr = model.optimizer.learning_rate
    history = model.fit(np.ones((8, 2)), np.zeros(8), epochs=3, verbose=0,
                        callbacks=[callbacks.LearningRateScheduler(lambda epoch, rate: rate / 2)])
    assert history.history["learning_rate"] == pytest.approx([0.005, 0.0025, 0.00125])
    assert model.optimizer.learning_rate is lr and lr == pytest.approx(0.00125)
    state = model.optimizer.get_state()
    assert (state[0].dtype, state[0].shape, state[1].dtype) == (np.int64, (), np.float64)  # the file layout
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer.learning_rate, Variable)
    assert loaded.optimizer.learning_rate == pytest.approx(0.00125) and loaded.optimizer.iterations == 3


def test_optimizer_variables_match_keras(keras):
    ours, theirs = optimizers.Adam(learning_rate=0.01), keras.optimizers.Adam(learning_rate=0.01)
    for opt in (ours, theirs):
        opt.learning_rate = 0.02
        opt.learning_rate.assign(0.03)
    assert float(ours.learning_rate) == pytest.approx(float(theirs.learning_rate))
    assert (ours.learning_rate.path, ours.iterations.path) == (theirs.learning_rate.path, theirs.iterations.path)
    assert int(ours.iterations) == int(theirs.iterations) == 0


# ---- config and backend ------------------------------------------------------------------------------------------
def test_floatx_sets_the_dtype_of_what_is_created_afterwards():
    before = L.Dense(2)
    try:
        config.set_floatx("float64")
        assert config.floatx() == backend.floatx() == "float64"
        model = Sequential([L.Input((3,)), L.Dense(1)])
        assert model.layers[0].kernel.dtype == np.float64 and model.inputs[0].dtype == "float64"
        assert tr.metrics.Mean().dtype == "float64"
        model.compile("sgd", "mse")
        model.fit(np.ones((4, 3)), np.zeros(4), verbose=0)
        assert model.predict(np.ones((1, 3)), verbose=0).dtype == np.float64
    finally:
        config.set_floatx("float32")
    assert before.dtype == "float32" and L.Dense(2).dtype == "float32"
    with pytest.raises(ValueError, match=r"set_floatx: the kernels compute in float32 and float64; received 'float16'"):
        config.set_floatx("float16")


def test_epsilon_backend_and_clear_session(keras):
    assert config.epsilon() == keras.config.epsilon() == 1e-7
    try:
        config.set_epsilon(1e-3)
        f1 = tr.metrics.F1Score()
        f1.update_state(np.array([[1.0, 0.0]]), np.array([[0.9, 0.1]]))
        p = 1 / (1 + 1e-3)  # precision = recall = tp / (tp + 0 + eps)
        assert f1.result()[0] == pytest.approx(2 * p * p / (2 * p + 1e-3), rel=1e-6)
    finally:
        config.set_epsilon(1e-7)
    with pytest.raises(ValueError, match="set_epsilon"):
        config.set_epsilon(0)
    assert config.backend() == "tinygrad_relu" and config.image_data_format() == "channels_last"
    L.Dense(1)
    backend.clear_session()
    assert L.Dense(1).name == "dense" and tr.metrics.Precision().name == "precision"


# ---- the symbolic graph of a Sequential model ----------------------------------------------------------------
def test_sequential_inputs_outputs_and_layer_output_as_keras(keras):
    ours = Sequential([L.Input((3,)), L.Dense(2), L.Dense(4)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(4)])
    assert [t.shape for t in ours.inputs] == [tuple(t.shape) for t in theirs.inputs]
    assert [t.shape for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]
    assert ours.layers[0].output.shape == tuple(theirs.layers[0].output.shape)
    assert ours.layers[1].input is ours.layers[0].output
    features = tr.Model(ours.inputs, ours.layers[0].output)  # the feature-extractor pattern
    x = np.random.rand(5, 3).astype("float32")
    np.testing.assert_allclose(features.predict(x, verbose=0), x @ ours.layers[0].kernel.numpy() +
                               ours.layers[0].bias.numpy(), rtol=1e-5)
    lazy = Sequential([L.Dense(1)])
    with pytest.raises(AttributeError, match="Sequential model 'sequential_1' has no defined inputs yet"):
        lazy.inputs
    with pytest.raises(AttributeError, match="The layer dense_2 has never been called and thus has no defined output"):
        lazy.layers[0].output
    lazy.compile("sgd", "mse")
    lazy.fit(np.ones((2, 7)), np.ones(2), verbose=0)  # built from the data: now it has its graph
    assert lazy.inputs[0].shape == (None, 7) and lazy.outputs[0].shape == (None, 1)


# ---- summary(show_trainable, expand_nested, layer_range) -------------------------------------------------------
def _summary_lines(model, **kwargs):
    lines = []
    model.summary(print_fn=lambda text, *args, **kw: lines.append(text), line_length=None, **kwargs)
    return [line.rstrip() for line in "\n".join(lines).strip("\n").splitlines()]


@pytest.mark.parametrize("kwargs", [dict(show_trainable=True), dict(expand_nested=True),
                                    dict(expand_nested=True, show_trainable=True),
                                    dict(layer_range=["inner", "dense.*"])])
def test_summary_options_print_keras_table(keras, kwargs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "150")

    def build(module):
        module.utils.clear_session() if hasattr(module.utils, "clear_session") else backend.clear_session()
        inner = module.Sequential([module.Input((4,)), module.layers.Dense(3), module.layers.Dense(2)], name="inner")
        inner.layers[0].trainable = False
        outer = module.Sequential([module.Input((4,)), inner, module.layers.Dense(5), module.layers.Dropout(0.1)])
        inputs = module.Input((4,))
        branch = module.layers.Dense(2)(inner(inputs))
        functional = module.Model(inputs, module.layers.add([branch, module.layers.Dense(2)(inputs)]))
        return outer, functional
    backend.clear_session()
    for mine, theirs in zip(build(tr), build(keras)):
        assert _summary_lines(mine, **kwargs) == _summary_lines(theirs, **kwargs)


def test_summary_refuses_positions_that_do_not_fit():
    model = Sequential([L.Input((2,)), L.Dense(1)])
    with pytest.raises(ValueError, match="positions needs 3 entries"):
        model.summary(positions=[0.5, 1.0])
    with pytest.raises(ValueError, match="layer_range=.*matches no layer"):
        model.summary(layer_range=["nothing", "here"])


# ---- History.params and ModelCheckpoint's lines -----------------------------------------------------------------
def test_history_params_and_checkpoint_lines_as_keras(keras, tmp_path):
    x, y = np.random.rand(20, 3).astype("float32"), np.random.rand(20).astype("float32")
    outputs = {}
    for name, module in (("ours", tr), ("keras", keras)):
        model = module.Sequential([module.Input((3,)), module.layers.Dense(1)])
        model.compile("sgd", "mse")
        path = str(tmp_path / name / "m_{epoch}.keras")
        checkpoint = module.callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True, verbose=1)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            history = model.fit(x, y, epochs=2, batch_size=8, callbacks=[checkpoint], verbose=0)
        outputs[name] = (history.params, re.sub(r"from \d\.\d+|to \d\.\d+", "", buffer.getvalue().replace(
            str(tmp_path / name), "DIR")))
    assert outputs["ours"][0] == outputs["keras"][0] == {"verbose": 0, "epochs": 2, "steps": 3}
    assert outputs["ours"][1] == outputs["keras"][1]
    assert "finished saving model to DIR/m_1.keras" in outputs["ours"][1]


def test_history_params_keep_verbose_auto(keras):
    model = Sequential([L.Input((3,)), L.Dense(1)])
    model.compile("sgd", "mse")
    with contextlib.redirect_stdout(io.StringIO()):
        assert model.fit(np.ones((4, 3)), np.ones(4)).params == {"verbose": "auto", "epochs": 1, "steps": 1}


# ---- utils ------------------------------------------------------------------------------------------------------
def test_normalize_and_to_categorical_as_keras(keras):
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    for kwargs in ({}, {"axis": 1, "order": 1}, {"order": np.inf}):
        np.testing.assert_allclose(utils.normalize(x, **kwargs), keras.utils.normalize(x, **kwargs))
    # axis=0 by hand (Keras 3.15's own normalize expands the norm on the wrong axis there and fails)
    np.testing.assert_allclose(utils.normalize(x, axis=0, order=1), x / np.array([[4.0, 5.0]]))
    ours, theirs = utils.to_categorical([0, 2, 1]), keras.utils.to_categorical([0, 2, 1])
    assert ours.dtype == theirs.dtype == np.float64
    np.testing.assert_array_equal(ours, theirs)
