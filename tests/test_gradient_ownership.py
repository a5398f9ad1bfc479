"""A leaf's first gradient is the op's own new array (no copy) exactly when nobody else holds it.

``Function.fresh_grads`` (True, or one flag per input) says an op's backward returns arrays it
just allocated. The leaf then keeps the array itself; every other gradient is copied. Checked
here both ways: with the flag, ``leaf.grad`` is the very array backward returned; without it
(a gradient passed through unchanged, or a view), the leaf's gradient shares no memory with
anything else, so changing one can never change the other.
"""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import functional as F
from tinygrad_relu.ops import convolution, elementwise, linalg, movement, pool, reduce


def capture(monkeypatch, op):
    """Record the arrays op.backward returns."""
    returned = []
    original = op.backward

    def backward(self, g):
        out = original(self, g)
        returned.append(out if isinstance(out, tuple) else (out,))
        return out
    monkeypatch.setattr(op, "backward", backward)
    return returned


def leaves(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [tr.Tensor(rng.standard_normal(s) + 2, requires_grad=True) for s in shapes]


# op class, how to build the graph from leaves, the leaf shapes
OWNED = [
    (elementwise.Mul, lambda a, b: a * b, [(3, 4), (3, 4)]),
    (elementwise.Mul, lambda a, b: a * b, [(3, 4), (4,)]),  # b's gradient summed over the broadcast axis
    (elementwise.Div, lambda a, b: a / b, [(3, 4), (3, 4)]),
    (elementwise.Maximum, lambda a, b: a.maximum(b), [(5,), (5,)]),
    (elementwise.Neg, lambda a: -a, [(6,)]),
    (elementwise.Exp, lambda a: a.exp(), [(6,)]),
    (elementwise.Log, lambda a: a.log(), [(6,)]),
    (elementwise.Sqrt, lambda a: a.sqrt(), [(6,)]),
    (elementwise.Pow, lambda a: a ** 3, [(6,)]),
    (elementwise.Clip, lambda a: a.clip(2.0, 2.5), [(6,)]),
    (linalg.MatMul, lambda a, b: a @ b, [(3, 4), (4, 2)]),
    (linalg.MatMul, lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),  # b's gradient summed over the batch
    (reduce.Max, lambda a: a.max(axis=1), [(3, 4)]),
    (movement.GetItem, lambda a: a[1:, ::2], [(3, 4)]),
    (convolution.Conv2D, lambda x, k, b: F.conv2d(x, k, b, activation="relu"), [(2, 6, 6, 3), (3, 3, 3, 4), (4,)]),
    (convolution.Conv2D, lambda x, k, b: F.conv2d(x, k, b, activation="relu", workspace=convolution.Workspace()),
     [(2, 6, 6, 16), (3, 3, 16, 16), (16,)]),  # Winograd
    (pool.MaxPool2D, lambda x: F.max_pool2d(x, 2, workspace=convolution.Workspace()), [(2, 4, 4, 3)]),
    (pool.AvgPool2D, lambda x: F.avg_pool2d(x, 2), [(2, 4, 4, 3)]),
]


@pytest.mark.parametrize("case", range(len(OWNED)), ids=lambda i: f"{OWNED[i][0].__name__}{i}")
def test_leaves_keep_the_arrays_a_fresh_op_returns(case, monkeypatch):
    op, build, shapes = OWNED[case]
    returned = capture(monkeypatch, op)
    inputs = leaves(*shapes)
    y = build(*inputs)
    y.backward(np.ones(y.shape))
    (grads,) = returned
    for leaf, grad in zip(inputs, grads):
        assert leaf.grad is grad or leaf.grad.base is grad.base is not None and leaf.grad.base is grad.base


def test_add_hands_over_only_the_gradients_it_summed(monkeypatch):
    returned = capture(monkeypatch, elementwise.Add)
    x, b = leaves((3, 4), (4,))
    upstream = np.ones((3, 4))
    (x + b).backward(upstream)
    (dx, db), = returned
    assert dx is upstream or np.shares_memory(dx, upstream)  # passed through: not the op's to give away
    assert not np.shares_memory(x.grad, upstream)            # so the leaf got a copy
    assert b.grad is db                                       # the broadcast sum is new: kept as is
    np.testing.assert_array_equal(b.grad, [3.0] * 4)


def test_sub_copies_the_passed_through_side_only(monkeypatch):
    returned = capture(monkeypatch, elementwise.Sub)
    a, b = leaves((5,), (5,))
    upstream = np.ones(5)
    (a - b).backward(upstream)
    (da, db), = returned
    assert not np.shares_memory(a.grad, upstream) and b.grad is db
    np.testing.assert_array_equal(b.grad, -upstream)


def test_views_and_pass_through_ops_are_copied():
    a, = leaves((3, 4))
    y = a.reshape(12)
    upstream = np.arange(12.0)
    y.backward(upstream)
    assert not np.shares_memory(a.grad, upstream)
    upstream[:] = -1  # the caller reuses its array: the gradient must not change
    np.testing.assert_array_equal(a.grad, np.arange(12.0).reshape(3, 4))


def test_an_input_used_twice_gets_the_sum_of_two_fresh_arrays():
    x, = leaves((4,))
    (x * x).backward(np.ones(4))
    np.testing.assert_allclose(x.grad, 2 * x.data)
    y, = leaves((4,), seed=1)
    (y + y).backward(np.ones(4))  # the same array for both inputs: never handed over twice
    np.testing.assert_array_equal(y.grad, [2.0] * 4)


def test_a_held_gradient_is_never_overwritten_by_the_next_backward():
    """Conv and pooling take dx from a Workspace slot; a leaf holding it keeps it safe."""
    workspace = convolution.Workspace()
    x, = leaves((2, 4, 4, 3))
    F.max_pool2d(x, 2, workspace=workspace).backward(np.ones((2, 2, 2, 3)))
    first = x.grad
    kept = first.copy()
    x.grad = None
    F.max_pool2d(x, 2, workspace=workspace).backward(np.full((2, 2, 2, 3), 7.0))
    np.testing.assert_array_equal(first, kept)
    assert x.grad is not first and x.grad.max() == 7.0


def test_tensor_relu_gradient_is_the_kernel_output_not_a_copy(monkeypatch):
    from tinygrad_relu.ops import activation
    returned = capture(monkeypatch, activation.ReLU)
    x = tr.Tensor(np.linspace(-1, 1, 8, dtype=np.float32), requires_grad=True)
    x.relu().backward(np.ones(8, dtype=np.float32))
    assert x.grad is returned[0][0]
