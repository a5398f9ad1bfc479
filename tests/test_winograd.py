"""Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions (ops/winograd.py, cysrc/winograd.pyx).

Forward and every gradient against a float64 reference, the im2col path, finite differences
and PyTorch. The error bound checked, in units of the dtype's eps and relative to the sum of
|x| |w| (+ |b|) that makes each output (the scale any rounding error is proportional to):

    m = 2: 8 eps        m = 4: 64 eps

(measured worst cases: ~2 and ~30 eps in float32, about the same in float64; the transforms'
entries reach 8 for m = 4, which is why the bound grows with the tile).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_relu as tr
from tinygrad_relu import _blas
from tinygrad_relu import functional as F
from tinygrad_relu._kernels import threads
from tinygrad_relu._kernels import winograd as W
from tinygrad_relu.ops import winograd
from tinygrad_relu.ops.convolution import Conv2D, Workspace

BOUND_EPS = {2: 8, 4: 64}
ALGORITHM = {2: "winograd2", 4: "winograd4"}


@pytest.fixture(params=["fused", "unfused"])
def path(request, monkeypatch):
    """Both implementations: fused with numpy's CBLAS (where found) and the whole-array one."""
    if request.param == "fused" and winograd.GEMM is None:
        pytest.skip("numpy's BLAS is not OpenBLAS: only the unfused path exists here")
    if request.param == "unfused":
        monkeypatch.setattr(winograd, "GEMM", None)
    return request.param


def reference(x, kernel, bias, padding):
    """float64 correlation by shifted products, and the same of |x|, |w|, |b| (the error scale)."""
    def corr(xx, kk, bb):
        if padding == "same":
            xx = np.pad(xx, ((0, 0), (1, 1), (1, 1), (0, 0)))
        oh, ow = xx.shape[1] - 2, xx.shape[2] - 2
        out = np.zeros((xx.shape[0], oh, ow, kk.shape[3]))
        for r in range(3):
            for s in range(3):
                out += xx[:, r:r + oh, s:s + ow, :] @ kk[r, s]
        return out + (0 if bb is None else bb)
    x, kernel = x.astype(np.float64), kernel.astype(np.float64)
    bias = None if bias is None else bias.astype(np.float64)
    return corr(x, kernel, bias), corr(np.abs(x), np.abs(kernel), None if bias is None else np.abs(bias))


def conv(x, kernel, bias, padding, algorithm, activation="linear", workspace=None, grad=True):
    """The Conv2D op with a forced algorithm, on Tensors that want every gradient."""
    h, w = x.shape[1:3]
    pads, out_size = ((1, 1), (h, w)) if padding == "same" else ((0, 0), (h - 2, w - 2))
    tensors = [tr.Tensor(a, requires_grad=grad) for a in (x, kernel) + (() if bias is None else (bias,))]
    y = Conv2D.apply(*tensors, strides=(1, 1), dilation=(1, 1), pads=pads, out_size=out_size,
                     activation=activation, workspace=workspace or Workspace(), algorithm=algorithm)
    return y, tensors


def data(shape, cin, cout, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape + (cin,)).astype(dtype)
    kernel = (rng.standard_normal((3, 3, cin, cout)) / np.sqrt(9 * cin)).astype(dtype)
    bias = rng.standard_normal(cout).astype(dtype)
    return x, kernel, bias


# sizes: partial tiles for both m (11x9 valid -> 9x7), exact ones (10x10 valid -> 8x8), a
# channel count that is not a multiple of the 16-lane blocks (20, 7) and one that is (32)
CASES = [((2, 11, 9), 20, 7, "valid"), ((2, 11, 9), 20, 7, "same"), ((1, 10, 10), 32, 16, "valid"),
         ((3, 6, 13), 5, 33, "same"), ((1, 3, 3), 17, 2, "valid"), ((2, 1, 1), 3, 4, "same")]


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{'x'.join(map(str, c[0]))}_{c[1]}to{c[2]}_{c[3]}")
def test_forward_within_the_stated_bound_of_a_float64_reference(case, dtype, m, path):
    shape, cin, cout, padding = case
    x, kernel, bias = data(shape, cin, cout, dtype)
    y, _ = conv(x, kernel, bias, padding, ALGORITHM[m], grad=False)
    want, scale = reference(x, kernel, bias, padding)
    assert y.dtype == dtype and y.shape == want.shape
    error = np.abs(y.data - want) / scale
    assert error.max() <= BOUND_EPS[m] * np.finfo(dtype).eps, error.max() / np.finfo(dtype).eps


def test_the_bound_is_not_loose_for_m_4():
    """The tests' 64 eps is within a small factor of what F(4x4, 3x3) really loses in float32
    (a bound 100x too wide would pass anything)."""
    x, kernel, bias = data((4, 18, 18), 64, 32, np.float32, seed=3)
    y, _ = conv(x, kernel, bias, "same", "winograd4", grad=False)
    want, scale = reference(x, kernel, bias, "same")
    worst = (np.abs(y.data - want) / scale).max() / np.finfo(np.float32).eps
    assert 4 < worst <= 64


@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["linear", "relu", "gelu"])
@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: f"{'x'.join(map(str, c[0]))}_{c[3]}")
def test_gradients_match_the_im2col_path(case, activation, dtype, m, path):
    shape, cin, cout, padding = case
    x, kernel, bias = data(shape, cin, cout, dtype, seed=1)
    grad = np.random.default_rng(2).standard_normal(reference(x, kernel, None, padding)[0].shape).astype(dtype)
    results = {}
    for algorithm in ("im2col", ALGORITHM[m]):
        y, tensors = conv(x, kernel, bias, padding, algorithm, activation)
        y.backward(grad)
        results[algorithm] = [y.data] + [t.grad for t in tensors]
    eps = np.finfo(dtype).eps
    _, scale = reference(x, kernel, bias, padding)
    for name, ours, theirs in zip(("y", "dx", "dkernel", "dbias"), results[ALGORITHM[m]], results["im2col"]):
        assert ours.dtype == dtype, name
        # relative to the largest entry: the gradients' error scale is a sum over many terms too
        tolerance = BOUND_EPS[m] * eps * (np.abs(theirs).max() * 4 + (scale.max() if name == "y" else 0))
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("m", [2, 4])
def test_gradcheck_float64(m, path):
    x, kernel, bias = data((2, 6, 5), 3, 2, np.float64, seed=4)

    def f(a, k, b):
        return Conv2D.apply(a, k, b, strides=(1, 1), dilation=(1, 1), pads=(1, 1), out_size=(6, 5),
                            activation="relu", workspace=Workspace(), algorithm=ALGORITHM[m])
    assert tr.gradcheck(f, [x, kernel, bias])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_chosen_path_matches_pytorch(padding, dtype):
    """Through F.conv2d, where the rule picks Winograd for these channel counts."""
    torch = pytest.importorskip("torch")
    x, kernel, bias = data((4, 12, 12), 32, 24, dtype, seed=5)
    assert winograd.choose((3, 3), (1, 1), (1, 1), (1, 1) if padding == "same" else (0, 0),
                           (12, 12) if padding == "same" else (10, 10), 32, 24) != "im2col"
    tensors = [tr.Tensor(a, requires_grad=True) for a in (x, kernel, bias)]
    y = F.conv2d(*tensors, padding=padding, activation="relu")
    grad = np.random.default_rng(6).standard_normal(y.shape).astype(dtype)
    y.backward(grad)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    kt = torch.tensor(kernel.transpose(3, 2, 0, 1), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    yt = torch.relu(torch.nn.functional.conv2d(xt, kt, bt, padding=1 if padding == "same" else 0))
    yt.backward(torch.tensor(grad.transpose(0, 3, 1, 2)))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=tol, atol=tol)
    np.testing.assert_allclose(tensors[0].grad, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=tol, atol=tol)
    np.testing.assert_allclose(tensors[1].grad, kt.grad.numpy().transpose(2, 3, 1, 0), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(tensors[2].grad, bt.grad.numpy(), rtol=tol, atol=tol * 10)


def test_the_rule_picks_im2col_where_winograd_does_not_apply_or_pay():
    choose = winograd.choose
    assert choose((3, 3), (1, 1), (1, 1), (0, 0), (26, 26), 1, 64) == "im2col"       # one input channel
    assert choose((3, 3), (2, 2), (1, 1), (0, 0), (12, 12), 64, 64) == "im2col"      # strided
    assert choose((3, 3), (1, 1), (2, 2), (0, 0), (20, 20), 64, 64) == "im2col"      # dilated
    assert choose((5, 5), (1, 1), (1, 1), (0, 0), (20, 20), 64, 64) == "im2col"      # 5x5
    assert choose((3, 3), (1, 1), (1, 1), (0, 0), (24, 24), 64, 64) == "winograd4"   # the wide convnet's layer 2
    assert choose((3, 3), (1, 1), (1, 1), (0, 0), (10, 10), 64, 128) == "winograd4"  # layer 3
    assert choose((3, 3), (1, 1), (1, 1), (1, 1), (28, 28), 8, 16) == "im2col"        # few channels
    assert choose((3, 3), (1, 1), (1, 1), (1, 1), (28, 28), 16, 16) == "winograd4"
    assert choose((3, 3), (1, 1), (1, 1), (0, 0), (8, 8), 128, 128) == "winograd4"   # layer 4
    assert not winograd.applicable((3, 3), (1, 1), (1, 1), (3, 0))


def test_forcing_winograd_where_it_does_not_apply_is_an_error():
    x, kernel = np.ones((1, 8, 8, 2)), np.ones((3, 3, 2, 2))
    with pytest.raises(ValueError, match="needs a 3x3 kernel, stride 1"):
        Conv2D.apply(tr.Tensor(x), tr.Tensor(kernel), strides=(2, 2), dilation=(1, 1), pads=(0, 0),
                     out_size=(3, 3), algorithm="winograd4")
    with pytest.raises(ValueError, match="unknown algorithm 'fft'"):
        Conv2D.apply(tr.Tensor(x), tr.Tensor(kernel), strides=(1, 1), dilation=(1, 1), pads=(0, 0),
                     out_size=(6, 6), algorithm="fft")


def test_bias_gradient_from_the_transformed_cell_is_the_sum_of_dz():
    """winograd_output_grad's cell (1, 1) holds each tile's sum: checked on integers (exact)."""
    dz = np.random.default_rng(7).integers(-5, 5, (2, 7, 6, 3)).astype(np.float64)
    for m in (2, 4):
        _, _, tiles = winograd.tile_counts(2, (7, 6), m)
        dM = np.empty(((m + 2) ** 2, tiles, 3))
        W.winograd_output_grad(dz, dM, m, False)
        np.testing.assert_array_equal(dM[m + 3].sum(axis=0), dz.sum(axis=(0, 1, 2)))


def test_backward_twice_with_retain_graph_gives_the_same_gradients(path):
    x, kernel, bias = data((2, 10, 10), 16, 16, np.float32)
    y, tensors = conv(x, kernel, bias, "same", "winograd4", "relu")
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in tensors]
    for t in tensors:
        t.grad = None
    loss.backward()
    for a, b in zip(first, tensors):
        np.testing.assert_array_equal(a, b.grad)


def test_two_forwards_before_backward_share_a_workspace_safely(path):
    x, kernel, bias = data((2, 10, 10), 16, 16, np.float64)
    workspace = Workspace()
    ya, ta = conv(x, kernel, bias, "valid", "winograd4", "relu", workspace)
    yb, tb = conv(2 * x, kernel, bias, "valid", "winograd4", "relu", workspace)
    ya.sum().backward()
    yb.sum().backward()
    want_a, _ = conv(x, kernel, bias, "valid", "im2col", "relu")
    want_b, _ = conv(2 * x, kernel, bias, "valid", "im2col", "relu")
    np.testing.assert_allclose(ya.data, want_a.data, atol=1e-12)
    np.testing.assert_allclose(yb.data, want_b.data, atol=1e-12)
    assert not np.array_equal(ta[1].grad, tb[1].grad)


@pytest.mark.parametrize("cin,cout", [(24, 20), (32, 16)], ids=["cblas", "own_gemm"])
@pytest.mark.parametrize("m", [2, 4])
def test_the_fused_path_gives_the_same_bits_for_any_thread_count(m, cin, cout):
    """Blocks are dealt to threads dynamically, but each block's result, and the kernel gradient's
    fixed-order sums, do not depend on which thread ran it (32 -> 16 channels: the build's own
    kernel multiplies where it has one)."""
    if winograd.GEMM is None:
        pytest.skip("no CBLAS: no fused path")
    x, kernel, bias = data((5, 13, 11), cin, cout, np.float32, seed=8)
    grad = np.random.default_rng(9).standard_normal((5, 11, 9, cout)).astype(np.float32)
    before = tr.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            tr.set_num_threads(n)
            y, tensors = conv(x, kernel, bias, "valid", ALGORITHM[m], "relu")
            y.backward(grad)
            results.append([y.data] + [t.grad for t in tensors])
    finally:
        tr.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_fused_and_unfused_paths_agree(monkeypatch):
    if winograd.GEMM is None:
        pytest.skip("no CBLAS: no fused path")
    x, kernel, bias = data((3, 14, 12), 40, 24, np.float64, seed=10)
    grad = np.random.default_rng(11).standard_normal((3, 14, 12, 24))
    results = []
    for gemm in (winograd.GEMM, None):
        monkeypatch.setattr(winograd, "GEMM", gemm)
        y, tensors = conv(x, kernel, bias, "same", "winograd4", "relu")
        y.backward(grad)
        results.append([y.data] + [t.grad for t in tensors])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [2, 4])
def test_the_fused_relu_gradient_is_masking_first_bit_for_bit(m, dtype):
    """relu_y given, the backward reads dy through ReLU's derivative as it loads each tile: the
    same bits as relu_backward_into (a separate pass over dy) followed by the plain call. relu_y
    holds positives, zeros, -0.0 and NaN (NaN lets the gradient through, as in relu_backward_into),
    and 20 channels leave a partial 16-lane block."""
    if winograd.GEMM is None:
        pytest.skip("no CBLAS: no fused path")
    from tinygrad_relu._kernels import conv as conv_kernels
    rng = np.random.default_rng(12)
    x, kernel, _ = data((3, 11, 9), 24, 20, dtype, seed=13)
    U = winograd.filter_transform(kernel, m)
    dy = rng.standard_normal((3, 9, 7, 20)).astype(dtype)
    relu_y = np.maximum(rng.standard_normal(dy.shape), 0).astype(dtype)
    relu_y.flat[::7] = -0.0
    relu_y.flat[3::11] = np.nan
    _, _, tiles = winograd.tile_counts(3, (9, 7), m)
    V = np.empty(((m + 2) ** 2, tiles, 24), dtype)
    W.winograd_input(x, V, m, 0, 0, 9, 7, False)
    masked = np.empty_like(dy)
    conv_kernels.relu_backward_into(dy.reshape(-1), relu_y.reshape(-1), masked.reshape(-1), False)
    results = []
    for grad, given in ((masked, None), (dy, relu_y)):
        dM, dx, dU = np.empty(((m + 2) ** 2, tiles, 20), dtype), np.empty_like(x), np.empty(((m + 2) ** 2, 24, 20), dtype)
        W.winograd_backward_fused(grad, U, V, dM, dx, dU, m, 0, 0, winograd.GEMM, 1000, 2, True, given)
        results.append((dM, dx, dU))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert np.count_nonzero(results[0][1]) > 0.5 * x.size


@pytest.mark.parametrize("block_max", [150_000, 262_144])
def test_small_images_grouped_into_one_product_give_the_per_image_result(block_max):
    """block_max groups small images (here 4 tiles each) into one product per cell: the same
    gradient as one image at a time (block_max 1), to rounding, and the same bits for 1 or 3 threads."""
    if winograd.GEMM is None:
        pytest.skip("no CBLAS: no fused path")
    rng = np.random.default_rng(14)
    x, kernel, _ = data((9, 10, 10), 128, 128, np.float64, seed=15)
    U = winograd.filter_transform(kernel, 4)
    dy = rng.standard_normal((9, 8, 8, 128))
    results = []
    for bm, threads_ in ((1, 2), (block_max, 1), (block_max, 3)):
        dM, dx = np.empty((36, 36, 128)), np.empty_like(x)
        W.winograd_backward_fused(dy, U, None, dM, dx, None, 4, 0, 0, winograd.GEMM, 262_144, threads_, True, None, bm)
        results.append(dx)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(results[1], results[2])


# ---- the own float32 kernel (cysrc/winograd_gemm.h) ------------------------------------------
@settings(max_examples=150, deadline=None)
@given(rows=st.integers(1, 40), inner=st.integers(0, 70), blocks=st.integers(1, 4), transpose=st.booleans(),
       accumulate=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_own_matmul_matches_numpy_within_the_fma_chain_bound(rows, inner, blocks, transpose, accumulate, seed):
    """Every element is one chain of fused multiply-adds over k, so its error is at most about
    (k + 1) eps of the sum of |terms| (checked with 2x that); float64 is the reference. Any row
    count (register blocks and their remainders), any inner size (0 included: out = 0 or out)."""
    rng = np.random.default_rng(seed)
    cols = 16 * blocks
    a = rng.standard_normal((rows, inner)).astype(np.float32)
    b = rng.standard_normal((inner, cols)).astype(np.float32)
    out = rng.standard_normal((rows, cols)).astype(np.float32)
    start = out.astype(np.float64) if accumulate else np.zeros((rows, cols))
    W.own_matmul(np.ascontiguousarray(a.T) if transpose else a, b, out, transpose, accumulate)
    want = start + a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(start) + np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    bound = 2 * (inner + 1) * np.finfo(np.float32).eps * scale
    assert np.all(np.abs(out - want) <= bound)


def test_own_matmul_bits_do_not_depend_on_the_row_or_column_blocking():
    """Row by row, in 16-column slices, or split over k into an accumulated second call: the same
    bits as one call (what lets the fused kernels block the tiles as they like)."""
    rng = np.random.default_rng(21)
    a = rng.standard_normal((29, 67)).astype(np.float32)
    b = rng.standard_normal((67, 48)).astype(np.float32)
    whole = np.empty((29, 48), np.float32)
    W.own_matmul(a, b, whole)
    rows = np.empty_like(whole)
    for i in range(29):
        W.own_matmul(a[i:i + 1], b, rows[i:i + 1])
    np.testing.assert_array_equal(rows, whole)
    for j in range(0, 48, 16):
        piece = np.empty((29, 16), np.float32)
        W.own_matmul(a, np.ascontiguousarray(b[:, j:j + 16]), piece)
        np.testing.assert_array_equal(piece, whole[:, j:j + 16])
    split = np.empty_like(whole)
    W.own_matmul(np.ascontiguousarray(a[:, :30]), b[:30], split)
    W.own_matmul(np.ascontiguousarray(a[:, 30:]), b[30:], split, accumulate=True)
    np.testing.assert_array_equal(split, whole)


def test_own_matmul_is_exact_on_small_integers():
    """Integer products and sums below 2^24 are exact: any misplaced element shows."""
    rng = np.random.default_rng(22)
    a = rng.integers(-8, 9, (13, 37)).astype(np.float32)
    b = rng.integers(-8, 9, (37, 32)).astype(np.float32)
    out = np.empty((13, 32), np.float32)
    W.own_matmul(a, b, out)
    np.testing.assert_array_equal(out, a @ b)
    W.own_matmul(np.ascontiguousarray(a.T), b, out, transpose_a=True)
    np.testing.assert_array_equal(out, a @ b)


def test_own_gemm_applies_to_float32_with_channels_in_sixteens_on_fma_builds():
    assert W.OWN_GEMM == (W.ISA in ("avx2", "avx512"))
    assert W.own_gemm(np.float32, 32, 64) == W.OWN_GEMM
    assert not W.own_gemm(np.float64, 32, 64)
    assert not W.own_gemm(np.float32, 24, 64) and not W.own_gemm(np.float32, 32, 40)


@pytest.mark.parametrize("m", [2, 4])
def test_the_fused_kernels_multiply_in_the_own_kernel_where_it_applies(m):
    """The fused forward and backward give the bits of the unfused steps with own_matmul as every
    product (y, dx and dU): proof that they call it, since numpy's sgemm rounds otherwise. With
    own=False they go through the CBLAS and agree to rounding."""
    if winograd.GEMM is None or not W.OWN_GEMM:
        pytest.skip("no CBLAS, or a build without FMA: the fused kernels do not use the own kernel")
    rng = np.random.default_rng(23)
    x, kernel, bias = data((3, 11, 9), 32, 16, np.float32, seed=24)
    U = winograd.filter_transform(kernel, m)
    oh, ow = 9, 7
    th, tw, tiles = winograd.tile_counts(3, (oh, ow), m)
    cells = (m + 2) ** 2
    dy = rng.standard_normal((3, oh, ow, 16)).astype(np.float32)

    def own_products(left, right, transpose=False):
        out = np.empty((cells, left.shape[2] if transpose else left.shape[1], right.shape[2]), np.float32)
        for p in range(cells):
            W.own_matmul(left[p], np.ascontiguousarray(right[p]), out[p], transpose_a=transpose)
        return out

    V = np.empty((cells, tiles, 32), np.float32)
    W.winograd_input(x, V, m, 0, 0, oh, ow, False)
    y_ref = np.empty((3, oh, ow, 16), np.float32)
    W.winograd_output(own_products(V, U), y_ref, bias, m, True, False)
    dM = np.empty((cells, tiles, 16), np.float32)
    W.winograd_output_grad(dy, dM, m, False)
    dx_ref = np.empty_like(x)
    W.winograd_input_grad(own_products(dM, U.transpose(0, 2, 1)), dx_ref, m, 0, 0, oh, ow, False)
    dU_ref = own_products(V, dM, transpose=True)
    results = {}
    for own in (True, False):
        y, Vf = np.empty_like(y_ref), np.empty_like(V)
        W.winograd_forward_fused(x, U, y, bias, Vf, m, 0, 0, True, winograd.GEMM, 40_000, 2, True, own)
        dMf, dx, dU = np.empty_like(dM), np.empty_like(x), np.empty((cells, 32, 16), np.float32)
        W.winograd_backward_fused(dy, U, Vf, dMf, dx, dU, m, 0, 0, winograd.GEMM, 40_000, 2, True, None, 0, own)
        results[own] = (y, dx, dU)
    for got, want in zip(results[True], (y_ref, dx_ref, dU_ref)):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(results[False], (y_ref, dx_ref, dU_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def _spy_gemm(calls):
    """A gemm tuple whose sgemm only records its calls (m, n, k) and writes nothing; dgemm the real one."""
    import ctypes
    index = ctypes.c_int64 if winograd.GEMM[2] else ctypes.c_int
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, index, index, index, ctypes.c_float,
                             ctypes.c_void_p, index, ctypes.c_void_p, index, ctypes.c_float, ctypes.c_void_p, index)
    spy = proto(lambda order, ta, tb, m, n, k, *rest: calls.append((m, n, k)))
    return spy, (ctypes.cast(spy, ctypes.c_void_p).value, winograd.GEMM[1], winograd.GEMM[2])


def test_where_the_own_kernel_applies_no_product_goes_to_the_cblas():
    """numpy's sgemm can round exactly as the own kernel does (one FMA chain per element), so the
    bits alone cannot tell who multiplied: a spy in the CBLAS's place is never called with own
    (32 -> 16 channels, float32) and is called for every product without it."""
    if winograd.GEMM is None or not W.OWN_GEMM:
        pytest.skip("no CBLAS, or a build without FMA: the fused kernels do not use the own kernel")
    x, kernel, bias = data((2, 10, 10), 32, 16, np.float32, seed=25)
    U = winograd.filter_transform(kernel, 4)
    dy = np.random.default_rng(26).standard_normal((2, 8, 8, 16)).astype(np.float32)
    for own in (True, False):
        calls = []
        spy, gemm = _spy_gemm(calls)
        y, V = np.empty((2, 8, 8, 16), np.float32), np.empty((36, 8, 32), np.float32)
        W.winograd_forward_fused(x, U, y, bias, V, 4, 0, 0, True, gemm, 262_144, 2, True, own)
        dM, dx, dU = np.empty((36, 8, 16), np.float32), np.empty_like(x), np.empty((36, 32, 16), np.float32)
        W.winograd_backward_fused(dy, U, V, dM, dx, dU, 4, 0, 0, gemm, 262_144, 2, True, None, 0, own)
        del spy
        # forward, data and kernel gradients: 36 products each (every block fits one product here)
        assert len(calls) == (0 if own else 3 * 36), (own, len(calls))


CORE = """
from tinygrad_relu import _blas
from tinygrad_relu.ops import winograd
print(_blas.core_name(), winograd.PRODUCT_MAX)
"""


def test_the_product_size_follows_numpys_openblas_build():
    """150k multiply-adds where OpenBLAS has small-matrix kernels (SkylakeX and later), 262k where
    it packs every product (its AVX2 build, asked for with OPENBLAS_CORETYPE)."""
    if winograd.GEMM is None or _blas.core_name() is None:
        pytest.skip("numpy's BLAS is not OpenBLAS")
    core = _blas.core_name().lower()
    assert (winograd.PRODUCT_MAX == _blas.SMALL_KERNEL_MAX) == (core in _blas.SMALL_KERNEL_CORES)
    if not os.path.exists("/proc/cpuinfo"):
        pytest.skip("no /proc/cpuinfo to tell whether the CPU has AVX2")
    with open("/proc/cpuinfo") as f:
        if " avx2" not in f.read():
            pytest.skip("no AVX2: OpenBLAS's Haswell kernels cannot run here")
    run = subprocess.run([sys.executable, "-c", CORE], env=dict(os.environ, OPENBLAS_CORETYPE="Haswell"),
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["Haswell", str(_blas.CALLER_THREAD_MAX)]


@pytest.mark.parametrize("m", [2, 4])
def test_threaded_transforms_are_bit_identical_to_serial(m):
    x = data((4, 13, 11), 24, 20, np.float32)[0]
    _, _, tiles = winograd.tile_counts(4, (11, 9), m)
    outputs = []
    for parallel in (False, True):
        V = np.empty(((m + 2) ** 2, tiles, 24), np.float32)
        W.winograd_input(x, V, m, 0, 0, 11, 9, parallel)
        y = np.empty((4, 11, 9, 24), np.float32)
        W.winograd_output(V, y, None, m, True, parallel)
        dx = np.empty_like(x)
        W.winograd_input_grad(V, dx, m, 0, 0, 11, 9, parallel)
        dM = np.empty_like(V)
        W.winograd_output_grad(y, dM, m, parallel)
        outputs.append((V, y, dx, dM))
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


BAD_CALLS = [
    (lambda: W.winograd_input(np.ones((1, 4, 4, 2)), np.empty((16, 4, 2)), 3, 0, 0, 2, 2, False),
     "winograd_input: m must be 2 or 4"),
    (lambda: W.winograd_input(np.ones((1, 4, 4, 2)), np.empty((16, 3, 2)), 2, 0, 0, 2, 2, False),
     r"winograd_input: V has shape \(16, 3, 2\), expected \(16, 1, 2\)"),
    (lambda: W.winograd_input(np.ones((1, 4, 4, 2)), np.empty((16, 1, 2)), 2, 3, 0, 2, 2, False),
     r"winograd_input: pt must be in \[0, 2\], got 3"),
    (lambda: W.winograd_input(np.ones((1, 4, 4, 2), np.float32), np.empty((16, 1, 2)), 2, 0, 0, 2, 2, False),
     "winograd_input: V must be float32 like x"),
    (lambda: W.winograd_output(np.ones((36, 1, 2)), np.empty((1, 4, 4, 2)), np.ones(3), 4, False, False),
     r"winograd_output: bias has shape \(3,\), expected \(2,\)"),
    (lambda: W.winograd_output(np.ones((36, 2, 2)), np.empty((1, 4, 4, 2)), None, 4, False, False),
     r"winograd_output: M has shape \(36, 2, 2\), expected \(36, 1, 2\)"),
    (lambda: W.winograd_output_grad(np.ones((1, 4, 4, 2)), np.empty((16, 4, 2))[:, ::2], 2, False),
     "winograd_output_grad: dM is written in place"),
    (lambda: W.winograd_input_grad(np.ones((16, 4, 2)), np.empty((1, 6, 6, 3)), 2, 0, 0, 4, 4, False),
     r"winograd_input_grad: dV has shape \(16, 4, 2\), expected \(16, 4, 3\)"),
    (lambda: W.winograd_input_grad(np.ones((16, 4, 2)), np.empty((1, 6, 6, 2)), 2, 0, 0, 0, 4, False),
     r"winograd_input_grad: oh must be in \[1, "),
]


GEMM = winograd.GEMM or (1, 1, True)  # never called below: the checks come first
BAD_CALLS += [
    (lambda: W.winograd_forward_fused(np.ones((1, 6, 6, 2)), np.ones((36, 3, 4)), np.empty((1, 4, 4, 4)), None,
                                      None, 4, 0, 0, False, GEMM, 1000, 1, False),
     r"winograd_forward_fused: U has shape \(36, 3, 4\), expected \(36, 2, 4\)"),
    (lambda: W.winograd_forward_fused(np.ones((1, 6, 6, 2)), np.ones((36, 2, 4)), np.empty((2, 4, 4, 4)), None,
                                      None, 4, 0, 0, False, GEMM, 1000, 1, False),
     "winograd_forward_fused: y has 2 images but x has 1"),
    (lambda: W.winograd_forward_fused(np.ones((1, 6, 6, 2)), np.ones((36, 2, 4)), np.empty((1, 4, 4, 4)), None,
                                      None, 4, 0, 0, False, (0, 0, True), 1000, 1, False),
     "winograd: gemm must hold the addresses of sgemm and dgemm"),
    (lambda: W.winograd_forward_fused(np.ones((1, 6, 6, 2)), np.ones((36, 2, 4)), np.empty((1, 4, 4, 4)), None,
                                      None, 4, 0, 0, False, GEMM, 0, 1, False),
     r"winograd_forward_fused: gemm_max must be in \[1, "),
    (lambda: W.winograd_forward_fused(np.ones((1, 6, 6, 2)), np.ones((36, 2, 4)), np.empty((1, 4, 4, 4)), None,
                                      None, 4, 0, 0, False, GEMM, 1000, 0, False),
     r"winograd_forward_fused: threads must be in \[1, 4096\], got 0"),
    (lambda: W.winograd_backward_fused(np.ones((1, 4, 4, 4)), np.ones((36, 2, 4)), None, np.empty((36, 1, 4)),
                                       np.empty((1, 6, 6, 3)), None, 4, 0, 0, GEMM, 1000, 1, False),
     r"winograd_backward_fused: dx has shape \(1, 6, 6, 3\), expected \(1, H, W, 2\)"),
    (lambda: W.winograd_backward_fused(np.ones((1, 4, 4, 4)), np.ones((36, 2, 4)), np.ones((36, 2, 2)),
                                       np.empty((36, 1, 4)), None, np.empty((36, 2, 4)), 4, 0, 0, GEMM, 1000, 1, False),
     r"winograd_backward_fused: V has shape \(36, 2, 2\), expected \(36, 1, 2\)"),
    (lambda: W.winograd_backward_fused(np.ones((1, 4, 4, 4)), np.ones((36, 2, 4)), None, np.empty((36, 1, 4)),
                                       None, None, 4, 0, 0, GEMM, 1000, 1, False, np.ones((1, 4, 4, 3))),
     r"winograd_backward_fused: relu_y has shape \(1, 4, 4, 3\), expected dy's \(1, 4, 4, 4\)"),
    (lambda: W.winograd_backward_fused(np.ones((1, 4, 4, 4)), np.ones((36, 2, 4)), None, np.empty((36, 1, 4)),
                                       None, None, 4, 0, 0, GEMM, 1000, 1, False, np.ones((1, 4, 4, 4), np.float32)),
     "winograd_backward_fused: relu_y must be float64 like dy"),
    (lambda: W.winograd_backward_fused(np.ones((1, 4, 4, 4)), np.ones((36, 2, 4)), None, np.empty((36, 1, 4)),
                                       None, None, 4, 0, 0, GEMM, 1000, 1, False, None, -1),
     r"winograd_backward_fused: block_max must be in \[0, "),
    (lambda: W.own_matmul(np.ones((2, 3), np.float32), np.ones((3, 20), np.float32), np.empty((2, 20), np.float32)),
     "own_matmul: b has 20 columns, which must be a multiple of 16"),
    (lambda: W.own_matmul(np.ones((2, 3), np.float32), np.ones((4, 16), np.float32), np.empty((2, 16), np.float32)),
     r"own_matmul: a has shape \(2, 3\) and b \(4, 16\): a @ b needs a's columns to be b's rows"),
    (lambda: W.own_matmul(np.ones((2, 3), np.float32), np.ones((3, 16), np.float32), np.empty((3, 16), np.float32),
                          True),
     r"own_matmul: a has shape \(2, 3\) and b \(3, 16\): a.T @ b needs a's rows to be b's rows"),
    (lambda: W.own_matmul(np.ones((2, 3), np.float32), np.ones((3, 16), np.float32), np.empty((3, 16), np.float32)),
     r"own_matmul: out has shape \(3, 16\), expected \(2, 16\)"),
    (lambda: W.own_matmul(np.ones((2, 3)), np.ones((3, 16), np.float32), np.empty((2, 16), np.float32)),
     "own_matmul: a must be float32"),
    (lambda: W.own_matmul(np.ones(3, np.float32), np.ones((3, 16), np.float32), np.empty((2, 16), np.float32)),
     r"own_matmul: a must be 2-D \(M, K\)"),
    (lambda: (lambda buf: W.own_matmul(buf[8:24], np.ones((16, 16), np.float32), buf[:16]))(
        np.ones((32, 16), np.float32)),
     "own_matmul: out overlaps a or b"),
]


@pytest.mark.parametrize("call,message", BAD_CALLS, ids=range(len(BAD_CALLS)))
def test_kernel_defs_reject_bad_arguments_naming_them(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def _probe_cases():
    x = np.ones((2, 6, 6, 3))
    V = np.empty((16, 2 * 2 * 2, 3))
    y = np.empty((2, 4, 4, 3))
    cases = [(W.winograd_input, (x, V, 2, 0, 0, 4, 4)), (W.winograd_output, (V, y, None, 2, True)),
             (W.winograd_output_grad, (y, V, 2)), (W.winograd_input_grad, (V, np.empty_like(x), 2, 0, 0, 4, 4))]
    if winograd.GEMM is not None:
        U = np.ones((16, 3, 3))
        cases += [(W.winograd_forward_fused, (x, U, y, None, None, 2, 0, 0, True, winograd.GEMM, 1000, 2)),
                  (W.winograd_backward_fused, (y, U, V, np.empty_like(V), np.empty_like(x), np.empty((16, 3, 3)), 2,
                                               0, 0, winograd.GEMM, 1000, 2))]
        # float32 in sixteens: the own kernel's products where the build has one
        x, V, y = (np.ones(a.shape[:-1] + (16,), np.float32) for a in (x, V, y))
        U = np.ones((16, 16, 16), np.float32)
        cases += [(W.winograd_forward_fused, (x, U, y, None, None, 2, 0, 0, True, winograd.GEMM, 1000, 2)),
                  (W.winograd_backward_fused, (y, U, V, np.empty_like(V), np.empty_like(x), np.empty_like(U), 2,
                                               0, 0, winograd.GEMM, 1000, 2))]
    return cases


@pytest.mark.skipif(not threads.debug_build(), reason="bounds checks exist only in the debug build")
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("case", range(8), ids=["input", "output", "output_grad", "input_grad", "forward_fused",
                                                 "backward_fused", "forward_own", "backward_own"])
def test_debug_build_index_errors_come_out_of_every_transform(case, parallel):
    if case >= len(_probe_cases()):
        pytest.skip("no CBLAS: no fused path")
    fn, args = _probe_cases()[case]
    with pytest.raises(IndexError, match="Out of bounds on buffer access"):
        W.bounds_probe(fn, *args, parallel)
    fn(*args, parallel)


@pytest.mark.skipif(threads.debug_build(), reason="the release build's probes refuse to run")
def test_release_build_probe_refuses():
    with pytest.raises(RuntimeError, match="bounds_probe: this build has no bounds checks"):
        W.bounds_probe(print, "never printed")
