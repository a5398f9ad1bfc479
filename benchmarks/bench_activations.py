"""Activation kernels, forward + backward on 4M float32 elements: ours vs PyTorch CPU vs numpy.

    python benchmarks/bench_activations.py                  # each contender alone, alternated rounds
    python benchmarks/bench_activations.py --only relu,gelu --rounds 6
    python benchmarks/bench_activations.py --isa all        # ours once per build of the kernels (baseline/avx2/avx512)
    python benchmarks/bench_activations.py --interleaved    # all contenders in one process, call by call
    python benchmarks/bench_activations.py --thresholds     # where OpenMP starts to pay

Each contender runs alone in a child process per round (benchmarks/isolated.py), the rounds
alternated, and times every activation there: ``--repeats`` forward+backward pairs, median.
The figure per contender is the median over rounds. Every contender allocates its outputs, as
ours does. Inputs have random signs (so a branchy kernel would pay mispredictions instead of
hiding them). Besides the kernels, "relu (Tensor)" times what a user calls: ``x.relu()`` on a
leaf that requires grad, then ``y.backward(g)``, which accumulates into ``x.grad`` (reset to
None before each pair), against the same in PyTorch.

Memory-bandwidth bound ("bound"): the time numpy takes to copy the bytes the op must move.
  forward  reads x, writes y                -> np.copy of n floats   (2n floats of traffic)
  backward reads g and y (or x), writes gx  -> np.copy of 1.5n floats (3n floats of traffic)

PyTorch: forward is F.<fn>(x) on a requires_grad leaf, backward torch.autograd.grad (no
accumulation into .grad), ``--threads`` intra-op threads. Ours: OpenMP with the same count.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

N = 4_000_000
SOFTMAX_COLS = 100  # softmax rows of 100 classes: (40000, 100)
K_GELU = math.sqrt(2 / math.pi)
NAMES = ("relu", "leaky_relu", "relu6", "hard_sigmoid", "softsign", "sigmoid", "tanh", "elu", "selu", "gelu",
         "gelu_tanh", "silu", "softplus", "mish", "softmax", "log_softmax", "relu (Tensor)")


def ours_cases(K):
    """name -> (forward(x), backward(g, x, y)) with our kernels."""
    return {
        "relu": (K.relu_forward, lambda g, x, y: K.relu_backward(g, y)),
        "leaky_relu": (lambda x: K.leaky_relu_forward(x, 0.01), lambda g, x, y: K.leaky_relu_backward(g, y, 0.01)),
        "relu6": (lambda x: K.clipped_relu_forward(x, 6.0), lambda g, x, y: K.clipped_relu_backward(g, y, 6.0)),
        "hard_sigmoid": (K.hard_sigmoid_forward, lambda g, x, y: K.hard_sigmoid_backward(g, x)),
        "softsign": (K.softsign_forward, lambda g, x, y: K.softsign_backward(g, x)),
        "sigmoid": (K.sigmoid_forward, lambda g, x, y: K.sigmoid_backward(g, y)),
        "tanh": (K.tanh_forward, lambda g, x, y: K.tanh_backward(g, y)),
        "elu": (K.elu_forward, lambda g, x, y: K.elu_backward(g, x)),
        "selu": (lambda x: K.elu_forward(x, K.SELU_ALPHA, K.SELU_SCALE),
                 lambda g, x, y: K.elu_backward(g, x, K.SELU_ALPHA, K.SELU_SCALE)),
        "gelu": (K.gelu_forward, lambda g, x, y: K.gelu_backward(g, x)),
        "gelu_tanh": (lambda x: K.gelu_forward(x, True), lambda g, x, y: K.gelu_backward(g, x, True)),
        "silu": (K.silu_forward, lambda g, x, y: K.silu_backward(g, x)),
        "softplus": (K.softplus_forward, lambda g, x, y: K.softplus_backward(g, x)),
        "mish": (K.mish_forward, lambda g, x, y: K.mish_backward(g, x)),
        "softmax": (K.softmax_forward, lambda g, x, y: K.softmax_backward(g, y)),
        "log_softmax": (K.log_softmax_forward, lambda g, x, y: K.log_softmax_backward(g, y)),
    }


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_cases():
    """The fastest plain numpy expressions we found (e.g. g * (y > 0) beats np.where for relu); no gelu (no erf)."""
    f32 = np.float32

    def gelu_tanh_grad(g, x, y):
        t = np.tanh(f32(K_GELU) * (x + f32(0.044715) * x * x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * f32(K_GELU) * (1 + f32(3 * 0.044715) * x * x))

    def silu_grad(g, x, y):
        s = _np_sigmoid(x)
        return g * s * (1 + x * (1 - s))

    def mish_grad(g, x, y):
        t = np.tanh(np.logaddexp(f32(0), x))
        return g * (t + x * (1 - t * t) * _np_sigmoid(x))

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e
    alpha, scale = f32(1.6732632423543772), f32(1.0507009873554805)
    return {
        "relu": (lambda x: np.maximum(x, 0), lambda g, x, y: g * (y > 0)),
        "leaky_relu": (lambda x: np.maximum(x, f32(0.01) * x), lambda g, x, y: np.where(y > 0, g, f32(0.01) * g)),
        "relu6": (lambda x: np.clip(x, 0, 6), lambda g, x, y: g * ((y > 0) & (y < 6))),
        "hard_sigmoid": (lambda x: np.clip(x * f32(1 / 6) + f32(0.5), 0, 1),
                         lambda g, x, y: g * (((y > 0) & (y < 1)) * f32(1 / 6))),
        "softsign": (lambda x: x / (1 + np.abs(x)), lambda g, x, y: g / np.square(1 + np.abs(x))),
        "sigmoid": (_np_sigmoid, lambda g, x, y: g * y * (1 - y)),
        "tanh": (np.tanh, lambda g, x, y: g * (1 - y * y)),
        "elu": (lambda x: np.where(x > 0, x, np.expm1(x)), lambda g, x, y: np.where(x > 0, g, g * np.exp(x))),
        "selu": (lambda x: scale * np.where(x > 0, x, alpha * np.expm1(x)),
                 lambda g, x, y: scale * np.where(x > 0, g, alpha * g * np.exp(x))),
        "gelu_tanh": (lambda x: 0.5 * x * (1 + np.tanh(f32(K_GELU) * (x + f32(0.044715) * x * x * x))), gelu_tanh_grad),
        "silu": (lambda x: x / (1 + np.exp(-x)), silu_grad),
        "softplus": (lambda x: np.logaddexp(f32(0), x), lambda g, x, y: g * _np_sigmoid(x)),
        "mish": (lambda x: x * np.tanh(np.logaddexp(f32(0), x)), mish_grad),
        "softmax": (softmax, lambda g, x, y: y * (g - (g * y).sum(axis=1, keepdims=True))),
        "log_softmax": (lambda x: x - (np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
                                       + x.max(1, keepdims=True)),
                        lambda g, x, y: g - np.exp(y) * g.sum(axis=1, keepdims=True)),
    }


def torch_cases(torch):
    F = torch.nn.functional
    return {"relu": F.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "relu6": F.relu6,
            "hard_sigmoid": F.hardsigmoid, "softsign": F.softsign, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
            "elu": F.elu, "selu": F.selu, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
            "silu": F.silu, "softplus": F.softplus, "mish": F.mish, "softmax": lambda t: F.softmax(t, dim=-1),
            "log_softmax": lambda t: F.log_softmax(t, dim=-1)}


def inputs(name, n=N):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32) * 3
    g = rng.standard_normal(n, dtype=np.float32)
    shape = (n // SOFTMAX_COLS, SOFTMAX_COLS) if "softmax" in name else (n,)
    return x.reshape(shape), g.reshape(shape)


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def pairs(contender, threads):
    """name -> a function running one forward + backward pair, for one contender."""
    if contender == "ours":
        import tinygrad_relu as tr
        from tinygrad_relu._kernels import activations as K
        tr.set_num_threads(threads)
        out = {}
        for name, (forward, backward) in ours_cases(K).items():
            x, g = inputs(name)
            out[name] = lambda f=forward, b=backward, x=x, g=g: b(g, x, f(x))
        x, g = inputs("relu")
        leaf = tr.Tensor(x, requires_grad=True)

        def tensor_relu():
            leaf.grad = None
            leaf.relu().backward(g)
        out["relu (Tensor)"] = tensor_relu
        return out, {"isa": K.ISA, "threads": tr.get_num_threads()}
    if contender == "torch":
        import torch
        torch.set_num_threads(threads)
        out = {}
        for name, forward in torch_cases(torch).items():
            x, g = inputs(name)
            xt, gt = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(g.copy())
            out[name] = lambda f=forward, xt=xt, gt=gt: torch.autograd.grad(f(xt), xt, gt)
        x, g = inputs("relu")
        leaf, gt = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(g.copy())

        def tensor_relu():
            leaf.grad = None
            torch.relu(leaf).backward(gt)
        out["relu (Tensor)"] = tensor_relu
        return out, {"torch": torch.__version__, "threads": torch.get_num_threads()}
    out = {}  # numpy (one thread) and the copy bound
    for name, (forward, backward) in numpy_cases().items():
        x, g = inputs(name)
        out[name] = lambda f=forward, b=backward, x=x, g=g: b(g, x, f(x))
    x = inputs("relu")[0]
    src = np.ones(int(1.5 * N), dtype=np.float32)
    out["bound"] = lambda: (np.copy(x), np.copy(src))
    return out, {"numpy": np.__version__}


def child_main(contender, names, threads, repeats):
    import json
    fns, info = pairs(contender, threads)
    result = {name: median_ms(fns[name], repeats) for name in list(names) + ["bound"] if name in fns}
    print("@@" + json.dumps({"ms": result, "info": info}), flush=True)


def isolated_main(args, names):
    import isolated
    env = isolated.child_env(args.threads)
    me = [sys.executable, os.path.abspath(__file__), "--_child", "--only", ",".join(names), "--threads",
          str(args.threads), "--repeats", str(args.repeats)]
    commands = {}
    isas = ["default"]
    if args.isa == "all":
        from tinygrad_relu._kernels import activations, cpu
        isas = [i for i in activations.built_isas() if i in cpu.supported_isas()]
    elif args.isa:
        isas = [args.isa]
    for isa in isas:
        label = "ours" if isa == "default" else f"ours[{isa}]"
        commands[label] = me + ["ours"] + ([] if isa == "default" else ["--isa", isa])
    if isolated.import_error("torch", env) is None:
        commands["torch"] = me + ["torch"]
    commands["numpy"] = me + ["numpy"]
    answers = isolated.alternate(commands, env, args.rounds)
    table = {}
    for who, got in answers.items():
        error = isolated.first_error(got)
        if error:
            print(f"{who}: {error}")
        good = [a for a in got if "error" not in a]
        if good:
            table[who] = {name: float(np.median([a["ms"][name] for a in good])) for name in good[0]["ms"]}
            table[who]["_info"] = good[0]["info"]
    print_table(table, names, args, f"each contender alone, {args.rounds} alternated rounds of {args.repeats} pairs")


def print_table(table, names, args, how):
    ours_keys = [k for k in table if k.startswith("ours")]
    print(f"forward + backward, {N:,} float32 elements, ms (median over rounds); {how}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("; ".join(f"{k}: {table[k]['_info']}" for k in table))
    head = f"{'activation':<15}" + "".join(f"{k:>15}" for k in ours_keys) + f"{'torch':>9}{'numpy':>9}{'bound':>8}"
    head += "".join(f"{'  ' + k + '/torch':>22}" for k in ours_keys)
    print(head)
    print("-" * len(head))
    bound = table.get("numpy", {}).get("bound", float("nan"))
    for name in names:
        row = f"{name:<15}" + "".join(f"{table[k].get(name, float('nan')):15.2f}" for k in ours_keys)
        torch_ms = table.get("torch", {}).get(name, float("nan"))
        row += f"{torch_ms:9.2f}{table.get('numpy', {}).get(name, float('nan')):9.2f}{bound:8.2f}"
        row += "".join(f"{table[k].get(name, float('nan')) / torch_ms:22.2f}" for k in ours_keys)
        print(row)
    print("bound = np.copy of n floats (forward) + np.copy of 1.5n floats (backward); ours/torch below 1: ours faster. "
          "relu (Tensor): x.relu().backward(g) into x.grad, against torch.relu(x).backward(g).")


def interleaved_main(args, names):
    """The issue-6 mode: every contender in this process, one pair each in turn."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning workers of one runtime starve the other's
    contenders = {}
    for who in ("ours", "torch", "numpy"):
        try:
            contenders[who] = pairs(who, args.threads)
        except ImportError as exc:
            print(f"{who}: {exc}")
    samples = {who: {name: [] for name in fns} for who, (fns, _) in contenders.items()}
    for _ in range(args.repeats):
        for who, (fns, _) in contenders.items():
            for name in fns:
                if name in names or name == "bound":
                    t0 = time.perf_counter()
                    fns[name]()
                    samples[who][name].append(time.perf_counter() - t0)
    table = {who: {name: float(np.median(v)) * 1e3 for name, v in s.items() if v} for who, s in samples.items()}
    for who, (_, info) in contenders.items():
        table[who]["_info"] = info
    print_table(table, names, args, f"all in one process, {args.repeats} interleaved repeats")


def measure_thresholds(repeats):
    """Serial vs two threads for a memory-bound (relu) and a compute-bound (sigmoid) kernel."""
    from tinygrad_relu._kernels import activations as K
    old = K.parallel_thresholds()
    rng = np.random.default_rng(1)
    print("size      relu serial/parallel (us)    sigmoid serial/parallel (us)")
    for n in [1_000, 4_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_000_000, 4_000_000]:
        x = rng.standard_normal(n, dtype=np.float32)
        samples = {k: [] for k in ("rs", "rp", "ss", "sp")}
        for _ in range(repeats):
            for key, fn, par in (("rs", K.relu_forward, False), ("rp", K.relu_forward, True),
                                 ("ss", K.sigmoid_forward, False), ("sp", K.sigmoid_forward, True)):
                K.set_parallel_thresholds(0 if par else 1 << 62, 0 if par else 1 << 62)
                t0 = time.perf_counter()
                for _ in range(5):
                    fn(x)
                samples[key].append((time.perf_counter() - t0) / 5 * 1e6)
        res = {k: float(np.median(v)) for k, v in samples.items()}
        print(f"{n:<10,}{res['rs']:10.1f} {res['rp']:10.1f}          {res['ss']:10.1f} {res['sp']:10.1f}")
    K.set_parallel_thresholds(*old)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="comma-separated activation names")
    p.add_argument("--repeats", type=int, default=11, help="pairs timed per activation per child (default 11)")
    p.add_argument("--rounds", type=int, default=3, help="children per contender, alternated (default 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--isa", help="our kernels' build: baseline, avx2, avx512, or all (one contender each)")
    p.add_argument("--interleaved", action="store_true", help="all contenders in this process")
    p.add_argument("--thresholds", action="store_true", help="measure the OpenMP size thresholds")
    p.add_argument("--_child", dest="child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        p.error(f"unknown activation(s) {unknown}; choose from {', '.join(NAMES)}")
    if args.child:
        if args.isa:
            os.environ["TINYGRAD_RELU_ISA"] = args.isa
        return child_main(args.contender, names, args.threads, args.repeats)
    if args.thresholds:
        return measure_thresholds(max(args.repeats, 11))
    if args.interleaved:
        return interleaved_main(args, names)
    return isolated_main(args, names)


if __name__ == "__main__":
    main()
