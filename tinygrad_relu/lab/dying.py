"""Claim 3: dying ReLU, and the activations that keep a gradient on the negative side.

A unit is dead when it outputs exactly 0 for every test sample. Comparing the dead units at
initialization with those after training splits them into dead at initialization, died
during training and revived (dead at initialization, alive at the end).
"""
import time

import numpy as np

from .. import diagnostics, utils
from .common import (Out, accuracy, build_mlp, check_activation, leaky_slope, load_dataset, make_optimizer,
                     near_chance, negative_slope, one_blas_thread, pct, say_reading, table)

DYING_ACTIVATIONS = ("relu", "leaky_relu_0.01", "leaky_relu_0.2", "prelu", "elu")
SLOPE_MATTERS = 0.05  # test accuracies closer than this are not called a difference


DYING_SCENARIOS = {
    # A strongly negative bias puts many units on the zero side for every input from the start.
    "bias": {"hidden_bias": -0.5, "lr": 0.001,
             "why": "hidden biases start at -0.5, so many units are negative for every input from the start"},
    # A large step throws units onto the zero side during training (the usual way they die).
    "lr": {"hidden_bias": 0.0, "lr": 0.05,
           "why": "Adam with learning rate 0.05 (50x the default): big steps throw units to the zero side"},
}


def _all_units(masks):
    """{layer: per-unit booleans} -> one boolean per unit of the whole net."""
    return np.concatenate([np.asarray(m, dtype=bool) for m in masks.values()]) if masks else np.zeros(0, bool)


@one_blas_thread
def run_dying(activation_names=DYING_ACTIVATIONS, scenario="bias", depth=4, width=64, dataset="spirals",
              samples=600, epochs=20, lr=None, hidden_bias=None, batch_size=32, seed=0, say=Out(quiet=True)):
    """Train the same small MLP per activation in a setting that kills ReLU units.

    A unit is dead when it outputs exactly 0 for every test sample: then it also gets zero
    gradient from every one of them. Inactive = output <= 0 for every sample: for Leaky ReLU,
    PReLU and ELU such a unit still passes a gradient. Per activation: the fractions of units
    dead at initialization, died during training, revived and dead after training, the
    inactive fractions, test accuracy, and the dead fraction and test accuracy per epoch.
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
        say(f"  {name:<15} training {depth}x{width}, bias {hidden_bias:g}, lr {lr:g}, {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)
        model = build_mlp(name, depth, width, x.shape[1], n_classes, "he_normal", hidden_bias=hidden_bias)
        model.compile(optimizer=make_optimizer("adam", lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        monitor = diagnostics.DeadUnits(x_test, per_layer=False)
        dead_before = _all_units(diagnostics.dead_units(model, monitor.x))
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[monitor],
                                validation_data=(x_test, y_test))
        seconds = time.perf_counter() - start
        dead_after = _all_units(diagnostics.dead_units(model, monitor.x))
        initial, per_epoch = monitor.initial, monitor.history
        results[name] = {
            "dead_at_init": float(dead_before.mean()),
            "died_in_training": float((~dead_before & dead_after).mean()),
            "revived": float((dead_before & ~dead_after).mean()),
            "dead_trained": float(dead_after.mean()),
            "dead_fraction_init": initial["dead_fraction"],
            "dead_fraction": per_epoch["dead_fraction"][-1],
            "inactive_fraction_init": initial["inactive_fraction"],
            "inactive_fraction": per_epoch["inactive_fraction"][-1],
            "test_accuracy": accuracy(model, x_test, y_test),
            "seconds": seconds,
            "history": {"dead_fraction": [initial["dead_fraction"]] + per_epoch["dead_fraction"],
                        "inactive_fraction": [initial["inactive_fraction"]] + per_epoch["inactive_fraction"],
                        "val_accuracy": [float(v) for v in history.history["val_accuracy"]]},
        }
        r = results[name]
        say(f"dead {pct(r['dead_at_init'])} -> {pct(r['dead_trained'])}, test accuracy {pct(r['test_accuracy'])}")
    return {"settings": {"scenario": scenario, "why": preset["why"] if (lr, hidden_bias) == (preset["lr"], preset["hidden_bias"])
                         else f"hidden biases start at {hidden_bias:g}, Adam learning rate {lr:g}",
                         "activations": list(activation_names), "depth": depth, "width": width, "dataset": dataset,
                         "samples": samples, "epochs": epochs, "learning_rate": lr, "hidden_bias": hidden_bias,
                         "batch_size": batch_size, "seed": seed},
            "n_classes": n_classes, "results": results}


def print_dying(dying, say):
    rows = [[name, pct(r["dead_at_init"]), pct(r["died_in_training"]), pct(r["revived"]), pct(r["dead_trained"]),
             pct(r["inactive_fraction_init"]), pct(r["inactive_fraction"]), pct(r["test_accuracy"])]
            for name, r in dying["results"].items()]
    say(table(["activation", "dead at init", "died in training", "revived", "dead trained", "inactive at init",
               "inactive trained", "test acc"], rows))
    s = dying["settings"]
    say(f"  (setting: {s['why']};\n   {s['depth']} hidden layers of {s['width']}, {s['dataset']}, {s['epochs']} "
        f"epochs; dead = output exactly 0 for every test sample;\n   died = alive at init, dead at the end; revived = "
        f"dead at init, alive at the end;\n   inactive = output <= 0 for every test sample; chance level is "
        f"{pct(1 / dying['n_classes'])})")
    for paragraph in dying_readings(dying):
        say_reading(paragraph, say)


def dying_readings(dying):
    """The Readings under a dying table (a list of paragraphs, each a list of sentences), chosen by the numbers."""
    results, n_classes = dying["results"], dying["n_classes"]
    relu_paragraph, others_paragraph = [], []
    relu = results.get("relu")
    others = {n: r for n, r in results.items() if n != "relu"}
    if relu is not None:
        relu_paragraph.append(_relu_story(relu, with_accuracy=not others))
        if others:
            relu_paragraph.append(_accuracy_story(relu, others, n_classes))
    leaky = sorted((leaky_slope(n), n) for n in others if leaky_slope(n) is not None)
    if len(leaky) > 1:
        accs = [others[n]["test_accuracy"] for _, n in leaky]
        results_by_slope = ", ".join(f"slope {slope:g} {pct(others[n]['test_accuracy'])} "
                                     f"({pct(others[n]['dead_trained'])} dead)" for slope, n in leaky)
        if max(accs) - min(accs) >= SLOPE_MATTERS:
            trend = "the larger" if accs[-1] > accs[0] else "the smaller" if accs[-1] < accs[0] else "neither end"
            others_paragraph.append(f"Leaky ReLU's result depends on its slope: {results_by_slope}; {trend} slope "
                                    f"learned more here")
        else:
            others_paragraph.append(f"Leaky ReLU: {results_by_slope}: within {pct(SLOPE_MATTERS)} of each other "
                                    f"here")
    if "prelu" in others:
        p = others["prelu"]
        others_paragraph.append(f"PReLU starts as ReLU (its slope starts at 0) with {pct(p['dead_at_init'])} dead; "
                                f"its learned slope revived {pct(p['revived'])} and left {pct(p['dead_trained'])} "
                                f"dead ({pct(p['test_accuracy'])})")
    alive = [n for n, r in others.items() if r["dead_trained"] == 0.0]
    if alive:
        others_paragraph.append(f"{', '.join(alive)} end with no dead unit: below 0 each keeps a slope "
                                f"({', '.join(filter(None, map(negative_slope, alive)))}), so a gradient")
    return [p for p in (relu_paragraph, others_paragraph) if p]


def _relu_story(relu, with_accuracy):
    parts = [f"ReLU: {pct(relu['dead_at_init'])} of its units dead at initialization"]
    if relu["dead_at_init"] > 0:
        if relu["revived"] == 0:
            parts.append("none of them came back")
        else:
            parts.append(f"{pct(relu['revived'])} of all units came back (dead on the test samples is not frozen: "
                         f"a training sample, a change in the layers below or Adam's momentum can still move it)")
    died = relu["died_in_training"]
    parts.append(f"{pct(died)} died during training" if died > 0 else "none died during training")
    parts.append(f"{pct(relu['dead_trained'])} dead at the end"
                 + (f", test accuracy {pct(relu['test_accuracy'])}" if with_accuracy else ""))
    return ", ".join(parts)


def _accuracy_story(relu, others, n_classes):
    dead, acc = relu["dead_trained"], relu["test_accuracy"]
    best = max(others, key=lambda n: others[n]["test_accuracy"])
    worst = min(others, key=lambda n: others[n]["test_accuracy"])
    spread = (f"{pct(others[worst]['test_accuracy'])} ({worst}) to {pct(others[best]['test_accuracy'])} ({best})"
              if best != worst else f"{pct(others[best]['test_accuracy'])} ({best})")
    if near_chance(acc, n_classes):
        return (f"with {pct(dead)} of its units dead the ReLU net stays near chance ({pct(acc)}), while the others "
                f"reach {spread}")
    if acc >= others[best]["test_accuracy"]:
        rank = "as high as the best of the others"
    elif acc > others[worst]["test_accuracy"]:
        rank = "within the others' range"
    else:
        rank = "below all the others"
    lesson = (": dead units are wasted capacity, not by themselves a failure" if dead >= 0.2 else "")
    return f"with {pct(dead)} of its units dead the ReLU net reaches {pct(acc)}, {rank} (they reach {spread}){lesson}"
