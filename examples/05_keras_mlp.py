"""The classic Keras MLP, unchanged but for its imports, on data it makes itself.

    Dense(64, activation='relu', input_shape=(input_dim,)) -> Dense(10, activation='softmax')

Ten classes, each a cloud of points around its own centre in 20 dimensions, with enough
overlap that the network has something to learn. The script prints what Keras prints:
the summary table, one progress line per epoch, then the test loss and accuracy.
Set TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quicker run (CI).

Run:  python examples/05_keras_mlp.py
"""
import os

import numpy as np

from tinygrad_relu.layers import Dense
from tinygrad_relu.models import Sequential
from tinygrad_relu.utils import set_random_seed, to_categorical

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
input_dim = 20
num_classes = 10
n_train, n_test = (2000, 500) if SMALL else (8000, 2000)
epochs = 5 if SMALL else 10


def make_data(n, centres, rng):
    """Points scattered around their class centre; a random non-linear twist keeps it from being trivial."""
    labels = rng.integers(0, num_classes, size=n)
    x = centres[labels] + rng.normal(scale=1.2, size=(n, input_dim))
    x = x + 0.3 * np.sin(x[:, ::-1])  # bend the clouds a little
    return x.astype(np.float32), to_categorical(labels, num_classes)


def main():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=0.9, size=(num_classes, input_dim))
    x_train, y_train = make_data(n_train, centres, rng)
    x_test, y_test = make_data(n_test, centres, rng)

    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(input_dim,)))
    model.add(Dense(num_classes, activation="softmax"))
    model.summary()

    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1)

    score = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {score[0]:.4f}")
    print(f"Test accuracy: {score[1]:.4f}")
    probabilities = model.predict(x_test[:5], verbose=0)
    print("first 5 predictions:", probabilities.argmax(axis=1).tolist(),
          "true:", y_test[:5].argmax(axis=1).tolist())
    print("history keys:", list(history.history))
    return score[1]


if __name__ == "__main__":
    main()
