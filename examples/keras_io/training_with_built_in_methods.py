"""keras-io's guide "Training & evaluation with the built-in methods" (fchollet, Keras 3 version), run here.

Only the imports differ from the guide, plus what cannot run without other software:

- the data: MNIST is synthesized offline (digit-like prototypes plus noise, MNIST's shapes and dtypes);
- the guide's ``tf.data.Dataset`` sections use Python generators instead (TensorFlow is not installed;
  the guide presents both as interchangeable iterators), its PyTorch ``DataLoader`` section runs when
  PyTorch is installed;
- ``keras.utils.plot_model`` (pydot and Graphviz) and the ``TensorBoard`` callback are left out.

``TINYGRAD_RELU_EXAMPLE_SMALL=1`` shrinks the data and the epochs (the test suite's setting);
``KERAS_IO_WITH=keras`` runs the very same script on Keras 3 (the comparison in
tests/test_keras_io_examples.py); ``KERAS_IO_RESULTS=file.json`` writes the numbers it compares.
"""
import json
import os
import tempfile

import numpy as np

if os.environ.get("KERAS_IO_WITH") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers
    from keras import ops
else:
    import tinygrad_relu as keras
    from tinygrad_relu import layers
    from tinygrad_relu import ops
try:
    import torch
except ImportError:
    torch = None

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
RESULTS = {}
keras.utils.set_random_seed(int(os.environ.get("KERAS_IO_SEED", "0")))


def synthetic_mnist(n_train, n_test, seed=0):
    """MNIST's shapes and dtypes ((n, 28, 28) uint8 images, uint8 labels): ten digit-like prototypes of strokes,
    each sample shifted, scaled and noised so that a small MLP reaches MNIST-like accuracy, not 100%."""
    rng = np.random.default_rng(seed)
    prototypes = np.zeros((10, 28, 28))
    for digit in range(10):
        for _ in range(4):  # a few random strokes per digit
            r0, c0 = rng.integers(4, 24, 2)
            r1, c1 = rng.integers(4, 24, 2)
            for t in np.linspace(0, 1, 40):
                prototypes[digit, int(r0 + t * (r1 - r0)), int(c0 + t * (c1 - c0))] = 1.0

    def draw(n):
        labels = rng.integers(0, 10, n)
        images = prototypes[labels] * rng.uniform(0.5, 1.0, (n, 1, 1))
        shifts = rng.integers(-1, 2, (n, 2))
        for i, (dr, dc) in enumerate(shifts):
            images[i] = np.roll(images[i], (dr, dc), axis=(0, 1))
        images += rng.normal(0.0, 0.35, images.shape)
        return (np.clip(images, 0, 1) * 255).astype(np.uint8), labels.astype(np.uint8)
    return draw(n_train), draw(n_test)


"""
## API overview: a first end-to-end example
"""

inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, activation="softmax", name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)

n_train, n_test = (3000, 500) if SMALL else (60000, 10000)
n_val = n_train // 6
(x_train, y_train), (x_test, y_test) = synthetic_mnist(n_train, n_test)

# Preprocess the data (these are NumPy arrays)
x_train = x_train.reshape(n_train, 784).astype("float32") / 255
x_test = x_test.reshape(n_test, 784).astype("float32") / 255

y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Reserve n_val samples for validation (the guide: 10,000 of 60,000)
x_val = x_train[-n_val:]
y_val = y_train[-n_val:]
x_train = x_train[:-n_val]
y_train = y_train[:-n_val]

model.compile(
    optimizer=keras.optimizers.RMSprop(),  # Optimizer
    # Loss function to minimize
    loss=keras.losses.SparseCategoricalCrossentropy(),
    # List of metrics to monitor
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

print("Fit model on training data")
history = model.fit(
    x_train,
    y_train,
    batch_size=64,
    epochs=2,
    # We pass some validation for
    # monitoring validation loss and metrics
    # at the end of each epoch
    validation_data=(x_val, y_val),
)
print(history.history)
RESULTS["history_keys"] = sorted(history.history)

# Evaluate the model on the test data using `evaluate`
print("Evaluate on test data")
results = model.evaluate(x_test, y_test, batch_size=128)
print("test loss, test acc:", results)
RESULTS["end_to_end_test_accuracy"] = float(results[1])

# Generate predictions (probabilities -- the output of the last layer)
# on new data using `predict`
print("Generate predictions for 3 samples")
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)
RESULTS["predictions_shape"] = list(predictions.shape)

"""
## The `compile()` method: specifying a loss, metrics, and an optimizer
"""

model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

model.compile(
    optimizer="rmsprop",
    loss="sparse_categorical_crossentropy",
    metrics=["sparse_categorical_accuracy"],
)


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


"""
### Custom losses
"""


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)

# We need to one-hot encode the labels to use MSE
y_train_one_hot = ops.one_hot(y_train, num_classes=10)
history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
RESULTS["custom_loss_function"] = history.history["loss"][-1]


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())

y_train_one_hot = ops.one_hot(y_train, num_classes=10)
history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
RESULTS["custom_loss_class"] = history.history["loss"][-1]

"""
### Custom metrics
"""


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(
            shape=(), name="ctp", initializer="zeros"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=3)
RESULTS["categorical_true_positives_share"] = history.history["categorical_true_positives"][-1] / len(x_train)

"""
### Handling losses and metrics that don't fit the standard signature
"""


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)

# Insert activity regularization as a layer
x = ActivityRegularizationLayer()(x)

x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)

# The displayed loss will be much higher than before
# due to the regularization component.
history = model.fit(x_train, y_train, batch_size=64, epochs=1)
RESULTS["activity_regularization_loss"] = history.history["loss"][-1]


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        # Compute the training-time loss value and add it
        # to the layer using `self.add_loss()`.
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.softmax(logits)


inputs = keras.Input(shape=(3,), name="inputs")
targets = keras.Input(shape=(10,), name="targets")
logits = keras.layers.Dense(10)(inputs)
predictions = LogisticEndpoint(name="predictions")(targets, logits)

model = keras.Model(inputs=[inputs, targets], outputs=predictions)
model.compile(optimizer="adam")  # No loss argument!

data = {
    "inputs": np.random.random((3, 3)),
    "targets": np.random.random((3, 10)),
}
history = model.fit(data)
RESULTS["logistic_endpoint_loss_is_finite"] = bool(np.isfinite(history.history["loss"][-1]))

"""
### Automatically setting apart a validation holdout set
"""

model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1)
RESULTS["validation_split_accuracy"] = history.history["val_sparse_categorical_accuracy"][-1]

"""
## Training & evaluation using generators (the guide's `tf.data` section)
"""


def batches(x, y, batch_size, shuffle=False, repeat=False, seed=0, *extra):
    """(x, y[, extra...]) batches, shuffled each pass when asked, forever with ``repeat``."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            yield (x[rows], y[rows]) + tuple(e[rows] for e in extra)
        if not repeat:
            return


model = get_compiled_model()

# First, let's create a training generator: shuffled batches of 64, one pass per epoch, and a test one.
# Since the generator takes care of batching, we don't pass a `batch_size` argument.
epochs = 3
model.fit(batches(x_train, y_train, 64, shuffle=True, repeat=True), epochs=epochs,
          steps_per_epoch=int(np.ceil(len(x_train) / 64)))

# You can also evaluate or predict on a generator.
print("Evaluate")
result = model.evaluate(batches(x_test, y_test, 64))
print(dict(zip(model.metrics_names, np.atleast_1d(result))))
RESULTS["generator_test_accuracy"] = float(result[1])

model = get_compiled_model()
# Only use the 100 batches per epoch (that's 64 * 100 samples; 20 in the small run)
history = model.fit(batches(x_train, y_train, 64, shuffle=True, repeat=True), epochs=3,
                    steps_per_epoch=20 if SMALL else 100)
RESULTS["steps_per_epoch_loss"] = history.history["loss"][-1]

model = get_compiled_model()
history = model.fit(batches(x_train, y_train, 64, shuffle=True), epochs=1,
                    validation_data=batches(x_val, y_val, 64))
RESULTS["generator_validation_accuracy"] = history.history["val_sparse_categorical_accuracy"][-1]

model = get_compiled_model()
history = model.fit(
    batches(x_train, y_train, 64, shuffle=True),
    epochs=1,
    # Only run validation using the first 10 batches of the dataset
    # using the `validation_steps` argument
    validation_data=batches(x_val, y_val, 64, repeat=True),
    validation_steps=10,
)
RESULTS["validation_steps_accuracy"] = history.history["val_sparse_categorical_accuracy"][-1]

"""
## Training & evaluation using `PyDataset` instances
"""


class ExamplePyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.y = y
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size : (idx + 1) * self.batch_size]
        return batch_x, batch_y


train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32)
val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32)

model = get_compiled_model()
model.fit(train_py_dataset, batch_size=64, validation_data=val_py_dataset, epochs=1)
result = model.evaluate(val_py_dataset)
RESULTS["py_dataset_accuracy"] = float(result[1])

# Here's a 4-thread, non-multiprocessed example:
train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32, workers=4)
val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32, workers=4)

model = get_compiled_model()
history = model.fit(train_py_dataset, batch_size=64, validation_data=val_py_dataset, epochs=1)
RESULTS["py_dataset_workers_accuracy"] = history.history["val_sparse_categorical_accuracy"][-1]

"""
## Training & evaluation using PyTorch `DataLoader` objects
"""

if torch is not None:
    class ExampleTorchDataset(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, idx):
            return self.x[idx], self.y[idx]

    train_torch_dataset = ExampleTorchDataset(x_train, y_train)
    val_torch_dataset = ExampleTorchDataset(x_val, y_val)

    train_dataloader = torch.utils.data.DataLoader(train_torch_dataset, batch_size=32, shuffle=True)
    val_dataloader = torch.utils.data.DataLoader(val_torch_dataset, batch_size=32, shuffle=True)

    model = get_compiled_model()
    model.fit(train_dataloader, batch_size=64, validation_data=val_dataloader, epochs=1)
    result = model.evaluate(val_dataloader)
    RESULTS["torch_dataloader_accuracy"] = float(result[1])

"""
## Using sample weighting and class weighting
"""

class_weight = {
    0: 1.0,
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 1.0,
    # Set weight "2" for class "5",
    # making this class 2x more important
    5: 2.0,
    6: 1.0,
    7: 1.0,
    8: 1.0,
    9: 1.0,
}

print("Fit with class weight")
model = get_compiled_model()
history = model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)
RESULTS["class_weight_loss"] = history.history["loss"][-1]

sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0

print("Fit with sample weight")
model = get_compiled_model()
history = model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)
RESULTS["sample_weight_loss"] = history.history["loss"][-1]

# A generator that yields sample weights (3rd element of each batch).
model = get_compiled_model()
history = model.fit(batches(x_train, y_train, 64, True, False, 0, sample_weight), epochs=1)
RESULTS["generator_sample_weight_loss"] = history.history["loss"][-1]

"""
## Passing data to multi-input, multi-output models
"""

image_input = keras.Input(shape=(32, 32, 3), name="img_input")
timeseries_input = keras.Input(shape=(None, 10), name="ts_input")

x1 = layers.Conv2D(3, 3)(image_input)
x1 = layers.GlobalMaxPooling2D()(x1)

x2 = layers.Conv1D(3, 3)(timeseries_input)
x2 = layers.GlobalMaxPooling1D()(x2)

x = layers.concatenate([x1, x2])

score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(5, name="class_output")(x)

model = keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
    metrics=[
        [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        [keras.metrics.CategoricalAccuracy()],
    ],
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(),
    },
    metrics={
        "score_output": [
            keras.metrics.MeanAbsolutePercentageError(),
            keras.metrics.MeanAbsoluteError(),
        ],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
    loss_weights={"score_output": 2.0, "class_output": 1.0},
)

# List loss version
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[None, keras.losses.CategoricalCrossentropy()],
)

# Or dict loss version
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={"class_output": keras.losses.CategoricalCrossentropy()},
)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[
        keras.losses.MeanSquaredError(),
        keras.losses.CategoricalCrossentropy(),
    ],
)

# Generate dummy NumPy data
img_data = np.random.random_sample(size=(100, 32, 32, 3))
ts_data = np.random.random_sample(size=(100, 20, 10))
score_targets = np.random.random_sample(size=(100, 1))
class_targets = np.random.random_sample(size=(100, 5))

# Fit on lists
model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1)

# Alternatively, fit on dicts
history = model.fit(
    {"img_input": img_data, "ts_input": ts_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32,
    epochs=1,
)
RESULTS["multi_output_history_keys"] = sorted(history.history)


# The generator case: batches of (dict of inputs, dict of targets).
def dict_batches(batch_size):
    for start in range(0, 100, batch_size):
        rows = slice(start, start + batch_size)
        yield ({"img_input": img_data[rows], "ts_input": ts_data[rows]},
               {"score_output": score_targets[rows], "class_output": class_targets[rows]})


history = model.fit(dict_batches(64), epochs=1)
RESULTS["multi_output_generator_loss_is_finite"] = bool(np.isfinite(history.history["loss"][-1]))

"""
## Using callbacks
"""

model = get_compiled_model()

callbacks = [
    keras.callbacks.EarlyStopping(
        # Stop training when `val_loss` is no longer improving
        monitor="val_loss",
        # "no longer improving" being defined as "no better than 1e-2 less"
        min_delta=1e-2,
        # "no longer improving" being further defined as "for at least 2 epochs"
        patience=2,
        verbose=1,
    )
]
history = model.fit(
    x_train,
    y_train,
    epochs=4 if SMALL else 20,
    batch_size=64,
    callbacks=callbacks,
    validation_split=0.2,
)
RESULTS["early_stopping_epochs_run"] = len(history.history["loss"])


class LossHistory(keras.callbacks.Callback):
    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))


loss_history = LossHistory()
model = get_compiled_model()
model.fit(x_train, y_train, batch_size=64, epochs=1, callbacks=[loss_history], verbose=0)
RESULTS["per_batch_losses"] = len(loss_history.per_batch_losses)

"""
## Checkpointing models
"""

workdir = tempfile.mkdtemp(prefix="keras_io_guide_")
model = get_compiled_model()

callbacks = [
    keras.callbacks.ModelCheckpoint(
        # Path where to save the model
        # The two parameters below mean that we will overwrite
        # the current checkpoint if and only if
        # the `val_loss` score has improved.
        # The saved model name will include the current epoch.
        filepath=os.path.join(workdir, "mymodel_{epoch}.keras"),
        save_best_only=True,  # Only save a model if `val_loss` has improved.
        monitor="val_loss",
        verbose=1,
    )
]
model.fit(
    x_train,
    y_train,
    epochs=2,
    batch_size=64,
    callbacks=callbacks,
    validation_split=0.2,
)

# Prepare a directory to store all the checkpoints.
checkpoint_dir = os.path.join(workdir, "ckpt")
if not os.path.exists(checkpoint_dir):
    os.makedirs(checkpoint_dir)


def make_or_restore_model():
    # Either restore the latest model, or create a fresh one
    # if there is no checkpoint available.
    checkpoints = [os.path.join(checkpoint_dir, name) for name in os.listdir(checkpoint_dir)]
    if checkpoints:
        latest_checkpoint = max(checkpoints, key=os.path.getctime)
        print("Restoring from", latest_checkpoint)
        return keras.models.load_model(latest_checkpoint)
    print("Creating a new model")
    return get_compiled_model()


model = make_or_restore_model()
callbacks = [
    # This callback saves the model every 100 batches (20 in the small run, whose epoch is shorter).
    # We include the training loss in the saved model name.
    keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(checkpoint_dir, "model-loss={loss:.2f}.keras"),
        save_freq=20 if SMALL else 100,
    )
]
model.fit(x_train, y_train, epochs=1, callbacks=callbacks)
restored = make_or_restore_model()  # the guide's restart: the latest checkpoint comes back
RESULTS["restored_test_accuracy"] = float(restored.evaluate(x_test, y_test, verbose=0)[1])

"""
## Using learning rate schedules
"""

initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True
)

optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
RESULTS["schedule_learning_rate"] = float(optimizer.learning_rate)

if os.environ.get("KERAS_IO_RESULTS"):
    with open(os.environ["KERAS_IO_RESULTS"], "w") as f:
        json.dump(RESULTS, f, indent=1)
print(json.dumps(RESULTS, indent=1))
