"""The playground's settings: names, defaults, bounds, presets, and the one validator they all pass.

Every request that changes a run (the page's first connection, a settings change, a URL a
learner shares) goes through ``validate``: each value is converted and checked against the
bounds below, and a bad one is refused with a message naming the setting, the value and what
is allowed. The canonical query string (``to_query``) is what the page puts in its URL, so a
link reproduces the setup.
"""
import math
import urllib.parse

from .. import datasets
from ..lab.common import LAB_ACTIVATIONS

SYNTHETIC_DATASETS = tuple(datasets.GENERATORS)
DATASETS = SYNTHETIC_DATASETS + ("csv",)
ACTIVATIONS = LAB_ACTIVATIONS  # the table's activations (ops.activation.TABLE) and prelu
# Kernel initializers a learner can pick; "auto" is He for the ReLU family, Glorot for sigmoid/tanh.
INITIALIZERS = ("auto", "he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal",
                "lecun_uniform", "orthogonal", "random_normal")
OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "rmsprop")
MAX_LAYERS, MAX_UNITS = 12, 64
MAX_CSV_ROWS = 10_000
MAX_CSV_BYTES = 2_000_000
SPEEDS = (1, 2, 5, 10, 20, 50, 100)  # training steps per update of the page


class SettingsError(ValueError):
    """A setting the playground refuses; ``errors`` lists one message per bad setting."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def _number(kind, low, high):
    """A converter to ``kind`` (int or float) within [low, high]; it raises ValueError for anything else."""
    def convert(name, value):
        if isinstance(value, bool):  # JSON's true is not the number 1
            raise ValueError
        number = float(value.strip() if isinstance(value, str) else value)
        if not math.isfinite(number) or not low <= number <= high or (kind is int and number != int(number)):
            raise ValueError
        return kind(number)
    convert.allowed = f"{'an integer' if kind is int else 'a number'} in [{low:g}, {high:g}]"
    return convert


def _choice(options):
    def convert(name, value):
        if isinstance(value, bool) or value not in options:
            raise ValueError
        return options[options.index(value)]  # the canonical value (5, not 5.0)
    convert.allowed = "one of " + ", ".join(map(str, options))
    return convert


def _units(name, value):
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or not 1 <= len(parts) <= MAX_LAYERS:
        raise ValueError
    return [_UNIT(name, p) for p in parts]


_UNIT = _number(int, 1, MAX_UNITS)
_units.allowed = f"1 to {MAX_LAYERS} comma-separated layer widths, each an integer in [1, {MAX_UNITS}]"


def _activations(name, value):
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or not 1 <= len(parts) <= MAX_LAYERS:
        raise ValueError
    return [_ACTIVATION(name, p.strip() if isinstance(p, str) else p) for p in parts]


_ACTIVATION = _choice(ACTIVATIONS)
_activations.allowed = "comma-separated activations, one per layer (or one for all), each one of " + \
    ", ".join(ACTIVATIONS)

# name: (converter, default, what the page calls it)
FIELDS = {
    "dataset": (_choice(DATASETS), "spirals", "data set"),
    "noise": (_number(float, 0.0, 1.0), 0.2, "noise"),
    "points": (_number(int, 20, 5000), 600, "number of points (train + test)"),
    "test": (_number(float, 0.1, 0.9), 0.25, "test fraction"),
    "seed": (_number(int, 0, 2**31 - 1), 0, "random seed"),
    "layers": (_units, [8, 8, 8, 8], "units per hidden layer"),
    "act": (_activations, ["relu"] * 4, "activation per hidden layer"),
    "slope": (_number(float, 0.0, 1.0), 0.2, "leaky_relu negative slope"),
    "init": (_choice(INITIALIZERS), "auto", "kernel initializer"),
    "bias": (_number(float, -5.0, 5.0), 0.0, "initial hidden bias"),
    "dropout": (_number(float, 0.0, 0.9), 0.0, "dropout rate"),
    "l2": (_number(float, 0.0, 1.0), 0.0, "L2 factor"),
    "opt": (_choice(OPTIMIZERS), "adam", "optimizer"),
    "lr": (_number(float, 1e-6, 10.0), 0.01, "learning rate"),
    "batch": (_number(int, 1, 1024), 32, "batch size"),
    "speed": (_choice(SPEEDS), 5, "steps per update"),
}
# Settings that only change how fast the page advances: changing them keeps the run going.
PACE_ONLY = ("speed",)


def defaults():
    return {name: (list(default) if isinstance(default, list) else default)
            for name, (_, default, _) in FIELDS.items()}


def _convert(name, value):
    convert = FIELDS[name][0]
    if name == "speed" and isinstance(value, str):
        value = value.strip()
        value = int(value) if value.isdigit() else value
    try:
        return convert(name, value)
    except (ValueError, TypeError, OverflowError):
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
        raise ValueError(f"setting '{name}' ({FIELDS[name][2]}) must be {convert.allowed}, got {shown!r}") from None


def validate(raw, base=None, lenient=False):
    """Checked settings: ``raw`` (a dict of strings or JSON values) over ``base`` (default: the defaults).

    Raises SettingsError naming every bad setting; with ``lenient=True`` it keeps the base
    value for those instead and returns ``(settings, errors)`` (a shared URL with one bad value
    still opens the rest of its setup).
    """
    settings = dict(base) if base is not None else defaults()
    errors = []
    if not isinstance(raw, dict):
        raise SettingsError([f"settings must be an object of name: value, got {type(raw).__name__}"])
    for name, value in raw.items():
        if name not in FIELDS:
            errors.append(f"unknown setting {name!r}; known: {', '.join(FIELDS)}")
            continue
        try:
            settings[name] = _convert(name, value)
        except ValueError as err:
            errors.append(str(err))
    depth = len(settings["layers"])
    acts = settings["act"]
    if len(acts) == 1 and depth > 1:
        settings["act"] = acts * depth
    elif len(acts) != depth:
        if "act" in raw:  # a depth change alone keeps the activations, cut or extended with the last one
            errors.append(f"setting 'act' gives {len(acts)} activations for {depth} hidden layers; give one per "
                          f"layer or one for all")
        settings["act"] = (acts + [acts[-1]] * depth)[:depth]
    if lenient:
        return settings, errors
    if errors:
        raise SettingsError(errors)
    return settings


def from_query(query):
    """validate(lenient=True) of a URL query string ('dataset=moons&layers=8,8')."""
    pairs = urllib.parse.parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return validate(dict(pairs), lenient=True)


def _text(value):
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def to_query(settings):
    """The canonical URL query of ``settings``: every setting, in FIELDS order; from_query reads it back."""
    return urllib.parse.urlencode([(name, _text(settings[name])) for name in FIELDS], safe=",")


def resets_run(old, new):
    """Whether going from ``old`` to ``new`` settings needs a fresh network (anything but the pace)."""
    return any(old[name] != new[name] for name in FIELDS if name not in PACE_ONLY)


def describe():
    """Choices, bounds and defaults for the page's controls."""
    return {"datasets": list(DATASETS), "activations": list(ACTIVATIONS), "initializers": list(INITIALIZERS),
            "optimizers": list(OPTIMIZERS), "speeds": list(SPEEDS), "max_layers": MAX_LAYERS,
            "max_units": MAX_UNITS, "max_csv_rows": MAX_CSV_ROWS, "max_csv_bytes": MAX_CSV_BYTES,
            "defaults": defaults(),
            "fields": {name: {"label": label, "allowed": convert.allowed}
                       for name, (convert, _, label) in FIELDS.items()},
            "presets": {name: {"title": p["title"], "claim": p["claim"], "settings": p["settings"]}
                        for name, p in PRESETS.items()}}


# ---- presets: the lab's claims, set up in one click --------------------------------------------
def _preset(title, claim, **settings):
    full = defaults()
    full.update(settings)
    if "act" in settings and len(settings["act"]) == 1:
        full["act"] = settings["act"] * len(full["layers"])
    validate(full)  # a preset is a setup a learner could type: it must pass the same checks
    return {"title": title, "claim": claim, "settings": full}


PRESETS = {
    "sparsity": _preset(
        "ReLU is sparse", "About half of a ReLU layer's outputs are exactly 0: watch the sparsity chart sit near 0.5.",
        layers=[16, 16, 16, 16], act=["relu"], init="he_normal"),
    "deep-sigmoid": _preset(
        "Vanishing gradients: deep sigmoid",
        "Ten sigmoid layers: sigmoid' <= 0.25 shrinks the gradient once per layer, so |dL/dW| of layer 1 is "
        "orders of magnitude below the last layer's, and training stalls.",
        layers=[8] * 10, act=["sigmoid"], init="glorot_uniform"),
    "deep-relu": _preset(
        "Deep ReLU passes the gradient",
        "The same ten layers with ReLU and He initialization: relu' = 1 on active units, so every layer gets a "
        "gradient of the same order.",
        layers=[8] * 10, act=["relu"], init="he_normal"),
    "dying-bias": _preset(
        "Dying ReLU by bias",
        "Hidden biases start at -0.5, so many ReLU units are negative for every input: they output 0 everywhere "
        "(crossed out in the grid), get no gradient and stay dead; with most of the last layer dead the network "
        "is stuck near chance.",
        layers=[16] * 4, act=["relu"], init="he_normal", bias=-0.5, lr=0.003),
    "dying-bias-leaky": _preset(
        "... and Leaky ReLU keeps them alive",
        "The same negative biases with leaky_relu: its slope below zero still passes a gradient, so no unit is "
        "dead, the units climb back and the network learns.",
        layers=[16] * 4, act=["leaky_relu"], init="he_normal", bias=-0.5, lr=0.003),
    "dying-lr": _preset(
        "Dying ReLU by learning rate",
        "Adam at learning rate 0.1: big steps throw ReLU units to the zero side during training, and there they "
        "stay: watch the dead-units chart climb.",
        layers=[16] * 4, act=["relu"], init="he_normal", lr=0.1),
    "linear-stack": _preset(
        "A linear stack is still linear",
        "Three linear layers compose to one matrix: the border stays straight whatever the training does.",
        layers=[16, 16, 16], act=["linear"], init="glorot_uniform"),
    "one-relu": _preset(
        "One ReLU layer bends the border",
        "A single hidden ReLU layer is enough to bend the decision border around the spirals.",
        layers=[32], act=["relu"], init="he_normal"),
}
