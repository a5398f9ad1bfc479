"""Grouped, depthwise, separable and transposed convolutions and data_format="channels_first": Keras 3's
layers give the same outputs from the same weights (names, shapes, order), gradients match PyTorch in
float64 and finite differences, the depthwise kernels match a numpy reference (fuzzed) and check their
arguments, bad layer arguments are named."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_relu as tr
from tinygrad_relu import layers as L, ops
from tinygrad_relu._kernels import depthwise as D
from tinygrad_relu._kernels import threads as T
from tinygrad_relu.models import Sequential, load_model
from tinygrad_relu.ops import nn as nn_ops

rng = np.random.default_rng(0)


def numpy_of(keras, values):
    return [keras.ops.convert_to_numpy(v) for v in values]


def same_as_keras(keras, make, shape, tol=2e-6):
    """Build the layer in both libraries, give both Keras' (perturbed) weights, compare outputs and shapes."""
    theirs, ours = make(keras), make(tr)
    x = rng.standard_normal(shape).astype(np.float32)
    theirs(x)
    ours(x)
    assert [v.path.rsplit("/", 1)[-1] for v in theirs.weights] == [n.rsplit("/", 1)[-1] for n in ours.weight_names]
    weights = [w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in numpy_of(keras, theirs.get_weights())]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    expected = keras.ops.convert_to_numpy(theirs(x))
    got = ours(x).data
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * 10)
    assert tuple(ours.compute_output_shape((None,) + shape[1:])) == tuple(theirs.compute_output_shape((None,) + shape[1:]))


LAYERS = {
    "conv2d_transpose_same_s2": (lambda l: l.layers.Conv2DTranspose(5, 3, strides=2, padding="same", activation="relu"),
                                 (2, 5, 6, 3)),
    "conv2d_transpose_even_kernel": (lambda l: l.layers.Conv2DTranspose(4, (4, 2), strides=(2, 3), padding="same"),
                                     (2, 5, 6, 3)),
    "conv2d_transpose_output_padding": (lambda l: l.layers.Conv2DTranspose(5, 3, strides=2, output_padding=1),
                                        (2, 5, 6, 3)),
    "conv2d_transpose_dilated": (lambda l: l.layers.Conv2DTranspose(3, 3, dilation_rate=2, use_bias=False),
                                 (2, 4, 5, 2)),
    "conv2d_transpose_channels_first": (lambda l: l.layers.Conv2DTranspose(5, 3, padding="same",
                                                                           data_format="channels_first"), (2, 3, 5, 6)),
    "conv1d_transpose": (lambda l: l.layers.Conv1DTranspose(5, 3, strides=3), (2, 5, 3)),
    "depthwise2d": (lambda l: l.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2), (2, 7, 6, 3)),
    "depthwise2d_m1": (lambda l: l.layers.DepthwiseConv2D(3, padding="same", activation="relu"), (2, 7, 6, 8)),
    "depthwise2d_channels_first": (lambda l: l.layers.DepthwiseConv2D((3, 2), dilation_rate=2,
                                                                      data_format="channels_first"), (2, 3, 7, 6)),
    "depthwise1d": (lambda l: l.layers.DepthwiseConv1D(3, padding="same", depth_multiplier=3), (2, 7, 3)),
    "separable2d": (lambda l: l.layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu"),
                    (2, 7, 6, 3)),
    "separable2d_channels_first": (lambda l: l.layers.SeparableConv2D(4, 3, data_format="channels_first"),
                                   (2, 3, 7, 6)),
    "separable1d": (lambda l: l.layers.SeparableConv1D(4, 3, strides=2), (2, 9, 3)),
    "conv2d_groups": (lambda l: l.layers.Conv2D(6, 3, groups=3, padding="same", activation="tanh"), (2, 7, 6, 3)),
    "conv2d_groups_depthwise": (lambda l: l.layers.Conv2D(8, 3, groups=4, strides=2), (2, 7, 6, 4)),
    "conv1d_groups_causal_channels_first": (lambda l: l.layers.Conv1D(6, 3, groups=2, padding="causal",
                                                                      data_format="channels_first"), (2, 4, 9)),
    "conv2d_channels_first": (lambda l: l.layers.Conv2D(6, 3, data_format="channels_first", activation="relu"),
                              (2, 3, 7, 6)),
    "conv1d_channels_first": (lambda l: l.layers.Conv1D(4, 2, strides=2, data_format="channels_first"), (2, 3, 9)),
    "max_pool2d_channels_first": (lambda l: l.layers.MaxPooling2D(2, padding="same", data_format="channels_first"),
                                  (2, 3, 5, 7)),
    "avg_pool2d_channels_first": (lambda l: l.layers.AveragePooling2D((3, 2), strides=(1, 2),
                                                                      data_format="channels_first"), (2, 3, 5, 7)),
    "max_pool1d_channels_first": (lambda l: l.layers.MaxPooling1D(3, 2, padding="same", data_format="channels_first"),
                                  (2, 3, 7)),
    "avg_pool1d_channels_first": (lambda l: l.layers.AveragePooling1D(2, data_format="channels_first"), (2, 3, 7)),
    "global_avg2d_channels_first": (lambda l: l.layers.GlobalAveragePooling2D(data_format="channels_first",
                                                                              keepdims=True), (2, 3, 5, 7)),
    "global_max2d_channels_first": (lambda l: l.layers.GlobalMaxPooling2D(data_format="channels_first"), (2, 3, 5, 7)),
    "global_avg1d_channels_first": (lambda l: l.layers.GlobalAveragePooling1D(data_format="channels_first"),
                                    (2, 3, 5)),
    "global_max1d_channels_first": (lambda l: l.layers.GlobalMaxPooling1D(data_format="channels_first",
                                                                          keepdims=True), (2, 3, 5)),
    "flatten_channels_first": (lambda l: l.layers.Flatten(data_format="channels_first"), (2, 3, 5, 7)),
}


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer_matches_keras(keras, case):
    make, shape = LAYERS[case]
    same_as_keras(keras, make, shape)


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_transposed_output_sizes_match_keras_for_every_output_padding(keras, kernel, strides, padding):
    for output_padding in [None] + list(range(strides)):
        same_as_keras(keras, lambda lib: lib.layers.Conv1DTranspose(2, kernel, strides=strides, padding=padding,
                                                                    output_padding=output_padding), (1, 4, 2))


# ---- gradients: PyTorch in float64 and finite differences ---------------------------------------
def torch_nchw(x):
    torch = pytest.importorskip("torch")
    return torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)


def test_grouped_and_depthwise_gradients_match_torch():
    torch = pytest.importorskip("torch")
    for groups, cin, filters, strides, dilation in [(3, 6, 9, (2, 1), (1, 1)), (4, 4, 8, (1, 1), (2, 1)),
                                                    (2, 4, 6, (1, 2), (1, 1))]:
        x = rng.standard_normal((2, 7, 8, cin))
        kernel = rng.standard_normal((3, 2, cin // groups, filters))
        bias = rng.standard_normal(filters)
        xs, ks, bs = (tr.Tensor(a, requires_grad=True) for a in (x, kernel, bias))
        y = nn_ops.grouped_convolution("test", 2, xs, ks, bs, groups, strides, "valid", dilation)
        grad = rng.standard_normal(y.shape)
        y.backward(grad)
        xt, kt = torch_nchw(x), torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)
        bt = torch.tensor(bias, requires_grad=True)
        yt = torch.nn.functional.conv2d(xt, kt, bt, stride=strides, dilation=dilation, groups=groups)
        yt.backward(torch.tensor(np.moveaxis(grad, -1, 1).copy()))
        np.testing.assert_allclose(y.data, np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(xs.grad, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ks.grad, kt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(bs.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("strides,padding,output_padding,dilation", [
    (2, "same", None, 1), (2, "valid", 1, 1), (3, "same", 2, 1), (1, "valid", None, 2), (1, "same", None, 2)])
def test_transposed_convolution_gradients_match_torch(strides, padding, output_padding, dilation):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 4, 5, 3))
    kernel = rng.standard_normal((3, 3, 4, 3))  # (kh, kw, filters, cin)
    bias = rng.standard_normal(4)
    xs, ks, bs = (tr.Tensor(a, requires_grad=True) for a in (x, kernel, bias))
    y = nn_ops.transposed_convolution("test", 2, xs, ks, bs, strides, padding, output_padding, dilation)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    # PyTorch's full transposed convolution (no padding), cropped by TensorFlow's rule, is the reference
    xt, kt = torch_nchw(x), torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    full = torch.nn.functional.conv_transpose2d(xt, kt, None, stride=strides, dilation=dilation)
    geometry = [nn_ops.transpose_geometry(n, 3, strides, dilation, padding, output_padding) for n in (4, 5)]
    extra = [max(0, crop + out - size) for (out, crop), size in zip(geometry, full.shape[2:])]
    full = torch.nn.functional.pad(full, (0, extra[1], 0, extra[0]))
    (oh, top), (ow, left) = geometry
    yt = full[:, :, top:top + oh, left:left + ow] + bt[:, None, None]
    yt.backward(torch.tensor(np.moveaxis(grad, -1, 1).copy()))
    np.testing.assert_allclose(y.data, np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ks.grad, kt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_transposed_convolution_is_the_adjoint_of_the_convolution():
    """<conv_transpose(x), y> = <x, conv(y)>: the definition, independent of any library."""
    for strides, padding in [(2, "same"), (3, "valid"), (1, "same")]:
        x = rng.standard_normal((2, 4, 5, 3))
        kernel = rng.standard_normal((3, 3, 4, 3))
        up = ops.conv_transpose(x, kernel, strides, padding).data
        y = rng.standard_normal(up.shape)
        down = ops.conv(y, kernel, strides, padding).data  # kernel (kh, kw, 4, 3) maps 4 channels to 3
        assert np.vdot(up, y) == pytest.approx(np.vdot(x, down), rel=1e-10)


@pytest.mark.parametrize("name,fn,shapes", [
    ("depthwise", lambda x, k, b: nn_ops.depthwise_convolution("t", 2, x, k, b, (2, 1), "same"),
     [(2, 5, 4, 3), (3, 2, 3, 2), (6,)]),
    ("depthwise_1d_dilated", lambda x, k, b: nn_ops.depthwise_convolution("t", 1, x, k, b, 1, "valid", 2),
     [(2, 7, 3), (2, 3, 1), (3,)]),
    ("grouped", lambda x, k, b: nn_ops.grouped_convolution("t", 2, x, k, b, 2, 1, "same"),
     [(2, 4, 4, 4), (2, 3, 2, 6), (6,)]),
    ("transposed", lambda x, k, b: nn_ops.transposed_convolution("t", 2, x, k, b, 2, "same"),
     [(2, 3, 3, 2), (3, 3, 4, 2), (4,)]),
    ("transposed_1d", lambda x, k, b: nn_ops.transposed_convolution("t", 1, x, k, b, 2, "valid", 1),
     [(2, 4, 2), (3, 3, 2), (3,)]),
    ("separable", lambda x, k, p: ops.separable_conv(x, k, p, 1, "same"), [(2, 4, 4, 2), (3, 3, 2, 2), (1, 1, 4, 3)]),
])
def test_gradients_match_finite_differences(name, fn, shapes):
    assert tr.gradcheck(fn, [rng.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("make", [
    lambda fmt: L.Conv2D(4, 3, strides=2, data_format=fmt, dtype="float64"),
    lambda fmt: L.Conv2D(6, 3, groups=3, data_format=fmt, dtype="float64"),
    lambda fmt: L.SeparableConv2D(2, 3, padding="same", data_format=fmt, dtype="float64"),
    lambda fmt: L.DepthwiseConv2D(2, depth_multiplier=2, data_format=fmt, dtype="float64"),
    lambda fmt: L.Conv2DTranspose(2, 2, strides=2, data_format=fmt, dtype="float64"),
], ids=["conv", "grouped", "separable", "depthwise", "transposed"])
def test_channels_first_is_channels_last_with_the_axes_moved(make):
    first, last = make("channels_first"), make("channels_last")
    x = rng.standard_normal((2, 3, 6, 5))
    x_first, x_last = tr.Tensor(x, requires_grad=True), tr.Tensor(np.moveaxis(x, 1, -1).copy(), requires_grad=True)
    first(x_first)
    last(x_last)
    last.set_weights([w + 0.1 for w in first.get_weights()])
    first.set_weights(last.get_weights())
    y_first, y_last = first(x_first), last(x_last)
    np.testing.assert_allclose(np.moveaxis(y_first.data, 1, -1), y_last.data, rtol=1e-12, atol=1e-12)
    grad = rng.standard_normal(y_last.shape)
    (y_first * np.moveaxis(grad, -1, 1)).sum().backward()
    (y_last * grad).sum().backward()
    np.testing.assert_allclose(np.moveaxis(x_first.grad, 1, -1), x_last.grad, rtol=1e-12, atol=1e-12)
    for w_first, w_last in zip(first.weights, last.weights):
        np.testing.assert_allclose(w_first.grad, w_last.grad, rtol=1e-12, atol=1e-12)
    assert tr.gradcheck(lambda xt: first(xt), [x])


# ---- the depthwise kernels: numpy reference, fuzzed; argument checks --------------------------------
def reference_depthwise(x, kernel, grad, strides, dilation, pads):
    """Forward and both gradients by explicit zero padding and one shifted product per tap."""
    n, h, w, c = x.shape
    kh, kw, _, m = kernel.shape
    oh, ow = grad.shape[1:3]
    (sh, sw), (dh, dw), (pt, pl) = strides, dilation, pads
    xp = np.zeros((n, h + pt + (oh - 1) * sh + kh * dh, w + pl + (ow - 1) * sw + kw * dw, c))
    xp[:, pt:pt + h, pl:pl + w] = x
    out, dxp, dk = np.zeros((n, oh, ow, c, m)), np.zeros_like(xp), np.zeros(kernel.shape)
    g = grad.reshape(n, oh, ow, c, m)
    for a in range(kh):
        for b in range(kw):
            rows, cols = slice(a * dh, a * dh + (oh - 1) * sh + 1, sh), slice(b * dw, b * dw + (ow - 1) * sw + 1, sw)
            patch = xp[:, rows, cols]
            out += patch[..., None] * kernel[a, b]
            dk[a, b] = (patch[..., None] * g).sum((0, 1, 2))
            dxp[:, rows, cols] += (g * kernel[a, b]).sum(-1)
    return out.reshape(n, oh, ow, c * m), dxp[:, pt:pt + h, pl:pl + w], dk


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_depthwise_kernels_match_numpy(data):
    draw = data.draw
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    sh, sw = (1, 1) if dh > 1 or dw > 1 else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers((kh - 1) * dh + 1, 8)), draw(st.integers((kw - 1) * dw + 1, 8))
    pt, pl = draw(st.integers(0, (kh - 1) * dh)), draw(st.integers(0, (kw - 1) * dw))
    oh = (h + pt - (kh - 1) * dh - 1) // sh + 1
    ow = (w + pl - (kw - 1) * dw - 1) // sw + 1
    n, c, m = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    parallel = draw(st.booleans())
    seeded = np.random.default_rng(draw(st.integers(0, 1000)))
    x = seeded.standard_normal((n, h, w, c)).astype(dtype)
    kernel = seeded.standard_normal((kh, kw, c, m)).astype(dtype)
    grad = seeded.standard_normal((n, oh, ow, c * m)).astype(dtype)
    geometry = (sh, sw, dh, dw, pt, pl)
    out, dx, dk = np.empty((n, oh, ow, c * m), dtype), np.zeros_like(x), np.empty_like(kernel)
    D.depthwise_conv_2d(x, kernel, out, *geometry, parallel)
    D.depthwise_conv_2d_input_grad(grad, kernel, dx, *geometry, parallel)
    D.depthwise_conv_2d_kernel_grad(x, grad, dk, *geometry, parallel)
    expected = reference_depthwise(x.astype(np.float64), kernel.astype(np.float64), grad.astype(np.float64),
                                   (sh, sw), (dh, dw), (pt, pl))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for got, want in zip((out, dx, dk), expected):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_depthwise_defs_keep_their_names_and_argument_order():
    import inspect
    geometry = "sh sw dh dw pt pl parallel"
    for name, head in (("depthwise_conv_2d", "x kernel out"), ("depthwise_conv_2d_input_grad", "grad kernel dx"),
                       ("depthwise_conv_2d_kernel_grad", "x grad dkernel"), ("bounds_probe", "fn args")):
        expected = (head + " " + geometry).split() if name != "bounds_probe" else head.split()
        assert list(inspect.signature(getattr(D, name)).parameters) == expected, name


def depthwise_buffers(dtype=np.float64):
    x = np.ones((2, 4, 4, 3), dtype)
    kernel = np.ones((3, 3, 3, 2), dtype)
    return x, kernel, np.empty((2, 4, 4, 6), dtype)


GEOMETRY = (1, 1, 1, 1, 1, 1)


@pytest.mark.parametrize("call,error,match", [
    (lambda x, k, o: D.depthwise_conv_2d(list(x), k, o, *GEOMETRY, False), TypeError, "x must be a numpy array"),
    (lambda x, k, o: D.depthwise_conv_2d(x.astype(np.int32), k, o, *GEOMETRY, False), TypeError,
     "x must be float32 or float64"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k.astype(np.float32), o, *GEOMETRY, False), TypeError,
     "kernel must be float64 like x"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o[:, :, ::2], *GEOMETRY, False), ValueError, "not C-contiguous"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k[:, :, :2], o, *GEOMETRY, False), ValueError, "do not fit"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o[..., :5].copy(), *GEOMETRY, False), ValueError, "do not fit"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o[0], *GEOMETRY, False), ValueError, "out must be 4-D"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o, 1, 1, 1, 1, 3, 1, False), ValueError, "pt = 3 must be in"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o, 2, 1, 1, 1, 1, 1, False), ValueError, "oh = 4 windows"),
    (lambda x, k, o: D.depthwise_conv_2d(x, k, o, 0, 1, 1, 1, 1, 1, False), ValueError, "sh must be in"),
    (lambda x, k, o: D.depthwise_conv_2d_input_grad(o, k, x[:1], *GEOMETRY, False), ValueError, "do not fit"),
    (lambda x, k, o: D.depthwise_conv_2d_kernel_grad(x, o, k[..., :1].copy(), *GEOMETRY, False), ValueError,
     "do not fit"),
    (lambda x, k, o: D.depthwise_conv_2d_kernel_grad(x, o, np.ones((3, 3, 3, 2)).T, *GEOMETRY, False), ValueError,
     "dkernel is written in place"),
])
def test_depthwise_defs_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(*depthwise_buffers())


def test_depthwise_defs_read_inputs_in_any_layout():
    x = rng.standard_normal((2, 5, 4, 3))
    kernel = rng.standard_normal((3, 3, 3, 1))
    out, expected = np.empty((2, 5, 4, 3)), np.empty((2, 5, 4, 3))
    D.depthwise_conv_2d(x, kernel, expected, *GEOMETRY, False)
    D.depthwise_conv_2d(np.asfortranarray(x), kernel[::-1, ::-1][::-1, ::-1], out, *GEOMETRY, False)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.skipif(not T.debug_build(), reason="bounds checks exist only in the debug build")
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("which", ["forward", "input_grad", "kernel_grad"])
def test_debug_build_depthwise_index_errors_reach_the_caller(which, parallel):
    x, kernel, out = depthwise_buffers()
    for m in (1, 2):  # the row-wise (M = 1) and the general loops
        k = kernel[..., :m].copy()
        o = out[..., :3 * m].copy()
        fn, args = {"forward": (D.depthwise_conv_2d, (x, k, o)),
                    "input_grad": (D.depthwise_conv_2d_input_grad, (np.ones_like(o), k, np.zeros_like(x))),
                    "kernel_grad": (D.depthwise_conv_2d_kernel_grad, (x, np.ones_like(o), np.empty_like(k)))}[which]
        with pytest.raises(IndexError, match="Out of bounds on buffer access"):
            D.bounds_probe(fn, *args, *GEOMETRY, parallel)
        fn(*args, *GEOMETRY, parallel)


@pytest.mark.skipif(T.debug_build(), reason="the release build's probes refuse to run")
def test_release_build_depthwise_probe_refuses():
    with pytest.raises(RuntimeError, match="bounds_probe: this build has no bounds checks"):
        D.bounds_probe(print, "never printed")


# ---- layers: errors, training, saving ---------------------------------------------------------------
@pytest.mark.parametrize("make,shape,match", [
    (lambda: L.Conv2D(6, 3, groups=4), None, "filters must be divisible by the number of groups"),
    (lambda: L.Conv2D(6, 3, groups=3), (2, 5, 5, 4), "input channels must be divisible by the number of groups"),
    (lambda: L.Conv2D(6, 3, groups=0), None, "groups"),
    (lambda: L.Conv2D(4, 3, data_format="channels_middle"), None, "`data_format` must be 'channels_last' or"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2), None, "output_padding` must be strictly less"),
    (lambda: L.Conv2DTranspose(4, 3, padding="causal"), None, "`padding` must be one of"),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, dilation_rate=2), None, "strides > 1 together with dilation_rate"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), None, "depth_multiplier"),
    (lambda: L.DepthwiseConv2D(5), (2, 4, 4, 3), "the kernel .* is larger than spatial axis 1"),
    (lambda: L.SeparableConv1D(0, 3), None, "filters"),
    (lambda: L.SeparableConv2D(4, 3, data_format="channels_first"), (2, 5, 5), "expected ndim=4"),
])
def test_bad_arguments_name_the_layer(make, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        layer(np.zeros(shape, np.float32))


def test_a_model_of_every_variant_trains_saves_and_loads(tmp_path):
    x = rng.standard_normal((32, 8, 8, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]
    model = Sequential([
        tr.Input((8, 8, 3)),
        L.Conv2D(6, 3, groups=3, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.SeparableConv2D(8, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        L.Conv2D(4, 3, data_format="channels_first", padding="same"),
        L.GlobalAveragePooling2D(),
        L.Dense(1, activation="sigmoid"),
    ])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "variants.keras")
    loaded = load_model(tmp_path / "variants.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_keras_ops_variants_take_channels_first():
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    channels_last = ops.depthwise_conv(np.moveaxis(x, 1, -1), kernel, padding="same").data
    channels_first = ops.depthwise_conv(x, kernel, padding="same", data_format="channels_first").data
    np.testing.assert_allclose(np.moveaxis(channels_first, 1, -1), channels_last, rtol=1e-6)
    pooled = ops.max_pool(x, 2, data_format="channels_first").data
    np.testing.assert_array_equal(pooled, np.moveaxis(ops.max_pool(np.moveaxis(x, 1, -1), 2).data, -1, 1))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_keras_ops_conv_functions_match_keras(keras, data_format):
    K = keras.ops
    first = data_format == "channels_first"
    x = rng.standard_normal((2, 3, 7, 6) if first else (2, 7, 6, 3)).astype(np.float32)
    depthwise = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    pointwise = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    transposed = rng.standard_normal((3, 3, 5, 3)).astype(np.float32)
    grouped = rng.standard_normal((3, 3, 1, 6)).astype(np.float32)
    pairs = [
        (ops.depthwise_conv(x, depthwise, 2, "same", data_format), K.depthwise_conv(x, depthwise, 2, "same", data_format)),
        (ops.separable_conv(x, depthwise, pointwise, 1, "valid", data_format),
         K.separable_conv(x, depthwise, pointwise, 1, "valid", data_format)),
        (ops.conv_transpose(x, transposed, 2, "same", None, data_format),
         K.conv_transpose(x, transposed, 2, "same", None, data_format)),
        (ops.conv(x, grouped, 1, "same", data_format), K.conv(x, grouped, 1, "same", data_format)),
        (ops.average_pool(x, 2, None, "same", data_format), K.average_pool(x, 2, None, "same", data_format)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.data, K.convert_to_numpy(theirs), rtol=1e-5, atol=1e-5)
