"""What compile()'s ``loss``, ``loss_weights`` and ``metrics`` become for a model's outputs, as Keras 3 resolves them.

A single-output model has one loss (weighted by a float ``loss_weights``) and its metrics keep
their names ('accuracy'). A model with several outputs (a list, or a dict of named outputs) has
one loss per output: the same loss for each when one is given, else a list in output order or a
dict by output name (None or a missing key: no loss for that output). The logs then hold
``loss`` (the weighted sum) and, when more than one output has a loss, ``<output>_loss`` for
each, unweighted; each output's metrics are logged as ``<output>_<metric>``. An output's name
is its layer's name ('dense_1'), or its key when the model returns a dict (Keras 3's names).

``weighted_metrics`` are resolved the same way and read the sample weights (and class weights);
``metrics`` never do. A weighted metric keeps its name unless an unweighted one has it already,
then it is logged as ``weighted_<name>`` (Keras 3's rule).
"""
import copy
from typing import NamedTuple

from .. import _registry, activations, losses as losses_module, metrics as metrics_module
from ..utils import tree


class OutputLoss(NamedTuple):
    name: str       # the log name without the "_loss" suffix
    index: int      # the output's position in the flat output list
    loss: object    # a Loss
    weight: object  # a float or None


class MetricEntry(NamedTuple):
    key: str        # the log name: 'accuracy', 'dense_1_mae', 'weighted_accuracy'
    metric: object  # a Metric
    index: object   # the output's position in the flat output list, None for a single-output model
    weighted: bool  # compiled in weighted_metrics: it reads the sample weights (metrics= never does, as Keras)


class CompileSpec(NamedTuple):
    single: bool
    losses: list            # [OutputLoss]
    metric_entries: list    # [MetricEntry]: the metrics, then the weighted metrics

    @property
    def loss_names(self):
        """The per-output loss log names, only when more than one output has a loss (Keras)."""
        return [f"{entry.name}_loss" for entry in self.losses] if len(self.losses) > 1 else []


def _per_output(value, output_names, what, allow_scalar):
    """``value`` for each output, in output order: one value for all (when allowed), a list in order, or a
    dict by output name (missing names get None)."""
    n = len(output_names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in output_names]
        if unknown:
            raise ValueError(f"compile: {what} names outputs {unknown} that the model does not have; its outputs "
                             f"are {output_names}")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"compile: {what} has {len(value)} entries but the model has {n} outputs "
                             f"{output_names}; give one per output (None for none) or a dict by output name")
        return list(value)
    if allow_scalar:
        return [value] * n
    raise ValueError(f"compile: for a model with {n} outputs {output_names}, {what} must be a list with one entry "
                     f"per output or a dict by output name, received {value!r}")


def _metric_list(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple)):
        return [metrics]
    return list(metrics)


def _metric_entries(identifiers, loss, index, prefix, taken, weighted=False):
    entries = []
    for identifier in identifiers:
        metric = metrics_module.get(identifier, loss=loss)
        name = identifier if isinstance(identifier, str) else getattr(metric, "name", None) or type(metric).__name__
        key = f"{prefix}{name}"
        if key in taken:
            if weighted:  # Keras: a weighted metric named like an unweighted one is logged as weighted_<name>
                key = f"{prefix}weighted_{name}"
            elif index is None:
                raise ValueError(f"compile: metric '{key}' is given twice")
            base, count = key, 1  # Keras numbers a name repeated again: mae, mae_1, ...
            while key in taken:
                key, count = f"{base}_{count}", count + 1
        taken.add(key)
        entries.append(MetricEntry(key, metric, index, weighted))
    return entries


def _flat_metric_list(metrics):
    return [m for item in _metric_list(metrics) for m in (_metric_list(item) if isinstance(item, list) else [item])]


def resolve(loss, loss_weights, metrics, output_names, weighted_metrics=None):
    """The CompileSpec for a model whose flat outputs are named ``output_names`` (None: one output)."""
    for what, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        if value and not isinstance(value, (list, tuple, dict)):
            raise ValueError(f"Expected `{what}` argument to be a list, tuple, or dict. Received instead: "
                             f"{what}={value!r} of type {type(value)}")
    if output_names is None or len(output_names) == 1:
        name = output_names[0] if output_names else None
        if isinstance(loss, dict):
            loss = _per_output(loss, [name], "loss", False)[0]
        elif isinstance(loss, (list, tuple)):
            if len(loss) != 1:
                raise ValueError(f"compile: the model has one output, but loss is a list of {len(loss)}")
            loss = loss[0]
        if isinstance(loss_weights, (dict, list, tuple)):
            loss_weights = _per_output(loss_weights, [name], "loss_weights", False)[0]
        if loss_weights is not None and (isinstance(loss_weights, bool) or not isinstance(loss_weights, (int, float))):
            raise ValueError(f"compile: loss_weights must be a number for a single-output model, received "
                             f"{loss_weights!r}")
        if isinstance(metrics, dict):
            metrics = _per_output(metrics, [name], "metrics", False)[0]
        if isinstance(weighted_metrics, dict):
            weighted_metrics = _per_output(weighted_metrics, [name], "weighted_metrics", False)[0]
        loss_fn = losses_module.get(loss) if loss is not None else None
        losses = [] if loss_fn is None else [OutputLoss(name or loss_fn.name or "loss", 0, loss_fn,
                                                        None if loss_weights is None else float(loss_weights))]
        taken = set()
        entries = _metric_entries(_flat_metric_list(metrics), loss_fn, None, "", taken)
        entries += _metric_entries(_flat_metric_list(weighted_metrics), loss_fn, None, "", taken, weighted=True)
        return CompileSpec(True, losses, entries)

    per_loss = _per_output(loss, output_names, "loss", True)
    per_weight = [None] * len(output_names) if loss_weights is None else \
        _per_output(loss_weights, output_names, "loss_weights", False)
    losses = []
    for i, (name, identifier, weight) in enumerate(zip(output_names, per_loss, per_weight)):
        if identifier is None:
            continue
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))):
            raise ValueError(f"compile: the loss weight of output '{name}' must be a number, received {weight!r}")
        loss_fn = losses_module.get(identifier)
        if name is None:  # a subclassed model's list of outputs: Keras names the loss after itself
            name = identifier if isinstance(identifier, str) else loss_fn.name
        losses.append(OutputLoss(name, i, loss_fn, None if weight is None else float(weight)))
    entries, taken = [], set()
    for what, value, weighted in (("metrics", metrics, False), ("weighted_metrics", weighted_metrics, True)):
        if not value:
            continue
        per_metrics = _per_output(value, output_names, what, False)
        for i, (name, identifiers) in enumerate(zip(output_names, per_metrics)):
            loss_fn = next((entry.loss for entry in losses if entry.index == i), None)
            entries += _metric_entries(_metric_list(identifiers), loss_fn, i, "" if name is None else f"{name}_", taken,
                                       weighted)
    return CompileSpec(False, losses, entries)


def standardize_targets(y, output_names, who):
    """y as a flat list in output order: a list or tuple in order, or a dict by output name."""
    n = len(output_names)
    if isinstance(y, dict) and None not in output_names:
        missing = [name for name in output_names if name not in y]
        unknown = [k for k in y if k not in output_names]
        if unknown or missing:
            raise ValueError(f"{who}: y is a dict with keys {sorted(y)}, but the model's outputs are named "
                             f"{output_names}")
        return [y[name] for name in output_names]
    if isinstance(y, (list, tuple)) and len(y) == n:
        return list(y)
    raise ValueError(f"{who}: the model has {n} outputs {output_names}; y must be a list of {n} arrays in that order "
                     f"or a dict by output name, received {type(y).__name__}"
                     + (f" of length {len(y)}" if isinstance(y, (list, tuple)) else ""))


# Softmax (sigmoid) followed by its crossentropy is computed from the logits: log-softmax
# never takes log(0), so a confident wrong prediction gives a large finite loss, not inf.
FUSABLE = (("softmax", "CategoricalCrossentropy"), ("softmax", "SparseCategoricalCrossentropy"),
           ("sigmoid", "BinaryCrossentropy"))


def fused_loss(layer, loss):
    """(the loss with from_logits=True, the activation) when ``layer`` ends in the activation ``loss`` can take
    as logits (softmax before a categorical crossentropy, sigmoid before the binary one); else None."""
    activation = layer.output_activation_name()
    if loss is not None and (activation, type(loss).__name__) in FUSABLE and \
            not getattr(loss, "from_logits", True) and getattr(loss, "axis", -1) == -1:
        return from_logits_copy(loss), activations.get(activation)
    return None


def from_logits_copy(loss):
    """The same loss with from_logits=True (its other settings kept)."""
    try:
        config = dict(loss.get_config())
        config["from_logits"] = True
        return type(loss).from_config(config) if hasattr(type(loss), "from_config") else type(loss)(**config)
    except (AttributeError, TypeError):
        clone = copy.copy(loss)
        clone.from_logits = True
        return clone


# ---- what compile() was given, as JSON for saving -------------------------------------------------
def serialize_loss(identifier):
    """A loss or metric as compile() was given it, as JSON: a name, Keras' serialized form, or the name of a
    class or function."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    if isinstance(identifier, type):
        return identifier.__name__
    if hasattr(identifier, "get_config"):
        return _registry.serialize(identifier)
    return getattr(identifier, "name", None) or getattr(identifier, "__name__", None)


def serialize_metrics(metrics):
    def one(identifier):
        named = serialize_loss(identifier)
        return named if named is not None or identifier is None else type(identifier).__name__
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        return {k: tree.map_structure(one, v) for k, v in metrics.items()}
    if not isinstance(metrics, (list, tuple)):
        metrics = [metrics]
    return [tree.map_structure(one, m) for m in metrics]
