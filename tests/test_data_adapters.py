"""What fit / evaluate / predict read (issue 11's data pipelines): arrays, lists, pandas, generators, iterables,
PyTorch DataLoaders (without this package importing torch), PyDatasets with workers, steps_per_epoch, validation
generators, the progress bar of an unknown total."""
import math
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import callbacks, layers as L, utils
from tinygrad_relu.models import Sequential
from tinygrad_relu.utils.progbar import Progbar

ROOT = pathlib.Path(__file__).resolve().parents[1]
N, BATCH = 70, 16


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 5)).astype("float32")
    return x, rng.integers(0, 3, N), rng.random(N).astype("float32")


def model_with(weights=None, seed=0):
    utils.set_random_seed(seed)
    model = Sequential([L.Input((5,)), L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")])
    if weights is not None:
        model.set_weights(weights)
    model.compile(tr.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    return model


def batches(x, y, w=None, size=BATCH, forever=False, counter=None):
    while True:
        for start in range(0, len(x), size):
            if counter is not None:
                counter.append(start)
            rows = slice(start, start + size)
            yield (x[rows], y[rows]) if w is None else (x[rows], y[rows], w[rows])
        if not forever:
            return


def trained(x, **fit):
    model = model_with()
    history = model.fit(x, verbose=0, **fit)
    return model.get_weights(), history.history


def assert_same_training(a, b):
    for u, v in zip(a[0], b[0]):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_allclose(a[1][key], b[1][key], rtol=1e-6)


# ---- each kind of data trains exactly as the arrays ----------------------------------------------------------
def test_lists_and_pandas_train_as_the_arrays(data):
    pd = pytest.importorskip("pandas")
    x, y, w = data
    arrays = trained(x, y=y, sample_weight=w, batch_size=BATCH, shuffle=False, epochs=2)
    assert_same_training(trained(x.tolist(), y=y.tolist(), sample_weight=w.tolist(), batch_size=BATCH,
                                 shuffle=False, epochs=2), arrays)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)])
    assert_same_training(trained(frame, y=pd.Series(y), sample_weight=pd.Series(w), batch_size=BATCH, shuffle=False,
                                 epochs=2), arrays)


def test_generators_iterables_and_pydatasets_train_as_the_arrays(data):
    x, y, w = data
    arrays = trained(x, y=y, sample_weight=w, batch_size=BATCH, shuffle=False, epochs=1)

    class Batches:  # any iterable of batches, iterated afresh each epoch
        def __iter__(self):
            return batches(x, y, w)

    class Dataset(utils.PyDataset):
        def __len__(self):
            return math.ceil(N / BATCH)

        def __getitem__(self, i):
            rows = slice(i * BATCH, (i + 1) * BATCH)
            return x[rows], y[rows], w[rows]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shuffle=True (fit's default) is ignored for a generator, with a warning
        assert_same_training(trained(batches(x, y, w)), arrays)
        assert_same_training(trained(Batches()), arrays)
    assert_same_training(trained(Dataset(), shuffle=False), arrays)
    assert_same_training(trained(Dataset(workers=3), shuffle=False), arrays)
    assert_same_training(trained(Dataset(workers=2, use_multiprocessing=True), shuffle=False), arrays)


def test_a_torch_dataloader_trains_as_the_arrays(data):
    torch = pytest.importorskip("torch")
    x, y, w = data
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y), torch.tensor(w)), batch_size=BATCH)
    arrays = trained(x, y=y, sample_weight=w, batch_size=BATCH, shuffle=False, epochs=2)
    assert_same_training(trained(loader, epochs=2, shuffle=False), arrays)
    model = model_with(arrays[0])
    np.testing.assert_allclose(model.predict(loader, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert model.evaluate(loader, verbose=0) == pytest.approx(model.evaluate(x, y, sample_weight=w, verbose=0))


def test_an_iterable_of_batches_works_without_this_package_importing_torch():
    script = (
        "import sys, numpy as np\n"
        "import tinygrad_relu as tr\n"
        "from tinygrad_relu import layers as L\n"
        "class Loader:\n"
        "    def __len__(self): return 3\n"
        "    def __iter__(self):\n"
        "        return iter([(np.ones((4, 2), 'float32'), np.zeros((4, 1), 'float32'))] * 3)\n"
        "m = tr.Sequential([L.Input((2,)), L.Dense(1)]); m.compile('sgd', 'mse')\n"
        "h = m.fit(Loader(), epochs=2, verbose=0, shuffle=False)\n"
        "print(len(h.history['loss']), m.evaluate(Loader(), verbose=0) >= 0, 'torch' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "True", "False"]


# ---- epochs of streams: steps_per_epoch, exhaustion, validation -------------------------------------------------
def test_an_infinite_generator_with_steps_per_epoch(data):
    x, y, _ = data
    drawn = []
    model = model_with()
    history = model.fit(batches(x, y, forever=True, counter=drawn), epochs=3, steps_per_epoch=4, verbose=0,
                        shuffle=False)
    assert len(history.history["loss"]) == 3 and history.params["steps"] == 4
    assert len(drawn) == 12  # each epoch took the next 4 batches of the one stream
    assert int(model.optimizer.iterations) == 12


def test_a_finite_generator_without_steps_is_one_epoch_then_training_stops(data):
    x, y, _ = data
    model = model_with()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches(x, y), epochs=3, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 1 and int(model.optimizer.iterations) == math.ceil(N / BATCH)
    with pytest.raises(ValueError, match="gave no batch"):
        model.fit(batches(x[:0], y[:0]), verbose=0, shuffle=False)


def test_steps_per_epoch_continues_the_pass_as_keras_does(keras, data):
    """10 batches, 4 steps per epoch: Keras runs 4, 4, then 2 (and warns), then starts a new pass."""
    x, y, _ = data
    x, y = np.concatenate([x, x])[:100], np.concatenate([y, y])[:100]
    counts = {}
    for name, model in (("ours", model_with()), ("keras", None)):
        if model is None:
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
            model.compile("sgd", "sparse_categorical_crossentropy")
            counter = keras.callbacks.LambdaCallback
        else:
            counter = callbacks.LambdaCallback
        steps = []
        record = counter(on_epoch_begin=lambda epoch, logs: steps.append(0),
                         on_train_batch_end=lambda batch, logs: steps.__setitem__(-1, steps[-1] + 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, y, batch_size=10, steps_per_epoch=4, epochs=4, verbose=0, callbacks=[record])
        counts[name] = steps
    assert counts["ours"] == counts["keras"] == [4, 4, 2, 4]


def test_validation_generator_with_validation_steps(data):
    x, y, _ = data
    drawn = []
    model = model_with()
    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0,
                        validation_data=batches(x, y, forever=True, counter=drawn), validation_steps=2)
    assert len(drawn) == 6 and len(history.history["val_loss"]) == 3
    # a finite validation generator without validation_steps is read once: later epochs say so
    with pytest.warns(UserWarning, match="validation_data ran out of batches"):
        history = model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, validation_data=batches(x, y))
    assert len(history.history["val_loss"]) == 1 and len(history.history["loss"]) == 2


def test_evaluate_and_predict_read_generators_and_steps(data):
    x, y, w = data
    model = model_with()
    expected = model.evaluate(x, y, sample_weight=w, batch_size=BATCH, verbose=0)
    assert model.evaluate(batches(x, y, w), verbose=0) == pytest.approx(expected)
    np.testing.assert_allclose(model.predict(batches(x, y), verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert len(model.predict(batches(x, y, forever=True), steps=2, verbose=0)) == 2 * BATCH
    # arrays with steps and no batch_size: ceil(n / steps) rows per batch, as Keras
    assert model.evaluate(x, y, steps=2, verbose=0, return_dict=True)["loss"] == pytest.approx(
        model.evaluate(x, y, batch_size=35, verbose=0, return_dict=True)["loss"])


class CountingDataset(utils.PyDataset):
    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.epochs_ended, self.seen = x, y, 0, []

    def __len__(self):
        return math.ceil(len(self.x) / BATCH)

    def __getitem__(self, index):
        self.seen.append(index)
        rows = slice(index * BATCH, (index + 1) * BATCH)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_epochs_shuffle_and_class_weight(data):
    x, y, _ = data
    dataset = CountingDataset(x, y)
    model = model_with()
    model.fit(dataset, epochs=3, verbose=0, shuffle=False)
    batches_per_epoch = math.ceil(N / BATCH)
    assert dataset.epochs_ended == 3 and dataset.seen == list(range(batches_per_epoch)) * 3
    dataset.seen.clear()
    model.fit(dataset, epochs=2, verbose=0, shuffle=True)
    first, second = dataset.seen[:batches_per_epoch], dataset.seen[batches_per_epoch:]
    assert sorted(first) == sorted(second) == list(range(batches_per_epoch)) and first != list(range(5))
    class_weight = {0: 3.0, 2: 0.5}
    weights = np.array([class_weight.get(c, 1.0) for c in y], dtype="float32")
    by_class = trained(CountingDataset(x, y), class_weight=class_weight, shuffle=False)
    assert_same_training(by_class, trained(x, y=y, sample_weight=weights, batch_size=BATCH, shuffle=False))


def test_pydataset_without_super_init_warns_as_keras(data):
    class Forgetful(utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return data[0][:4], data[1][:4]

    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        model_with().fit(Forgetful(), verbose=0, shuffle=False)


@pytest.mark.parametrize("call,error,match", [
    (lambda m, g: m.fit(g, y=np.zeros(3), verbose=0), ValueError, "`y` should not be passed"),
    (lambda m, g: m.fit(g, sample_weight=np.zeros(3), verbose=0), ValueError, "`sample_weight` should not be passed"),
    (lambda m, g: m.fit(g, class_weight={0: 1.0}, verbose=0), ValueError, "class_weight` is not supported for"),
    (lambda m, g: m.fit(g, validation_split=0.2, verbose=0), ValueError, "validation_split is only supported"),
    (lambda m, g: m.fit(g, steps_per_epoch=0, verbose=0), ValueError, "steps_per_epoch must be a positive"),
    (lambda m, g: m.fit(g, validation_data=(1, 2, 3, 4), verbose=0), ValueError, "validation_data must be"),
])
def test_stream_argument_mistakes_are_refused(data, call, error, match):
    x, y, _ = data
    with pytest.raises(error, match=match):
        call(model_with(), batches(x, y))


def test_arguments_a_stream_does_not_use_are_named_in_a_warning(data):
    x, y, _ = data
    with pytest.warns(UserWarning, match="batch_size=64 is not used"):
        model_with().fit(batches(x, y), batch_size=64, verbose=0, shuffle=False)
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        model_with().fit(batches(x, y), verbose=0)


def test_bad_batches_are_named():
    model = Sequential([L.Input((2,)), L.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"batches \(x,\), \(x, y\) or \(x, y, sample_weight\).*4 items"):
        model.fit(iter([(np.ones((2, 2)),) * 4]), verbose=0, shuffle=False)
    with pytest.raises(ValueError, match=r"x and y must hold the same number of samples"):
        model.fit(iter([(np.ones((2, 2)), np.ones(3))]), verbose=0, shuffle=False)


# ---- the progress bar of an unknown total ---------------------------------------------------------------------
def test_unknown_total_is_shown_as_keras_shows_it(keras, capsys, monkeypatch):
    from keras.src.utils.progbar import Progbar as KerasProgbar
    import re

    def plain(text):
        return re.sub(r"\x1b\[[0-9;]*m|[\b\r]", "", text)
    ours = Progbar(None, verbose=1)
    ours.dynamic = True
    ours.update(3, {"loss": 0.5})
    mine = plain(capsys.readouterr().out)
    theirs = KerasProgbar(None, verbose=1)
    theirs._dynamic_display = True
    theirs.update(3, [("loss", 0.5)])
    expected = plain(capsys.readouterr().out)
    pattern = re.compile(r"\s+3/Unknown \d+s \d+\w*s/step - loss: 0.5000")
    assert pattern.fullmatch(mine.strip("\n")) and pattern.fullmatch(expected.strip("\n").rstrip())


def test_fit_on_a_generator_prints_the_count_learned_in_the_first_epoch(data, capsys):
    x, y, _ = data
    model = model_with()
    model.fit(batches(x, y, forever=True), epochs=2, steps_per_epoch=3, verbose=2)
    with pytest.warns(UserWarning):
        history = model.fit(batches(x, y), epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert out.count("3/3 - ") == 2 and "5/5 - " in out
    assert history.params == {"verbose": 2, "epochs": 1, "steps": None}
