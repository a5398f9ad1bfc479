"""Pictures of what ReLU does: training curves, gradient norms per layer, dead units, histograms.

matplotlib is optional (``pip install "tinygrad_relu[plot]"``). Every function takes an
optional matplotlib ``ax`` and returns the Axes it drew on; without one it makes a new
``matplotlib.figure.Figure`` (no pyplot global state, no display needed):

    ax = plot.gradient_norms({"relu": [...], "sigmoid": [...]})
    ax.figure.savefig("grads.png")

In Jupyter the returned Axes shows itself as a PNG (it has ``_repr_png_``), with any backend.
"""
import io

import numpy as np

INSTALL_HINT = 'pip install "tinygrad_relu[plot]"'
_INLINE_CLASSES = []  # [Figure subclass, Axes subclass], made on first use (matplotlib is optional)


def _inline_classes():
    """A Figure and an Axes that Jupyter displays as PNG: they render themselves with Agg."""
    if not _INLINE_CLASSES:
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure

        class InlineFigure(Figure):
            """A matplotlib Figure that Jupyter shows inline (``_repr_png_``), without pyplot."""

            def _repr_png_(self):
                return png_bytes(self)

        class InlineAxes(Axes):
            """An Axes that Jupyter shows as the whole figure it is drawn on."""

            def _repr_png_(self):
                return png_bytes(self.figure)

        _INLINE_CLASSES.extend([InlineFigure, InlineAxes])
    return _INLINE_CLASSES


def png_bytes(figure, dpi=None):
    """The PNG image of a Figure (or of the root Figure of a SubFigure) as bytes."""
    root = getattr(figure, "figure", None) or figure  # a SubFigure's .figure is the Figure it is drawn on
    buffer = io.BytesIO()
    root.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def require_matplotlib():
    """Import matplotlib or raise an ImportError that says how to install it; returns the Figure class to use
    (matplotlib's Figure, made to show itself inline in Jupyter)."""
    try:
        import matplotlib  # noqa: F401
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"tinygrad_relu.plot needs matplotlib, which is not installed: "
                          f"run  {INSTALL_HINT}  (or pip install matplotlib)") from exc
    return _inline_classes()[0]


def available():
    """True when matplotlib can be imported (the demo skips figures otherwise)."""
    try:
        require_matplotlib()
        return True
    except ImportError:
        return False


def _axes(ax, figsize=(5, 3.5)):
    if ax is not None:
        return ax
    Figure = require_matplotlib()
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot(axes_class=_inline_classes()[1])


def new_figure(figsize=(5, 3.5), **kwargs):
    """An empty Figure that Jupyter shows inline, for a sheet of several plots (pass its axes as ax=)."""
    return require_matplotlib()(figsize=figsize, layout="constrained", **kwargs)


def _history_dict(history):
    """A History object, a model (model.history) or a plain dict -> dict of lists."""
    if isinstance(history, dict):
        return history
    inner = getattr(history, "history", None)
    if isinstance(inner, dict):
        return inner
    if inner is not None and isinstance(getattr(inner, "history", None), dict):
        return inner.history
    raise TypeError(f"plot: expected a History, a model or a dict of lists, got {type(history).__name__}")


# ---- training ----------------------------------------------------------------------------

def training_curves(history, keys=None, ax=None, title=None):
    """Each logged quantity (loss, accuracy, val_...) against the epoch number."""
    ax = _axes(ax)
    logs = _history_dict(history)
    if keys is None:
        keys = [k for k in logs if "/" not in k and (k.endswith("loss") or "acc" in k)] or list(logs)
    for key in keys:
        values = logs[key]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=2.5,
                linestyle="--" if key.startswith("val_") else "-", label=key)
    ax.set_xlabel("epoch")
    ax.legend(fontsize="small")
    ax.set_title(title or "training curves")
    return ax


def series(curves, ylabel, ax=None, title=None, xlabel="epoch", logy=False, start=1, styles=None):
    """Several named curves on one axes ({name: values}), e.g. test accuracy per activation.

    The first value is drawn at x = `start` (1: the end of the first epoch, or layer 1; 0: the
    state at initialization). `styles` maps a name to extra ``ax.plot`` keywords (colour, linestyle).
    """
    ax = _axes(ax)
    for name, values in curves.items():
        style = {"marker": "o", "markersize": 2.5, **((styles or {}).get(name) or {})}
        ax.plot(np.arange(start, len(values) + start), values, label=name, **style)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# ---- gradients ---------------------------------------------------------------------------

def gradient_norms(norms, ax=None, title=None):
    """Gradient norm per layer (input side first) on a log scale.

    `norms` is one series (a list, or {layer name: norm} as diagnostics.gradient_norms
    returns) drawn as bars, or {label: series} to compare several models as lines.
    """
    ax = _axes(ax)
    if isinstance(norms, dict) and norms and all(np.ndim(v) == 0 for v in norms.values()):
        labels, values = list(norms), [float(v) for v in norms.values()]
        ax.bar(np.arange(len(values)), values, color="tab:blue")
        ax.set_xticks(np.arange(len(values)), labels, rotation=45, ha="right", fontsize="small")
    elif isinstance(norms, dict):
        for label, values in norms.items():
            values = list(values.values()) if isinstance(values, dict) else list(values)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("layer (input side first)")
        ax.legend(fontsize="small")
    else:
        values = [float(v) for v in norms]
        ax.bar(np.arange(1, len(values) + 1), values, color="tab:blue")
        ax.set_xlabel("layer (input side first)")
    ax.set_yscale("log")
    ax.set_ylabel("|dL/dW|")
    ax.set_title(title or "gradient norm per layer")
    return ax


def dead_fraction(histories, key="dead_fraction", ax=None, title=None):
    """Fraction of dead units against the number of epochs trained: one History, or {label: History}.

    A History's first value is after one epoch (x = 1). Pass the ``DeadUnits`` or
    ``ActivationMonitor`` callback itself to draw the state at initialization too (x = 0).
    Lines that lie on top of each other (several activations with no dead unit) get markers
    at staggered epochs, so each one stays visible.
    """
    ax = _axes(ax)
    if not isinstance(histories, dict) or key in histories:
        histories = {key: histories}
    starts = set()
    for i, (label, history) in enumerate(histories.items()):
        initial = getattr(history, "initial", None)
        values = list(_history_dict(history)[key])
        start = 1
        if isinstance(initial, dict) and key in initial:
            values, start = [initial[key]] + values, 0
        starts.add(start)
        ax.plot(np.arange(start, len(values) + start), values, label=label, **overlap_style(i))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epochs trained (0 = initialization)" if 0 in starts else "epochs trained")
    ax.set_ylabel("dead units (fraction)")
    ax.legend(fontsize="small")
    ax.set_title(title or "dead units over training")
    return ax


def activation_histograms(values, ax=None, bins=60, title=None):
    """Histograms of activations ({label: array}); a spike at 0 is ReLU's sparsity."""
    ax = _axes(ax)
    if not isinstance(values, dict):
        values = {"activations": values}
    for label, array in values.items():
        array = np.asarray(array, dtype=np.float64).ravel()
        ax.hist(array, bins=bins, histtype="step", linewidth=1.5, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("activation value")
    ax.set_ylabel("count")
    ax.legend(fontsize="small")
    ax.set_title(title or "activation histograms")
    return ax


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", ":", "-.")


def overlap_style(i, every=4):
    """Plot keywords for the i-th of several curves that may coincide: its own marker and line style,
    markers at epochs i, i + every, ... so that curves drawn on top of each other still all show."""
    return {"marker": _MARKERS[i % len(_MARKERS)], "markersize": 4.5, "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
            "markevery": (i % every, every)}


# ---- functions and data ------------------------------------------------------------------

def activation_functions(names=("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"), ax=None,
                         derivative=False, span=4.0):
    """Each activation (or, with derivative=True, its derivative computed by backward) on [-span, span]."""
    from . import activations
    from .tensor import Tensor
    ax = _axes(ax)
    grid = np.linspace(-span, span, 401).astype(np.float64)
    zero = int(np.argmin(np.abs(grid)))
    for i, name in enumerate(names):
        # where curves coincide (relu, leaky_relu and elu are all x, or slope 1, for x > 0) the
        # earlier ones are drawn wider and the later ones dashed over them, so each stays visible
        style = {"linewidth": 1.3 + 1.6 * (len(names) - 1 - i) / max(1, len(names) - 1),
                 "linestyle": _LINESTYLES[i % len(_LINESTYLES)]}
        x = Tensor(grid, requires_grad=True)
        y = activations.get(name)(x)
        if derivative:
            y.sum().backward()
            values = x.grad
        else:
            values = y.data
        line, = ax.plot(*_break_jumps(grid, values), label=name, **style)
        if derivative and line.get_xdata().size > grid.size:  # a jump: show which side the value at 0 takes
            ax.plot([grid[zero]], [values[zero]], marker="o", markersize=4, color=line.get_color())
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("x")
    ax.set_title("derivatives f'(x), from backward" if derivative else "activations f(x)")
    ax.legend(fontsize="small")
    return ax


def _break_jumps(x, values, jump=0.1):
    """(x, values) with a NaN between neighbours whose values differ by more than `jump`.

    On a grid of step 0.02 a smooth activation or derivative changes by far less than 0.1
    between neighbours; a bigger change is a discontinuity (relu' at 0), which a line would
    draw as a vertical segment that is not part of the function.
    """
    values = np.asarray(values, dtype=np.float64)
    cuts = np.flatnonzero(np.abs(np.diff(values)) > jump) + 1
    return np.insert(np.asarray(x, dtype=np.float64), cuts, np.nan), np.insert(values, cuts, np.nan)


def _class_indices(output, n_points):
    """predict's output -> one class index per point: from class indices, per-class probabilities or scores
    (argmax), or one probability per point (class 1 above 0.5)."""
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] > 1:
        output = np.argmax(output, axis=1)
    elif output.ndim == 2 and output.shape[1] == 1:
        output = output[:, 0]
    if output.ndim != 1 or len(output) != n_points:
        raise ValueError(f"plot.decision_boundary: predict must return one class index, one probability or one "
                         f"row of class probabilities per point: for {n_points} points it returned shape "
                         f"{np.shape(output)}")
    if output.dtype.kind == "f" and not np.all(np.isnan(output) | (output == np.round(output))):
        return (output > 0.5).astype(np.int64)  # probabilities of class 1
    return np.nan_to_num(output, nan=-1).astype(np.int64)


def decision_boundary(predict, x, y, ax=None, title=None, resolution=150, data_label="data"):
    """Colour the plane by the class predict(points) gives, and scatter the labelled points on it.

    `predict` maps an (n, 2) float32 array to class indices, class probabilities (n, classes)
    (for example ``model.predict``) or one probability per point (a sigmoid output). A legend
    names the classes; a note says that the colours are the predictions and the dots `data_label`
    (say "test set", so nobody mistakes them for the points the net was fitted on).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) != len(y) or (len(y) and y.min() < 0):
        raise ValueError(f"plot.decision_boundary: x must be (n, 2) points and y n class indices >= 0, got x of "
                         f"shape {x.shape} and y of shape {y.shape}" + (f", min {y.min()}" if len(y) else ""))
    low, high = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    classes = _class_indices(predict(grid), len(grid)).reshape(gx.shape)
    n_classes = int(max(classes.max(), y.max())) + 1
    colours = [tuple(c) for c in _viridis(n_classes)]
    ax.contourf(gx, gy, classes, alpha=0.25, cmap=ListedColormap(colours), levels=np.arange(n_classes + 1) - 0.5)
    ax.scatter(x[:, 0], x[:, 1], c=[colours[k] for k in y], s=7, edgecolors="none")
    handles = [Line2D([], [], linestyle="", marker="o", color=colours[k], label=f"class {k}")
               for k in range(n_classes)]
    ax.legend(handles=handles, fontsize="x-small", loc="upper right", framealpha=0.8)
    ax.text(0.01, 0.01, f"colour: predicted class\ndots: {data_label}", transform=ax.transAxes, fontsize="x-small",
            va="bottom", ha="left", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _viridis(n):
    import matplotlib
    return matplotlib.colormaps["viridis"](np.linspace(0, 1, n) if n > 1 else [0.0])


def bars(values, ylabel, ax=None, title=None, logy=False):
    """A labelled bar chart ({label: value}), e.g. kernel time per element."""
    ax = _axes(ax)
    labels = list(values)
    ax.bar(np.arange(len(labels)), [values[k] for k in labels], color="tab:orange")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right", fontsize="small")
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax
