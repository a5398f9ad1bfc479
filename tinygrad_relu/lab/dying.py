"""Claim 3: dying ReLU, and the activations that keep a gradient on the negative side."""
import time

import numpy as np

from .. import diagnostics, utils
from .common import (Out, accuracy, build_mlp, check_activation, load_dataset, make_optimizer, one_blas_thread, pct,
                     say_reading, table)

DYING_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")


DYING_SCENARIOS = {
    # A strongly negative bias puts many units on the zero side for every input from the start.
    "bias": {"hidden_bias": -0.5, "lr": 0.001,
             "why": "hidden biases start at -0.5, so many units are negative for every input from the start"},
    # A large step throws units onto the zero side during training (the usual way they die).
    "lr": {"hidden_bias": 0.0, "lr": 0.05,
           "why": "Adam with learning rate 0.05 (50x the default): big steps throw units to the zero side"},
}


@one_blas_thread
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
        check_activation(name)
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
        model.compile(optimizer=make_optimizer("adam", lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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
            "test_accuracy": accuracy(model, x_test, y_test),
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
