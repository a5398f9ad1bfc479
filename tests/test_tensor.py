"""The autograd core: Tensor, Function, backward, and the non-activation ops."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import Tensor, gradcheck, no_grad

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape)


# ---- construction ---------------------------------------------------------------------
def test_lists_and_ints_become_float32_and_float64_stays():
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor(3).dtype == np.float32
    assert Tensor([[1.5]]).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert Tensor([1, 2], dtype="float64").dtype == np.float64


def test_attributes_and_repr():
    t = Tensor([[1.0, 2.0]], requires_grad=True)
    assert t.shape == (1, 2) and t.ndim == 2 and t.size == 2 and t.grad is None
    assert isinstance(t.numpy(), np.ndarray)
    assert repr(t) == "Tensor([[1., 2.]], requires_grad=True)"
    assert "dtype=float64" in repr(Tensor(np.ones(2)))
    assert "grad_fn=<MulBackward>" in repr(t * 2)
    assert Tensor([4.0]).item() == 4.0
    d = (t * 2).detach()
    assert not d.requires_grad and d._ctx is None


def test_requires_grad_on_integer_tensor_is_an_error():
    with pytest.raises(TypeError, match="floating point"):
        Tensor(np.array([1, 2]), requires_grad=True)


# ---- backward -------------------------------------------------------------------------
def test_backward_needs_grad_for_multi_element_output():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"single-element.*\(2,\)"):
        (x * 2).backward()
    y = x * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_gradients_accumulate_and_shared_nodes_sum():
    x = Tensor([3.0], requires_grad=True)
    y = x * x + x  # x feeds three places
    y.backward()
    np.testing.assert_allclose(x.grad, [7.0])
    (x * 2).backward()
    np.testing.assert_allclose(x.grad, [9.0])


def test_graph_released_unless_retained():
    x = Tensor([2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0])
    assert y._ctx is None
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        y.backward()  # a third time: the graph is gone, and silently doing nothing would mislead
    np.testing.assert_allclose(x.grad, [8.0])


def test_float_and_int_of_a_single_element_tensor():
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3.0)) == 3
    with pytest.raises(ValueError, match="one-element"):
        float(Tensor([1.0, 2.0]))


def test_deep_chain_is_iterative():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0001 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 20000], rtol=1e-9)


def test_no_grad_records_nothing():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None
    assert tr.is_grad_enabled()

    @no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad


def test_needs_input_grad_skips_constant_inputs():
    x = Tensor(randn(3, 2), requires_grad=True)
    w = Tensor(randn(2, 4))
    (x @ w).sum().backward()
    assert w.grad is None and x.grad.shape == (3, 2)


def test_retain_grad_on_intermediate():
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * np.array([3.0, -6.0]))


def test_float32_grads_stay_float32_even_with_float64_constants():
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    (x * np.ones((2, 2))).sum().backward()
    assert x.grad.dtype == np.float32


# ---- finite differences for every op ---------------------------------------------------
const = np.asarray  # constants in CASES; the torch comparison swaps in torch.tensor
positive = lambda *s: np.abs(randn(*s)) + 0.5  # noqa: E731

CASES = {
    "add_broadcast": (lambda a, b: a + b, [randn(3, 4), randn(4)]),
    "sub_broadcast": (lambda a, b: a - b, [randn(3, 1), randn(1, 5)]),
    "mul_broadcast": (lambda a, b: a * b, [randn(2, 3, 4), randn(3, 1)]),
    "div": (lambda a, b: a / b, [randn(3, 4), positive(3, 4)]),
    "neg": (lambda a: -a, [randn(5)]),
    "pow": (lambda a: a ** 3, [randn(4, 2)]),
    "pow_frac": (lambda a: a ** 0.5, [positive(4)]),
    "matmul_2d": (lambda a, b: a @ b, [randn(3, 4), randn(4, 5)]),
    "matmul_batched": (lambda a, b: a @ b, [randn(2, 3, 4), randn(4, 2)]),
    "matmul_batched_both": (lambda a, b: a @ b, [randn(2, 1, 3, 4), randn(3, 4, 2)]),
    "matmul_vec": (lambda a, b: a @ b, [randn(4), randn(4, 3)]),
    "matmul_dot": (lambda a, b: a @ b, [randn(4), randn(4)]),
    "sum_all": (lambda a: a.sum(), [randn(3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), [randn(3, 4, 2)]),
    "sum_axes_keep": (lambda a: a.sum(axis=(0, 2), keepdims=True), [randn(3, 4, 2)]),
    "mean_axis": (lambda a: a.mean(axis=-1), [randn(3, 4)]),
    "mean_all": (lambda a: a.mean(), [randn(3, 4)]),
    "max_axis": (lambda a: a.max(axis=0), [randn(4, 3)]),
    "max_all_keep": (lambda a: a.max(keepdims=True), [randn(4, 3)]),
    "exp": (lambda a: a.exp(), [randn(3, 3)]),
    "log": (lambda a: a.log(), [positive(3, 3)]),
    "sqrt": (lambda a: a.sqrt(), [positive(3, 3)]),
    "abs": (lambda a: a.abs(), [positive(6) * np.sign(randn(6))]),
    "clip": (lambda a: a.clip(-0.5, 0.5), [np.array([-1.2, -0.3, 0.1, 0.7, 2.0])]),
    "maximum": (lambda a, b: tr.maximum(a, b), [randn(4, 3), randn(3)]),
    "minimum": (lambda a, b: tr.minimum(a, b), [randn(4, 3), randn(4, 1)]),
    "where": (lambda a, b: tr.where(np.array([True, False, True]), a, b), [randn(2, 3), randn(3)]),
    "reshape": (lambda a: a.reshape(6, 2) * const(np.arange(12.0).reshape(6, 2)), [randn(3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1) * const(np.arange(24.0).reshape(4, 2, 3)), [randn(2, 3, 4)]),
    "transpose": (lambda a: a.T @ const(np.ones((3, 2))), [randn(3, 4)]),
    "flatten": (lambda a: a.flatten(1) * const(np.arange(12.0)), [randn(2, 3, 4)]),
    "getitem_slice": (lambda a: a[1:, ::2], [randn(3, 5)]),
    "getitem_int_array": (lambda a: a[np.array([0, 2, 0])], [randn(3, 2)]),
    "getitem_mixed": (lambda a: a[np.arange(3), np.array([1, 0, 1])], [randn(3, 2)]),
    "concatenate": (lambda a, b: tr.concatenate([a, b, a], axis=1), [randn(2, 3), randn(2, 1)]),
    "pad": (lambda a: tr.pad(a, ((1, 0), (2, 1)), value=0.5) * const(np.arange(24.0).reshape(4, 6)), [randn(3, 3)]),
    "composite": (lambda a, b: ((a @ b).exp() / (1 + (a @ b).exp())).mean(axis=0), [randn(3, 4), randn(4, 2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_every_op(name):
    fn, inputs = CASES[name]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch_float64(name):
    torch = pytest.importorskip("torch")
    fn, inputs = CASES[name]
    ours = [Tensor(np.array(a), requires_grad=True) for a in inputs]
    out = fn(*ours)
    g = rng.standard_normal(out.shape)
    out.backward(g)


    tt = [torch.tensor(np.array(a), requires_grad=True) for a in inputs]
    tout = _run_with_torch(fn, tt, torch)
    if tout is None:
        pytest.skip("no torch spelling for this op")
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    tout.backward(torch.tensor(g))
    for o, t in zip(ours, tt):
        np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-9, atol=1e-12)


def _run_with_torch(fn, tts, torch):
    """Evaluate a CASES lambda on torch tensors by swapping tr's functions for torch's."""
    import tinygrad_relu as mod
    saved = {k: getattr(mod, k) for k in ("maximum", "minimum", "where", "concatenate", "pad")}
    torch_api = dict(
        maximum=torch.maximum, minimum=torch.minimum,
        where=lambda c, a, b: torch.where(torch.as_tensor(np.asarray(c)), a, b),
        concatenate=lambda xs, axis=0: torch.cat(list(xs), dim=axis),
        pad=lambda a, pw, value=0.0: torch.nn.functional.pad(
            a, [p for pair in reversed(pw) for p in pair], value=value))
    TorchTensor = torch.Tensor
    patched = {}
    # our Tensor-method names that torch spells differently
    for ours, theirs in (("max", lambda self, axis=None, keepdims=False: torch.amax(
            self, dim=tuple(range(self.ndim)) if axis is None else axis, keepdim=keepdims)),
            ("sum", lambda self, axis=None, keepdims=False: torch.sum(
                self, dim=tuple(range(self.ndim)) if axis is None else axis, keepdim=keepdims)),
            ("mean", lambda self, axis=None, keepdims=False: torch.mean(
                self, dim=tuple(range(self.ndim)) if axis is None else axis, keepdim=keepdims))):
        patched[ours] = getattr(TorchTensor, ours)
        setattr(TorchTensor, ours, theirs)
    global const
    try:
        const = torch.tensor
        for k, v in torch_api.items():
            setattr(mod, k, v)
        return fn(*tts)
    finally:
        const = np.asarray
        for k, v in saved.items():
            setattr(mod, k, v)
        for k, v in patched.items():
            setattr(TorchTensor, k, v)


# ---- bad input --------------------------------------------------------------------------
def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"mul.*\(2, 3\).*\(2,\)"):
        Tensor(np.ones((2, 3))) * np.ones(2)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)


def test_scalars_and_arrays_mix_in():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = 2 - x * np.array([3.0, 4.0]) / 2 + 1
    y.sum().backward()
    np.testing.assert_allclose(y.data, [1.5, -1.0])
    np.testing.assert_allclose(x.grad, [-1.5, -2.0])
    z = np.array([1.0, 1.0]) + x
    assert isinstance(z, Tensor)


def test_gradcheck_reports_worst_element():
    from tinygrad_relu.tensor import Function

    class WrongSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return g * self.x  # should be 2x

    with pytest.raises(tr.GradcheckError, match=r"element \(\d,\): analytic gradient .* finite difference"):
        gradcheck(lambda x: WrongSquare.apply(x), [randn(3)])


def test_activation_methods_match_the_functions():
    from tinygrad_relu.ops import activation as A
    x = Tensor(randn(4, 5))
    for name in ("relu", "elu", "selu", "gelu", "silu", "sigmoid", "tanh", "softplus", "softsign",
                 "relu6", "hard_sigmoid", "mish", "softmax", "log_softmax"):
        np.testing.assert_array_equal(getattr(x, name)().data, getattr(A, name)(x).data, err_msg=name)
    np.testing.assert_array_equal(x.leaky_relu().data, A.leaky_relu(x, negative_slope=0.01).data)
    np.testing.assert_array_equal(x.relu(max_value=0.5, threshold=0.1).data,
                                  A.relu(x, max_value=0.5, threshold=0.1).data)


def test_backward_into_a_freed_part_of_a_graph_raises_instead_of_stopping_silently():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 2.0
    (h * 3.0).sum().backward()  # frees the graph behind h
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        (h * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0, 6.0])  # untouched by the refused pass
    # with the graph kept, the second loss reaches x: 6 + 10
    x.grad = None
    h = x * 2.0
    (h * 3.0).sum().backward(retain_graph=True)
    (h * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad, [16.0, 16.0, 16.0])
