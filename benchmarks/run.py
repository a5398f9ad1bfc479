#!/usr/bin/env python
"""Benchmark suite: tinygrad_relu training steps against PyTorch CPU, and a whole fit against Keras 3.

    python benchmarks/run.py                      # everything, table + benchmarks/results.json
    python benchmarks/run.py --only a,c --steps 40
    python benchmarks/run.py --quick --json /tmp/r.json   # tiny sizes (the smoke test)
    python benchmarks/run.py --profile b          # cProfile of our train_on_batch, top 15 by tottime

Workloads (a)-(d) time one training step (forward, loss, backward, Adam update): ours via
``model.train_on_batch(x, y)``, PyTorch via the same network with the same initial weights,
``torch.optim.Adam(eps=1e-7)`` and ``CrossEntropyLoss`` on logits (our softmax + categorical
crossentropy is fused to the same thing). Steps are interleaved ours/peer, the order flipped
every step (ABBA), so drift in machine load hits both alike; the median is reported.
"fit" times ``model.fit`` of workload (b) (5 epochs, 4000 samples, batch 100, verbose=0)
against Keras 3 on its torch backend, run in a child process so Keras' import side effects
stay away from ours, repetitions interleaved with ours.

PyTorch and Keras are optional; what was skipped, and why, is printed and stored in the JSON.
"""
import argparse
import os
import sys

# ---- thread count: must be fixed before numpy/torch load their thread pools --------------------


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for everyone (default 2)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per contender (default 30; --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up steps (default 5; --quick 1)")
    p.add_argument("--fit-repeats", type=int, default=None, help="timed fits per contender (default 3; --quick 1)")
    p.add_argument("--block", type=int, default=5,
                   help="timed steps per contender before switching (default 5; 1 = ours, peer, peer, ours, ...)")
    p.add_argument("--pause", type=float, default=0.1,
                   help="seconds to sleep at each switch, so the other side's spinning thread pools go idle")
    p.add_argument("--only", default=None, help="comma-separated subset of a,b,c,d,fit")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (smoke test)")
    p.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"),
                   help="where to write the results (default benchmarks/results.json)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras fit comparison")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS child processes")
    p.add_argument("--profile", metavar="WORKLOAD", default=None,
                   help="cProfile our train_on_batch on one workload (a, b, c, d) and print the top 15 by tottime")
    # internal: child processes
    p.add_argument("--_keras-server", dest="keras_server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--_rss-child", dest="rss_child", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
_THREADS = ARGS.threads if ARGS is not None else 2
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_ENV_BEFORE = {k: os.environ.get(k) for k in _THREAD_ENV}
if __name__ == "__main__":
    for _k in _THREAD_ENV:  # read by OpenBLAS, MKL and every OpenMP runtime at load time
        os.environ[_k] = str(_THREADS)

import cProfile  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tinygrad_relu  # noqa: E402
from tinygrad_relu import layers as L  # noqa: E402
from tinygrad_relu.models import Sequential  # noqa: E402

TARGETS = {"a": 0.8, "b": 0.7, "c": 1.0, "d": 0.8, "fit": 0.2}
WORKLOAD_NAMES = ("a", "b", "c", "d", "fit")


# ---- workloads: one spec drives both our model and the PyTorch one ------------------------------
# layer tuples: ("dense", units, activation) ("conv2d", filters, k, padding, activation)
#               ("conv1d", filters, k, padding, activation) ("maxpool2d", size) ("flatten",)

def workload_specs(quick):
    if quick:  # same architectures, toy sizes: the smoke test only checks that nothing rots
        return {
            "a": dict(title="MLP 784-512-256-10 relu (quick: 64-32-16-10)", input_shape=(64,), batch=16,
                      layers=[("dense", 32, "relu"), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "b": dict(title="MLP 40-100-100-10 relu (quick: 40-16-16-10)", input_shape=(40,), batch=16,
                      layers=[("dense", 16, "relu"), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "c": dict(title="seed CNN 28x28x1 (quick: 10x10x1, 4/8 filters)", input_shape=(10, 10, 1), batch=8,
                      layers=[("conv2d", 4, 3, "valid", "relu"), ("maxpool2d", 2), ("conv2d", 8, 3, "valid", "relu"),
                              ("flatten",), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "d": dict(title="MNIST-1D CNN 40x1 (quick: 4 filters)", input_shape=(40, 1), batch=16,
                      layers=[("conv1d", 4, 5, "same", "relu"), ("conv1d", 4, 3, "same", "relu"),
                              ("conv1d", 4, 3, "same", "relu"), ("flatten",), ("dense", 10, "softmax")]),
        }
    return {
        "a": dict(title="MLP 784-512-256-10 relu", input_shape=(784,), batch=128,
                  layers=[("dense", 512, "relu"), ("dense", 256, "relu"), ("dense", 10, "softmax")]),
        "b": dict(title="MLP 40-100-100-10 relu", input_shape=(40,), batch=100,
                  layers=[("dense", 100, "relu"), ("dense", 100, "relu"), ("dense", 10, "softmax")]),
        "c": dict(title="seed CNN 28x28x1", input_shape=(28, 28, 1), batch=64,
                  layers=[("conv2d", 32, 3, "valid", "relu"), ("maxpool2d", 2),
                          ("conv2d", 64, 3, "valid", "relu"), ("maxpool2d", 2), ("flatten",),
                          ("dense", 128, "relu"), ("dense", 10, "softmax")]),
        # The last Dense has no activation; ours ends in softmax so that
        # categorical_crossentropy sees probabilities, which the model fuses into CE on logits:
        # the same loss PyTorch's CrossEntropyLoss computes on its plain Linear.
        "d": dict(title="MNIST-1D CNN 40x1 (last Dense softmax)", input_shape=(40, 1), batch=100,
                  layers=[("conv1d", 25, 5, "same", "relu"), ("conv1d", 25, 3, "same", "relu"),
                          ("conv1d", 25, 3, "same", "relu"), ("flatten",), ("dense", 10, "softmax")]),
    }


def fit_spec(quick):
    if quick:
        return dict(workload="b", epochs=1, samples=200, batch=100)
    return dict(workload="b", epochs=5, samples=4000, batch=100)


def shapes_through(spec):
    """[(layer tuple, input shape without batch, output shape without batch)] for every layer."""
    shape = tuple(spec["input_shape"])
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "dense":
            new = (layer[1],)
        elif kind == "conv2d":
            _, filters, k, padding, _ = layer
            h, w = (shape[0], shape[1]) if padding == "same" else (shape[0] - k + 1, shape[1] - k + 1)
            new = (h, w, filters)
        elif kind == "conv1d":
            _, filters, k, padding, _ = layer
            length = shape[0] if padding == "same" else shape[0] - k + 1
            new = (length, filters)
        elif kind == "maxpool2d":
            new = (shape[0] // layer[1], shape[1] // layer[1], shape[2])
        elif kind == "flatten":
            new = (int(np.prod(shape)),)
        else:
            raise ValueError(f"shapes_through: unknown layer kind {kind!r}")
        out.append((layer, shape, new))
        shape = new
    return out


def flops_per_step(spec):
    """2*M*N*K for every GEMM/convolution of the forward pass, times 3 for forward + backward.

    Backward is counted as two GEMMs of the forward's size (input grad and weight grad), also for
    the first layer whose input grad nobody needs; elementwise work, pooling and Adam are not
    counted. The usual convention, so GFLOP/s is comparable with the sgemm ceiling.
    """
    batch = spec["batch"]
    forward = 0
    for layer, shape_in, shape_out in shapes_through(spec):
        kind = layer[0]
        if kind == "dense":
            forward += 2 * batch * shape_in[0] * shape_out[0]
        elif kind == "conv2d":
            k = layer[2]
            forward += 2 * batch * shape_out[0] * shape_out[1] * k * k * shape_in[2] * shape_out[2]
        elif kind == "conv1d":
            k = layer[2]
            forward += 2 * batch * shape_out[0] * k * shape_in[1] * shape_out[1]
    return 3 * forward


# ---- our model ----------------------------------------------------------------------------------

def build_ours(spec):
    layers = [L.Input(tuple(spec["input_shape"]))]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "dense":
            layers.append(L.Dense(layer[1], activation=layer[2]))
        elif kind == "conv2d":
            layers.append(L.Conv2D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "conv1d":
            layers.append(L.Conv1D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "maxpool2d":
            layers.append(L.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            layers.append(L.Flatten())
    model = Sequential(layers)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def make_data(spec, n_batches=4, seed=0):
    """A few distinct batches, cycled, so no contender times a single cache-hot batch."""
    rng = np.random.default_rng(seed)
    batch = spec["batch"]
    n_classes = spec["layers"][-1][1]
    xs, ys, labels = [], [], []
    for _ in range(n_batches):
        xs.append(rng.standard_normal((batch,) + tuple(spec["input_shape"])).astype(np.float32))
        lab = rng.integers(0, n_classes, batch)
        labels.append(lab)
        ys.append(np.eye(n_classes, dtype=np.float32)[lab])
    return xs, ys, labels


# ---- the PyTorch twin -----------------------------------------------------------------------------

def import_torch():
    """(torch module, None) or (None, reason)."""
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install
        return None, f"PyTorch not importable ({type(exc).__name__}: {exc})"
    return torch, None


def build_torch(torch, spec, ours=None):
    """The same network in PyTorch (NCHW / NCL layout); with ``ours``, its initial weights copied in.

    Keras flattens (H, W, C), PyTorch (C, H, W): the first Dense after a Flatten gets its kernel
    rows permuted so both models compute the same function.
    """
    nn = torch.nn
    modules = []
    our_iter = iter(ours.layers) if ours is not None else None  # one of ours per spec layer, in order
    pending_flatten_shape = None

    def next_our_layer():
        return next(our_iter) if our_iter is not None else None

    def as_tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    for layer, shape_in, shape_out in shapes_through(spec):
        kind = layer[0]
        src = next_our_layer()
        if kind == "dense":
            mod = nn.Linear(shape_in[0], layer[1])
            if src is not None:
                kernel, bias = (w.data for w in src.weights)
                if pending_flatten_shape is not None:  # (spatial..., C, out) -> (C, spatial..., out)
                    s = pending_flatten_shape
                    kernel = kernel.reshape(s + (kernel.shape[1],))
                    kernel = np.moveaxis(kernel, len(s) - 1, 0).reshape(-1, kernel.shape[-1])
                with torch.no_grad():
                    mod.weight.copy_(as_tensor(kernel.T))
                    mod.bias.copy_(as_tensor(bias))
            pending_flatten_shape = None
            modules.append(mod)
            if layer[2] == "relu":
                modules.append(nn.ReLU())
            # softmax stays out: CrossEntropyLoss takes logits (our fused softmax + CE)
        elif kind in ("conv2d", "conv1d"):
            _, filters, k, padding, act = layer
            conv = nn.Conv2d if kind == "conv2d" else nn.Conv1d
            mod = conv(shape_in[-1], filters, k, padding=padding)
            if src is not None:
                kernel, bias = (w.data for w in src.weights)
                # Keras (k.., cin, cout) -> PyTorch (cout, cin, k..)
                perm = (3, 2, 0, 1) if kind == "conv2d" else (2, 1, 0)
                with torch.no_grad():
                    mod.weight.copy_(as_tensor(kernel.transpose(perm)))
                    mod.bias.copy_(as_tensor(bias))
            modules.append(mod)
            if act == "relu":
                modules.append(nn.ReLU())
        elif kind == "maxpool2d":
            modules.append(nn.MaxPool2d(layer[1]))
        elif kind == "flatten":
            modules.append(nn.Flatten())
            pending_flatten_shape = tuple(shape_in)
    return nn.Sequential(*modules)


def torch_layout(torch, x):
    """channels_last numpy batch -> PyTorch's channels-first tensor (done once, outside the timing)."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim == 3:
        x = x.transpose(0, 2, 1)
    return torch.from_numpy(np.ascontiguousarray(x))


def torch_stepper(torch, model):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    criterion = torch.nn.CrossEntropyLoss()

    def step(x, labels):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


# ---- measurement helpers ------------------------------------------------------------------------

def summarize(times):
    arr = np.asarray(times, dtype=np.float64)
    return {"median_s": float(np.median(arr)), "min_s": float(arr.min()),
            "p25_s": float(np.percentile(arr, 25)), "p75_s": float(np.percentile(arr, 75)),
            "n": int(arr.size)}


def sgemm_gflops(n=1024, repeats=10):
    """numpy float32 n x n matmul GFLOP/s on this machine, with the thread count in force: the ceiling."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), dtype=np.float32)
    for _ in range(2):
        np.matmul(a, b, out=out)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9, n


def tracemalloc_peak_bytes(fn, repeats=2):
    """Peak bytes traced by tracemalloc during fn() above what was traced before it.

    numpy reports its array buffers to tracemalloc, so for our steps this is the transient
    working memory of a step (activations, gradients, temporaries); it does not see memory
    that was allocated before (weights, Adam state after the first step) or C-level mallocs
    that bypass numpy/Python (none in our kernels). Not comparable to PyTorch, whose
    allocator tracemalloc does not see.
    """
    fn()  # make sure lazy state (Adam moments) already exists
    tracemalloc.start()
    try:
        peak = 0
        for _ in range(repeats):
            gc.collect()
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            fn()
            _, p = tracemalloc.get_traced_memory()
            peak = max(peak, p - base)
    finally:
        tracemalloc.stop()
    return peak


def _proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss_child_main(arg, quick):
    """Child process: build one contender's model and data, then report its peak RSS growth over 3 steps."""
    name, contender = arg.split(":")
    spec = workload_specs(quick)[name]
    xs, ys, labels = make_data(spec)
    if contender == "ours":
        model = build_ours(spec)

        def step(i):
            model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
    else:
        torch, why = import_torch()
        if torch is None:
            print(json.dumps({"error": why}))
            return
        torch.set_num_threads(_THREADS)
        tmodel = build_torch(torch, spec)
        txs = [torch_layout(torch, x) for x in xs]
        tls = [torch.from_numpy(lab) for lab in labels]
        tstep = torch_stepper(torch, tmodel)

        def step(i):
            tstep(txs[i % len(txs)], tls[i % len(tls)])
    gc.collect()
    method = "VmHWM after 3 steps - VmRSS before (peak reset via /proc/self/clear_refs)"
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak-RSS high-water mark to the current RSS
        before = _proc_status_kb("VmRSS")
        for i in range(3):
            step(i)
        after = _proc_status_kb("VmHWM")
    except OSError:
        method = "ru_maxrss delta over 3 steps (a lower bound: the peak before the steps may already be higher)"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for i in range(3):
            step(i)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_growth_mb": (after - before) / 1024.0, "method": method}))


def measure_rss(name, contender, quick):
    cmd = [sys.executable, os.path.abspath(__file__), "--_rss-child", f"{name}:{contender}",
           "--threads", str(_THREADS)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["child failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- step benchmarks ----------------------------------------------------------------------------

def bench_step(name, spec, torch, steps, warmup, block=1, pause=0.0):
    model = build_ours(spec)
    xs, ys, labels = make_data(spec)
    result = {"title": spec["title"], "batch": spec["batch"], "input_shape": list(spec["input_shape"]),
              "flops_per_step": flops_per_step(spec)}

    def ours_step(i):
        return model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])

    contenders = [("ours", ours_step)]
    if torch is not None:
        tmodel = build_torch(torch, spec, ours=model)  # same initial weights as ours
        txs = [torch_layout(torch, x) for x in xs]
        tls = [torch.from_numpy(lab) for lab in labels]
        tstep = torch_stepper(torch, tmodel)

        def peer_step(i):
            return tstep(txs[i % len(txs)], tls[i % len(tls)])
        contenders.append(("peer", peer_step))

    # warm-up; the very first step of each runs on identical weights and data: the losses must agree
    first_losses = {}
    for i in range(warmup):
        for who, fn in contenders:
            loss = fn(i)
            if i == 0:
                first_losses[who] = float(loss)
    if "peer" in first_losses:
        diff = abs(first_losses["ours"] - first_losses["peer"])
        result["first_step_loss"] = {**first_losses, "abs_diff": diff, "agree": bool(diff < 1e-4 * max(1.0, abs(first_losses["peer"])))}

    gc.collect()
    times = {who: [] for who, _ in contenders}
    i = warmup
    for b in range(-(-steps // block)):
        order = contenders if b % 2 == 0 else contenders[::-1]  # ABBA: neither always goes first
        for who, fn in order:
            if pause > 0:
                time.sleep(pause)
            if block > 1:
                fn(i)  # untimed: re-warm caches and thread pools after the other side ran
            for _ in range(min(block, steps - b * block)):
                t0 = time.perf_counter()
                fn(i)
                times[who].append(time.perf_counter() - t0)
                i += 1

    flops = result["flops_per_step"]
    for who, _ in contenders:
        stats = summarize(times[who])
        stats["gflops"] = flops / stats["median_s"] / 1e9
        result[who] = stats
    result["peer_name"] = f"PyTorch {torch.__version__}" if torch is not None else None
    if torch is not None:
        result["ratio"] = result["ours"]["median_s"] / result["peer"]["median_s"]
        result["ratio_min"] = result["ours"]["min_s"] / result["peer"]["min_s"]
    result["target"] = TARGETS[name]
    result["met"] = (result["ratio"] <= TARGETS[name]) if "ratio" in result else None
    result["ours_tracemalloc_peak_mb"] = tracemalloc_peak_bytes(lambda: ours_step(0)) / 2 ** 20
    return result


# ---- whole fit against Keras ----------------------------------------------------------------------

def fit_data(fspec, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((fspec["samples"], 40)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, fspec["samples"])]
    return x, y


def keras_server_main(quick):
    """Child process: import Keras (torch backend) once, then run fits on request from stdin.

    Protocol, one line each way: parent sends "fit" or "quit"; child answers "@@" + JSON.
    """
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import torch
        torch.set_num_threads(_THREADS)
        import keras
    except Exception as exc:
        print("@@" + json.dumps({"error": f"Keras not importable ({type(exc).__name__}: {exc})"}), flush=True)
        return
    if keras.backend.backend() != "torch":
        print("@@" + json.dumps({"error": f"Keras backend is {keras.backend.backend()}, not torch"}), flush=True)
        return
    fspec = fit_spec(quick)
    spec = workload_specs(quick)[fspec["workload"]]
    x, y = fit_data(fspec)

    def build():
        layers = [keras.Input(tuple(spec["input_shape"]))]
        layers += [keras.layers.Dense(units, activation=act) for _, units, act in spec["layers"]]
        model = keras.Sequential(layers)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    build().fit(x, y, batch_size=fspec["batch"], epochs=1, verbose=0)  # warm-up: lazy imports, first-call costs
    print("@@" + json.dumps({"ready": True, "keras": keras.__version__, "torch": torch.__version__,
                             "torch_threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "fit":
            break
        model = build()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=fspec["batch"], epochs=fspec["epochs"], verbose=0)
        print("@@" + json.dumps({"seconds": time.perf_counter() - t0}), flush=True)


class KerasServer:
    def __init__(self, quick):
        env = dict(os.environ, KERAS_BACKEND="torch")
        self._stderr = open(os.devnull, "w")
        cmd = [sys.executable, os.path.abspath(__file__), "--_keras-server", "--threads", str(_THREADS)]
        if quick:
            cmd.append("--quick")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, env=env, bufsize=1)
        self.info = self._read()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        return {"error": f"Keras child exited (code {self.proc.wait()}) without answering"}

    def fit_seconds(self):
        self.proc.stdin.write("fit\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self._stderr.close()


def bench_fit(quick, repeats, use_keras, skipped):
    fspec = fit_spec(quick)
    spec = workload_specs(quick)[fspec["workload"]]
    x, y = fit_data(fspec)
    steps_per_fit = fspec["epochs"] * -(-fspec["samples"] // fspec["batch"])
    flops = flops_per_step(dict(spec, batch=fspec["batch"])) * steps_per_fit
    result = {"title": f"fit of (b): {fspec['epochs']} epochs, {fspec['samples']} samples, batch {fspec['batch']}, "
                       "verbose=0, no metrics", "batch": fspec["batch"], "flops_per_step": flops,
              "flops_note": "per whole fit", "target": TARGETS["fit"]}

    def ours_fit():
        model = build_ours(spec)
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=fspec["batch"], epochs=fspec["epochs"], verbose=0)
        return time.perf_counter() - t0

    build_ours(spec).fit(x, y, batch_size=fspec["batch"], epochs=1, verbose=0)  # warm-up, as Keras gets
    server = None
    if use_keras:
        server = KerasServer(quick)
        if "error" in server.info:
            skipped.append({"what": "fit vs Keras", "why": server.info["error"]})
            server.close()
            server = None
    times = {"ours": [], "peer": []}
    try:
        for i in range(repeats):
            for who in (("ours", "peer") if i % 2 == 0 else ("peer", "ours")):
                if who == "ours":
                    times["ours"].append(ours_fit())
                elif server is not None:
                    answer = server.fit_seconds()
                    if "seconds" not in answer:
                        skipped.append({"what": "fit vs Keras", "why": answer.get("error", "no answer")})
                        server.close()
                        server = None
                        continue
                    times["peer"].append(answer["seconds"])
        if server is not None:
            result["peer_name"] = f"Keras {server.info['keras']} (torch {server.info['torch']} backend, " \
                                  f"{server.info['torch_threads']} threads)"
    finally:
        if server is not None:
            server.close()
    for who in ("ours", "peer"):
        if times[who]:
            stats = summarize(times[who])
            stats["gflops"] = flops / stats["median_s"] / 1e9
            result[who] = stats
    result.setdefault("peer_name", None)
    if "peer" in result:
        result["ratio"] = result["ours"]["median_s"] / result["peer"]["median_s"]
        result["ratio_min"] = result["ours"]["min_s"] / result["peer"]["min_s"]
    result["met"] = (result["ratio"] <= TARGETS["fit"]) if "ratio" in result else None
    return result


# ---- profile mode -------------------------------------------------------------------------------

def profile_main(name, quick, steps, warmup):
    specs = workload_specs(quick)
    if name not in specs:
        raise SystemExit(f"--profile: unknown workload {name!r}; choose one of {', '.join(specs)}")
    spec = specs[name]
    model = build_ours(spec)
    xs, ys, _ = make_data(spec)
    for i in range(warmup):
        model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for i in range(steps):
        model.train_on_batch(xs[i % len(xs)], ys[i % len(ys)])
    profiler.disable()
    wall = time.perf_counter() - t0
    print(f"cProfile of our train_on_batch, workload ({name}) {spec['title']}, batch {spec['batch']}, "
          f"{steps} steps after {warmup} warm-up, {_THREADS} threads; {wall / steps * 1e3:.2f} ms/step "
          f"under the profiler (which inflates Python-heavy code)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
    print(out.getvalue())


# ---- report -------------------------------------------------------------------------------------

def fmt_ms(stats):
    return f"{stats['median_s'] * 1e3:9.2f}" if stats else f"{'-':>9}"


def print_tables(results):
    meta = results["meta"]
    print(f"\nthreads: {meta['threads']['summary']}")
    print(f"sgemm ceiling: numpy float32 {meta['sgemm_n']}x{meta['sgemm_n']} matmul = "
          f"{meta['sgemm_gflops']:.1f} GFLOP/s")
    print(f"order: {'per step, ABBA' if meta['block'] == 1 else 'blocks of %d steps, ABBA, first step of each block untimed' % meta['block']}"
          f"{', pause %.2f s at each switch' % meta['pause_s'] if meta['pause_s'] else ''}")
    print(f"load average (1/5/15 min): before {meta['loadavg_before']}, after {meta['loadavg_after']}  "
          f"({meta['cpu_count']} CPUs)")
    unit = {"fit": "s"}
    head = f"{'':4}{'workload':44}{'ours':>11}{'peer':>11}{'ratio':>8}{'target':>8}  {'met':8}{'min ratio':>9}"
    print("\nTime per training step (median; fit: per whole fit)")
    print(head)
    for name, r in results["workloads"].items():
        scale = 1.0 if name == "fit" else 1e3
        u = unit.get(name, "ms")
        ours = f"{r['ours']['median_s'] * scale:8.2f}{u:>3}" if r.get("ours") else f"{'-':>11}"
        peer = f"{r['peer']['median_s'] * scale:8.2f}{u:>3}" if r.get("peer") else f"{'-':>11}"
        ratio = f"{r['ratio']:8.3f}" if r.get("ratio") is not None else f"{'-':>8}"
        met = {True: "met", False: "NOT met", None: "n/a"}[r.get("met")]
        mratio = f"{r['ours']['min_s'] / r['peer']['min_s']:9.3f}" if r.get("peer") and r.get("ours") else f"{'-':>9}"
        print(f"({name:3}){r['title'][:44]:44}{ours}{peer}{ratio}{'<=' + str(r['target']):>8}  {met:8}{mratio}")
    print("\nThroughput and memory")
    print(f"{'':4}{'MFLOP':>10}{'ours GF/s':>11}{'peer GF/s':>11}{'ours %sgemm':>12}"
          f"{'ours tm MB':>11}{'RSS+ ours':>10}{'RSS+ peer':>10}")
    sg = meta["sgemm_gflops"]
    for name, r in results["workloads"].items():
        ogf = r["ours"]["gflops"] if r.get("ours") else None
        pgf = r["peer"]["gflops"] if r.get("peer") else None
        rss = r.get("peak_rss_growth_mb", {})
        rss_o = rss.get("ours") if isinstance(rss.get("ours"), float) else None
        rss_p = rss.get("peer") if isinstance(rss.get("peer"), float) else None
        tm = r.get("ours_tracemalloc_peak_mb")
        cells = [f"{r['flops_per_step'] / 1e6:10.1f}",
                 f"{ogf:11.2f}" if ogf is not None else f"{'-':>11}",
                 f"{pgf:11.2f}" if pgf is not None else f"{'-':>11}",
                 f"{100 * ogf / sg:11.1f}%" if ogf is not None else f"{'-':>12}",
                 f"{tm:11.2f}" if tm is not None else f"{'-':>11}",
                 f"{rss_o:10.1f}" if rss_o is not None else f"{'-':>10}",
                 f"{rss_p:10.1f}" if rss_p is not None else f"{'-':>10}"]
        print(f"({name:3})" + "".join(cells))
    for name, r in results["workloads"].items():
        fl = r.get("first_step_loss")
        if fl and not fl["agree"]:
            print(f"WARNING ({name}): first-step losses differ: ours {fl['ours']:.6f} vs PyTorch {fl['peer']:.6f}")
    print("ratio: ours/peer of the medians (judged against the target); min ratio: of the fastest step, "
          "less sensitive to load from other processes.")
    print("MFLOP: 2*M*N*K per GEMM/conv x3 (fwd+bwd), per step (fit: per whole fit). "
          "ours tm MB: tracemalloc peak of one step above the memory held before it (numpy buffers). "
          "RSS+: peak RSS growth over 3 steps in a fresh process after build (MB).")
    for s in results["skipped"]:
        print(f"skipped: {s['what']}: {s['why']}")


def thread_setup(torch):
    """Set the same thread count everywhere; return what was set and what each library reports."""
    n = _THREADS
    info = {"requested": n, "env_set": {k: str(n) for k in _THREAD_ENV},
            "env_before": _ENV_BEFORE}
    tinygrad_relu.set_num_threads(n)
    info["tinygrad_relu"] = tinygrad_relu.get_num_threads()
    try:
        import threadpoolctl
        threadpoolctl.threadpool_limits(n, user_api="blas")
        # "kernel" is the CPU kernel set OpenBLAS runs (OPENBLAS_CORETYPE=Haswell pins AVX2 even on AVX-512 CPUs)
        info["blas"] = [{"lib": p.get("internal_api"), "threads": p.get("num_threads"),
                         "kernel": p.get("architecture"), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
                        for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        blas = f"BLAS via threadpoolctl: {info['blas']}"
    except ImportError:
        info["blas"] = "threadpoolctl not installed: BLAS threads set only via OPENBLAS_NUM_THREADS/MKL_NUM_THREADS"
        blas = "BLAS via OPENBLAS_NUM_THREADS/MKL_NUM_THREADS env (threadpoolctl not installed)"
    if torch is not None:
        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    tstr = f", torch.set_num_threads -> {info['torch']}" if torch is not None else ""
    info["summary"] = (f"{n} requested; OMP/OPENBLAS/MKL_NUM_THREADS={n} set before numpy import; "
                       f"tinygrad_relu.set_num_threads -> {info['tinygrad_relu']}{tstr}; {blas}")
    return info


def main(args):
    quick = args.quick
    if args.rss_child:
        return rss_child_main(args.rss_child, quick)
    if args.keras_server:
        return keras_server_main(quick)
    steps = args.steps if args.steps is not None else (3 if quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 5)
    repeats = args.fit_repeats if args.fit_repeats is not None else (1 if quick else 3)
    if steps < 1 or warmup < 1 or repeats < 1 or args.block < 1 or args.pause < 0:
        raise SystemExit("--steps, --warmup, --fit-repeats and --block must be at least 1, --pause non-negative")
    if args.profile:
        tinygrad_relu.set_num_threads(_THREADS)
        return profile_main(args.profile, quick, steps if args.steps is not None else (3 if quick else 50), warmup)

    selected = list(WORKLOAD_NAMES)
    if args.only:
        selected = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in selected if s not in WORKLOAD_NAMES]
        if bad:
            raise SystemExit(f"--only: unknown workload(s) {bad}; choose from {', '.join(WORKLOAD_NAMES)}")

    skipped = []
    torch = None
    if args.no_torch:
        skipped.append({"what": "PyTorch step comparison", "why": "--no-torch"})
    elif any(s != "fit" for s in selected):
        torch, why = import_torch()
        if torch is None:
            skipped.append({"what": "PyTorch step comparison", "why": why})
    threads = thread_setup(torch)
    load_before = [round(v, 2) for v in os.getloadavg()]
    gflops, n = sgemm_gflops(n=256 if quick else 1024, repeats=3 if quick else 10)
    if steps < 20 and not quick:
        print(f"note: --steps {steps} is below the 20 the issue asks for")

    results = {"meta": {"quick": quick, "steps": steps, "warmup": warmup, "block": args.block, "pause_s": args.pause, "fit_repeats": repeats,
                        "threads": threads, "sgemm_gflops": gflops, "sgemm_n": n,
                        "loadavg_before": load_before, "cpu_count": os.cpu_count(),
                        "cpu": _cpu_model(), "python": platform.python_version(),
                        "numpy": np.__version__, "tinygrad_relu": tinygrad_relu.__version__,
                        "torch": torch.__version__ if torch is not None else None,
                        "time": time.strftime("%Y-%m-%d %H:%M:%S")},
               "skipped": skipped, "workloads": {}}
    specs = workload_specs(quick)
    for name in selected:
        if name == "fit":
            use_keras = not (args.no_keras or quick)
            if args.no_keras:
                skipped.append({"what": "fit vs Keras", "why": "--no-keras"})
            elif quick:
                skipped.append({"what": "fit vs Keras", "why": "--quick (importing Keras takes seconds)"})
            print("fit ...", flush=True)
            results["workloads"]["fit"] = bench_fit(quick, repeats, use_keras, skipped)
            continue
        print(f"({name}) {specs[name]['title']} ...", flush=True)
        r = bench_step(name, specs[name], torch, steps, warmup, args.block, args.pause)
        if not (args.no_rss or quick):
            r["peak_rss_growth_mb"] = {}
            for who in (["ours", "peer"] if torch is not None else ["ours"]):
                m = measure_rss(name, who, quick)
                r["peak_rss_growth_mb"][who] = m.get("peak_rss_growth_mb", m.get("error"))
                r["peak_rss_growth_mb"]["method"] = m.get("method")
        results["workloads"][name] = r
    if quick and not args.no_rss:
        skipped.append({"what": "peak-RSS child processes", "why": "--quick"})
    elif args.no_rss:
        skipped.append({"what": "peak-RSS child processes", "why": "--no-rss"})
    results["meta"]["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    print_tables(results)
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
