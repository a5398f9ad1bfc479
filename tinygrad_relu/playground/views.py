"""What the page draws, measured on the model: one forward over the plane and the data, one probe.

A *frame* holds everything the live views need at one training step:

- the decision boundary: the predicted class and its probability at every cell of a
  ``GRID`` x ``GRID`` plane around the data;
- every hidden unit's output over the plane (every 2nd cell, every 4th for big networks, see
  ``neuron_stride``), and whether the unit is dead: exactly 0 on the whole plane *and* on
  every train and test point;
- per hidden layer: |dL/dh| (the gradient reaching its output) and |dL/dW| (its kernel's
  gradient), the fractions of dead, exactly-zero (sparsity) and saturated outputs (from
  ``diagnostics.probe`` on up to ``PROBE_ROWS`` training points), and a histogram of its
  pre-activations z = h_in @ W + b on the data;
- loss (cross-entropy) and accuracy on the train and test sets.

Arrays the page paints go as base64 bytes (values quantized to 0..255: a unit's heatmap over its own
[min, max], sent beside it), the rest as JSON numbers;
NaN and inf (a diverged run) become null so the JSON stays valid.
"""
import base64
import math
from typing import NamedTuple

import numpy as np

from .. import diagnostics
from ..tensor import Tensor, no_grad

GRID = 48
SMALL_NETWORK_UNITS = 128  # up to this many hidden units, the heatmaps are 24 x 24; beyond, 12 x 12
PROBE_ROWS = 512
HIST_BINS = 24
_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before the log


class Plane(NamedTuple):
    extent: list         # [x_min, x_max, y_min, y_max]
    points: np.ndarray   # (GRID * GRID, 2) float32, row-major from the top-left corner (y falls)
    stride: int          # the unit heatmaps take every stride-th cell of the plane each way


def neuron_stride(settings):
    """Every 2nd cell for the heatmaps; every 4th when there are many units (768 of 24 x 24 make 600 kB a frame)."""
    return 2 if sum(settings["layers"]) <= SMALL_NETWORK_UNITS else 4


class Group(NamedTuple):
    """Where hidden layer k lives in model.layers: its Dense, and the layer whose output is h_k."""
    dense: int
    output: int
    activation: str


def plane_for(data, stride=2):
    """A square window around every train and test point, 10% wider than they reach."""
    points = np.concatenate([data.x_train, data.x_test]).astype(np.float64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * 1.1, 1e-3)
    x0, x1, y0, y1 = centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half
    xs = np.linspace(x0, x1, GRID)
    ys = np.linspace(y1, y0, GRID)
    gx, gy = np.meshgrid(xs, ys)
    return Plane([x0, x1, y0, y1], np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32), stride)


def groups(specs, settings):
    """The hidden layers' positions in model.layers (the specs and the layers correspond one to one)."""
    found = {}
    for index, spec in enumerate(specs):
        if spec.role == "dense":
            found[spec.hidden] = [index, index]
        elif spec.role == "activation":
            found[spec.hidden][1] = index
    return [Group(found[k][0], found[k][1], settings["act"][k - 1]) for k in sorted(found)]


def finite(value):
    """A JSON-safe float: None for None, NaN and inf."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def _quantize_range(values, low, high):
    """Each column's values from its [low, high] -> 0..255 (a constant column -> 0)."""
    span = high - low
    scaled = (values - low) / np.where(span > 0, span, 1.0)
    return np.rint(np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0).clip(0, 1) * 255).astype(np.uint8)


def _histogram(z):
    z = z[np.isfinite(z)]
    if z.size == 0:
        return {"lo": 0.0, "hi": 0.0, "counts": [0] * HIST_BINS}
    lo, hi = float(z.min()), float(z.max())
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    counts, _ = np.histogram(z, bins=HIST_BINS, range=(lo, hi))
    return {"lo": lo, "hi": hi, "counts": counts.tolist()}


def _forward(model, x):
    """The output of every layer of ``model`` on ``x`` (inference: dropout off)."""
    outputs = []
    h = Tensor(x)
    with no_grad():
        for layer in model.layers:
            h = layer(h, training=False)
            outputs.append(h.data)
    return outputs


def _crossentropy(probabilities, labels):
    picked = probabilities[np.arange(len(labels)), labels]
    return float(np.mean(-np.log(np.clip(picked, _EPSILON, 1.0 - _EPSILON))))


def measure(model, run_groups, data, plane):
    """The frame's measurements (a JSON-ready dict without the step counters)."""
    n_plane, n_train = len(plane.points), len(data.x_train)
    x_all = np.concatenate([plane.points, data.x_train, data.x_test])
    with np.errstate(all="ignore"):
        outputs = _forward(model, x_all)
        probabilities = outputs[-1]
        train_p, test_p = probabilities[n_plane:n_plane + n_train], probabilities[n_plane + n_train:]
        frame = {
            "loss": finite(_crossentropy(train_p, data.y_train)),
            "accuracy": float(np.mean(np.argmax(train_p, axis=1) == data.y_train)),
            "test_loss": finite(_crossentropy(test_p, data.y_test)),
            "test_accuracy": float(np.mean(np.argmax(test_p, axis=1) == data.y_test)),
        }
        plane_p = np.nan_to_num(probabilities[:n_plane], nan=0.0)
        frame["diverged"] = not bool(np.all(np.isfinite(probabilities)))
        frame["boundary"] = _b64(np.concatenate([np.argmax(plane_p, axis=1),
                                                 np.rint(plane_p.max(axis=1) * 255)]))
        probe_rows = min(PROBE_ROWS, n_train)
        report = diagnostics.probe(model, data.x_train[:probe_rows], data.y_train[:probe_rows])
        rows = report["layers"]
        layers = []
        for k, group in enumerate(run_groups):
            dense = model.layers[group.dense]
            h_in = x_all if group.dense == 0 else outputs[group.dense - 1]
            z = h_in[n_plane:] @ dense.kernel.data + dense.bias.data
            h = outputs[group.output]
            units = h.shape[1]
            on_plane = h[:n_plane].reshape(GRID, GRID, units)[::plane.stride, ::plane.stride]
            on_plane = on_plane.reshape(-1, units)
            # each unit over its own range: a sigmoid unit between 0.49 and 0.51 still shows its pattern
            low = np.nan_to_num(on_plane.min(axis=0), nan=0.0, posinf=0.0, neginf=0.0)
            high = np.nan_to_num(on_plane.max(axis=0), nan=0.0, posinf=0.0, neginf=0.0)
            dead = ~np.any(h != 0, axis=0)
            layers.append({
                "units": units, "activation": group.activation,
                "neurons": _b64(_quantize_range(on_plane, low, high).T),
                "neuron_range": [[float(a), float(b)] for a, b in zip(low, high)],
                "dead": [int(d) for d in dead],
                "dead_fraction": float(dead.mean()),
                "sparsity": finite(rows[group.output]["sparsity"]),
                "inactive_fraction": finite(rows[group.output]["inactive_fraction"]),
                "saturation": finite(rows[group.output]["saturation"]),
                "grad_h": finite(rows[group.output]["output_grad_norm"]),
                "grad_w": finite(rows[group.dense]["kernel_grad_norm"]),
                "hist": _histogram(z),
            })
        frame["layers"] = layers
        frame["output_grad_w"] = finite(rows[-1]["kernel_grad_norm"])
    return frame


def history_entry(frame, step, epoch):
    """The numbers of a frame that the charts plot over time (and the JSON export keeps)."""
    keys = ("grad_h", "grad_w", "dead_fraction", "sparsity", "inactive_fraction", "saturation")
    return {"step": step, "epoch": epoch,
            **{k: frame[k] for k in ("loss", "accuracy", "test_loss", "test_accuracy", "output_grad_w")},
            "layers": [{k: layer[k] for k in keys} for layer in frame["layers"]]}


def data_message(data, plane):
    """The points and the window, sent once per run (the frames then carry only what changes)."""
    def points(x, y):
        return [[round(float(a), 5), round(float(b), 5), int(c)] for (a, b), c in zip(x.tolist(), y.tolist())]
    return {"extent": plane.extent, "grid": GRID, "stride": plane.stride, "classes": data.class_names,
            "source": data.source, "train": points(data.x_train, data.y_train),
            "test": points(data.x_test, data.y_test)}
