"""Vanishing gradients: the same deep network with sigmoid, tanh and ReLU, trained with SGD and with Adam.

Going back through a layer, the gradient is multiplied by the activation's derivative and by
the layer's weights. sigmoid' is at most 0.25, so with weights that keep the gradient's size
(Glorot's initialization) each sigmoid layer shrinks it by about 4 and ten layers by about a
million; ReLU's derivative is exactly 1 on the active path, so with He initialization every
layer gets a gradient of the same order. Three things decide what the network then learns:

1. the gradient reaching each layer (measured per layer: |dL/dh| at each layer's output, and
   |dL/dW| per weight, so that the 2x64 first kernel and the 64x64 hidden ones compare);
2. the forward signal: a deep sigmoid net also squeezes how much each layer's output depends
   on the input, so its last layers see almost the same vector for every input;
3. the optimizer: SGD's step is the gradient, so a tiny gradient means a frozen layer; Adam
   divides each weight's step by that weight's recent gradient size, so every layer moves,
   and its epsilon (added to that size) decides how far when the gradient is tiny.

Run: python examples/03_vanishing_gradients.py      (TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run)
"""
import os

import numpy as np

from tinygrad_relu import datasets, diagnostics, optimizers, utils
from tinygrad_relu.layers import Dense, Input
from tinygrad_relu.models import Sequential

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
DEPTH, WIDTH = 10, 64
EPOCHS = 8 if SMALL else 30
ACTIVATIONS = ("sigmoid", "tanh", "relu")

(x, y), (x_test, y_test) = datasets.spirals(n_samples=600 if SMALL else 900, arms=3, seed=0)


def deep_mlp(activation, optimizer):
    """10 hidden Dense layers; He init for ReLU, Glorot (Keras' default, made for sigmoid/tanh) otherwise."""
    init = "he_normal" if activation == "relu" else "glorot_uniform"
    utils.set_random_seed(0)  # the same initial weights whatever the optimizer
    model = Sequential([Input(shape=(2,))]
                       + [Dense(WIDTH, activation=activation, kernel_initializer=init) for _ in range(DEPTH)]
                       + [Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def kernels(model):
    return [layer.weights[0].data.copy() for layer in model.layers]


# 1. The gradient reaching each layer at initialization: one backward pass, nothing updated.
print(f"|dL/dh| at each hidden layer's output at initialization, input side first ({DEPTH} layers of {WIDTH}):\n")
print(f"{'layer':>5} " + "".join(f"{a:>12}" for a in ACTIVATIONS))
grads = {a: list(diagnostics.gradient_norms(deep_mlp(a, "sgd"), x_test, y_test, of="activations").values())[:DEPTH]
         for a in ACTIVATIONS}
for i in range(DEPTH):
    print(f"{i + 1:>5} " + "".join(f"{grads[a][i]:>12.2e}" for a in ACTIVATIONS))
factor = {a: (g[0] / g[-1]) ** (1 / (DEPTH - 1)) for a, g in grads.items()}
for a in ACTIVATIONS:
    print(f"{a:>8}: layer 1 gets {grads[a][0] / grads[a][-1]:.1e} of layer {DEPTH}'s, "
          f"a factor of {factor[a]:.3f} per layer")
print(f"(sigmoid' <= 0.25: the measured sigmoid factor {factor['sigmoid']:.3f} is "
      f"{'within' if factor['sigmoid'] <= 0.25 else 'above'} that bound)")
rms = {a: list(diagnostics.gradient_norms(deep_mlp(a, "sgd"), x_test, y_test, of="weights_rms").values())
       for a in ACTIVATIONS}
print("|dL/dW| per weight (RMS), first and last kernel: "
      + ", ".join(f"{a} {r[0]:.1e} / {r[-1]:.1e}" for a, r in rms.items()))

# 2. The forward signal: how much each layer's output still depends on the input.
spread = {a: list(diagnostics.signal_spread(deep_mlp(a, "sgd"), x_test).values()) for a in ACTIVATIONS}
print("\nForward: spread of layer 10's output over the inputs, relative to layer 1's: "
      + ", ".join(f"{a} {s[-1] / s[0]:.1e}" for a, s in spread.items()))

# 3. Train from the same weights with SGD (the step is the gradient) and Adam (each step rescaled).
print(f"\nTraining {EPOCHS} epochs: |W_end - W_init| / |W_init| of the first and last kernels, and test accuracy")
moved, accuracy = {}, {}
for optimizer in ("sgd", "adam"):
    for activation in ACTIVATIONS:
        model = deep_mlp(activation, optimizer)
        before = kernels(model)
        history = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, validation_data=(x_test, y_test))
        change = [np.linalg.norm(b - a) / np.linalg.norm(a) for a, b in zip(before, kernels(model))]
        moved[optimizer, activation] = change
        accuracy[optimizer, activation] = history.history["val_accuracy"][-1]
        print(f"  {optimizer:<4} {activation:<8} first {change[0]:.1e}  last {change[-1]:.1e}  "
              f"test accuracy {accuracy[optimizer, activation]:.1%}")

# 4. Adam's epsilon: the step is lr * m / (sqrt(v) + epsilon). The sigmoid net's first-layer gradients
# are smaller than the default epsilon (1e-7), which then shortens their steps; give it more epochs.
EPS_EPOCHS = 2 * EPOCHS
eps_moved, eps_accuracy = {}, {}
for epsilon in (1e-7, 1e-10):
    model = deep_mlp("sigmoid", optimizers.Adam(epsilon=epsilon))
    before = kernels(model)
    history = model.fit(x, y, epochs=EPS_EPOCHS, batch_size=32, verbose=0, validation_data=(x_test, y_test))
    eps_moved[epsilon] = np.linalg.norm(kernels(model)[0] - before[0]) / np.linalg.norm(before[0])
    eps_accuracy[epsilon] = history.history["val_accuracy"][-1]
    print(f"\nsigmoid, Adam with epsilon {epsilon:g}, {EPS_EPOCHS} epochs: first kernel moved "
          f"{eps_moved[epsilon]:.2g} of its size, test accuracy {eps_accuracy[epsilon]:.1%}", end="")
print()

# What the numbers say (each sentence picked by them, so a different run cannot contradict it).
sgd_first, sgd_last = moved["sgd", "sigmoid"][0], moved["sgd", "sigmoid"][-1]
adam_first = moved["adam", "sigmoid"][0]
print(f"\nWith SGD the sigmoid net's first kernel {'hardly moved' if sgd_first < 1e-3 * sgd_last else 'moved'} "
      f"({sgd_first:.1e} of its size, against {sgd_last:.1e} for its last): the step follows the vanishing gradient.")
print(f"With Adam it moved {adam_first:.1e} ({'more' if adam_first > moved['adam', 'relu'][0] else 'less'} than "
      f"ReLU's first kernel, {moved['adam', 'relu'][0]:.1e}): Adam rescales every weight's step.")
fade = spread["sigmoid"][-1] / spread["sigmoid"][0]
stuck = all(accuracy[o, "sigmoid"] < 0.5 for o in ("sgd", "adam"))  # chance is 1/3
print(f"{'Yet' if stuck else 'And'} the sigmoid net reaches {accuracy['sgd', 'sigmoid']:.1%} (SGD) and "
      f"{accuracy['adam', 'sigmoid']:.1%} (Adam), chance being 33%"
      + (f": its forward signal has faded to {fade:.1e} of layer 1's spread too, and moving the first layers did "
         f"not bring it back" if stuck and fade < 1e-2 else "")
      + f"; ReLU reaches {accuracy['sgd', 'relu']:.1%} and {accuracy['adam', 'relu']:.1%}.")
step = "longer" if eps_moved[1e-10] > eps_moved[1e-7] else "shorter"
change = ("helps" if eps_accuracy[1e-10] > eps_accuracy[1e-7] else
          "does not help" if eps_accuracy[1e-10] < eps_accuracy[1e-7] else "makes no difference")
print(f"Adam's epsilon is part of the step when gradients are this small: at 1e-10 the first kernel's steps are "
      f"{step} ({eps_moved[1e-10]:.2g} against {eps_moved[1e-7]:.2g}), and in {EPS_EPOCHS} epochs that {change} "
      f"({eps_accuracy[1e-10]:.1%} against {eps_accuracy[1e-7]:.1%}).")

assert factor["sigmoid"] < 0.5 * factor["relu"]
assert sgd_first < sgd_last and eps_moved[1e-10] > eps_moved[1e-7]
