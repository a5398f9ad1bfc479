"""The `tinygrad-relu` command: the lab's experiments (tinygrad_relu/lab/) from the shell.

    tinygrad-relu demo [--out DIR] [--seed S] [--quick]   claims 1-6, tables, relu_demo.json, relu_demo.png
    tinygrad-relu compare --activations relu,sigmoid --depth 10 ...   vanishing gradients, sparsity, accuracy
    tinygrad-relu dying [--scenario bias|lr] ...                      dead ReLU units and the Leaky/PReLU/ELU fix
    tinygrad-relu kernels [--size N]                                  forward+backward time per element
    tinygrad-relu playground [--port 8765] [--no-browser]             watch training live in the browser
    tinygrad-relu sweep --depths 2,8,32 --seeds 0-4 [--executor dask] grid of runs on a process pool or Dask
"""
import argparse
import os
import sys

from . import optimizers, plot
from ._version import __version__
from .lab import sweep, sweep_plot
from .lab.common import DATASETS, LAB_ACTIVATIONS, Out, write_json
from .lab.compare import ACTIVATIONS, print_compare, run_compare
from .lab.demo import demo
from .lab.dying import DYING_ACTIVATIONS, DYING_SCENARIOS, print_dying, run_dying
from .lab.kernels import KERNEL_ACTIVATIONS, print_kernels, run_kernels
from .lab.sweep_executors import EXECUTORS
from .ops.activation import KERNEL_BACKED


def _names(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one activation name")
    return names


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _port(text):
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 1..65535, got {text}")
    return value


def make_parser():
    parser = argparse.ArgumentParser(
        prog="tinygrad-relu",
        description="Experiments that show what ReLU does to backpropagation, run on this engine.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Start with:  tinygrad-relu demo")
    parser.add_argument("--version", action="version", version=f"tinygrad_relu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,compare,dying,kernels,playground,sweep}")

    p = sub.add_parser("demo", help="claims 1-6 in about a minute: tables, relu_demo.json, relu_demo.png",
                       description="Runs the six ReLU claims (sparsity, vanishing gradients, dying units, kernel cost,\n"
                                   "non-linearity, skip connections) on embedded data; writes relu_demo.json and .png.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".", help="directory for relu_demo.json and relu_demo.png (default: here)")
    p.add_argument("--seed", type=int, default=0, help="seed for data and weights (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer epochs and a smaller kernel benchmark (tests)")
    p.add_argument("--no-figures", action="store_true", help="do not draw relu_demo.png")

    p = sub.add_parser("compare", help="one deep MLP per activation: gradient flow, sparsity, accuracy",
                       description="Trains the same deep MLP once per activation and reports, per layer, the gradient\n"
                                   "reaching it at init, the forward signal, how far training moved it, and accuracy.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(ACTIVATIONS), help="comma-separated names from "
                   f"{', '.join(LAB_ACTIVATIONS)}, or leaky_relu_<slope> (default {','.join(ACTIVATIONS)})")
    p.add_argument("--depth", type=_positive(int), default=10, help="hidden layers (default 10)")
    p.add_argument("--width", type=_positive(int), default=64, help="units per hidden layer (default 64)")
    p.add_argument("--dataset", default="spirals", choices=DATASETS)
    p.add_argument("--samples", type=_positive(int), default=900, help="samples (train + test; default 900)")
    p.add_argument("--epochs", type=_positive(int), default=30)
    p.add_argument("--lr", type=_positive(float), default=None, help="learning rate (default: the optimizer's)")
    p.add_argument("--optimizer", default="adam", choices=optimizers.names())
    p.add_argument("--batch-size", type=_positive(int), default=32)
    p.add_argument("--init", default="auto", help="kernel initializer (default: he_normal for the ReLU family, "
                   "glorot_uniform for sigmoid/tanh)")
    p.add_argument("--residual", action="store_true", help="skip connections: every hidden layer after the first "
                   "is a residual block h + act(Dense(h)) (claim 6 of the demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")

    p = sub.add_parser("dying", help="dead ReLU units, and Leaky ReLU / PReLU / ELU keeping them alive",
                       description="Trains a small MLP in a setting that kills ReLU units (a negative bias or a large\n"
                                   "learning rate) and counts units dead at init, died, revived, beside accuracy.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(DYING_ACTIVATIONS), help="comma-separated names from "
                   f"{', '.join(LAB_ACTIVATIONS)}, or leaky_relu_<slope> for Leaky ReLU with that negative slope "
                   f"(plain leaky_relu: Keras' function, slope 0.2; default {','.join(DYING_ACTIVATIONS)})")
    p.add_argument("--scenario", default="bias", choices=tuple(DYING_SCENARIOS),
                   help="bias: hidden biases start at -0.5; lr: Adam learning rate 0.05 (default bias)")
    p.add_argument("--bias", type=float, default=None, help="initial hidden bias (overrides the scenario's)")
    p.add_argument("--lr", type=_positive(float), default=None, help="Adam learning rate (overrides the scenario's)")
    p.add_argument("--depth", type=_positive(int), default=4)
    p.add_argument("--width", type=_positive(int), default=64)
    p.add_argument("--dataset", default="spirals", choices=DATASETS)
    p.add_argument("--samples", type=_positive(int), default=600)
    p.add_argument("--epochs", type=_positive(int), default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")

    p = sub.add_parser("kernels", help="forward+backward time per element of each activation kernel",
                       description="Times each activation's Cython forward and backward kernels on random-sign data\n"
                                   "and prints nanoseconds per element beside a plain-numpy version of the same math.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(KERNEL_ACTIVATIONS), help="comma-separated names from "
                   f"{', '.join(KERNEL_BACKED)} (default {','.join(KERNEL_ACTIVATIONS)})")
    p.add_argument("--size", type=_positive(int), default=1 << 20, help="elements (default 1048576)")
    p.add_argument("--repeats", type=_positive(int), default=5, help="best of this many runs (default 5)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=_positive(int), default=1, help="OpenMP threads for the kernels (default 1)")
    p.add_argument("--json", help="also write the results to this JSON file")

    p = sub.add_parser("playground", help="a local web page: train a network and watch backpropagation live",
                       description="Starts a local web app (needs: pip install \"tinygrad_relu[playground]\") where\n"
                                   "you pick the data, layers and activations, press play, and watch the decision\n"
                                   "boundary, every unit, the gradient per layer and dead units while it trains.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    p = sub.add_parser("sweep", help="the lab's measurements over a grid of settings, on a process pool or Dask",
                       description="Trains one MLP per combination of the grid options and seed, one thread per run,\n"
                                   "on a local process pool or a Dask cluster; writes OUT/sweep.csv, OUT/sweep.json\n"
                                   "and one file per finished run, so an interrupted sweep resumes where it stopped.\n"
                                   "Lists are comma-separated; integers also as ranges (--seeds 0-4).",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    grid = {key: default for key, (_, default) in sweep.GRID.items()}
    p.add_argument("--activations", type=_names, default=list(grid["activations"]),
                   help=f"from {', '.join(LAB_ACTIVATIONS)} (default {','.join(grid['activations'])})")
    p.add_argument("--depths", type=_integers, default=list(grid["depths"]), help="hidden layers (default 2,4,8,16,32)")
    p.add_argument("--widths", type=_integers, default=list(grid["widths"]), help="units per hidden layer (default 32)")
    p.add_argument("--inits", type=_names, default=["auto"], help="kernel initializers (default auto: he_normal for "
                   "the ReLU family, glorot_uniform for sigmoid/tanh)")
    p.add_argument("--optimizers", type=_names, default=["adam"], help=f"from {', '.join(optimizers.names())} "
                   "(default adam)")
    p.add_argument("--lrs", type=_learning_rates, default=[None], help="learning rates (default: each optimizer's)")
    p.add_argument("--seeds", type=_integers, default=list(grid["seeds"]), help="seeds (default 0-4)")
    p.add_argument("--dataset", default="spirals", choices=DATASETS)
    p.add_argument("--epochs", type=_positive(int), default=grid["epochs"][0], help="default %(default)s")
    p.add_argument("--samples", type=_positive(int), default=grid["samples"][0],
                   help="samples, train + test (default %(default)s)")
    p.add_argument("--batch-size", type=_positive(int), default=grid["batch_sizes"][0], help="default %(default)s")
    p.add_argument("--executor", default="local", choices=EXECUTORS,
                   help="local: a process pool here (default); dask: a Dask cluster (pip install \"tinygrad_relu[dask]\")")
    p.add_argument("--workers", type=_positive(int), default=None,
                   help="worker processes (default: one per core); not with --scheduler")
    p.add_argument("--scheduler", default=None, help="tcp://host:port of an existing Dask cluster (with --executor dask)")
    p.add_argument("--out", default="sweep", help="directory for the table and the per-run files (default ./sweep)")
    p.add_argument("--retry-failed", action="store_true", help="run the failed runs of an earlier sweep again")
    p.add_argument("--plot", action="store_true", help="draw OUT/sweep.png from the table (needs matplotlib)")
    return parser


def _integers(text):
    """'2,4,8' or '0-4' (inclusive) or both: '1,3-5'."""
    values = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        first, _, last = part.partition("-")
        try:
            values.extend(range(int(first), int(last) + 1) if last else [int(first)])
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected integers like 2,4,8 or 0-4, got {part!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one integer")
    return values


def _learning_rates(text):
    return [None if name == "default" else _positive(float)(name) for name in _names(text)]


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    say = Out()
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _run(args, say)
    except BrokenPipeError:  # `tinygrad-relu demo | head`: the reader left, stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0


def _run(args, say):
    try:
        if args.command == "demo":
            demo(out=args.out, seed=args.seed, quick=args.quick, figures=not args.no_figures, say=say)
        elif args.command == "compare":
            _report(run_compare(args.activations, depth=args.depth, width=args.width, dataset=args.dataset,
                                samples=args.samples, epochs=args.epochs, lr=args.lr, optimizer=args.optimizer,
                                batch_size=args.batch_size, seed=args.seed, initializer=args.init,
                                residual=args.residual, say=say),
                    print_compare, args.json, say)
        elif args.command == "dying":
            _report(run_dying(args.activations, scenario=args.scenario, depth=args.depth, width=args.width,
                              dataset=args.dataset, samples=args.samples, epochs=args.epochs, lr=args.lr,
                              hidden_bias=args.bias, seed=args.seed, say=say),
                    print_dying, args.json, say)
        elif args.command == "playground":
            return _playground(args)
        elif args.command == "kernels":
            _report(run_kernels(args.activations, size=args.size, repeats=args.repeats, dtype=args.dtype,
                                threads=args.threads, say=say),
                    print_kernels, args.json, say)
        elif args.command == "sweep":
            return _sweep(args, say)
    except (ValueError, FileNotFoundError) as exc:
        print(f"tinygrad-relu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _playground(args):
    from . import playground
    missing = playground.missing_requirements()
    if missing:
        print(f"tinygrad-relu playground: needs {' and '.join(missing)}, which are not installed: "
              f"{playground.INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        playground.serve(host=args.host, port=args.port, open_browser=not args.no_browser)
    except KeyboardInterrupt:
        pass
    return 0


def _sweep(args, say):
    grid = {"activations": args.activations, "depths": args.depths, "widths": args.widths, "inits": args.inits,
            "optimizers": args.optimizers, "lrs": args.lrs, "seeds": args.seeds, "dataset": args.dataset,
            "epochs": args.epochs, "samples": args.samples, "batch_sizes": args.batch_size}
    try:
        if args.plot:
            plot.require_matplotlib()  # before the runs, not after them
        rows = sweep.run(grid, executor=args.executor, workers=args.workers, out=args.out, scheduler=args.scheduler,
                         retry_failed=args.retry_failed, say=say)
    except ImportError as exc:
        print(f"tinygrad-relu sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinygrad-relu sweep: interrupted; the finished runs are saved in {args.out}: run the same command "
              "again to go on", file=sys.stderr)
        return 130
    say("")
    sweep.print_summary(rows, say)
    say(f"Wrote {os.path.join(args.out, 'sweep.csv')} and {os.path.join(args.out, 'sweep.json')}")
    if args.plot:
        say(f"Wrote {sweep_plot.write_figure(rows, os.path.join(args.out, 'sweep.png'))}")
    failed = sum(row["error"] is not None for row in rows)
    lost = sum(row["error"] is not None and row["error"].startswith(sweep.LOST) for row in rows)
    if failed:
        say(f"{failed} of {len(rows)} runs failed: see the error column")
    if lost:
        say(f"{lost} of them lost their worker and were not saved: run the same command again to retry them")
        return 1
    return 0


def _report(result, print_result, json_path, say):
    """An experiment's table after a blank line, and its JSON when --json asks for it."""
    say("")
    print_result(result, say)
    write_json(json_path, result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
