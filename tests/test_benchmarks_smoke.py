"""The benchmark suite must not rot: run it with tiny sizes, with and without PyTorch importable."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")
WORKLOADS = ("a", "b", "c", "d", "fit")


def run_quick(tmp_path, extra_env=None):
    out = tmp_path / "results.json"
    env = dict(os.environ, **(extra_env or {}))
    # one thread: on a loaded 2-core CI box, 2-thread OpenMP runtimes can stall for tens of ms per op
    proc = subprocess.run([sys.executable, RUN, "--quick", "--threads", "1", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text()), proc.stdout


def check_ours(results):
    assert set(results["workloads"]) == set(WORKLOADS)
    for name in WORKLOADS:
        entry = results["workloads"][name]
        ours = entry["ours"]
        assert ours["median_s"] > 0 and ours["min_s"] > 0, name
        assert ours["n"] >= 1, name
        assert entry["flops_per_step"] > 0, name
        assert ours["gflops"] > 0, name
    assert results["meta"]["sgemm_gflops"] > 0
    assert results["meta"]["threads"]["requested"] == 1


def test_quick_run_writes_an_entry_per_workload(tmp_path):
    results, stdout = run_quick(tmp_path)
    check_ours(results)
    assert "Time per training step" in stdout
    # Keras is never started in --quick, and says so
    assert any(s["what"] == "fit vs Keras" for s in results["skipped"])
    try:
        import torch  # noqa: F401
    except ImportError:
        assert any("PyTorch" in s["what"] for s in results["skipped"])
        return
    for name in ("a", "b", "c", "d"):
        entry = results["workloads"][name]
        assert entry["peer"]["median_s"] > 0, name
        assert entry["ratio"] > 0, name
        # same initial weights, same batch: the twin models must agree on the first loss
        assert entry["first_step_loss"]["agree"], (name, entry["first_step_loss"])


def test_quick_run_without_torch(tmp_path):
    """A torch module that fails to import stands in for a machine without PyTorch."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "torch.py").write_text("raise ImportError('PyTorch hidden by the smoke test')\n")
    path = os.pathsep.join([str(shadow), ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    results, stdout = run_quick(tmp_path, {"PYTHONPATH": path})
    check_ours(results)
    assert any(s["what"] == "PyTorch step comparison" and "hidden by the smoke test" in s["why"]
               for s in results["skipped"])
    assert "skipped: PyTorch step comparison" in stdout
    for name in ("a", "b", "c", "d"):
        assert "peer" not in results["workloads"][name]
        assert results["workloads"][name]["met"] is None


def test_flop_count_matches_hand_count():
    """FLOPs of (b): 2*batch*(40*100 + 100*100 + 100*10), times 3 for forward + backward."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("tinygrad_relu_benchmarks_run", RUN)
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    specs = run.workload_specs(quick=False)
    assert run.flops_per_step(specs["b"]) == 3 * 2 * 100 * (40 * 100 + 100 * 100 + 100 * 10)
    # (c): conv 26x26 from 3x3x1x32, conv 11x11 from 3x3x32x64, dense 1600->128->10
    conv1 = 2 * 64 * 26 * 26 * 9 * 1 * 32
    conv2 = 2 * 64 * 11 * 11 * 9 * 32 * 64
    dense = 2 * 64 * (1600 * 128 + 128 * 10)
    assert run.flops_per_step(specs["c"]) == 3 * (conv1 + conv2 + dense)
