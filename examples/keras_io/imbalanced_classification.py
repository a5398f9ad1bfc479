"""keras-io's example "Imbalanced classification: credit card fraud detection" (fchollet), run here.

Only the import and the data differ from the example: the Kaggle table (284,807 card transactions,
492 frauds, 30 numeric columns) is synthesized offline with the same shape of problem: 30 columns
(time, 28 anonymized components, amount), about 0.17% positives that differ from the negatives
in a few components, partly overlapping them. The model, the class weights, the metrics and the
training call are the example's.

``TINYGRAD_RELU_EXAMPLE_SMALL=1`` uses 30,000 rows and 3 epochs (the test suite's setting);
``KERAS_IO_WITH=keras`` runs the very same script on Keras 3; ``KERAS_IO_RESULTS=file.json``
writes the validation counts the comparison reads.
"""
import json
import os
import tempfile

import numpy as np

if os.environ.get("KERAS_IO_WITH") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
else:
    import tinygrad_relu as keras

SMALL = os.environ.get("TINYGRAD_RELU_EXAMPLE_SMALL") == "1"
keras.utils.set_random_seed(int(os.environ.get("KERAS_IO_SEED", "0")))


def synthetic_transactions(rows, positive_rate=0.00173, seed=0):
    """A fraud-like table: 30 float32 columns (time, V1..V28, amount), uint8 targets of shape (rows, 1)."""
    rng = np.random.default_rng(seed)
    targets = (rng.random(rows) < positive_rate).astype(np.uint8)
    components = rng.normal(size=(rows, 28))
    shift = np.zeros(28)
    shift[[2, 3, 9, 11, 13, 16]] = [-2.5, 2.0, -2.0, 2.5, -3.0, -2.5]  # where frauds differ, as in the real data
    spread = np.where(shift != 0, 2.0, 1.0)  # and vary more
    frauds = targets == 1
    components[frauds] = components[frauds] * spread + shift
    time = np.sort(rng.uniform(0, 172792, rows))
    amount = np.where(frauds, rng.exponential(120, rows), rng.exponential(88, rows))
    features = np.column_stack([time, components, amount]).astype("float32")
    return features, targets[:, None]


"""
## First, vectorize the CSV data (here: synthesized)
"""

features, targets = synthetic_transactions(30000 if SMALL else 284807)
print("features.shape:", features.shape)
print("targets.shape:", targets.shape)

"""
## Prepare a validation set
"""

num_val_samples = int(len(features) * 0.2)
train_features = features[:-num_val_samples]
train_targets = targets[:-num_val_samples]
val_features = features[-num_val_samples:]
val_targets = targets[-num_val_samples:]

print("Number of training samples:", len(train_features))
print("Number of validation samples:", len(val_features))

"""
## Analyze class imbalance in the targets
"""

counts = np.bincount(train_targets[:, 0])
print(
    "Number of positive samples in training data: {} ({:.2f}% of total)".format(
        counts[1], 100 * float(counts[1]) / len(train_targets)
    )
)

weight_for_0 = 1.0 / counts[0]
weight_for_1 = 1.0 / counts[1]

"""
## Normalize the data using training set statistics
"""

mean = np.mean(train_features, axis=0)
train_features -= mean
val_features -= mean
std = np.std(train_features, axis=0)
train_features /= std
val_features /= std

"""
## Build a binary classification model
"""

model = keras.Sequential(
    [
        keras.Input(shape=train_features.shape[1:]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()

"""
## Train the model with `class_weight` argument
"""

metrics = [
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
]

model.compile(
    optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
)

workdir = tempfile.mkdtemp(prefix="keras_io_fraud_")
callbacks = [keras.callbacks.ModelCheckpoint(os.path.join(workdir, "fraud_model_at_epoch_{epoch}.keras"))]
class_weight = {0: weight_for_0, 1: weight_for_1}

history = model.fit(
    train_features,
    train_targets,
    batch_size=2048,
    epochs=3 if SMALL else 30,
    verbose=2,
    callbacks=callbacks,
    validation_data=(val_features, val_targets),
    class_weight=class_weight,
)

"""
## Conclusions
"""

last = {key: values[-1] for key, values in history.history.items()}
print(f"Out of {len(val_features)} validation transactions, we are:")
print(f"- correctly identifying {last['val_tp']:.0f} of them as fraudulent")
print(f"- missing {last['val_fn']:.0f} fraudulent transactions")
print(f"- at the cost of incorrectly flagging {last['val_fp']:.0f} legitimate transactions")

results = {"history_keys": sorted(history.history), "val_positives": int(val_targets.sum()),
           "val_recall": last["val_recall"], "val_fp_rate": last["val_fp"] / float((val_targets == 0).sum()),
           "checkpoints": sorted(os.listdir(workdir))}
if os.environ.get("KERAS_IO_RESULTS"):
    with open(os.environ["KERAS_IO_RESULTS"], "w") as f:
        json.dump(results, f, indent=1)
print(json.dumps(results, indent=1))
