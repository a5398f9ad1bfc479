"""Step time against batch size and threads, ours and PyTorch's: the scale table of docs/performance.md.

    python benchmarks/bench_scale.py                          # (a) and (c), batches 1..512, threads 1 and 2
    python benchmarks/bench_scale.py --only c --batches 32,128 --rounds 3

Every (workload, batch, threads, contender) is timed alone in its own child process
(benchmarks/children.py, the same step run.py times), the rounds alternated ours / PyTorch.
From the 1- and 2-thread medians, the parallel fraction p of a step follows from Amdahl's law,
T(n) = T(1) ((1 - p) + p / n):  p = 2 (1 - T(2) / T(1)), and with it the time expected on n
cores, T(1) ((1 - p) + p / n) (an upper bound on the gain: memory bandwidth and the serial
Python between ops do not shrink with more cores).
"""
import argparse
import json
import os
import sys
import tempfile


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import isolated  # noqa: E402
import workloads as W  # noqa: E402

CHILD = os.path.join(HERE, "children.py")


def amdahl(t1, t2):
    """(parallel fraction from the 1- and 2-thread times, {cores: expected speedup over 1 thread})."""
    p = min(max(2.0 * (1.0 - t2 / t1), 0.0), 1.0)
    return p, {n: 1.0 / ((1.0 - p) + p / n) for n in (2, 4, 8, 16)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="a,c", help="workloads (default a,c)")
    ap.add_argument("--batches", default="1,8,32,128,512")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the table as JSON here")
    args = ap.parse_args(argv)
    specs = W.workload_specs(False)
    names = args.only.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    use_torch = isolated.import_error("torch", isolated.child_env(1)) is None
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            weights = os.path.join(tmp, f"{name}.npz")
            W.save_weights(weights, W.initial_weights(specs[name]))
            for threads in thread_counts:
                env = isolated.child_env(threads)
                for batch in batches:
                    def argv(who):
                        return [sys.executable, CHILD, "step", name, who, "--weights", weights, "--threads",
                                str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup),
                                "--batch", str(batch)]
                    commands = {"ours": argv("ours")} | ({"torch": argv("torch")} if use_torch else {})
                    answers = isolated.alternate(commands, env, args.rounds, pause=0.2)
                    for who, got in answers.items():
                        stats = isolated.combine(got)
                        table[f"{name}/{who}/{threads}/{batch}"] = stats["median_s"] * 1e3 if stats else None
                    print(f"({name}) batch {batch:4d}, {threads} thread(s): " + ", ".join(
                        f"{who} {table[f'{name}/{who}/{threads}/{batch}'] or float('nan'):.3f} ms" for who in commands),
                        flush=True)
    print(f"\nload average after: {os.getloadavg()}")
    contenders = ["ours"] + (["torch"] if use_torch else [])
    for name in names:
        print(f"\n({name}) {specs[name]['title']}: ms per step (median of {args.rounds} alternated rounds, each alone)")
        print(f"{'batch':>6}" + "".join(f"{who + ' ' + str(t) + 't':>12}" for who in contenders for t in thread_counts)
              + "".join(f"{who + ' p':>9}" for who in contenders) + f"{'ours/torch 2t':>15}")
        for batch in batches:
            row = f"{batch:6d}"
            for who in contenders:
                for t in thread_counts:
                    v = table.get(f"{name}/{who}/{t}/{batch}")
                    row += f"{v:12.3f}" if v else f"{'-':>12}"
            for who in contenders:
                t1, t2 = table.get(f"{name}/{who}/1/{batch}"), table.get(f"{name}/{who}/2/{batch}")
                row += f"{amdahl(t1, t2)[0]:9.2f}" if t1 and t2 else f"{'-':>9}"
            o2, p2 = table.get(f"{name}/ours/2/{batch}"), table.get(f"{name}/torch/2/{batch}")
            row += f"{o2 / p2:15.2f}" if o2 and p2 else f"{'-':>15}"
            print(row)
    print("p: parallel fraction by Amdahl's law from the 1- and 2-thread times, p = 2 (1 - T2/T1); "
          "expected speedup on n cores 1 / ((1 - p) + p / n).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ms": table, "load": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()
