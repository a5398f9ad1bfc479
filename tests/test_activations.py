"""Activations: kernels (cysrc/activations.pyx), ops (ops/activation.py) and the Keras module.

Every activation is checked four ways: gradient against central finite differences in
float64, forward and gradient against PyTorch to 1e-9 (when torch is importable), float32
against float64, and hypothesis properties (zeros, huge values, NaN, inf, odd shapes,
non-contiguous inputs) against plain-numpy references written independently of the kernels.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_relu as tr
from tinygrad_relu import Tensor, activations
from tinygrad_relu._kernels import activations as K
from tinygrad_relu.ops import activation as A

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848, 1.0507009873554804934
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.src.activations.ReLU.static_call, transcribed to numpy (finite inputs)."""
    if negative_slope != 0.0:
        negative_part = np.maximum(-x + threshold, 0)
    if threshold != 0:
        y = x * (x > threshold)
    else:
        y = np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * negative_part
    return y


# name -> (ours: Tensor -> Tensor, numpy forward, numpy derivative or None, torch fn name/lambda, kinks)
SPECS = {
    "relu": (lambda t: t.relu(), lambda x: np.where(x <= 0, 0.0, x),
             lambda x: np.where(x <= 0, 0.0, 1.0), lambda F, t: F.relu(t), (0.0,)),
    "leaky_relu": (lambda t: t.leaky_relu(negative_slope=0.1), lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1), lambda F, t: F.leaky_relu(t, 0.1), (0.0,)),
    "relu6": (lambda t: A.relu6(t), lambda x: np.minimum(np.maximum(x, 0), 6),
              lambda x: np.where((x <= 0) | (x >= 6), 0.0, 1.0), lambda F, t: F.relu6(t), (0.0, 6.0)),
    "elu": (lambda t: t.elu(alpha=1.3), lambda x: np.where(x > 0, x, 1.3 * np.expm1(x)),
            lambda x: np.where(x > 0, 1.0, 1.3 * np.exp(x)), lambda F, t: F.elu(t, 1.3), (0.0,)),
    "selu": (lambda t: t.selu(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
             lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x)),
             lambda F, t: F.selu(t), (0.0,)),
    # (1 + erf(z)) written as erfc(-z), and (1 + tanh(u))/2 as sigmoid(2u): the same functions
    # without cancellation for x << 0, so the references stay accurate to the last digits.
    "gelu": (lambda t: t.gelu(), lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)),
             lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
             lambda F, t: F.gelu(t), ()),
    "gelu_tanh": (lambda t: t.gelu(approximate=True),
                  lambda x: x * _np_sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)),
                  None, lambda F, t: F.gelu(t, approximate="tanh"), ()),
    "silu": (lambda t: t.silu(), lambda x: x * _np_sigmoid(x),
             lambda x: _np_sigmoid(x) * (1 + x * (1 - _np_sigmoid(x))), lambda F, t: F.silu(t), ()),
    "sigmoid": (lambda t: t.sigmoid(), _np_sigmoid, lambda x: _np_sigmoid(x) * (1 - _np_sigmoid(x)),
                lambda F, t: F.sigmoid(t), ()),
    "hard_sigmoid": (lambda t: A.hard_sigmoid(t), lambda x: np.clip(x / 6 + 0.5, 0, 1),
                     lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0.0),
                     lambda F, t: F.hardsigmoid(t), (-3.0, 3.0)),
    "tanh": (lambda t: t.tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2, lambda F, t: F.tanh(t), ()),
    "softplus": (lambda t: t.softplus(), lambda x: np.logaddexp(0, x), _np_sigmoid,
                 lambda F, t: F.softplus(t), ()),
    "softsign": (lambda t: A.softsign(t), lambda x: x / (1 + np.abs(x)),
                 lambda x: 1 / (1 + np.abs(x)) ** 2, lambda F, t: F.softsign(t), ()),
    "mish": (lambda t: A.mish(t), lambda x: x * np.tanh(np.logaddexp(0, x)), None,
             lambda F, t: F.mish(t), ()),
}
NAMES = sorted(SPECS)


def _away_from_kinks(x, kinks, gap=0.01):
    """Move samples off the points where the function has no derivative (FD would straddle them)."""
    for k in kinks:
        close = np.abs(x - k) < gap
        x[close] = k + np.where(x[close] >= k, gap, -gap) * 2
    return x


def _sample(name, shape=(3, 4), seed=0, scale=3.0):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    return _away_from_kinks(x, SPECS[name][4])


@pytest.fixture
def parallel_everywhere():
    """Force the OpenMP path even for tiny arrays (uneven splits across threads)."""
    old = K.set_parallel_thresholds(0, 0)
    yield
    K.set_parallel_thresholds(*old)


# ---- the classic examples and the conventions ------------------------------------------
def test_classic_relu_examples():
    assert Tensor([-5.0, 0.0, 5.0, -1.2]).relu().numpy().tolist() == [0, 0, 5, 0]
    assert Tensor([-3.0, -1.0, 0.0, 2.0, 5.0]).relu().numpy().tolist() == [0, 0, 0, 2, 5]
    np.testing.assert_allclose(Tensor([10.0, -5.0, 0.0]).leaky_relu(negative_slope=0.1).numpy(),
                               [10, -0.5, 0], rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_derivative_at_zero_is_zero(dtype):
    x = Tensor(np.array([-1.0, 0.0, -0.0, 2.0], dtype=dtype), requires_grad=True)
    x.relu().backward(np.ones(4))
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert x.grad.dtype == dtype


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates_through_forward(name):
    ours = SPECS[name][0]
    for dtype in (np.float32, np.float64):
        y = ours(Tensor(np.array([np.nan, 1.0, np.nan, -1.0], dtype=dtype))).numpy()
        assert np.isnan(y[[0, 2]]).all(), (name, dtype, y)
        assert np.isfinite(y[[1, 3]]).all(), (name, dtype, y)


def test_relu_of_infinities_and_negative_zero():
    y = Tensor(np.array([-np.inf, np.inf, -0.0], dtype=np.float64)).relu().numpy()
    assert y.tolist() == [0.0, np.inf, 0.0]
    assert Tensor([-np.inf]).leaky_relu(0.1).numpy()[0] == -np.inf
    assert A.relu(Tensor([-np.inf, np.nan]), max_value=4.0, threshold=1.0).numpy()[0] == 0.0


def test_integer_input_becomes_float32():
    y = Tensor(np.array([-2, 3])).relu()
    assert y.dtype == np.float32 and y.numpy().tolist() == [0.0, 3.0]


# ---- gradients: finite differences ----------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    assert tr.gradcheck(SPECS[name][0], [_sample(name)])


@pytest.mark.parametrize("settings_", [
    dict(negative_slope=0.3, max_value=None, threshold=0.0),
    dict(negative_slope=0.0, max_value=2.5, threshold=0.0),
    dict(negative_slope=0.2, max_value=4.0, threshold=1.5),
    dict(negative_slope=0.0, max_value=None, threshold=-1.0),
    dict(negative_slope=-0.5, max_value=None, threshold=0.0),
])
def test_general_relu_gradient_matches_finite_differences(settings_):
    kinks = (0.0, settings_["threshold"]) + ((settings_["max_value"],) if settings_["max_value"] else ())
    x = _away_from_kinks(np.random.default_rng(1).uniform(-6, 6, (4, 5)), kinks)
    assert tr.gradcheck(lambda t: A.relu(t, **settings_), [x])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1), ((6,), 0)])
def test_softmax_gradients_match_finite_differences(fn, shape, axis):
    x = np.random.default_rng(2).standard_normal(shape) * 2
    assert tr.gradcheck(lambda t: getattr(t, fn)(axis=axis), [x])


# ---- PyTorch, float64, 1e-9 -----------------------------------------------------------------
def _torch_pair(torch_fn, x, g):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = torch_fn(F, xt)
    yt.backward(torch.tensor(g))
    return yt.detach().numpy(), xt.grad.numpy()


def _ours_pair(fn, x, g):
    xt = Tensor(x, requires_grad=True)
    y = fn(xt)
    y.backward(g)
    return y.numpy(), xt.grad


@pytest.mark.parametrize("name", NAMES)
def test_matches_pytorch_float64(name):
    x = _sample(name, shape=(7, 9), seed=3)
    g = np.random.default_rng(4).standard_normal(x.shape)
    y_ref, gx_ref = _torch_pair(SPECS[name][3], x, g)
    y, gx = _ours_pair(SPECS[name][0], x, g)
    np.testing.assert_allclose(y, y_ref, rtol=1e-9, atol=1e-12)
    # PyTorch's float64 hardsigmoid backward multiplies by 1/6 rounded to float32
    # (0.1666666716...); ours uses the exact double 1/6, so they differ at 3e-8 relative.
    rtol = 5e-8 if name == "hard_sigmoid" else 1e-9
    np.testing.assert_allclose(gx, gx_ref, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name,values", [
    ("relu", [0.0, -0.0]), ("leaky_relu", [0.0]), ("relu6", [0.0, 6.0]), ("elu", [0.0]),
    ("selu", [0.0]), ("hard_sigmoid", [-3.0, 3.0]), ("softsign", [0.0]), ("gelu", [0.0]),
])
def test_derivative_at_corners_matches_pytorch(name, values):
    x = np.array(values)
    g = np.ones_like(x)
    y_ref, gx_ref = _torch_pair(SPECS[name][3], x, g)
    y, gx = _ours_pair(SPECS[name][0], x, g)
    np.testing.assert_array_equal(gx, gx_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_of_every_length_find_the_maximum_anywhere(dtype):
    """Rows of 1-40 cover rowmath.h's paths: shorter than its 16 lanes, whole blocks, and a
    partial last block (which the maximum reads as an overlapping window). A row's maximum sits
    at each place in turn, 1000 above the rest: missed, e^(x - max) would overflow to inf."""
    rng = np.random.default_rng(9)
    for n in range(1, 41):
        x = rng.standard_normal((n, n))
        x[np.arange(n), np.arange(n)] = 1000.0  # row r has its maximum at column r
        x = x.astype(dtype)
        with np.errstate(all="ignore"):
            ref = _np_softmax(x.astype(np.float64), 1)
            log_ref = x - 1000.0 - np.log(np.exp(x.astype(np.float64) - 1000.0).sum(axis=1, keepdims=True))
        tol = dict(rtol=2e-6, atol=1e-30) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(Tensor(x).softmax().numpy(), ref, **tol, err_msg=f"rows of {n}")
        np.testing.assert_allclose(Tensor(x).log_softmax().numpy(), log_ref, rtol=tol["rtol"], atol=1e-4,
                                   err_msg=f"rows of {n}")
        x[:, -1] = np.nan  # a NaN anywhere makes the row NaN, whichever path read it
        assert np.isnan(Tensor(x).softmax().numpy()).all() and np.isnan(Tensor(x).log_softmax().numpy()).all()


@pytest.mark.parametrize("fn,torch_name", [("softmax", "softmax"), ("log_softmax", "log_softmax")])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_pytorch_float64(fn, torch_name, axis):
    x = np.random.default_rng(5).standard_normal((4, 6, 3)) * 4
    g = np.random.default_rng(6).standard_normal(x.shape)
    y_ref, gx_ref = _torch_pair(lambda F, t: getattr(F, torch_name)(t, dim=axis), x, g)
    y, gx = _ours_pair(lambda t: getattr(t, fn)(axis=axis), x, g)
    np.testing.assert_allclose(y, y_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-9, atol=1e-12)


# ---- float32 agrees with float64 ------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES + ["softmax", "log_softmax"])
def test_float32_agrees_with_float64(name):
    fn = SPECS[name][0] if name in SPECS else (lambda t: getattr(t, name)())
    x64 = _sample(name, shape=(5, 33), seed=7) if name in SPECS else np.random.default_rng(7).standard_normal((5, 33)) * 3
    g64 = np.random.default_rng(8).standard_normal(x64.shape)
    y64, gx64 = _ours_pair(fn, x64, g64)
    y32, gx32 = _ours_pair(fn, x64.astype(np.float32), g64.astype(np.float32))
    assert y32.dtype == np.float32 and gx32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(gx32, gx64, rtol=2e-5, atol=2e-6)


# ---- hypothesis: values and shapes against numpy references ------------------------------------
_special = st.sampled_from([0.0, -0.0, np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-30, 3.0, -3.0, 6.0])
_values = st.one_of(_special, st.floats(-50, 50, allow_nan=False), st.floats(allow_nan=True, width=64))
_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6), elements=_values)


@settings(max_examples=30, deadline=None)
@given(x=_arrays, name=st.sampled_from(NAMES), dtype=st.sampled_from([np.float32, np.float64]))
def test_forward_matches_numpy_reference(x, name, dtype):
    x = x.astype(dtype)
    with np.errstate(all="ignore"):
        ref = SPECS[name][1](x.astype(np.float64))
    y = SPECS[name][0](Tensor(x)).numpy()
    assert y.shape == x.shape and y.dtype == dtype
    # NaN exactly where the reference is NaN, except where both formulas produce inf*0 artefacts.
    finite_in = np.isfinite(x)
    np.testing.assert_array_equal(np.isnan(y)[finite_in], np.isnan(ref)[finite_in])
    assert np.isnan(y[np.isnan(x)]).all()
    tol = dict(rtol=3e-6, atol=1e-37) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)
    ok = finite_in & np.isfinite(ref)
    if name in ("gelu", "gelu_tanh", "mish", "silu") and dtype == np.float32:
        tol = dict(rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(y[ok], ref[ok].astype(dtype), **tol)


_finite = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                     elements=st.one_of(st.sampled_from([0.0, 3.0, -3.0, 6.0, 40.0, -40.0]),
                                        st.floats(-30, 30)))


@settings(max_examples=30, deadline=None)
@given(x=_finite, name=st.sampled_from([n for n in NAMES if SPECS[n][2] is not None]),
       transpose=st.booleans())
def test_gradient_matches_numpy_derivative(x, name, transpose):
    if transpose:  # a non-contiguous input and a non-contiguous incoming gradient
        x = x.T
    g = np.asfortranarray(np.random.default_rng(0).standard_normal(x.shape))
    xt = Tensor(x, requires_grad=True)
    SPECS[name][0](xt).backward(g)
    with np.errstate(all="ignore"):
        ref = g * SPECS[name][2](x)
    np.testing.assert_allclose(xt.grad, ref, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 8)),
                    elements=st.floats(-1e6, 1e6)),
       negative_slope=st.sampled_from([0.0, 0.1, 0.5]),
       max_value=st.sampled_from([None, 0.0, 1.0, 6.0]),
       threshold=st.sampled_from([0.0, 1.0, -2.0]))
def test_keras_relu_matches_keras_formula(x, negative_slope, max_value, threshold):
    y = activations.relu(Tensor(x), negative_slope=negative_slope, max_value=max_value,
                         threshold=threshold).numpy()
    np.testing.assert_allclose(y, _np_keras_relu(x, negative_slope, max_value, threshold),
                               rtol=1e-12, atol=0)


def _np_softmax(x, axis):
    e = np.exp(x - np.nanmax(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.one_of(st.floats(-700, 700), st.just(np.nan))),
       data=st.data())
def test_softmax_matches_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    with np.errstate(all="ignore"):
        ref = _np_softmax(x, axis)
        # x - max - log(sum(e^(x - max))), not log(softmax): that loses digits wherever the
        # softmax is subnormal (x = [581, -151]: log(e^-732) came out as -731.9999989).
        shifted = x - np.nanmax(x, axis=axis, keepdims=True)
        log_ref = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    y = Tensor(x).softmax(axis=axis).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-300)  # a NaN anywhere in a row: NaN row
    ok = np.isfinite(log_ref)
    np.testing.assert_allclose(Tensor(x).log_softmax(axis=axis).numpy()[ok], log_ref[ok],
                               rtol=1e-9, atol=1e-9)


# ---- the OpenMP path: sizes on both sides of the thresholds, uneven splits -------------------
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "gelu", "softplus"])
def test_sizes_across_the_parallel_threshold(name):
    cheap, costly = K.parallel_thresholds()
    fn, ref_fn, dref = SPECS[name][:3]
    for n in sorted({1, cheap - 1, cheap, cheap + 3, costly - 1, costly + 1}):
        x = np.random.default_rng(n).standard_normal(n) * 3
        xt = Tensor(x, requires_grad=True)
        fn(xt).backward(np.ones(n))
        np.testing.assert_allclose(xt.data, x)
        np.testing.assert_allclose(fn(Tensor(x)).numpy(), ref_fn(x), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(xt.grad, dref(x), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_path_with_uneven_splits(name, parallel_everywhere):
    fn, ref_fn = SPECS[name][:2]
    for n in (1, 2, 3, 17, 1001):
        x = np.random.default_rng(n).standard_normal(n) * 3
        np.testing.assert_allclose(fn(Tensor(x)).numpy(), ref_fn(x), rtol=1e-12, atol=1e-300)
    x = np.random.default_rng(0).standard_normal((7, 13))
    np.testing.assert_allclose(Tensor(x).softmax().numpy(), _np_softmax(x, -1), rtol=1e-12)


def test_non_contiguous_inputs():
    base = np.random.default_rng(9).standard_normal((6, 8)) * 3
    for x in (base[:, ::2], base.T, base[::-1]):
        assert not x.flags.c_contiguous
        np.testing.assert_array_equal(Tensor(x).relu().numpy(), np.where(x <= 0, 0.0, x))
        np.testing.assert_allclose(Tensor(x).softmax(axis=0).numpy(), _np_softmax(x, 0), rtol=1e-12)


# ---- errors and the Keras module ------------------------------------------------------------
def test_softmax_axis_out_of_range_names_axis_and_shape():
    with pytest.raises(ValueError, match=r"softmax.*axis 2.*\(3, 4\)"):
        Tensor(np.ones((3, 4))).softmax(axis=2)


def test_relu_rejects_negative_max_value():
    with pytest.raises(ValueError, match="max_value"):
        A.relu(Tensor([1.0]), max_value=-1.0)


def test_kernels_reject_other_dtypes():
    with pytest.raises(TypeError, match="float16"):
        K.relu_forward(np.ones(3, dtype=np.float16))


def test_keras_relu_docstring_examples():
    x = [-10.0, -5.0, 0.0, 5.0, 10.0]
    assert activations.relu(x).numpy().tolist() == [0, 0, 0, 5, 10]
    assert activations.relu(x, negative_slope=0.5).numpy().tolist() == [-5, -2.5, 0, 5, 10]
    assert activations.relu(x, max_value=5.0).numpy().tolist() == [0, 0, 0, 5, 5]
    assert activations.relu(x, threshold=5.0).numpy().tolist() == [0, 0, 0, 0, 10]


def test_keras_defaults_differ_from_tensor_methods_where_keras_does():
    x = Tensor([-1.0, 2.0])
    np.testing.assert_allclose(activations.leaky_relu(x).numpy(), [-0.2, 2.0])  # Keras: 0.2
    np.testing.assert_allclose(x.leaky_relu().numpy(), [-0.01, 2.0])  # PyTorch: 0.01
    np.testing.assert_array_equal(activations.gelu(x).numpy(), x.gelu().numpy())  # both exact
    assert not np.allclose(activations.gelu(x, approximate=True).numpy(), x.gelu().numpy(), rtol=1e-7)
    np.testing.assert_allclose(activations.hard_sigmoid(Tensor([-4.0, 0.0, 1.5, 4.0])).numpy(),
                               [0, 0.5, 0.75, 1])
    np.testing.assert_allclose(activations.relu6([-1.0, 3.0, 9.0]).numpy(), [0, 3, 6])


def test_keras_get_and_serialize():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("relu") is activations.relu
    assert activations.get({"class_name": "function", "config": "tanh"}) is activations.tanh
    custom = lambda t: t * 2  # noqa: E731
    assert activations.get(custom) is custom
    with pytest.raises(ValueError, match="'relux'.*leaky_relu.*relu"):
        activations.get("relux")
    with pytest.raises(TypeError):
        activations.get(3)
    assert activations.serialize(activations.swish) == "silu"
    for name in ("relu", "gelu", "softmax", "linear", "log_softmax", "mish"):
        assert activations.serialize(activations.get(name)) == name
    x = Tensor([1.0])
    assert activations.linear(x) is x


def test_keras_activations_record_gradients():
    x = Tensor(np.array([[-1.0, 0.5, 2.0]]), requires_grad=True)
    activations.softmax(activations.relu(x, max_value=1.0)).sum().backward()
    assert x.grad is not None and x.grad.shape == (1, 3)
    assert x.grad[0, 0] == 0.0 and x.grad[0, 2] == 0.0  # below 0 and clipped above max_value


# ---- the kernels' own exp, expm1, log1p, tanh, erfc (plain arithmetic, vectorized) ----------
# Error in units in the last place of the correctly rounded result; references are numpy's
# functions and glibc's erfc (math.erfc) evaluated in float64, themselves within 1 ulp.
# Results below the smallest normal number flush to 0 in exp and erfc (documented).
MAX_ULP = {np.float32: {"exp": 2, "expm1": 2, "log1p": 1, "tanh": 3, "erfc": 7},
           np.float64: {"exp": 4, "expm1": 3, "log1p": 2, "tanh": 4, "erfc": 8}}
PRIMITIVE_REFS = {"exp": np.exp, "expm1": np.expm1, "log1p": np.log1p, "tanh": np.tanh, "erfc": _erfc}
SMALLEST = {np.float32: 2.0 ** -125.5, np.float64: 2.0 ** -1021.5}  # exp, erfc flush to 0 below


def _both_signs_logspace(lo_exp, hi, n=20_001):
    mags = np.logspace(lo_exp, np.log10(hi), n)
    return np.concatenate([mags, -mags])


def _wide_inputs(name, dtype):
    """Each primitive's whole useful range, dense near 0 and out into the tails."""
    rng = np.random.default_rng(0)
    big = 88.5 if dtype == np.float32 else 709.7       # exp overflows beyond
    tiny = -44 if dtype == np.float32 else -300         # subnormal inputs included
    parts = {
        "exp": [np.linspace(-big, big, 200_001), rng.uniform(-2, 2, 50_000)],
        "expm1": [np.linspace(-60, big, 200_001), _both_signs_logspace(tiny, 1.0)],
        "log1p": [np.linspace(-1, 10, 200_001), np.logspace(tiny, 37, 40_001),
                  -np.logspace(tiny, -1e-7, 40_001), -1 + np.logspace(-7, -1, 20_001)],
        "tanh": [np.linspace(-25, 25, 200_001), _both_signs_logspace(tiny, 25.0)],
        "erfc": [np.linspace(-7, 10.1 if dtype == np.float32 else 27.3, 100_001),
                 _both_signs_logspace(tiny, 1.0, 5_001)],
    }[name]
    return np.concatenate(parts + [np.array([0.0, -0.0, 1.0, -1.0])]).astype(dtype)


def _ulp_errors(name, x):
    """|ours - reference| in units of the dtype's spacing at the reference (flushed tails apart)."""
    dtype = x.dtype.type
    y = K.fast_math(name, x).astype(np.float64)
    with np.errstate(all="ignore"):
        ref = PRIMITIVE_REFS[name](x.astype(np.float64))
        ref_rounded = ref.astype(dtype)
    assert y.shape == x.shape
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    finite = np.isfinite(ref_rounded)
    np.testing.assert_array_equal(y[~finite & ~np.isnan(ref)], ref_rounded[~finite & ~np.isnan(ref)])
    flushes = name in ("exp", "erfc")
    normal = finite & ((np.abs(ref) >= SMALLEST[dtype]) if flushes else True)
    if flushes:
        assert (np.abs(y[finite & ~normal]) <= SMALLEST[dtype]).all()
    spacing = np.spacing(np.abs(ref_rounded[normal])).astype(np.float64)
    return np.abs(y[normal] - ref[normal]) / spacing, x[normal]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["exp", "expm1", "log1p", "tanh", "erfc"])
def test_kernel_math_is_within_a_few_ulp_over_wide_ranges(name, dtype):
    err, x = _ulp_errors(name, _wide_inputs(name, dtype))
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[dtype][name], (name, dtype, float(err[worst]), x[worst])
    if name != "erfc":  # correctly rounded in the vast majority of cases (erfc: ~90%)
        assert np.mean(err <= 0.5) > 0.8 if dtype == np.float64 else np.mean(err <= 1) > 0.9


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(["exp", "expm1", "log1p", "tanh", "erfc"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_kernel_math_ulp_bound_holds_for_any_float(data, name, dtype):
    width = 32 if dtype == np.float32 else 64
    lo = -1.0 if name == "log1p" else None
    x = data.draw(hnp.arrays(dtype, st.integers(1, 64),
                             elements=st.floats(min_value=lo, width=width, allow_nan=False)))
    err, xs = _ulp_errors(name, x)
    assert (err <= MAX_ULP[dtype][name]).all(), (name, dtype, xs[err > MAX_ULP[dtype][name]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_math_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -2.0], dtype=dtype)
    expect = {"exp": [np.nan, np.inf, 0.0, 1.0, 1.0],
              "expm1": [np.nan, np.inf, -1.0, 0.0, -0.0],
              "log1p": [np.nan, np.inf, np.nan, 0.0, -0.0, -np.inf, np.nan],
              "tanh": [np.nan, 1.0, -1.0, 0.0, -0.0],
              "erfc": [np.nan, 0.0, 2.0, 1.0, 1.0]}
    for name, want in expect.items():
        got = K.fast_math(name, x)[:len(want)]
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, np.array(want, dtype=dtype), err_msg=name)
        zero = np.array(want) == 0
        np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(np.array(want)[zero]),
                                      err_msg=name)  # -0 stays -0 where it should
    with pytest.raises(ValueError, match="fast_math.*'erf'"):
        K.fast_math("erf", x)


def test_fused_tanh_of_softplus_in_mish_tails():
    """mish uses tanh(softplus(x)) = w/(w+2), w = e^x (e^x + 2): check the tails and huge x."""
    x = np.array([-700.0, -40.0, -20.0, -1e-8, 1e-8, 20.0, 39.0, 41.0, 1e5, 1e300])
    ref = x * np.tanh(np.logaddexp(0, x))
    np.testing.assert_allclose(A.mish(Tensor(x)).numpy(), ref, rtol=1e-14, atol=0)
    x32 = x[np.abs(x) < 3e38].astype(np.float32)
    ref32 = x32.astype(np.float64) * np.tanh(np.logaddexp(0, x32.astype(np.float64)))
    np.testing.assert_allclose(A.mish(Tensor(x32)).numpy(), ref32, rtol=3e-7, atol=1e-44)


# ---- the one table: everything else is derived from it ------------------------------------------
def test_every_table_row_reaches_every_place_that_names_activations():
    from tinygrad_relu import functional
    from tinygrad_relu.ops import dense as dense_op
    from tinygrad_relu.lab.common import LAB_ACTIVATIONS
    for row in A.TABLE:
        assert activations.get(row.name).__name__ == row.name
        assert activations.serialize(activations.get(row.name)) == row.name
        if row.tensor is not None:
            assert callable(getattr(Tensor, row.name)) and callable(getattr(functional, row.name))
        if row.kernel_backed:
            assert row.name in dense_op.FUSABLE and row.name in A.FUSABLE
        assert row.name in LAB_ACTIVATIONS  # the command line's --activations choices


def test_a_new_row_from_a_kernel_activation_class_is_computed_fused_and_named():
    """CONTRIBUTING's recipe: a KernelActivation subclass and one Activation row are enough."""
    class Softsign2(A.KernelActivation):
        """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2"""
        forward_kernel, backward_kernel = K.softsign_forward, K.softsign_backward
        saves = "x"

    row = A.Activation("softsign2", Softsign2, {}, {})
    assert row.kernel_backed and A._fused(row).saves == "z"
    fn = A.make_function(row, row.keras)
    x = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad, 1 / (1 + np.abs(x.data)) ** 2)
    z = np.array([[-2.0, 0.5]])
    np.testing.assert_allclose(A._fused(row).forward(z), z / (1 + np.abs(z)))


def test_derived_functions_take_options_by_keyword_and_position_and_reject_unknown_ones():
    x = Tensor(np.array([-10.0, -1.0, 2.0, 9.0]))
    np.testing.assert_allclose(activations.relu(x, 0.5, 5.0).data, activations.relu(
        x, negative_slope=0.5, max_value=5.0).data)
    with pytest.raises(TypeError, match="unexpected keyword argument 'slope'"):
        activations.leaky_relu(x, slope=0.1)
    with pytest.raises(TypeError, match="multiple values"):
        activations.leaky_relu(x, 0.1, negative_slope=0.2)
    with pytest.raises(TypeError, match="at most 2 positional"):
        x.leaky_relu(0.1, 0.2)
    import inspect
    assert str(inspect.signature(activations.leaky_relu)) == "(x, negative_slope=0.2)"
    assert str(inspect.signature(Tensor.leaky_relu)) == "(x, negative_slope=0.01)"
