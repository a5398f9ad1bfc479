"""conv1d / conv2d: forward and every gradient against PyTorch, finite differences and a
naive nested-loop numpy reference; Keras "same" padding; bad input."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_relu as tr
from tinygrad_relu import functional as F


def keras_padding(size, k, stride, dilation, padding):
    """(out, pad_before, pad_after) by TensorFlow's rule, written independently of the library."""
    span = (k - 1) * dilation + 1
    if padding == "valid":
        return (size - span) // stride + 1, 0, 0
    if padding == "causal":
        return -(-size // stride), span - 1, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def naive_conv2d(x, kernel, bias, strides, dilation, padding):
    """Forward by explicit zero padding and four nested loops: the definition, nothing clever."""
    n, h, w, cin = x.shape
    kh, kw, _, cout = kernel.shape
    oh, top, bottom = keras_padding(h, kh, strides[0], dilation[0], padding)
    ow, left, right = keras_padding(w, kw, strides[1], dilation[1], padding)
    xp = np.zeros((n, h + top + bottom, w + left + right, cin))
    xp[:, top:top + h, left:left + w] = x
    out = np.zeros((n, oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    pixel = xp[:, i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1], :]
                    out[:, i, j, :] += pixel @ kernel[a, b]
    return out if bias is None else out + bias


def naive_conv2d_grads(x, kernel, grad, strides, dilation, padding):
    """dx and dkernel of sum(out * grad), by the same loops run backwards."""
    n, h, w, cin = x.shape
    kh, kw, _, cout = kernel.shape
    oh, top, bottom = keras_padding(h, kh, strides[0], dilation[0], padding)
    ow, left, right = keras_padding(w, kw, strides[1], dilation[1], padding)
    xp = np.zeros((n, h + top + bottom, w + left + right, cin))
    xp[:, top:top + h, left:left + w] = x
    dxp = np.zeros_like(xp)
    dkernel = np.zeros(kernel.shape)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1]
                    dkernel[a, b] += xp[:, r, c, :].T @ grad[:, i, j, :]
                    dxp[:, r, c, :] += grad[:, i, j, :] @ kernel[a, b].T
    return dxp[:, top:top + h, left:left + w], dkernel


# ---- against PyTorch ----------------------------------------------------------------
def torch_conv(x, kernel, bias, strides, dilation, padding, grad):
    """PyTorch's result and gradients in our layout; "same"/"causal" as explicit asymmetric padding."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rank = x.ndim - 2
    to_torch = (0, rank + 1) + tuple(range(1, rank + 1))
    from_torch = (0,) + tuple(range(2, rank + 2)) + (1,)
    kernel_to_torch = (rank + 1, rank) + tuple(range(rank))
    xt = torch.tensor(x.transpose(to_torch), requires_grad=True)
    kt = torch.tensor(kernel.transpose(kernel_to_torch), requires_grad=True)
    bt = None if bias is None else torch.tensor(bias, requires_grad=True)
    pads = []
    for axis in reversed(range(rank)):  # F.pad lists the last axis first
        _, before, after = keras_padding(x.shape[1 + axis], kernel.shape[axis], strides[axis], dilation[axis], padding)
        pads += [before, after]
    conv = tf.conv2d if rank == 2 else tf.conv1d
    yt = conv(tf.pad(xt, pads), kt, bt, stride=strides, dilation=dilation)
    yt.backward(torch.tensor(grad.transpose(to_torch)))
    dkernel = kt.grad.numpy().transpose(tuple(range(2, rank + 2)) + (1, 0))
    return (yt.detach().numpy().transpose(from_torch), xt.grad.numpy().transpose(from_torch), dkernel,
            None if bt is None else bt.grad.numpy())


def check_against_torch(x, kernel, bias, strides, dilation, padding):
    rank = x.ndim - 2
    xt, kt = tr.Tensor(x, requires_grad=True), tr.Tensor(kernel, requires_grad=True)
    bt = None if bias is None else tr.Tensor(bias, requires_grad=True)
    conv = F.conv2d if rank == 2 else F.conv1d
    y = conv(xt, kt, bt, strides=strides, padding=padding, dilation_rate=dilation)
    grad = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(grad)
    want_y, want_dx, want_dk, want_db = torch_conv(x, kernel, bias, strides, dilation, padding, grad)
    assert y.shape == want_y.shape
    np.testing.assert_allclose(y.data, want_y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad, want_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kt.grad, want_dk, rtol=1e-10, atol=1e-10)
    if bias is not None:
        np.testing.assert_allclose(bt.grad, want_db, rtol=1e-10, atol=1e-10)


# Two image shapes per configuration: (batch 2, 11x10, cin 3) with bias, and the corner
# cases batch 1, cin == 1, no bias on a 10x9 image; every (kernel, stride, dilation, padding).
IMAGES_2D = [(2, 11, 10, 3, True), (1, 10, 9, 1, False)]


@pytest.mark.parametrize("image", IMAGES_2D, ids=["b2_11x10_c3_bias", "b1_10x9_c1"])
@pytest.mark.parametrize("k,stride,dilation,padding",
                         list(itertools.product([1, 3, 5], [1, 2, 3], [1, 2], ["valid", "same"])))
def test_conv2d_matches_torch(k, stride, dilation, padding, image):
    n, h, w, cin, with_bias = image
    rng = np.random.default_rng(k * 100 + stride * 10 + dilation)
    x = rng.standard_normal((n, h, w, cin))
    kernel = rng.standard_normal((k, k, cin, 2))
    bias = rng.standard_normal(2) if with_bias else None
    check_against_torch(x, kernel, bias, (stride, stride), (dilation, dilation), padding)


@pytest.mark.parametrize("kernel_shape,strides,dilation,padding", [
    ((2, 3), (1, 2), (1, 1), "same"),   # even kernel: the odd padding cell goes at the end
    ((3, 1), (2, 1), (2, 1), "same"),
    ((1, 4), (3, 2), (1, 2), "valid"),
    ((4, 4), (2, 2), (1, 1), "same"),
])
def test_conv2d_rectangular_kernels_and_pairs_match_torch(kernel_shape, strides, dilation, padding):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 8, 2))
    kernel = rng.standard_normal(kernel_shape + (2, 3))
    check_against_torch(x, kernel, rng.standard_normal(3), strides, dilation, padding)


@pytest.mark.parametrize("length", [13, 12])
@pytest.mark.parametrize("k,stride,dilation,padding",
                         list(itertools.product([1, 3, 5], [1, 2, 3], [1, 2], ["valid", "same", "causal"])))
def test_conv1d_matches_torch(k, stride, dilation, padding, length):
    rng = np.random.default_rng(k * 100 + stride * 10 + dilation)
    cin = 1 if length % 2 else 2
    x = rng.standard_normal((2, length, cin))
    kernel = rng.standard_normal((k, cin, 3))
    check_against_torch(x, kernel, rng.standard_normal(3), (stride,), (dilation,), padding)


def test_same_padding_output_size_is_ceil_of_size_over_stride():
    x = tr.Tensor(np.ones((1, 7, 10, 1)))
    kernel = tr.Tensor(np.ones((3, 3, 1, 1)))
    assert F.conv2d(x, kernel, strides=(2, 3), padding="same").shape == (1, 4, 4, 1)
    # TF puts the extra padding cell at the end: with k=2, s=1 the last row sees one padded
    # row, the first sees none, so the top-left output sums a full 2x2 window of ones
    y = F.conv2d(x, tr.Tensor(np.ones((2, 2, 1, 1))), padding="same").data[0, :, :, 0]
    assert y[0, 0] == 4 and y[-1, 0] == 2 and y[0, -1] == 2 and y[-1, -1] == 1


# ---- finite differences ---------------------------------------------------------------
@pytest.mark.parametrize("strides,dilation,padding", [(1, 1, "same"), (2, 1, "same"), (1, 2, "valid")])
def test_conv2d_gradcheck(strides, dilation, padding):
    rng = np.random.default_rng(3)
    x, kernel, bias = rng.standard_normal((2, 5, 6, 2)), rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(2)
    assert tr.gradcheck(lambda a, k, b: F.conv2d(a, k, b, strides=strides, padding=padding,
                                                 dilation_rate=dilation), [x, kernel, bias])


def test_conv1d_gradcheck_causal_dilated():
    rng = np.random.default_rng(4)
    x, kernel, bias = rng.standard_normal((2, 7, 2)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)
    assert tr.gradcheck(lambda a, k, b: F.conv1d(a, k, b, padding="causal", dilation_rate=2), [x, kernel, bias])


def test_pointwise_strided_gradcheck():
    rng = np.random.default_rng(5)
    x, kernel = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((1, 1, 3, 2))
    assert tr.gradcheck(lambda a, k: F.conv2d(a, k, strides=2, padding="same"), [x, kernel])


# ---- fuzz against the naive reference --------------------------------------------------
@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["valid", "same"]))
    h = draw(st.integers((kh - 1) * dh + 1, 9))
    w = draw(st.integers((kw - 1) * dw + 1, 9))
    n, cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    layout = draw(st.sampled_from(["contiguous", "strided", "fortran"]))
    with_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return (n, h, w, cin, cout), (kh, kw), (sh, sw), (dh, dw), padding, dtype, layout, with_bias, seed


def make_layout(array, layout):
    """The same values as a non-contiguous array: every other element of a bigger one, or Fortran order."""
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in array.shape), dtype=array.dtype)
        view = big[tuple(slice(None, None, 2) for _ in array.shape)]
        view[...] = array
        return view
    if layout == "fortran":
        return np.asfortranarray(array)
    return array


@settings(max_examples=60, deadline=None)
@given(conv_configs())
def test_conv2d_fuzz_against_naive_reference(config):
    (n, h, w, cin, cout), (kh, kw), strides, dilation, padding, dtype, layout, with_bias, seed = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    kernel = rng.standard_normal((kh, kw, cin, cout)).astype(dtype)
    bias = rng.standard_normal(cout).astype(dtype) if with_bias else None
    xt = tr.Tensor(make_layout(x, layout), requires_grad=True)
    kt = tr.Tensor(make_layout(kernel, layout), requires_grad=True)
    bt = None if bias is None else tr.Tensor(bias, requires_grad=True)
    y = F.conv2d(xt, kt, bt, strides=strides, padding=padding, dilation_rate=dilation)
    grad = rng.standard_normal(y.shape).astype(dtype)
    y.backward(grad)
    want = naive_conv2d(x.astype(np.float64), kernel.astype(np.float64), bias, strides, dilation, padding)
    want_dx, want_dk = naive_conv2d_grads(x.astype(np.float64), kernel.astype(np.float64),
                                          grad.astype(np.float64), strides, dilation, padding)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert y.dtype == dtype and xt.grad.dtype == dtype and kt.grad.dtype == dtype
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad, want_dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(kt.grad, want_dk, rtol=tol, atol=tol)
    if bias is not None:
        np.testing.assert_allclose(bt.grad, grad.astype(np.float64).sum(axis=(0, 1, 2)), rtol=tol, atol=tol)


# ---- which gradients are computed -------------------------------------------------------
@pytest.mark.parametrize("x_grad,kernel_grad,bias_grad", [(False, True, True), (True, False, False),
                                                          (False, False, True), (True, True, False)])
@pytest.mark.parametrize("k", [1, 3])
def test_only_requested_gradients_are_computed_and_correct(x_grad, kernel_grad, bias_grad, k):
    rng = np.random.default_rng(6)
    x, kernel, bias = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((k, k, 3, 4)), rng.standard_normal(4)
    xt = tr.Tensor(x, requires_grad=x_grad)
    kt = tr.Tensor(kernel, requires_grad=kernel_grad)
    bt = tr.Tensor(bias, requires_grad=bias_grad)
    y = F.conv2d(xt, kt, bt, padding="same")
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    want_dx, want_dk = naive_conv2d_grads(x, kernel, grad, (1, 1), (1, 1), "same")
    assert (xt.grad is None) != x_grad and (kt.grad is None) != kernel_grad and (bt.grad is None) != bias_grad
    if x_grad:
        np.testing.assert_allclose(xt.grad, want_dx, atol=1e-10)
    if kernel_grad:
        np.testing.assert_allclose(kt.grad, want_dk, atol=1e-10)
    if bias_grad:
        np.testing.assert_allclose(bt.grad, grad.sum(axis=(0, 1, 2)), atol=1e-10)


def test_float32_stays_float32_and_no_grad_records_nothing():
    x = tr.Tensor(np.ones((1, 4, 4, 2), dtype=np.float32))
    kernel = tr.Tensor(np.ones((3, 3, 2, 1), dtype=np.float32), requires_grad=True)
    y = F.conv2d(x, kernel)
    assert y.dtype == np.float32 and y.requires_grad
    with tr.no_grad():
        z = F.conv2d(x, kernel)
    assert not z.requires_grad and z.grad_fn is None


def test_plain_arrays_are_accepted_as_constants():
    y = F.conv1d(np.ones((1, 5, 1)), np.ones((2, 1, 1)))
    np.testing.assert_array_equal(y.data[0, :, 0], [2, 2, 2, 2])


# ---- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize("call,message", [
    (lambda: F.conv2d(np.ones((1, 3, 3, 1)), np.ones((5, 5, 1, 2))),
     "kernel 5x5 does not fit input 3x3 with padding='valid'"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), dilation_rate=2),
     "kernel 3x3 with dilation_rate (2, 2) spans 5x5 and does not fit input 4x4"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), strides=0), "strides must be positive, got 0"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), strides=(1, -2)),
     "strides must be positive, got (1, -2)"),
    (lambda: F.conv1d(np.ones((1, 4, 1)), np.ones((3, 1, 2)), dilation_rate=0), "dilation_rate must be positive, got 0"),
    (lambda: F.conv2d(np.ones((4, 4, 1)), np.ones((3, 3, 1, 2))), "input must have rank 4 (N, H, W, C), got shape (4, 4, 1)"),
    (lambda: F.conv1d(np.ones((1, 4, 1)), np.ones((3, 3, 1, 2))), "kernel must have rank 3 (k, cin, cout)"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 3)), np.ones((3, 3, 2, 5))),
     "input has 3 channels (shape (1, 4, 4, 3)) but the kernel expects 2 (shape (3, 3, 2, 5))"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), padding="full"), "unknown padding 'full'"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), padding="causal"), "unknown padding 'causal'"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), np.ones(3)), "bias must have shape (2,)"),
    (lambda: F.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), strides=(1, 2, 3)),
     "strides must be an int or a tuple of 2 ints"),
])
def test_bad_input_raises_value_error_naming_the_values(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_linear_matches_numpy_and_checks_shapes():
    rng = np.random.default_rng(8)
    x, kernel, bias = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(F.linear(x, kernel, bias).data, x @ kernel + bias)
    assert tr.gradcheck(lambda a, k, b: F.linear(a, k, b), [x, kernel, bias])
    with pytest.raises(ValueError, match=r"input of shape \(4, 5\) has last axis 5, but the kernel of shape \(3, 2\) expects 3 inputs"):
        F.linear(np.ones((4, 5)), kernel)


def test_functional_has_every_activation_of_the_table_with_the_tensor_defaults():
    from tinygrad_relu.ops import activation
    assert set(F.ACTIVATION_NAMES) == {row.name for row in activation.TABLE if row.tensor is not None}
    for name in F.ACTIVATION_NAMES:
        x = tr.Tensor([-1.5, -0.2, 0.0, 0.7, 3.0])
        np.testing.assert_array_equal(getattr(F, name)(x).data, getattr(x, name)().data)
    assert F.relu(tr.Tensor([-1.0, 2.0])).data.tolist() == [0.0, 2.0]
    assert F.leaky_relu(tr.Tensor([-1.0])).data.tolist() == [np.float32(-0.01)]  # PyTorch's default slope


@pytest.mark.parametrize("padding,strides,dilation", [("same", 1, 1), ("valid", 2, 2)])
def test_multithreaded_kernels_match_the_reference(monkeypatch, padding, strides, dilation):
    from tinygrad_relu.ops import convolution as conv_ops
    monkeypatch.setattr(conv_ops, "PARALLEL_MIN_WORK", 0)  # force the OpenMP path on small inputs
    rng = np.random.default_rng(9)
    x, kernel = rng.standard_normal((5, 9, 8, 3)), rng.standard_normal((3, 3, 3, 4))
    xt, kt = tr.Tensor(x, requires_grad=True), tr.Tensor(kernel, requires_grad=True)
    y = F.conv2d(xt, kt, strides=strides, padding=padding, dilation_rate=dilation)
    assert y._ctx.parallel
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    s, d = (strides, strides), (dilation, dilation)
    want_dx, want_dk = naive_conv2d_grads(x, kernel, grad, s, d, padding)
    np.testing.assert_allclose(y.data, naive_conv2d(x, kernel, None, s, d, padding), atol=1e-10)
    np.testing.assert_allclose(xt.grad, want_dx, atol=1e-10)
    np.testing.assert_allclose(kt.grad, want_dk, atol=1e-10)


# ---- the fused convolution (bias + activation in one op) and its scratch buffers ----------
def _conv_grads(conv, x, kernel, bias, grad, **kwargs):
    xt, kt, bt = (tr.Tensor(a, requires_grad=True) for a in (x, kernel, bias))
    y = conv(xt, kt, bt, **kwargs)
    y.backward(grad)
    return y.data, xt.grad, kt.grad, bt.grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "leaky_relu"])
@pytest.mark.parametrize("rank,k,padding", [(2, 3, "valid"), (2, 1, "same"), (1, 3, "causal")])
def test_fused_activation_matches_the_unfused_chain(dtype, activation, rank, k, padding):
    from tinygrad_relu import activations
    from tinygrad_relu.ops.convolution import Workspace
    rng = np.random.default_rng(21)
    conv = F.conv2d if rank == 2 else F.conv1d
    spatial = (7, 6) if rank == 2 else (9,)
    x = rng.standard_normal((3, *spatial, 4)).astype(dtype)
    kernel = (rng.standard_normal((k,) * rank + (4, 5)) * 0.5).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    y_ref = conv(tr.Tensor(x), tr.Tensor(kernel), tr.Tensor(bias), padding=padding)
    grad = rng.standard_normal(y_ref.shape).astype(dtype)
    act = activations.get(activation)
    want = _conv_grads(lambda *a, **kw: act(conv(*a, **kw)), x, kernel, bias, grad, padding=padding)
    workspace = Workspace()
    for _ in range(2):  # the second call runs on the reused scratch buffers
        got = _conv_grads(conv, x, kernel, bias, grad, padding=padding, activation=activation, workspace=workspace)
        for g, w in zip(got, want):  # the same GEMMs and the same activation kernels: bit for bit
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, w)


def test_fused_relu_is_exactly_relu_of_the_product_with_zero_and_nan():
    # ReLU'(0) = 0 and NaN propagates, as the standalone ReLU op
    x = np.array([[[[1.0], [0.0], [-1.0], [np.nan]]]])
    kernel = np.ones((1, 1, 1, 1))
    xt, kt = tr.Tensor(x, requires_grad=True), tr.Tensor(kernel, requires_grad=True)
    y = F.conv2d(xt, kt, activation="relu")
    np.testing.assert_array_equal(y.data.ravel(), [1.0, 0.0, 0.0, np.nan])
    y.backward(np.ones_like(y.data))
    np.testing.assert_array_equal(xt.grad.ravel(), [1.0, 0.0, 0.0, 1.0])


def test_fused_conv_gradcheck_float64():
    from tinygrad_relu.gradcheck import gradcheck
    rng = np.random.default_rng(4)
    x = tr.Tensor(rng.standard_normal((2, 5, 6, 2)) + 0.05, requires_grad=True)
    kernel = tr.Tensor(rng.standard_normal((3, 3, 2, 3)), requires_grad=True)
    bias = tr.Tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda a, b, c: F.conv2d(a, b, c, padding="same", activation="tanh"), [x, kernel, bias])


def test_unknown_fused_activation_is_a_value_error():
    with pytest.raises(ValueError, match="activation 'softmax' cannot be fused"):
        F.conv2d(np.ones((1, 3, 3, 1)), np.ones((1, 1, 1, 1)), activation="softmax")


def test_conv_layer_fuses_builtin_activations_but_not_custom_callables():
    from tinygrad_relu import layers as L
    from tinygrad_relu.ops.convolution import Conv2D as Conv2DOp
    rng = np.random.default_rng(2)
    x = tr.Tensor(rng.standard_normal((2, 6, 6, 3)).astype(np.float32))
    layer = L.Conv2D(4, 3, activation="relu")
    y = layer(x, training=True)
    assert isinstance(y._ctx, Conv2DOp) and y._ctx.activation == "relu"
    custom = L.Conv2D(4, 3, activation=lambda t: t.relu())
    custom.build(x.shape)
    custom.set_weights(layer.get_weights())
    z = custom(x, training=True)
    assert not isinstance(z._ctx, Conv2DOp)  # the custom callable ran as its own op
    np.testing.assert_allclose(y.data, z.data, rtol=1e-6)


def test_first_layer_input_gradient_is_skipped():
    from tinygrad_relu.ops import convolution as conv_ops
    x = tr.Tensor(np.ones((2, 5, 5, 1), np.float32))  # a data batch: no gradient wanted
    kernel = tr.Tensor(np.ones((3, 3, 1, 2), np.float32), requires_grad=True)
    y = F.conv2d(x, kernel, activation="relu")
    op = y._ctx
    calls = []
    original = conv_ops._kernels.col2im_2d
    try:
        conv_ops._kernels.col2im_2d = lambda *a: calls.append(a)
        y.backward(np.ones(y.shape, np.float32))
    finally:
        conv_ops._kernels.col2im_2d = original
    assert op.needs_input_grad[0] is False and calls == [] and x.grad is None
    assert kernel.grad.shape == (3, 3, 1, 2)


def test_workspace_reuses_one_buffer_per_name_and_never_shares_a_live_one():
    from tinygrad_relu.ops.convolution import Workspace
    ws = Workspace()
    a = ws.take("cols", (4, 3), np.float32)
    b = ws.take("cols", (4, 3), np.float32)  # `a` is still out: a second, distinct buffer
    assert a is not b
    ws.give("cols", a)
    assert ws.take("cols", (4, 3), np.float32) is a
    ws.give("cols", a)
    c = ws.take("cols", (5, 3), np.float32)  # another shape replaces the slot, never adds one
    assert c is not a and c.shape == (5, 3)
    ws.give("cols", c)
    assert len(ws._slots) == 1


def test_two_forwards_before_backward_get_correct_gradients_with_a_shared_workspace():
    from tinygrad_relu.ops.convolution import Workspace
    rng = np.random.default_rng(8)
    ws = Workspace()
    kernel = tr.Tensor(rng.standard_normal((3, 3, 2, 3)), requires_grad=True)
    x1, x2 = rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((2, 6, 6, 2))
    y1 = F.conv2d(tr.Tensor(x1), kernel, activation="relu", workspace=ws)
    y2 = F.conv2d(tr.Tensor(x2), kernel, activation="relu", workspace=ws)
    g = np.ones(y1.shape)
    y1.backward(g)
    dk1 = kernel.grad.copy()
    kernel.grad = None
    y2.backward(g)
    want1 = naive_conv2d_grads(x1, kernel.data, g * (y1.data > 0), (1, 1), (1, 1), "valid")[1]
    want2 = naive_conv2d_grads(x2, kernel.data, g * (y2.data > 0), (1, 1), (1, 1), "valid")[1]
    np.testing.assert_allclose(dk1, want1, atol=1e-10)
    np.testing.assert_allclose(kernel.grad, want2, atol=1e-10)


def test_no_grad_forward_returns_its_buffer_at_once():
    from tinygrad_relu.ops.convolution import Workspace
    ws = Workspace()
    kernel = tr.Tensor(np.ones((3, 3, 1, 2)), requires_grad=True)
    with tr.no_grad():
        F.conv2d(tr.Tensor(np.ones((2, 5, 5, 1))), kernel, workspace=ws)
    assert ws._slots["cols"].shape == (18, 9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_reject_mismatched_buffers(dtype):
    from tinygrad_relu._kernels import conv as kernels
    x = np.ones((2, 5, 5, 1), dtype)
    with pytest.raises(ValueError, match="im2col_2d: cols has shape"):
        kernels.im2col_2d(x, np.empty((10, 9), dtype), 3, 3, 1, 1, 1, 1, 0, 0, 3, 3, False)
    with pytest.raises(ValueError, match="col2im_2d: cols has shape"):
        kernels.col2im_2d(np.empty((18, 4), dtype), x.copy(), 3, 3, 1, 1, 1, 1, 0, 0, 3, 3, False)


def test_recycled_outputs_are_never_overwritten_while_someone_holds_them():
    from tinygrad_relu import layers as L
    rng = np.random.default_rng(12)
    layer = L.Conv2D(3, 3, activation="relu")
    x1, x2 = (tr.Tensor(rng.standard_normal((2, 6, 6, 2)).astype(np.float32)) for _ in range(2))
    held = layer(x1, training=True)  # the caller keeps this output
    kept = held.data.copy()
    view = layer(x2, training=True).data[:, 0]  # only a view of the second output survives
    second = view.copy()
    for _ in range(3):
        out = layer(x1, training=True)
        out.backward(np.ones(out.shape, np.float32))
        del out
    np.testing.assert_array_equal(held.data, kept)
    np.testing.assert_array_equal(view, second)
    address = layer(x2, training=True).data.ctypes.data  # the result is dropped at once ...
    assert layer(x2, training=True).data.ctypes.data == address  # ... so its array is reused


def test_backward_twice_with_retain_graph_through_conv_and_pool():
    """Conv and pool hand their buffers back only when the graph is released, not before."""
    rng = np.random.default_rng(7)
    x = tr.Tensor(rng.standard_normal((2, 7, 7, 3)), requires_grad=True)
    kernel = tr.Tensor(rng.standard_normal((3, 3, 3, 4)), requires_grad=True)
    bias = tr.Tensor(rng.standard_normal(4), requires_grad=True)
    for activation in ("linear", "relu"):
        for t in (x, kernel, bias):
            t.grad = None
        h = F.conv2d(x, kernel, bias, activation=activation) if activation != "linear" else F.conv2d(x, kernel, bias)
        loss = (F.max_pool2d(h, 2) * 1.5).sum() + F.avg_pool2d(h, 2).sum()
        loss.backward(retain_graph=True)
        once = [t.grad.copy() for t in (x, kernel, bias)]
        loss.backward()
        for t, g in zip((x, kernel, bias), once):
            np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-12, atol=1e-12)
        with pytest.raises(RuntimeError, match="freed"):
            loss.backward()
