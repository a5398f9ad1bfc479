"""Claims 1 and 2: the same deep network with each activation: sparsity, gradient flow, accuracy."""
import time

import numpy as np

from .. import activations, diagnostics, utils
from ..tensor import Tensor
from .common import (Out, accuracy, build_mlp, check_activation, default_initializer, load_dataset, make_optimizer,
                     one_blas_thread, one_in, pct, say_reading, sci, table)

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")


@one_blas_thread
def run_compare(activation_names=ACTIVATIONS, depth=10, width=64, dataset="spirals", samples=900, epochs=30,
                lr=None, optimizer="adam", batch_size=32, seed=0, initializer="auto", say=Out(quiet=True)):
    """Train one deep MLP per activation on the same data from the same seed.

    Per activation: kernel gradient norms at initialization (input side first), their
    first/last ratio, sparsity/dead/saturation at initialization and after training,
    test accuracy per epoch and at the end, and the training time.
    """
    for name in activation_names:
        check_activation(name)
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    results = {}
    for name in activation_names:
        say(f"  {name:<11} training {depth}x{width} {optimizer}, {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)  # every activation starts from the same random stream
        model = build_mlp(name, depth, width, x.shape[1], n_classes, initializer)
        model.compile(optimizer=make_optimizer(optimizer, lr), loss="sparse_categorical_crossentropy",
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
            "test_accuracy": accuracy(model, x_test, y_test),
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
