"""The demo's figure, relu_demo.png: one sheet of seventeen panels, the evidence for claims 1-6.

Each activation keeps one colour on every panel; in claim 2, solid lines are Adam and dashed
lines SGD. Every dead fraction is shown with the test accuracy of its net.
"""
import numpy as np

from .. import plot
from .common import one_blas_thread, pct

COLOURS = {"relu": "tab:blue", "leaky_relu": "tab:orange", "elu": "tab:green", "gelu": "tab:red",
           "sigmoid": "tab:purple", "tanh": "tab:brown", "prelu": "tab:pink", "leaky_relu_0.01": "tab:olive",
           "leaky_relu_0.2": "tab:orange"}
OPTIMIZER_STYLE = {"adam": "-", "sgd": "--"}


def _colour(name):
    return COLOURS.get(name, "tab:gray")


def _predict_classes(model):
    return lambda points: model.predict(points, batch_size=4096, verbose=0)  # probabilities: plot takes argmax


def _per_layer(ax, vanishing, key, ylabel, title, logy=True, xlabel="hidden layer (input side first)",
               optimizers=("adam",)):
    """One line per activation (and optimizer) of a per-layer list, layer 1 at x = 1."""
    for optimizer in optimizers:
        for name, r in vanishing[optimizer].items():
            values = r[key]
            label = name if len(optimizers) == 1 else f"{name}, {optimizer}"
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, color=_colour(name),
                    linestyle=OPTIMIZER_STYLE.get(optimizer, "-"), label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="x-small", ncol=2 if len(optimizers) > 1 else 1)


def _optimizer_legend(ax, names):
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=_colour(n), label=n) for n in names]
    handles += [Line2D([], [], color="black", linestyle=style, label=optimizer)
                for optimizer, style in OPTIMIZER_STYLE.items()]
    ax.legend(handles=handles, fontsize="x-small", ncol=2)


def _dead_over_training(ax, scenario, results, settings):
    curves = {f"{name}: test acc {pct(r['test_accuracy'])}": r["history"]["dead_fraction"]
              for name, r in results.items()}
    styles = {label: {**plot.overlap_style(i), "color": _colour(name)}
              for i, (label, name) in enumerate(zip(curves, results))}
    plot.series(curves, "dead units (fraction)", ax=ax, start=0, styles=styles,
                xlabel="epochs trained (0 = initialization)",
                title=f"3. dead units, setting {scenario!r}: hidden bias {settings['hidden_bias']:g}, "
                      f"Adam lr {settings['learning_rate']:g}")
    ax.set_ylim(-0.02, 1.02)
    ax.get_legend().set_title("activation: accuracy", prop={"size": "x-small"})


def _dead_split(ax, dying):
    """Stacked bars per scenario and activation: stayed dead, died, revived; the accuracy beside each."""
    labels, rows = [], []
    for scenario, results in dying.items():
        for name, r in results.items():
            labels.append(f"{scenario}: {name}")
            rows.append(r)
    y = np.arange(len(rows))[::-1]
    stayed = np.array([r["dead_at_init"] - r["revived"] for r in rows])
    died = np.array([r["died_in_training"] for r in rows])
    revived = np.array([r["revived"] for r in rows])
    ax.barh(y, stayed, color="tab:red", label="dead at init, still dead")
    ax.barh(y, died, left=stayed, color="tab:orange", label="died during training")
    ax.barh(y, revived, left=stayed + died, color="white", edgecolor="tab:green", hatch="///",
            label="dead at init, revived")
    for yi, r, end in zip(y, rows, stayed + died + revived):
        ax.text(end + 0.02, yi, f"acc {pct(r['test_accuracy'])}", va="center", fontsize="x-small")
    ax.set_yticks(y, labels, fontsize="x-small")
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("fraction of hidden units (test set)")
    ax.set_title("3. dead units split, with each net's test accuracy")
    ax.legend(fontsize="x-small", loc="lower right")


RESIDUAL_STYLE = {"plain": "--", "residual": "-"}
INITIALIZER_COLOUR = {"glorot_uniform": "tab:purple", "he_normal": "tab:blue"}


def _skip_connections(axes, report):
    """Claim 6: |dL/dh| per layer at initialization, then test accuracy per epoch, plain against residual."""
    results = report.get("residual")
    if not results:
        for ax in axes:
            ax.set_axis_off()
        return
    depth = report["settings"]["residual"]["depth"]
    for name, r in results.items():
        style = dict(color=INITIALIZER_COLOUR.get(r["initializer"], "tab:gray"),
                     linestyle=RESIDUAL_STYLE.get(r["structure"], "-"))
        norms = r["act_grad_norms"]
        axes[0].plot(np.arange(1, len(norms) + 1), norms, label=name, **style)
        accuracy = r["history"]["val_accuracy"]
        axes[1].plot(np.arange(1, len(accuracy) + 1), accuracy, label=f"{name}: {pct(r['test_accuracy'])}", **style)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("hidden layer (input side first)")
    axes[0].set_ylabel("|dL/dh| at init")
    axes[0].set_title(f"6. {depth} ReLU layers: gradient reaching each layer")
    axes[0].legend(fontsize="x-small")
    axes[1].axhline(1 / report["n_classes"], color="grey", linewidth=0.8, linestyle=":")
    axes[1].set_xlabel("epochs trained")
    axes[1].set_ylabel("test accuracy")
    axes[1].set_title("6. plain (dashed) against residual (solid), Adam")
    axes[1].legend(fontsize="x-small")
    axes[2].set_axis_off()


@one_blas_thread  # the decision boundaries predict 14,400 points through 10-layer nets: small matrices
def demo_figure(report, runs, path):
    """Draw the sheet and save it to `path`; `runs` has the 'compare' (Adam) and 'nonlinearity' results with models."""
    fig = plot.new_figure(figsize=(31, 15))
    axes = fig.subplots(3, 6)
    vanishing = report["vanishing"]
    names = list(vanishing["adam"])
    acts = report["activations"]

    plot.activation_functions(names, ax=axes[0, 0])
    plot.activation_functions(names, ax=axes[0, 1], derivative=True)
    relu = acts.get("relu")
    if relu is not None:
        plot.series({"relu at init": relu["sparsity_per_layer"], "relu trained (adam)":
                     relu["sparsity_trained_per_layer"]}, "fraction of exact zeros", ax=axes[0, 2],
                    xlabel="hidden layer", title="1. ReLU's sparsity per layer")
        axes[0, 2].set_ylim(0, 1)
    _per_layer(axes[0, 3], vanishing, "act_grad_norms", "|dL/dh|",
               "2. gradient reaching each layer's output, at init")
    _per_layer(axes[0, 4], vanishing, "forward_spread", "spread of h over inputs",
               "2. forward signal: input-dependent spread, at init")

    _per_layer(axes[1, 0], vanishing, "weight_grad_rms", "RMS of dL/dW per weight",
               "2. |dL/dW| per weight, at init", xlabel="Dense layer (input side first)")
    _per_layer(axes[1, 1], vanishing, "weight_rel_change", "|W_end - W_init| / |W_init|",
               "2. how far training moved each kernel", xlabel="Dense layer (input side first)",
               optimizers=tuple(OPTIMIZER_STYLE))
    _optimizer_legend(axes[1, 1], names)
    ax = axes[1, 2]
    for optimizer, style in OPTIMIZER_STYLE.items():
        for name, r in vanishing[optimizer].items():
            values = r["history"]["val_accuracy"]
            ax.plot(np.arange(1, len(values) + 1), values, color=_colour(name), linestyle=style)
    ax.axhline(1 / report["n_classes"], color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("test accuracy")
    ax.set_title("2. learning: test accuracy, SGD and Adam")
    _optimizer_legend(ax, names)
    compare = runs["compare"]
    x_test, y_test = compare["_data"]
    for ax, name in zip(axes[1, 3:], ("sigmoid", "relu")):
        model = compare["_models"].get(name)
        if model is None:
            ax.set_axis_off()
            continue
        plot.decision_boundary(_predict_classes(model), x_test, y_test, ax=ax, data_label="test set", resolution=120,
                               title=f"2. deep {name} net (10 layers, adam): {pct(acts[name]['test_accuracy'])}")

    dying = report["dying"]
    settings = report["settings"]["dying"]
    for ax, scenario in zip(axes[2, :2], dying):
        _dead_over_training(ax, scenario, dying[scenario], settings[scenario])
    _dead_split(axes[2, 2], dying)
    nonlin = runs["nonlinearity"]
    x_test, y_test = nonlin["_data"]
    sub = axes[2, 3].get_subplotspec().subgridspec(1, 2)
    axes[2, 3].remove()
    for i, (key, title) in enumerate((("linear_stack", "5. linear stack"), ("one_relu_layer", "5. one ReLU layer"))):
        plot.decision_boundary(_predict_classes(nonlin["_models"][key]), x_test, y_test, ax=fig.add_subplot(sub[0, i]),
                               data_label="test set", resolution=120, title=f"{title}: {pct(nonlin['results'][key]['test_accuracy'])}")
    kernels = report["kernels"]
    plot.bars({n: r["total_ns"] for n, r in kernels.items()}, "ns per element (forward + backward)", ax=axes[2, 4],
              title="4. kernel cost")
    _skip_connections(axes[:, 5], report)
    fig.suptitle(f"tinygrad_relu: what ReLU does to backpropagation (seed {report['seed']}); claim 2: solid = Adam, "
                 f"dashed = SGD", fontsize=15)
    fig.savefig(path, dpi=72)
