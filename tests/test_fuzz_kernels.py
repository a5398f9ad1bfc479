"""Hypothesis fuzzing of the activation, convolution and pooling kernels against naive numpy.

What the per-module tests (test_activations.py, test_conv.py, test_pool.py) do not already
fuzz: non-contiguous inputs *and* incoming gradients in every layout (strided views with
gaps, reversed, transposed, Fortran order), float32 next to float64 (and mixed), the
OpenMP paths forced on for small shapes, conv1d with 'causal' padding, dilation up to 3,
every subset of requested gradients, pool1d, pools larger than the input with 'same',
ties, and the global pools.

The references are written from the definitions, independently of the library: activations
and their derivatives as numpy formulas, convolution and pooling as nested loops over
output positions and window taps (a tap outside the input reads zero / is skipped). They
run in float64 on the float32-rounded inputs, so a float32 result is judged by how far it
may honestly be from the exact answer: a few ulp for activations, and for sums the
standard rounding bound, a small multiple of eps * (sum of |terms|), whatever order the
BLAS adds them in.

Gaps in strided views hold NaN: a kernel that reads memory outside the view shows it.
"""
import contextlib
import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_relu as tr
from tinygrad_relu import functional as F
from tinygrad_relu._kernels import activations as activation_kernels
from tinygrad_relu.ops import activation as A
from tinygrad_relu.ops import convolution as conv_ops
from tinygrad_relu.ops import pool as pool_ops

FLOATS = (np.float32, np.float64)
LAYOUTS = ("contiguous", "gapped", "reversed", "transposed", "fortran")


# ---- memory layouts ---------------------------------------------------------------------------
def relayout(array, layout):
    """The same values as ``array`` in another memory layout (a view where the layout needs one)."""
    array = np.asarray(array)
    every = tuple(slice(None) for _ in array.shape)
    if layout == "contiguous":
        return np.ascontiguousarray(array)
    if layout == "gapped":
        # every other element, starting at 1, of a bigger array whose other cells are NaN
        big = np.full(tuple(2 * s + 1 for s in array.shape), np.nan, dtype=array.dtype)
        view = big[tuple(slice(1, None, 2) for _ in array.shape)]
        view[...] = array
        return view
    if layout == "reversed":  # negative strides on every axis
        flip = tuple(slice(None, None, -1) for _ in every)
        return np.ascontiguousarray(array[flip])[flip]
    if layout == "transposed":  # a C-contiguous buffer seen through a reversed axis order
        return np.ascontiguousarray(array.T).T
    if layout == "fortran":
        return np.asfortranarray(array)
    raise AssertionError(layout)


def test_relayout_keeps_values_and_changes_memory():
    a = np.arange(24.0).reshape(2, 3, 4)
    for layout in LAYOUTS:
        b = relayout(a, layout)
        np.testing.assert_array_equal(b, a)
        assert b.flags.c_contiguous == (layout == "contiguous")


# ---- forcing the OpenMP paths --------------------------------------------------------------------
@contextlib.contextmanager
def activation_threshold(threshold):
    """Activation kernels go parallel from ``threshold`` elements (None: the measured defaults)."""
    if threshold is None:
        yield
        return
    old = activation_kernels.set_parallel_thresholds(threshold, threshold)
    try:
        yield
    finally:
        activation_kernels.set_parallel_thresholds(*old)


@contextlib.contextmanager
def forced_parallel(module, on):
    """Set the module's PARALLEL_MIN_* work thresholds to 0 (conv and pool ops read them per call)."""
    names = [name for name in vars(module) if name.startswith("PARALLEL_MIN")]
    assert names, f"{module.__name__} no longer exposes a PARALLEL_MIN_* threshold to force threads"
    old = {name: getattr(module, name) for name in names}
    if on:
        for name in names:
            setattr(module, name, 0)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(module, name, value)


def check_parallel_flag(ctx, expected):
    """The op recorded whether it ran threaded (when it exposes that): the forced path really ran."""
    if expected and hasattr(ctx, "parallel"):
        assert ctx.parallel


def assert_close_bound(got, want, bound, what):
    """|got - want| <= bound elementwise, with a message naming the worst element."""
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = np.abs(got - want)
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1)), got.shape)
        raise AssertionError(f"{what}: {bad.sum()} of {got.size} elements off; worst at {i}: "
                             f"got {got[i]!r}, want {want[i]!r}, bound {np.broadcast_to(bound, got.shape)[i]!r}")


# ---- activations: references ---------------------------------------------------------------------
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848, 1.0507009873554804934
GELU_K, GELU_C = math.sqrt(2 / math.pi), 0.044715
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def _phi(x):
    return np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _gelu_tanh_derivative(x):
    s = _sigmoid(2 * GELU_K * (x + GELU_C * x ** 3))  # (1 + tanh(u)) / 2 = sigmoid(2u)
    return s + x * 2 * s * (1 - s) * GELU_K * (1 + 3 * GELU_C * x * x)


def _mish_derivative(x):
    t = np.tanh(np.logaddexp(0, x))
    return t + x * (1 - t * t) * _sigmoid(x)


# name -> (ours: Tensor -> Tensor, forward, derivative); derivatives use the library's
# conventions at the kinks (ReLU'(0) = 0, relu6' = 0 at 0 and 6, leaky'(0) = slope, ...)
ACTIVATIONS = {
    "relu": (A.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "leaky_relu": (lambda t: A.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1)),
    "relu6": (A.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0),
    "elu": (lambda t: A.elu(t, 1.3), lambda x: np.where(x > 0, x, 1.3 * np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1.0, 1.3 * np.exp(np.minimum(x, 0)))),
    "selu": (A.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
             lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0)))),
    "gelu": (A.gelu, lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)),
             lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * _phi(x)),
    "gelu_tanh": (lambda t: A.gelu(t, approximate=True),
                  lambda x: x * _sigmoid(2 * GELU_K * (x + GELU_C * x ** 3)), _gelu_tanh_derivative),
    "silu": (A.silu, lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "sigmoid": (A.sigmoid, _sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x)),
    "hard_sigmoid": (A.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6,
                     lambda x: ((x > -3) & (x < 3)) / 6.0),
    "tanh": (A.tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "softplus": (A.softplus, lambda x: np.logaddexp(0, x), _sigmoid),
    "softsign": (A.softsign, lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "mish": (A.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), _mish_derivative),
}


def keras_relu_reference(negative_slope, max_value, threshold):
    """Keras' relu(x, negative_slope, max_value, threshold) and its derivative, from its definition."""
    def forward(x):
        y = x * (x > threshold) if threshold != 0 else np.maximum(x, 0)
        if max_value is not None:
            y = np.clip(y, 0, max_value)
        return y - negative_slope * np.maximum(threshold - x, 0)

    def derivative(x):
        inside = np.ones_like(x) if max_value is None else ((x > 0) & (x < max_value)) * 1.0
        return np.where(x > threshold, inside, negative_slope)
    return forward, derivative


# Values where the functions bend or switch formula, mixed into random ones.
SPECIAL_VALUES = [0.0, -0.0, 3.0, -3.0, 6.0, -1.0, 1.5, 4.0, 0.5, -0.75, 1e-30, -1e-30, 17.0, -17.0]
activation_values = st.one_of(st.sampled_from(SPECIAL_VALUES), st.floats(-30, 30))
activation_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=6),
                               elements=activation_values)
keras_relu_settings = st.tuples(st.sampled_from([0.0, 0.2]), st.sampled_from([None, 4.0, 6.0]),
                                st.sampled_from([0.0, -1.0, 1.5]))
# None: the measured thresholds; 0: every array threaded; 2 and 7: small arrays on both sides.
activation_thresholds = st.sampled_from([None, 0, 2, 7])


def activation_case(name, keras_settings):
    if name == "keras_relu":
        slope, max_value, threshold = keras_settings
        forward, derivative = keras_relu_reference(slope, max_value, threshold)
        return (lambda t: A.relu(t, negative_slope=slope, max_value=max_value, threshold=threshold),
                forward, derivative)
    return ACTIVATIONS[name]


ACTIVATION_NAMES = sorted(ACTIVATIONS) + ["keras_relu"]


@settings(max_examples=200, deadline=None)
@given(x=activation_arrays, name=st.sampled_from(ACTIVATION_NAMES), keras_settings=keras_relu_settings,
       dtype=st.sampled_from(FLOATS), x_layout=st.sampled_from(LAYOUTS),
       g_layout=st.sampled_from(LAYOUTS), threshold=activation_thresholds, seed=st.integers(0, 2**16))
def test_activation_forward_and_gradient(x, name, keras_settings, dtype, x_layout, g_layout, threshold, seed):
    ours, forward, derivative = activation_case(name, keras_settings)
    x = x.astype(dtype)
    g = np.random.default_rng(seed).standard_normal(x.shape).astype(dtype)
    x_in, g_in = relayout(x, x_layout), relayout(g, g_layout)
    x_before, g_before = x_in.copy(), g_in.copy()
    xt = tr.Tensor(x_in, requires_grad=True)
    with activation_threshold(threshold):
        y = ours(xt)
        y.backward(g_in)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    with np.errstate(all="ignore"):
        want_y = forward(x64)
        want_gx = g64 * derivative(x64)
    assert y.dtype == dtype and xt.grad.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(x_in, x_before)  # inputs are never written to
    np.testing.assert_array_equal(g_in, g_before)
    if dtype == np.float32:  # a few float32 ulp; values below float32's range may flush to 0
        y_bound = 2e-5 * np.abs(want_y) + 1e-30
        g_bound = 2e-5 * np.abs(want_gx) + 2e-6 * np.abs(g64) + 1e-30
    else:
        y_bound = 1e-11 * np.abs(want_y) + 1e-300
        g_bound = 1e-9 * np.abs(want_gx) + 1e-12 * np.abs(g64) + 1e-300
    assert_close_bound(y.data, want_y, y_bound, f"{name} forward")
    assert_close_bound(xt.grad, want_gx, g_bound, f"{name} gradient")


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "gelu", "sigmoid", "softmax"])
def test_activations_above_the_measured_thresholds_on_strided_views(name):
    """No forcing: sizes just past the real OpenMP thresholds, odd so the threads split unevenly."""
    cheap, costly = activation_kernels.parallel_thresholds()
    size = (cheap if name in ("relu", "leaky_relu") else costly) + 37
    rng = np.random.default_rng(len(name))
    x = (rng.standard_normal((size // 36 + 1, 37)) * 4)[:, :36]       # rows with a gap after each
    g = rng.standard_normal(x.T.shape).T                              # a transposed view
    assert x.size > size and not x.flags.c_contiguous and not g.flags.c_contiguous
    xt = tr.Tensor(x, requires_grad=True)
    if name == "softmax":
        y = A.softmax(xt, axis=0)
        p, _ = softmax_reference(x, 0)
        want_y, want_gx = p, p * (g - (g * p).sum(axis=0, keepdims=True))
    else:
        ours, forward, derivative = ACTIVATIONS[name]
        y = ours(xt)
        want_y, want_gx = forward(x), g * derivative(x)
    y.backward(g)
    np.testing.assert_allclose(y.data, want_y, rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(xt.grad, want_gx, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
def test_hard_sigmoid_gradient_just_below_three(dtype):
    x = np.array([np.nextafter(dtype(3), dtype(0)), np.nextafter(dtype(-3), dtype(0))], dtype=dtype)
    xt = tr.Tensor(x, requires_grad=True)
    A.hard_sigmoid(xt).backward(np.ones_like(x))
    np.testing.assert_allclose(xt.grad, [1 / 6, 1 / 6], rtol=1e-6)


# ---- softmax / log_softmax ------------------------------------------------------------------------
def softmax_reference(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    return e / total, shifted - np.log(total)


@settings(max_examples=120, deadline=None)
@given(x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                    elements=st.one_of(st.sampled_from([0.0, 1.0, -1.0]), st.floats(-50, 50))),
       data=st.data(), log=st.booleans(), dtype=st.sampled_from(FLOATS), x_layout=st.sampled_from(LAYOUTS),
       g_layout=st.sampled_from(LAYOUTS), threshold=activation_thresholds, seed=st.integers(0, 2**16))
def test_softmax_forward_and_gradient(x, data, log, dtype, x_layout, g_layout, threshold, seed):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    x = x.astype(dtype)
    g = np.random.default_rng(seed).standard_normal(x.shape).astype(dtype)
    x_in, g_in = relayout(x, x_layout), relayout(g, g_layout)
    xt = tr.Tensor(x_in, requires_grad=True)
    with activation_threshold(threshold):
        y = (A.log_softmax if log else A.softmax)(xt, axis=axis)
        y.backward(g_in)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    p, logp = softmax_reference(x64, axis)
    assert y.dtype == dtype and xt.grad.dtype == dtype
    eps = 2e-6 if dtype == np.float32 else 1e-13
    if log:  # dx = g - softmax * sum(g)
        want_y = logp
        want_gx = g64 - p * g64.sum(axis=axis, keepdims=True)
        y_bound = eps * (np.abs(logp) + np.abs(x64).max(axis=axis, keepdims=True) + 1)
        g_bound = eps * (np.abs(g64) + p * np.abs(g64).sum(axis=axis, keepdims=True)) * 4 + 1e-300
    else:  # dx = y * (g - sum(g * y))
        want_y = p
        want_gx = p * (g64 - (g64 * p).sum(axis=axis, keepdims=True))
        # exp(x - max) is relative-accurate, but x - max itself is rounded: |x| * eps of error
        y_bound = eps * p * (4 + 2 * np.abs(x64).max(axis=axis, keepdims=True)) + 1e-300
        g_bound = eps * p * (np.abs(g64) + np.abs(g64).sum(axis=axis, keepdims=True)) * \
            (4 + 2 * np.abs(x64).max(axis=axis, keepdims=True)) + 1e-300
    if dtype == np.float32:  # softmax values below float32's smallest normal flush to 0
        y_bound = y_bound + (0 if log else 2e-38)
        g_bound = g_bound + 2e-38 * np.abs(g64).sum(axis=axis, keepdims=True)
    assert_close_bound(y.data, want_y, y_bound, f"{'log_' * log}softmax(axis={axis}) forward")
    assert_close_bound(xt.grad, want_gx, g_bound, f"{'log_' * log}softmax(axis={axis}) gradient")


# ---- convolution: references ------------------------------------------------------------------------
def same_or_causal_geometry(size, k, stride, dilation, padding):
    """(output size, padding before) by Keras/TensorFlow's rule."""
    span = (k - 1) * dilation + 1
    if padding == "valid":
        return (size - span) // stride + 1, 0
    out = -(-size // stride)
    if padding == "causal":
        return out, span - 1
    return out, max((out - 1) * stride + span - size, 0) // 2


def naive_conv(x, kernel, bias, strides, dilation, padding):
    """Forward, d/dx, d/dkernel of any-rank channels_last convolution, by loops over output
    positions and kernel taps; a tap outside the input contributes nothing.

    Returns forward(x, kernel) and backward(grad) -> (dx, dkernel, dbias), all float64.
    Also returns the same computed on |x|, |kernel|, |grad|: the sums of |terms| that bound
    the rounding error of any summation order.
    """
    rank = x.ndim - 2
    geometry = [same_or_causal_geometry(x.shape[1 + a], kernel.shape[a], strides[a], dilation[a], padding)
                for a in range(rank)]
    out_size = tuple(o for o, _ in geometry)
    before = tuple(p for _, p in geometry)
    cout = kernel.shape[-1]

    def taps():
        """(output index, kernel index, input index) for every tap that lands inside the input."""
        for out_index in np.ndindex(*out_size):
            for kernel_index in np.ndindex(*kernel.shape[:rank]):
                in_index = tuple(out_index[a] * strides[a] + kernel_index[a] * dilation[a] - before[a]
                                 for a in range(rank))
                if all(0 <= in_index[a] < x.shape[1 + a] for a in range(rank)):
                    yield out_index, kernel_index, in_index

    tap_list = list(taps())

    def forward(x, kernel, bias):
        y = np.zeros((x.shape[0],) + out_size + (cout,))
        for o, k, i in tap_list:  # y[n, o, :] += x[n, i, :] @ K[k]
            y[(slice(None),) + o] += x[(slice(None),) + i] @ kernel[k]
        return y if bias is None else y + bias

    def backward(x, kernel, grad):
        dx, dkernel = np.zeros(x.shape), np.zeros(kernel.shape)
        for o, k, i in tap_list:
            g = grad[(slice(None),) + o]                       # (N, cout)
            dx[(slice(None),) + i] += g @ kernel[k].T          # dy/dx[n, i, c] = K[k, c, :]
            dkernel[k] += x[(slice(None),) + i].T @ g          # dy/dK[k, c, f] = x[n, i, c]
        return dx, dkernel, grad.sum(axis=tuple(range(rank + 1)))

    return out_size, forward, backward


conv_dtypes = st.sampled_from([(np.float32, np.float32), (np.float64, np.float64),
                               (np.float32, np.float64), (np.float64, np.float32)])
# which of (x, kernel, bias) require gradients: never none of them
requested_grads = st.tuples(st.booleans(), st.booleans(), st.booleans()).filter(any)


# mostly a few channels; sometimes enough for whole SIMD vectors plus a tail in the channel loops
channel_counts = st.one_of(st.integers(1, 4), st.integers(5, 17))


@st.composite
def conv_configs(draw, rank):
    paddings = ["valid", "same", "causal"] if rank == 1 else ["valid", "same"]
    padding = draw(st.sampled_from(paddings), label="padding")
    k = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    spans = [(kk - 1) * d + 1 for kk, d in zip(k, dilation)]
    # 'same' and 'causal' accept a kernel wider than the input
    low = spans if padding == "valid" else [1] * rank
    limit = 14 if rank == 1 else 10
    size = tuple(draw(st.integers(lo, max(lo + 3, limit))) for lo in low)
    n, cin, cout = draw(st.integers(1, 4)), draw(channel_counts), draw(channel_counts)
    return dict(padding=padding, kernel_shape=k + (cin, cout), strides=strides, dilation=dilation,
                x_shape=(n,) + size + (cin,))


def run_conv_case(rank, config, dtypes, layouts, with_bias, requested, parallel, seed):
    x_dtype, k_dtype = dtypes
    x_layout, k_layout, b_layout, g_layout = layouts
    need_x, need_k, need_b = requested
    need_b = need_b and with_bias
    assume(need_x or need_k or need_b)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(config["x_shape"]).astype(x_dtype)
    kernel = rng.standard_normal(config["kernel_shape"]).astype(k_dtype)
    bias = rng.standard_normal(config["kernel_shape"][-1]).astype(k_dtype) if with_bias else None
    strides, dilation, padding = config["strides"], config["dilation"], config["padding"]
    out_size, forward, backward = naive_conv(x, kernel, bias, strides, dilation, padding)
    out_dtype = np.result_type(x_dtype, k_dtype)  # float64 if either is
    grad = rng.standard_normal((x.shape[0],) + out_size + (kernel.shape[-1],)).astype(out_dtype)

    inputs = (relayout(x, x_layout), relayout(kernel, k_layout),
              None if bias is None else relayout(bias, b_layout))
    before = [None if a is None else a.copy() for a in inputs]
    xt = tr.Tensor(inputs[0], requires_grad=need_x)
    kt = tr.Tensor(inputs[1], requires_grad=need_k)
    bt = None if bias is None else tr.Tensor(inputs[2], requires_grad=need_b)
    conv = F.conv1d if rank == 1 else F.conv2d
    grad_in = relayout(grad, g_layout)
    with forced_parallel(conv_ops, parallel):
        y = conv(xt, kt, bt, strides=strides if rank == 2 else strides[0], padding=padding,
                 dilation_rate=dilation if rank == 2 else dilation[0])
        check_parallel_flag(y._ctx, parallel and x.shape[0] > 1)
        y.backward(grad_in)
    for got, was in zip(inputs + (grad_in,), before + [grad]):
        if got is not None:
            np.testing.assert_array_equal(got, was)  # nothing written into the caller's arrays

    x64, k64, g64 = x.astype(np.float64), kernel.astype(np.float64), grad.astype(np.float64)
    b64 = None if bias is None else bias.astype(np.float64)
    want_y = forward(x64, k64, b64)
    abs_y = forward(np.abs(x64), np.abs(k64), None if b64 is None else np.abs(b64))
    want = backward(x64, k64, g64)
    abs_grads = backward(np.abs(x64), np.abs(k64), np.abs(g64))
    # rounding bound: (number of terms) * eps * sum|terms|, with room; float32 anywhere -> float32 eps
    eps = 2**-24 if np.float32 in dtypes else 2**-53
    terms = max(kernel.size, int(np.prod(grad.shape[:-1]))) + 1  # dx sums taps * cout terms
    bound = 2 * terms * eps
    where = f"conv{rank}d {config} dtypes {[d.__name__ for d in dtypes]} layouts {layouts}"
    assert y.dtype == out_dtype, where
    assert y.shape == want_y.shape, where
    assert_close_bound(y.data, want_y, bound * abs_y + 1e-300, where + " forward")
    for tensor, needed, w, a, label in ((xt, need_x, want[0], abs_grads[0], "dx"),
                                        (kt, need_k, want[1], abs_grads[1], "dkernel"),
                                        (bt, need_b, want[2], abs_grads[2], "dbias")):
        if tensor is None:
            continue
        if not needed:
            assert tensor.grad is None, f"{where}: {label} computed though not requested"
            continue
        assert tensor.grad is not None and tensor.grad.dtype == tensor.dtype, f"{where}: {label} dtype"
        assert_close_bound(tensor.grad, w, bound * a + 1e-300, f"{where} {label}")


@settings(max_examples=150, deadline=None)
@given(config=conv_configs(1), dtypes=conv_dtypes, layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 4),
       with_bias=st.booleans(), requested=requested_grads, parallel=st.booleans(), seed=st.integers(0, 2**16))
@example(config=dict(padding="causal", kernel_shape=(4, 3, 2), strides=(2,), dilation=(3,), x_shape=(3, 7, 3)),
         dtypes=(np.float32, np.float32), layouts=("gapped", "transposed", "gapped", "gapped"),
         with_bias=True, requested=(True, True, True), parallel=True, seed=1)
def test_conv1d_against_naive_loops(config, dtypes, layouts, with_bias, requested, parallel, seed):
    run_conv_case(1, config, dtypes, layouts, with_bias, requested, parallel, seed)


@settings(max_examples=120, deadline=None)
@given(config=conv_configs(2), dtypes=conv_dtypes, layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 4),
       with_bias=st.booleans(), requested=requested_grads, parallel=st.booleans(), seed=st.integers(0, 2**16))
@example(config=dict(padding="same", kernel_shape=(3, 2, 2, 3), strides=(3, 1), dilation=(3, 2), x_shape=(3, 5, 4, 2)),
         dtypes=(np.float64, np.float64), layouts=("fortran", "reversed", "contiguous", "transposed"),
         with_bias=True, requested=(True, False, True), parallel=True, seed=2)
def test_conv2d_against_naive_loops(config, dtypes, layouts, with_bias, requested, parallel, seed):
    run_conv_case(2, config, dtypes, layouts, with_bias, requested, parallel, seed)


# ---- pooling: references ---------------------------------------------------------------------------
def naive_pool(x, pool, strides, padding, kind):
    """Forward and backward of windowed max/avg pooling (any rank, channels_last) by loops.

    A window covers the real cells only ('same' padding is neither a candidate for the max
    nor counted by the mean). Max sends the gradient to the first maximal cell in row-major
    order, per channel.
    """
    rank = x.ndim - 2
    geometry = [same_or_causal_geometry(x.shape[1 + a], pool[a], strides[a], 1, padding) for a in range(rank)]
    out_size = tuple(o for o, _ in geometry)
    n, c = x.shape[0], x.shape[-1]
    windows = {}
    for o in np.ndindex(*out_size):
        starts = [o[a] * strides[a] - geometry[a][1] for a in range(rank)]
        ranges = [range(max(s, 0), min(s + pool[a], x.shape[1 + a])) for a, s in enumerate(starts)]
        cells = [tuple(cell) for cell in np.ndindex(*[len(r) for r in ranges])]
        windows[o] = [tuple(r[i] for r, i in zip(ranges, cell)) for cell in cells]
        assert windows[o], "every window holds a real cell"
    y = np.zeros((n,) + out_size + (c,))
    winners = {}
    for o, cells in windows.items():
        values = np.stack([x[(slice(None),) + cell] for cell in cells])  # (cells, n, c)
        if kind == "max":
            y[(slice(None),) + o] = values.max(axis=0)
            winners[o] = values.argmax(axis=0)  # the first maximum
        else:
            y[(slice(None),) + o] = values.sum(axis=0) / len(cells)

    def backward(grad):
        dx = np.zeros(x.shape)
        for o, cells in windows.items():
            g = grad[(slice(None),) + o]
            for index, cell in enumerate(cells):
                if kind == "max":
                    dx[(slice(None),) + cell] += np.where(winners[o] == index, g, 0)
                else:
                    dx[(slice(None),) + cell] += g / len(cells)
        return dx

    return y, backward


@st.composite
def pool_configs(draw, rank):
    padding = draw(st.sampled_from(["valid", "same"]), label="padding")
    pool = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    strides = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * rank)), label="strides")
    # 'same' accepts a pool larger than the input
    low = pool if padding == "valid" else (1,) * rank
    limit = 12 if rank == 1 else 8
    size = tuple(draw(st.integers(lo, max(lo + 2, limit))) for lo in low)
    n, c = draw(st.integers(1, 4)), draw(channel_counts)
    return dict(padding=padding, pool=pool, strides=strides, x_shape=(n,) + size + (c,))


def pool_data(rng, shape, ties, dtype):
    """Normal samples, or a few small integers so that windows hold ties."""
    x = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)
    return x.astype(dtype)


def run_pool_case(rank, config, kind, dtype, x_layout, g_layout, ties, parallel, seed):
    rng = np.random.default_rng(seed)
    x = pool_data(rng, config["x_shape"], ties, dtype)
    pool, padding = config["pool"], config["padding"]
    strides = pool if config["strides"] is None else config["strides"]
    want_y, backward = naive_pool(x.astype(np.float64), pool, strides, padding, kind)
    grad = rng.standard_normal(want_y.shape).astype(dtype)
    x_in, g_in = relayout(x, x_layout), relayout(grad, g_layout)
    xt = tr.Tensor(x_in, requires_grad=True)
    fn = getattr(F, f"{kind}_pool{rank}d")
    args = {"strides": None if config["strides"] is None else
            (config["strides"] if rank == 2 else config["strides"][0])}
    with forced_parallel(pool_ops, parallel):
        y = fn(xt, pool if rank == 2 else pool[0], padding=padding, **args)
        check_parallel_flag(y._ctx, parallel and x.shape[0] > 1)
        y.backward(g_in)
    np.testing.assert_array_equal(x_in, x)
    np.testing.assert_array_equal(g_in, grad)
    where = f"{kind}_pool{rank}d {config} {np.dtype(dtype).name} layouts {x_layout}/{g_layout} ties={ties}"
    assert y.dtype == dtype and xt.grad.dtype == dtype, where
    g64 = grad.astype(np.float64)
    if kind == "max":  # values are copied, gradients only summed where windows overlap
        np.testing.assert_array_equal(y.data, want_y, err_msg=where)
        eps = 2 * np.finfo(dtype).eps * int(np.prod(pool))
        assert_close_bound(xt.grad, backward(g64), eps * backward(np.abs(g64)) + 1e-300, where + " dx")
    else:
        cells = int(np.prod(pool)) + 2
        eps = 2 * np.finfo(dtype).eps * cells
        abs_y, _ = naive_pool(np.abs(x.astype(np.float64)), pool, strides, padding, kind)
        assert_close_bound(y.data, want_y, eps * abs_y + 1e-300, where + " forward")
        assert_close_bound(xt.grad, backward(g64), eps * backward(np.abs(g64)) + 1e-300, where + " dx")


@settings(max_examples=120, deadline=None)
@given(config=pool_configs(1), kind=st.sampled_from(["max", "avg"]), dtype=st.sampled_from(FLOATS),
       x_layout=st.sampled_from(LAYOUTS), g_layout=st.sampled_from(LAYOUTS), ties=st.booleans(),
       parallel=st.booleans(), seed=st.integers(0, 2**16))
@example(config=dict(padding="same", pool=(5,), strides=(2,), x_shape=(2, 3, 4)), kind="max", dtype=np.float32,
         x_layout="gapped", g_layout="transposed", ties=True, parallel=True, seed=3)
def test_pool1d_against_naive_loops(config, kind, dtype, x_layout, g_layout, ties, parallel, seed):
    run_pool_case(1, config, kind, dtype, x_layout, g_layout, ties, parallel, seed)


@settings(max_examples=120, deadline=None)
@given(config=pool_configs(2), kind=st.sampled_from(["max", "avg"]), dtype=st.sampled_from(FLOATS),
       x_layout=st.sampled_from(LAYOUTS), g_layout=st.sampled_from(LAYOUTS), ties=st.booleans(),
       parallel=st.booleans(), seed=st.integers(0, 2**16))
@example(config=dict(padding="same", pool=(5, 4), strides=None, x_shape=(3, 2, 3, 2)), kind="avg", dtype=np.float32,
         x_layout="fortran", g_layout="gapped", ties=False, parallel=True, seed=4)
def test_pool2d_against_naive_loops(config, kind, dtype, x_layout, g_layout, ties, parallel, seed):
    run_pool_case(2, config, kind, dtype, x_layout, g_layout, ties, parallel, seed)


# ---- global pools ---------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(rank=st.sampled_from([1, 2]), kind=st.sampled_from(["max", "avg"]), keepdims=st.booleans(),
       shape=st.tuples(st.integers(1, 3), st.integers(1, 7), st.integers(1, 7), st.integers(1, 5)),
       dtype=st.sampled_from(FLOATS), x_layout=st.sampled_from(LAYOUTS), g_layout=st.sampled_from(LAYOUTS),
       ties=st.booleans(), seed=st.integers(0, 2**16))
def test_global_pools_against_loops(rank, kind, keepdims, shape, dtype, x_layout, g_layout, ties, seed):
    shape = shape if rank == 2 else shape[:1] + shape[2:]
    rng = np.random.default_rng(seed)
    x = pool_data(rng, shape, ties, dtype)
    x64 = x.astype(np.float64)
    n, c = shape[0], shape[-1]
    cells = list(np.ndindex(*shape[1:-1]))
    values = np.stack([x64[(slice(None),) + cell] for cell in cells])  # (cells, N, C)
    want_y = values.max(axis=0) if kind == "max" else values.sum(axis=0) / len(cells)
    grad = rng.standard_normal((n,) + (1,) * rank * keepdims + (c,)).astype(dtype)
    g64 = grad.reshape(n, c).astype(np.float64)
    # max: the gradient is split evenly among the maximal cells (torch.amax, tf.reduce_max)
    share = (values == want_y) / (values == want_y).sum(axis=0) if kind == "max" else \
        np.full(values.shape, 1 / len(cells))
    want_dx = np.zeros(shape)
    for index, cell in enumerate(cells):
        want_dx[(slice(None),) + cell] = g64 * share[index]

    x_in, g_in = relayout(x, x_layout), relayout(grad, g_layout)
    xt = tr.Tensor(x_in, requires_grad=True)
    y = getattr(F, f"global_{kind}_pool{rank}d")(xt, keepdims=keepdims)
    y.backward(g_in)
    np.testing.assert_array_equal(x_in, x)
    assert y.shape == grad.shape and y.dtype == dtype and xt.grad.dtype == dtype
    eps = 4 * np.finfo(dtype).eps * len(cells)
    if kind == "max":
        np.testing.assert_array_equal(y.data.reshape(n, c), want_y)
    else:
        assert_close_bound(y.data.reshape(n, c), want_y,
                           eps * np.abs(values).sum(axis=0) / len(cells) + 1e-300,
                           "global_avg forward")
    assert_close_bound(xt.grad, want_dx, eps * np.abs(want_dx) + 1e-300, f"global_{kind}_pool{rank}d dx")


# ---- conv with a fused activation and a reused workspace (when ops.convolution offers them) ------------------
# name -> (forward, derivative) with the Keras defaults the fused ops use
FUSED_ACTIVATIONS = {
    "linear": (lambda z: z, np.ones_like),
    "relu": ACTIVATIONS["relu"][1:],
    "relu6": ACTIVATIONS["relu6"][1:],
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z: np.where(z > 0, 1.0, 0.2)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
            lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
    "selu": ACTIVATIONS["selu"][1:],
    "gelu": ACTIVATIONS["gelu"][1:],
    "silu": ACTIVATIONS["silu"][1:],
    "swish": ACTIVATIONS["silu"][1:],
    "sigmoid": ACTIVATIONS["sigmoid"][1:],
    "tanh": ACTIVATIONS["tanh"][1:],
    "softplus": ACTIVATIONS["softplus"][1:],
}
KINKED = {"relu", "relu6", "leaky_relu", "elu", "selu"}  # derivative jumps at 0 (relu6 also at 6)


def _fusion_supported():
    import inspect
    return "activation" in inspect.signature(F.conv2d).parameters and hasattr(conv_ops, "Workspace")


@pytest.mark.skipif(not _fusion_supported(), reason="conv2d has no fused activation / Workspace yet")
@settings(max_examples=120, deadline=None)
@given(rank=st.sampled_from([1, 2]), data=st.data(), activation=st.sampled_from(sorted(FUSED_ACTIVATIONS)),
       dtype=st.sampled_from(FLOATS), layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 3),
       with_bias=st.booleans(), parallel=st.booleans(), calls=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_conv_fused_activation_and_reused_workspace(rank, data, activation, dtype, layouts, with_bias,
                                                    parallel, calls, seed):
    """Several calls share one Workspace (as a layer's do) and all run forward before any backward:
    no call may see another's scratch buffers; each output and gradient matches act(naive conv)."""
    assume(activation in conv_ops.FUSABLE)
    config = data.draw(conv_configs(rank), label="config")
    strides, dilation, padding = config["strides"], config["dilation"], config["padding"]
    act, act_derivative = FUSED_ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    workspace = conv_ops.Workspace()
    conv = F.conv1d if rank == 1 else F.conv2d
    kernel = rng.standard_normal(config["kernel_shape"]).astype(dtype)
    bias = rng.standard_normal(config["kernel_shape"][-1]).astype(dtype) if with_bias else None
    kt = tr.Tensor(relayout(kernel, layouts[1]), requires_grad=True)
    bt = None if bias is None else tr.Tensor(bias, requires_grad=True)
    cases = []
    with forced_parallel(conv_ops, parallel):
        for _ in range(calls):  # every forward first, then every backward in reverse
            x = rng.standard_normal(config["x_shape"]).astype(dtype)
            xt = tr.Tensor(relayout(x, layouts[0]), requires_grad=True)
            y = conv(xt, kt, bt, strides=strides if rank == 2 else strides[0], padding=padding,
                     dilation_rate=dilation if rank == 2 else dilation[0], activation=activation,
                     workspace=workspace)
            cases.append((x, xt, y, y.data.copy()))
        for index in reversed(range(calls)):
            x, xt, y, y_copy = cases[index]
            np.testing.assert_array_equal(y.data, y_copy, err_msg="a later call overwrote this output")
            grad = rng.standard_normal(y.shape).astype(dtype)
            y.backward(relayout(grad, layouts[2]))
            cases[index] = (x, xt, y, grad)

    eps = 2**-24 if dtype == np.float32 else 2**-53
    act_rel = 2e-5 if dtype == np.float32 else 1e-11  # the activation kernels' own rounding
    dkernel_want = np.zeros(kernel.shape)
    dkernel_bound = np.zeros(kernel.shape)
    dbias_want = np.zeros(kernel.shape[-1])
    dbias_bound = np.zeros(kernel.shape[-1])
    b64 = None if bias is None else bias.astype(np.float64)
    k64 = kernel.astype(np.float64)
    for x, xt, y, grad in cases:
        x64 = x.astype(np.float64)
        g64 = grad.astype(np.float64)
        out_size, forward, backward = naive_conv(x64, k64, b64, strides, dilation, padding)
        z = forward(x64, k64, b64)
        terms = max(kernel.size, int(np.prod(y.shape[:-1]))) + 1
        z_bound = 2 * terms * eps * forward(np.abs(x64), np.abs(k64), None if b64 is None else np.abs(b64))
        # a z within rounding of a kink may land on either side: too close to call
        near_kink = np.abs(z) <= z_bound if activation in KINKED else np.zeros(z.shape, bool)
        if activation == "relu6":
            near_kink |= np.abs(z - 6) <= z_bound
        assume(not near_kink.any())
        with np.errstate(all="ignore"):
            want_y, slope = act(z), act_derivative(z)
        y_bound = 2 * z_bound + act_rel * np.abs(want_y) + 1e-30 * (dtype == np.float32)
        where = f"conv{rank}d+{activation} {config} {np.dtype(dtype).name} layouts {layouts}"
        assert y.dtype == dtype, where
        assert_close_bound(y.data, want_y, y_bound + 1e-300, where + " forward")
        dz = g64 * slope
        # |act''| <= 2 for every fused activation: the slope at the rounded z is off by <= 2 z_bound
        dz_bound = np.abs(g64) * (act_rel * np.abs(slope) + 2 * z_bound) + 1e-30 * (dtype == np.float32)
        dx, dk, db = backward(x64, k64, dz)
        adx, adk, adb = backward(np.abs(x64), np.abs(k64), np.abs(dz))
        edx, edk, edb = backward(np.abs(x64), np.abs(k64), dz_bound)
        assert_close_bound(xt.grad, dx, 2 * terms * eps * adx + edx + 1e-300, where + " dx")
        dkernel_want += dk
        dkernel_bound += 2 * terms * eps * adk + edk
        dbias_want += db
        dbias_bound += 2 * terms * eps * adb + edb
    accumulate = 4 * calls * eps  # the calls' gradients are summed into .grad
    assert_close_bound(kt.grad, dkernel_want, dkernel_bound + accumulate * np.abs(dkernel_want) + 1e-300,
                       "dkernel")
    if bt is not None:
        assert_close_bound(bt.grad, dbias_want, dbias_bound + accumulate * np.abs(dbias_want) + 1e-300, "dbias")
