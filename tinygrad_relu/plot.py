"""Pictures of what ReLU does: training curves, gradient norms per layer, dead units, histograms.

matplotlib is optional (``pip install "tinygrad_relu[plot]"``). Every function takes an
optional matplotlib ``ax`` and returns the Axes it drew on; without one it makes a new
``matplotlib.figure.Figure`` (no pyplot global state, no display needed):

    ax = plot.gradient_norms({"relu": [...], "sigmoid": [...]})
    ax.figure.savefig("grads.png")
"""
import numpy as np

INSTALL_HINT = 'pip install "tinygrad_relu[plot]"'


def require_matplotlib():
    """Import matplotlib or raise an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"tinygrad_relu.plot needs matplotlib, which is not installed: "
                          f"run  {INSTALL_HINT}  (or pip install matplotlib)") from exc
    return Figure


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
    return fig.add_subplot()


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


def series(curves, ylabel, ax=None, title=None, xlabel="epoch", logy=False):
    """Several named curves on one axes ({name: values}), e.g. test accuracy per activation."""
    ax = _axes(ax)
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=2.5, label=name)
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
    """Fraction of dead units over the epochs: one History, or {label: History} to compare."""
    ax = _axes(ax)
    if not isinstance(histories, dict) or key in histories:
        histories = {key: histories}
    for label, history in histories.items():
        values = _history_dict(history)[key]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
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


# ---- functions and data ------------------------------------------------------------------

def activation_functions(names=("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"), ax=None,
                         derivative=False, span=4.0):
    """Each activation (or, with derivative=True, its derivative computed by backward) on [-span, span]."""
    from . import activations
    from .tensor import Tensor
    ax = _axes(ax)
    grid = np.linspace(-span, span, 401).astype(np.float64)
    for name in names:
        x = Tensor(grid, requires_grad=True)
        y = activations.get(name)(x)
        if derivative:
            y.sum().backward()
            ax.plot(grid, x.grad, label=name)
        else:
            ax.plot(grid, y.data, label=name)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("x")
    ax.set_title("derivatives f'(x), from backward" if derivative else "activations f(x)")
    ax.legend(fontsize="small")
    return ax


def decision_boundary(predict, x, y, ax=None, title=None, resolution=150):
    """Colour the plane by predict(points) -> class indices, and scatter the labelled points."""
    ax = _axes(ax)
    x = np.asarray(x)
    low, high = x.min(axis=0) - 0.2, x.max(axis=0) + 0.2
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    classes = np.asarray(predict(grid)).reshape(gx.shape)
    ax.contourf(gx, gy, classes, alpha=0.25, cmap="viridis", levels=np.arange(classes.max() + 2) - 0.5)
    ax.scatter(x[:, 0], x[:, 1], c=y, s=6, cmap="viridis", edgecolors="none")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


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
