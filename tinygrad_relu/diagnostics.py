"""The "why ReLU" instruments: measure a model on a batch without changing it.

- ``gradient_norms``: how much gradient reaches each layer (vanishing gradients show here:
  with sigmoid the first layer gets orders of magnitude less than the last).
- ``activation_sparsity``: the fraction of exact zeros a layer outputs (ReLU: about half).
- ``dead_fraction``: the fraction of units that output zero for *every* sample. Such a ReLU
  unit also passes zero gradient for every sample, so nothing can revive it: it is dead.
- ``inactive_fraction``: the fraction of units whose output is <= 0 for every sample: the
  units sitting on the negative side. For ReLU that is the same as dead; a Leaky ReLU,
  PReLU or ELU unit there still passes a gradient (slope, learned slope, e^x) and can return.
- ``saturation_fraction``: for sigmoid/tanh, the fraction of outputs in the flat tails
  (sigmoid < 0.01 or > 0.99, |tanh| > 0.99), where the derivative is nearly zero.
- ``signal_spread``: how much a layer's output depends on the input: per unit the standard
  deviation over the samples, then the root mean square over the units. A deep sigmoid net
  squeezes it layer after layer (the forward twin of the vanishing gradient).
- ``dead_units``: per hidden layer, which units are dead (a boolean per unit), so two
  snapshots tell apart units dead from the start, units that died and units that revived.

``probe`` computes them all in one forward and one backward pass. The callbacks at the
end (``ActivationMonitor`` and its narrower cousins ``GradientFlow`` and ``DeadUnits``)
record them after every epoch into ``model.history.history`` for plotting.

"Units" are the last axis (Dense units, Conv channels): for conv layers a channel counts
as dead only if it is zero at every position of every sample.
"""
import numpy as np

from .callbacks import Callback
from .tensor import no_grad
from .tensor import Tensor

__all__ = ["probe", "gradient_norms", "activation_sparsity", "dead_fraction", "inactive_fraction",
           "saturation_fraction", "signal_spread", "dead_units",
           "layer_activation", "hidden_layers", "ActivationMonitor", "GradientFlow", "DeadUnits"]

# Activation layers whose class names say what they compute.
_LAYER_CLASS_ACTIVATIONS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu",
                            "Softmax": "softmax"}
# Outputs that are not hidden features: nothing to be sparse or dead about.
_NOT_HIDDEN = (None, "linear", "softmax", "log_softmax")
_SATURATING = ("sigmoid", "tanh", "hard_sigmoid")


def layer_activation(layer):
    """The name of the activation a layer applies last ('relu', 'sigmoid', ...), or None."""
    name = _LAYER_CLASS_ACTIVATIONS.get(type(layer).__name__)
    if name is not None:
        return name
    get_name = getattr(layer, "output_activation_name", None)
    if get_name is not None:
        return get_name()
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) if activation is not None else None


def _layers(model):
    if getattr(model, "layer_outputs", None) is None or getattr(model, "layers", None) is None:
        raise TypeError("diagnostics: expected a Sequential or a functional model (one that can show each layer's "
                        f"output), got {type(model).__name__}")
    return list(model.layers)


def hidden_layers(model):
    """Layers whose output is a hidden non-linear feature map (every activation but the model's output)."""
    layers = _layers(model)
    return [layer for layer in layers[:-1] if layer_activation(layer) not in _NOT_HIDDEN]


def _as_input(model, x):
    if isinstance(x, Tensor):
        return Tensor._make(x.data, False, None)
    layers = _layers(model)
    dtype = getattr(layers[0], "dtype", "float32") if layers else "float32"
    return Tensor(np.ascontiguousarray(np.asarray(x, dtype=dtype)))


def _forward(model, x, record_grads):
    """Run the model layer by layer (``model.layer_outputs``: a Sequential's stack, a functional
    model's graph); returns [(layer, output Tensor)]."""
    _layers(model)
    outputs = model.layer_outputs(_as_input(model, x), training=False)
    if record_grads:
        for _, h in outputs:
            if h.requires_grad:
                h.retain_grad()
    return outputs


def _units_zero(values):
    """Per unit (last axis): True where the output is exactly zero for every sample and position."""
    flat = values.reshape(-1, values.shape[-1])
    return ~np.any(flat != 0, axis=0)


def _units_inactive(values):
    """Per unit (last axis): True where the output is <= 0 for every sample and position."""
    flat = values.reshape(-1, values.shape[-1])
    return ~np.any(flat > 0, axis=0)


def _spread(values):
    """RMS over units of each unit's standard deviation over samples (and positions): the input-dependent part."""
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
    return float(np.sqrt(np.mean(flat.var(axis=0))))


def _saturated(name, values):
    if name in ("sigmoid", "hard_sigmoid"):
        return (values < 0.01) | (values > 0.99)
    return np.abs(values) > 0.99


# ---- the loss the gradients are taken of --------------------------------------------------

def _sparse_crossentropy(y_true, y_pred, probabilities):
    """Mean -log p[label]; computed from logits unless the model already outputs probabilities."""
    labels = np.asarray(y_true).reshape(-1).astype(np.int64)
    if probabilities:
        log_p = y_pred.clip(1e-7, 1.0).log()
    else:
        log_p = y_pred.log_softmax(axis=-1)
    return -log_p[np.arange(len(labels)), labels].mean()


def _loss_function(model, loss, y, output_activation):
    """A callable (y_true, y_pred Tensor) -> scalar Tensor: the given loss, the model's, or crossentropy."""
    if loss is None:  # the compiled loss object, else the name or object given to compile()
        loss = getattr(model, "_loss_fn", None) or getattr(model, "loss", None)
    if loss is not None:
        if isinstance(loss, str) or not callable(loss):
            from . import losses
            loss = losses.get(loss)
        return loss
    y = np.asarray(y)
    if y.dtype.kind in "iu" and y.ndim <= 2:
        return lambda y_true, y_pred: _sparse_crossentropy(y_true, y_pred, output_activation == "softmax")
    raise ValueError("diagnostics: pass loss= (the model is not compiled and y is not integer class labels, "
                     f"y has dtype {y.dtype} and shape {y.shape})")


# ---- measurements ------------------------------------------------------------------------

def probe(model, x, y=None, loss=None):
    """All the measurements of one batch, per layer, in one forward and (with y) one backward pass.

    Returns a dict:
      'layers': [{'name', 'class', 'activation', 'shape', 'sparsity', 'dead_fraction',
                  'inactive_fraction', 'saturation', 'spread', 'output_grad_norm', 'kernel_grad_norm',
                  'kernel_grad_rms'}, ...] in model order,
      'grad_norms': {layer name: |dL/dkernel|} for the layers with a kernel, input side first,
      'loss': the loss value (with y), plus the overall 'sparsity', 'dead_fraction',
      'inactive_fraction', 'saturation'
      over the hidden layers (None when the model has none of that kind).
    'output_grad_norm' is |dL/dh|, the gradient reaching the layer's output h; 'kernel_grad_norm'
    is |dL/dW| and 'kernel_grad_rms' = |dL/dW| / sqrt(W.size), per weight, so that layers of
    different shapes compare; 'spread' is the input-dependent spread of h (see signal_spread).
    The weights and their .grad are left exactly as they were.
    """
    with_grads = y is not None
    weights = [w for layer in _layers(model) for w in layer.weights]
    saved_grads = [w.grad for w in weights]
    try:
        for w in weights:
            w.grad = None
        if with_grads:
            outputs = _forward(model, x, record_grads=True)
        else:
            with no_grad():  # nothing to differentiate: do not record the graph
                outputs = _forward(model, x, record_grads=False)
        loss_value = None
        if with_grads:
            final = outputs[-1][1]
            if not final.requires_grad:
                raise ValueError("diagnostics.probe: the model output does not depend on any trainable "
                                 "weight, so there is no gradient to measure")
            loss_fn = _loss_function(model, loss, y, layer_activation(outputs[-1][0]))
            value = loss_fn(np.asarray(y), final)
            value.backward()
            loss_value = float(value.data)
        hidden = {id(layer) for layer in hidden_layers(model)}
        rows = []
        sums = {"zeros": 0, "elements": 0, "dead": 0, "inactive": 0, "units": 0, "saturated": 0,
                "sat_elements": 0}
        for layer, out in outputs:
            name = layer_activation(layer)
            row = {"name": layer.name, "class": type(layer).__name__, "activation": name,
                   "shape": list(out.shape), "sparsity": None, "dead_fraction": None,
                   "inactive_fraction": None, "saturation": None, "spread": _spread(out.data),
                   "output_grad_norm": None, "kernel_grad_norm": None, "kernel_grad_rms": None}
            values = out.data
            if id(layer) in hidden:
                zero_units = _units_zero(values)
                inactive_units = _units_inactive(values)
                zeros = int(np.count_nonzero(values == 0))
                row["sparsity"] = zeros / values.size
                row["dead_fraction"] = float(zero_units.mean())
                row["inactive_fraction"] = float(inactive_units.mean())
                sums["inactive"] += int(inactive_units.sum())
                sums["zeros"] += zeros
                sums["elements"] += values.size
                sums["dead"] += int(zero_units.sum())
                sums["units"] += zero_units.size
                if name in _SATURATING:
                    saturated = int(np.count_nonzero(_saturated(name, values)))
                    row["saturation"] = saturated / values.size
                    sums["saturated"] += saturated
                    sums["sat_elements"] += values.size
            if with_grads and out.grad is not None:
                row["output_grad_norm"] = float(np.linalg.norm(out.grad.astype(np.float64)))
            if with_grads and layer.weights and layer.weights[0].ndim >= 2:
                grad = layer.weights[0].grad
                row["kernel_grad_norm"] = 0.0 if grad is None else float(np.linalg.norm(grad.astype(np.float64)))
                row["kernel_grad_rms"] = row["kernel_grad_norm"] / np.sqrt(layer.weights[0].size)
            rows.append(row)
    finally:
        for w, g in zip(weights, saved_grads):
            w.grad = g

    def ratio(a, b):
        return sums[a] / sums[b] if sums[b] else None

    return {
        "layers": rows,
        "grad_norms": {r["name"]: r["kernel_grad_norm"] for r in rows if r["kernel_grad_norm"] is not None},
        "loss": loss_value,
        "sparsity": ratio("zeros", "elements"),
        "dead_fraction": ratio("dead", "units"),
        "inactive_fraction": ratio("inactive", "units"),
        "saturation": ratio("saturated", "sat_elements"),
    }


_GRADIENT_KINDS = {"weights": "kernel_grad_norm", "weights_rms": "kernel_grad_rms", "activations": "output_grad_norm"}


def gradient_norms(model, x, y, loss=None, of="weights"):
    """{layer name: gradient norm}, input side first, after one backward pass on (x, y).

    of='weights': |dL/dkernel| of each layer with a kernel (Dense, Conv).
    of='weights_rms': |dL/dkernel| / sqrt(kernel size): per weight, so a 2x64 first kernel and a
    64x64 hidden one compare (the norm grows with the number of weights).
    of='activations': |dL/dh|, the gradient reaching each layer's output h.
    """
    key = _GRADIENT_KINDS.get(of)
    if key is None:
        raise ValueError(f"diagnostics.gradient_norms: of must be one of {', '.join(map(repr, _GRADIENT_KINDS))}, "
                         f"got {of!r}")
    return {r["name"]: r[key] for r in probe(model, x, y, loss)["layers"] if r[key] is not None}


def _per_hidden_layer(model, x, key):
    return {r["name"]: r[key] for r in probe(model, x)["layers"] if r[key] is not None}


def activation_sparsity(model, x):
    """{hidden layer name: fraction of its outputs that are exactly zero} on the batch x."""
    return _per_hidden_layer(model, x, "sparsity")


def dead_fraction(model, x):
    """{hidden layer name: fraction of its units that are zero for every sample of x}."""
    return _per_hidden_layer(model, x, "dead_fraction")


def inactive_fraction(model, x):
    """{hidden layer name: fraction of its units that are <= 0 for every sample of x}."""
    return _per_hidden_layer(model, x, "inactive_fraction")


def saturation_fraction(model, x):
    """{sigmoid/tanh layer name: fraction of outputs in the flat tails} on the batch x."""
    return _per_hidden_layer(model, x, "saturation")


def signal_spread(model, x):
    """{hidden layer name: input-dependent spread of its output} on the batch x.

    spread = sqrt(mean over units of Var over samples of h[:, unit]): 0 when the layer outputs
    the same vector for every input. Divide by the first layer's to see the signal fade with depth.
    """
    hidden = {id(layer) for layer in hidden_layers(model)}
    return {r["name"]: r["spread"] for r, layer in zip(probe(model, x)["layers"], _layers(model))
            if id(layer) in hidden}


def dead_units(model, x):
    """{hidden layer name: boolean array, True for each unit that outputs exactly 0 for every sample of x}.

    Compare two snapshots (before and after training) to split the dead units into dead from the
    start, died during training and revived.
    """
    hidden = {id(layer) for layer in hidden_layers(model)}
    with no_grad():
        outputs = _forward(model, x, record_grads=False)
    return {layer.name: _units_zero(out.data) for layer, out in outputs if id(layer) in hidden}


# ---- callbacks ---------------------------------------------------------------------------

class ActivationMonitor(Callback):
    """Measure a fixed probe batch after every epoch and record it into the History.

    Keys of ``model.history.history``:
      'grad_norm/<layer>' per layer with a kernel, and 'grad_ratio' (first layer / last layer),
      'sparsity/<layer>', 'sparsity', 'dead_fraction/<layer>', 'dead_fraction',
      'inactive_fraction/<layer>', 'inactive_fraction',
      'saturation/<layer>', 'saturation' (only for sigmoid/tanh layers).
    The model-wide numbers also go into the epoch logs (the progress bar, other callbacks); the
    per-layer ones (with a '/') go to the History only, so the progress line stays readable.
    `measures` picks a subset of 'grad_norm', 'sparsity', 'dead_fraction', 'saturation';
    per_layer=False keeps only the model-wide numbers. The state before training is kept in
    ``self.initial`` and every epoch's in ``self.history``.
    """

    MEASURES = ("grad_norm", "sparsity", "dead_fraction", "inactive_fraction", "saturation")

    def __init__(self, x, y=None, loss=None, measures=MEASURES, per_layer=True, max_samples=512):
        super().__init__()
        unknown = [m for m in measures if m not in self.MEASURES]
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown measures {unknown}; known: {list(self.MEASURES)}")
        if "grad_norm" in measures and y is None:
            raise ValueError(f"{type(self).__name__}: gradient norms need labels: pass y= with x")
        self.x = np.asarray(x)[:max_samples]
        self.y = None if y is None else np.asarray(y)[:max_samples]
        self.loss = loss
        self.measures = tuple(measures)
        self.per_layer = per_layer
        self.initial = None
        self.history = {}

    def measure(self):
        """The logs entries for the model as it is now."""
        wants_grads = "grad_norm" in self.measures
        report = probe(self.model, self.x, self.y if wants_grads else None, self.loss)
        logs = {}
        if wants_grads:
            norms = list(report["grad_norms"].values())
            if self.per_layer:
                logs.update({f"grad_norm/{name}": v for name, v in report["grad_norms"].items()})
            if norms:
                logs["grad_ratio"] = norms[0] / norms[-1] if norms[-1] > 0 else float("inf")
        for measure in ("sparsity", "dead_fraction", "inactive_fraction", "saturation"):
            if measure not in self.measures or report[measure] is None:
                continue
            if self.per_layer:
                logs.update({f"{measure}/{r['name']}": r[measure] for r in report["layers"] if r[measure] is not None})
            logs[measure] = report[measure]
        return logs

    def on_train_begin(self, logs=None):
        self.initial = self.measure()
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        values = self.measure()
        history = getattr(getattr(self.model, "history", None), "history", None)
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
            if "/" not in key:
                if logs is not None:
                    logs[key] = value
            elif isinstance(history, dict):
                # per layer: straight into History, so the progress bar shows only the summaries
                history.setdefault(key, []).append(value)

    def on_train_end(self, logs=None):
        # History normally records our entries from the epoch logs. If it ran before us
        # (callback order is up to the caller), fill them in from our own record.
        history = getattr(getattr(self.model, "history", None), "history", None)
        if isinstance(history, dict):
            for key, values in self.history.items():
                if len(history.get(key, [])) != len(values):
                    history[key] = list(values)


class GradientFlow(ActivationMonitor):
    """Per-epoch gradient norm of every kernel and the first/last ratio (vanishing gradients)."""

    def __init__(self, x, y, loss=None, per_layer=True, max_samples=512):
        super().__init__(x, y, loss=loss, measures=("grad_norm",), per_layer=per_layer, max_samples=max_samples)


class DeadUnits(ActivationMonitor):
    """Per-epoch dead, inactive and zero fractions of every hidden layer (dying ReLU)."""

    def __init__(self, x, per_layer=True, max_samples=512):
        super().__init__(x, None, measures=("dead_fraction", "inactive_fraction", "sparsity"), per_layer=per_layer,
                         max_samples=max_samples)
