"""The `tinygrad-relu` command: experiments that show, with this engine's own numbers, what ReLU does.

    tinygrad-relu demo [--out DIR] [--seed S] [--quick]   claims 1-5, tables, relu_demo.json, relu_demo.png
    tinygrad-relu compare --activations relu,sigmoid --depth 10 ...   vanishing gradients, sparsity, accuracy
    tinygrad-relu dying [--scenario bias|lr] ...                      dead ReLU units and the Leaky/PReLU/ELU fix
    tinygrad-relu kernels [--size N]                                  forward+backward time per element

Each experiment is a function returning a plain dict (the JSON the demo writes); the
printing is separate, so a script can call ``run_compare(...)`` and get the numbers.
"""
import argparse
import json
import math
import os
import platform
import sys
import textwrap
import time

import numpy as np

from . import __version__, activations, datasets, diagnostics, initializers, utils
from .layers import Dense, Input, PReLU
from .models import Sequential
from .tensor import Tensor

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")
DYING_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")
KERNEL_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh")
SYNTHETIC = tuple(datasets.GENERATORS)
# Glorot's initialization was derived for tanh/sigmoid; He's for the ReLU family (it doubles
# the variance to make up for the half of the units a ReLU zeroes).
_GLOROT_ACTIVATIONS = ("sigmoid", "tanh", "hard_sigmoid", "softsign", "linear")


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


def build_mlp(activation, depth, width, n_inputs, n_classes, initializer="auto", hidden_bias=0.0):
    """Input -> `depth` hidden Dense layers of `width` units with `activation` -> softmax.

    'prelu' becomes Dense (no activation) followed by a PReLU layer (slope learned, Keras'
    zero init). `hidden_bias` initializes the hidden biases (a negative value starts units dead).
    """
    layer_activation = None if activation == "prelu" else activation
    if initializer == "auto":
        initializer = default_initializer(activation)
    model = Sequential(name=f"mlp_{activation}")
    model.add(Input(shape=(n_inputs,)))
    for _ in range(depth):
        model.add(Dense(width, activation=layer_activation, kernel_initializer=initializer,
                        bias_initializer=initializers.Constant(hidden_bias)))
        if activation == "prelu":
            model.add(PReLU())
    model.add(Dense(n_classes, activation="softmax"))
    return model


def _optimizer(name, lr):
    from . import optimizers
    kwargs = {} if lr is None else {"learning_rate": lr}
    return {"adam": optimizers.Adam, "sgd": optimizers.SGD, "rmsprop": optimizers.RMSprop,
            "adamw": optimizers.AdamW, "adagrad": optimizers.Adagrad}[name](**kwargs)


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1) == y))


def _one_blas_thread(fn):
    """Decorator: the experiment runs under single_threaded_blas()."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return fn(*args, **kwargs)
    return wrapper


def _check_activation(name, allowed=None):
    if allowed is not None and name not in allowed:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(allowed)}")
    if name != "prelu":
        activations.get(name)  # ValueError listing the known names


# ---- claim 2 (and 1): the same deep network with each activation --------------------------

@_one_blas_thread
def run_compare(activation_names=ACTIVATIONS, depth=10, width=64, dataset="spirals", samples=900, epochs=30,
                lr=None, optimizer="adam", batch_size=32, seed=0, initializer="auto", say=Out(quiet=True)):
    """Train one deep MLP per activation on the same data from the same seed.

    Per activation: kernel gradient norms at initialization (input side first), their
    first/last ratio, sparsity/dead/saturation at initialization and after training,
    test accuracy per epoch and at the end, and the training time.
    """
    for name in activation_names:
        _check_activation(name)
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    results = {}
    for name in activation_names:
        say(f"  {name:<11} training {depth}x{width} {optimizer}, {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)  # every activation starts from the same random stream
        model = build_mlp(name, depth, width, x.shape[1], n_classes, initializer)
        model.compile(optimizer=_optimizer(optimizer, lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        at_init = diagnostics.probe(model, x_test, y_test)
        monitor = diagnostics.ActivationMonitor(x_test, y_test, per_layer=False)
        start = time.perf_counter()
        history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[monitor],
                            validation_data=(x_test, y_test))
        seconds = time.perf_counter() - start
        trained = diagnostics.probe(model, x_test, y_test)
        norms = list(at_init["grad_norms"].values())
        hidden_rows = [r for r in at_init["layers"] if r["sparsity"] is not None]
        trained_rows = [r for r in trained["layers"] if r["sparsity"] is not None]
        logs = history.history
        results[name] = {
            "initializer": initializer if initializer != "auto" else default_initializer(name),
            "test_accuracy": _accuracy(model, x_test, y_test),
            "train_accuracy": float(logs["accuracy"][-1]),
            "final_loss": float(logs["loss"][-1]),
            "grad_norms": norms,
            "grad_ratio": norms[0] / norms[-1] if norms[-1] > 0 else 0.0,
            "activation_grad_norms": [r["output_grad_norm"] for r in hidden_rows],
            "sparsity": at_init["sparsity"],
            "sparsity_per_layer": [r["sparsity"] for r in hidden_rows],
            "sparsity_trained": trained["sparsity"],
            "sparsity_trained_per_layer": [r["sparsity"] for r in trained_rows],
            "dead_fraction_init": at_init["dead_fraction"],
            "dead_fraction": trained["dead_fraction"],
            "saturation_init": at_init["saturation"],
            "saturation": trained["saturation"],
            "seconds": seconds,
            "history": {"val_accuracy": [float(v) for v in logs["val_accuracy"]],
                        "loss": [float(v) for v in logs["loss"]],
                        "grad_ratio": [float(v) for v in monitor.history.get("grad_ratio", [])]},
        }
        r = results[name]
        say(f"test accuracy {pct(r['test_accuracy'])}, {seconds:.1f} s")
    return {"settings": {"activations": list(activation_names), "depth": depth, "width": width, "dataset": dataset,
                         "samples": samples, "epochs": epochs, "optimizer": optimizer, "learning_rate": lr,
                         "batch_size": batch_size, "seed": seed, "initializer": initializer},
            "n_classes": n_classes, "results": results}


def print_sparsity(compare, say):
    """Claim 1: ReLU's definition on a few numbers, then the zeros it makes in each layer."""
    x = Tensor(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), requires_grad=True)
    y = activations.relu(x)
    y.sum().backward()
    say(table(["x", *[f"{v:g}" for v in x.data]],
              [["relu(x)", *[f"{v:g}" for v in y.data]],
               ["relu'(x) (backward)", *[f"{v:g}" for v in x.grad]]]))
    say()
    r = compare["results"].get("relu")
    if r is None:
        return
    layers = range(1, len(r["sparsity_per_layer"]) + 1)
    say(table(["hidden layer", *map(str, layers)],
              [["zeros at init", *[f"{v:.2f}" for v in r["sparsity_per_layer"]]],
               ["zeros trained", *[f"{v:.2f}" for v in r["sparsity_trained_per_layer"]]]]))
    say_reading([f"ReLU copies positive inputs and outputs exactly 0 for negative ones, and its derivative is 1 "
                 f"or 0", f"at initialization {pct(r['sparsity'])} of the deep net's ReLU outputs are exact zeros "
                 f"(a random pre-activation is negative half the time), after training {pct(r['sparsity_trained'])}",
                 "a zero output adds nothing downstream and passes no gradient back"], say)


def print_compare(compare, say):
    """Claim 2: the gradient reaching the first layer, and whether the network learns."""
    s = compare["settings"]
    rows = []
    for name, r in compare["results"].items():
        rows.append([name, r["initializer"], sci(r["grad_norms"][0]), sci(r["grad_norms"][-1]),
                     sci(r["grad_ratio"]), pct(r["sparsity"]), pct(r["dead_fraction"]),
                     pct(r["saturation"]) if r["saturation"] is not None else "-",
                     pct(r["test_accuracy"]), f"{r['seconds']:.1f}"])
    say(table(["activation", "init", "|dW| first", "|dW| last", "first/last", "zeros", "dead",
               "saturated", "test acc", "seconds"], rows))
    say(f"  ({s['depth']} hidden layers of {s['width']}, {s['dataset']}, {s['optimizer']}, {s['epochs']} epochs; "
        f"gradients at initialization on the test set;\n   zeros at init, dead and saturated after training; "
        f"chance level is {pct(1 / compare['n_classes'])})")
    results = compare["results"]
    readings = []
    if "sigmoid" in results:
        sig = results["sigmoid"]
        readings.append(f"the first layer of the sigmoid net receives {one_in(sig['grad_ratio'])} of the "
                        f"gradient its last layer gets (sigmoid' <= 0.25, once per layer)")
    if "relu" in results:
        rel = results["relu"]
        readings.append(f"with ReLU ({rel['initializer']}) the first layer gets {one_in(rel['grad_ratio'])} what "
                        f"the last gets: the same order, since relu' = 1 on the active path")
    if "tanh" in results:
        tan = results["tanh"]
        readings.append(f"tanh ({tan['initializer']}) passes {one_in(tan['grad_ratio'])}: its slope is 1 at 0 and "
                        f"less elsewhere, so it shrinks the gradient far less than sigmoid; after training "
                        f"{pct(tan['saturation'])} of its outputs sit in the flat tails")
    if "sigmoid" in results and "relu" in results:
        sig, rel = results["sigmoid"], results["relu"]
        if rel["test_accuracy"] > sig["test_accuracy"]:
            verdict = "stalls near chance" if sig["test_accuracy"] < 1.5 / compare["n_classes"] else "learns less"
            readings.append(f"learning follows: sigmoid {verdict} ({pct(sig['test_accuracy'])}) while ReLU "
                            f"reaches {pct(rel['test_accuracy'])} with the same data, optimizer and epochs")
        else:
            readings.append(f"on this run ReLU's test accuracy ({pct(rel['test_accuracy'])}) is not above "
                            f"sigmoid's ({pct(sig['test_accuracy'])}): too few epochs, or a task too easy or too "
                            f"hard for either to show the difference")
    say_reading(readings, say)


# ---- claim 3: dying ReLU -----------------------------------------------------------------

DYING_SCENARIOS = {
    # A strongly negative bias puts many units on the zero side for every input from the start.
    "bias": {"hidden_bias": -0.5, "lr": 0.001,
             "why": "hidden biases start at -0.5, so many units are negative for every input from the start"},
    # A large step throws units onto the zero side during training (the usual way they die).
    "lr": {"hidden_bias": 0.0, "lr": 0.05,
           "why": "Adam with learning rate 0.05 (50x the default): big steps throw units to the zero side"},
}


@_one_blas_thread
def run_dying(activation_names=DYING_ACTIVATIONS, scenario="bias", depth=4, width=64, dataset="spirals",
              samples=600, epochs=20, lr=None, hidden_bias=None, batch_size=32, seed=0, say=Out(quiet=True)):
    """Train the same small MLP per activation in a setting that kills ReLU units.

    A unit is dead when it outputs exactly 0 for every test sample: then it also gets zero
    gradient for every sample and nothing can bring it back. Inactive = output <= 0 for every
    sample: for Leaky ReLU, PReLU and ELU such a unit still passes a gradient and can return.
    """
    if scenario not in DYING_SCENARIOS:
        raise ValueError(f"unknown dying scenario {scenario!r}; choose from {', '.join(DYING_SCENARIOS)}")
    for name in activation_names:
        _check_activation(name)
    preset = DYING_SCENARIOS[scenario]
    lr = preset["lr"] if lr is None else lr
    hidden_bias = preset["hidden_bias"] if hidden_bias is None else hidden_bias
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    results = {}
    for name in activation_names:
        say(f"  {name:<11} training {depth}x{width}, bias {hidden_bias:g}, lr {lr:g}, {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)
        model = build_mlp(name, depth, width, x.shape[1], n_classes, "he_normal", hidden_bias=hidden_bias)
        model.compile(optimizer=_optimizer("adam", lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        monitor = diagnostics.DeadUnits(x_test, per_layer=False)
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[monitor])
        seconds = time.perf_counter() - start
        initial, per_epoch = monitor.initial, monitor.history
        results[name] = {
            "dead_fraction_init": initial["dead_fraction"],
            "dead_fraction": per_epoch["dead_fraction"][-1],
            "inactive_fraction_init": initial["inactive_fraction"],
            "inactive_fraction": per_epoch["inactive_fraction"][-1],
            "test_accuracy": _accuracy(model, x_test, y_test),
            "seconds": seconds,
            "history": {"dead_fraction": [initial["dead_fraction"]] + per_epoch["dead_fraction"],
                        "inactive_fraction": [initial["inactive_fraction"]] + per_epoch["inactive_fraction"]},
        }
        r = results[name]
        say(f"dead {pct(r['dead_fraction_init'])} -> {pct(r['dead_fraction'])}, test accuracy {pct(r['test_accuracy'])}")
    return {"settings": {"scenario": scenario, "why": preset["why"] if (lr, hidden_bias) == (preset["lr"], preset["hidden_bias"])
                         else f"hidden biases start at {hidden_bias:g}, Adam learning rate {lr:g}",
                         "activations": list(activation_names), "depth": depth, "width": width, "dataset": dataset,
                         "samples": samples, "epochs": epochs, "learning_rate": lr, "hidden_bias": hidden_bias,
                         "batch_size": batch_size, "seed": seed},
            "n_classes": n_classes, "results": results}


def print_dying(dying, say):
    rows = [[name, pct(r["dead_fraction_init"]), pct(r["dead_fraction"]), pct(r["inactive_fraction_init"]),
             pct(r["inactive_fraction"]), pct(r["test_accuracy"])] for name, r in dying["results"].items()]
    say(table(["activation", "dead at init", "dead trained", "inactive at init", "inactive trained", "test acc"], rows))
    s = dying["settings"]
    say(f"  (setting: {s['why']};\n   {s['depth']} hidden layers of {s['width']}, {s['dataset']}, {s['epochs']} "
        f"epochs; dead = output exactly 0 for every test sample,\n   inactive = output <= 0 for every test sample)")
    results = dying["results"]
    readings = []
    if "relu" in results:
        r = results["relu"]
        before, after = r["dead_fraction_init"], r["dead_fraction"]
        if after > before + 0.05:
            story = (f"rose from {pct(before)} at init to {pct(after)}: units died during training, and a dead "
                     f"unit's gradient is 0 for every input, so none can come back")
        elif after >= before - 0.05:
            story = (f"were {pct(before)} at init and are {pct(after)} after training: a dead unit's gradient is 0 "
                     f"for every input, so nothing brings it back")
        else:
            story = (f"fell from {pct(before)} to {pct(after)}: a dead unit of a deeper layer can only come back "
                     f"when the layers before it change its inputs")
        readings.append(f"dead ReLU units {story}")
    others = [n for n in ("leaky_relu", "prelu", "elu") if n in results]
    recovered = [n for n in others if results[n]["inactive_fraction"] < results[n]["inactive_fraction_init"]]
    pushed = [n for n in others if n not in recovered]

    def changes(names):
        return ", ".join(f"{n} {pct(results[n]['inactive_fraction_init'])} -> {pct(results[n]['inactive_fraction'])}"
                         for n in names)
    if recovered:
        slopes = {"leaky_relu": "leaky_relu slope 0.2", "prelu": "prelu a learned slope", "elu": "elu slope e^x"}
        readings.append(f"{', '.join(recovered)} keep a gradient on the negative side "
                        f"({', '.join(slopes[n] for n in recovered)}), so their inactive units climb back "
                        f"({changes(recovered)})")
    if pushed:
        readings.append(f"{', '.join(pushed)} had units pushed to the negative side too ({changes(pushed)}), but "
                        f"those still pass a gradient")
    if others:
        dead_others = max(results[n]["dead_fraction"] for n in others)
        readings.append(f"at most {pct(dead_others)} of their units are dead")
    say_reading(readings, say)


# ---- claim 4: cost per element -----------------------------------------------------------

def _numpy_reference(name):
    """The same function and derivative in plain numpy (temporaries and all), for scale."""
    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))
    refs = {
        "relu": lambda x, g: g * (np.maximum(x, 0) > 0),
        "leaky_relu": lambda x, g: (np.where(x > 0, x, 0.2 * x), g * np.where(x > 0, 1.0, 0.2))[1],
        "elu": lambda x, g: (lambda y: g * np.where(x > 0, 1.0, y + 1.0))(np.where(x > 0, x, np.expm1(x))),
        "sigmoid": lambda x, g: (lambda y: g * y * (1 - y))(sigmoid(x)),
        "tanh": lambda x, g: (lambda y: g * (1 - y * y))(np.tanh(x)),
        "silu": lambda x, g: (lambda s: (x * s, g * (s + x * s * (1 - s)))[1])(sigmoid(x)),
    }
    return refs.get(name)


def _best_of(fn, repeats, min_seconds=0.05):
    """Fastest of at least `repeats` runs, repeated for at least `min_seconds` (noise on a busy box)."""
    best, spent, runs = float("inf"), 0.0, 0
    while runs < repeats or (spent < min_seconds and runs < 50 * repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best


def run_kernels(activation_names=KERNEL_ACTIVATIONS, size=1 << 20, repeats=5, dtype="float32", seed=0, threads=1,
                say=Out(quiet=True)):
    """Forward and backward time per element of each activation's Cython kernel (best of `repeats`).

    Inputs have random signs (all-positive data would hide branch mispredictions). Backward is
    the op's own backward (the kernel), called directly so the timing excludes graph bookkeeping.
    `threads` OpenMP threads (default 1: the cost per element on one core, like numpy's ufuncs,
    and steady on a busy machine, where a second thread waits for a core).
    """
    for name in activation_names:
        _check_activation(name)
    from ._kernels import threads as kernel_threads
    previous_threads = kernel_threads.get_num_threads()
    kernel_threads.set_num_threads(threads)
    try:
        return _time_kernels(activation_names, size, repeats, dtype, seed, threads, say)
    finally:
        kernel_threads.set_num_threads(previous_threads)


def _time_kernels(activation_names, size, repeats, dtype, seed, threads, say):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(size).astype(dtype)
    grad = rng.standard_normal(size).astype(dtype)
    results = {}
    for name in activation_names:
        fn = activations.get(name)
        x = Tensor(data, requires_grad=True)
        fn(x)  # warm up: first-touch page faults, OpenMP thread start
        out = {}

        def forward():
            out["y"] = fn(x)
        forward_seconds = _best_of(forward, repeats)
        ctx = out["y"]._ctx
        backward_seconds = _best_of(lambda: ctx.backward(grad), repeats)
        reference = _numpy_reference(name)
        numpy_seconds = _best_of(lambda: reference(data, grad), repeats) if reference is not None else None
        results[name] = {"forward_ns": 1e9 * forward_seconds / size, "backward_ns": 1e9 * backward_seconds / size,
                         "total_ns": 1e9 * (forward_seconds + backward_seconds) / size,
                         "numpy_total_ns": None if numpy_seconds is None else 1e9 * numpy_seconds / size}
        say(f"  {name:<11} {results[name]['total_ns']:.2f} ns/element")
    base = results.get("relu", {}).get("total_ns")
    for r in results.values():
        r["vs_relu"] = r["total_ns"] / base if base else None
    return {"settings": {"activations": list(activation_names), "size": size, "repeats": repeats, "dtype": dtype,
                         "threads": threads, "cpus": os.cpu_count()}, "results": results}


def print_kernels(kernels, say, compare=None):
    rows = []
    for name, r in kernels["results"].items():
        speedup = "-" if r["numpy_total_ns"] is None else f"{r['numpy_total_ns'] / r['total_ns']:.1f}x"
        rows.append([name, f"{r['forward_ns']:.2f}", f"{r['backward_ns']:.2f}", f"{r['total_ns']:.2f}",
                     f"{r['vs_relu']:.1f}x" if r["vs_relu"] else "-",
                     "-" if r["numpy_total_ns"] is None else f"{r['numpy_total_ns']:.2f}", speedup])
    say(table(["activation", "forward ns/el", "backward ns/el", "total", "vs relu", "numpy total", "kernel gain"], rows))
    s = kernels["settings"]
    say(f"  ({s['size']:,} {s['dtype']} elements with random signs, best of {s['repeats']}+ runs, "
        f"{s['threads']} thread{'s' if s['threads'] > 1 else ''}; numpy: the same math in numpy)")
    results = kernels["results"]
    if "relu" in results and len(results) > 1:
        slowest = max(results, key=lambda n: results[n]["total_ns"])
        readings = [f"ReLU is a compare and a select, forward and backward ({results['relu']['total_ns']:.2f} ns "
                    f"per element)", f"{slowest} evaluates a transcendental function and costs "
                    f"{results[slowest]['vs_relu']:.0f}x as much ({results[slowest]['total_ns']:.2f} ns)"]
        trained = (compare or {}).get("results", {})
        if "relu" in trained and slowest in trained:
            readings.append(f"in claim 2's training the whole run took {trained['relu']['seconds']:.1f} s with relu "
                            f"and {trained[slowest]['seconds']:.1f} s with {slowest} (matrix multiplies and "
                            f"bookkeeping are the rest)")
        say_reading(readings, say)


# ---- claim 5: non-linearity --------------------------------------------------------------

@_one_blas_thread
def run_nonlinearity(dataset="spirals", samples=600, epochs=60, width=64, lr=0.01, seed=0, say=Out(quiet=True)):
    """Three stacked linear Dense layers against one hidden ReLU layer, on a non-linear set."""
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    specs = {"linear_stack": lambda: [Dense(width), Dense(width), Dense(n_classes, activation="softmax")],
             "one_relu_layer": lambda: [Dense(width, activation="relu", kernel_initializer="he_normal"),
                                        Dense(n_classes, activation="softmax")]}
    results, models = {}, {}
    for key in specs:
        say(f"  {key:<15} training {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)
        model = Sequential([Input(shape=(x.shape[1],))] + specs[key]())
        model.compile(optimizer=_optimizer("adam", lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
        results[key] = {"test_accuracy": _accuracy(model, x_test, y_test), "train_accuracy": _accuracy(model, x, y),
                        "layers": [type(layer).__name__ + (f"({layer.units}, {diagnostics.layer_activation(layer)})"
                                                            if hasattr(layer, "units") else "")
                                   for layer in model.layers]}
        models[key] = model
        say(f"test accuracy {pct(results[key]['test_accuracy'])}")
    return {"settings": {"dataset": dataset, "samples": samples, "epochs": epochs, "width": width, "learning_rate": lr,
                         "seed": seed}, "n_classes": n_classes, "results": results,
            "_models": models, "_data": (x_test, y_test)}


def print_nonlinearity(nonlin, say):
    rows = [[key.replace("_", " "), " -> ".join(r["layers"]), pct(r["train_accuracy"]), pct(r["test_accuracy"])]
            for key, r in nonlin["results"].items()]
    say(table(["model", "layers", "train acc", "test acc"], rows))
    lin, relu = nonlin["results"]["linear_stack"], nonlin["results"]["one_relu_layer"]
    say_reading([f"W3(W2(W1 x)) is one matrix, however many layers: the linear stack draws straight borders and "
                 f"reaches {pct(lin['test_accuracy'])} (chance {pct(1 / nonlin['n_classes'])})",
                 f"one ReLU layer bends them and reaches {pct(relu['test_accuracy'])} on the "
                 f"{nonlin['settings']['dataset']}"], say)


# ---- the demo ----------------------------------------------------------------------------

def _strip_private(value):
    if isinstance(value, dict):
        return {k: _strip_private(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_strip_private(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


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
        json.dump(_strip_private(report), f, indent=1)
    say(f"Wrote {json_path}")
    say(f"Done in {report['seconds_total']:.1f} s.")
    return report


def write_figure(report, nonlin, path, say):
    """Draw relu_demo.png when matplotlib is there; otherwise say in one line how to get it."""
    from . import plot
    if not plot.available():
        say(f"Figures skipped: matplotlib is not installed ({plot.INSTALL_HINT} to get relu_demo.png).")
        return False
    demo_figure(report, nonlin, path)
    say(f"Wrote {path}")
    return True


def demo_figure(report, nonlin, path):
    """One sheet, eight panels: the evidence for claims 1-5."""
    from . import plot
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


# ---- the command line --------------------------------------------------------------------

def _names(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one activation name")
    return names


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def _write_json(path, result):
    if path:
        with open(path, "w") as f:
            json.dump(_strip_private(result), f, indent=1)


def make_parser():
    parser = argparse.ArgumentParser(
        prog="tinygrad-relu",
        description="Experiments that show what ReLU does to backpropagation, run on this engine.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Start with:  tinygrad-relu demo")
    parser.add_argument("--version", action="version", version=f"tinygrad_relu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,compare,dying,kernels}")

    p = sub.add_parser("demo", help="claims 1-5 in under a minute: tables, relu_demo.json, relu_demo.png",
                       description="Runs the five ReLU claims (sparsity, vanishing gradients, dying units, kernel\n"
                                   "cost, non-linearity) on embedded data and writes relu_demo.json and relu_demo.png.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".", help="directory for relu_demo.json and relu_demo.png (default: here)")
    p.add_argument("--seed", type=int, default=0, help="seed for data and weights (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer epochs and a smaller kernel benchmark (tests)")
    p.add_argument("--no-figures", action="store_true", help="do not draw relu_demo.png")

    p = sub.add_parser("compare", help="one deep MLP per activation: gradient flow, sparsity, accuracy",
                       description="Trains the same deep MLP once per activation and reports the gradient norm per\n"
                                   "layer at initialization (vanishing gradients), sparsity, dead units and accuracy.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(ACTIVATIONS), help="comma-separated names "
                   f"(default {','.join(ACTIVATIONS)})")
    p.add_argument("--depth", type=_positive(int), default=10, help="hidden layers (default 10)")
    p.add_argument("--width", type=_positive(int), default=64, help="units per hidden layer (default 64)")
    p.add_argument("--dataset", default="spirals", choices=SYNTHETIC + ("mnist", "fashion_mnist"))
    p.add_argument("--samples", type=_positive(int), default=900, help="samples (train + test; default 900)")
    p.add_argument("--epochs", type=_positive(int), default=30)
    p.add_argument("--lr", type=_positive(float), default=None, help="learning rate (default: the optimizer's)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop", "adamw", "adagrad"))
    p.add_argument("--batch-size", type=_positive(int), default=32)
    p.add_argument("--init", default="auto", help="kernel initializer (default: he_normal for the ReLU family, "
                   "glorot_uniform for sigmoid/tanh)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")

    p = sub.add_parser("dying", help="dead ReLU units, and Leaky ReLU / PReLU / ELU keeping them alive",
                       description="Trains a small MLP in a setting that kills ReLU units (a negative bias or a large\n"
                                   "learning rate) and counts units that output 0 for every input, per activation.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(DYING_ACTIVATIONS))
    p.add_argument("--scenario", default="bias", choices=tuple(DYING_SCENARIOS),
                   help="bias: hidden biases start at -0.5; lr: Adam learning rate 0.05 (default bias)")
    p.add_argument("--bias", type=float, default=None, help="initial hidden bias (overrides the scenario's)")
    p.add_argument("--lr", type=_positive(float), default=None, help="Adam learning rate (overrides the scenario's)")
    p.add_argument("--depth", type=_positive(int), default=4)
    p.add_argument("--width", type=_positive(int), default=64)
    p.add_argument("--dataset", default="spirals", choices=SYNTHETIC + ("mnist", "fashion_mnist"))
    p.add_argument("--samples", type=_positive(int), default=600)
    p.add_argument("--epochs", type=_positive(int), default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")

    p = sub.add_parser("kernels", help="forward+backward time per element of each activation kernel",
                       description="Times each activation's Cython forward and backward kernels on random-sign data\n"
                                   "and prints nanoseconds per element beside a plain-numpy version of the same math.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--activations", type=_names, default=list(KERNEL_ACTIVATIONS))
    p.add_argument("--size", type=_positive(int), default=1 << 20, help="elements (default 1048576)")
    p.add_argument("--repeats", type=_positive(int), default=5, help="best of this many runs (default 5)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--threads", type=_positive(int), default=1, help="OpenMP threads for the kernels (default 1)")
    p.add_argument("--json", help="also write the results to this JSON file")
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    say = Out()
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _run(args, say)
    except BrokenPipeError:  # `tinygrad-relu demo | head`: the reader left, stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0


def _run(args, say):
    try:
        if args.command == "demo":
            demo(out=args.out, seed=args.seed, quick=args.quick, figures=not args.no_figures, say=say)
        elif args.command == "compare":
            _report(run_compare(args.activations, depth=args.depth, width=args.width, dataset=args.dataset,
                                samples=args.samples, epochs=args.epochs, lr=args.lr, optimizer=args.optimizer,
                                batch_size=args.batch_size, seed=args.seed, initializer=args.init, say=say),
                    print_compare, args.json, say)
        elif args.command == "dying":
            _report(run_dying(args.activations, scenario=args.scenario, depth=args.depth, width=args.width,
                              dataset=args.dataset, samples=args.samples, epochs=args.epochs, lr=args.lr,
                              hidden_bias=args.bias, seed=args.seed, say=say),
                    print_dying, args.json, say)
        elif args.command == "kernels":
            _report(run_kernels(args.activations, size=args.size, repeats=args.repeats, dtype=args.dtype,
                                threads=args.threads, say=say),
                    print_kernels, args.json, say)
    except (ValueError, FileNotFoundError) as exc:
        print(f"tinygrad-relu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _report(result, print_result, json_path, say):
    """An experiment's table after a blank line, and its JSON when --json asks for it."""
    say("")
    print_result(result, say)
    _write_json(json_path, result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
