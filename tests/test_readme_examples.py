"""The README's examples of custom layers, losses, metrics, the Functional API, nesting and subclassing run,
and the models they define train."""
import pathlib
import re

import numpy as np

import tinygrad_relu as tr

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_block(heading):
    """The first ```python block after ``heading`` in the README."""
    text = (ROOT / "README.md").read_text()
    start = text.index(heading)
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def fits(model, x, y, **compile_args):
    if compile_args:
        model.compile(**compile_args)
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    return history


def test_extension_and_functional_examples_run_and_train():
    rng = np.random.default_rng(0)
    namespace = {}
    exec(readme_block("### Extending it: custom layers"), namespace)
    history = fits(namespace["model"], rng.standard_normal((64, 20)).astype(np.float32), rng.integers(0, 2, (64, 1)))
    assert sorted(history.history) == ["loss", "true_positives"]

    exec(readme_block("### The Functional API, nesting and subclassed models"), namespace)
    labels = rng.integers(0, 10, 64)
    fits(namespace["model"], rng.standard_normal((64, 32)).astype(np.float32), labels)  # the residual network
    base, before = namespace["base"], namespace["base"].get_weights()
    fits(namespace["classifier"], rng.standard_normal((64, 784)).astype(np.float32), labels, optimizer="adam",
         loss="sparse_categorical_crossentropy")
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))  # the frozen base stayed put
    fits(namespace["MLP"](), rng.standard_normal((64, 32)).astype(np.float32), labels, optimizer="adam",
         loss=tr.losses.SparseCategoricalCrossentropy(from_logits=True))


def test_training_in_depth_example_runs():
    rng = np.random.default_rng(1)
    x, x_val = rng.standard_normal((64, 4)).astype(np.float32), rng.standard_normal((16, 4)).astype(np.float32)
    y, y_val = (x[:, 0] > 1).astype(np.float32), (x_val[:, 0] > 1).astype(np.float32)

    def generator():
        while True:
            rows = rng.integers(0, 64, 16)
            yield x[rows], y[rows]

    class MyPyDataset(tr.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[index * 16:(index + 1) * 16], y[index * 16:(index + 1) * 16]

    model = tr.Sequential([tr.Input((4,)), tr.layers.Dense(8, activation="relu"),
                           tr.layers.Dense(1, activation="sigmoid")])
    namespace = {"keras": tr, "model": model, "x": x, "y": y, "x_val": x_val, "y_val": y_val,
                 "w_val": np.ones(16), "generator": generator, "MyPyDataset": MyPyDataset}
    exec(readme_block("### Training in depth"), namespace)
    assert model.optimizer.learning_rate == 1e-4 and int(model.optimizer.iterations) == 2 + 500 + 20
    assert sorted(model.history.history) == ["accuracy", "auc", "loss", "precision", "recall"]
