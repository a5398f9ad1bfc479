"""Backpropagation by hand, beside the engine: a two-layer ReLU network, every gradient checked.

    h = relu(x @ W1 + b1)          (4 samples, 3 inputs, 5 hidden units)
    p = softmax(h @ W2 + b2)       (2 classes)
    L = mean(-log p[label])

Run: python examples/02_backprop_by_hand.py
"""
import numpy as np

from tinygrad_relu import Tensor, graphviz

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3))
labels = np.array([0, 1, 1, 0])
W1, b1 = rng.standard_normal((3, 5)) * 0.8, np.full(5, 0.1)
W2, b2 = rng.standard_normal((5, 2)) * 0.8, np.zeros(2)

# ---- forward by hand (float64 numpy) --------------------------------------------------------
z1 = x @ W1 + b1
h = np.maximum(z1, 0)
logits = h @ W2 + b2
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
loss = np.mean(-np.log(p[np.arange(4), labels]))

# ---- backward by hand: the chain rule, one line per step --------------------------------------
g_logits = p.copy()
g_logits[np.arange(4), labels] -= 1          # d(-log softmax)/d logits = p - onehot
g_logits /= 4                                # the mean over 4 samples
g_W2 = h.T @ g_logits                        # logits = h @ W2  ->  dW2 = h^T g
g_b2 = g_logits.sum(axis=0)                  # the bias is added to every row
g_h = g_logits @ W2.T                        # dh = g W2^T
g_z1 = g_h * (z1 > 0)                        # relu' is 1 where z1 > 0, else 0: the ReLU gate
g_W1 = x.T @ g_z1
g_b1 = g_z1.sum(axis=0)

# ---- the same with the engine (float64 Tensors) -----------------------------------------------
tW1, tb1 = Tensor(W1, requires_grad=True), Tensor(b1, requires_grad=True)
tW2, tb2 = Tensor(W2, requires_grad=True), Tensor(b2, requires_grad=True)
tx = Tensor(x)
t_h = (tx @ tW1 + tb1).relu()
t_h.retain_grad()                            # keep the gradient of this inner tensor too
t_logits = t_h @ tW2 + tb2
t_loss = -t_logits.log_softmax(axis=1)[np.arange(4), labels].mean()
graph = graphviz.trace(t_loss, names={"x": tx, "W1": tW1, "b1": tb1, "W2": tW2, "b2": tb2, "h": t_h, "loss": t_loss})
t_loss.backward()

print(f"loss: by hand {loss:.6f}, engine {t_loss.item():.6f}\n")
print(f"{'gradient':<8} {'shape':<8} {'max |hand - engine|':>20}")
for name, hand, engine in [("dW1", g_W1, tW1.grad), ("db1", g_b1, tb1.grad), ("dh", g_h, t_h.grad),
                           ("dW2", g_W2, tW2.grad), ("db2", g_b2, tb2.grad)]:
    difference = np.max(np.abs(hand - engine))
    print(f"{name:<8} {str(hand.shape):<8} {difference:>20.2e}")
    assert difference < 1e-12, name

closed = z1 <= 0
print(f"\nReLU gate: {int(closed.sum())} of {z1.size} pre-activations are <= 0, so dz1 is exactly 0 there "
      f"({np.all(g_z1[closed] == 0)}):\nthose (sample, unit) pairs contribute nothing to dW1 and db1. A unit closed "
      f"for every sample would get no gradient at all: a dead unit (see 04_dying_relu.py).")

print("\nThe graph the engine walked backward (op, shape, gradient norm):")
print(graph.to_text())
