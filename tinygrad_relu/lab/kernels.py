"""Claim 4: the cost per element of each activation's Cython kernels, forward and backward."""
import os
import time

import numpy as np

from .. import activations
from .._kernels import threads as kernel_threads
from ..tensor import Tensor
from .common import Out, check_activation, say_reading, table

# the ones the demo times; `tinygrad-relu kernels --activations` takes any activation
KERNEL_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh")


def _numpy_reference(name):
    """The same function and derivative in plain numpy (temporaries and all), for scale."""
    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))
    refs = {
        "relu": lambda x, g: g * (np.maximum(x, 0) > 0),
        "leaky_relu": lambda x, g: (np.where(x > 0, x, 0.2 * x), g * np.where(x > 0, 1.0, 0.2))[1],
        "elu": lambda x, g: (lambda y: g * np.where(x > 0, 1.0, y + 1.0))(np.where(x > 0, x, np.expm1(x))),
        "sigmoid": lambda x, g: (lambda y: g * y * (1 - y))(sigmoid(x)),
        "tanh": lambda x, g: (lambda y: g * (1 - y * y))(np.tanh(x)),
        "silu": lambda x, g: (lambda s: (x * s, g * (s + x * s * (1 - s)))[1])(sigmoid(x)),
    }
    return refs.get(name)


def _best_of(fn, repeats, min_seconds=0.05):
    """Fastest of at least `repeats` runs, repeated for at least `min_seconds` (noise on a busy box)."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeats or (spent < min_seconds and runs < 50 * repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best


def run_kernels(activation_names=KERNEL_ACTIVATIONS, size=1 << 20, repeats=5, dtype="float32", seed=0, threads=1,
                say=Out(quiet=True)):
    """Forward and backward time per element of each activation's Cython kernel (best of `repeats`).

    Inputs have random signs (all-positive data would hide branch mispredictions). Backward is
    the op's own backward (the kernel), called directly so the timing excludes graph bookkeeping.
    `threads` OpenMP threads (default 1: the cost per element on one core, like numpy's ufuncs,
    and steady on a busy machine, where a second thread waits for a core).
    """
    for name in activation_names:
        check_activation(name)
    previous_threads = kernel_threads.get_num_threads()
    kernel_threads.set_num_threads(threads)
    try:
        return _time_kernels(activation_names, size, repeats, dtype, seed, threads, say)
    finally:
        kernel_threads.set_num_threads(previous_threads)


def _time_kernels(activation_names, size, repeats, dtype, seed, threads, say):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(size).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    results = {}
    for name in activation_names:
        fn = activations.get(name)
        x = Tensor(data, requires_grad=True)
        fn(x)  # warm up: first-touch page faults, OpenMP thread start
        out = {}

        def forward():
            out["y"] = fn(x)
        forward_seconds = _best_of(forward, repeats)
        ctx = out["y"]._ctx
        backward_seconds = _best_of(lambda: ctx.backward(grad), repeats)
        reference = _numpy_reference(name)
        numpy_seconds = _best_of(lambda: reference(data, grad), repeats) if reference is not None else None
        results[name] = {"forward_ns": 1e9 * forward_seconds / size, "backward_ns": 1e9 * backward_seconds / size,
                         "total_ns": 1e9 * (forward_seconds + backward_seconds) / size,
                         "numpy_total_ns": None if numpy_seconds is None else 1e9 * numpy_seconds / size}
        say(f"  {name:<11} {results[name]['total_ns']:.2f} ns/element")
    base = results.get("relu", {}).get("total_ns")
    for r in results.values():
        r["vs_relu"] = r["total_ns"] / base if base else None
    return {"settings": {"activations": list(activation_names), "size": size, "repeats": repeats, "dtype": dtype,
                         "threads": threads, "cpus": os.cpu_count()}, "results": results}


def print_kernels(kernels, say, compare=None):
    rows = []
    for name, r in kernels["results"].items():
        speedup = "-" if r["numpy_total_ns"] is None else f"{r['numpy_total_ns'] / r['total_ns']:.1f}x"
        rows.append([name, f"{r['forward_ns']:.2f}", f"{r['backward_ns']:.2f}", f"{r['total_ns']:.2f}",
                     f"{r['vs_relu']:.1f}x" if r["vs_relu"] else "-",
                     "-" if r["numpy_total_ns"] is None else f"{r['numpy_total_ns']:.2f}", speedup])
    say(table(["activation", "forward ns/el", "backward ns/el", "total", "vs relu", "numpy total", "kernel gain"], rows))
    s = kernels["settings"]
    say(f"  ({s['size']:,} {s['dtype']} elements with random signs, best of {s['repeats']}+ runs, "
        f"{s['threads']} thread{'s' if s['threads'] > 1 else ''}; numpy: the same math in numpy)")
    results = kernels["results"]
    if "relu" in results and len(results) > 1:
        slowest = max(results, key=lambda n: results[n]["total_ns"])
        readings = [f"ReLU is a compare and a select, forward and backward ({results['relu']['total_ns']:.2f} ns "
                    f"per element)", f"{slowest} evaluates a transcendental function and costs "
                    f"{results[slowest]['vs_relu']:.0f}x as much ({results[slowest]['total_ns']:.2f} ns)"]
        trained = (compare or {}).get("results", {})
        if "relu" in trained and slowest in trained:
            readings.append(f"in claim 2's training the whole run took {trained['relu']['seconds']:.1f} s with relu "
                            f"and {trained[slowest]['seconds']:.1f} s with {slowest} (matrix multiplies and "
                            f"bookkeeping are the rest)")
        say_reading(readings, say)
