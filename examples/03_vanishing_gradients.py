"""Vanishing gradients: the same deep network with sigmoid, tanh and ReLU.

Each layer multiplies the backward signal by the activation's derivative. sigmoid' is at most
0.25, so after 10 layers the first layer receives a vanishing share of the gradient; ReLU's
derivative is exactly 1 on the active path, so (with He initialization) every layer gets a
share of the same order. The network then learns accordingly.

Run: python examples/03_vanishing_gradients.py      (TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run)
"""
import os

from tinygrad_relu import datasets, diagnostics, utils
from tinygrad_relu.layers import Dense, Input
from tinygrad_relu.models import Sequential

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
DEPTH, WIDTH = 10, 64
EPOCHS = 8 if SMALL else 30

(x, y), (x_test, y_test) = datasets.spirals(n_samples=600 if SMALL else 900, arms=3, seed=0)


def deep_mlp(activation):
    """10 hidden Dense layers; He init for ReLU, Glorot (Keras' default, made for sigmoid/tanh) otherwise."""
    init = "he_normal" if activation == "relu" else "glorot_uniform"
    utils.set_random_seed(0)
    model = Sequential([Input(shape=(2,))]
                       + [Dense(WIDTH, activation=activation, kernel_initializer=init) for _ in range(DEPTH)]
                       + [Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# 1. Gradient norm per layer at initialization: one backward pass, nothing updated.
print(f"|dL/dW| per Dense layer at initialization, input side first ({DEPTH} hidden layers of {WIDTH}):\n")
print(f"{'layer':>5} " + "".join(f"{a:>12}" for a in ("sigmoid", "tanh", "relu")))
norms = {a: list(diagnostics.gradient_norms(deep_mlp(a), x_test, y_test).values())
         for a in ("sigmoid", "tanh", "relu")}
for i in range(DEPTH + 1):
    print(f"{i + 1:>5} " + "".join(f"{norms[a][i]:>12.2e}" for a in norms))
for a, n in norms.items():
    print(f"{a:>8}: first/last = {n[0] / n[-1]:.1e}")
assert norms["sigmoid"][0] / norms["sigmoid"][-1] < 1e-3 * norms["relu"][0] / norms["relu"][-1]

# 2. Train each, recording the gradient ratio every epoch with the GradientFlow callback.
print(f"\nTraining {EPOCHS} epochs with Adam; GradientFlow records first/last gradient ratio per epoch:")
for activation in ("sigmoid", "tanh", "relu"):
    model = deep_mlp(activation)
    flow = diagnostics.GradientFlow(x_test, y_test, per_layer=False)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[flow],
                        validation_data=(x_test, y_test))
    ratios = history.history["grad_ratio"]
    print(f"  {activation:<8} test accuracy {history.history['val_accuracy'][-1]:.1%}   "
          f"grad ratio epoch 1: {ratios[0]:.1e}, last: {ratios[-1]:.1e}")

print("\nsigmoid's first layers hardly move, so the network stays near chance (33%);"
      "\nReLU's gradient reaches every layer and the network learns the spirals.")
