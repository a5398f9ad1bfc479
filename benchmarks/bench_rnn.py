#!/usr/bin/env python
"""Recurrent training step: our LSTM (and GRU) against PyTorch's nn.LSTM (nn.GRU) on the CPU.

    python benchmarks/bench_rnn.py                    # every case, 1 thread, 6 alternated rounds
    python benchmarks/bench_rnn.py --threads 2 --rounds 10 --only lstm-small
    python benchmarks/bench_rnn.py --quick            # toy sizes, 2 rounds (the smoke test)

One training step is forward, loss, backward and an Adam update of the model
``Input((T, D)) -> LSTM(U) -> Dense(C, softmax)`` with categorical crossentropy on a batch of B
sequences. Ours is ``model.train_on_batch(x, y)``; PyTorch's is ``nn.LSTM(D, U, batch_first=True)``
with ``nn.Linear(U, C)``, ``CrossEntropyLoss`` on the logits (what our softmax + crossentropy is fused
into) and ``torch.optim.Adam(eps=1e-7)`` (Keras' epsilon). Both start from the same weights (ours,
mapped into PyTorch's layout: its weight_ih is our kernel transposed, gates in the same i, f, g, o
order; its two biases are our bias and zeros) on the same batches, and the first step's losses are
checked to agree.

Each side runs alone, in a process of its own (so neither's thread pools, allocator or imports touch
the other's timings), for a number of rounds; the rounds alternate ours, PyTorch, PyTorch, ours, ...
so drift in the machine's load reaches both. Each round times ``--steps`` steps after ``--warmup``
untimed ones. Reported: the median step over all rounds of each side, and the ratio ours / PyTorch
(below 1: we are faster). Also the time of ``model.fit`` on a few thousand short sequences.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CASES = {  # name: (cell, batch B, timesteps T, features D, units U, classes C)
    "lstm-small": ("lstm", 64, 20, 16, 64, 10),
    "lstm-medium": ("lstm", 64, 50, 32, 128, 10),
    "lstm-large": ("lstm", 128, 100, 64, 256, 10),
    "gru-small": ("gru", 64, 20, 16, 64, 10),
}
QUICK_CASES = {"lstm-small": ("lstm", 8, 5, 4, 6, 3), "gru-small": ("gru", 8, 5, 4, 6, 3)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads for both sides (default 1)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per side (default 6; --quick 2)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per round (default 20; --quick 3)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each round")
    p.add_argument("--only", default=None, help="comma-separated case names: " + ", ".join(CASES))
    p.add_argument("--quick", action="store_true", help="toy sizes (the smoke test)")
    p.add_argument("--no-fit", action="store_true", help="skip the fit timing")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--_child", dest="child", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ---- the children: one side, one case, one round -------------------------------------------------
def initial_weights(case, seed=0):
    """Our layer's weights (Keras layout), drawn once and shared by both sides."""
    import numpy as np
    cell, batch, steps, features, units, classes = case
    gates = 4 if cell == "lstm" else 3
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-0.2, 0.2, (features, gates * units)).astype(np.float32)
    recurrent = np.linalg.qr(rng.standard_normal((gates * units, units)))[0].T.astype(np.float32)
    bias = np.zeros((gates * units,) if cell == "lstm" else (2, gates * units), np.float32)
    dense = rng.uniform(-0.2, 0.2, (units, classes)).astype(np.float32)
    return [kernel, recurrent, bias, dense, np.zeros(classes, np.float32)]


def batches(case, count=4, seed=1):
    import numpy as np
    cell, batch, steps, features, units, classes = case
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.standard_normal((batch, steps, features)).astype(np.float32)
        labels = rng.integers(0, classes, batch)
        out.append((x, np.eye(classes, dtype=np.float32)[labels], labels))
    return out


def ours_step(case):
    sys.path.insert(0, ROOT)
    from tinygrad_relu import layers as L
    from tinygrad_relu.models import Sequential
    cell, batch, steps, features, units, classes = case
    rnn = L.LSTM(units) if cell == "lstm" else L.GRU(units)
    model = Sequential([L.Input((steps, features)), rnn, L.Dense(classes, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.set_weights(initial_weights(case))
    data = batches(case)

    def step(i):
        x, y, _ = data[i % len(data)]
        return float(model.train_on_batch(x, y))
    return step


def torch_step(case, threads):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    cell, batch, steps, features, units, classes = case
    kernel, recurrent, bias, dense, dense_bias = initial_weights(case)
    if cell == "lstm":
        rnn = torch.nn.LSTM(features, units, batch_first=True)
        order = slice(None)
        biases = (bias, np.zeros_like(bias))
    else:  # Keras' z, r, h -> PyTorch's r, z, n; Keras' bias rows are the input and the recurrent biases
        rnn = torch.nn.GRU(features, units, batch_first=True)
        order = np.r_[units:2 * units, 0:units, 2 * units:3 * units]
        biases = (bias[0], bias[1])
    linear = torch.nn.Linear(units, classes)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(kernel[:, order].T)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(recurrent[:, order].T)))
        rnn.bias_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(biases[0][order])))
        rnn.bias_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(biases[1][order])))
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense.T)))
        linear.bias.copy_(torch.from_numpy(dense_bias))
    params = list(rnn.parameters()) + list(linear.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x), torch.from_numpy(labels)) for x, _, labels in batches(case)]

    def step(i):
        x, labels = data[i % len(data)]
        optimizer.zero_grad(set_to_none=True)
        output, _ = rnn(x)
        loss = loss_fn(linear(output[:, -1]), labels)
        loss.backward()
        optimizer.step()
        return float(loss)
    return step


def run_child(spec):
    side, name, quick, steps, warmup, threads = spec.split(":")
    case = (QUICK_CASES if quick == "1" else CASES)[name]
    step = ours_step(case) if side == "ours" else torch_step(case, int(threads))
    first = step(0)
    for i in range(1, int(warmup)):
        step(i)
    times = []
    for i in range(int(steps)):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    print(json.dumps({"first_loss": first, "times": times}))


def child_env(threads):
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[key] = str(threads)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def one_round(side, name, args):
    spec = ":".join([side, name, "1" if args.quick else "0", str(args.steps), str(args.warmup), str(args.threads)])
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--_child", spec], capture_output=True,
                          text=True, env=child_env(args.threads), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit_seconds(quick, threads):
    """Our model.fit of an LSTM on a few thousand short sequences, in a child process."""
    samples, steps, epochs = (256, 10, 1) if quick else (4000, 20, 5)
    script = f"""
import time, numpy as np
from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential
from tinygrad_relu.utils import set_random_seed
set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal(({samples}, {steps}, 8)).astype(np.float32)
y = (x[:, :, 0].cumsum(axis=1)[:, -1] > 0).astype(np.float32)  # the sign of a running sum: needs memory
model = Sequential([L.Input(({steps}, 8)), L.LSTM(32), L.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
history = model.fit(x, y, epochs={epochs}, batch_size=32, verbose=0)
print(time.perf_counter() - start, history.history["accuracy"][-1])
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env(threads),
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    seconds, accuracy = proc.stdout.split()
    return {"samples": samples, "timesteps": steps, "epochs": epochs, "units": 32, "batch": 32,
            "seconds": float(seconds), "final_accuracy": float(accuracy)}


def main():
    args = parse_args()
    if args.child:
        return run_child(args.child)
    args.rounds = args.rounds or (2 if args.quick else 6)
    args.steps = args.steps or (3 if args.quick else 20)
    cases = QUICK_CASES if args.quick else CASES
    names = [n for n in cases if args.only is None or n in args.only.split(",")]
    try:
        import torch  # noqa: F401
        sides = ("ours", "torch")
    except ImportError:
        sides = ("ours",)
        print("PyTorch is not importable: timing ours only")
    results = {"threads": args.threads, "rounds": args.rounds, "steps": args.steps, "cases": {},
               "load_average": os.getloadavg()}
    print(f"{args.rounds} rounds x {args.steps} steps per side, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'case':<12} {'B':>4} {'T':>4} {'D':>4} {'U':>4}  {'ours ms':>8} {'torch ms':>9} {'ratio':>6}  first loss")
    import numpy as np
    for name in names:
        times = {side: [] for side in sides}
        first = {}
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for side in order:
                out = one_round(side, name, args)
                times[side] += out["times"]
                first[side] = out["first_loss"]
        entry = {"case": dict(zip(("cell", "batch", "timesteps", "features", "units", "classes"), cases[name])),
                 "first_loss": first}
        for side in sides:
            entry[side] = {"median_ms": 1e3 * float(np.median(times[side])), "min_ms": 1e3 * min(times[side]),
                           "n": len(times[side])}
        ratio = ""
        if "torch" in sides:
            entry["ratio"] = entry["ours"]["median_ms"] / entry["torch"]["median_ms"]
            entry["losses_agree"] = bool(np.isclose(first["ours"], first["torch"], rtol=1e-4))
            ratio = f"{entry['ratio']:6.2f}"
        results["cases"][name] = entry
        _, b, t, d, u, _ = cases[name]
        print(f"{name:<12} {b:>4} {t:>4} {d:>4} {u:>4}  {entry['ours']['median_ms']:8.2f} "
              f"{entry.get('torch', {}).get('median_ms', float('nan')):9.2f} {ratio:>6}  "
              + ", ".join(f"{s} {v:.5f}" for s, v in first.items()))
    if not args.no_fit:
        results["fit"] = fit_seconds(args.quick, args.threads)
        f = results["fit"]
        print(f"fit: LSTM(32) on {f['samples']} sequences x {f['timesteps']} steps, {f['epochs']} epochs, batch "
              f"{f['batch']}: {f['seconds']:.2f} s (final training accuracy {f['final_accuracy']:.3f})")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == "__main__":
    main()
