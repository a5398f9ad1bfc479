"""Sweep executors: how long a local pool takes to start its workers (spawn against forkserver), and
the wall time of one grid on the local pool with 1 and 2 workers and on a Dask LocalCluster.

    python benchmarks/bench_sweep.py                  # the grid of docs/sweep.md (450 runs, several minutes)
    python benchmarks/bench_sweep.py --quick          # a toy grid (the smoke test)
    python benchmarks/bench_sweep.py --seeds 1 --repeats 2 --no-dask   # 90 runs, timed ABBA: 1, 2, 2, 1 workers
    python benchmarks/bench_sweep.py --json r.json    # also write the numbers

Every timed sweep starts from nothing (no out directory, so nothing resumes), and the tables of all
of them are checked to be identical but for the seconds column. With --repeats the executors take
turns (ABBA order), so a load that rises or falls during the benchmark hits each alike. Printed
after each sweep: the load average, and the CPU time of the workers beside the wall time (CPU / wall
is how many cores the sweep got: about the number of workers on an idle machine, less on a shared one).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_relu.lab import sweep, sweep_executors  # noqa: E402

DOCS_GRID = {"activations": ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"], "depths": [2, 4, 8, 16, 32],
             "widths": [32], "lrs": [0.001, 0.01, 0.05], "seeds": [0, 1, 2, 3, 4], "epochs": 20, "samples": 900}
QUICK_GRID = {"activations": ["relu", "sigmoid"], "depths": [1, 2], "widths": [8], "seeds": [0, 1], "epochs": 1,
              "samples": 120}


def load():
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def spin(seconds):
    """A pure-Python loop for `seconds` of wall time; returns the CPU seconds it got."""
    cpu, wall = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < seconds:
        pass
    return time.process_time() - cpu


def cores_available(processes, seconds=3.0):
    """Cores the machine gives `processes` busy processes at once (sum of CPU / wall): the control.

    If two spinning processes get no more than one, two sweep workers cannot either."""
    answers = list(sweep_executors.run_all(spin, [seconds] * processes, "local", processes))
    return sum(cpu for _, cpu in answers) / seconds


def start_up(method, workers, repeats):
    """Seconds from creating a pool to every worker having answered once (median of `repeats`)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answers = list(sweep_executors.run_all(sweep_executors.thread_settings, list(range(workers)), "local",
                                               workers, start_method=method))
        times.append(time.perf_counter() - start)
        assert all(isinstance(a, dict) for _, a in answers), answers
    return {"median_s": statistics.median(times), "all_s": times}


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_sweep(grid, executor, workers, start_method="spawn"):
    """Wall seconds, CPU seconds of the worker processes (counted once they have exited), the rows."""
    runs = sweep.expand_grid(grid)
    cpu = children_cpu_seconds()
    start = time.perf_counter()
    results = {sweep.run_key(s): row for s, row in
               sweep_executors.run_all(sweep.run_one, runs, executor, workers, start_method=start_method)}
    wall = time.perf_counter() - start
    cpu = children_cpu_seconds() - cpu
    rows = [results[sweep.run_key(s)] for s in runs]
    lost = [row for row in rows if isinstance(row, BaseException)]
    assert not lost, lost[:3]
    return wall, cpu, rows


def same_bits(a, b):
    def strip(rows):
        return [json.dumps({k: v for k, v in row.items() if k != "seconds"}) for row in rows]
    return strip(a) == strip(b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a toy grid and one start-up repeat")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    parser.add_argument("--seeds", type=int, default=None, help="only the first N seeds of the grid")
    parser.add_argument("--repeats", type=int, default=1, help="time each executor N times, in ABBA order")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    grid = dict(QUICK_GRID if args.quick else DOCS_GRID)
    if args.seeds:
        grid["seeds"] = grid["seeds"][:args.seeds]
    report = {"cores": sweep_executors.available_cores(), "load_before": load(), "grid": grid}
    print(f"cores {report['cores']}, load average {report['load_before']} (1/5/15 min)")

    report["start_up"] = {}
    for method in sweep_executors.START_METHODS:
        report["start_up"][method] = start_up(method, 2, 1 if args.quick else 5)
        print(f"start 2 workers, {method:<10}: {report['start_up'][method]['median_s']:.2f} s (median)")

    report["cores_available"] = {n: cores_available(n, 1.0 if args.quick else 3.0) for n in (1, 2)}
    print("control, pure-Python loops: " + ", ".join(f"{n} process{'es' if n > 1 else ''} got {c:.2f} cores"
                                                     for n, c in report["cores_available"].items()))

    runs = len(sweep.expand_grid(grid))
    report["sweeps"], tables = {}, {}
    plan = [("local", 1, "spawn"), ("local", 2, "spawn")]
    if not args.no_dask:
        try:
            sweep_executors.require_dask()
            plan.append(("dask", 2, None))
        except ImportError as exc:
            print(f"dask skipped: {exc}")
    for repeat in range(args.repeats):
        for executor, workers, method in plan if repeat % 2 == 0 else plan[::-1]:
            name = f"{executor}-{workers}" + (f"-{method}" if executor == "local" else "")
            wall, cpu, rows = timed_sweep(grid, executor, workers, method or "spawn")
            tables.setdefault(name, rows)
            run_seconds = sum(row["seconds"] for row in rows)
            entry = report["sweeps"].setdefault(name, {"wall_s": [], "cpu_s": [], "sum_of_run_seconds": [],
                                                       "load_after": []})
            entry["wall_s"].append(wall)
            entry["cpu_s"].append(cpu)
            entry["sum_of_run_seconds"].append(run_seconds)
            entry["load_after"].append(load())
            # cores we got = CPU / wall: on an idle machine about the number of workers
            print(f"{runs} runs, {name:<20}: {wall:7.1f} s wall, {cpu:7.1f} s CPU of the workers "
                  f"({cpu / wall:.2f} cores), {run_seconds:7.1f} s inside the runs, load {load()}")
            report["identical_tables"] = same_bits(next(iter(tables.values())), rows)
            if not report["identical_tables"]:
                print(f"{name}: the table differs from {next(iter(tables))}'s")
                return 1
    print("tables identical (all columns but seconds): True")
    base = statistics.median(report["sweeps"]["local-1-spawn"]["wall_s"])
    for name, entry in report["sweeps"].items():
        entry["median_wall_s"] = statistics.median(entry["wall_s"])
        entry["speedup_vs_1_worker"] = base / entry["median_wall_s"]
        print(f"{name:<20}: median {entry['median_wall_s']:.1f} s wall, {entry['speedup_vs_1_worker']:.2f}x "
              f"the speed of one worker")
    report["load_after"] = load()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
