"""Claim 6: skip connections, the fix that made very deep ReLU nets trainable.

The same 50 hidden ReLU layers four ways: a plain stack or residual blocks (h = h + relu(Dense(h))),
each with Keras' default initializer (glorot_uniform) and with He's (he_normal). Measured at
initialization: |dL/dh| reaching each hidden layer's output and the forward spread, per layer,
input side first; after training: test accuracy per epoch. Why it works: d(h + f(h))/dh = I + f'(h),
so going back through a block the gradient keeps the identity's share whatever f does to it.
"""
import time

import numpy as np

from .. import diagnostics, utils
from .common import (Out, accuracy, build_mlp, build_residual_mlp, load_dataset, make_optimizer, near_chance,
                     one_blas_thread, pct, say_reading, sci, share, table)

VARIANTS = (("plain", "glorot_uniform"), ("plain", "he_normal"), ("residual", "glorot_uniform"),
            ("residual", "he_normal"))


def variant_name(structure, initializer):
    return f"{structure}, {initializer}"


@one_blas_thread
def run_residual(activation="relu", depth=50, width=64, dataset="spirals", samples=900, epochs=20,
                 optimizer="adam", lr=None, batch_size=32, seed=0, variants=VARIANTS, say=Out(quiet=True)):
    """Train the deep plain and residual nets of claim 6 from the same seed; a plain dict of their numbers."""
    (x, y), (x_test, y_test) = load_dataset(dataset, seed, samples)
    n_classes = int(max(y.max(), y_test.max())) + 1
    results = {}
    for structure, initializer in variants:
        name = variant_name(structure, initializer)
        say(f"  {name:<28} training {depth}x{width} {optimizer}, {epochs} epochs ... ", end="")
        utils.set_random_seed(seed)
        build = build_residual_mlp if structure == "residual" else build_mlp
        model = build(activation, depth, width, x.shape[1], n_classes, initializer)
        model.compile(optimizer=make_optimizer(optimizer, lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        at_init = diagnostics.probe(model, x_test, y_test)
        hidden = [r for r in at_init["layers"] if r["sparsity"] is not None]
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
                                validation_data=(x_test, y_test))
        seconds = time.perf_counter() - start
        results[name] = {
            "structure": structure, "initializer": initializer,
            "act_grad_norms": [r["output_grad_norm"] for r in hidden],
            "forward_spread": [r["spread"] for r in hidden],
            "test_accuracy": accuracy(model, x_test, y_test),
            "final_loss": float(history.history["loss"][-1]),
            "seconds": seconds,
            "history": {"val_accuracy": [float(v) for v in history.history["val_accuracy"]]},
        }
        say(f"test accuracy {pct(results[name]['test_accuracy'])}, {seconds:.1f} s")
    return {"settings": {"activation": activation, "depth": depth, "width": width, "dataset": dataset,
                         "samples": samples, "epochs": epochs, "optimizer": optimizer, "learning_rate": lr,
                         "batch_size": batch_size, "seed": seed},
            "n_classes": n_classes, "results": results}


def first_over_last(values):
    """The first hidden layer's value over the last one's (0 when the last is 0)."""
    return values[0] / values[-1] if values[-1] > 0 else 0.0


def per_layer(values):
    """The geometric-mean factor from one hidden layer to the one before it."""
    ratio, steps = first_over_last(values), len(values) - 1
    return ratio ** (1.0 / steps) if steps > 0 and ratio > 0 else None


def print_residual(result, say):
    s, results = result["settings"], result["results"]
    rows = []
    for name, r in results.items():
        factor = per_layer(r["act_grad_norms"])
        rows.append([name, sci(r["act_grad_norms"][0]), sci(r["act_grad_norms"][-1]),
                     sci(first_over_last(r["act_grad_norms"])), "-" if factor is None else f"{factor:.3f}",
                     sci(1.0 / first_over_last(r["forward_spread"]) if first_over_last(r["forward_spread"]) else 0.0),
                     pct(r["test_accuracy"]), f"{r['seconds']:.1f}"])
    depth = s["depth"]
    say(table(["network", "|dL/dh| 1", f"|dL/dh| {depth}", "first/last", "per layer", f"spread {depth}/1",
               "test acc", "seconds"], rows))
    say(f"  ({depth} hidden {s['activation']} layers of {s['width']}, {s['dataset']}, {s['optimizer']}, "
        f"{s['epochs']} epochs; gradients and spread at initialization on the test set; residual blocks start their\n"
        f"   branch at 1/{depth - 1} of the initializer's variance; chance level is {pct(1 / result['n_classes'])})")
    say_reading(residual_readings(result), say)


def residual_readings(result):
    """The Readings under claim 6, each chosen by the numbers of ``result``."""
    results, depth, n_classes = result["results"], result["settings"]["depth"], result["n_classes"]
    readings = []

    def get(structure, initializer):
        return results.get(variant_name(structure, initializer))

    def learned(r):
        return f"{pct(r['test_accuracy'])}" + (" (near chance)" if near_chance(r["test_accuracy"], n_classes) else "")

    plain_glorot, plain_he = get("plain", "glorot_uniform"), get("plain", "he_normal")
    res_glorot, res_he = get("residual", "glorot_uniform"), get("residual", "he_normal")
    if plain_glorot is not None:
        ratio = first_over_last(plain_glorot["act_grad_norms"])
        factor = per_layer(plain_glorot["act_grad_norms"])
        readings.append(f"with Keras' default initializer (glorot_uniform) the plain {depth}-layer stack multiplies "
                        f"the gradient by {factor:.2f} per layer going back, so hidden layer 1 gets "
                        f"{share(ratio)} what layer {depth} gets, and learns {learned(plain_glorot)}"
                        if factor is not None else
                        f"with Keras' default initializer the plain stack passes no gradient to its first layer "
                        f"and learns {learned(plain_glorot)}")
    if plain_he is not None:
        factor = per_layer(plain_he["act_grad_norms"])
        readings.append(f"He's initializer doubles the weights' variance to make up for the half of the inputs a "
                        f"ReLU zeroes: the per-layer factor is {factor:.2f}, hidden layer 1 gets "
                        f"{share(first_over_last(plain_he['act_grad_norms']))} what layer {depth} gets, and the "
                        f"plain stack learns {learned(plain_he)}" if factor is not None else
                        f"with He's initializer the plain stack learns {learned(plain_he)}")
    residual = [r for r in (res_glorot, res_he) if r is not None]
    if residual:
        gains = " and ".join(f"{share(first_over_last(r['act_grad_norms']))} ({r['initializer']})" for r in residual)
        accuracies = ", ".join(f"{learned(r)} ({r['initializer']})" for r in residual)
        readings.append(f"with skip connections, h + f(h), the derivative of a block is I + f'(h): going back the "
                        f"gradient keeps the identity's share, so hidden layer 1 gets {gains} what layer {depth} "
                        f"gets, and the residual nets learn {accuracies}")
    compared = [(p, r) for p, r in ((plain_glorot, res_glorot), (plain_he, res_he)) if p is not None and r is not None]
    better = [r["initializer"] for p, r in compared if r["test_accuracy"] > p["test_accuracy"] + 0.02]
    worse = [r["initializer"] for p, r in compared if r["test_accuracy"] < p["test_accuracy"] - 0.02]
    if compared:
        if better and not worse:
            readings.append(f"on this run the residual version learned more than the plain one with "
                            f"{' and '.join(better)}")
        elif worse and not better:
            readings.append(f"on this run the plain stack learned more than the residual one with {' and '.join(worse)}")
        elif not better and not worse:
            readings.append("on this run plain and residual nets reached the same accuracy (within 2 points)")
        else:
            readings.append(f"on this run the residual version learned more with {' and '.join(better)} and less "
                            f"with {' and '.join(worse)}")
    return readings
