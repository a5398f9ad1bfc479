"""Repeatable runs and thread control (issue 7, "Repeatability and threads").

``utils.set_random_seed(s)`` fixes initialization, shuffling and dropout, so the same script gives
the same weights after training, bit for bit. Our OpenMP kernels give the same bits for any thread
count; numpy's BLAS does too for a fixed BLAS thread count (a GEMM split over a different number
of threads sums in a different order, so changing the BLAS thread count may change the last bits:
the documented exception).
"""
import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import initializers, layers as L, utils
from tinygrad_relu._kernels import threads
from tinygrad_relu.callbacks import Callback
from tinygrad_relu.models import Sequential
from tinygrad_relu.tensor import Tensor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def restore_threads():
    kernel_threads, blas_threads = tr.get_num_threads(), utils.get_blas_num_threads()
    yield
    threads.set_num_threads(kernel_threads)
    if blas_threads is not None:
        utils.set_blas_num_threads(blas_threads)


def data(n=96):
    rng = np.random.default_rng(0)  # the data is fixed; only the library's randomness varies
    return rng.normal(size=(n, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, size=n)


def build():
    model = Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), L.MaxPooling2D(2),
                        L.Flatten(), L.Dense(16, activation="relu"), L.Dropout(0.3),
                        L.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


class BatchRecorder(Callback):
    """Records the first sample index of every batch the first layer sees (reveals the shuffle)."""

    def __init__(self, model):
        super().__init__()
        self.first_rows = []
        first = model.layers[0]
        original = first.call

        def spy(h, training=False):
            if training:
                self.first_rows.append(h.data[0].tobytes())
            return original(h, training=training)
        first.call = spy


def train(seed, epochs=2):
    L.reset_uids()
    utils.set_random_seed(seed)
    model = build()
    recorder = BatchRecorder(model)
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model.get_weights(), history.history["loss"], recorder.first_rows


def test_same_seed_same_weights_losses_and_batch_order_bit_for_bit():
    weights_a, losses_a, order_a = train(11)
    weights_b, losses_b, order_b = train(11)
    assert len(order_a) == 12  # 6 batches a epoch, 2 epochs
    assert order_a == order_b
    assert losses_a == losses_b
    for a, b in zip(weights_a, weights_b):
        assert a.tobytes() == b.tobytes()


def test_different_seeds_differ():
    weights_a, _, order_a = train(11, epochs=1)
    weights_b, _, order_b = train(12, epochs=1)
    assert order_a != order_b
    assert weights_a[0].tobytes() != weights_b[0].tobytes()


def test_the_seed_reaches_a_torch_dataloader_when_torch_is_imported():
    """A torch DataLoader given to fit shuffles with torch's generator: set_random_seed seeds it
    (the keras.io training guide's DataLoader section trained to 0.78-0.95 before, run to run)."""
    torch = pytest.importorskip("torch")
    loader = torch.utils.data.DataLoader(np.arange(64), batch_size=8, shuffle=True)
    orders = []
    for seed in (3, 3, 4):
        utils.set_random_seed(seed)
        orders.append(np.concatenate([batch.numpy() for batch in loader]))
    np.testing.assert_array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], orders[2])


def test_initializers_follow_the_seed_and_their_own_seed():
    utils.set_random_seed(3)
    rng_before = utils.get_rng()  # a reference taken before reseeding follows the seed too
    a = initializers.get("glorot_uniform")((4, 5))
    utils.set_random_seed(3)
    b = initializers.get("glorot_uniform")((4, 5))
    assert utils.get_rng() is rng_before
    np.testing.assert_array_equal(a, b)
    c = initializers.GlorotUniform(seed=1)((4, 5))
    utils.set_random_seed(99)
    np.testing.assert_array_equal(c, initializers.GlorotUniform(seed=1)((4, 5)))


def test_dropout_masks_identical_under_the_same_seed():
    x = Tensor(np.ones((64, 32), np.float32))
    masks = []
    for _ in range(2):
        utils.set_random_seed(5)
        layer = L.Dropout(0.5)
        masks.append([layer(x, training=True).data.copy() for _ in range(3)])
    for a, b in zip(*masks):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(masks[0][0], masks[0][1])  # a fresh mask every call
    assert set(np.unique(masks[0][0])) == {0.0, 2.0}
    seeded = [L.Dropout(0.5, seed=4)(x, training=True).data for _ in range(2)]
    np.testing.assert_array_equal(*seeded)  # a layer seed gives its own repeatable stream
    np.testing.assert_array_equal(L.Dropout(0.5)(x, training=False).data, x.data)


RUN = textwrap.dedent("""
    import hashlib, sys
    sys.path.insert(0, {repo!r})
    import numpy as np
    import tinygrad_relu as tr
    from tinygrad_relu import layers as L, utils
    from tinygrad_relu._kernels import activations, optim
    from tinygrad_relu.models import Sequential
    activations.set_parallel_thresholds(1, 1)   # take the threaded code path even on small arrays
    optim.set_parallel_threshold(1)
    utils.set_random_seed(21)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    model = Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), L.MaxPooling2D(2),
                        L.Flatten(), L.Dense(32, activation="relu"), L.Dropout(0.3),
                        L.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
    print(digest, tr.get_num_threads(), utils.get_blas_num_threads())
""")


def run_in_subprocess(omp_threads, blas_threads, hash_seed):
    env = dict(os.environ, OMP_NUM_THREADS=str(omp_threads), OPENBLAS_NUM_THREADS=str(blas_threads),
               PYTHONHASHSEED=str(hash_seed))
    out = subprocess.run([sys.executable, "-c", RUN.format(repo=REPO)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    digest, kernel_threads, blas = out.stdout.split()
    return digest, int(kernel_threads), blas


def test_separate_processes_give_identical_weights_and_kernels_ignore_thread_count():
    one_a = run_in_subprocess(1, 1, hash_seed=0)
    one_b = run_in_subprocess(1, 1, hash_seed=1)  # nothing depends on str hashing / set order
    assert one_a == one_b
    assert one_a[1] == 1  # OMP_NUM_THREADS respected by our kernels
    if threads.openmp_enabled():
        two = run_in_subprocess(2, 1, hash_seed=0)
        assert two[1] == 2
        assert two[0] == one_a[0]  # our OpenMP kernels: same bits with 1 or 2 threads


def test_omp_num_threads_is_respected_at_start_up():
    if not threads.openmp_enabled():
        pytest.skip("built without OpenMP")
    script = f"import sys; sys.path.insert(0, {REPO!r}); import tinygrad_relu as tr; print(tr.get_num_threads())"
    for n in (1, 3):
        out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, OMP_NUM_THREADS=str(n)),
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == str(n), out.stderr


def test_set_num_threads_sets_the_kernel_threads():
    tr.set_num_threads(1)
    assert tr.get_num_threads() == 1
    if threads.openmp_enabled():
        tr.set_num_threads(3)
        assert tr.get_num_threads() == 3


def test_set_num_threads_also_limits_blas():
    if utils.get_blas_num_threads() is None:
        pytest.skip("no OpenBLAS found in this process")
    tr.set_num_threads(1)
    assert utils.get_blas_num_threads() == 1


def test_blas_thread_helper():
    if utils.get_blas_num_threads() is None:
        assert utils.set_blas_num_threads(1) is False
        return
    assert utils.set_blas_num_threads(1) is True
    assert utils.get_blas_num_threads() == 1
    with pytest.raises(ValueError, match="set_blas_num_threads: n must be at least 1, received 0"):
        utils.set_blas_num_threads(0)
    with pytest.raises(TypeError, match="set_blas_num_threads: n must be an integer"):
        utils.set_blas_num_threads(1.5)


def test_weights_hash_is_stable_within_a_process_across_thread_settings():
    """In-process: with BLAS pinned to one thread, changing our kernels' thread count changes nothing."""
    if utils.set_blas_num_threads(1) is False:
        pytest.skip("no OpenBLAS found in this process")
    digests = []
    for n in (1, 2):
        tr.set_num_threads(n)
        weights, _, _ = train(13, epochs=1)
        digests.append(hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest())
    assert digests[0] == digests[1]
