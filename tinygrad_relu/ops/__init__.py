"""Differentiable ops, grouped by kind: elementwise, reduce, movement, linalg, activation, conv/pool."""
