"""Load time of model files against the number of layers: load_model must stay linear.

    python benchmarks/bench_load.py                       # 1k, 10k, 20k layers, two kinds of stack
    python benchmarks/bench_load.py --layers 1000,5000 --repeats 5

Two stacks per layer count, each saved once with ``model.save`` and then loaded ``--repeats``
times (the figure is the fastest load, in seconds, and per layer in microseconds):

* ``dense``: Input(2) then n x Dense(2), compiled with Adam after one training step, so the
  file holds 2 weights and 4 optimizer slots per layer (6 .npy members per layer);
* ``relu``:  Input(2) then n x ReLU (no weights: the architecture alone).

A linear loader keeps the microseconds per layer flat as n grows.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinygrad_relu import layers as L  # noqa: E402
from tinygrad_relu.models import Sequential, load_model  # noqa: E402


def stack(kind, n):
    body = [L.Dense(2) for _ in range(n)] if kind == "dense" else [L.ReLU() for _ in range(n)]
    model = Sequential([L.Input((2,))] + body)
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((4, 2), np.float32), np.ones((4, 2), np.float32))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", default="1000,10000,20000", help="comma-separated layer counts")
    parser.add_argument("--kinds", default="relu,dense", help="comma-separated: relu, dense")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'stack':>6} {'layers':>7} {'MB':>6} {'save s':>7} {'load s':>7} {'us/layer':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds.split(","):
            for n in (int(v) for v in args.layers.split(",")):
                path = os.path.join(folder, f"{kind}_{n}.trm")
                model = stack(kind, n)
                start = time.perf_counter()
                model.save(path)
                save_s = time.perf_counter() - start
                del model
                best = float("inf")
                try:
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        load_model(path)
                        best = min(best, time.perf_counter() - start)
                except ValueError as err:  # a loader that refuses the file it wrote says so here
                    print(f"{kind:>6} {n:>7} refused: {err}", flush=True)
                    continue
                print(f"{kind:>6} {n:>7} {os.path.getsize(path) / 1e6:>6.1f} {save_s:>7.2f} {best:>7.2f} "
                      f"{best / n * 1e6:>9.0f}", flush=True)
                os.unlink(path)


if __name__ == "__main__":
    main()
