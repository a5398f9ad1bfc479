"""The classic figures of a sweep, drawn from its table (the rows ``sweep.run`` returns or sweep.json holds).

* the first hidden layer's gradient over the output layer's, at initialization, against depth,
  per activation (log scale): vanishing gradients as a slope;
* test accuracy against depth, per activation: learning follows the gradient;
* the fraction of dead units after training against the learning rate, per activation.

Lines are medians over the runs of a point (the seeds, and whatever else the caption says was
pooled); the band spans their minimum to maximum. Failed runs and undefined values are left out.
matplotlib is optional: ``pip install "tinygrad_relu[plot]"``.
"""
import numpy as np

from .. import plot

MAX_ACCURACY_PANELS = 4
# what the gradient at initialization depends on: training settings (optimizer, lr, epochs,
# batch size) cannot change it, so runs that differ only in those are the same measurement
_INIT_SETTINGS = ("width", "init", "dataset", "samples")
_OTHER_SETTINGS = ("width", "init", "optimizer", "lr", "dataset", "epochs", "samples", "batch_size")


def _ok(rows):
    return [r for r in rows if r.get("error") is None]


def _varying(rows, columns):
    """The columns that take more than one value for some activation ('auto' initializers follow the
    activation, so he_normal for relu and glorot_uniform for tanh is not a varying init)."""
    by_activation = {}
    for r in rows:
        by_activation.setdefault(r["activation"], []).append(r)
    return [c for c in columns if any(len({r[c] for r in group}) > 1 for group in by_activation.values())]


def _depth_axis(ax, rows):
    depths = sorted({r["depth"] for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.minorticks_off()
    ax.set_xlabel("hidden layers (depth)")


def _label(row, columns):
    return ", ".join(f"{c} {row[c]:g}" if isinstance(row[c], float) else f"{c} {row[c]}" for c in columns)


def _summaries(rows, x_column, y_column):
    """{x: (median, min, max)} of the finite y values at each x."""
    points = {}
    for r in rows:
        value = r[y_column]
        if value is not None and np.isfinite(value):
            points.setdefault(r[x_column], []).append(value)
    return {x: (float(np.median(v)), float(np.min(v)), float(np.max(v))) for x, v in sorted(points.items())}


def median_band(ax, rows, x_column, y_column, label, color=None, linestyle="-"):
    """One line of medians over the rows at each x, and a band from their minimum to maximum."""
    stats = _summaries(rows, x_column, y_column)
    if not stats:
        return None
    xs = list(stats)
    median, low, high = (np.array([stats[x][i] for x in xs]) for i in range(3))
    (line,) = ax.plot(xs, median, marker="o", markersize=3.5, label=label, color=color, linestyle=linestyle)
    ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    return line


def _per_activation(ax, rows, x_column, y_column, split_by=()):
    activations = list(dict.fromkeys(r["activation"] for r in rows))
    colors = {name: f"C{i % 10}" for i, name in enumerate(activations)}
    splits = list(dict.fromkeys(tuple(r[c] for c in split_by) for r in rows))
    groups = {}
    for r in rows:
        groups.setdefault((r["activation"], tuple(r[c] for c in split_by)), []).append(r)
    for (name, split), group in groups.items():
        extra = _label(group[0], split_by)
        median_band(ax, group, x_column, y_column, f"{name}, {extra}" if extra else name, color=colors[name],
                    linestyle=("-", "--", ":", "-.")[splits.index(split) % 4])


def figure(rows, title=None):
    """A matplotlib Figure with the three kinds of panel (one accuracy panel per combination of the
    settings that vary besides activation, depth and seed, up to MAX_ACCURACY_PANELS; beyond that
    they are pooled into one)."""
    Figure = plot.require_matplotlib()
    rows = _ok(rows)
    if not rows:
        raise ValueError("sweep_plot.figure: no successful run in the table to draw")
    others = _varying(rows, _OTHER_SETTINGS)
    combos = list(dict.fromkeys(tuple(r[c] for c in others) for r in rows))
    if len(combos) > MAX_ACCURACY_PANELS:
        combos, pooled_accuracy = [None], others
    else:
        pooled_accuracy = []
    columns = max(2, len(combos))
    fig = Figure(figsize=(5.2 * columns, 8.4), layout="constrained")
    grid = fig.add_gridspec(2, columns)

    wide = (columns + 1) // 2  # the gradient panel, the sweep's main figure, gets the wider half
    ax = fig.add_subplot(grid[0, :wide])
    init_split = _varying(rows, _INIT_SETTINGS)
    _per_activation(ax, rows, "depth", "grad_ratio", split_by=init_split)
    _depth_axis(ax, rows)
    ax.set_yscale("log")
    ax.set_ylabel("|dL/dW| first hidden layer / output layer")
    ax.set_title("gradient reaching the first layer, at initialization")
    ax.legend(fontsize="small")

    ax = fig.add_subplot(grid[0, wide:])
    _per_activation(ax, rows, "lr", "dead_fraction")
    ax.set_xscale("log")
    lrs = sorted({r["lr"] for r in rows})
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("dead units after training (fraction)")
    pooled = ["seeds"] + _varying(rows, ("depth",) + tuple(c for c in _OTHER_SETTINGS if c != "lr"))
    ax.set_title(f"dead units against learning rate\n(pooled over {', '.join(pooled)})")
    ax.legend(fontsize="small")

    for i, combo in enumerate(combos):
        ax = fig.add_subplot(grid[1, i])
        chosen = rows if combo is None else [r for r in rows if tuple(r[c] for c in others) == combo]
        _per_activation(ax, chosen, "depth", "test_accuracy")
        _depth_axis(ax, chosen)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("test accuracy")
        where = _label(chosen[0], others) if combo is not None else f"pooled over {', '.join(pooled_accuracy)}"
        ax.set_title("test accuracy against depth" + (f"\n({where})" if where else ""))
        if i == 0:  # the colors are the same in every panel
            ax.legend(fontsize="small")
    seeds = len({r["seed"] for r in rows})
    fig.suptitle(title or f"sweep of {len(rows)} runs: median and min-max over {seeds} seeds", fontsize=13)
    return fig


def write_figure(rows, path, title=None, dpi=80):
    figure(rows, title).savefig(path, dpi=dpi)
    return path
