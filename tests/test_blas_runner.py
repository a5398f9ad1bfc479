"""tinygrad_relu/_blas.py install_runner: numpy's OpenBLAS runs its parallel jobs on our OpenMP team
(cysrc/threads.pyx). Same bits as OpenBLAS's own pool, no deadlock when the team is smaller than the
jobs (POSIX threads then), nothing broken after fork, off with TINYGRAD_RELU_BLAS_RUNNER=0."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from tinygrad_relu import _blas
from tinygrad_relu._kernels import threads

pytestmark = pytest.mark.skipif(not _blas.runner_installed(),
                                reason="needs numpy on OpenBLAS >= 0.3.28 and kernels built with OpenMP")

BIG = 600  # 600^3 multiply-adds: far above OpenBLAS's threading threshold


def _operands(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BIG, BIG)).astype(dtype), rng.standard_normal((BIG, BIG)).astype(dtype)


def _blas_threads_at_least_2():
    if (_blas.get_num_threads() or 1) < 2:
        pytest.skip("numpy's OpenBLAS runs on one thread here: it never splits a product")


def test_products_run_on_our_team_and_give_openblas_own_bits():
    _blas_threads_at_least_2()
    for dtype in (np.float32, np.float64):
        a, b = _operands(1, dtype)
        runs = threads.blas_runs()[0]
        ours = a @ b
        assert threads.blas_runs()[0] > runs
        try:
            assert _blas.install_runner(False)
            before = threads.blas_runs()
            theirs = a @ b
            assert threads.blas_runs() == before  # OpenBLAS's own pool did it
        finally:
            assert _blas.install_runner(True)
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(ours, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-3)


def test_python_threads_multiplying_at_once_get_their_own_results():
    _blas_threads_at_least_2()
    pairs = [_operands(seed) for seed in range(4)]
    expected = [a @ b for a, b in pairs]
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(5):
                results[i] = pairs[i][0] @ pairs[i][1]
                np.testing.assert_array_equal(results[i], expected[i])
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors and not any(w.is_alive() for w in workers)


def _run(code, timeout=120, **env):
    run = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


CHECK = """
import numpy as np, tinygrad_relu
from tinygrad_relu import _blas
from tinygrad_relu._kernels import threads
rng = np.random.default_rng(0)
a = rng.standard_normal((600, 600)).astype(np.float32)
c = a @ a
ok = np.allclose(c, a.astype(np.float64) @ a, rtol=1e-4, atol=1e-3)
print(_blas.runner_installed(), *threads.blas_runs(), ok)
"""


def test_a_team_smaller_than_the_jobs_runs_them_on_posix_threads():
    """OpenBLAS's level-3 jobs wait for one another: run one at a time they would deadlock."""
    installed, team_runs, fallback_runs, ok = _run(CHECK, OMP_THREAD_LIMIT="1", OPENBLAS_NUM_THREADS="2")
    assert installed == "True" and ok == "True"
    assert int(team_runs) == 0 and int(fallback_runs) >= 1


def test_the_switch_leaves_openblas_pool():
    installed, team_runs, fallback_runs, ok = _run(CHECK, TINYGRAD_RELU_BLAS_RUNNER="0", OPENBLAS_NUM_THREADS="2")
    assert installed == "False" and ok == "True"
    assert (team_runs, fallback_runs) == ("0", "0")


FORK = """
import os, numpy as np, tinygrad_relu
from tinygrad_relu import _blas
from tinygrad_relu._kernels import threads
a = np.random.default_rng(0).standard_normal((600, 600)).astype(np.float32)
c = a @ a  # the team exists in the parent
assert threads.blas_runs()[0] >= 1
pid = os.fork()
if pid == 0:  # libgomp's team is gone here: the child must be back on OpenBLAS's pool
    ok = not _blas.runner_installed() and np.array_equal(a @ a, c)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), _blas.runner_installed() and np.array_equal(a @ a, c))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_multiplies_too():
    code, ok = _run(FORK, timeout=60, OPENBLAS_NUM_THREADS="2")
    assert (code, ok) == ("0", "True")


SPIN = """
import os, tinygrad_relu
from tinygrad_relu import _blas
print(_blas.runner_installed(), os.environ.get("GOMP_SPINCOUNT", "unset"))
"""


def test_the_team_spins_briefly_only_with_the_runner_and_the_user_value_wins():
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    runs = {}
    for name, extra in (("default", {}), ("off", {"TINYGRAD_RELU_BLAS_RUNNER": "0"}), ("user", {"GOMP_SPINCOUNT": "7"})):
        run = subprocess.run([sys.executable, "-c", SPIN], env=dict(env, **extra), capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        runs[name] = run.stdout.split()
    assert runs == {"default": ["True", "300000"], "off": ["False", "unset"], "user": ["True", "7"]}
