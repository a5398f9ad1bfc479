"""Dying ReLU, and the fixes: Leaky ReLU (two slopes), PReLU and ELU.

A ReLU unit whose input is negative for every sample outputs 0 everywhere and gets a zero
gradient from every sample. Here the hidden biases start at -0.5 (as a bad initialization or a
big update would leave them), so many units start on the zero side. Comparing which units are
dead before and after training splits them into dead at initialization, died during training
and revived. Leaky ReLU, PReLU and ELU keep a slope below zero, so a gradient; how much that
helps depends on the slope: 0.01 (PyTorch's default, and ``Tensor.leaky_relu``'s here) or 0.2
(Keras' ``activations.leaky_relu``; Keras' ``layers.LeakyReLU`` uses 0.3).

Run: python examples/04_dying_relu.py      (TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run)
"""
import os

import numpy as np

from tinygrad_relu import datasets, diagnostics, initializers, utils
from tinygrad_relu.layers import Dense, Input, LeakyReLU, PReLU
from tinygrad_relu.models import Sequential

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
EPOCHS = 8 if SMALL else 20
(x, y), (x_test, y_test) = datasets.spirals(n_samples=600, arms=3, seed=0)
ACTIVATIONS = {  # name: the layer(s) after each Dense (None: the Dense applies the activation itself)
    "relu": None, "leaky 0.01": lambda: LeakyReLU(negative_slope=0.01),
    "leaky 0.2": lambda: LeakyReLU(negative_slope=0.2), "prelu": PReLU, "elu": None}


def mlp(name, bias=-0.5):
    utils.set_random_seed(0)
    layers = [Input(shape=(2,))]
    for _ in range(4):
        after = ACTIVATIONS[name]
        layers.append(Dense(64, activation=None if after else name, kernel_initializer="he_normal",
                            bias_initializer=initializers.Constant(bias)))
        if after:
            layers.append(after())  # PReLU's slope is learned per unit, starting at 0 (Keras): ReLU at first
    model = Sequential(layers + [Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def dead(model):
    """One boolean per hidden unit: True where the unit outputs 0 for every test sample."""
    return np.concatenate(list(diagnostics.dead_units(model, x_test).values()))


print("4 hidden layers of 64 units, hidden biases start at -0.5, Adam, spirals.")
print("dead = output exactly 0 for every test sample; died = alive at init, dead at the end;")
print("revived = dead at init, alive at the end; chance level is 33%\n")
print(f"{'activation':<11} {'dead at init':>12} {'died':>7} {'revived':>8} {'dead at end':>12} {'test acc':>9}")
results = {}
for name in ACTIVATIONS:
    model = mlp(name)
    before = dead(model)
    monitor = diagnostics.DeadUnits(x_test, per_layer=False)  # the dead fraction after every epoch, into History
    history = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[monitor],
                        validation_data=(x_test, y_test))
    after = dead(model)
    results[name] = {"init": before.mean(), "died": (~before & after).mean(), "revived": (before & ~after).mean(),
                     "end": after.mean(), "accuracy": history.history["val_accuracy"][-1],
                     "per_epoch": history.history["dead_fraction"]}
    r = results[name]
    print(f"{name:<11} {r['init']:>12.1%} {r['died']:>7.1%} {r['revived']:>8.1%} {r['end']:>12.1%} "
          f"{r['accuracy']:>9.1%}")

relu = results["relu"]
print(f"\nReLU's dead fraction per epoch: {', '.join(f'{v:.0%}' for v in relu['per_epoch'])}")
print(f"ReLU: {relu['revived']:.1%} of the units dead at initialization came back"
      + (": a unit at 0 for every input gets no gradient to move it" if relu["revived"] == 0 else ""))
small, large = results["leaky 0.01"]["accuracy"], results["leaky 0.2"]["accuracy"]
alive = results["leaky 0.01"]["end"] == 0 and results["leaky 0.2"]["end"] == 0
gain = "the larger slope passes more gradient and learns more here" if large > small else "the larger slope gained nothing"
print(f"Leaky ReLU {'keeps every unit alive at both slopes' if alive else 'has dead units too'}, but slope 0.01 "
      f"reaches {small:.1%} and slope 0.2 {large:.1%}: {gain}.")
print("With a large learning rate instead (tinygrad-relu dying --scenario lr), ReLU units die during training,"
      "\nand the net may still learn: dead units are wasted capacity, not by themselves a failure.")
assert relu["end"] >= 0.2 and results["leaky 0.2"]["end"] < 0.05
