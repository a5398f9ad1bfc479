"""Convolution and pooling layers, forward + backward: ours against PyTorch CPU.

    python benchmarks/bench_conv.py                         # each contender alone, alternated rounds
    python benchmarks/bench_conv.py --algorithms            # ours once per algorithm: im2col, winograd2, winograd4
    python benchmarks/bench_conv.py --threads 1 --only wide # one thread; the wide convnet's layers only
    python benchmarks/bench_conv.py --interleaved           # both contenders in one process, blocks alternated

Each contender runs alone in a child process per round (benchmarks/isolated.py), the rounds
alternated, and times every case there (median of --reps calls of forward + backward; the
figure is the median over rounds). Each framework gets its native layout: ours channels_last
(NHWC), PyTorch NCHW. GFLOP/s counts the direct convolution's 2*M*N*K per product (forward,
dkernel and, where the input needs it, dx) whatever the algorithm, so a Winograd layer can
exceed the sgemm ceiling printed beside it (numpy's sgemm on the im2col product's shape).
Not a test: numbers depend on the machine and its load.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

# name: (batch, spatial, cin, cout, k, padding, the input needs a gradient, fused ReLU)
CASES = {
    "seed1 conv2d+relu 28x28x1->32 (no dx)": (64, (28, 28), 1, 32, 3, "valid", False, True),
    "seed2 conv2d+relu 13x13x32->64": (64, (13, 13), 32, 64, 3, "valid", True, True),
    "seed2 conv2d 13x13x32->64 (no relu)": (64, (13, 13), 32, 64, 3, "valid", True, False),
    "wide1 conv2d+relu 28x28x1->64 (no dx)": (128, (28, 28), 1, 64, 3, "valid", False, True),
    "wide2 conv2d+relu 26x26x64->64": (128, (26, 26), 64, 64, 3, "valid", True, True),
    "wide3 conv2d+relu 12x12x64->128": (128, (12, 12), 64, 128, 3, "valid", True, True),
    "wide4 conv2d+relu 10x10x128->128": (128, (10, 10), 128, 128, 3, "valid", True, True),
    "same conv2d+relu 28x28x32->32 same": (64, (28, 28), 32, 32, 3, "same", True, True),
    "mnist1d conv1d 40x1->25 k5 same (no dx)": (100, (40,), 1, 25, 5, "same", False, False),
    "max_pool2d 2x2 26x26x32": (64, (26, 26), 32, None, 2, "valid", True, False),
}


def conv_flops(case):
    n, spatial, cin, cout, k, padding, x_grad, _ = case
    if cout is None:
        return None
    out = spatial if padding == "same" else tuple(s - k + 1 for s in spatial)
    return 2.0 * n * np.prod(out) * k ** len(spatial) * cin * cout * (3 if x_grad else 2)


def data(case):
    n, spatial, cin, cout, k, padding, _, _ = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *spatial, cin), dtype=np.float32)
    if cout is None:
        return x, None, None, rng.standard_normal((n, *(s // 2 for s in spatial), cin), dtype=np.float32)
    kernel = rng.standard_normal((k,) * len(spatial) + (cin, cout), dtype=np.float32) * 0.1
    out = spatial if padding == "same" else tuple(s - k + 1 for s in spatial)
    return x, kernel, np.zeros(cout, dtype=np.float32), rng.standard_normal((n, *out, cout), dtype=np.float32)


def ours_call(case, algorithm=None):
    import tinygrad_relu as tr
    from tinygrad_relu import functional as F
    from tinygrad_relu.ops import convolution as C, winograd
    n, spatial, cin, cout, k, padding, x_grad, relu = case
    x, kernel, bias, grad = data(case)
    workspace = C.Workspace()  # what a layer passes: scratch buffers reused across calls
    xt = tr.Tensor(x, requires_grad=x_grad)
    if cout is None:
        def call():
            xt.grad = None
            F.max_pool2d(xt, 2, workspace=workspace).backward(grad)
        return call, "pool"
    kt, bt = tr.Tensor(kernel, requires_grad=True), tr.Tensor(bias, requires_grad=True)
    activation = "relu" if relu else "linear"
    rank = len(spatial)
    pads = (1,) * rank if padding == "same" else (0,) * rank
    out = grad.shape[1:-1]
    chosen = "im2col" if rank == 1 else winograd.choose((k, k), (1, 1), (1, 1), pads, out, cin, cout)
    if algorithm is not None and rank == 2 and (algorithm == "im2col" or winograd.applicable((k, k), (1, 1), (1, 1), pads)):
        chosen = algorithm

        def conv():
            return C.Conv2D.apply(xt, kt, bt, strides=(1, 1), dilation=(1, 1), pads=pads, out_size=out,
                                  activation=activation, workspace=workspace, algorithm=algorithm)
    else:
        fn = F.conv2d if rank == 2 else F.conv1d

        def conv():
            return fn(xt, kt, bt, padding=padding, activation=activation, workspace=workspace)

    def call():
        xt.grad = kt.grad = bt.grad = None
        conv().backward(grad)
    return call, chosen


def torch_call(case, torch):
    TF = torch.nn.functional
    n, spatial, cin, cout, k, padding, x_grad, relu = case
    x, kernel, bias, grad = data(case)
    to_nchw = (0, 3, 1, 2) if len(spatial) == 2 else (0, 2, 1)
    xp = torch.tensor(np.ascontiguousarray(x.transpose(to_nchw)), requires_grad=x_grad)
    gp = torch.tensor(np.ascontiguousarray(grad.transpose(to_nchw)))
    if cout is None:
        def call():
            xp.grad = None
            TF.max_pool2d(xp, 2).backward(gp)
        return call
    kp = torch.tensor(np.ascontiguousarray(kernel.transpose((3, 2, 0, 1) if len(spatial) == 2 else (2, 1, 0))),
                      requires_grad=True)
    bp = torch.tensor(bias, requires_grad=True)
    conv = TF.conv2d if len(spatial) == 2 else TF.conv1d

    def call():
        xp.grad = kp.grad = bp.grad = None
        out = conv(xp, kp, bp, padding=padding)
        (torch.relu(out) if relu else out).backward(gp)
    return call


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def sgemm_gflops(case, reps=5):
    """numpy float32 (rows, k^rank*cin) @ (k^rank*cin, cout): the im2col product's BLAS ceiling."""
    n, spatial, cin, cout, k, padding, _, _ = case
    out = spatial if padding == "same" else tuple(s - k + 1 for s in spatial)
    rows, depth = n * int(np.prod(out)), k ** len(spatial) * cin
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((rows, depth), dtype=np.float32), rng.standard_normal((depth, cout), dtype=np.float32)
    ms = median_ms(lambda: a @ b, reps)
    return 2.0 * rows * depth * cout / ms / 1e6


def child_main(args, names):
    result, info = {}, {}
    if args.contender == "torch":
        import torch
        torch.set_num_threads(args.threads)
        info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
        for name in names:
            result[name] = median_ms(torch_call(CASES[name], torch), args.reps)
    else:
        import tinygrad_relu as tr
        tr.set_num_threads(args.threads)
        info = {"threads": tr.get_num_threads(), "algorithms": {}}
        for name in names:
            call, chosen = ours_call(CASES[name], args.algorithm)
            info["algorithms"][name] = chosen
            result[name] = median_ms(call, args.reps)
            if args.contender == "ours" and args.algorithm is None and CASES[name][3] is not None:
                info.setdefault("sgemm", {})[name] = sgemm_gflops(CASES[name])
    print("@@" + json.dumps({"ms": result, "info": info}), flush=True)


def isolated_main(args, names):
    import isolated
    env = isolated.child_env(args.threads, args.blas)
    me = [sys.executable, os.path.abspath(__file__), "--_child", "--threads", str(args.threads), "--reps",
          str(args.reps), "--only", ",".join(names)]
    commands = {"ours": me + ["ours"]}
    if args.algorithms:
        commands.update({f"ours[{a}]": me + ["ours", "--algorithm", a] for a in ("im2col", "winograd2", "winograd4")})
    if isolated.import_error("torch", env) is None:
        commands["torch"] = me + ["torch"]
    answers = isolated.alternate(commands, env, args.rounds)
    table = {}
    for who, got in answers.items():
        if isolated.first_error(got):
            print(f"{who}: {isolated.first_error(got)}")
        good = [a for a in got if "error" not in a]
        if good:
            table[who] = {name: float(np.median([a["ms"][name] for a in good])) for name in names}
            table[who]["_info"] = good[0]["info"]
    settings = isolated.blas_settings(env)
    print(f"forward + backward, ms (median over {args.rounds} alternated rounds of {args.reps} calls, each contender "
          f"alone); threads {args.threads}; OpenBLAS {args.blas}: core {settings['core']}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print_table(table, names)


def print_table(table, names):
    columns = [k for k in table if k != "torch"]
    head = f"{'case':42s}" + "".join(f"{c:>18s}" for c in columns) + f"{'torch':>9s}{'ours/torch':>11s}"
    head += f"{'ours GF/s':>10s}{'torch GF/s':>11s}{'sgemm GF/s':>11s}  ours algorithm"
    print(head)
    print("-" * len(head))
    ours = table.get("ours", {})
    info = ours.get("_info", {})
    for name in names:
        torch_ms = table.get("torch", {}).get(name, float("nan"))
        flops = conv_flops(CASES[name])
        row = f"{name:42s}" + "".join(f"{table[c].get(name, float('nan')):18.3f}" for c in columns)
        row += f"{torch_ms:9.3f}{ours.get(name, float('nan')) / torch_ms:11.2f}"
        row += f"{flops / ours[name] / 1e6:10.1f}" if flops and name in ours else f"{'-':>10s}"
        row += f"{flops / torch_ms / 1e6:11.1f}" if flops else f"{'-':>11s}"
        sg = info.get("sgemm", {}).get(name)
        row += f"{sg:11.1f}" if sg else f"{'-':>11s}"
        print(row + f"  {info.get('algorithms', {}).get(name, '')}")


def interleaved_main(args, names):
    """Both contenders in this process: blocks of calls alternated, a pause at each switch."""
    import torch
    import tinygrad_relu as tr
    torch.set_num_threads(args.threads)
    tr.set_num_threads(args.threads)
    table = {"ours": {"_info": {"algorithms": {}}}, "torch": {}}
    for name in names:
        ours, chosen = ours_call(CASES[name])
        theirs = torch_call(CASES[name], torch)
        table["ours"]["_info"]["algorithms"][name] = chosen
        times = {ours: [], theirs: []}
        for _ in range(4):
            for fn in (ours, theirs):
                time.sleep(0.2)
                fn()
                for _ in range(max(1, args.reps // 4)):
                    t0 = time.perf_counter()
                    fn()
                    times[fn].append(time.perf_counter() - t0)
        table["ours"][name] = float(np.median(times[ours])) * 1e3
        table["torch"][name] = float(np.median(times[theirs])) * 1e3
    print(f"forward + backward, ms, interleaved in one process; threads {args.threads}")
    print_table(table, names)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", help="comma-separated substrings of case names (e.g. wide,seed2)")
    p.add_argument("--algorithms", action="store_true", help="also ours with each convolution algorithm forced")
    p.add_argument("--blas", default="default", help="OpenBLAS for the children: default, unset or haswell")
    p.add_argument("--interleaved", action="store_true")
    p.add_argument("--_child", dest="child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--algorithm", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = list(CASES)
    if args.only:
        if args.child:
            names = args.only.split(",")
        else:
            names = [n for n in CASES if any(s in n for s in args.only.split(","))]
    if not names or any(n not in CASES for n in names):
        p.error(f"--only matches no case; the cases are: {', '.join(CASES)}")
    if args.child:
        return child_main(args, names)
    if args.interleaved:
        return interleaved_main(args, names)
    return isolated_main(args, names)


if __name__ == "__main__":
    main()
