"""What may run concurrently: grad mode and "skip the initializers" are per thread (issue 17, 1-2), so
separate models train in separate threads as they would one after the other."""
import threading

import numpy as np

import tinygrad_relu as tr
from tinygrad_relu import layers as L, utils
from tinygrad_relu.layers.base import skip_initializers
from tinygrad_relu.models import Sequential, load_model


def _model(seed):
    utils.set_random_seed(seed)
    model = Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((96, 8)).astype(np.float32), rng.integers(0, 3, 96)


def test_no_grad_in_another_thread_does_not_stop_fit_here():
    x, y = _data()
    reference = _model(1)
    reference.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)

    model, other = _model(1), _model(2)
    stop = threading.Event()

    def predict_forever():
        while not stop.is_set():
            with tr.no_grad():  # entering and leaving no_grad over and over, as predict does
                other.predict(x, verbose=0)

    predictors = [threading.Thread(target=predict_forever) for _ in range(2)]
    for t in predictors:
        t.start()
    try:
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    finally:
        stop.set()
        for t in predictors:
            t.join()
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert tr.is_grad_enabled()


def test_two_models_trained_saved_and_loaded_in_two_threads_at_once_end_as_one_after_the_other(tmp_path):
    x, y = _data()
    sequential = [_model(1), _model(2)]
    for model in sequential:
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    concurrent = [_model(1), _model(2)]  # built here: initializers draw from the one seeded stream
    start = threading.Barrier(2)
    loaded, errors = {}, []

    def train(i, model):
        try:
            start.wait()
            model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
            model.save(tmp_path / f"{i}.trm")
            loaded[i] = load_model(tmp_path / f"{i}.trm")
            loaded[i].fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        except BaseException as err:  # reported below: an exception in a thread would pass silently
            errors.append(err)

    threads = [threading.Thread(target=train, args=(i, model)) for i, model in enumerate(concurrent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for alone, together in zip(sequential, concurrent):
        for got, want in zip(together.get_weights(), alone.get_weights()):
            np.testing.assert_array_equal(got, want)
    for i, alone in enumerate(sequential):  # loaded in a thread: the file's weights and Adam state, not zeros
        alone.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        for got, want in zip(loaded[i].get_weights(), alone.get_weights()):
            np.testing.assert_array_equal(got, want)


def test_grad_mode_set_in_a_thread_stays_in_that_thread():
    seen = {}

    def worker():
        with tr.no_grad():
            seen["inside"] = tr.is_grad_enabled()
            barrier.wait()  # the main thread looks while this one is inside no_grad
            barrier.wait()

    barrier = threading.Barrier(2)
    t = threading.Thread(target=worker)
    t.start()
    barrier.wait()
    seen["main"] = tr.is_grad_enabled()
    x = tr.Tensor([1.0, -1.0], requires_grad=True)
    seen["records"] = x.relu().requires_grad
    barrier.wait()
    t.join()
    assert seen == {"inside": False, "main": True, "records": True}


def test_skip_initializers_in_another_thread_leaves_layers_built_here_initialized():
    ready, done = threading.Event(), threading.Event()

    def loader():
        with skip_initializers():
            ready.set()
            done.wait(5)

    t = threading.Thread(target=loader)
    t.start()
    ready.wait(5)
    try:
        layer = L.Dense(64)
        layer.build((None, 64))
    finally:
        done.set()
        t.join()
    assert np.count_nonzero(layer.kernel.data) == layer.kernel.data.size


def test_layer_names_stay_unique_across_threads():
    names = []

    def make():
        names.extend(L.Dense(2).name for _ in range(200))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 800
