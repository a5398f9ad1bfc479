"""Depthwise, grouped, separable and transposed convolutions, forward + backward, interleaved against PyTorch CPU;
and the formulations the depthwise op was chosen against (numpy's einsum over the im2col columns, the
grouped batched GEMM), on our side only.

    python benchmarks/bench_conv_variants.py [--reps 30] [--threads 2]

Same method as bench_conv.py (alternating blocks, median and best of one forward + backward; ours
channels_last, PyTorch NCHW). Not a test: numbers depend on the machine and its load.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_relu as tr  # noqa: E402
from tinygrad_relu._kernels import conv as conv_kernels  # noqa: E402
from tinygrad_relu.ops import nn as nn_ops  # noqa: E402
from bench_conv import median_interleaved  # noqa: E402


def _tensors(rng, *shapes):
    return [tr.Tensor(rng.standard_normal(s, dtype=np.float32), requires_grad=True) for s in shapes]


def _nchw(torch, t, requires_grad=True):
    return torch.tensor(np.ascontiguousarray(np.moveaxis(t.data, -1, 1)), requires_grad=requires_grad)


def depthwise_case(n, size, channels, multiplier):
    """(name, ours, torch's) for a 3x3 'same' depthwise convolution."""
    import torch
    rng = np.random.default_rng(0)
    x, kernel = _tensors(rng, (n, size, size, channels), (3, 3, channels, multiplier))
    grad = rng.standard_normal((n, size, size, channels * multiplier), dtype=np.float32)

    def ours():
        x.grad = kernel.grad = None
        nn_ops.depthwise_convolution("bench", 2, x, kernel, None, 1, "same").backward(grad)

    xt = _nchw(torch, x)
    kt = torch.tensor(np.ascontiguousarray(kernel.data.reshape(3, 3, 1, -1).transpose(3, 2, 0, 1)), requires_grad=True)
    gt = torch.tensor(np.ascontiguousarray(np.moveaxis(grad, -1, 1)))

    def theirs():
        xt.grad = kt.grad = None
        torch.nn.functional.conv2d(xt, kt, padding=1, groups=channels).backward(gt)

    return f"depthwise 3x3 {size}x{size}x{channels} m{multiplier} b{n}", ours, theirs


def depthwise_alternatives(n, size, channels):
    """Our op against the two formulations it replaced, all three ours (multiplier 1)."""
    rng = np.random.default_rng(0)
    x, kernel = _tensors(rng, (n, size, size, channels), (3, 3, channels, 1))
    grad = rng.standard_normal((n, size, size, channels), dtype=np.float32)
    geometry = (3, 3, 1, 1, 1, 1, 1, 1, size, size, False)

    def loops():
        x.grad = kernel.grad = None
        nn_ops.depthwise_convolution("bench", 2, x, kernel, None, 1, "same").backward(grad)

    def einsum():  # im2col, then per-channel dot products by einsum, col2im for dx
        cols = np.empty((n * size * size, 9 * channels), np.float32)
        conv_kernels.im2col_2d(x.data, cols, *geometry)
        taps, k = cols.reshape(-1, 9, channels), kernel.data.reshape(9, channels)
        np.einsum("pkc,kc->pc", taps, k)
        np.einsum("pkc,pc->kc", taps, grad.reshape(-1, channels))
        dcols = np.ascontiguousarray((grad.reshape(-1, 1, channels) * k).reshape(-1, 9 * channels))
        conv_kernels.col2im_2d(dcols, np.zeros_like(x.data), *geometry)

    def grouped():  # one (pixels, 9) x (9, 1) GEMM per channel
        x.grad = kernel.grad = None
        op = nn_ops.GroupedConv2D
        out = op.apply(x, kernel.reshape(3, 3, 1, channels), groups=channels, strides=(1, 1), dilation=(1, 1),
                       pads=(1, 1), out_size=(size, size))
        out.backward(grad)

    return f"{size}x{size}x{channels} b{n}", loops, einsum, grouped


def transpose_case(n, size, cin, filters, strides):
    import torch
    rng = np.random.default_rng(1)
    x, kernel = _tensors(rng, (n, size, size, cin), (3, 3, filters, cin))
    out = nn_ops.transposed_convolution("bench", 2, x, kernel, None, strides, "same")
    grad = rng.standard_normal(out.shape, dtype=np.float32)

    def ours():
        x.grad = kernel.grad = None
        nn_ops.transposed_convolution("bench", 2, x, kernel, None, strides, "same").backward(grad)

    xt = _nchw(torch, x)
    kt = torch.tensor(np.ascontiguousarray(kernel.data.transpose(3, 2, 0, 1)), requires_grad=True)
    gt = torch.tensor(np.ascontiguousarray(np.moveaxis(grad, -1, 1)))

    def theirs():  # 'same' with k=3, s=2: crop 0 before, 1 after (TensorFlow's rule) = padding 1, output_padding 1
        xt.grad = kt.grad = None
        torch.nn.functional.conv_transpose2d(xt, kt, stride=strides, padding=1, output_padding=strides - 1
                                             ).backward(gt)

    return f"conv2d_transpose 3x3 s{strides} {size}x{size}x{cin}->{filters} b{n}", ours, theirs


def grouped_case(n, size, cin, filters, groups):
    import torch
    rng = np.random.default_rng(2)
    x, kernel = _tensors(rng, (n, size, size, cin), (3, 3, cin // groups, filters))
    grad = rng.standard_normal((n, size, size, filters), dtype=np.float32)

    def ours():
        x.grad = kernel.grad = None
        nn_ops.grouped_convolution("bench", 2, x, kernel, None, groups, 1, "same").backward(grad)

    xt = _nchw(torch, x)
    kt = torch.tensor(np.ascontiguousarray(kernel.data.transpose(3, 2, 0, 1)), requires_grad=True)
    gt = torch.tensor(np.ascontiguousarray(np.moveaxis(grad, -1, 1)))

    def theirs():
        xt.grad = kt.grad = None
        torch.nn.functional.conv2d(xt, kt, padding=1, groups=groups).backward(gt)

    return f"conv2d groups={groups} 3x3 {size}x{size}x{cin}->{filters} b{n}", ours, theirs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    tr.set_num_threads(args.threads)
    print(f"threads={args.threads} reps={args.reps} torch {torch.__version__}; load average before: "
          f"{os.getloadavg()[0]:.2f} (2 cores; above ~1 the timings are noisy)")
    print(f"{'case':48s} {'ours ms':>8s} {'torch ms':>8s} {'ratio':>6s} {'best ratio':>10s}")
    for name, ours, theirs in (depthwise_case(64, 28, 32, 1), depthwise_case(32, 14, 128, 1),
                               depthwise_case(32, 14, 16, 4), grouped_case(32, 14, 32, 64, 4),
                               transpose_case(32, 14, 32, 16, 2), transpose_case(64, 7, 16, 1, 2)):
        (t_ours, best_ours), (t_torch, best_torch) = median_interleaved(ours, theirs, args.reps)
        print(f"{name:48s} {t_ours * 1e3:8.2f} {t_torch * 1e3:8.2f} {t_ours / t_torch:6.2f} "
              f"{best_ours / best_torch:10.2f}")
    print("\ndepthwise 3x3 'same', ours only: the loops against the formulations they replaced (median ms)")
    for name, loops, einsum, grouped in (depthwise_alternatives(64, 28, 32), depthwise_alternatives(32, 14, 128)):
        (t_loops, _), (t_einsum, _) = median_interleaved(loops, einsum, max(args.reps // 3, 4))
        (t_grouped, _), _ = median_interleaved(grouped, loops, 4, rounds=1)
        print(f"{name:20s} loops {t_loops * 1e3:7.2f}  einsum {t_einsum * 1e3:7.2f}  grouped GEMMs "
              f"{t_grouped * 1e3:8.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
