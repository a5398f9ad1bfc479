"""The benchmark suite must not rot: run it with tiny sizes, with and without PyTorch importable,
and check the machinery that times each contender alone."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(ROOT, "benchmarks")
RUN = os.path.join(BENCHMARKS, "run.py")
STEPS = ("a", "b", "c", "d", "e")
WORKLOADS = STEPS + ("fit", "fit_e")


def load(name):
    spec = importlib.util.spec_from_file_location(f"tinygrad_relu_benchmarks_{name}", os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(tmp_path, extra_env=None, extra_args=()):
    out = tmp_path / "results.json"
    env = dict(os.environ, **(extra_env or {}))
    # one thread: on a loaded 2-core CI box, 2-thread OpenMP runtimes can stall for tens of ms per op
    proc = subprocess.run([sys.executable, RUN, "--quick", "--threads", "1", "--json", str(out), *extra_args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text()), proc.stdout


def check_ours(results, workloads=WORKLOADS):
    assert set(results["workloads"]) == set(workloads)
    for name in workloads:
        entry = results["workloads"][name]
        ours = entry["ours"]
        assert ours["median_s"] > 0 and ours["min_s"] > 0, name
        assert ours["n"] >= 1 and ours["rounds"] == 1, name
        assert entry["flops_per_step"] > 0, name
        assert ours["gflops"] > 0, name
    assert results["meta"]["sgemm_gflops"] > 0
    assert results["meta"]["threads"]["requested"] == 1
    for name in set(STEPS) & set(workloads):
        assert results["workloads"][name]["threads"]["ours"]["tinygrad_relu"] == 1, name


def check_run(tmp_path, workloads, extra_args=()):
    results, stdout = run_quick(tmp_path, extra_args=extra_args)
    check_ours(results, workloads)
    assert "Time per training step" in stdout and "each contender alone" in stdout
    # Keras is never started in --quick, and says so
    assert any(s["what"] == "fit vs Keras" for s in results["skipped"])
    try:
        import torch  # noqa: F401
    except ImportError:
        assert any("PyTorch" in s["what"] for s in results["skipped"])
        return
    for name in set(STEPS) & set(workloads):
        entry = results["workloads"][name]
        assert entry["peer"]["median_s"] > 0, name
        assert entry["ratio"] > 0, name
        assert entry["threads"]["peer"]["torch"] == 1, name
        # same initial weights, same batch: the twin models must agree on the initial loss
        assert entry["initial_loss"]["agree"], (name, entry["initial_loss"])


def test_quick_run_times_each_contender_in_its_own_process(tmp_path):
    """Two step workloads (an MLP, the convnet with dropout) and a fit: a PyTorch import per child
    costs seconds, so the whole list runs in the slow test below."""
    check_run(tmp_path, ("b", "e", "fit"), ["--only", "b,e,fit"])


@pytest.mark.slow
def test_quick_run_of_every_workload(tmp_path):
    check_run(tmp_path, WORKLOADS)


def test_quick_run_without_torch(tmp_path):
    """A torch module that fails to import stands in for a machine without PyTorch."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "torch.py").write_text("raise ImportError('PyTorch hidden by the smoke test')\n")
    path = os.pathsep.join([str(shadow), ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    results, stdout = run_quick(tmp_path, {"PYTHONPATH": path}, ["--only", "b,e,fit"])
    check_ours(results, ("b", "e", "fit"))
    assert any(s["what"] == "PyTorch step comparison" and "hidden by the smoke test" in s["why"]
               for s in results["skipped"])
    assert "skipped: PyTorch step comparison" in stdout
    for name in ("b", "e"):
        assert "peer" not in results["workloads"][name]
        assert results["workloads"][name]["met"] is None


def test_interleaved_mode_still_runs(tmp_path):
    pytest.importorskip("torch")
    results, stdout = run_quick(tmp_path, extra_args=["--interleaved", "--only", "c,e"])
    assert "interleaved in one process" in stdout
    for name in ("c", "e"):
        assert results["workloads"][name]["ratio"] > 0
        assert results["workloads"][name]["initial_loss"]["agree"]


def test_flop_count_matches_hand_count():
    """FLOPs of (b): 2*batch*(40*100 + 100*100 + 100*10), times 3 for forward + backward."""
    w = load("workloads")
    specs = w.workload_specs(quick=False)
    assert w.flops_per_step(specs["b"]) == 3 * 2 * 100 * (40 * 100 + 100 * 100 + 100 * 10)
    # (c): conv 26x26 from 3x3x1x32, conv 11x11 from 3x3x32x64, dense 1600->128->10
    conv1 = 2 * 64 * 26 * 26 * 9 * 1 * 32
    conv2 = 2 * 64 * 11 * 11 * 9 * 32 * 64
    dense = 2 * 64 * (1600 * 128 + 128 * 10)
    assert w.flops_per_step(specs["c"]) == 3 * (conv1 + conv2 + dense)
    # (e): 26x26x64 from 1, 24x24x64 from 64, pool to 12, 10x10x128 from 64, 8x8x128 from 128, dense 128->10
    e = 2 * 128 * (26 * 26 * 9 * 64 + 24 * 24 * 9 * 64 * 64 + 10 * 10 * 9 * 64 * 128 + 8 * 8 * 9 * 128 * 128
                   + 128 * 10)
    assert w.flops_per_step(specs["e"]) == 3 * e


def test_children_alternate_abba_and_each_runs_alone(tmp_path):
    isolated = load("isolated")
    log = tmp_path / "order.log"
    script = ("import json, os, sys\nopen(sys.argv[2], 'a').write(sys.argv[1] + '\\n')\n"
              "print('@@' + json.dumps({'times': [float(len(open(sys.argv[2]).read()))]}))")

    def argv(name):
        return [sys.executable, "-c", script, name, str(log)]
    answers = isolated.alternate({"ours": argv("ours"), "peer": argv("peer")}, dict(os.environ), rounds=4, pause=0)
    assert log.read_text().split() == ["ours", "peer", "peer", "ours", "ours", "peer", "peer", "ours"]
    assert len(answers["ours"]) == len(answers["peer"]) == 4
    stats = isolated.combine(answers["ours"])
    assert stats["rounds"] == 4 and stats["n"] == 4 and stats["min_s"] == 5.0  # "ours\n" was the first line


def test_a_failing_child_is_reported_not_retried(tmp_path):
    isolated = load("isolated")
    answers = isolated.alternate({"bad": [sys.executable, "-c", "raise SystemExit('broken on purpose')"]},
                                 dict(os.environ), rounds=3, pause=0)
    assert len(answers["bad"]) == 1 and "broken on purpose" in isolated.first_error(answers["bad"])
    assert isolated.combine(answers["bad"]) is None


def test_blas_settings_for_the_children():
    isolated = load("isolated")
    base = dict(os.environ)
    os.environ.update(OPENBLAS_CORETYPE="Haswell", OPENBLAS_L2_SIZE="1000000")
    try:
        unset = isolated.child_env(2, "unset")
        haswell = isolated.child_env(3, "haswell")
        default = isolated.child_env(1, "default")
    finally:
        os.environ.clear()
        os.environ.update(base)
    assert "OPENBLAS_CORETYPE" not in unset and "OPENBLAS_L2_SIZE" not in unset
    assert haswell["OPENBLAS_CORETYPE"] == "Haswell" and haswell["OMP_NUM_THREADS"] == "3"
    assert default["OPENBLAS_CORETYPE"] == "Haswell" and default["OPENBLAS_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="blas mode must be one of"):
        isolated.child_env(1, "skylake")
