"""What one benchmark child process does: time one contender, alone, and print one JSON line.

    python benchmarks/children.py step e ours --weights w.npz --steps 20 --warmup 3 --threads 2
    python benchmarks/children.py fit fit_e keras --weights w.npz --threads 2
    python benchmarks/children.py sgemm --threads 2

Contenders: "ours" (tinygrad_relu), "torch" (the PyTorch twin of a step workload), "keras" (Keras 3
on its torch backend, for fit workloads). The thread environment (OMP/OPENBLAS/MKL_NUM_THREADS)
comes from the parent; the child also sets each library's own count. The answer, after "@@":
{"times": [seconds per timed step] or {"seconds": one whole fit}, "initial_loss" (the loss of
the initial weights on batch 0 in inference mode: both sides must agree, which checks that they
are the same network with the same weights, dropout or not), "threads", and memory figures.
"""
import argparse
import gc
import json
import os
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import workloads as W  # noqa: E402


def answer(payload):
    print("@@" + json.dumps(payload), flush=True)


def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_rss_growth_mb(run_steps):
    """Peak RSS growth (MB) while run_steps() runs: VmHWM after minus VmRSS before, the peak reset
    through /proc/self/clear_refs first (falls back to the ru_maxrss delta, a lower bound)."""
    import resource
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _proc_status_kb("VmRSS")
        run_steps()
        return (_proc_status_kb("VmHWM") - before) / 1024.0, "VmHWM - VmRSS before (clear_refs)"
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run_steps()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024.0, "ru_maxrss delta (lower bound)"


def tracemalloc_peak_mb(step, repeats=2):
    """Peak bytes numpy allocated during one step above what was held before it (MB)."""
    tracemalloc.start()
    try:
        peak = 0
        for _ in range(repeats):
            gc.collect()
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            step()
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    return peak / 2 ** 20


def timed(step, warmup, steps, first=0):
    for i in range(warmup):
        step(first + i)
    gc.collect()
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(first + warmup + i)
        times.append(time.perf_counter() - t0)
    return times


def step_child(args):
    spec = W.workload_specs(args.quick)[args.workload]
    if args.batch:
        spec = dict(spec, batch=args.batch)
    weights = W.load_weights(args.weights, spec)
    xs, ys, labels = W.make_data(spec)
    if args.contender == "ours":
        import tinygrad_relu
        from tinygrad_relu import _blas
        from tinygrad_relu._kernels import activations
        tinygrad_relu.set_num_threads(args.threads)
        model = W.build_ours(spec, weights)
        initial = float(model.test_on_batch(xs[0], ys[0]))

        def step(i):
            model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
        threads = {"tinygrad_relu": tinygrad_relu.get_num_threads(), "blas": _blas.get_num_threads(),
                   "activation_kernels": activations.ISA}
    else:
        torch, why = W.import_torch()
        if torch is None:
            return answer({"error": why})
        torch.set_num_threads(args.threads)
        model = W.build_torch(torch, spec, weights)
        txs = [W.torch_layout(torch, x) for x in xs]
        tls = [torch.from_numpy(lab) for lab in labels]
        initial = W.torch_eval_loss(torch, model, txs[0], tls[0])
        tstep = W.torch_stepper(torch, model)

        def step(i):
            tstep(txs[i % len(txs)], tls[i % len(tls)])
        threads = {"torch": torch.get_num_threads(), "torch_version": torch.__version__}
    rss, rss_method = peak_rss_growth_mb(lambda: [step(i) for i in range(3)])
    times = timed(step, args.warmup, args.steps, first=3)
    result = {"times": times, "initial_loss": initial, "threads": threads, "peak_rss_growth_mb": rss,
              "rss_method": rss_method}
    if args.contender == "ours" and args.tracemalloc:
        result["tracemalloc_peak_mb"] = tracemalloc_peak_mb(lambda: step(0))
    answer(result)


def fit_child(args):
    fspec = W.fit_specs(args.quick)[args.workload]
    spec = dict(W.workload_specs(args.quick)[fspec["workload"]], batch=fspec["batch"])
    weights = W.load_weights(args.weights, spec)
    x, y = W.fit_data(spec, fspec)
    if args.contender == "ours":
        import tinygrad_relu
        tinygrad_relu.set_num_threads(args.threads)

        def build():
            return W.build_ours(spec, weights)
        info = {"tinygrad_relu": tinygrad_relu.__version__}
    else:
        os.environ["KERAS_BACKEND"] = "torch"
        try:
            import torch
            torch.set_num_threads(args.threads)
            import keras
        except Exception as exc:  # not installed, or broken
            return answer({"error": f"Keras not importable ({type(exc).__name__}: {exc})"})
        if keras.backend.backend() != "torch":
            return answer({"error": f"Keras backend is {keras.backend.backend()}, not torch"})

        def build():
            return W.build_keras(keras, spec, weights)
        info = {"keras": keras.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    build().fit(x, y, batch_size=fspec["batch"], epochs=1, verbose=0)  # warm-up: lazy imports, first calls
    model = build()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=fspec["batch"], epochs=fspec["epochs"], verbose=0)
    answer({"seconds": [time.perf_counter() - t0], "steps": W.steps_per_fit(fspec), "info": info})


def sgemm_child(args):
    """numpy float32 n x n matmul GFLOP/s with this process's BLAS settings: the ceiling."""
    n = 256 if args.quick else 1024
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), dtype=np.float32)
    for _ in range(2):
        np.matmul(a, b, out=out)
    times = []
    for _ in range(3 if args.quick else 10):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    answer({"gflops": 2.0 * n ** 3 / float(np.median(times)) / 1e9, "n": n})


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("step", "fit", "sgemm"))
    p.add_argument("workload", nargs="?")
    p.add_argument("contender", nargs="?", choices=("ours", "torch", "keras"))
    p.add_argument("--weights")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--batch", type=int, default=None, help="step: another batch size than the workload's")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    try:
        {"step": step_child, "fit": fit_child, "sgemm": sgemm_child}[args.kind](args)
    except Exception as exc:  # report, so the parent prints why instead of a bare exit code
        answer({"error": f"{type(exc).__name__}: {exc}"})
        raise


if __name__ == "__main__":
    main()
