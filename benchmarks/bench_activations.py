"""Activation kernels, forward + backward on 4M float32 elements: ours vs numpy vs PyTorch CPU.

    python benchmarks/bench_activations.py                 # the table
    python benchmarks/bench_activations.py --only relu,gelu --repeats 21
    python benchmarks/bench_activations.py --thresholds    # where OpenMP starts to pay

All contenders run in one process, interleaved (each repeat times every contender once, in
turn) so that a noisy neighbour hurts all of them alike; the figure is the median of the
repeats. Every contender allocates its outputs, as ours does. Inputs have random signs
(so a branchy kernel would pay mispredictions instead of hiding them).

Memory-bandwidth bound: the time numpy takes to copy the bytes the op must move.
  forward  reads x, writes y          -> np.copy of n floats      (2n floats of traffic)
  backward reads g and y (or x), writes gx -> np.copy of 1.5n floats (3n floats of traffic)
An elementwise kernel cannot beat this by much; "ours/bound" below is ours / bound.
OMP_WAIT_POLICY defaults to PASSIVE here (see below); export it to override.

PyTorch: torch.set_num_threads(2); forward is F.<fn>(x) on a requires_grad leaf, backward is
torch.autograd.grad (no accumulation into .grad). Skipped, with a message, if torch is missing.
"""
import argparse
import math
import os
import sys
import time

# Ours and PyTorch each bring an OpenMP runtime; by default their idle worker threads
# spin for a while after every parallel region, and on a 2-core machine a spinning torch
# worker starves our next region (and vice versa): interleaved, both looked 10x slower.
# Passive waiting (set before either runtime starts) makes idle workers sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinygrad_relu._kernels import activations as K  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(2)
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

N = 4_000_000
SOFTMAX_COLS = 100  # softmax rows of 100 classes: (40000, 100)

K_GELU = math.sqrt(2 / math.pi)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


# name -> (ours fwd, ours bwd(g, x, y), numpy fwd, numpy bwd(g, x, y), torch fwd)
# numpy: the fastest plain expression we found (e.g. g * (y > 0) beats np.where for relu).
CASES = {
    "relu": (K.relu_forward, lambda g, x, y: K.relu_backward(g, y),
             lambda x: np.maximum(x, 0), lambda g, x, y: g * (y > 0),
             lambda t: F.relu(t)),
    "leaky_relu": (lambda x: K.leaky_relu_forward(x, 0.01),
                   lambda g, x, y: K.leaky_relu_backward(g, y, 0.01),
                   lambda x: np.maximum(x, np.float32(0.01) * x),
                   lambda g, x, y: np.where(y > 0, g, np.float32(0.01) * g),
                   lambda t: F.leaky_relu(t, 0.01)),
    "relu6": (lambda x: K.clipped_relu_forward(x, 6.0),
              lambda g, x, y: K.clipped_relu_backward(g, y, 6.0),
              lambda x: np.clip(x, 0, 6), lambda g, x, y: g * ((y > 0) & (y < 6)),
              lambda t: F.relu6(t)),
    "hard_sigmoid": (K.hard_sigmoid_forward, lambda g, x, y: K.hard_sigmoid_backward(g, x),
                     lambda x: np.clip(x * np.float32(1 / 6) + np.float32(0.5), 0, 1),
                     lambda g, x, y: g * (((y > 0) & (y < 1)) * np.float32(1 / 6)),
                     lambda t: F.hardsigmoid(t)),
    "softsign": (K.softsign_forward, lambda g, x, y: K.softsign_backward(g, x),
                 lambda x: x / (1 + np.abs(x)), lambda g, x, y: g / np.square(1 + np.abs(x)),
                 lambda t: F.softsign(t)),
    "sigmoid": (K.sigmoid_forward, lambda g, x, y: K.sigmoid_backward(g, y),
                _np_sigmoid, lambda g, x, y: g * y * (1 - y), lambda t: torch.sigmoid(t)),
    "tanh": (K.tanh_forward, lambda g, x, y: K.tanh_backward(g, y),
             np.tanh, lambda g, x, y: g * (1 - y * y), lambda t: torch.tanh(t)),
    "elu": (K.elu_forward, lambda g, x, y: K.elu_backward(g, x),
            lambda x: np.where(x > 0, x, np.expm1(x)),
            lambda g, x, y: np.where(x > 0, g, g * np.exp(x)), lambda t: F.elu(t)),
    "selu": (lambda x: K.elu_forward(x, K.SELU_ALPHA, K.SELU_SCALE),
             lambda g, x, y: K.elu_backward(g, x, K.SELU_ALPHA, K.SELU_SCALE),
             lambda x: np.float32(K.SELU_SCALE) * np.where(x > 0, x, np.float32(K.SELU_ALPHA) * np.expm1(x)),
             lambda g, x, y: np.float32(K.SELU_SCALE) * np.where(x > 0, g, np.float32(K.SELU_ALPHA) * g * np.exp(x)),
             lambda t: F.selu(t)),
    "gelu": (K.gelu_forward, lambda g, x, y: K.gelu_backward(g, x),
             None, None,  # numpy has no erf
             lambda t: F.gelu(t)),
    "gelu_tanh": (lambda x: K.gelu_forward(x, True), lambda g, x, y: K.gelu_backward(g, x, True),
                  lambda x: 0.5 * x * (1 + np.tanh(np.float32(K_GELU) * (x + np.float32(0.044715) * x * x * x))),
                  lambda g, x, y: _np_gelu_tanh_grad(g, x),
                  lambda t: F.gelu(t, approximate="tanh")),
    "silu": (K.silu_forward, lambda g, x, y: K.silu_backward(g, x),
             lambda x: x / (1 + np.exp(-x)),
             lambda g, x, y: _np_silu_grad(g, x), lambda t: F.silu(t)),
    "softplus": (K.softplus_forward, lambda g, x, y: K.softplus_backward(g, x),
                 lambda x: np.logaddexp(np.float32(0), x), lambda g, x, y: g * _np_sigmoid(x),
                 lambda t: F.softplus(t)),
    "mish": (K.mish_forward, lambda g, x, y: K.mish_backward(g, x),
             lambda x: x * np.tanh(np.logaddexp(np.float32(0), x)),
             lambda g, x, y: _np_mish_grad(g, x), lambda t: F.mish(t)),
    "softmax": (K.softmax_forward, lambda g, x, y: K.softmax_backward(g, y),
                _np_softmax, lambda g, x, y: y * (g - (g * y).sum(axis=1, keepdims=True)),
                lambda t: F.softmax(t, dim=-1)),
    "log_softmax": (K.log_softmax_forward, lambda g, x, y: K.log_softmax_backward(g, y),
                    lambda x: x - (np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
                                   + x.max(1, keepdims=True)),
                    lambda g, x, y: g - np.exp(y) * g.sum(axis=1, keepdims=True),
                    lambda t: F.log_softmax(t, dim=-1)),
}


def _np_gelu_tanh_grad(g, x):
    t = np.tanh(np.float32(K_GELU) * (x + np.float32(0.044715) * x * x * x))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * np.float32(K_GELU) * (1 + np.float32(3 * 0.044715) * x * x))


def _np_silu_grad(g, x):
    s = _np_sigmoid(x)
    return g * s * (1 + x * (1 - s))


def _np_mish_grad(g, x):
    t = np.tanh(np.logaddexp(np.float32(0), x))
    return g * (t + x * (1 - t * t) * _np_sigmoid(x))


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def bench(names, repeats, n=N):
    rng = np.random.default_rng(0)
    x_flat = rng.standard_normal(n, dtype=np.float32) * 3
    g_flat = rng.standard_normal(n, dtype=np.float32)
    copy_src = np.empty(int(1.5 * n), dtype=np.float32)
    copy_src[:] = 1
    rows = []
    for name in names:
        ours_f, ours_b, np_f, np_b, torch_f = CASES[name]
        shape = (n // SOFTMAX_COLS, SOFTMAX_COLS) if "softmax" in name else (n,)
        x, g = x_flat.reshape(shape), g_flat.reshape(shape)
        xt = gt = None
        if torch is not None:
            xt = torch.from_numpy(x.copy()).requires_grad_()
            gt = torch.from_numpy(g.copy())
        times = {k: [] for k in ("ours_f", "ours_b", "np_f", "np_b", "torch_f", "torch_b", "copy_f", "copy_b")}
        for _ in range(repeats):
            t, y = _timed(ours_f, x)
            times["ours_f"].append(t)
            times["ours_b"].append(_timed(ours_b, g, x, y)[0])
            if np_f is not None:
                t, y_np = _timed(np_f, x)
                times["np_f"].append(t)
                times["np_b"].append(_timed(np_b, g, x, y_np)[0])
            if torch is not None:
                t, yt = _timed(torch_f, xt)
                times["torch_f"].append(t)
                times["torch_b"].append(_timed(torch.autograd.grad, yt, xt, gt)[0])
            times["copy_f"].append(_timed(np.copy, x)[0])
            times["copy_b"].append(_timed(np.copy, copy_src)[0])
        med = {k: (float(np.median(v)) * 1e3 if v else float("nan")) for k, v in times.items()}
        rows.append((name, med))
    return rows


def print_table(rows, repeats, n=N):
    print(f"forward + backward, {n:,} float32 elements, median of {repeats} interleaved repeats, ms")
    print(f"threads: ours OpenMP (thresholds {K.parallel_thresholds()}), "
          f"torch {torch.get_num_threads() if torch else 'n/a'}, numpy 1")
    head = (f"{'activation':<13}{'ours f+b':>9}{'(f/b)':>13}{'numpy':>8}{'torch':>8}{'bound':>7}"
            f"{'numpy/ours':>11}{'torch/ours':>11}{'ours/bound':>11}")
    print(head)
    print("-" * len(head))
    for name, m in rows:
        ours = m["ours_f"] + m["ours_b"]
        nump = m["np_f"] + m["np_b"]
        tor = m["torch_f"] + m["torch_b"]
        bound = m["copy_f"] + m["copy_b"]
        split = f"({m['ours_f']:.2f}/{m['ours_b']:.2f})"
        print(f"{name:<13}{ours:9.2f}{split:>13}{nump:8.2f}{tor:8.2f}"
              f"{bound:7.2f}{nump / ours:11.2f}{tor / ours:11.2f}{ours / bound:11.2f}")
    if torch is None:
        print("PyTorch not importable: torch columns are nan.")
    print("bound = np.copy of n floats (forward) + np.copy of 1.5n floats (backward); "
          "ratios > 1 in numpy/ours, torch/ours mean ours is faster.")


def measure_thresholds(repeats):
    """Serial vs two threads for a memory-bound (relu) and a compute-bound (sigmoid) kernel."""
    old = K.parallel_thresholds()
    rng = np.random.default_rng(1)
    print("size      relu serial/parallel (us)    sigmoid serial/parallel (us)")
    for n in [1_000, 4_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_000_000, 4_000_000]:
        x = rng.standard_normal(n, dtype=np.float32)
        res = {}
        samples = {k: [] for k in ("rs", "rp", "ss", "sp")}
        for _ in range(repeats):
            for key, fn, par in (("rs", K.relu_forward, False), ("rp", K.relu_forward, True),
                                 ("ss", K.sigmoid_forward, False), ("sp", K.sigmoid_forward, True)):
                K.set_parallel_thresholds(0 if par else 1 << 62, 0 if par else 1 << 62)
                t0 = time.perf_counter()
                for _ in range(5):
                    fn(x)
                samples[key].append((time.perf_counter() - t0) / 5 * 1e6)
        for k, v in samples.items():
            res[k] = float(np.median(v))
        print(f"{n:<10,}{res['rs']:10.1f} {res['rp']:10.1f}          {res['ss']:10.1f} {res['sp']:10.1f}")
    K.set_parallel_thresholds(*old)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated activation names")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--thresholds", action="store_true", help="measure the OpenMP size thresholds")
    args = p.parse_args(argv)
    if args.thresholds:
        measure_thresholds(max(args.repeats, 11))
        return
    if torch is None:
        print("PyTorch is not installed: comparing with numpy and the copy bound only.")
    names = args.only.split(",") if args.only else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown activation(s) {unknown}; choose from {', '.join(CASES)}")
    print_table(bench(names, max(args.repeats, 10)), max(args.repeats, 10))


if __name__ == "__main__":
    main()
