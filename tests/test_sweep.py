"""`tinygrad-relu sweep` and `tinygrad_relu.lab.sweep`: the same table on every executor, resuming, failures.

Grids are tiny (2-layer nets, a couple of epochs) so the file takes seconds; what is checked is the
plumbing around the runs: every row bit-identical in process, on a local pool of 1 and 2 workers
and on a Dask LocalCluster; a sweep killed mid-way resumes without repeating a finished run.
"""
import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

import tinygrad_relu.lab
from tinygrad_relu import cli, get_num_threads, utils
from tinygrad_relu.lab import sweep, sweep_executors
from tinygrad_relu.lab.common import Out

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = {"activations": ["relu", "sigmoid"], "depths": [1, 3], "widths": [8], "seeds": [0, 1], "epochs": 2,
        "samples": 120}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def without_seconds(rows):
    """The rows as JSON text, seconds dropped: equal text means equal bits (floats print as repr)."""
    return [json.dumps({k: v for k, v in row.items() if k != "seconds"}) for row in rows]


@pytest.fixture(scope="module")
def in_process():
    """TINY measured in this process, one run after another: the reference every executor must match."""
    return [sweep.run_one(settings) for settings in sweep.expand_grid(TINY)]


# ---- the grid ------------------------------------------------------------------------------

def test_the_grid_expands_in_table_order_with_defaults_resolved():
    runs = sweep.expand_grid({"activations": ["relu", "tanh"], "depths": 2, "seeds": range(3),
                              "inits": ["auto", "he_normal"], "optimizers": ["adam", "sgd"]})
    # relu's 'auto' is he_normal: one run, not two; tanh gets glorot_uniform and he_normal
    assert len(runs) == (1 + 2) * 2 * 3
    assert [(r["activation"], r["init"], r["optimizer"], r["seed"]) for r in runs[:7]] == [
        ("relu", "he_normal", "adam", 0), ("relu", "he_normal", "adam", 1), ("relu", "he_normal", "adam", 2),
        ("relu", "he_normal", "sgd", 0), ("relu", "he_normal", "sgd", 1), ("relu", "he_normal", "sgd", 2),
        ("tanh", "glorot_uniform", "adam", 0)]
    assert {r["lr"] for r in runs if r["optimizer"] == "adam"} == {0.001}  # each optimizer's own default
    assert {r["lr"] for r in runs if r["optimizer"] == "sgd"} == {0.01}
    assert {r["depth"] for r in runs} == {2} and {r["dataset"] for r in runs} == {"spirals"}
    assert len({sweep.run_key(r) for r in runs}) == len(runs)
    assert sweep.run_key(dict(runs[0])) == sweep.run_key(runs[0])


@pytest.mark.parametrize("grid,words", [
    ({"activation": ["relu"]}, ["unknown grid keys", "'activation'", "activations"]),
    ({"activations": ["rleu"]}, ["rleu"]),
    ({"depths": [2, 0]}, ["depths", "0"]),
    ({"widths": [8.5]}, ["widths", "8.5"]),
    ({"lrs": [-0.1]}, ["lrs", "-0.1"]),
    ({"seeds": []}, ["seeds", "empty"]),
    ({"optimizers": ["adamm"]}, ["adamm", "sgd"]),
    ({"inits": ["he_nromal"]}, ["he_nromal", "he_normal"]),
    ({"dataset": "cifar"}, ["cifar", "spirals"]),
])
def test_a_bad_grid_is_refused_before_anything_runs(grid, words, tmp_path):
    with pytest.raises(ValueError) as info:
        sweep.run(grid, out=str(tmp_path))
    for word in words:
        assert word in str(info.value)
    assert not (tmp_path / "sweep.csv").exists()


@pytest.mark.parametrize("kwargs,words", [
    ({"executor": "ray"}, ["ray", "local", "dask"]),
    ({"executor": "local", "scheduler": "tcp://127.0.0.1:8786"}, ["scheduler", "dask"]),
    ({"executor": "dask", "scheduler": "tcp://127.0.0.1:8786", "workers": 2}, ["workers=2", "existing"]),
    ({"workers": 0}, ["workers", "0"]),
])
def test_executor_settings_that_cannot_work_are_refused(kwargs, words):
    with pytest.raises(ValueError) as info:
        sweep.run(TINY, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_missing_dask_names_the_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r'pip install "tinygrad_relu\[dask\]"'):
        sweep.run(TINY, executor="dask")
    assert cli.main(["sweep", "--executor", "dask", "--out", str(tmp_path)]) == 2
    assert "tinygrad_relu[dask]" in capsys.readouterr().err
    assert not list((tmp_path / "runs").glob("*.json"))


# ---- one run, and the table ----------------------------------------------------------------

def test_a_row_holds_the_settings_and_the_measurements(in_process):
    assert [r["activation"] for r in in_process] == ["relu"] * 4 + ["sigmoid"] * 4
    for row in in_process:
        assert list(row) == list(sweep.COLUMNS)
        assert row["error"] is None and row["seconds"] > 0
        depth = row["depth"]
        assert len(row["grad_norms"]) == depth + 1  # hidden Dense kernels and the output's
        assert len(row["grad_ratios"]) == len(row["dead_fractions"]) == depth
        assert row["grad_ratio"] == row["grad_ratios"][0] == row["grad_norms"][0] / row["grad_norms"][-1]
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["dead_fraction"] <= 1
    deep = {r["activation"]: r["grad_ratio"] for r in in_process if r["depth"] == 3 and r["seed"] == 0}
    assert deep["sigmoid"] < deep["relu"] / 10  # the vanishing gradient the sweep exists to show


def test_a_run_is_the_same_when_repeated_and_pinning_is_undone_after_it(in_process):
    utils.set_blas_num_threads(2)
    before = get_num_threads()
    again = sweep.run_one(sweep.expand_grid(TINY)[0])
    assert without_seconds([again]) == without_seconds(in_process[:1])
    assert utils.get_blas_num_threads() in (2, None) and get_num_threads() == before
    with sweep_executors.pinned_threads():
        inside = sweep_executors.thread_settings()
    assert inside["omp_threads"] == 1 and inside["blas_threads"] in (1, None)


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    # 4 samples cannot make 3 spiral arms: those runs raise inside the worker, the others finish
    grid = {"activations": ["relu"], "depths": [1], "widths": [8], "seeds": [0, 1], "epochs": 1,
            "samples": [120, 4]}
    rows = sweep.run(grid, workers=1, out=str(tmp_path))
    failed = [r for r in rows if r["error"] is not None]
    assert [r["samples"] for r in failed] == [4, 4]
    assert all(r["error"].startswith("ValueError: datasets.spirals: n_samples=4 is too small") for r in failed)
    assert all(r["test_accuracy"] is None and r["grad_ratio"] is None for r in failed)
    assert all(r["error"] is None and r["test_accuracy"] is not None for r in rows if r["samples"] == 120)
    # a failure is a finished run: saved, and not repeated unless asked
    again = sweep.run(grid, workers=1, out=str(tmp_path))
    assert [r["seconds"] for r in again] == [r["seconds"] for r in rows]
    retried = sweep.run(grid, workers=1, out=str(tmp_path), retry_failed=True)
    assert [r["seconds"] for r in retried if r["samples"] == 120] == [r["seconds"] for r in rows if r["samples"] == 120]
    assert all(a["seconds"] != b["seconds"] for a, b in zip(retried, rows) if a["samples"] == 4)


def test_the_table_is_written_as_csv_and_json(tmp_path, in_process):
    sweep.write_table(str(tmp_path), in_process, sweep.check_grid(TINY))
    assert without_seconds(sweep.read_table(str(tmp_path))) == without_seconds(in_process)
    with open(tmp_path / "sweep.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == list(sweep.COLUMNS) and len(table) == len(in_process)
    for line, row in zip(table, in_process):
        assert float(line["grad_ratio"]) == row["grad_ratio"]  # repr: no digit lost
        assert json.loads(line["dead_fractions"]) == row["dead_fractions"]
        assert line["error"] == "" and int(line["depth"]) == row["depth"]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_the_module_is_the_function_the_issue_names(tmp_path):
    assert tinygrad_relu.lab.sweep is sweep and callable(sweep)
    fresh = subprocess.run([sys.executable, "-c", "import tinygrad_relu as tr; s = tr.lab.sweep; "
                            "print(callable(s), s.run is s.__dict__['run'])"],
                           env=environment(), capture_output=True, text=True, timeout=60, check=False)
    assert fresh.stdout.split() == ["True", "True"], fresh.stderr[-2000:]
    rows = tinygrad_relu.lab.sweep({**TINY, "activations": "relu", "depths": 1, "seeds": 0}, executor="local",
                                   workers=1, out=None)
    assert len(rows) == 1 and rows[0]["error"] is None


# ---- executors: the same bits everywhere ---------------------------------------------------

def test_the_local_pool_gives_the_same_table_with_one_and_two_workers(in_process, tmp_path):
    for workers in (1, 2):
        rows = sweep.run(TINY, executor="local", workers=workers, out=str(tmp_path / str(workers)))
        assert without_seconds(rows) == without_seconds(in_process), workers


def test_local_workers_start_with_one_thread_and_the_parent_environment_is_restored():
    before = {name: os.environ.get(name) for name in ONE_THREAD}
    results = list(sweep_executors.run_all(sweep_executors.thread_settings, [0, 1], "local", workers=2))
    assert {name: os.environ.get(name) for name in ONE_THREAD} == before
    for _, settings in results:
        assert {name: settings[name] for name in ONE_THREAD} == ONE_THREAD
        assert settings["omp_threads"] == 1 and settings["blas_threads"] in (1, None)
        assert settings["pid"] != os.getpid()


def test_a_dask_local_cluster_gives_the_same_table(in_process, tmp_path):
    pytest.importorskip("distributed")
    rows = sweep.run(TINY, executor="dask", workers=2, out=str(tmp_path))
    assert without_seconds(rows) == without_seconds(in_process)
    assert without_seconds(sweep.read_table(str(tmp_path))) == without_seconds(in_process)


def test_an_existing_dask_cluster_with_two_threads_per_worker_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    # One worker process, two threads: two runs at once in one process. Without the lock in
    # sweep.run_one they share the library's random generator, and 5-8 of these 8 rows (runs of
    # ~25 ms, long enough to overlap) came out different in each of three tries.
    grid = {"activations": ["relu", "tanh"], "depths": [2, 3], "widths": [16], "seeds": [0, 1], "epochs": 4,
            "samples": 300}
    reference = [sweep.run_one(settings) for settings in sweep.expand_grid(grid)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        rows = sweep.run(grid, executor="dask", scheduler=cluster.scheduler_address)
    assert without_seconds(rows) == without_seconds(reference)


# ---- the command: killed and resumed -------------------------------------------------------

def sweep_command(out, *extra):
    # runs of ~0.1 s: slow enough to be killed between two of them
    return [sys.executable, "-m", "tinygrad_relu", "sweep", "--activations", "relu,tanh", "--depths", "2,3,4",
            "--widths", "16", "--seeds", "0-1", "--epochs", "15", "--samples", "600", "--workers", "1",
            "--out", str(out), *extra]


def environment():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")


def test_a_killed_sweep_resumes_without_repeating_finished_runs(tmp_path):
    out = tmp_path / "killed"
    process = subprocess.Popen(sweep_command(out), env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    runs = out / "runs"
    deadline = time.monotonic() + 240
    try:
        while len(list(runs.glob("*.json"))) < 3:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the sweep did not finish 3 runs in 240 s"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the driver and its pool's workers, mid-run
        process.wait()
    finished = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs.glob("*.json")}
    assert 3 <= len(finished) < 12, "the sweep was not interrupted mid-way"
    assert not (out / "sweep.csv").exists()

    resumed = subprocess.run(sweep_command(out), env=environment(), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"sweep: 12 runs, {len(finished)} already in {out}, {12 - len(finished)} to run" in resumed.stdout
    for name, (mtime, content) in finished.items():  # not run again, not even rewritten
        assert ((runs / name).stat().st_mtime_ns, (runs / name).read_bytes()) == (mtime, content)
    rows = sweep.read_table(str(out))
    assert len(rows) == 12 and all(r["error"] is None for r in rows)
    by_key = {sweep.run_key(r) + ".json": r for r in rows}
    for name, (_, content) in finished.items():
        assert by_key[name]["seconds"] == json.loads(content)["seconds"]  # the first sweep's measurement

    # the same as a sweep that was never interrupted (here on two workers)
    grid = {"activations": ["relu", "tanh"], "depths": [2, 3, 4], "widths": [16], "seeds": [0, 1], "epochs": 15,
            "samples": 600}
    uninterrupted = sweep.run(grid, workers=2, out=str(tmp_path / "whole"))
    assert without_seconds(rows) == without_seconds(uninterrupted)


def test_the_command_prints_a_summary_and_says_where_the_table_is(tmp_path):
    say_lines = []
    code = cli._run(cli.make_parser().parse_args(
        ["sweep", "--activations", "relu", "--depths", "1,2", "--widths", "8", "--seeds", "0", "--epochs", "1",
         "--samples", "120", "--workers", "1", "--out", str(tmp_path)]), Out(stream=_Lines(say_lines)))
    text = "".join(say_lines)
    assert code == 0
    assert "first/last grad" in text and f"Wrote {tmp_path}/sweep.csv" in text
    assert len(sweep.read_table(str(tmp_path))) == 2


class _Lines:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.append(text)

    def flush(self):
        pass


def test_the_figure_has_the_three_kinds_of_panel(in_process, tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_relu.lab import sweep_plot
    fig = sweep_plot.figure(in_process)
    gradient, dead, accuracy = fig.axes[:3]
    assert gradient.get_yscale() == "log" and "first hidden layer" in gradient.get_ylabel()
    lines = {line.get_label(): line for line in gradient.get_lines()}
    assert set(lines) == {"relu", "sigmoid"}
    sigmoid = [r["grad_ratio"] for r in in_process if r["activation"] == "sigmoid" and r["depth"] == 3]
    assert lines["sigmoid"].get_ydata()[-1] == pytest.approx(sorted(sigmoid)[0] / 2 + sorted(sigmoid)[1] / 2)
    assert dead.get_xlabel() == "learning rate" and accuracy.get_ylabel() == "test accuracy"
    assert [int(t) for t in gradient.get_xticks()] == [1, 3]
    path = sweep_plot.write_figure(in_process, str(tmp_path / "sweep.png"))
    assert os.path.getsize(path) > 10_000
    failed_only = [dict(in_process[0], error="ValueError: x")]
    with pytest.raises(ValueError, match="no successful run"):
        sweep_plot.figure(failed_only)


@pytest.mark.parametrize("text,values", [("2,4,8", [2, 4, 8]), ("0-4", [0, 1, 2, 3, 4]), ("1,3-4", [1, 3, 4])])
def test_integer_lists_on_the_command_line(text, values):
    assert cli.make_parser().parse_args(["sweep", "--depths", text]).depths == values


def test_learning_rates_on_the_command_line():
    assert cli.make_parser().parse_args(["sweep", "--lrs", "0.01,default"]).lrs == [0.01, None]
    with pytest.raises(SystemExit):
        cli.make_parser().parse_args(["sweep", "--lrs", "-1"])


def test_the_sweep_benchmark_runs_and_finds_the_tables_identical(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_sweep.py"), "--quick", "--no-dask",
                           "--json", str(out)], cwd=str(ROOT), capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["identical_tables"] is True
    assert set(report["sweeps"]) == {"local-1-spawn", "local-2-spawn"}
    assert all(entry["median_wall_s"] > 0 for entry in report["sweeps"].values())
    assert set(report["start_up"]) == {"spawn", "forkserver"}
    assert set(report["cores_available"]) == {"1", "2"} and report["cores_available"]["1"] > 0
