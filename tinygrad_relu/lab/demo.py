"""``tinygrad-relu demo``: claims 1-6 on embedded data, their tables and Readings, relu_demo.json and .png."""
import json
import os
import platform
import time

import numpy as np

from .._version import __version__
from .common import Out, strip_private
from .compare import ACTIVATIONS, print_compare, print_sparsity, run_compare
from .dying import DYING_ACTIVATIONS, DYING_SCENARIOS, print_dying, run_dying
from .figure import demo_figure
from .kernels import print_kernels, run_kernels
from .nonlinearity import print_nonlinearity, run_nonlinearity
from .residual import print_residual, run_residual


OPTIMIZERS = ("sgd", "adam")  # claim 2 under both: SGD's step follows the gradient, Adam's is rescaled


def demo(out=".", seed=0, quick=False, figures=True, say=None):
    """Run claims 1-6, print them, write relu_demo.json (and relu_demo.png); returns the report dict."""
    say = say or Out()
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    epochs = {"compare": 15 if quick else 30, "dying": 12 if quick else 20, "nonlin": 40 if quick else 60,
              "residual": 10 if quick else 20}
    say(f"tinygrad-relu demo: what ReLU does to backpropagation (seed {seed}{', quick' if quick else ''})")
    say("Every number below is measured now by this engine; nothing is copied from a paper.\n")

    say("[1-2/6] One deep network per activation: 10 hidden layers of 64 units, 3-arm spirals, under SGD and Adam")
    runs = {}
    for optimizer in OPTIMIZERS:
        runs[optimizer] = run_compare(ACTIVATIONS, depth=10, width=64, dataset="spirals", samples=900,
                                      epochs=epochs["compare"], optimizer=optimizer, seed=seed, say=say)
    compare = runs["adam"]
    say("\nClaim 1 - ReLU passes positives unchanged and zeroes negatives, so its activations are sparse")
    print_sparsity(compare, say)
    say("\nClaim 2 - Vanishing gradients: the gradient reaching each layer, what the optimizer moves, what the net "
        "learns")
    print_compare(list(runs.values()), say)

    say("\n[3/6] Dying ReLU: 4 hidden layers of 64 units, in two settings that kill ReLU units")
    dying = {}
    for scenario in DYING_SCENARIOS:
        say(f"  setting {scenario!r}: {DYING_SCENARIOS[scenario]['why']}")
        dying[scenario] = run_dying(DYING_ACTIVATIONS, scenario=scenario, epochs=epochs["dying"], seed=seed, say=say)
    say("\nClaim 3 - Dying ReLU: a unit that outputs 0 for every input gets no gradient from any of them")
    for i, (scenario, result) in enumerate(dying.items()):
        say(f"{'' if i == 0 else chr(10)}  setting {scenario!r}:")
        print_dying(result, say)

    say("\n[4/6] Kernel cost, forward + backward")
    kernels = run_kernels(size=(1 << 18) if quick else (1 << 20), repeats=3 if quick else 5, seed=seed, say=say)
    say("\nClaim 4 - Cost per element of our Cython kernels")
    print_kernels(kernels, say, compare)

    say("\n[5/6] Non-linearity: linear layers against one ReLU layer on the spirals")
    nonlin = run_nonlinearity(epochs=epochs["nonlin"], seed=seed, say=say)
    say("\nClaim 5 - A stack of linear layers is still linear; one ReLU layer is enough to bend the border")
    print_nonlinearity(nonlin, say)

    say("\n[6/6] Skip connections: 50 hidden ReLU layers, plain and residual, with two initializers")
    residual = run_residual(depth=50, epochs=epochs["residual"], seed=seed, say=say)
    say("\nClaim 6 - Skip connections keep a deep ReLU stack's gradient alive: h + f(h) passes it back unchanged")
    print_residual(residual, say)

    report = {"version": __version__, "seed": seed, "quick": quick,
              "python": platform.python_version(), "numpy": np.__version__,
              "activations": compare["results"],
              "vanishing": {optimizer: run["results"] for optimizer, run in runs.items()},
              "dying": {scenario: result["results"] for scenario, result in dying.items()},
              "kernels": kernels["results"], "nonlinearity": nonlin["results"], "residual": residual["results"],
              "settings": {"compare": compare["settings"],
                           "vanishing": {optimizer: run["settings"] for optimizer, run in runs.items()},
                           "dying": {scenario: result["settings"] for scenario, result in dying.items()},
                           "kernels": kernels["settings"], "nonlinearity": nonlin["settings"],
                           "residual": residual["settings"]},
              "n_classes": compare["n_classes"]}
    json_path = os.path.join(out, "relu_demo.json")
    figure_path = os.path.join(out, "relu_demo.png")
    say("")
    if figures and write_figure(report, {"compare": compare, "nonlinearity": nonlin}, figure_path, say):
        report["figure"] = os.path.basename(figure_path)
    report["seconds_total"] = time.perf_counter() - start
    with open(json_path, "w") as f:
        json.dump(strip_private(report), f, indent=1)
    say(f"Wrote {json_path}")
    say(f"Done in {report['seconds_total']:.1f} s.")
    return report


def write_figure(report, runs, path, say):
    """Draw relu_demo.png when matplotlib is there; otherwise say in one line how to get it.

    `runs` holds the experiments' results with their trained models ('compare', 'nonlinearity'),
    for the decision boundaries.
    """
    from .. import plot
    if not plot.available():
        say(f"Figures skipped: matplotlib is not installed ({plot.INSTALL_HINT} to get relu_demo.png).")
        return False
    demo_figure(report, runs, path)
    say(f"Wrote {path}")
    return True
