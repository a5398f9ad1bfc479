#!/usr/bin/env python
"""Benchmark suite: tinygrad_relu training steps against PyTorch CPU, and whole fits against Keras 3.

    python benchmarks/run.py                      # everything, each contender alone; table + benchmarks/results.json
    python benchmarks/run.py --only a,e --rounds 6
    python benchmarks/run.py --blas default,unset # twice: as the environment is, and OPENBLAS_CORETYPE/_L2_SIZE unset
    python benchmarks/run.py --interleaved        # the old mode: ours and PyTorch in one process, steps alternated
    python benchmarks/run.py --profile e          # cProfile of our train_on_batch, top 15 by tottime
    python benchmarks/run.py --quick --json /tmp/r.json   # tiny sizes (the smoke test)

Workloads (a)-(e) time one training step (forward, loss, backward, Adam update): ours via
``model.train_on_batch(x, y)``, PyTorch via the same network with the same initial weights,
``torch.optim.Adam(eps=1e-7)`` and ``CrossEntropyLoss`` on logits (our softmax + categorical
crossentropy is fused to the same thing). "fit" and "fit_e" time ``model.fit`` of (b) and (e)
against Keras 3 on its torch backend.

By default every contender runs alone (benchmarks/isolated.py): a child process per contender
and per round, the rounds alternated (ours, peer / peer, ours / ...), the median over rounds of
each child's median compared. PyTorch and Keras are optional; what was skipped, and why, is
printed and stored in the JSON.
"""
import argparse
import os
import sys

WORKLOAD_CHOICES = "a, b, c, d, e, fit, fit_e"


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for everyone (default 2)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per child (default 20; --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps per child (default 3; --quick 1)")
    p.add_argument("--rounds", type=int, default=None,
                   help="children per contender, alternated (default 4 for steps, 3 for fits; --quick 1)")
    p.add_argument("--blas", default="default",
                   help="comma-separated OpenBLAS settings for the children: default (as inherited), unset "
                        "(OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed), haswell (OPENBLAS_CORETYPE=Haswell)")
    p.add_argument("--interleaved", action="store_true",
                   help="steps of ours and PyTorch alternated inside this one process (the issue-6 mode)")
    p.add_argument("--block", type=int, default=5, help="--interleaved: timed steps per contender before switching")
    p.add_argument("--pause", type=float, default=0.1, help="--interleaved: seconds to sleep at each switch")
    p.add_argument("--only", default=None, help=f"comma-separated subset of {WORKLOAD_CHOICES}")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (smoke test)")
    p.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"),
                   help="where to write the results (default benchmarks/results.json)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras fit comparisons")
    p.add_argument("--profile", metavar="WORKLOAD", default=None,
                   help="cProfile our train_on_batch on one workload (a-e) and print the top 15 by tottime")
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
_THREADS = ARGS.threads if ARGS is not None else 2
if __name__ == "__main__" and (ARGS.interleaved or ARGS.profile):  # in-process: before numpy loads its pools
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_k] = str(_THREADS)

import cProfile  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import isolated  # noqa: E402
import workloads as W  # noqa: E402

CHILD = os.path.join(HERE, "children.py")


def child_argv(kind, name, contender, weights, args, tracemalloc=False):
    argv = [sys.executable, CHILD, kind, name, contender, "--weights", weights, "--threads", str(args.threads),
            "--steps", str(args.steps), "--warmup", str(args.warmup)]
    return argv + (["--quick"] if args.quick else []) + (["--tracemalloc"] if tracemalloc else [])


def with_ratio(result, target):
    if result.get("ours") and result.get("peer"):
        result["ratio"] = result["ours"]["median_s"] / result["peer"]["median_s"]
        result["ratio_min"] = result["ours"]["min_s"] / result["peer"]["min_s"]
    result["target"] = target
    result["met"] = (result["ratio"] <= target) if "ratio" in result else None
    return result


# ---- each contender alone ---------------------------------------------------------------------------

def isolated_step(name, spec, args, env, use_torch, skipped, tmp):
    weights = os.path.join(tmp, f"{name}.npz")
    W.save_weights(weights, W.initial_weights(spec))
    commands = {"ours": child_argv("step", name, "ours", weights, args, tracemalloc=True)}
    if use_torch:
        commands["peer"] = child_argv("step", name, "torch", weights, args)
    answers = isolated.alternate(commands, env, args.rounds)
    result = {"title": spec["title"], "batch": spec["batch"], "input_shape": list(spec["input_shape"]),
              "flops_per_step": W.flops_per_step(spec), "peer_name": None}
    for who, got in answers.items():
        error = isolated.first_error(got)
        if error:
            skipped.append({"what": f"({name}) {who}", "why": error})
        stats = isolated.combine(got)
        if stats is None:
            continue
        stats["gflops"] = result["flops_per_step"] / stats["median_s"] / 1e9
        result[who] = stats
        first = got[0]
        result.setdefault("peak_rss_growth_mb", {})[who] = first.get("peak_rss_growth_mb")
        result["peak_rss_growth_mb"]["method"] = first.get("rss_method")
        result.setdefault("threads", {})[who] = first.get("threads")
        if who == "ours":
            result["ours_tracemalloc_peak_mb"] = first.get("tracemalloc_peak_mb")
        else:
            result["peer_name"] = f"PyTorch {first['threads']['torch_version']}"
    if "ours" in result and "peer" in result:
        ours_loss, peer_loss = answers["ours"][0]["initial_loss"], answers["peer"][0]["initial_loss"]
        diff = abs(ours_loss - peer_loss)
        result["initial_loss"] = {"ours": ours_loss, "peer": peer_loss, "abs_diff": diff,
                                  "agree": bool(diff < 1e-4 * max(1.0, abs(peer_loss)))}
    return with_ratio(result, W.TARGETS[name])


def isolated_fit(name, args, env, use_keras, skipped, tmp):
    fspec = W.fit_specs(args.quick)[name]
    spec = dict(W.workload_specs(args.quick)[fspec["workload"]], batch=fspec["batch"])
    weights = os.path.join(tmp, f"{name}.npz")
    W.save_weights(weights, W.initial_weights(spec))
    commands = {"ours": child_argv("fit", name, "ours", weights, args)}
    if use_keras:
        commands["peer"] = child_argv("fit", name, "keras", weights, args)
    answers = isolated.alternate(commands, env, args.fit_rounds)
    steps = W.steps_per_fit(fspec)
    result = {"title": W.fit_title(name, fspec), "batch": fspec["batch"], "steps_per_fit": steps,
              "flops_per_step": W.flops_per_step(spec) * steps, "flops_note": "per whole fit", "peer_name": None}
    for who, got in answers.items():
        error = isolated.first_error(got)
        if error:
            skipped.append({"what": f"({name}) {'Keras' if who == 'peer' else who}", "why": error})
        stats = isolated.combine(got, key="seconds")
        if stats is None:
            continue
        stats["gflops"] = result["flops_per_step"] / stats["median_s"] / 1e9
        stats["per_step_ms"] = stats["median_s"] / steps * 1e3
        result[who] = stats
        if who == "peer":
            info = got[0]["info"]
            result["peer_name"] = f"Keras {info['keras']} (torch {info['torch']} backend, {info['torch_threads']} threads)"
    return with_ratio(result, W.TARGETS[name])


def run_isolated(args, blas, selected, skipped):
    env = isolated.child_env(args.threads, blas)
    torch_error = "--no-torch" if args.no_torch else isolated.import_error("torch", env)
    use_torch = torch_error is None
    if torch_error:
        skipped.append({"what": "PyTorch step comparison", "why": torch_error})
    use_keras = not (args.no_keras or args.quick)
    if args.no_keras or args.quick:
        skipped.append({"what": "fit vs Keras", "why": "--no-keras" if args.no_keras else
                        "--quick (importing Keras takes seconds)"})
    sgemm = isolated.run_child([sys.executable, CHILD, "sgemm", "--threads", str(args.threads)]
                               + (["--quick"] if args.quick else []), env)
    run = {"blas": blas, "blas_settings": isolated.blas_settings(env), "sgemm_gflops": sgemm.get("gflops"),
           "sgemm_n": sgemm.get("n"), "loadavg_before": _loadavg(), "workloads": {}}
    specs = W.workload_specs(args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        for name in selected:
            print(f"[{blas}] ({name}) ...", flush=True)
            if name in W.FIT_WORKLOADS:
                run["workloads"][name] = isolated_fit(name, args, env, use_keras, skipped, tmp)
            else:
                run["workloads"][name] = isolated_step(name, specs[name], args, env, use_torch, skipped, tmp)
    run["loadavg_after"] = _loadavg()
    return run


# ---- the interleaved mode: both contenders in this process -----------------------------------------

def interleaved_step(name, spec, torch, args):
    import tinygrad_relu
    tinygrad_relu.set_num_threads(args.threads)
    weights = W.initial_weights(spec)
    model = W.build_ours(spec, weights)
    xs, ys, labels = W.make_data(spec)
    result = {"title": spec["title"], "batch": spec["batch"], "input_shape": list(spec["input_shape"]),
              "flops_per_step": W.flops_per_step(spec), "peer_name": None}
    contenders = [("ours", lambda i: model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)]))]
    if torch is not None:
        torch.set_num_threads(args.threads)
        tmodel = W.build_torch(torch, spec, weights)
        txs = [W.torch_layout(torch, x) for x in xs]
        tls = [torch.from_numpy(lab) for lab in labels]
        ours_loss = float(model.test_on_batch(xs[0], ys[0]))
        peer_loss = W.torch_eval_loss(torch, tmodel, txs[0], tls[0])
        result["initial_loss"] = {"ours": ours_loss, "peer": peer_loss, "abs_diff": abs(ours_loss - peer_loss),
                                  "agree": bool(abs(ours_loss - peer_loss) < 1e-4 * max(1.0, abs(peer_loss)))}
        tstep = W.torch_stepper(torch, tmodel)
        contenders.append(("peer", lambda i: tstep(txs[i % len(txs)], tls[i % len(tls)])))
        result["peer_name"] = f"PyTorch {torch.__version__}"
    for i in range(args.warmup):
        for _, fn in contenders:
            fn(i)
    gc.collect()
    times = {who: [] for who, _ in contenders}
    i, block = args.warmup, args.block
    for b in range(-(-args.steps // block)):
        for who, fn in (contenders if b % 2 == 0 else contenders[::-1]):  # ABBA
            if args.pause > 0:
                time.sleep(args.pause)
            if block > 1:
                fn(i)  # untimed: re-warm caches and thread pools after the other side ran
            for _ in range(min(block, args.steps - b * block)):
                t0 = time.perf_counter()
                fn(i)
                times[who].append(time.perf_counter() - t0)
                i += 1
    for who, ts in times.items():
        result[who] = {"median_s": float(np.median(ts)), "min_s": float(np.min(ts)), "n": len(ts),
                       "gflops": result["flops_per_step"] / float(np.median(ts)) / 1e9}
    return with_ratio(result, W.TARGETS[name])


def run_interleaved(args, selected, skipped):
    torch = None
    if args.no_torch:
        skipped.append({"what": "PyTorch step comparison", "why": "--no-torch"})
    else:
        torch, why = W.import_torch()
        if torch is None:
            skipped.append({"what": "PyTorch step comparison", "why": why})
    run = {"blas": "as this process was started", "blas_settings": isolated.blas_settings(os.environ),
           "loadavg_before": _loadavg(), "workloads": {}}
    specs = W.workload_specs(args.quick)
    for name in selected:
        if name in W.FIT_WORKLOADS:
            skipped.append({"what": f"({name})", "why": "--interleaved times step workloads only"})
            continue
        print(f"({name}) {specs[name]['title']} ...", flush=True)
        run["workloads"][name] = interleaved_step(name, specs[name], torch, args)
    n = 256 if args.quick else 1024
    a = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    np.matmul(a, a)
    t0 = time.perf_counter()
    for _ in range(5):
        np.matmul(a, a)
    run["sgemm_gflops"], run["sgemm_n"] = 5 * 2.0 * n ** 3 / (time.perf_counter() - t0) / 1e9, n
    run["loadavg_after"] = _loadavg()
    return run


# ---- profile mode -------------------------------------------------------------------------------------

def profile_main(name, args):
    import tinygrad_relu
    tinygrad_relu.set_num_threads(args.threads)
    specs = W.workload_specs(args.quick)
    if name not in specs:
        raise SystemExit(f"--profile: unknown workload {name!r}; choose one of {', '.join(specs)}")
    spec = specs[name]
    model = W.build_ours(spec)
    xs, ys, _ = W.make_data(spec)
    for i in range(args.warmup):
        model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
    steps = args.steps if args.steps is not None else 20
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for i in range(steps):
        model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
    profiler.disable()
    wall = time.perf_counter() - t0
    print(f"cProfile of our train_on_batch, workload ({name}) {spec['title']}, batch {spec['batch']}, "
          f"{steps} steps after {args.warmup} warm-up, {args.threads} threads; {wall / steps * 1e3:.2f} ms/step "
          f"under the profiler (which inflates Python-heavy code)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
    print(out.getvalue())


# ---- report -------------------------------------------------------------------------------------------

def _loadavg():
    return [round(v, 2) for v in os.getloadavg()]


def print_run(run, mode):
    s = run["blas_settings"]
    print(f"\n== {mode}; OpenBLAS: {run['blas']} (OPENBLAS_CORETYPE={s['OPENBLAS_CORETYPE']}, "
          f"OPENBLAS_L2_SIZE={s['OPENBLAS_L2_SIZE']}, core {s['core']}); sgemm ceiling {run['sgemm_gflops']:.1f} "
          f"GFLOP/s ({run['sgemm_n']}^3 float32)")
    print(f"load average (1/5/15 min): before {run['loadavg_before']}, after {run['loadavg_after']}")
    head = f"{'':6}{'workload':44}{'ours':>11}{'peer':>11}{'ratio':>8}{'target':>8}  {'met':8}{'min ratio':>9}"
    print("Time per training step (median; fit: per whole fit)")
    print(head)
    for name, r in run["workloads"].items():
        fit = name in W.FIT_WORKLOADS
        scale, unit = (1.0, "s") if fit else (1e3, "ms")
        ours = f"{r['ours']['median_s'] * scale:8.2f}{unit:>3}" if r.get("ours") else f"{'-':>11}"
        peer = f"{r['peer']['median_s'] * scale:8.2f}{unit:>3}" if r.get("peer") else f"{'-':>11}"
        ratio = f"{r['ratio']:8.3f}" if r.get("ratio") is not None else f"{'-':>8}"
        met = {True: "met", False: "NOT met", None: "n/a"}[r.get("met")]
        mratio = f"{r['ratio_min']:9.3f}" if r.get("ratio_min") is not None else f"{'-':>9}"
        print(f"({name:5}){r['title'][:44]:44}{ours}{peer}{ratio}{'<=' + str(r['target']):>8}  {met:8}{mratio}")
    print("Throughput and memory")
    print(f"{'':7}{'MFLOP':>10}{'ours GF/s':>11}{'peer GF/s':>11}{'ours %sgemm':>12}{'ours tm MB':>11}"
          f"{'RSS+ ours':>10}{'RSS+ peer':>10}")
    for name, r in run["workloads"].items():
        ogf = r["ours"]["gflops"] if r.get("ours") else None
        pgf = r["peer"]["gflops"] if r.get("peer") else None
        rss = r.get("peak_rss_growth_mb", {})
        tm = r.get("ours_tracemalloc_peak_mb")
        cells = [f"{r['flops_per_step'] / 1e6:10.1f}", _cell(ogf, 11), _cell(pgf, 11),
                 f"{100 * ogf / run['sgemm_gflops']:11.1f}%" if ogf and run.get("sgemm_gflops") else f"{'-':>12}",
                 _cell(tm, 11), _cell(rss.get("ours"), 10, ".1f"), _cell(rss.get("peer"), 10, ".1f")]
        print(f"({name:5})" + "".join(cells))
        loss = r.get("initial_loss")
        if loss and not loss["agree"]:
            print(f"WARNING ({name}): initial losses differ: ours {loss['ours']:.6f} vs PyTorch {loss['peer']:.6f}")


def _cell(value, width, fmt=".2f"):
    return f"{value:{width}{fmt}}" if isinstance(value, (int, float)) else f"{'-':>{width}}"


def main(args):
    if args.profile:
        args.warmup = 5 if args.warmup is None else args.warmup
        return profile_main(args.profile, args)
    args.steps = args.steps if args.steps is not None else (3 if args.quick else (30 if args.interleaved else 20))
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    args.fit_rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 4)
    if min(args.steps, args.warmup, args.rounds, args.block, args.threads) < 1 or args.pause < 0:
        raise SystemExit("--steps, --warmup, --rounds, --block and --threads must be at least 1, --pause non-negative")
    selected = list(W.WORKLOAD_NAMES)
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in selected if s not in W.WORKLOAD_NAMES]
        if bad:
            raise SystemExit(f"--only: unknown workload(s) {bad}; choose from {WORKLOAD_CHOICES}")
    blas_modes = [m.strip() for m in args.blas.split(",") if m.strip()]
    bad = [m for m in blas_modes if m not in isolated.BLAS_MODES]
    if bad or not blas_modes:
        raise SystemExit(f"--blas: unknown setting(s) {bad}; choose from {', '.join(isolated.BLAS_MODES)}")
    if args.interleaved and blas_modes != ["default"]:
        raise SystemExit("--blas applies to the child processes; for --interleaved set the variables on the command "
                         "(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py --interleaved)")
    skipped = []
    if args.interleaved:
        runs = [run_interleaved(args, selected, skipped)]
        mode = "interleaved in one process"
    else:
        runs = [run_isolated(args, blas, selected, skipped) for blas in blas_modes]
        mode = "each contender alone (a child per contender and round, rounds alternated)"
    import tinygrad_relu
    meta = {"quick": args.quick, "mode": mode, "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
            "fit_rounds": args.fit_rounds, "threads": {"requested": args.threads},
            "sgemm_gflops": runs[0]["sgemm_gflops"], "sgemm_n": runs[0]["sgemm_n"], "cpu_count": os.cpu_count(),
            "cpu": _cpu_model(), "python": platform.python_version(), "numpy": np.__version__,
            "tinygrad_relu": tinygrad_relu.__version__, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    for run in runs:
        print_run(run, mode)
    print("\nratio: ours/peer of the medians (judged against the target); min ratio: of the fastest steps. "
          "MFLOP: 2*M*N*K per GEMM/conv x3 (fwd+bwd), per step (fit: per whole fit). ours tm MB: tracemalloc "
          "peak of one step above the memory held before it. RSS+: peak RSS growth over a child's first 3 steps (MB).")
    for s in skipped:
        print(f"skipped: {s['what']}: {s['why']}")
    results = {"meta": meta, "skipped": skipped, "workloads": runs[0]["workloads"], "runs": runs}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nwrote {args.json}")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


if __name__ == "__main__":
    main(ARGS)
