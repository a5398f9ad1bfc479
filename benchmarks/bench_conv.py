"""Convolution and pooling, forward + backward, interleaved against PyTorch CPU.

    python benchmarks/bench_conv.py [--reps 40] [--threads 2]
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_conv.py --threads 1   # single core, both sides

Each case runs ours and PyTorch's in alternating blocks (so both see the same machine
load) and reports the median (and best) time of one forward + backward, the ratio ours / PyTorch
(below 1: we are faster), and the
achieved GFLOP/s beside numpy's sgemm on a matrix product of the same shape as the
layer's im2col product (the BLAS ceiling our GEMM-based convolution can reach).
Each framework gets its native layout: ours channels_last (NHWC), PyTorch NCHW.
Not a test: numbers depend on the machine and its load.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_relu as tr  # noqa: E402
from tinygrad_relu import functional as F  # noqa: E402
from tinygrad_relu.ops.convolution import Workspace  # noqa: E402


def conv_case(name, n, spatial, cin, cout, k, padding, x_grad, relu=False):
    """(name, ours_step, torch_step, flops, gemm_shape) for one convolution layer."""
    import torch
    import torch.nn.functional as TF
    rng = np.random.default_rng(0)
    rank = len(spatial)
    x = rng.standard_normal((n, *spatial, cin), dtype=np.float32)
    kernel = rng.standard_normal((k,) * rank + (cin, cout), dtype=np.float32) * 0.1
    bias = np.zeros(cout, dtype=np.float32)
    out_spatial = spatial if padding == "same" else tuple(s - k + 1 for s in spatial)
    grad_out = rng.standard_normal((n, *out_spatial, cout), dtype=np.float32)
    conv = F.conv2d if rank == 2 else F.conv1d

    xt = tr.Tensor(x, requires_grad=x_grad)
    kt = tr.Tensor(kernel, requires_grad=True)
    bt = tr.Tensor(bias, requires_grad=True)

    workspace = Workspace()  # what a Conv layer passes: scratch buffers reused across calls

    def ours():
        xt.grad = kt.grad = bt.grad = None
        if relu:  # the fused op: ReLU in place on the GEMM output, mask from the output in backward
            conv(xt, kt, bt, padding=padding, activation="relu", workspace=workspace).backward(grad_out)
        else:
            conv(xt, kt, bt, padding=padding, workspace=workspace).backward(grad_out)

    # PyTorch's native layout: NCHW, kernel (cout, cin, kh, kw)
    to_nchw = (0, 3, 1, 2) if rank == 2 else (0, 2, 1)
    xp = torch.tensor(np.ascontiguousarray(x.transpose(to_nchw)), requires_grad=x_grad)
    kp = torch.tensor(np.ascontiguousarray(kernel.transpose((3, 2, 0, 1) if rank == 2 else (2, 1, 0))),
                      requires_grad=True)
    bp = torch.tensor(bias, requires_grad=True)
    gp = torch.tensor(np.ascontiguousarray(grad_out.transpose(to_nchw)))
    tconv = TF.conv2d if rank == 2 else TF.conv1d

    def theirs():
        xp.grad = kp.grad = bp.grad = None
        out = tconv(xp, kp, bp, padding=padding)
        (torch.relu(out) if relu else out).backward(gp)

    rows = n * int(np.prod(out_spatial))
    depth = k ** rank * cin
    products = 3 if x_grad else 2  # forward, dkernel, and dx when the input needs it
    flops = 2.0 * rows * depth * cout * products
    return name, ours, theirs, flops, (rows, depth, cout)


def pool_case(name, n, h, w, c):
    import torch
    import torch.nn.functional as TF
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, h, w, c), dtype=np.float32)
    grad_out = rng.standard_normal((n, h // 2, w // 2, c), dtype=np.float32)
    xt = tr.Tensor(x, requires_grad=True)

    workspace = Workspace()

    def ours():
        xt.grad = None
        F.max_pool2d(xt, 2, workspace=workspace).backward(grad_out)

    xp = torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)
    gp = torch.tensor(np.ascontiguousarray(grad_out.transpose(0, 3, 1, 2)))

    def theirs():
        xp.grad = None
        TF.max_pool2d(xp, 2).backward(gp)

    return name, ours, theirs, None, None


def median_interleaved(a, b, reps, rounds=4):
    """(median, best) seconds per call of a and of b, run in alternating blocks.

    Blocks rather than single calls because each side's thread pool (OpenBLAS' for ours,
    PyTorch's OpenMP for theirs) keeps spinning for a while after its last call and would
    steal a core from the other side; a pause lets it go to sleep, and the first call of a
    block (which wakes the pool) is not counted.
    """
    per_block = max(1, -(-reps // rounds))
    times = {a: [], b: []}
    for _ in range(rounds):
        for fn in (a, b):
            time.sleep(0.2)
            fn()
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                times[fn].append(time.perf_counter() - t0)
    return ((float(np.median(times[a])), float(np.min(times[a]))),
            (float(np.median(times[b])), float(np.min(times[b]))))


def sgemm_gflops(shape, reps):
    """numpy float32 matrix product of (rows, depth) @ (depth, cout): the BLAS ceiling."""
    rows, depth, cout = shape
    rng = np.random.default_rng(2)
    a = rng.standard_normal((rows, depth), dtype=np.float32)
    b = rng.standard_normal((depth, cout), dtype=np.float32)
    out = np.empty((rows, cout), dtype=np.float32)
    times = []
    for _ in range(reps + 2):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    return 2.0 * rows * depth * cout / float(np.median(times[2:])) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from tinygrad_relu._kernels import threads
    threads.set_num_threads(args.threads)

    cases = [
        conv_case("conv2d 28x28x1->32 3x3 b64 (no dx)", 64, (28, 28), 1, 32, 3, "valid", False),
        conv_case("conv2d 13x13x32->64 3x3 b64", 64, (13, 13), 32, 64, 3, "valid", True),
        conv_case("conv2d+relu fused 28x28x1->32 (no dx)", 64, (28, 28), 1, 32, 3, "valid", False, relu=True),
        conv_case("conv2d+relu fused 13x13x32->64", 64, (13, 13), 32, 64, 3, "valid", True, relu=True),
        conv_case("conv1d 40x1->25 k5 same b100 (no dx)", 100, (40,), 1, 25, 5, "same", False),
        pool_case("max_pool2d 2x2 26x26x32 b64", 64, 26, 26, 32),
    ]
    env = " ".join(f"{k}={os.environ.get(k)}" for k in
                   ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY"))
    print(f"threads={args.threads} reps={args.reps} torch {torch.__version__} numpy {np.__version__} {env}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; above ~1 the timings are noisy)")
    header = (f"{'case':42s} {'ours ms':>8s} {'torch ms':>8s} {'ratio':>6s} {'best ms':>8s} {'best ms':>8s} "
              f"{'ratio':>6s} {'GFLOP/s':>8s} {'sgemm GFLOP/s':>13s}")
    print(f"{'':42s} {'median':>8s} {'median':>8s} {'':>6s} {'ours':>8s} {'torch':>8s} {'best':>6s} {'ours':>8s} "
          f"{'same shape':>13s}")
    print(header)
    print("-" * len(header))
    for name, ours, theirs, flops, gemm_shape in cases:
        (t_ours, best_ours), (t_torch, best_torch) = median_interleaved(ours, theirs, args.reps)
        rate = f"{flops / t_ours / 1e9:8.1f}" if flops else f"{'-':>8s}"
        ceiling = f"{sgemm_gflops(gemm_shape, args.reps):13.1f}" if gemm_shape else f"{'-':>13s}"
        print(f"{name:42s} {t_ours * 1e3:8.3f} {t_torch * 1e3:8.3f} {t_ours / t_torch:6.2f} "
              f"{best_ours * 1e3:8.3f} {best_torch * 1e3:8.3f} {best_ours / best_torch:6.2f} {rate} {ceiling}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
