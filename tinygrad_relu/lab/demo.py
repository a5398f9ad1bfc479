"""``tinygrad-relu demo``: claims 1-5 on embedded data, their tables and Readings, relu_demo.json and .png."""
import json
import os
import platform
import time

import numpy as np

from .._version import __version__
from .common import Out, pct, say_reading, strip_private
from .compare import ACTIVATIONS, print_compare, print_sparsity, run_compare
from .dying import DYING_ACTIVATIONS, print_dying, run_dying
from .kernels import print_kernels, run_kernels
from .nonlinearity import print_nonlinearity, run_nonlinearity


def demo(out=".", seed=0, quick=False, figures=True, say=None):
    """Run claims 1-5, print them, write relu_demo.json (and relu_demo.png); returns the report dict."""
    say = say or Out()
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    epochs = {"compare": 15 if quick else 30, "dying": 12 if quick else 20, "nonlin": 40 if quick else 60}
    say(f"tinygrad-relu demo: what ReLU does to backpropagation (seed {seed}{', quick' if quick else ''})")
    say("Every number below is measured now by this engine; nothing is copied from a paper.\n")

    say("[1-2/5] One deep network per activation: 10 hidden layers of 64 units, 3-arm spirals")
    compare = run_compare(ACTIVATIONS, depth=10, width=64, dataset="spirals", samples=900, epochs=epochs["compare"],
                          seed=seed, say=say)
    say("\nClaim 1 - ReLU passes positives unchanged and zeroes negatives, so its activations are sparse")
    print_sparsity(compare, say)
    say("\nClaim 2 - Vanishing gradients: how much gradient reaches the first layer, and what the net learns")
    print_compare(compare, say)

    say("\n[3/5] Dying ReLU: 4 hidden layers of 64 units, hidden biases start at -0.5")
    dying = run_dying(DYING_ACTIVATIONS, scenario="bias", epochs=epochs["dying"], seed=seed, say=say)
    say("  ... and with a large learning rate instead (biases start at 0, Adam lr 0.05)")
    dying_lr = run_dying(("relu", "leaky_relu"), scenario="lr", epochs=epochs["dying"], seed=seed, say=say)
    say("\nClaim 3 - Dying ReLU: units that output 0 for every input get no gradient and never recover")
    print_dying(dying, say)
    r = dying_lr["results"]
    say_reading([f"with a large learning rate instead, ReLU units dead: {pct(r['relu']['dead_fraction_init'])} at "
                 f"init -> {pct(r['relu']['dead_fraction'])} after training: they die during training (Leaky ReLU: "
                 f"{pct(r['leaky_relu']['dead_fraction'])} dead)"], say)

    say("\n[4/5] Kernel cost, forward + backward")
    kernels = run_kernels(size=(1 << 18) if quick else (1 << 20), repeats=3 if quick else 5, seed=seed, say=say)
    say("\nClaim 4 - Cost per element of our Cython kernels")
    print_kernels(kernels, say, compare)

    say("\n[5/5] Non-linearity: linear layers against one ReLU layer on the spirals")
    nonlin = run_nonlinearity(epochs=epochs["nonlin"], seed=seed, say=say)
    say("\nClaim 5 - A stack of linear layers is still linear; one ReLU layer is enough to bend the border")
    print_nonlinearity(nonlin, say)

    report = {"version": __version__, "seed": seed, "quick": quick,
              "python": platform.python_version(), "numpy": np.__version__,
              "activations": compare["results"], "dying": dying["results"], "dying_large_lr": dying_lr["results"],
              "kernels": kernels["results"], "nonlinearity": nonlin["results"],
              "settings": {"compare": compare["settings"], "dying": dying["settings"],
                           "dying_large_lr": dying_lr["settings"], "kernels": kernels["settings"],
                           "nonlinearity": nonlin["settings"]}}
    json_path = os.path.join(out, "relu_demo.json")
    figure_path = os.path.join(out, "relu_demo.png")
    say("")
    if figures and write_figure(report, nonlin, figure_path, say):
        report["figure"] = os.path.basename(figure_path)
    report["seconds_total"] = time.perf_counter() - start
    with open(json_path, "w") as f:
        json.dump(strip_private(report), f, indent=1)
    say(f"Wrote {json_path}")
    say(f"Done in {report['seconds_total']:.1f} s.")
    return report


def write_figure(report, nonlin, path, say):
    """Draw relu_demo.png when matplotlib is there; otherwise say in one line how to get it."""
    from .. import plot
    if not plot.available():
        say(f"Figures skipped: matplotlib is not installed ({plot.INSTALL_HINT} to get relu_demo.png).")
        return False
    demo_figure(report, nonlin, path)
    say(f"Wrote {path}")
    return True


def demo_figure(report, nonlin, path):
    """One sheet, eight panels: the evidence for claims 1-5."""
    from .. import plot
    Figure = plot.require_matplotlib()
    fig = Figure(figsize=(20, 9), layout="constrained")
    axes = fig.subplots(2, 4)
    acts = report["activations"]
    plot.activation_functions(("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"), ax=axes[0, 0])
    plot.activation_functions(("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"), ax=axes[1, 0],
                              derivative=True)
    plot.series({n: r["sparsity_per_layer"] for n, r in acts.items() if r["sparsity"]}
                | {f"{n} trained": r["sparsity_trained_per_layer"] for n, r in acts.items() if r["sparsity"]},
                "fraction of exact zeros", ax=axes[0, 1], xlabel="hidden layer",
                title="1. ReLU's sparsity per layer")
    axes[0, 1].set_ylim(0, 1)
    plot.gradient_norms({n: r["grad_norms"] for n, r in acts.items()}, ax=axes[0, 2],
                        title="2. |dL/dW| per layer at initialization")
    plot.series({n: r["history"]["val_accuracy"] for n, r in acts.items()}, "test accuracy", ax=axes[1, 2],
                title="2. learning follows the gradient")
    dying = report["dying"]
    curves = {n: r["history"]["dead_fraction"] for n, r in dying.items()}
    curves["relu, large lr"] = report["dying_large_lr"]["relu"]["history"]["dead_fraction"]
    ax = plot.series(curves, "dead units (fraction)", ax=axes[0, 3], xlabel="epoch (1 = initialization)",
                     title="3. dying ReLU: dead units over training")
    ax.set_ylim(-0.02, 1.02)
    kernels = report["kernels"]
    plot.bars({n: r["total_ns"] for n, r in kernels.items()}, "ns per element (forward + backward)", ax=axes[1, 3],
              title="4. kernel cost")
    x_test, y_test = nonlin["_data"]
    sub = axes[1, 1].get_subplotspec().subgridspec(1, 2)
    axes[1, 1].remove()
    for i, (key, title) in enumerate((("linear_stack", "5. linear stack"), ("one_relu_layer", "5. one ReLU layer"))):
        model = nonlin["_models"][key]
        plot.decision_boundary(lambda pts, m=model: np.argmax(m.predict(pts, batch_size=4096, verbose=0), axis=-1),
                               x_test, y_test, ax=fig.add_subplot(sub[0, i]),
                               title=f"{title}: {pct(nonlin['results'][key]['test_accuracy'])}")
    fig.suptitle(f"tinygrad_relu: what ReLU does to backpropagation (seed {report['seed']})", fontsize=14)
    fig.savefig(path, dpi=80)
