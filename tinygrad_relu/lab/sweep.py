"""Sweeps: the lab's measurements over a grid of settings, spread over processes or a cluster.

A grid names lists of values; every combination, once per seed, is one small training::

    from tinygrad_relu.lab import sweep
    rows = sweep({"activations": ["relu", "sigmoid"], "depths": [2, 8, 32], "seeds": range(5)},
                 executor="local", workers=2, out="sweep_out")

Per run (one row of the table): its settings; at initialization, the norm of dL/dW of every
Dense kernel (input side first) and each hidden layer's norm divided by the output layer's
(``grad_ratios``; ``grad_ratio`` is the first layer's, the vanishing-gradient number); the
fraction of dead units per hidden layer after training; test accuracy; seconds; and ``error``,
the exception of a run that failed (its measurements are then empty and the sweep goes on).

With ``out``, each finished run is written to ``out/runs/<key>.json`` at once (atomically), and
the whole table to ``out/sweep.csv`` and ``out/sweep.json``. Run again with the same ``out`` and
the runs already there, found by their settings, are not repeated: an interrupted sweep resumes,
and a grown grid runs only what is new. Failed runs count as finished unless ``retry_failed``.

Every run seeds everything from its own seed and runs on one thread, so each row is the same bit
for bit on any executor and any number of workers; only ``seconds`` differs.
"""
import csv
import hashlib
import io
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import types

import numpy as np

from .. import diagnostics, initializers, optimizers, utils
from .._version import __version__
from .common import (DATASETS, Out, accuracy, build_mlp, check_activation, default_initializer, load_dataset,
                     make_optimizer, pct, sci, table)
from .sweep_executors import check_executor, pinned_threads, run_all

FORMAT = 1  # part of every run's key: bump it when a run measures something new

# grid key -> (row column, default values); the order is the table's column order
GRID = {
    "activations": ("activation", ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")),
    "depths": ("depth", (2, 4, 8, 16, 32)),
    "widths": ("width", (32,)),
    "inits": ("init", ("auto",)),
    "optimizers": ("optimizer", ("adam",)),
    "lrs": ("lr", (None,)),
    "seeds": ("seed", (0, 1, 2, 3, 4)),
    "dataset": ("dataset", ("spirals",)),
    "epochs": ("epochs", (10,)),
    "samples": ("samples", (600,)),
    "batch_sizes": ("batch_size", (32,)),
}
SETTINGS = tuple(column for column, _ in GRID.values())
MEASUREMENTS = ("grad_ratio", "grad_ratios", "grad_norms", "dead_fraction_init", "dead_fraction",
                "dead_fractions", "test_accuracy", "final_loss", "seconds", "error")
COLUMNS = SETTINGS + MEASUREMENTS
LOST = "worker lost: "  # how the error of a run whose worker died begins (such a run is not saved)


# ---- the grid ------------------------------------------------------------------------------

def _values(key, value):
    if isinstance(value, (str, int, float)) or value is None:
        return (value,)
    values = tuple(value)
    if not values:
        raise ValueError(f"sweep: grid[{key!r}] is empty; give at least one value")
    return values


def _positive_int(key, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"sweep: grid[{key!r}] must hold integers >= {minimum}, got {value!r}")
    return int(value)


def _check_value(key, value):
    """The value as a run stores it, or a ValueError naming the grid key and the value."""
    if key == "activations":
        check_activation(value)
    elif key == "inits":
        if value != "auto":
            if not isinstance(value, str):
                raise ValueError(f"sweep: grid['inits'] holds initializer names or 'auto', got {value!r}")
            initializers.get(value)  # ValueError listing the known names
    elif key == "optimizers":
        if value not in optimizers.names():
            raise ValueError(f"sweep: unknown optimizer {value!r} in grid['optimizers']; "
                             f"choose from {', '.join(optimizers.names())}")
    elif key == "lrs":
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < float("inf"):
                raise ValueError(f"sweep: grid['lrs'] must hold positive learning rates (or None for the "
                                 f"optimizer's default), got {value!r}")
            value = float(value)
    elif key == "dataset":
        if value not in DATASETS:
            raise ValueError(f"sweep: unknown dataset {value!r}; choose one of {', '.join(DATASETS)}")
    elif key == "seeds":
        value = _positive_int(key, value, minimum=0)
    else:  # depths, widths, epochs, samples, batch_sizes
        value = _positive_int(key, value)
    return value


def check_grid(grid=None):
    """{grid key: list of checked values} with the defaults filled in; ValueError naming a bad key or value."""
    grid = dict(grid or {})
    unknown = sorted(set(grid) - set(GRID))
    if unknown:
        raise ValueError(f"sweep: unknown grid keys {unknown}; known: {', '.join(GRID)}")
    return {key: [_check_value(key, v) for v in _values(key, grid.get(key, default))]
            for key, (_, default) in GRID.items()}


def expand_grid(grid=None):
    """Every run of a grid, as a list of settings dicts in table order (activation, depth, ..., seed).

    ``grid`` maps the keys of ``GRID`` to a value or a list of values; missing keys take the
    defaults. 'auto' initializers and None learning rates are resolved here (he_normal or
    glorot_uniform; the optimizer's default), so a run's settings say exactly what it ran.
    """
    default_lrs = {}
    runs, seen = [], set()
    for combination in itertools.product(*check_grid(grid).values()):
        settings = dict(zip(SETTINGS, combination))
        if settings["init"] == "auto":
            settings["init"] = default_initializer(settings["activation"])
        if settings["lr"] is None:
            name = settings["optimizer"]
            if name not in default_lrs:
                default_lrs[name] = float(optimizers.get_class(name)().learning_rate)
            settings["lr"] = default_lrs[name]
        key = run_key(settings)
        if key not in seen:  # 'auto' and the name it resolves to are the same run
            seen.add(key)
            runs.append(settings)
    return runs


def run_key(settings):
    """A short name for a run, the same for the same settings in any process (its file name in out/runs/)."""
    text = json.dumps({"format": FORMAT, **{k: settings[k] for k in SETTINGS}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


# ---- one run -------------------------------------------------------------------------------

def measure_run(settings):
    """Train one MLP with these settings and measure it (the row's measurements but seconds/error)."""
    s = settings
    utils.clear_session()
    (x, y), (x_test, y_test) = load_dataset(s["dataset"], s["seed"], s["samples"])
    n_classes = int(max(y.max(), y_test.max())) + 1
    utils.set_random_seed(s["seed"])
    model = build_mlp(s["activation"], s["depth"], s["width"], x.shape[1], n_classes, s["init"])
    model.compile(optimizer=make_optimizer(s["optimizer"], s["lr"]), loss="sparse_categorical_crossentropy")
    at_init = diagnostics.probe(model, x_test, y_test)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is a result (nan loss), not an error
        history = model.fit(x, y, epochs=s["epochs"], batch_size=s["batch_size"], verbose=0)
        trained = diagnostics.probe(model, x_test)
    norms = list(at_init["grad_norms"].values())
    last = norms[-1]
    ratios = [n / last if last > 0 else None for n in norms[:-1]]
    return {
        "grad_ratio": ratios[0] if ratios else None,
        "grad_ratios": ratios,
        "grad_norms": norms,
        "dead_fraction_init": at_init["dead_fraction"],
        "dead_fraction": trained["dead_fraction"],
        "dead_fractions": [r["dead_fraction"] for r in trained["layers"] if r["dead_fraction"] is not None],
        "test_accuracy": accuracy(model, x_test, y_test),
        "final_loss": float(history.history["loss"][-1]),
    }


_ONE_RUN_AT_A_TIME = threading.Lock()


def run_one(settings):
    """One row: the settings, the measurements, seconds; a failure is caught and recorded in 'error'.

    What a worker calls. Runs hold a lock, so two threads of one worker process never share the
    library's random generator; and one OpenBLAS and one OpenMP thread.
    """
    with _ONE_RUN_AT_A_TIME, pinned_threads():
        start = time.perf_counter()
        try:
            measured, error = measure_run(settings), None
        except Exception as exc:
            measured, error = {}, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
    row = {column: None for column in COLUMNS}
    row.update({k: settings[k] for k in SETTINGS}, **measured, seconds=seconds, error=error)
    return row



# ---- the table on disk ---------------------------------------------------------------------

def write_atomically(path, text):
    """Write to a temporary in the same directory, fsync, rename over ``path``: a reader (or a
    resumed sweep) sees the old file or the new one, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_finished(out, runs):
    """{key: row} of the runs of ``runs`` whose file is in out/runs/ and holds these settings."""
    finished = {}
    directory = os.path.join(out, "runs")
    for settings in runs:
        key = run_key(settings)
        try:
            with open(os.path.join(directory, key + ".json")) as f:
                row = json.load(f)
        except (OSError, ValueError):  # not run yet (or not readable: run it again)
            continue
        if isinstance(row, dict) and all(row.get(k) == settings[k] for k in SETTINGS):
            finished[key] = {column: row.get(column) for column in COLUMNS}
    return finished


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)


def write_table(out, rows, grid):
    """out/sweep.csv (lists as JSON text, None as an empty cell) and out/sweep.json."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([[_cell(row[c]) for c in COLUMNS] for row in rows])
    write_atomically(os.path.join(out, "sweep.csv"), text.getvalue())
    document = {"format": FORMAT, "version": __version__, "grid": grid, "columns": list(COLUMNS), "rows": rows}
    write_atomically(os.path.join(out, "sweep.json"), json.dumps(document, indent=1))


def read_table(path):
    """The rows of a sweep.json (or of the sweep.json in a directory)."""
    if os.path.isdir(path):
        path = os.path.join(path, "sweep.json")
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise ValueError(f"sweep: {path} is not a sweep table (no 'rows' list)")
    return document["rows"]


# ---- the sweep -----------------------------------------------------------------------------

def run(grid=None, executor="local", workers=None, out=None, scheduler=None, retry_failed=False,
        say=Out(quiet=True)):
    """Run every setting of ``grid`` (see ``expand_grid``) and return the table: one dict per run.

    executor: 'local' (a process pool on this machine, ``workers`` processes, default one per
    core) or 'dask' (a Dask LocalCluster of ``workers`` processes, or the existing cluster at
    ``scheduler='tcp://host:port'``; needs ``pip install "tinygrad_relu[dask]"``).
    out: directory for the table and the per-run files that make a sweep resumable (None:
    nothing is written and nothing resumes).
    """
    runs = expand_grid(grid)
    n_workers = check_executor(executor, workers, scheduler)
    finished = {}
    if out is not None:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ValueError(f"sweep: out={out!r} is a file; give a directory for the table and the run files")
        os.makedirs(os.path.join(out, "runs"), exist_ok=True)
        finished = load_finished(out, runs)
        if retry_failed:
            finished = {k: row for k, row in finished.items() if row["error"] is None}
    pending = [s for s in runs if run_key(s) not in finished]
    # the costliest first, so no worker is left with a deep net at the end while the others idle
    pending.sort(key=lambda s: s["depth"] * s["width"] ** 2 * s["epochs"] * s["samples"], reverse=True)
    where = f"{executor}, scheduler {scheduler}" if scheduler else f"{executor}, {n_workers} workers"
    say(f"sweep: {len(runs)} runs, {len(runs) - len(pending)} already in {out}, {len(pending)} to run ({where})"
        if out is not None else f"sweep: {len(runs)} runs ({where})")
    start = time.perf_counter()
    lost = {}
    for done, (settings, row) in enumerate(run_all(run_one, pending, executor, workers, scheduler), 1):
        key = run_key(settings)
        if isinstance(row, BaseException):  # the worker itself was lost: not saved, so a rerun retries it
            lost[key] = {**{c: None for c in COLUMNS}, **settings,
                         "error": f"{LOST}{type(row).__name__}: {row}"}
            say(f"  [{done}/{len(pending)}] {describe(settings)}: {lost[key]['error']}")
            continue
        if out is not None:
            write_atomically(os.path.join(out, "runs", key + ".json"), json.dumps(row))
        finished[key] = row
        say(f"  [{done}/{len(pending)}] {describe(settings)}: {outcome(row)}")
    rows = [finished.get(run_key(s)) or lost[run_key(s)] for s in runs]
    if pending:
        say(f"sweep: {len(pending)} runs in {time.perf_counter() - start:.1f} s wall")
    if out is not None:
        write_table(out, rows, check_grid(grid))
    return rows


def describe(settings):
    s = settings
    return (f"{s['activation']} depth {s['depth']} width {s['width']} {s['init']} {s['optimizer']} "
            f"lr {s['lr']:g} seed {s['seed']}")


def outcome(row):
    if row["error"] is not None:
        return f"FAILED {row['error']}"
    return (f"test accuracy {pct(row['test_accuracy'])}, first/last gradient {sci(row['grad_ratio'])}, "
            f"dead {pct(row['dead_fraction'])}, {row['seconds']:.2f} s")


def print_summary(rows, say):
    """One line per setting (all but the seed): medians over the seeds."""
    varying = [c for c in SETTINGS if c != "seed" and len({row[c] for row in rows}) > 1]
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row[c] for c in varying), []).append(row)

    def median(values):
        values = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.median(values)) if values else None
    lines = []
    for label, group in groups.items():
        ok = [r for r in group if r["error"] is None]
        lines.append([*label, len(ok), len(group) - len(ok), sci(median(r["grad_ratio"] for r in ok)),
                      pct(median(r["dead_fraction"] for r in ok)), pct(median(r["test_accuracy"] for r in ok))])
    say(table([*varying, "runs", "failed", "first/last grad", "dead", "test acc"], lines))
    say("  (medians over the seeds; first/last grad = |dL/dW| of the first hidden layer over the output layer's, "
        "at initialization;\n   dead = units that output 0 for every test sample, after training)")


class _CallableModule(types.ModuleType):
    """``tinygrad_relu.lab.sweep(grid, executor=...)`` calls ``run``; the module's other names stay reachable."""

    def __call__(self, grid=None, **kwargs):
        return run(grid, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
