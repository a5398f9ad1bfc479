"""Claims 1 and 2: the same deep network with each activation: sparsity, gradient flow, what the optimizer moves.

Claim 2 is measured per layer, input side first, so that nothing depends on a layer's shape:
|dL/dh| (the gradient reaching each hidden layer's output h), the RMS of dL/dW per weight,
the input-dependent spread of h (the forward signal), and after training how far each
kernel moved, |W_end - W_init| / |W_init|. The demo runs it under SGD (the step follows the
gradient) and Adam (each weight's step is rescaled), from the same initial weights.
"""
import time

import numpy as np

from .. import activations, diagnostics, utils
from ..tensor import Tensor
from .common import (Out, accuracy, build_mlp, build_residual_mlp, check_activation, default_initializer,
                     kernel_snapshot, load_dataset,
                     make_optimizer, near_chance, one_blas_thread, one_in, pct, relative_change, say_reading, sci,
                     share, table)

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")
SIGMOID_SLOPE_BOUND = 0.25  # sigmoid'(x) = s(1 - s) <= 1/4, reached at x = 0


@one_blas_thread
def run_compare(activation_names=ACTIVATIONS, depth=10, width=64, dataset="spirals", samples=900, epochs=30,
                lr=None, optimizer="adam", batch_size=32, seed=0, initializer="auto", residual=False,
                say=Out(quiet=True)):
    """Train one deep MLP per activation on the same data from the same seed.

    Per activation, at initialization: kernel gradient norms and their RMS per weight, |dL/dh|
    per hidden layer, the forward spread per hidden layer; sparsity/dead/saturation at
    initialization and after training; how far each kernel moved; test accuracy per epoch and
    at the end, and the training time. Lists are per layer, input side first. The trained
    models are under the private key '_models' (not written to JSON). ``residual=True`` builds each
    net with skip connections (``build_residual_mlp``: h = h + act(Dense(h)) after the first layer).
    """
    for name in activation_names:
        check_activation(name)
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    results, models = {}, {}
    for name in activation_names:
        say(f"  {name:<11} training {depth}x{width}{' residual' if residual else ''} {optimizer}, {epochs} epochs ... ",
            end="")
        utils.set_random_seed(seed)  # every activation starts from the same random stream
        build = build_residual_mlp if residual else build_mlp
        model = build(name, depth, width, x.shape[1], n_classes, initializer)
        model.compile(optimizer=make_optimizer(optimizer, lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        at_init = diagnostics.probe(model, x_test, y_test)
        initial_kernels = kernel_snapshot(model)
        monitor = diagnostics.ActivationMonitor(x_test, y_test, per_layer=False)
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[monitor],
                                validation_data=(x_test, y_test))
        seconds = time.perf_counter() - start
        trained = diagnostics.probe(model, x_test, y_test)
        norms = list(at_init["grad_norms"].values())
        hidden_rows = [r for r in at_init["layers"] if r["sparsity"] is not None]
        trained_rows = [r for r in trained["layers"] if r["sparsity"] is not None]
        logs = history.history
        act_grad_norms = [r["output_grad_norm"] for r in hidden_rows]
        results[name] = {
            "initializer": initializer if initializer != "auto" else default_initializer(name),
            "test_accuracy": accuracy(model, x_test, y_test),
            "train_accuracy": float(logs["accuracy"][-1]),
            "final_loss": float(logs["loss"][-1]),
            "grad_norms": norms,
            "grad_ratio": norms[0] / norms[-1] if norms[-1] > 0 else 0.0,
            "activation_grad_norms": act_grad_norms,
            "act_grad_norms": act_grad_norms,
            "weight_grad_rms": [r["kernel_grad_rms"] for r in at_init["layers"] if r["kernel_grad_rms"] is not None],
            "weight_rel_change": relative_change(initial_kernels, kernel_snapshot(model)),
            "forward_spread": [r["spread"] for r in hidden_rows],
            "forward_spread_trained": [r["spread"] for r in trained_rows],
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
        models[name] = model
        r = results[name]
        say(f"test accuracy {pct(r['test_accuracy'])}, {seconds:.1f} s")
    return {"settings": {"activations": list(activation_names), "depth": depth, "width": width, "dataset": dataset,
                         "samples": samples, "epochs": epochs, "optimizer": optimizer, "learning_rate": lr,
                         "batch_size": batch_size, "seed": seed, "initializer": initializer, "residual": residual},
            "n_classes": n_classes, "results": results, "_models": models, "_data": (x_test, y_test)}


# ---- what the numbers say ----------------------------------------------------------------

def backward_ratio(result):
    """|dL/dh| of the first hidden layer over the last hidden layer's."""
    norms = result["act_grad_norms"]
    return norms[0] / norms[-1] if norms[-1] > 0 else 0.0


def per_layer_factor(result):
    """The geometric mean factor by which |dL/dh| changes from one hidden layer to the one before it."""
    steps = len(result["act_grad_norms"]) - 1
    ratio = backward_ratio(result)
    return ratio ** (1.0 / steps) if steps > 0 and ratio > 0 else None


def spread_ratio(result, key="forward_spread"):
    """The input-dependent spread of the last hidden layer's output over the first's."""
    spreads = result[key]
    return spreads[-1] / spreads[0] if spreads[0] > 0 else 0.0


# ---- printing ----------------------------------------------------------------------------

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
    say_reading(sparsity_readings(r), say)


def sparsity_readings(r):
    half = 0.4 <= r["sparsity"] <= 0.6
    return ["ReLU copies positive inputs and outputs exactly 0 for negative ones, and its derivative is 1 or 0",
            f"at initialization {pct(r['sparsity'])} of the deep net's ReLU outputs are exact zeros"
            + (" (about half: a random pre-activation is negative half the time)" if half else "")
            + f", after training {pct(r['sparsity_trained'])}",
            "a zero output adds nothing downstream and passes no gradient back"]


def _runs(compare):
    """A compare result, or a list of them (one per optimizer), as {optimizer: result}."""
    runs = [compare] if isinstance(compare, dict) else list(compare)
    return {run["settings"]["optimizer"]: run for run in runs}



def print_compare(compare, say):
    """Claim 2 for one run, or a list of runs with different optimizers from the same initial weights."""
    runs = _runs(compare)
    first = next(iter(runs.values()))
    s, results = first["settings"], first["results"]
    depth = len(next(iter(results.values()))["act_grad_norms"])
    rows = []
    for name, r in results.items():
        factor = per_layer_factor(r)
        rows.append([name, r["initializer"], sci(r["act_grad_norms"][0]), sci(r["act_grad_norms"][-1]),
                     sci(backward_ratio(r)), "-" if factor is None else f"{factor:.3f}", sci(spread_ratio(r)),
                     sci(r["weight_grad_rms"][0]), sci(r["weight_grad_rms"][-1])])
    say("  At initialization (the same weights for every optimizer), per hidden layer, input side first:")
    say(table(["activation", "init", "|dL/dh| 1", f"|dL/dh| {depth}", "first/last", "per layer",
               f"spread {depth}/1", "rms dW first", "rms dW last"], rows))
    say(f"  (|dL/dh| i: the gradient reaching hidden layer i's output; first/last = |dL/dh| 1 / |dL/dh| {depth};\n"
        f"   per layer = (first/last)^(1/{depth - 1}); spread: how much a layer's output varies with the input (RMS "
        f"over units\n   of the std over samples); rms dW: |dL/dW| per weight of the first and last Dense kernels; "
        f"all on the test set)")
    say("")
    middle = (depth + 1) // 2
    rows = []
    for optimizer, run in runs.items():
        for name, r in run["results"].items():
            moved = r["weight_rel_change"]
            dead = ("-" if r["dead_fraction"] is None else
                    f"{pct(r['dead_fraction_init'])} -> {pct(r['dead_fraction'])}")
            rows.append([name, optimizer, sci(moved[0]), sci(moved[middle - 1]), sci(moved[-1]), dead,
                         pct(r["saturation"]), pct(r["test_accuracy"]), f"{r['seconds']:.1f}"])
    say(f"  Training, {s['epochs']} epochs: how far each kernel moved, |W_end - W_init| / |W_init|, and what the "
        f"net learned:")
    say(table(["activation", "optimizer", "W first", f"W {middle}", "W last", "dead: init -> end", "saturated",
               "test acc", "seconds"], rows))
    lrs = ", ".join(f"{o} lr {run['settings']['learning_rate'] or 'default'}" for o, run in runs.items())
    kind = "residual blocks" if s.get("residual") else "hidden layers"
    say(f"  ({depth} {kind} of {s['width']}, {s['dataset']}, {lrs}, {s['epochs']} epochs, batch "
        f"{s['batch_size']};\n   dead = output 0 for every test sample; saturated after training; chance level is "
        f"{pct(1 / first['n_classes'])})")
    for paragraph in vanishing_readings(runs):
        say_reading(paragraph, say)


def vanishing_readings(runs):
    """The Readings under claim 2 (a list of paragraphs, each a list of sentences), every one chosen by the
    numbers of `runs` ({optimizer: run}, or one run)."""
    runs = _runs(runs) if "results" in runs else runs
    first = next(iter(runs.values()))
    results, depth = first["results"], first["settings"]["depth"]
    backward, forward = [], []
    sig, rel = results.get("sigmoid"), results.get("relu")
    if sig is not None and per_layer_factor(sig) is not None:
        factor = per_layer_factor(sig)
        if first["settings"].get("residual"):
            bound = (f"while sigmoid' <= {SIGMOID_SLOPE_BOUND}: through a residual block h + f(h) the identity "
                     f"passes the gradient back whole, whatever f' is")
        elif factor <= SIGMOID_SLOPE_BOUND:
            bound = (f"below the {SIGMOID_SLOPE_BOUND} that sigmoid' <= {SIGMOID_SLOPE_BOUND} allows once the weights "
                     f"keep the gradient's size")
        else:
            bound = (f"above the {SIGMOID_SLOPE_BOUND} of sigmoid' <= {SIGMOID_SLOPE_BOUND}: here the weights enlarge "
                     f"the gradient more than sigmoid' shrinks it")
        backward.append(f"going back one layer, the gradient reaching a sigmoid layer's output is multiplied by "
                        f"{factor:.3f} on average, {bound}; over {depth - 1} layers, hidden layer 1 gets "
                        f"{share(backward_ratio(sig))} what layer {depth} gets")
    factors = [f"{name} {per_layer_factor(r):.2f}" for name, r in results.items()
               if name != "sigmoid" and per_layer_factor(r) is not None]
    if factors:
        backward.append(("the same factor for the others: " if backward else
                         "going back one layer, |dL/dh| is multiplied on average by: ") + ", ".join(factors)
                        + (" (relu' is 1 on the active path, so there only the weights set the size)"
                           if rel is not None else ""))
    if sig is not None:
        fade = spread_ratio(sig)
        others = f" (relu: {one_in(spread_ratio(rel))})" if rel is not None else ""
        if fade < 1e-2:
            forward.append(f"the forward signal fades too: with sigmoid, how much layer {depth}'s output varies "
                           f"with the input is {one_in(fade)} of layer 1's{others}, so the output layer sees "
                           f"nearly the same vector for every input")
        else:
            forward.append(f"forward, sigmoid's layer {depth} keeps {one_in(fade)} of layer 1's input-dependent "
                           f"spread{others}")
    training = _optimizer_readings(runs, first["n_classes"]) if sig is not None else []
    return [p for p in (backward, forward, training) if p]


def _optimizer_readings(runs, n_classes):
    readings = []
    sgd, adam = runs.get("sgd"), runs.get("adam")
    if sgd is not None:
        sig = sgd["results"]["sigmoid"]["weight_rel_change"]
        how = "hardly moved" if sig[0] < 1e-3 * sig[-1] else "moved"
        readings.append(f"with SGD each step is the gradient times the learning rate, so the sigmoid net's first "
                        f"kernel {how}: {sig[0]:.1e} of its size in {sgd['settings']['epochs']} epochs, against "
                        f"{sig[-1]:.2g} for its last")
    if adam is not None:
        sig = adam["results"]["sigmoid"]["weight_rel_change"]
        rel = adam["results"].get("relu")
        compared = ""
        if rel is not None:
            word = "more than" if sig[0] > rel["weight_rel_change"][0] else "less than"
            compared = f", {word} ReLU's first kernel ({rel['weight_rel_change'][0]:.2g})"
        frozen = sig[0] < 1e-3 * sig[-1]
        readings.append(f"Adam divides each weight's step by that weight's recent gradient size, so there the "
                        f"sigmoid net's first kernel moved {sig[0]:.2g} of its size{compared}"
                        + (": even so it hardly moved" if frozen else
                           ": with Adam a vanishing gradient no longer means frozen weights"))
    verdicts = []
    for optimizer, run in runs.items():
        results = run["results"]
        sig, rel = results["sigmoid"]["test_accuracy"], results.get("relu", {}).get("test_accuracy")
        where = "near chance" if near_chance(sig, n_classes) else "above chance"
        verdicts.append(f"with {optimizer} sigmoid {pct(sig)} ({where})" + ("" if rel is None else f", relu {pct(rel)}"))
    all_near = all(near_chance(run["results"]["sigmoid"]["test_accuracy"], n_classes) for run in runs.values())
    faded = spread_ratio(next(iter(runs.values()))["results"]["sigmoid"]) < 1e-2
    tail = (": moving the first layers did not rescue a net whose signal had faded forward and backward"
            if all_near and faded and len(runs) > 1 else "")
    readings.append(f"test accuracy {'; '.join(verdicts)} (chance {pct(1 / n_classes)}){tail}")
    return readings
