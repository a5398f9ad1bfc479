"""The classic Keras CNN, unchanged but for its imports, on images it draws itself.

    Conv2D(32, 3x3) -> MaxPooling2D -> Conv2D(64, 3x3) -> MaxPooling2D -> Flatten -> Dense(128) -> Dense(10)

Each 64x64 RGB image is noise plus one bright coloured square; the class (0..9) is where
the square sits on a 5 x 2 grid, so the network must learn *where* things are, which is
what convolution and pooling are for. Set TINYGRAD_RELU_EXAMPLE_SMALL=1 for a quick run
(CI): fewer, smaller images.

Run:  python examples/06_keras_cnn.py
"""
import os
import time

import numpy as np

from tinygrad_relu.layers import Conv2D, Dense, Flatten, MaxPooling2D
from tinygrad_relu.models import Sequential
from tinygrad_relu.utils import set_random_seed, to_categorical

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
SIZE = 32 if SMALL else 64
N_TRAIN, N_TEST = (320, 100) if SMALL else (600, 200)
EPOCHS = 3 if SMALL else 2


def make_images(n, size, rng):
    """Noise plus one coloured square; the label is the square's cell on a 5 x 2 grid."""
    labels = rng.integers(0, 10, size=n)
    images = rng.normal(0.0, 0.25, size=(n, size, size, 3)).astype(np.float32)
    cell_w, cell_h = size // 5, size // 2
    side = size // 8
    for i, label in enumerate(labels):
        row, col = divmod(label, 5)
        top = row * cell_h + rng.integers(0, cell_h - side + 1)
        left = col * cell_w + rng.integers(0, cell_w - side + 1)
        colour = rng.uniform(0.5, 1.5, size=3)
        images[i, top:top + side, left:left + side, :] += colour
    return images, labels


def main():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_images(N_TRAIN, SIZE, rng)
    x_test, y_test = make_images(N_TEST, SIZE, rng)
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(SIZE, SIZE, 3)))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.summary()

    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, validation_split=0.1)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    predicted = model.predict(x_test[:8], verbose=0).argmax(axis=1)
    print("predicted classes:", predicted.tolist())
    print("true classes:     ", y_test[:8].argmax(axis=1).tolist())
    return accuracy


if __name__ == "__main__":
    main()
