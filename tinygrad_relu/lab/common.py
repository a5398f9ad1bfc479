"""What the lab's experiments share: output, tables, data, the MLP they train, thread settings.

Each experiment is a function returning a plain dict (the JSON the demo writes); the printing is
separate, so a script can call ``compare.run_compare(...)`` and get the numbers.
"""
import functools
import json
import math
import sys
import textwrap

import numpy as np

from .. import activations, datasets, initializers, optimizers, utils
from ..layers import Add, Dense, Input, LeakyReLU, PReLU
from ..models import Model, Sequential
from ..ops.activation import NAMES as ACTIVATION_NAMES

SYNTHETIC = tuple(datasets.GENERATORS)
DATASETS = SYNTHETIC + ("mnist", "fashion_mnist")
# Glorot's initialization was derived for tanh/sigmoid; He's for the ReLU family (it doubles
# the variance to make up for the half of the units a ReLU zeroes).
_GLOROT_ACTIVATIONS = ("sigmoid", "tanh", "hard_sigmoid", "softsign", "linear")
# every activation of the table, and PReLU (a layer with a learned slope)
LAB_ACTIVATIONS = ACTIVATION_NAMES + ("prelu",)
# 'leaky_relu_0.01': Leaky ReLU with an explicit negative slope (a Dense, then a LeakyReLU layer).
# Plain 'leaky_relu' is Keras' function, slope 0.2; PyTorch's default (and Tensor.leaky_relu's) is 0.01.
LEAKY_PREFIX = "leaky_relu_"


class Out:
    """Prints progress and tables as they come (flushed, so a pipe sees them live)."""

    def __init__(self, stream=None, quiet=False):
        self.stream = stream or sys.stdout
        self.quiet = quiet

    def __call__(self, text="", end="\n"):
        if not self.quiet:
            self.stream.write(text + end)
            self.stream.flush()


def table(headers, rows):
    """Fixed-width text table; numbers are formatted by the caller."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def one_in(ratio):
    """0.00025 -> '1/4,000': a small ratio as a fraction a reader can picture (0.29 stays 0.29)."""
    if not ratio or not math.isfinite(ratio) or ratio <= 0:
        return "nothing"
    if ratio >= 0.1:
        return f"{ratio:.2g} times"
    denominator = 1.0 / ratio
    digits = max(0, int(math.floor(math.log10(denominator))) - 1)  # two significant digits
    rounded = int(round(denominator / 10 ** digits) * 10 ** digits)
    return f"1/{rounded:,}"


def share(ratio):
    """one_in(ratio) worded to go before "what ...": '1/4,000 of' or '0.57 times'."""
    text = one_in(ratio)
    return text if text.endswith("times") or text == "nothing" else f"{text} of"


def say_reading(sentences, say, width=110):
    """'Reading: a; b; c.' wrapped to the terminal-friendly width, under a table."""
    if sentences:
        say(textwrap.fill("; ".join(sentences) + ".", width=width, initial_indent="  Reading: ",
                          subsequent_indent="  "))


def pct(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def sci(value):
    return "-" if value is None else f"{value:.2e}"


# ---- threads -----------------------------------------------------------------------------

class single_threaded_blas:
    """Run numpy's OpenBLAS on one thread inside the block (restored afterwards).

    The networks here multiply 32x64 by 64x64 matrices: a second BLAS thread buys nothing
    there, and on a busy 2-core machine its waiting for a core made training 3-4x slower
    (measured: the deep-MLP comparison took 5.4 s with two BLAS threads, 1.6 s with one).
    A no-op when numpy's BLAS is not OpenBLAS (utils finds it).
    """

    def __enter__(self):
        self._previous = utils.get_blas_num_threads()
        if self._previous is not None:
            utils.set_blas_num_threads(1)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            utils.set_blas_num_threads(self._previous)
        return False


# ---- data and models ---------------------------------------------------------------------

def load_dataset(name, seed, samples):
    """(x_train, y_train), (x_test, y_test) as float32 features and int labels."""
    if name in SYNTHETIC:
        return datasets.GENERATORS[name](n_samples=samples, seed=seed)
    if name in ("mnist", "fashion_mnist"):
        module = datasets.mnist if name == "mnist" else datasets.fashion_mnist
        (x, y), (xt, yt) = module.load_data()
        n_test = max(1, samples // 4)
        x = x[:samples].reshape(min(samples, len(x)), -1).astype(np.float32) / 255.0
        xt = xt[:n_test].reshape(min(n_test, len(xt)), -1).astype(np.float32) / 255.0
        return (x, y[:samples].astype(np.int64)), (xt, yt[:n_test].astype(np.int64))
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(SYNTHETIC + ('mnist', 'fashion_mnist'))}")


def default_initializer(activation):
    return "glorot_uniform" if activation in _GLOROT_ACTIVATIONS else "he_normal"


def leaky_slope(name):
    """The slope of a 'leaky_relu_<slope>' name (0.01 for 'leaky_relu_0.01'); None for any other name."""
    if not name.startswith(LEAKY_PREFIX):
        return None
    text = name[len(LEAKY_PREFIX):]
    try:
        slope = float(text)
    except ValueError:
        slope = -1.0
    if not (math.isfinite(slope) and slope >= 0):
        raise ValueError(f"activation {name!r}: the slope after {LEAKY_PREFIX!r} must be a number >= 0, "
                         f"got {text!r}")
    return slope


def negative_slope(name):
    """The slope an activation of the lab passes below zero: what keeps a unit's gradient alive there."""
    slope = leaky_slope(name)
    if slope is not None:
        return f"slope {slope:g}"
    return {"leaky_relu": "slope 0.2", "prelu": "a learned slope", "elu": "slope e^x",
            "selu": "slope 1.76 e^x", "celu": "slope e^x"}.get(name)


def build_mlp(activation, depth, width, n_inputs, n_classes, initializer="auto", hidden_bias=0.0):
    """Input -> `depth` hidden Dense layers of `width` units with `activation` -> softmax.

    'prelu' becomes Dense (no activation) followed by a PReLU layer (slope learned, Keras'
    zero init), 'leaky_relu_<slope>' a Dense followed by LeakyReLU(negative_slope=<slope>).
    `hidden_bias` initializes the hidden biases (a negative value starts units dead).
    """
    slope = leaky_slope(activation)
    separate_layer = activation == "prelu" or slope is not None
    if initializer == "auto":
        initializer = default_initializer(activation)
    model = Sequential(name=f"mlp_{activation}")
    model.add(Input(shape=(n_inputs,)))
    for _ in range(depth):
        model.add(Dense(width, activation=None if separate_layer else activation, kernel_initializer=initializer,
                        bias_initializer=initializers.Constant(hidden_bias)))
        if activation == "prelu":
            model.add(PReLU())
        elif slope is not None:
            model.add(LeakyReLU(negative_slope=slope))
    model.add(Dense(n_classes, activation="softmax"))
    return model


def residual_branch_initializer(initializer, blocks):
    """``initializer`` (a VarianceScaling rule such as he_normal) with its variance divided by ``blocks``.

    h + f(h) adds f's variance to h's at every block: with the plain rule the forward signal would
    double ``blocks`` times. A branch that starts at 1/blocks of it starts each block near the identity
    and bounds the growth over the whole stack by (1 + 1/blocks)^blocks < e (the idea of Fixup and
    of zero-initialized residual branches).
    """
    rule = initializers.get(initializer)
    if not isinstance(rule, initializers.VarianceScaling):
        raise ValueError(f"residual nets here scale a VarianceScaling initializer per block; got {initializer!r}")
    return initializers.VarianceScaling(scale=rule.scale / max(1, blocks), mode=rule.mode,
                                        distribution=rule.distribution)


def build_residual_mlp(activation, depth, width, n_inputs, n_classes, initializer="auto"):
    """The functional twin of ``build_mlp`` with skip connections: ``depth`` hidden Dense layers of ``width``
    units, the first from the input, each later one a residual block h = h + act(Dense(h)), then softmax.

    The branches' kernels start at 1/(depth - 1) of ``initializer``'s variance (residual_branch_initializer).
    """
    slope = leaky_slope(activation)
    separate_layer = activation == "prelu" or slope is not None
    if initializer == "auto":
        initializer = default_initializer(activation)
    branch_initializer = residual_branch_initializer(initializer, depth - 1)

    def hidden(h, kernel_initializer):
        h = Dense(width, activation=None if separate_layer else activation, kernel_initializer=kernel_initializer)(h)
        if activation == "prelu":
            return PReLU()(h)
        return LeakyReLU(negative_slope=slope)(h) if slope is not None else h

    inputs = Input(shape=(n_inputs,))
    h = hidden(inputs, initializer)
    for _ in range(depth - 1):
        h = Add()([h, hidden(h, branch_initializer)])
    return Model(inputs, Dense(n_classes, activation="softmax")(h), name=f"residual_mlp_{activation}")


def kernel_snapshot(model):
    """Copies of the kernels of the layers that have one (Dense, Conv), input side first."""
    return [layer.weights[0].data.copy() for layer in model.layers
            if layer.weights and layer.weights[0].ndim >= 2]


def relative_change(before, after):
    """Per layer |W_after - W_before| / |W_before|: how far training moved each kernel (inf if it moved from 0)."""
    changes = []
    for a, b in zip(before, after):
        moved, size = np.linalg.norm(b.astype(np.float64) - a), np.linalg.norm(a.astype(np.float64))
        changes.append(float(moved / size) if size > 0 else (0.0 if moved == 0 else float("inf")))
    return changes


def make_optimizer(name, lr):
    """The optimizer registered under ``name`` ('adam', 'sgd', ...), at learning rate ``lr`` or its default."""
    return optimizers.get(name) if lr is None else optimizers.get_class(name)(learning_rate=lr)


def near_chance(accuracy_value, n_classes):
    """Closer to guessing than to learning: below 1.5 times the chance level 1/n_classes."""
    return accuracy_value < 1.5 / n_classes


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1) == y))


def one_blas_thread(fn):
    """Decorator: the experiment runs under single_threaded_blas()."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)
    return wrapper


def check_activation(name, allowed=None):
    if allowed is not None and name not in allowed:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(allowed)}")
    if name != "prelu" and leaky_slope(name) is None:
        activations.get(name)  # ValueError listing the known names


def strip_private(value):
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [strip_private(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def write_json(path, result):
    if path:
        with open(path, "w") as f:
            json.dump(strip_private(result), f, indent=1)
