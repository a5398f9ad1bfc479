"""Max / average pooling (1-D, 2-D, global): forward and gradients against PyTorch and a
naive numpy reference, Keras "same" semantics (padding ignored by max, not counted by
average), ties, NaN, bad input."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_relu as tr
from tinygrad_relu import functional as F


def keras_padding(size, k, stride, padding):
    if padding == "valid":
        return (size - k) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def naive_pool2d(x, pool, strides, padding, kind):
    """Output and d(sum(out * grad))/dx by looping over windows of the real cells."""
    n, h, w, c = x.shape
    oh, top, _ = keras_padding(h, pool[0], strides[0], padding)
    ow, left, _ = keras_padding(w, pool[1], strides[1], padding)
    out = np.zeros((n, oh, ow, c))
    windows = {}
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            rows = range(max(r0, 0), min(r0 + pool[0], h))
            cols = range(max(c0, 0), min(c0 + pool[1], w))
            cells = [(r, q) for r in rows for q in cols]
            windows[i, j] = cells
            values = np.stack([x[:, r, q, :] for r, q in cells])  # (cells, n, c)
            out[:, i, j, :] = values.max(axis=0) if kind == "max" else values.mean(axis=0)
    return out, windows


def naive_pool2d_grad(x, grad, windows, kind):
    dx = np.zeros(x.shape)
    for (i, j), cells in windows.items():
        values = np.stack([x[:, r, q, :] for r, q in cells])
        if kind == "max":
            winner = values.argmax(axis=0)  # first maximum, as ours
            for k, (r, q) in enumerate(cells):
                dx[:, r, q, :] += np.where(winner == k, grad[:, i, j, :], 0)
        else:
            for r, q in cells:
                dx[:, r, q, :] += grad[:, i, j, :] / len(cells)
    return dx


def torch_pool(x, pool, strides, padding, kind, grad):
    """PyTorch pooling in our layout; "same" by explicit padding (-inf for max; for average,
    a sum pool divided by a sum pool of the real-cell mask)."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rank = x.ndim - 2
    to_torch = (0, rank + 1) + tuple(range(1, rank + 1))
    from_torch = (0,) + tuple(range(2, rank + 2)) + (1,)
    xt = torch.tensor(x.transpose(to_torch), requires_grad=True)
    pads = []
    for axis in reversed(range(rank)):
        _, before, after = keras_padding(x.shape[1 + axis], pool[axis], strides[axis], padding)
        pads += [before, after]
    if kind == "max":
        pool_fn = tf.max_pool2d if rank == 2 else tf.max_pool1d
        yt = pool_fn(tf.pad(xt, pads, value=-np.inf), pool, strides)
    else:
        pool_fn = tf.avg_pool2d if rank == 2 else tf.avg_pool1d
        ones = torch.ones_like(xt)
        sums = pool_fn(tf.pad(xt, pads), pool, strides) * np.prod(pool)
        counts = pool_fn(tf.pad(ones, pads), pool, strides) * np.prod(pool)
        yt = sums / counts
    yt.backward(torch.tensor(grad.transpose(to_torch)))
    return yt.detach().numpy().transpose(from_torch), xt.grad.numpy().transpose(from_torch)


POOL_FUNCTIONS = {(2, "max"): F.max_pool2d, (2, "avg"): F.avg_pool2d,
                  (1, "max"): F.max_pool1d, (1, "avg"): F.avg_pool1d}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("pool,stride,padding", list(itertools.product([1, 2, 3], [None, 1, 2, 3], ["valid", "same"])))
@pytest.mark.parametrize("rank", [1, 2])
def test_pool_matches_torch(rank, pool, stride, padding, kind):
    rng = np.random.default_rng(pool * 10 + (stride or 0))
    x = rng.standard_normal((2,) + (7, 6)[:rank] + (3,))
    xt = tr.Tensor(x, requires_grad=True)
    y = POOL_FUNCTIONS[rank, kind](xt, pool, stride, padding)
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    strides = (stride or pool,) * rank
    want_y, want_dx = torch_pool(x, (pool,) * rank, strides, padding, kind, grad)
    np.testing.assert_allclose(y.data, want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad, want_dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_rectangular_windows_and_strides_match_torch(kind):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 9, 7, 2))
    xt = tr.Tensor(x, requires_grad=True)
    y = POOL_FUNCTIONS[2, kind](xt, (3, 2), (2, 3), "same")
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    want_y, want_dx = torch_pool(x, (3, 2), (2, 3), "same", kind, grad)
    np.testing.assert_allclose(y.data, want_y, atol=1e-12)
    np.testing.assert_allclose(xt.grad, want_dx, atol=1e-12)


def test_avg_pool_same_divides_by_real_cells_and_max_ignores_padding():
    x = tr.Tensor(-np.ones((1, 3, 3, 1)))
    # 2x2 windows, stride 2, "same": output 2x2; the bottom/right windows hang over the edge
    avg = F.avg_pool2d(x, 2, padding="same").data[0, :, :, 0]
    np.testing.assert_array_equal(avg, -np.ones((2, 2)))  # zeros from padding would give -0.5, -0.25
    mx = F.max_pool2d(x, 2, padding="same").data[0, :, :, 0]
    np.testing.assert_array_equal(mx, -np.ones((2, 2)))   # a zero pad would win the max


def test_max_pool_ties_send_the_gradient_to_the_first_cell():
    x = tr.Tensor(np.ones((1, 4, 4, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    want = np.zeros((4, 4))
    want[::2, ::2] = 1
    np.testing.assert_array_equal(x.grad[0, :, :, 0], want)
    np.testing.assert_array_equal(x.grad[0, :, :, 1], want)


def test_max_pool_propagates_nan():
    x = np.zeros((1, 4, 4, 3))
    x[0, 1, 1, 0] = np.nan   # NaN after a real value in its window
    x[0, 0, 0, 1] = np.nan   # NaN first, followed by larger values
    x[0, 2:, 2:, 2] = 5.0
    y = F.max_pool2d(tr.Tensor(x), 2).data
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y[0, 0, 0, 1])
    assert y[0, 1, 1, 2] == 5.0 and not np.isnan(y[0, 1, 1, 0])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_gradcheck(kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4, 2))
    assert tr.gradcheck(lambda a: POOL_FUNCTIONS[2, kind](a, 3, 2, "same"), [x])
    assert tr.gradcheck(lambda a: POOL_FUNCTIONS[1, kind](a, 2, 1, "valid"), [x[:, :, 0, :]])


@st.composite
def pool_configs(draw):
    ph, pw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(ph, 9)), draw(st.integers(pw, 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    strided = draw(st.booleans())
    kind = draw(st.sampled_from(["max", "avg"]))
    return (n, h, w, c), (ph, pw), (sh, sw), padding, dtype, strided, kind, draw(st.integers(0, 2**16))


@settings(max_examples=80, deadline=None)
@given(pool_configs())
def test_pool2d_fuzz_against_naive_reference(config):
    shape, pool, strides, padding, dtype, strided, kind, seed = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    data = x
    if strided:  # the same values, non-contiguous
        data = np.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)[..., ::2]
        data[...] = x
    xt = tr.Tensor(data, requires_grad=True)
    y = POOL_FUNCTIONS[2, kind](xt, pool, strides, padding)
    grad = rng.standard_normal(y.shape).astype(dtype)
    y.backward(grad)
    want, windows = naive_pool2d(x.astype(np.float64), pool, strides, padding, kind)
    want_dx = naive_pool2d_grad(x.astype(np.float64), grad.astype(np.float64), windows, kind)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert y.dtype == dtype and xt.grad.dtype == dtype
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad, want_dx, rtol=tol, atol=tol)


@pytest.mark.parametrize("rank", [1, 2])
def test_global_pools(rank):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3,) + (5, 4)[:rank] + (2,))
    axes = tuple(range(1, rank + 1))
    avg = getattr(F, f"global_avg_pool{rank}d")
    mx = getattr(F, f"global_max_pool{rank}d")
    np.testing.assert_allclose(avg(x).data, x.mean(axis=axes))
    np.testing.assert_allclose(mx(x).data, x.max(axis=axes))
    assert avg(x, keepdims=True).shape == (3,) + (1,) * rank + (2,)
    assert tr.gradcheck(avg, [x]) and tr.gradcheck(mx, [x])
    with pytest.raises(ValueError, match=f"global_avg_pool{rank}d: input must have rank {rank + 2}"):
        avg(np.ones((2, 2)))


@pytest.mark.parametrize("call,message", [
    (lambda: F.max_pool2d(np.ones((1, 3, 3, 1)), 4), "pool_size 4x4 does not fit input 3x3 with padding='valid'"),
    (lambda: F.avg_pool1d(np.ones((1, 3, 1)), 0), "pool_size must be positive, got 0"),
    (lambda: F.max_pool2d(np.ones((1, 4, 4, 1)), 2, strides=(2, 0)), "strides must be positive, got (2, 0)"),
    (lambda: F.max_pool2d(np.ones((4, 4, 1)), 2), "input must have rank 4 (N, H, W, C), got shape (4, 4, 1)"),
    (lambda: F.max_pool1d(np.ones((1, 4, 4, 1)), 2), "input must have rank 3 (N, L, C)"),
    (lambda: F.avg_pool2d(np.ones((1, 4, 4, 1)), 2, padding="causal"), "unknown padding 'causal'"),
])
def test_bad_input_raises_value_error_naming_the_values(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_multithreaded_kernels_match_the_reference(monkeypatch, kind):
    from tinygrad_relu.ops import pool as pool_ops
    monkeypatch.setattr(pool_ops, "PARALLEL_MIN_WORK", 0)  # force the OpenMP path on small inputs
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7, 8, 3))
    xt = tr.Tensor(x, requires_grad=True)
    y = POOL_FUNCTIONS[2, kind](xt, 3, 2, "same")
    assert y._ctx.parallel
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    want, windows = naive_pool2d(x, (3, 3), (2, 2), "same", kind)
    np.testing.assert_allclose(y.data, want, atol=1e-12)
    np.testing.assert_allclose(xt.grad, naive_pool2d_grad(x, grad, windows, kind), atol=1e-12)


# ---- the 2x2 / stride 2 kernels against the general ones ---------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("h,w", [(6, 8), (7, 5), (1, 2), (3, 3)])
def test_two_by_two_kernels_equal_the_general_ones(dtype, h, w):
    from tinygrad_relu._kernels import pool as kernels
    rng = np.random.default_rng(h * 10 + w)
    # few distinct values: ties everywhere; plus NaNs, which must win and stay
    x = rng.integers(-2, 3, size=(3, h, w, 5)).astype(dtype)
    x[0, 0, 1, 0] = np.nan
    x[1, h - 1, w - 1, 2] = np.nan
    shape = (3, h // 2, w // 2, 5)
    out_general, out_fast = np.empty(shape, dtype), np.empty(shape, dtype)
    arg_general, arg_fast = np.empty(shape, np.int32), np.empty(shape, np.int32)
    kernels.max_pool_2d(x, out_general, arg_general, 2, 2, 2, 2, 0, 0, False)
    kernels.max_pool_2x2(x, out_fast, arg_fast, False)
    np.testing.assert_array_equal(out_fast, out_general)
    np.testing.assert_array_equal(arg_fast, arg_general)
    grad = rng.standard_normal(shape).astype(dtype)
    dx_general = np.zeros(x.shape, dtype)
    dx_fast = np.full(x.shape, 7.0, dtype)  # garbage: the fast kernel must write every cell
    kernels.max_pool_2d_backward(grad, arg_general, dx_general, False)
    kernels.max_pool_2x2_backward(grad, arg_fast, dx_fast, True)
    np.testing.assert_array_equal(dx_fast, dx_general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_by_two_path_is_taken_and_matches_the_reference(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 6, 3)).astype(dtype)
    xt = tr.Tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    assert y._ctx.two_by_two and y.dtype == dtype
    grad = rng.standard_normal(y.shape).astype(dtype)
    y.backward(grad)
    want, windows = naive_pool2d(x.astype(np.float64), (2, 2), (2, 2), "valid", "max")
    np.testing.assert_array_equal(y.data, want.astype(dtype))
    np.testing.assert_allclose(xt.grad, naive_pool2d_grad(x.astype(np.float64), grad.astype(np.float64),
                                                          windows, "max"), atol=0)
    assert not F.max_pool2d(tr.Tensor(x, requires_grad=True), 2, padding="same")._ctx.two_by_two  # 9 rows: padded


def test_pool_layer_reuses_its_argmax_buffer_and_gradients_stay_right():
    from tinygrad_relu import layers as L
    layer = L.MaxPooling2D(2)
    rng = np.random.default_rng(6)
    for step in range(3):
        x = rng.standard_normal((2, 4, 4, 2))
        xt = tr.Tensor(x, requires_grad=True)
        y = layer(xt, training=True)
        y.backward(np.ones(y.shape))
        want, windows = naive_pool2d(x, (2, 2), (2, 2), "valid", "max")
        np.testing.assert_array_equal(xt.grad, naive_pool2d_grad(x, np.ones(y.shape), windows, "max"))
        if step == 0:
            first = layer._workspace._slots["argmax"]
    assert layer._workspace._slots["argmax"] is first


@pytest.mark.parametrize("parallel", [False, True])
def test_debug_build_bounds_checks_cover_the_pool_kernels(parallel):
    from tinygrad_relu._kernels import pool as kernels, threads
    if not threads.debug_build():
        pytest.skip("bounds checks exist only in the debug build (TINYGRAD_RELU_DEBUG=1)")
    grad = np.ones((1, 1, 1, 2))
    corrupt_argmax = np.array([[[[0, 99]]]], np.int32)  # cell 99 of a 2x2 image
    with pytest.raises(IndexError):
        kernels.max_pool_2d_backward(grad, corrupt_argmax, np.zeros((1, 2, 2, 2)), parallel)
