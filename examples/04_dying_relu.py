"""Dying ReLU, and the fixes: Leaky ReLU, PReLU and ELU.

A ReLU unit whose input is negative for every sample outputs 0 everywhere and passes back a
zero gradient everywhere: no update can ever reach it again. Here the hidden biases start at
-0.5 (a strongly negative bias, as a bad initialization or a big update would leave them), so
many units begin on the zero side. ReLU's stay dead; the others have a gradient on the negative
side (slope 0.2, a learned slope, e^x) and climb back.

Run: python examples/04_dying_relu.py      (TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run)
"""
import os

from tinygrad_relu import datasets, diagnostics, initializers, utils
from tinygrad_relu.layers import Dense, Input, PReLU
from tinygrad_relu.models import Sequential

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
EPOCHS = 8 if SMALL else 20
(x, y), (x_test, y_test) = datasets.spirals(n_samples=600, arms=3, seed=0)


def mlp(activation, bias=-0.5):
    utils.set_random_seed(0)
    layers = [Input(shape=(2,))]
    for _ in range(4):
        layers.append(Dense(64, activation=None if activation == "prelu" else activation,
                            kernel_initializer="he_normal", bias_initializer=initializers.Constant(bias)))
        if activation == "prelu":
            layers.append(PReLU())  # slope learned per unit, starting at 0 (Keras' default): ReLU at first
    model = Sequential(layers + [Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


print("4 hidden layers of 64 units, hidden biases start at -0.5, Adam, spirals.")
print("dead = output exactly 0 for every test sample; inactive = output <= 0 for every test sample\n")
print(f"{'activation':<11} {'dead: init -> trained':>22} {'inactive: init -> trained':>26} {'test acc':>9}")
results = {}
for activation in ("relu", "leaky_relu", "prelu", "elu"):
    model = mlp(activation)
    monitor = diagnostics.DeadUnits(x_test, per_layer=False)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0, callbacks=[monitor],
                        validation_data=(x_test, y_test))
    logs = history.history
    results[activation] = logs["dead_fraction"][-1]
    print(f"{activation:<11} {monitor.initial['dead_fraction']:>10.1%} -> {logs['dead_fraction'][-1]:<9.1%}"
          f"{monitor.initial['inactive_fraction']:>13.1%} -> {logs['inactive_fraction'][-1]:<10.1%}"
          f"{logs['val_accuracy'][-1]:>9.1%}")

print("\nPer epoch, ReLU's dead fraction never goes down: a dead unit gets no gradient, from any sample.")
assert results["relu"] >= 0.2 and results["leaky_relu"] < 0.05
