"""The compiled kernels trust nothing from their caller.

Every ``def`` of ``tinygrad_relu._kernels.*`` checks what its loops rely on and raises a
TypeError (not an array, wrong dtype) or ValueError (shapes, layout, sizes, index ranges)
naming the function and the offending values; arrays it only reads may come in any layout
(they are copied into C order) and give the same result. The calls that crashed or wrote out
of bounds before these checks run in a fresh interpreter, so a regression fails one test
instead of killing the run. In the debug build (TINYGRAD_RELU_DEBUG=1) each module's
``bounds_probe`` hands a kernel an output too short for its loop, and the IndexError must
reach the caller from serial and threaded loops alike.
"""
import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_relu._kernels import activations as A
from tinygrad_relu._kernels import conv as C
from tinygrad_relu._kernels import losses as L
from tinygrad_relu._kernels import optim as O
from tinygrad_relu._kernels import optim_extra as OE
from tinygrad_relu._kernels import pool as P
from tinygrad_relu._kernels import threads as T

DEBUG = T.debug_build()
debug_only = pytest.mark.skipif(not DEBUG, reason="bounds checks exist only in the debug build")


# ---- the Python-visible API stays as it was ------------------------------------------------
SIGNATURES = {
    A: {"relu_forward": "x", "relu_backward": "g y", "leaky_relu_forward": "x negative_slope",
        "leaky_relu_backward": "g y negative_slope", "clipped_relu_forward": "x max_value",
        "clipped_relu_backward": "g y max_value",
        "relu_general_forward": "x negative_slope max_value threshold",
        "relu_general_backward": "g x negative_slope max_value threshold",
        "elu_forward": "x alpha scale", "elu_backward": "g x alpha scale", "gelu_forward": "x approximate",
        "gelu_backward": "g x approximate", "silu_forward": "x", "silu_backward": "g x",
        "sigmoid_forward": "x", "sigmoid_backward": "g y", "hard_sigmoid_forward": "x",
        "hard_sigmoid_backward": "g x", "tanh_forward": "x", "tanh_backward": "g y", "softplus_forward": "x",
        "softplus_backward": "g x", "softsign_forward": "x", "softsign_backward": "g x", "mish_forward": "x",
        "mish_backward": "g x", "softmax_forward": "x", "softmax_backward": "g y", "log_softmax_forward": "x",
        "log_softmax_backward": "g y", "fast_math": "name x", "parallel_thresholds": "",
        "set_parallel_thresholds": "cheap costly"},
    C: {"im2col_2d": "x cols kh kw sh sw dh dw pt pl oh ow parallel",
        "col2im_2d": "cols dx kh kw sh sw dh dw pt pl oh ow parallel",
        "relu_inplace": "z parallel", "relu_backward_into": "g y out parallel"},
    P: {"max_pool_2d": "x out argmax ph pw sh sw pt pl parallel",
        "max_pool_2d_backward": "grad_out argmax dx parallel", "max_pool_2x2": "x out argmax parallel",
        "max_pool_2x2_backward": "grad_out argmax dx parallel",
        "avg_pool_2d": "x out ph pw sh sw pt pl parallel",
        "avg_pool_2d_backward": "grad_out dx ph pw sh sw pt pl parallel"},
    O: {"adam_update": "w g m v vhat scale lo hi decay decayed one_minus_beta_1 one_minus_beta_2 epsilon alpha",
        "sgd_update": "w g m scale lo hi decay decayed lr momentum nesterov",
        "rmsprop_update": "w g v average_gradient mom scale lo hi decay decayed lr rho one_minus_rho epsilon "
                          "momentum",
        "adagrad_update": "w g accumulator scale lo hi decay decayed lr epsilon",
        "parallel_threshold": "", "set_parallel_threshold": "n"},
    OE: {"nadam_update": "w g m v scale lo hi decay decayed one_minus_beta_1 one_minus_beta_2 m_weight g_weight "
                         "bias_2 lr epsilon",
         "adamax_update": "w g m u scale lo hi decay decayed one_minus_beta_1 beta_2 epsilon bias_1 lr",
         "adadelta_update": "w g accumulated_grad accumulated_delta_var scale lo hi decay decayed lr rho "
                            "one_minus_rho epsilon",
         "ftrl_update": "w g accumulator linear scale lo hi decay decayed lr exponent l1 two_l2 two_l2_shrinkage",
         "lion_update": "w g m scale lo hi decay decayed lr beta_1 one_minus_beta_1 beta_2 one_minus_beta_2",
         "parallel_threshold": "", "set_parallel_threshold": "n"},
    L: {"shift_by_row_max": "x"},
    T: {"set_num_threads": "n", "get_num_threads": "", "openmp_enabled": "", "debug_build": "",
        "bounds_probe": "values index"},
}


@pytest.mark.parametrize("module", list(SIGNATURES), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_kernel_def_keeps_its_name_and_argument_order(module):
    for name, params in SIGNATURES[module].items():
        assert list(inspect.signature(getattr(module, name)).parameters) == params.split(), name
    assert (A.SELU_ALPHA, A.SELU_SCALE) == (1.6732632423543772, 1.0507009873554805)
    assert A.PRIMITIVES == ("exp", "expm1", "log1p", "tanh", "erfc")


# ---- activations ------------------------------------------------------------------------
# name -> (forward(x), backward(g, saved), the saved array backward reads: "x" or "y", rows?)
ACTIVATIONS = {
    "relu": (A.relu_forward, A.relu_backward, "y", False),
    "leaky_relu": (lambda x: A.leaky_relu_forward(x, 0.1), lambda g, y: A.leaky_relu_backward(g, y, 0.1), "y", False),
    "clipped_relu": (lambda x: A.clipped_relu_forward(x, 6.0), lambda g, y: A.clipped_relu_backward(g, y, 6.0),
                     "y", False),
    "relu_general": (lambda x: A.relu_general_forward(x, 0.2, 4.0, -0.5),
                     lambda g, x: A.relu_general_backward(g, x, 0.2, 4.0, -0.5), "x", False),
    "elu": (lambda x: A.elu_forward(x, 1.3, 1.1), lambda g, x: A.elu_backward(g, x, 1.3, 1.1), "x", False),
    "gelu": (A.gelu_forward, A.gelu_backward, "x", False),
    "gelu_tanh": (lambda x: A.gelu_forward(x, True), lambda g, x: A.gelu_backward(g, x, True), "x", False),
    "silu": (A.silu_forward, A.silu_backward, "x", False),
    "sigmoid": (A.sigmoid_forward, A.sigmoid_backward, "y", False),
    "hard_sigmoid": (A.hard_sigmoid_forward, A.hard_sigmoid_backward, "x", False),
    "tanh": (A.tanh_forward, A.tanh_backward, "y", False),
    "softplus": (A.softplus_forward, A.softplus_backward, "x", False),
    "softsign": (A.softsign_forward, A.softsign_backward, "x", False),
    "mish": (A.mish_forward, A.mish_backward, "x", False),
    "softmax": (A.softmax_forward, A.softmax_backward, "y", True),
    "log_softmax": (A.log_softmax_forward, A.log_softmax_backward, "y", True),
}


def def_name(name, direction):
    return {"gelu_tanh": "gelu", "relu_general": "relu_general"}.get(name, name) + "_" + direction


def backward_args(name, x):
    forward, _, reads, _ = ACTIVATIONS[name]
    return forward(x) if reads == "y" else x


LAYOUTS = {
    "fortran": np.asfortranarray,
    "strided": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "reversed": lambda a: np.ascontiguousarray(a[::-1])[::-1],
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "byteswapped": lambda a: a.astype(a.dtype.newbyteorder()),
    "misaligned": lambda a: _misaligned(a),
}


def _misaligned(a):
    raw = np.zeros(a.nbytes + 1, np.uint8)
    view = raw[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_inputs_in_any_layout_give_the_contiguous_result(name, layout, dtype):
    forward, backward, _, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(len(name))
    x = (rng.standard_normal((5, 6)) * 3).astype(dtype)
    g = rng.standard_normal((5, 6)).astype(dtype)
    saved = backward_args(name, x)
    want_y, want_gx = forward(x), backward(g, saved)
    x_in, g_in, saved_in = (LAYOUTS[layout](a) for a in (x, g, saved))
    assert not (x_in.flags.c_contiguous and x_in.flags.aligned and x_in.dtype.isnative)
    x_before = x_in.copy()
    y, gx = forward(x_in), backward(g_in, saved_in)
    for got, want in ((y, want_y), (gx, want_gx)):
        assert got.flags.c_contiguous and got.shape == want.shape and got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(x_in, x_before)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_shapes_of_any_rank_and_empty_arrays(name):
    forward, backward, _, _ = ACTIVATIONS[name]
    for shape in [(), (0,), (3, 0), (0, 4), (2, 3, 4)]:
        x = np.linspace(-3, 3, int(np.prod(shape))).reshape(shape)
        y = forward(x)
        assert y.shape == shape
        assert backward(np.ones(shape), backward_args(name, x)).shape == shape


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_defs_reject_what_is_not_a_float_array(name):
    forward, backward, reads, _ = ACTIVATIONS[name]
    fwd, bwd = def_name(name, "forward"), def_name(name, "backward")
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    with pytest.raises(TypeError, match=rf"{fwd}: x must be a numpy array, got list"):
        forward(x.tolist())
    for dtype in (np.float16, np.int32, np.complex64):
        with pytest.raises(TypeError, match=rf"{fwd}: x must be float32 or float64, got {np.dtype(dtype)}"):
            forward(x.astype(dtype))
        with pytest.raises(TypeError, match=rf"{bwd}: g must be float32 or float64"):
            backward(x.astype(dtype), x)
    with pytest.raises(TypeError, match=rf"{bwd}: {reads} must be float64 like g, got float32"):
        backward(x, x.astype(np.float32))
    with pytest.raises(TypeError, match=rf"{bwd}: {reads} must be a numpy array, got NoneType"):
        backward(x, None)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_rejects_a_saved_array_of_another_shape(name):
    _, backward, reads, _ = ACTIVATIONS[name]
    bwd = def_name(name, "backward")
    g = np.ones((4, 5))
    for saved in (np.ones((4, 4)), np.ones((3, 5)), np.ones(20), np.ones((4, 5, 1))):  # short, or same size
        with pytest.raises(ValueError, match=rf"{bwd}: g has shape \(4, 5\) but {reads} has shape"):
            backward(g, saved)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(ACTIVATIONS)), dtype=st.sampled_from([np.float32, np.float64]),
       threshold=st.sampled_from([None, 0, 3]))
def test_activation_kernels_called_directly_on_any_view(data, name, dtype, threshold):
    """Kernels called directly (no op in front) on arbitrary strided views of an array."""
    forward, backward, _, _ = ACTIVATIONS[name]
    base = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                                elements=st.floats(-20, 20, width=32)))
    view = base[data.draw(hnp.basic_indices(base.shape, min_dims=1, allow_ellipsis=False))]
    if not isinstance(view, np.ndarray) or view.ndim == 0:
        view = np.atleast_1d(view)
    g = np.ones_like(view)[..., ::-1]
    old = A.parallel_thresholds() if threshold is None else A.set_parallel_thresholds(threshold, threshold)
    try:
        got_y = forward(view)
        got_gx = backward(g, backward_args(name, view))
        want_y = forward(np.ascontiguousarray(view))
        want_gx = backward(np.ascontiguousarray(g), backward_args(name, np.ascontiguousarray(view)))
    finally:
        A.set_parallel_thresholds(*old)
    np.testing.assert_array_equal(got_y, want_y)
    np.testing.assert_array_equal(got_gx, want_gx)


def test_fast_math_rejects_unknown_names_and_takes_any_layout():
    with pytest.raises(ValueError, match="fast_math: unknown function 'log'"):
        A.fast_math("log", np.ones(3))
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    np.testing.assert_array_equal(A.fast_math("exp", np.asfortranarray(x)), A.fast_math("exp", x))


# ---- convolution ------------------------------------------------------------------------
CONV_GEOMETRY = (3, 3, 1, 1, 1, 1, 1, 1, 5, 5)  # kh kw sh sw dh dw pt pl oh ow: 'same' on 5x5


def conv_buffers(dtype=np.float64, n=2):
    x = np.random.default_rng(0).standard_normal((n, 5, 5, 3)).astype(dtype)
    return x, np.zeros((n * 25, 27), dtype)


def test_im2col_and_col2im_reject_bad_buffers():
    x, cols = conv_buffers()
    for call, match in [
        (lambda: C.im2col_2d(x.tolist(), cols, *CONV_GEOMETRY, False), "im2col_2d: x must be a numpy array"),
        (lambda: C.im2col_2d(x.astype(np.int64), cols, *CONV_GEOMETRY, False), "im2col_2d: x must be float32 or"),
        (lambda: C.im2col_2d(x, cols.astype(np.float32), *CONV_GEOMETRY, False),
         "im2col_2d: cols must be float64 like x, got float32"),
        (lambda: C.col2im_2d(cols, x.astype(np.float32), *CONV_GEOMETRY, False),
         "col2im_2d: dx must be float64 like cols, got float32"),
    ]:
        with pytest.raises(TypeError, match=match):
            call()
    frozen = cols.copy()
    frozen.setflags(write=False)
    for call, match in [
        (lambda: C.im2col_2d(x[0], cols, *CONV_GEOMETRY, False), r"im2col_2d: x must be 4-D \(N, H, W, C\), got shape"),
        (lambda: C.im2col_2d(x, cols[:-1], *CONV_GEOMETRY, False), r"im2col_2d: cols has shape \(49, 27\), expected \(50, 27"),
        (lambda: C.im2col_2d(x, np.empty((50, 29)), *CONV_GEOMETRY, False), r"cols has shape \(50, 29\)"),
        (lambda: C.im2col_2d(x, np.asfortranarray(cols), *CONV_GEOMETRY, False),
         "im2col_2d: cols is written in place.*it is not C-contiguous"),
        (lambda: C.im2col_2d(x, frozen, *CONV_GEOMETRY, False), "im2col_2d: cols is written in place.*read-only"),
        (lambda: C.im2col_2d(x, cols[:, ::-1], *CONV_GEOMETRY, False), "not C-contiguous"),
        (lambda: C.col2im_2d(cols[:30], np.zeros_like(x), *CONV_GEOMETRY, False), r"col2im_2d: cols has shape \(30, 27\)"),
        (lambda: C.col2im_2d(cols, np.zeros((3, 5, 5, 3)), *CONV_GEOMETRY, False), r"col2im_2d: cols has shape"),
        (lambda: C.col2im_2d(cols, np.asfortranarray(np.zeros_like(x)), *CONV_GEOMETRY, False),
         "col2im_2d: dx is written in place"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("bad, match", [
    ({"pt": 3}, r"im2col_2d: pt = 3 must be in \[0, 2\]"),           # the large pad that wrote out of bounds
    ({"pl": 400}, r"pl = 400 must be in \[0, 2\]"),
    ({"pt": -1}, r"pt = -1 must be in \[0, 2\]"),
    ({"kh": 0}, r"kh must be in \[1, 2147483647\], got 0"),
    ({"kw": -3}, r"kw must be in \[1, "),
    ({"sh": 0}, r"sh must be in \[1, "), ({"sw": -1}, r"sw must be in \[1, "),
    ({"dh": 0}, r"dh must be in \[1, "), ({"dw": 1 << 40}, r"dw must be in \[1, 2147483647\]"),
    ({"oh": -1}, r"oh must be in \[0, "), ({"ow": 7}, r"ow = 7 windows .* run past the input's W = 5"),
    ({"oh": 7}, r"oh = 7 windows with sh = 1 and pt = 1 run past the input's H = 5"),
])
def test_im2col_and_col2im_reject_bad_geometry(bad, match):
    names = ("kh", "kw", "sh", "sw", "dh", "dw", "pt", "pl", "oh", "ow")
    geometry = dict(zip(names, CONV_GEOMETRY)) | bad
    x, _ = conv_buffers()
    oh, ow = max(geometry["oh"], 0), max(geometry["ow"], 0)
    cols = np.empty((2 * oh * ow, 27))
    with pytest.raises(ValueError, match=match):
        C.im2col_2d(x, cols, *geometry.values(), False)
    with pytest.raises(ValueError, match=match.replace("im2col_2d", "col2im_2d")):
        C.col2im_2d(cols, np.zeros_like(x), *geometry.values(), False)


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed", "byteswapped"])
def test_im2col_and_col2im_read_inputs_in_any_layout(layout):
    x, cols = conv_buffers()
    C.im2col_2d(x, cols, *CONV_GEOMETRY, False)
    got = np.empty_like(cols)
    C.im2col_2d(LAYOUTS[layout](x), got, *CONV_GEOMETRY, False)
    np.testing.assert_array_equal(got, cols)
    want_dx, got_dx = np.zeros_like(x), np.zeros_like(x)
    C.col2im_2d(cols, want_dx, *CONV_GEOMETRY, False)
    C.col2im_2d(LAYOUTS[layout](cols), got_dx, *CONV_GEOMETRY, False)
    np.testing.assert_array_equal(got_dx, want_dx)


def test_fused_relu_kernels_reject_bad_buffers():
    z = np.linspace(-1, 1, 8)
    frozen = z.copy()
    frozen.setflags(write=False)
    with pytest.raises(TypeError, match="relu_inplace: z must be float32 or float64, got int64"):
        C.relu_inplace(np.arange(8), False)
    with pytest.raises(ValueError, match="relu_inplace: z is written in place.*read-only"):
        C.relu_inplace(frozen, False)
    with pytest.raises(ValueError, match="relu_inplace: z is written in place.*not C-contiguous"):
        C.relu_inplace(z[::2], False)
    with pytest.raises(ValueError, match=r"relu_inplace: z must be 1-D"):
        C.relu_inplace(z.reshape(2, 4), False)
    with pytest.raises(ValueError, match="relu_backward_into: sizes differ: g 8, y 7, out 8"):
        C.relu_backward_into(z, z[:7], np.empty(8), False)
    with pytest.raises(ValueError, match="relu_backward_into: sizes differ: g 8, y 8, out 9"):
        C.relu_backward_into(z, z, np.empty(9), False)
    with pytest.raises(TypeError, match="relu_backward_into: out must be float64 like g, got float32"):
        C.relu_backward_into(z, z, np.empty(8, np.float32), False)
    with pytest.raises(ValueError, match="relu_backward_into: out is written in place"):
        C.relu_backward_into(z, z, frozen, False)
    out = np.empty(4)
    C.relu_backward_into(np.ones(8)[::2], z[::2], out, False)  # read-only inputs may be strided
    np.testing.assert_array_equal(out, np.where(z[::2] <= 0, 0.0, 1.0))


# ---- pooling ----------------------------------------------------------------------------
def pool_buffers(dtype=np.float64, n=2, h=4, w=4, c=3):
    x = np.random.default_rng(1).standard_normal((n, h, w, c)).astype(dtype)
    return x, np.empty((n, h // 2, w // 2, c), dtype), np.empty((n, h // 2, w // 2, c), np.int32)


def test_pool_forward_defs_reject_batch_channel_and_buffer_mismatches():
    x, out, argmax = pool_buffers()
    general = (2, 2, 2, 2, 0, 0, False)
    cases = [
        # the batch mismatch that wrote past out: x has 2 images, out room for 1
        (lambda: P.max_pool_2d(x, out[:1], argmax[:1], *general),
         r"max_pool_2d: out has shape \(1, 2, 2, 3\) but x has shape \(2, 4, 4, 3\): batch"),
        (lambda: P.max_pool_2d(x, out[..., :2].copy(), argmax[..., :2].copy(), *general), "max_pool_2d: out has shape"),
        (lambda: P.max_pool_2d(x, out, argmax[:1], *general), r"max_pool_2d: argmax has shape \(1, 2, 2, 3\) but out"),
        (lambda: P.max_pool_2x2(x, out[:1], argmax[:1], False), r"max_pool_2x2: out has shape \(1, 2, 2, 3\), expected"),
        (lambda: P.max_pool_2x2(x, out[:, :1].copy(), argmax[:, :1].copy(), False), "max_pool_2x2: out has shape"),
        (lambda: P.avg_pool_2d(x, out[:1], *general), "avg_pool_2d: out has shape"),
        (lambda: P.max_pool_2d(x[0], out, argmax, *general), r"max_pool_2d: x must be 4-D \(N, H, W, C\)"),
        (lambda: P.max_pool_2d(x, np.asfortranarray(out), argmax, *general), "max_pool_2d: out is written in place"),
        (lambda: P.max_pool_2x2(x, out, argmax[..., ::-1], False), "max_pool_2x2: argmax is written in place"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(TypeError, match="max_pool_2d: argmax must be int32, got int64"):
        P.max_pool_2d(x, out, argmax.astype(np.int64), *general)
    with pytest.raises(TypeError, match="max_pool_2x2: out must be float64 like x, got float32"):
        P.max_pool_2x2(x, out.astype(np.float32), argmax, False)
    with pytest.raises(TypeError, match="avg_pool_2d: x must be a numpy array, got list"):
        P.avg_pool_2d(x.tolist(), out, *general)


@pytest.mark.parametrize("bad, match", [
    ({"pt": 2}, r"pt = 2 must be in \[0, 1\]"), ({"pl": -1}, r"pl = -1 must be in \[0, 1\]"),
    ({"ph": 0}, r"ph must be in \[1, "), ({"pw": -2}, r"pw must be in \[1, "),
    ({"sh": 0}, r"sh must be in \[1, "), ({"sw": -1 << 40}, r"sw must be in \[1, "),
    ({"sh": 4}, r"oh = 2 windows with sh = 4 and pt = 0 run past the input's H = 4"),
])
def test_pool_defs_reject_bad_geometry(bad, match):
    geometry = {"ph": 2, "pw": 2, "sh": 2, "sw": 2, "pt": 0, "pl": 0} | bad
    x, out, argmax = pool_buffers()
    with pytest.raises(ValueError, match="max_pool_2d: " + match):
        P.max_pool_2d(x, out, argmax, *geometry.values(), False)
    with pytest.raises(ValueError, match="avg_pool_2d: " + match):
        P.avg_pool_2d(x, out, *geometry.values(), False)
    with pytest.raises(ValueError, match="avg_pool_2d_backward: " + match):
        P.avg_pool_2d_backward(out, np.zeros_like(x), *geometry.values(), False)


def test_pool_backward_defs_reject_mismatched_buffers():
    x, out, argmax = pool_buffers()
    grad = np.ones_like(out)
    argmax[...] = 0
    for call, match in [
        (lambda: P.max_pool_2d_backward(grad, argmax, np.zeros((1, 4, 4, 3)), False),
         r"max_pool_2d_backward: dx has shape \(1, 4, 4, 3\) but grad_out has shape \(2, 2, 2, 3\): batch"),
        (lambda: P.max_pool_2d_backward(grad, argmax[:, :1], np.zeros_like(x), False),
         "max_pool_2d_backward: argmax has shape"),
        (lambda: P.max_pool_2x2_backward(grad, argmax, np.zeros((2, 6, 4, 3)), False),
         r"max_pool_2x2_backward: grad_out has shape \(2, 2, 2, 3\), expected"),
        (lambda: P.avg_pool_2d_backward(grad, np.zeros((3, 4, 4, 3)), 2, 2, 2, 2, 0, 0, False),
         "avg_pool_2d_backward: dx has shape"),
        (lambda: P.max_pool_2d_backward(grad, argmax, np.zeros((2, 4, 4, 3))[..., ::-1], False),
         "max_pool_2d_backward: dx is written in place"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(TypeError, match="max_pool_2d_backward: argmax must be int32, got float64"):
        P.max_pool_2d_backward(grad, argmax.astype(float), np.zeros_like(x), False)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("bad_index", [16, 99, 1 << 30, -1, -(1 << 31)])
def test_max_pool_backward_refuses_argmax_outside_the_image(bad_index, parallel):
    """The scatter skips an entry outside [0, H*W) and reports it: a ValueError and an IndexError."""
    grad = np.ones((2, 2, 2, 3))
    argmax = np.zeros((2, 2, 2, 3), np.int32)
    argmax[1, 1, 0, 2] = bad_index
    dx = np.zeros((2, 4, 4, 3))
    with pytest.raises(P.ArgmaxRangeError, match=rf"max_pool_2d_backward: 1 argmax entries are outside "
                                                  rf"\[0, 16\).*e\.g\. \[{bad_index}\]"):
        P.max_pool_2d_backward(grad, argmax, dx, parallel)
    assert issubclass(P.ArgmaxRangeError, ValueError) and issubclass(P.ArgmaxRangeError, IndexError)
    assert dx.sum() == 2 * 2 * 2 * 3 - 1 and dx[0, 0, 0].tolist() == [4.0, 4.0, 4.0]  # only the bad one dropped


@pytest.mark.parametrize("parallel", [False, True])
def test_max_pool_2x2_backward_refuses_argmax_outside_its_window(parallel):
    x, out, argmax = pool_buffers(h=5, w=4)
    P.max_pool_2x2(x, out, argmax, False)
    grad = np.ones_like(out)
    want = np.empty_like(x)
    P.max_pool_2x2_backward(grad, argmax, want, parallel)
    assert want.sum() == grad.size
    argmax[0, 1, 1, 0] = 0      # a real cell, but of window (0, 0)
    argmax[1, 0, 0, 2] = -7
    with pytest.raises(P.ArgmaxRangeError, match="max_pool_2x2_backward: 2 argmax entries are none of their "
                                                  r"2x2 window's four cells.*e\.g\. \[0, -7\]"):
        P.max_pool_2x2_backward(grad, argmax, np.empty_like(x), parallel)


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed", "byteswapped", "misaligned"])
def test_pool_defs_read_inputs_in_any_layout(layout):
    x, _, _ = pool_buffers(h=5, w=5)
    general = (3, 3, 2, 2, 1, 1, False)  # 'same'
    want_out, want_arg = np.empty((2, 3, 3, 3)), np.empty((2, 3, 3, 3), np.int32)
    P.max_pool_2d(x, want_out, want_arg, *general)
    got_out, got_arg = np.empty_like(want_out), np.empty_like(want_arg)
    P.max_pool_2d(LAYOUTS[layout](x), got_out, got_arg, *general)
    np.testing.assert_array_equal(got_out, want_out)
    np.testing.assert_array_equal(got_arg, want_arg)
    grad = np.random.default_rng(2).standard_normal(want_out.shape)
    want_dx, got_dx = np.zeros_like(x), np.zeros_like(x)
    P.max_pool_2d_backward(grad, want_arg, want_dx, False)
    P.max_pool_2d_backward(LAYOUTS[layout](grad), LAYOUTS[layout](want_arg), got_dx, False)
    np.testing.assert_array_equal(got_dx, want_dx)
    P.avg_pool_2d(x, want_out, *general)
    P.avg_pool_2d(LAYOUTS[layout](x), got_out, *general)
    np.testing.assert_array_equal(got_out, want_out)


# ---- optimizers, losses, threads ----------------------------------------------------------
def test_optimizer_kernels_name_a_state_slot_that_is_not_an_array():
    w, g = np.zeros(4, np.float32), np.ones(4, np.float32)
    args = (1.0, -np.inf, np.inf, 0.0, False, 0.1, 0.001, 1e-7, 0.01)
    with pytest.raises(TypeError, match="adam_update: v must be a numpy array, got NoneType"):
        O.adam_update(w, g, np.zeros(4, np.float32), None, None, *args)
    with pytest.raises(TypeError, match="adam_update: vhat must be a numpy array or None, got list"):
        O.adam_update(w, g, np.zeros(4, np.float32), np.zeros(4, np.float32), [0.0] * 4, *args)
    with pytest.raises(TypeError, match="sgd_update: m must be a numpy array or None, got float"):
        O.sgd_update(w, g, 0.5, 1.0, -np.inf, np.inf, 0.0, False, 0.1, 0.9, False)
    with pytest.raises(TypeError, match="rmsprop_update: v must be a numpy array, got list"):
        O.rmsprop_update(w, g, [0.0] * 4, None, None, 1.0, -np.inf, np.inf, 0.0, False, 0.1, 0.9, 0.1, 1e-7, 0.0)
    with pytest.raises(TypeError, match="adagrad_update: accumulator must be a numpy array, got NoneType"):
        O.adagrad_update(w, g, None, 1.0, -np.inf, np.inf, 0.0, False, 0.1, 1e-7)
    short = np.zeros(3, np.float32)  # arrays it cannot take are declined, untouched, as before
    assert O.adagrad_update(w, g, short, 1.0, -np.inf, np.inf, 0.0, False, 0.1, 1e-7) is False
    assert O.adam_update(w, g, short, short, None, *args) is False
    assert not w.any()


def test_row_max_shift_declines_what_it_cannot_take():
    for x in ([[1.0, 2.0]], np.ones((2, 3), np.float64)[:, ::2], np.ones(3, np.int64), np.float64(1.0),
              np.ones((2, 3), np.float32).astype(">f4")):
        assert L.shift_by_row_max(x) is None


def test_threads_bounds_probe_never_reads_out_of_bounds():
    values = np.arange(4.0)
    assert T.bounds_probe(values, 3) == 3.0
    expected = IndexError if DEBUG else ValueError
    for index in (4, -5, 1 << 40):
        with pytest.raises(expected):
            T.bounds_probe(values, index)
    with pytest.raises(TypeError, match="bounds_probe: values must be a 1-D float64 array"):
        T.bounds_probe(values.astype(np.float32), 0)


# ---- the reported crashes, each in a fresh interpreter ----------------------------------------
CRASHES = {
    "relu_backward with a short y": "A.relu_backward(np.ones(1 << 16), np.ones(4))",
    "softmax_backward with a short y": "A.softmax_backward(np.ones((512, 128)), np.ones((2, 128)))",
    "im2col_2d with a large pad": "C.im2col_2d(np.ones((1, 3, 3, 1)), np.empty((9, 9)), 3, 3, 1, 1, 1, 1, "
                                  "0, 500, 3, 3, False)",
    "max_pool_2d_backward with a large argmax": "P.max_pool_2d_backward(np.ones((1, 1, 1, 1)), "
                                                "np.full((1, 1, 1, 1), 1 << 30, np.int32), np.zeros((1, 2, 2, 1)), False)",
    "max_pool_2d_backward with a negative argmax": "P.max_pool_2d_backward(np.ones((1, 1, 1, 1)), "
                                                   "np.full((1, 1, 1, 1), -(1 << 30), np.int32), "
                                                   "np.zeros((1, 2, 2, 1)), False)",
    "max_pool_2d with a batch mismatch": "P.max_pool_2d(np.ones((4096, 4, 4, 8)), np.empty((1, 2, 2, 8)), "
                                         "np.empty((1, 2, 2, 8), np.int32), 2, 2, 2, 2, 0, 0, False)",
}


@pytest.mark.parametrize("what", CRASHES)
def test_the_reported_crashes_raise_a_clear_error_in_a_fresh_interpreter(what):
    script = textwrap.dedent(f"""
        import numpy as np
        from tinygrad_relu._kernels import activations as A, conv as C, pool as P
        try:
            {CRASHES[what]}
        except ValueError as e:
            print("ValueError:", e)
        else:
            print("no error")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=__file__.rsplit("/tests/", 1)[0])
    assert run.returncode == 0, f"{what}: the interpreter died (exit {run.returncode}): {run.stderr[-2000:]}"
    function = CRASHES[what].split("(", 1)[0].split(".", 1)[1]
    assert run.stdout.startswith(f"ValueError: {function}: "), run.stdout + run.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fortran_order_input_is_never_answered_with_uninitialised_memory(dtype):
    x = np.asfortranarray(np.linspace(-3, 3, 60, dtype=dtype).reshape(6, 10))
    np.testing.assert_array_equal(A.relu_forward(x), np.maximum(x, 0))
    np.testing.assert_array_equal(A.gelu_forward(x), A.gelu_forward(np.ascontiguousarray(x)))


# ---- debug build: a kernel's out-of-bounds index reaches the caller -----------------------------
def probe_cases():
    """(module, def, args) for every kernel def that writes through an index of its own."""
    x = np.linspace(-2, 2, 40).reshape(4, 10)
    cases = []
    for name, (forward, backward, reads, _) in ACTIVATIONS.items():
        cases.append((A, forward, (x,)))
        cases.append((A, backward, (x, backward_args(name, x))))
    images, cols = conv_buffers()
    cases += [(C, C.im2col_2d, (images, cols, *CONV_GEOMETRY)),
              (C, C.col2im_2d, (cols, np.zeros_like(images), *CONV_GEOMETRY)),
              (C, C.relu_backward_into, (x.ravel(), x.ravel(), np.empty(40)))]
    pooled, out, argmax = pool_buffers()
    argmax[...] = 0
    general = (2, 2, 2, 2, 0, 0)
    cases += [(P, P.max_pool_2d, (pooled, out, argmax, *general)),
              (P, P.max_pool_2x2, (pooled, out, argmax)),
              (P, P.max_pool_2d_backward, (np.ones_like(out), argmax, np.zeros_like(pooled))),
              (P, P.max_pool_2x2_backward, (np.ones_like(out), argmax, np.empty_like(pooled))),
              (P, P.avg_pool_2d, (pooled, out, *general)),
              (P, P.avg_pool_2d_backward, (np.ones_like(out), np.zeros_like(pooled), *general))]
    return cases


PROBES = probe_cases()


@debug_only
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("case", range(len(PROBES)), ids=lambda i: getattr(PROBES[i][1], "__name__", str(i)))
def test_debug_build_index_errors_come_out_of_every_kernel(case, parallel):
    module, fn, args = PROBES[case]
    if module is A:  # threads from the smallest array on, or never
        old = A.set_parallel_thresholds(*((0, 0) if parallel else (1 << 62, 1 << 62)))
    else:
        args = args + (parallel,)
    try:
        with pytest.raises(IndexError, match="Out of bounds on buffer access"):
            module.bounds_probe(fn, *args)
    finally:
        if module is A:
            A.set_parallel_thresholds(*old)
    fn(*args)  # the probe switched itself off: the def works again


@pytest.mark.skipif(DEBUG, reason="the release build's probes refuse to run")
@pytest.mark.parametrize("module", [A, C, P], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_release_build_probes_refuse_instead_of_writing_out_of_bounds(module):
    with pytest.raises(RuntimeError, match="bounds_probe: this build has no bounds checks"):
        module.bounds_probe(print, "never printed")
