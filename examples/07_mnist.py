"""MNIST with a ReLU MLP, watching gradient flow and dead units while it trains.

Needs the four MNIST IDX files. tinygrad_relu.datasets.mnist.load_data() looks in
~/.tinygrad_relu/datasets/mnist, downloads them there (sha256-checked) when the network
allows, and otherwise says where to put them; this script then exits cleanly.

Run: python examples/07_mnist.py      (TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run)
"""
import os
import sys
import time

import numpy as np

from tinygrad_relu import diagnostics, utils
from tinygrad_relu.datasets import mnist
from tinygrad_relu.layers import Dense, Flatten, Input
from tinygrad_relu.models import Sequential

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"

try:
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
except FileNotFoundError as exc:
    print("MNIST is not available, so this example stops here.\n")
    print(exc)
    sys.exit(0)

if SMALL:  # a slice, so CI stays fast
    x_train, y_train, x_test, y_test = x_train[:2000], y_train[:2000], x_test[:500], y_test[:500]
x_train = x_train.astype(np.float32) / 255.0
x_test = x_test.astype(np.float32) / 255.0
print(f"MNIST: {len(x_train)} training and {len(x_test)} test images of 28x28")

utils.set_random_seed(0)
model = Sequential([
    Input(shape=(28, 28)),
    Flatten(),
    Dense(256, activation="relu", kernel_initializer="he_normal"),
    Dense(128, activation="relu", kernel_initializer="he_normal"),
    Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

monitor = diagnostics.ActivationMonitor(x_test[:256], y_test[:256], per_layer=True)
start = time.perf_counter()
history = model.fit(x_train, y_train, epochs=1 if SMALL else 5, batch_size=128, callbacks=[monitor],
                    validation_data=(x_test, y_test), verbose=2)
print(f"trained in {time.perf_counter() - start:.1f} s")

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"\ntest accuracy {accuracy:.2%}")
logs = history.history
print("per epoch: first/last gradient ratio", [f"{v:.2f}" for v in logs["grad_ratio"]],
      "| ReLU zeros", [f"{v:.0%}" for v in logs["sparsity"]],
      "| dead units", [f"{v:.1%}" for v in logs["dead_fraction"]])
