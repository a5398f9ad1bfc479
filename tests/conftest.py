"""Shared fixtures: every test starts with fresh layer names and a seeded random stream.

A test module sets ``SEED = n`` to start from another seed (its expected numbers were taken
with it); the default is 0. ``demo_run(seed)`` runs the demo once per seed per session.
"""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from tinygrad_relu import layers as L, utils


@pytest.fixture(autouse=True)
def fresh_state(request):
    L.reset_uids()
    utils.set_random_seed(getattr(request.module, "SEED", 0))
    yield
    L.reset_uids()


# ---- the demo, run once per seed for the whole session (test_cli.py, test_lab_readings.py) -------------------

_ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_module(args, cwd, timeout=600):
    """`python -m tinygrad_relu ARGS` in a subprocess that imports this checkout."""
    env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "tinygrad_relu", *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """demo_run(seed) -> {'out', 'stdout', 'report'}: `tinygrad-relu demo --seed SEED`, with the figure for
    seed 0 only; each seed runs once per session."""
    cache = {}

    def run(seed):
        if seed not in cache:
            out = tmp_path_factory.mktemp(f"demo_seed{seed}")
            args = ["demo", "--seed", str(seed), "--out", str(out)] + ([] if seed == 0 else ["--no-figures"])
            result = run_module(args, cwd=out)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            with open(out / "relu_demo.json") as f:
                cache[seed] = {"out": out, "stdout": result.stdout, "report": json.load(f)}
        return cache[seed]
    return run


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on its torch backend, imported once per session (skipped where it is not installed).

    Keras reads KERAS_BACKEND at import and changes no state our tests depend on, so it is imported
    in-process; a session that set another backend skips these tests rather than switch it.
    """
    import os
    backend = os.environ.setdefault("KERAS_BACKEND", "torch")
    if backend != "torch":
        pytest.skip(f"KERAS_BACKEND={backend}: the Keras comparisons run on the torch backend")
    pytest.importorskip("torch")
    module = pytest.importorskip("keras")
    if module.backend.backend() != "torch":
        pytest.skip("keras was imported earlier with another backend")
    return module


# Loads a model file in a child process under an address-space cap and reports the outcome and the peak memory
# growth: what the hostile-file tests of both formats ask of a bomb.
_BOMB_LOADER = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {repo!r})
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    try:
        import h5py  # noqa: F401  (before the measurement: the Keras-format loader imports it lazily)
    except ImportError:
        pass
    from tinygrad_relu.models import load_model
    from tinygrad_relu.saving import ModelFileError
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_model({path!r})
        outcome = "loaded"
    except ModelFileError as err:
        outcome = "ModelFileError: " + str(err)
    except BaseException as err:
        outcome = type(err).__name__ + ": " + str(err)
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({{"outcome": outcome, "growth_mb": growth}}))
""")


@pytest.fixture(scope="session")
def load_under_memory_cap():
    """load(path) -> {"outcome": "loaded" | "ModelFileError: ..." | other error, "growth_mb": peak RSS growth}, the
    load run in a child whose address space is capped at 1.5 GB."""
    repo = str(pathlib.Path(__file__).resolve().parents[1])

    def load(path):
        script = _BOMB_LOADER.format(repo=repo, limit=int(1.5e9), path=str(path))
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])
    return load
