"""The playground's network as a list of Keras-style layer specs: built here, written out by export.

One list of specs is both the model the server trains (``build_model``) and the Python source
of the exported script (``source``), so the script builds the same layers with the same seeds
by construction. Every random draw has its own seed (initializers, dropout, the batch order),
so a session never touches the library's shared generator and two tabs never share a stream.

Hidden layer ``k`` is a Dense layer, then an activation layer when the activation needs one
(``leaky_relu`` with the page's slope, ``prelu`` with its learned slope), then Dropout when
the rate is above zero; the output is Dense(classes, softmax).
"""
from typing import NamedTuple

from .. import initializers, layers, optimizers, regularizers
from ..lab.common import default_initializer
from ..models import Sequential

_INITIALIZER_CLASSES = {"he_normal": "HeNormal", "he_uniform": "HeUniform", "glorot_uniform": "GlorotUniform",
                        "glorot_normal": "GlorotNormal", "lecun_normal": "LecunNormal",
                        "lecun_uniform": "LecunUniform", "orthogonal": "Orthogonal", "random_normal": "RandomNormal"}
_OPTIMIZERS = {"sgd": ("SGD", {}), "sgd_momentum": ("SGD", {"momentum": 0.9}), "adam": ("Adam", {}),
               "rmsprop": ("RMSprop", {})}
_MODULES = {"initializers": initializers, "regularizers": regularizers, "optimizers": optimizers,
            "layers": layers}


class Obj(NamedTuple):
    """``module.name(**kwargs)``: an object the model is built from, and its source text."""
    module: str
    name: str
    kwargs: dict

    def make(self):
        return getattr(_MODULES[self.module], self.name)(**{k: _make(v) for k, v in self.kwargs.items()})

    def source(self):
        return f"{self.module}.{self.name}({', '.join(f'{k}={_source(v)}' for k, v in self.kwargs.items())})"


class LayerSpec(NamedTuple):
    obj: Obj
    hidden: int   # the hidden layer (1-based) this layer belongs to; 0 for the output layer
    role: str     # 'dense', 'activation', 'dropout' or 'output'


def _make(value):
    return value.make() if isinstance(value, Obj) else value


def _source(value):
    return value.source() if isinstance(value, Obj) else repr(value)


def seeds(settings):
    """The seeds of one run: each kernel initializer, each dropout layer, the batch order."""
    base = settings["seed"] * 100
    depth = len(settings["layers"])
    return {"kernel": [base + k for k in range(1, depth + 2)],  # hidden layers, then the output
            "dropout": [base + 50 + k for k in range(1, depth + 1)],
            "shuffle": base + 99}


def layer_specs(settings, n_classes):
    """The layers of the run's Sequential model (after its Input of shape (2,))."""
    run_seeds = seeds(settings)
    specs = []
    for k, (units, activation) in enumerate(zip(settings["layers"], settings["act"]), start=1):
        init = settings["init"] if settings["init"] != "auto" else default_initializer(activation)
        own_layer = activation in ("leaky_relu", "prelu")
        dense = {"units": units, "activation": None if own_layer else activation,
                 "kernel_initializer": Obj("initializers", _INITIALIZER_CLASSES[init],
                                           {"seed": run_seeds["kernel"][k - 1]}),
                 "bias_initializer": Obj("initializers", "Constant", {"value": settings["bias"]})}
        if settings["l2"] > 0:
            dense["kernel_regularizer"] = Obj("regularizers", "L2", {"l2": settings["l2"]})
        dense["name"] = f"hidden_{k}"
        specs.append(LayerSpec(Obj("layers", "Dense", dense), k, "dense"))
        if activation == "leaky_relu":
            specs.append(LayerSpec(Obj("layers", "LeakyReLU", {"negative_slope": settings["slope"],
                                                               "name": f"hidden_{k}_leaky_relu"}), k, "activation"))
        elif activation == "prelu":
            specs.append(LayerSpec(Obj("layers", "PReLU", {"name": f"hidden_{k}_prelu"}), k, "activation"))
        if settings["dropout"] > 0:
            specs.append(LayerSpec(Obj("layers", "Dropout", {"rate": settings["dropout"],
                                                             "seed": run_seeds["dropout"][k - 1],
                                                             "name": f"hidden_{k}_dropout"}), k, "dropout"))
    specs.append(LayerSpec(Obj("layers", "Dense", {
        "units": n_classes, "activation": "softmax",
        "kernel_initializer": Obj("initializers", "GlorotUniform", {"seed": run_seeds["kernel"][-1]}),
        "name": "output"}), 0, "output"))
    return specs


def optimizer_spec(settings):
    name, extra = _OPTIMIZERS[settings["opt"]]
    return Obj("optimizers", name, {"learning_rate": settings["lr"], **extra})


COMPILE_ARGS = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def build_model(settings, n_classes):
    """(compiled Sequential, its layer specs) for ``settings``."""
    specs = layer_specs(settings, n_classes)
    model = Sequential([layers.Input(shape=(2,))] + [spec.obj.make() for spec in specs], name="playground")
    model.compile(optimizer=optimizer_spec(settings).make(), **COMPILE_ARGS)
    return model, specs


def source(specs, settings):
    """Python source that builds and compiles the same model (the export script's middle)."""
    body = ",\n".join(f"    {spec.obj.source()}" for spec in specs)
    return (f"model = Sequential([\n    layers.Input(shape=(2,)),\n{body},\n], name=\"playground\")\n"
            f"model.compile(optimizer={optimizer_spec(settings).source()}, "
            f"loss={COMPILE_ARGS['loss']!r}, metrics={COMPILE_ARGS['metrics']!r})\n")
