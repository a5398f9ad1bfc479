"""Matrix product (2-D, batched with broadcasting, and 1-D vectors as numpy treats them)."""
import numpy as np

from ..tensor import Function, unbroadcast


class MatMul(Function):
    """d(A @ B) = dA @ B + A @ dB, so dA = G @ B^T and dB = A^T @ G"""
    fresh_grads = True  # GEMM outputs (sums over broadcast axes, reshaped)

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"{a.shape[-1]} (last axis of the first) != {b.shape[-2 if b.ndim > 1 else 0]} "
                f"({'second-to-last' if b.ndim > 1 else 'only'} axis of the second)")
        self.a, self.b = a, b
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ValueError(f"matmul: cannot broadcast the batch axes of shapes {a.shape} and {b.shape}") from None

    def backward(self, g):
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if need_a else None, g * a if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if need_a:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if need_b:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb
