"""Memory stays flat: the graph is freed after backward, nothing is cached per batch, and the
kernels leak nothing (issue 7, "Memory").

Resident memory comes from /proc/self/statm (Linux). Each RSS scenario runs in a fresh
interpreter: inside a long test session the heap holds pages freed by earlier tests, which
would absorb a leak without the resident set growing. The kernel loops are watched with
tracemalloc, which sees numpy's array buffers as well as Python objects.
"""
import gc
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import functional as F, layers as L, utils
from tinygrad_relu.tensor import Function
from tinygrad_relu.models import Sequential

STATM = "/proc/self/statm"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
RSS_TOLERANCE = 1 << 20  # 1 MiB: a leak of one 32x32 float32 array per step would be 8 MiB over 2000 steps

pytestmark = pytest.mark.skipif(not os.path.exists(STATM), reason="needs Linux /proc/self/statm")


def resident_bytes():
    with open(STATM) as f:
        return int(f.read().split()[1]) * PAGE


def rss_growth(step, warmup, steps):
    """Bytes the resident set grew over ``steps`` calls of step(), measured after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    gc.collect()
    before = resident_bytes()
    for _ in range(steps):
        step()
    gc.collect()
    return resident_bytes() - before


def in_fresh_interpreter(scenario):
    """Run scenario() (a function of this module returning bytes of growth) in a new Python."""
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('memory_scenarios', {__file__!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "module.L.reset_uids(); module.utils.set_random_seed(0)\n"
            f"print(module.{scenario.__name__}())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def live_functions():
    # type(obj).__mro__, not isinstance: isinstance consults __class__, which some modules (torch) make lazy
    return sum(1 for obj in gc.get_objects() if Function in type(obj).__mro__)


def small_mlp():
    model = Sequential([L.Dense(32, activation="relu", input_shape=(20,)), L.Dropout(0.1),
                        L.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def tiny_cnn():
    model = Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), L.MaxPooling2D(2),
                        L.BatchNormalization(), L.Flatten(), L.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def leaking_scenario():
    kept = []
    return rss_growth(lambda: kept.append(np.ones((32, 32), np.float32)), warmup=10, steps=2000)


def test_the_rss_probe_can_see_a_leak():
    """The detector is sensitive enough: keeping one 32x32 float32 array per step shows up."""
    assert in_fresh_interpreter(leaking_scenario) > RSS_TOLERANCE


def mlp_steps_scenario():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=32)
    model = small_mlp()
    growth = rss_growth(lambda: model.train_on_batch(x, y), warmup=200, steps=2000)
    assert model.optimizer.iterations == 2200
    return growth


def test_thousands_of_mlp_steps_keep_resident_memory_flat():
    growth = in_fresh_interpreter(mlp_steps_scenario)
    assert growth <= RSS_TOLERANCE, f"resident memory grew by {growth / 1024:.0f} KiB over 2000 steps"


def cnn_steps_scenario():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=8)
    model = tiny_cnn()
    return rss_growth(lambda: model.train_on_batch(x, y), warmup=50, steps=400)


def test_hundreds_of_cnn_steps_keep_resident_memory_flat():
    growth = in_fresh_interpreter(cnn_steps_scenario)
    assert growth <= RSS_TOLERANCE, f"resident memory grew by {growth / 1024:.0f} KiB over 400 steps"


def fit_epochs_scenario():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(256, 20)).astype(np.float32)
    y = rng.integers(0, 4, size=256)
    model = small_mlp()
    return rss_growth(lambda: model.fit(x, y, batch_size=32, epochs=5, verbose=0,
                                        validation_split=0.25), warmup=2, steps=20)


def test_fit_epochs_keep_resident_memory_flat():
    assert in_fresh_interpreter(fit_epochs_scenario) <= RSS_TOLERANCE


def generator_fit_scenario():
    """fit on an endless generator of fresh batches (with sample weights), 2,000 steps measured."""
    rng = np.random.default_rng(4)

    def batches():
        while True:
            yield (rng.normal(size=(32, 20)).astype(np.float32), rng.integers(0, 4, size=32),
                   rng.random(32).astype(np.float32))
    stream = batches()
    model = small_mlp()
    growth = rss_growth(lambda: model.fit(stream, epochs=2, steps_per_epoch=100, verbose=0, shuffle=False),
                        warmup=2, steps=10)
    assert model.optimizer.iterations == 2400
    return growth


def test_a_long_generator_run_keeps_resident_memory_flat():
    growth = in_fresh_interpreter(generator_fit_scenario)
    assert growth <= RSS_TOLERANCE, f"resident memory grew by {growth / 1024:.0f} KiB over 2000 generator steps"


class _Batches(utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rng = np.random.default_rng(5)

    def __len__(self):
        return 50

    def __getitem__(self, index):
        return self.rng.normal(size=(32, 20)).astype(np.float32), self.rng.integers(0, 4, size=32)


def py_dataset_workers_scenario():
    """fit on a PyDataset read ahead by two threads: 40 epochs of 50 batches measured."""
    dataset = _Batches(workers=2)
    model = small_mlp()
    return rss_growth(lambda: model.fit(dataset, epochs=2, verbose=0), warmup=2, steps=20)


def test_a_pydataset_with_workers_keeps_resident_memory_flat():
    growth = in_fresh_interpreter(py_dataset_workers_scenario)
    assert growth <= RSS_TOLERANCE, f"resident memory grew by {growth / 1024:.0f} KiB over 2000 PyDataset steps"


def test_graph_is_freed_after_each_step():
    rng = np.random.default_rng(3)
    model = tiny_cnn()
    x = rng.normal(size=(4, 8, 8, 1)).astype(np.float32)
    model.train_on_batch(x, np.array([0, 1, 2, 0]))
    gc.collect()
    assert live_functions() == 0  # no op (and so no saved activation) outlives the step
    assert all(w.grad is None for w in model.weights)
    # a graph the user builds is freed by backward too, unless asked to keep it
    w = tr.Tensor(rng.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    loss = (tr.Tensor(rng.normal(size=(4, 5)).astype(np.float32)) @ w).relu().sum()
    loss.backward()
    del loss
    gc.collect()
    assert live_functions() == 0


def test_kernel_loops_leak_nothing_under_tracemalloc():
    rng = np.random.default_rng(4)
    x = tr.Tensor(rng.normal(size=(4, 9, 9, 3)).astype(np.float32), requires_grad=True)
    kernel = tr.Tensor(rng.normal(size=(3, 3, 3, 5)).astype(np.float32), requires_grad=True)
    bias = tr.Tensor(np.zeros(5, np.float32), requires_grad=True)
    x64 = tr.Tensor(rng.normal(size=(6, 11, 2)), requires_grad=True)
    kernel64 = tr.Tensor(rng.normal(size=(3, 2, 4)), requires_grad=True)

    def step():
        h = F.conv2d(x, kernel, bias, strides=1, padding="same")
        h = F.max_pool2d(h.relu(), 2) + F.avg_pool2d(h.leaky_relu(0.1), 2)
        h = h.gelu().sigmoid().tanh().elu().silu().softplus().softmax(axis=-1)
        g = F.conv1d(x64, kernel64, dilation_rate=2, padding="valid")
        loss = h.sum() + F.max_pool1d(g.relu(), 2).sum() + F.global_avg_pool1d(g).log_softmax(axis=-1).sum()
        loss.backward()
        for t in (x, kernel, bias, x64, kernel64):
            t.grad = None

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(20):
            step()
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            step()
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert growth < 16 * 1024, f"traced memory grew by {growth} bytes over 200 kernel loops"


def test_the_tracemalloc_probe_can_see_a_leaked_array():
    kept = []
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            kept.append(np.ones(64, np.float32) * 2)  # 256 bytes of numpy buffer per loop
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert growth >= 16 * 1024


def new_batch_sizes_scenario():
    rng = np.random.default_rng(5)
    model = tiny_cnn()
    batches = [(rng.normal(size=(n, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, size=n))
               for n in range(300, 0, -1)]
    cursor = iter(range(10 ** 9))

    def step():
        x, y = batches[next(cursor) % len(batches)]
        model.train_on_batch(x, y)
        model.predict_on_batch(x)

    # warm-up sees the largest sizes (300..241), so the allocator's high-water mark is reached;
    # sizes 240..1 are new shapes during the measurement
    return rss_growth(step, warmup=60, steps=240)


def test_no_cache_keyed_by_batch_shape():
    """Every step a different batch size: a cache keyed by shape would grow with each new one."""
    growth = in_fresh_interpreter(new_batch_sizes_scenario)
    assert growth <= RSS_TOLERANCE, f"resident memory grew by {growth / 1024:.0f} KiB over 240 new batch sizes"
