"""Export a run: its numbers as JSON, and a Python script that trains the same network the same way.

The script uses the package's Keras-style API (Sequential, layers, initializers, optimizers,
``train_on_batch``) and repeats the session's loop step for step: same data (generated from
the same seed, or the uploaded CSV's standardized values embedded in the script), same layer
seeds, same batch order. It prints the final loss and accuracy as JSON; with the same BLAS
thread count they match the page's last frame (tests/test_playground_api.py checks it).
"""
import json

import numpy as np

from .._version import __version__
from .data import csv_text, generator_call
from .network import seeds, source
from .settings import to_query

_SPLIT = '''\
def split(x, y, test_fraction, seed):
    """The playground's split: shuffle once with `seed`, the last `test_fraction` is the test set."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(len(x) - 1, max(1, int(round(len(x) * test_fraction))))
    x, y = x[order], y[order]
    return (x[:len(x) - n_test], y[:len(x) - n_test]), (x[len(x) - n_test:], y[len(x) - n_test:])

'''

_LOOP = '''\
# The playground's loop: a fresh permutation of the training set per epoch, one step per batch
# (the last batch of an epoch may be short, as in fit()).
order_rng = np.random.default_rng(SHUFFLE_SEED)
cursor, epoch = 0, 0
for step in range(STEPS):
    if cursor == 0:
        order = order_rng.permutation(len(x_train))
    batch = order[cursor:cursor + BATCH_SIZE]
    cursor += BATCH_SIZE
    if cursor >= len(x_train):
        cursor, epoch = 0, epoch + 1
    model.train_on_batch(x_train[batch], y_train[batch])


def crossentropy_and_accuracy(x, y):
    p = model.predict(x, batch_size=len(x), verbose=0)
    picked = np.clip(p[np.arange(len(y)), y], 1e-7, 1 - 1e-7)
    return float(np.mean(-np.log(picked))), float(np.mean(p.argmax(axis=1) == y))


loss, accuracy = crossentropy_and_accuracy(x_train, y_train)
test_loss, test_accuracy = crossentropy_and_accuracy(x_test, y_test)
print(json.dumps({"step": STEPS, "epoch": epoch, "loss": loss, "accuracy": accuracy,
                  "test_loss": test_loss, "test_accuracy": test_accuracy}))
'''


def _data_source(session):
    settings = session.settings
    if settings["dataset"] != "csv":
        name, kwargs = generator_call(settings)
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"(x_train, y_train), (x_test, y_test) = datasets.{name}({args})\n"
    csv_data = session.csv
    return (_SPLIT +
            f"# The uploaded CSV, standardized (raw mean {csv_data.mean}, std {csv_data.std}); labels as class\n"
            f"# indices of {csv_data.class_names}.\n"
            f'DATA = """\\\n{csv_text(csv_data)}"""\n'
            "rows = np.loadtxt(io.StringIO(DATA), delimiter=\",\", ndmin=2)\n"
            "x, y = rows[:, :2].astype(np.float32), rows[:, 2].astype(np.int64)\n"
            f"(x_train, y_train), (x_test, y_test) = split(x, y, {settings['test']!r}, {settings['seed']!r})\n")


def script(session):
    """The Python source of a script that reproduces the session's run up to its current step."""
    with session.lock:
        settings = session.settings
        header = (f'"""A tinygrad_relu playground run, reproduced with the Keras-style API.\n\n'
                  f"Settings: ?{to_query(settings)}\n"
                  f"Written by tinygrad_relu {__version__}; run it with `python {{this file}}`: it trains\n"
                  f"{session.step} steps and prints the final loss and accuracy as JSON.\n"
                  '"""\n')
        imports = ("import io\n" if settings["dataset"] == "csv" else "") + (
            "import json\n\nimport numpy as np\n\n"
            "from tinygrad_relu import datasets, initializers, layers, optimizers, regularizers, utils  # noqa: F401\n"
            "from tinygrad_relu.models import Sequential\n\n")
        return (header + imports +
                "# The playground trains on one BLAS thread: the same sums in the same order give the same bits.\n"
                "utils.set_blas_num_threads(1)\n\n" +
                _data_source(session) + "\n" +
                source(session.specs, settings) + "\n" +
                f"STEPS, BATCH_SIZE, SHUFFLE_SEED = {session.step}, {settings['batch']}, "
                f"{seeds(settings)['shuffle']}\n" + _LOOP)


def _json_safe(array):
    """Nested lists with None where a diverged run left NaN or inf (JSON has neither)."""
    array = np.asarray(array, dtype=np.float64)
    if np.all(np.isfinite(array)):
        return array.tolist()
    return np.where(np.isfinite(array), array, None).tolist()


def run_json(session):
    """The run's numbers: settings, the history of every frame, the latest frame's per-layer values, weights."""
    with session.lock:
        latest = session.latest
        layers = [{k: v for k, v in layer.items() if k not in ("neurons",)} for layer in latest["layers"]]
        weights = {layer.name: [_json_safe(w) for w in layer.get_weights()]
                   for layer in session.model.layers if layer.weights}
        document = {
            "tinygrad_relu": __version__, "settings": session.settings, "query": to_query(session.settings),
            "step": session.step, "epoch": session.epoch, "train_seconds": session.train_seconds,
            "data": {"source": session.data.source, "classes": session.data.class_names,
                     "train_size": len(session.data.x_train), "test_size": len(session.data.x_test)},
            "latest": {"loss": latest["loss"], "accuracy": latest["accuracy"], "test_loss": latest["test_loss"],
                       "test_accuracy": latest["test_accuracy"], "layers": layers},
            "history": session.history,
            "weights": weights,
        }
        return json.dumps(document, allow_nan=False, indent=1)
