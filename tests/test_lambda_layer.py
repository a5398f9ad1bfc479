"""The Lambda layer (Keras' keras.layers.Lambda): calls its function, passes ``training`` when asked, declares or
infers its output shape, differentiates through the function, and saves a named function by name."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L, ops, saving
from tinygrad_relu.models import load_model
from tinygrad_relu.tensor import Tensor

rng = np.random.default_rng(11)


def test_it_calls_the_function_with_its_arguments_and_training():
    seen = []

    def scaled(x, factor, training=None):
        seen.append(training)
        return x * factor

    layer = L.Lambda(scaled, arguments={"factor": 3.0})
    x = rng.standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x).data, 3.0 * x)
    layer(x, training=True)
    assert seen[-2:] == [False, True]


def test_output_shapes_declared_or_inferred():
    x = tr.Input((6,))
    assert L.Lambda(lambda v: ops.reshape(v, (-1, 2, 3)))(x).shape == (None, 2, 3)
    assert L.Lambda(lambda v: v[:, :2], output_shape=(2,))(x).shape == (None, 2)
    assert L.Lambda(lambda v: v[:, :2], output_shape=lambda s: (s[0], 2)).compute_output_shape((None, 6)) == (None, 2)


def test_gradients_flow_through_the_function():
    x = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    L.Lambda(lambda v: v * v)(x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    assert tr.gradcheck(lambda t: L.Lambda(lambda v: ops.tanh(v) * v, dtype="float64")(t),
                        [rng.standard_normal((3, 4))])


def test_bad_arguments():
    with pytest.raises(TypeError, match="`function` must be callable"):
        L.Lambda(3)
    with pytest.raises(NotImplementedError, match="mask is not supported"):
        L.Lambda(lambda v: v, mask=lambda v, m: m)
    with pytest.raises(TypeError, match="`arguments` must be a dict"):
        L.Lambda(lambda v: v, arguments=[1])


def test_a_registered_function_is_saved_by_name_in_both_formats(tmp_path):
    @saving.register_keras_serializable(package="test_lambda")
    def halve(x):
        return x * 0.5

    model = tr.Sequential([L.Input((3,)), L.Dense(2), L.Lambda(halve), L.Lambda(ops.relu)])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for name in ("m.keras", "m.trm"):
        model.save(tmp_path / name)
        loaded = load_model(tmp_path / name)  # no bytecode: safe mode loads it
        assert loaded.layers[1].function is halve
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
