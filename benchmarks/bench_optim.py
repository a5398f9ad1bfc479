"""Optimizer step and loss call, per training step: ours (numpy path, fused kernels) vs PyTorch CPU.

    python benchmarks/bench_optim.py                  # Adam step table + loss table
    python benchmarks/bench_optim.py --optimizers     # every optimizer, fused vs numpy
    python benchmarks/bench_optim.py --threshold      # where OpenMP starts to pay in the kernels
    python benchmarks/bench_optim.py --repeats 41 --steps 50

Parameter sets are the Dense kernels and biases (float32) of the two MLPs in issue 6:
784-512-256-10 (535,818 parameters) and 40-100-100-10 (15,210). One "step" is
``opt.apply_gradients(params)`` with every ``.grad`` set, or ``torch.optim.Adam.step()``
(foreach, its default on CPU) with ``torch.set_num_threads(2)``. The loss row is one
forward + backward of softmax-crossentropy on logits, Keras' mean reduction.

All contenders run in one process, interleaved (each repeat times every contender once, in
turn, over --steps steps), and the figure is the median over repeats, in microseconds per
step. "fused 1T" is the fused step with the OpenMP split disabled (one thread). Our parallel loops and PyTorch's each bring an OpenMP runtime; idle workers are told
to sleep (OMP_WAIT_POLICY=PASSIVE, set before either starts) so they do not starve each other.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinygrad_relu import Tensor, losses, optimizers  # noqa: E402
from tinygrad_relu._kernels import optim as K  # noqa: E402

try:
    import torch
    torch.set_num_threads(2)
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

MLPS = {"784-512-256-10": (784, 512, 256, 10), "40-100-100-10": (40, 100, 100, 10)}
LOSS_SHAPES = {"128x10": (128, 10), "100x10": (100, 10)}


def mlp_shapes(sizes):
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


def interleaved(contenders, repeats, steps):
    """{name: median microseconds per call}, every repeat timing each contender in turn."""
    for fn in contenders.values():  # warm-up: state built, caches and pages touched
        for _ in range(3):
            fn()
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            samples[name].append((time.perf_counter() - start) / steps * 1e6)
    return {name: float(np.median(s)) for name, s in samples.items()}


def single_threaded(step):
    """The same step with the kernels' OpenMP threshold out of reach (one thread)."""
    def call():
        old = K.set_parallel_threshold(1 << 62)
        try:
            step()
        finally:
            K.set_parallel_threshold(old)
    return call


def our_step(make_opt, shapes, fused, seed=0):
    rng = np.random.default_rng(seed)
    params = [Tensor(rng.standard_normal(s).astype(np.float32) * 0.05, requires_grad=True) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in shapes]
    opt = make_opt()
    opt.fused = fused

    def step():
        for p, g in zip(params, grads):
            p.grad = g
        opt.apply_gradients(params)
    return step


def torch_step(shapes, seed=0, kind="Adam"):
    rng = np.random.default_rng(seed)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32) * 0.05, requires_grad=True) for s in shapes]
    for p, s in zip(params, shapes):
        p.grad = torch.tensor(rng.standard_normal(s).astype(np.float32) * 1e-3)
    opt = getattr(torch.optim, kind)(params, lr=1e-3)
    return opt.step


# Our optimizer -> PyTorch's nearest one (same work per element; the equations differ in details)
TORCH_PEERS = {"SGD": "SGD", "Adam": "Adam", "AdamW": "AdamW", "RMSprop": "RMSprop", "Adagrad": "Adagrad",
               "Nadam": "NAdam", "Adamax": "Adamax", "Adadelta": "Adadelta"}


def adam_table(repeats, steps):
    print(f"Adam step, float32, median us per step ({repeats} repeats x {steps} steps, interleaved)")
    header = (f"{'parameter set':>16} {'params':>8} {'numpy':>9} {'fused':>9} {'fused 1T':>9} {'torch':>9} "
              f"{'fused/numpy':>12} {'fused/torch':>12}")
    print(header)
    for label, sizes in MLPS.items():
        shapes = mlp_shapes(sizes)
        contenders = {"numpy": our_step(optimizers.Adam, shapes, fused=False),
                      "fused": our_step(optimizers.Adam, shapes, fused=True),
                      "fused 1T": single_threaded(our_step(optimizers.Adam, shapes, fused=True))}
        if torch is not None:
            contenders["torch"] = torch_step(shapes)
        t = interleaved(contenders, repeats, steps)
        n = sum(int(np.prod(s)) for s in shapes)
        torch_t = t.get("torch", float("nan"))
        print(f"{label:>16} {n:>8} {t['numpy']:>9.1f} {t['fused']:>9.1f} {t['fused 1T']:>9.1f} {torch_t:>9.1f} "
              f"{t['fused'] / t['numpy']:>12.2f} {t['fused'] / torch_t:>12.2f}")
    if torch is None:
        print("(PyTorch not installed: torch column skipped)")


def optimizer_table(repeats, steps):
    kinds = {"SGD": lambda: optimizers.SGD(), "SGD momentum": lambda: optimizers.SGD(momentum=0.9),
             "SGD nesterov": lambda: optimizers.SGD(momentum=0.9, nesterov=True),
             "Adam": optimizers.Adam, "Adam amsgrad": lambda: optimizers.Adam(amsgrad=True),
             "AdamW": optimizers.AdamW, "Adam clipnorm": lambda: optimizers.Adam(clipnorm=1.0),
             "Adam use_ema": lambda: optimizers.Adam(use_ema=True),
             "RMSprop": optimizers.RMSprop, "RMSprop centered+mom": lambda: optimizers.RMSprop(centered=True,
                                                                                          momentum=0.9),
             "Adagrad": optimizers.Adagrad, "Nadam": optimizers.Nadam, "Adamax": optimizers.Adamax,
             "Adadelta": optimizers.Adadelta, "Ftrl": optimizers.Ftrl, "Lion": optimizers.Lion,
             "Lamb (numpy only)": optimizers.Lamb}
    for label, sizes in MLPS.items():
        shapes = mlp_shapes(sizes)
        print(f"\n{label}: median us per step (torch: its nearest optimizer, torch.optim.<name>)")
        print(f"{'optimizer':>22} {'numpy':>9} {'fused':>9} {'torch':>9} {'fused/numpy':>12} {'fused/torch':>12}")
        for name, make in kinds.items():
            contenders = {"numpy": our_step(make, shapes, False), "fused": our_step(make, shapes, True)}
            if torch is not None and name in TORCH_PEERS:
                contenders["torch"] = torch_step(shapes, kind=TORCH_PEERS[name])
            t = interleaved(contenders, repeats, steps)
            torch_t = t.get("torch", float("nan"))
            print(f"{name:>22} {t['numpy']:>9.1f} {t['fused']:>9.1f} {torch_t:>9.1f} {t['fused'] / t['numpy']:>12.2f} "
                  f"{t['fused'] / torch_t:>12.2f}")


def loss_table(repeats, steps):
    print(f"\nsoftmax-crossentropy on logits, forward + backward, float32, median us per call")
    print(f"{'batch':>8} {'loss':>34} {'ours':>9} {'torch':>9} {'ours/torch':>11}")
    rng = np.random.default_rng(0)
    for label, (n, k) in LOSS_SHAPES.items():
        logits = rng.standard_normal((n, k)).astype(np.float32)
        labels = rng.integers(0, k, n)
        one_hot = np.eye(k, dtype=np.float32)[labels]
        for loss, y in ((losses.SparseCategoricalCrossentropy(from_logits=True), labels),
                        (losses.CategoricalCrossentropy(from_logits=True), one_hot)):
            def ours(loss=loss, y=y):
                x = Tensor._make(logits, True, None)
                loss(y, x).backward()
            contenders = {"ours": ours}
            if torch is not None:
                tlabels = torch.tensor(labels)
                tlogits = torch.tensor(logits, requires_grad=True)
                tone_hot = torch.tensor(one_hot)
                target = tlabels if isinstance(loss, losses.SparseCategoricalCrossentropy) else tone_hot

                def theirs(target=target):
                    tlogits.grad = None
                    torch.nn.functional.cross_entropy(tlogits, target).backward()
                contenders["torch"] = theirs
            t = interleaved(contenders, repeats, steps)
            torch_t = t.get("torch", float("nan"))
            print(f"{label:>8} {loss.name:>34} {t['ours']:>9.1f} {torch_t:>9.1f} {t['ours'] / torch_t:>11.2f}")


def threshold_table(repeats, steps):
    """Adam kernel alone, one thread vs two, by array size: where the second thread starts to pay."""
    print("Adam kernel, float32, us per call: 1 thread vs 2 threads (set_parallel_threshold)")
    print(f"{'elements':>10} {'1 thread':>10} {'2 threads':>10} {'ratio':>7}")
    old = K.parallel_threshold()
    rng = np.random.default_rng(0)
    for n in (16_384, 65_536, 131_072, 262_144, 401_408, 524_288, 1_048_576, 4_194_304):
        w, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
        m, v = np.zeros_like(w), np.zeros_like(w)

        def run(threshold):
            def call():
                K.set_parallel_threshold(threshold)
                K.adam_update(w, g, m, v, None, 1.0, -np.inf, np.inf, 0.0, False, 0.1, 0.001, 1e-7, 1e-3)
            return call
        t = interleaved({"1": run(1 << 62), "2": run(0)}, repeats, steps)
        print(f"{n:>10} {t['1']:>10.1f} {t['2']:>10.1f} {t['2'] / t['1']:>7.2f}")
    K.set_parallel_threshold(old)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threshold", action="store_true", help="measure the OpenMP crossover instead")
    parser.add_argument("--optimizers", action="store_true", help="every optimizer, fused vs numpy")
    args = parser.parse_args(argv)
    if args.threshold:
        threshold_table(args.repeats, args.steps)
        return
    if args.optimizers:
        optimizer_table(args.repeats, args.steps)
        return
    adam_table(args.repeats, args.steps)
    loss_table(args.repeats, args.steps)


if __name__ == "__main__":
    main()
