"""Claim 5: a stack of linear layers is still linear; one ReLU layer bends the border."""
from .. import diagnostics, utils
from ..layers import Dense, Input
from ..models import Sequential
from .common import Out, accuracy, load_dataset, make_optimizer, one_blas_thread, pct, say_reading, table


@one_blas_thread
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
        model.compile(optimizer=make_optimizer("adam", lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
        results[key] = {"test_accuracy": accuracy(model, x_test, y_test), "train_accuracy": accuracy(model, x, y),
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
