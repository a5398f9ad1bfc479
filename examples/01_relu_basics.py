"""ReLU in five minutes: the function, its derivative (from backward), and the zeros it makes.

Run: python examples/01_relu_basics.py
"""
import numpy as np

from tinygrad_relu import Tensor, activations, utils
from tinygrad_relu.layers import Dense

# 1. The definition: relu(x) = max(x, 0). Positives pass unchanged, negatives become 0.
x = Tensor([-3.0, -1.0, -0.1, 0.0, 0.1, 1.0, 3.0], requires_grad=True)
y = activations.relu(x)
print("x        ", x.data)
print("relu(x)  ", y.data)

# 2. The derivative, computed by the engine: backward of sum(relu(x)) gives relu'(x).
#    It is 1 where x > 0 and 0 elsewhere, including at x = 0 (the convention PyTorch and Keras use).
y.sum().backward()
print("relu'(x) ", x.grad, " <- from Tensor.backward")
assert list(x.grad) == [0, 0, 0, 0, 1, 1, 1]

# 3. Piecewise-linear building blocks: sums of shifted ReLUs draw any piecewise-linear curve.
grid = Tensor(np.linspace(-2, 2, 9))
absolute = activations.relu(grid) + activations.relu(-grid)            # |x|
ramp = activations.relu(grid) - activations.relu(grid - 1.0)           # 0, then x, then 1
print("\nx                     ", grid.data)
print("relu(x) + relu(-x)    ", absolute.data, " = |x|")
print("relu(x) - relu(x - 1) ", ramp.data, " = clip(x, 0, 1)")
assert np.allclose(absolute.data, np.abs(grid.data))
assert np.allclose(ramp.data, np.clip(grid.data, 0, 1))

# 4. Sparsity: on inputs centred at zero, half the outputs are exact zeros.
rng = np.random.default_rng(0)
z = Tensor(rng.standard_normal(100_000).astype(np.float32))
zeros = float(np.mean(activations.relu(z).data == 0))
print(f"\nrelu of 100,000 standard normal numbers: {zeros:.1%} exact zeros")

# The same in a Dense layer at initialization (He normal, zero bias): about half the units are off
# for any given sample, and *which* half depends on the sample.
utils.set_random_seed(0)
layer = Dense(256, activation="relu", kernel_initializer="he_normal")
h = layer(rng.standard_normal((512, 32)).astype(np.float32)).data
per_sample = np.mean(h == 0, axis=1)
print(f"Dense(256, relu) on 512 samples: {np.mean(h == 0):.1%} zeros; per sample between "
      f"{per_sample.min():.0%} and {per_sample.max():.0%}; units off for every sample: {np.mean(np.all(h == 0, axis=0)):.1%}")

# 5. Why the zeros matter for backprop: the gradient through a zero output is exactly zero.
x = Tensor(rng.standard_normal((4, 6)).astype(np.float32), requires_grad=True)
out = activations.relu(x)
out.backward(np.ones_like(out.data))
print(f"\nwhere relu(x) == 0 the gradient is 0: {np.all(x.grad[out.data == 0] == 0)}; "
      f"elsewhere it is 1: {np.all(x.grad[out.data > 0] == 1)}")
