"""keras-io's example "Timeseries classification from scratch" (hfawaz), run here.

Only the import and the data differ from the example: the FordA engine-noise series (3601 training
and 1320 test series of 500 z-normalized steps, labels -1/1) are downloaded there, and synthesized
offline here with the same shapes: noise around a few engine harmonics, the faulty class with an
extra component, each series z-normalized. Left out: the two matplotlib figures and
``keras.utils.plot_model``; sklearn's ``accuracy_score`` is the numpy mean it computes. The model,
the callbacks, compile, fit, the reload of the best checkpoint and the evaluation are the example's.

``TINYGRAD_RELU_EXAMPLE_SMALL=1`` uses 600/200 series of 128 steps and 15 epochs (the test suite's
setting); ``KERAS_IO_WITH=keras`` runs the very same script on Keras 3; ``KERAS_IO_RESULTS=file.json``
writes what the comparison reads.
"""
import json
import os

import numpy as np

if os.environ.get("KERAS_IO_WITH") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
else:
    import tinygrad_relu as keras

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
keras.utils.set_random_seed(int(os.environ.get("KERAS_IO_SEED", "0")))


def synthetic_forda(n, steps, seed):
    """FordA-like series: (n, steps) float64 and labels in {-1, 1}, as the UCR files hold them."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    labels = rng.choice([-1, 1], n)
    base = rng.uniform(0.02, 0.06, (n, 1))  # each engine's fundamental frequency
    phase = rng.uniform(0, 2 * np.pi, (n, 3))
    x = (np.sin(2 * np.pi * base * t + phase[:, :1]) + 0.5 * np.sin(4 * np.pi * base * t + phase[:, 1:2])
         + rng.normal(0, 0.8, (n, steps)))
    faulty = labels == 1  # a fault adds a higher, short-lived component
    burst = np.exp(-0.5 * ((t - rng.uniform(0.2, 0.8, (n, 1)) * steps) / (0.08 * steps)) ** 2)
    x[faulty] += (1.2 * burst * np.sin(2 * np.pi * 0.21 * t + phase[:, 2:]))[faulty]
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)  # z-normalized, as FordA
    return x, labels


"""
## Load the data (here: synthesized)
"""

steps = 128 if SMALL else 500
x_train, y_train = synthetic_forda(600 if SMALL else 3601, steps, seed=1)
x_test, y_test = synthetic_forda(200 if SMALL else 1320, steps, seed=2)

"""
## Standardizing the data
"""

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

num_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0

"""
## Build a model
"""


def make_model(input_shape):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
model.summary()

"""
## Train the model
"""

epochs = 15 if SMALL else 500
batch_size = 32

callbacks = [
    keras.callbacks.ModelCheckpoint(
        "best_model.keras", save_best_only=True, monitor="val_loss"
    ),
    keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
    ),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
]
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=1,
)

"""
## Evaluate model on test data
"""

model = keras.models.load_model("best_model.keras")

test_loss, test_acc = model.evaluate(x_test, y_test)

print("Test accuracy", test_acc)
print("Test loss", test_loss)

results = {"history_keys": sorted(history.history), "epochs_run": len(history.history["loss"]),
           "test_accuracy": float(test_acc), "test_loss": float(test_loss),
           "argmax_accuracy": float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test)),
           "best_val_loss": float(min(history.history["val_loss"]))}
if os.environ.get("KERAS_IO_RESULTS"):
    with open(os.environ["KERAS_IO_RESULTS"], "w") as f:
        json.dump(results, f, indent=1)
print(json.dumps(results, indent=1))
