"""The benchmark workloads, and the same network built three ways: ours, PyTorch, Keras 3.

One spec (a list of layer tuples) drives every builder, so the contenders train the same
network; ``initial_weights`` (taken from our freshly built model) is copied into the others, so
they also start from the same point, and ``make_data`` gives every process the same batches.

Layer tuples: ("dense", units, activation) ("conv2d", filters, k, padding, activation)
("conv1d", filters, k, padding, activation) ("maxpool2d", size) ("flatten",) ("gap",) (global
average pooling) ("dropout", rate).
"""
import numpy as np

# ours / peer at most (issues 6 and 18); fit workloads compare whole fits against Keras 3
TARGETS = {"a": 0.8, "b": 0.7, "c": 1.0, "d": 0.8, "e": 0.8, "fit": 0.2, "fit_e": 0.5}
STEP_WORKLOADS = ("a", "b", "c", "d", "e")
FIT_WORKLOADS = ("fit", "fit_e")
WORKLOAD_NAMES = STEP_WORKLOADS + FIT_WORKLOADS


def workload_specs(quick):
    if quick:  # same architectures, toy sizes: the smoke test only checks that nothing rots
        return {
            "a": dict(title="MLP 784-512-256-10 relu (quick: 64-32-16-10)", input_shape=(64,), batch=16,
                      layers=[("dense", 32, "relu"), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "b": dict(title="MLP 40-100-100-10 relu (quick: 40-16-16-10)", input_shape=(40,), batch=16,
                      layers=[("dense", 16, "relu"), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "c": dict(title="seed CNN 28x28x1 (quick: 10x10x1, 4/8 filters)", input_shape=(10, 10, 1), batch=8,
                      layers=[("conv2d", 4, 3, "valid", "relu"), ("maxpool2d", 2), ("conv2d", 8, 3, "valid", "relu"),
                              ("flatten",), ("dense", 16, "relu"), ("dense", 10, "softmax")]),
            "d": dict(title="MNIST-1D CNN 40x1 (quick: 4 filters)", input_shape=(40, 1), batch=16,
                      layers=[("conv1d", 4, 5, "same", "relu"), ("conv1d", 4, 3, "same", "relu"),
                              ("conv1d", 4, 3, "same", "relu"), ("flatten",), ("dense", 10, "softmax")]),
            "e": dict(title="wide convnet 28x28x1 (quick: 12x12x1, 16/16/32/32)", input_shape=(12, 12, 1), batch=8,
                      layers=[("conv2d", 16, 3, "valid", "relu"), ("conv2d", 16, 3, "valid", "relu"), ("maxpool2d", 2),
                              ("conv2d", 32, 3, "valid", "relu"), ("conv2d", 32, 3, "same", "relu"), ("gap",),
                              ("dropout", 0.5), ("dense", 10, "softmax")]),
        }
    return {
        "a": dict(title="MLP 784-512-256-10 relu", input_shape=(784,), batch=128,
                  layers=[("dense", 512, "relu"), ("dense", 256, "relu"), ("dense", 10, "softmax")]),
        "b": dict(title="MLP 40-100-100-10 relu", input_shape=(40,), batch=100,
                  layers=[("dense", 100, "relu"), ("dense", 100, "relu"), ("dense", 10, "softmax")]),
        "c": dict(title="seed CNN 28x28x1", input_shape=(28, 28, 1), batch=64,
                  layers=[("conv2d", 32, 3, "valid", "relu"), ("maxpool2d", 2),
                          ("conv2d", 64, 3, "valid", "relu"), ("maxpool2d", 2), ("flatten",),
                          ("dense", 128, "relu"), ("dense", 10, "softmax")]),
        # The last Dense has no activation; ours ends in softmax so that
        # categorical_crossentropy sees probabilities, which the model fuses into CE on logits:
        # the same loss PyTorch's CrossEntropyLoss computes on its plain Linear.
        "d": dict(title="MNIST-1D CNN 40x1 (last Dense softmax)", input_shape=(40, 1), batch=100,
                  layers=[("conv1d", 25, 5, "same", "relu"), ("conv1d", 25, 3, "same", "relu"),
                          ("conv1d", 25, 3, "same", "relu"), ("flatten",), ("dense", 10, "softmax")]),
        # keras-io guides/intro_to_keras_for_engineers.py, batch 128
        "e": dict(title="wide convnet 28x28x1 (keras-io intro)", input_shape=(28, 28, 1), batch=128,
                  layers=[("conv2d", 64, 3, "valid", "relu"), ("conv2d", 64, 3, "valid", "relu"), ("maxpool2d", 2),
                          ("conv2d", 128, 3, "valid", "relu"), ("conv2d", 128, 3, "valid", "relu"), ("gap",),
                          ("dropout", 0.5), ("dense", 10, "softmax")]),
    }


def fit_specs(quick):
    """fit workloads: which step workload, how many samples and epochs."""
    if quick:
        return {"fit": dict(workload="b", epochs=1, samples=200, batch=100),
                "fit_e": dict(workload="e", epochs=1, samples=32, batch=8)}
    return {"fit": dict(workload="b", epochs=5, samples=4000, batch=100),
            "fit_e": dict(workload="e", epochs=2, samples=1280, batch=128)}


def fit_title(name, fspec):
    return (f"fit of ({fspec['workload']}): {fspec['epochs']} epochs, {fspec['samples']} samples, "
            f"batch {fspec['batch']}, verbose=0, no metrics")


def steps_per_fit(fspec):
    return fspec["epochs"] * -(-fspec["samples"] // fspec["batch"])


def shapes_through(spec):
    """[(layer tuple, input shape without batch, output shape without batch)] for every layer."""
    shape = tuple(spec["input_shape"])
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "dense":
            new = (layer[1],)
        elif kind == "conv2d":
            _, filters, k, padding, _ = layer
            h, w = (shape[0], shape[1]) if padding == "same" else (shape[0] - k + 1, shape[1] - k + 1)
            new = (h, w, filters)
        elif kind == "conv1d":
            _, filters, k, padding, _ = layer
            length = shape[0] if padding == "same" else shape[0] - k + 1
            new = (length, filters)
        elif kind == "maxpool2d":
            new = (shape[0] // layer[1], shape[1] // layer[1], shape[2])
        elif kind == "flatten":
            new = (int(np.prod(shape)),)
        elif kind == "gap":
            new = (shape[-1],)
        elif kind == "dropout":
            new = shape
        else:
            raise ValueError(f"shapes_through: unknown layer kind {kind!r}")
        out.append((layer, shape, new))
        shape = new
    return out


def flops_per_step(spec):
    """2*M*N*K for every GEMM/convolution of the forward pass, times 3 for forward + backward.

    Backward is counted as two GEMMs of the forward's size (input grad and weight grad), also for
    the first layer whose input grad nobody needs; elementwise work, pooling and Adam are not
    counted, nor is Winograd's saving: it is the direct convolution's count, the usual convention,
    so GFLOP/s is comparable with the sgemm ceiling and across algorithms.
    """
    batch = spec["batch"]
    forward = 0
    for layer, shape_in, shape_out in shapes_through(spec):
        kind = layer[0]
        if kind == "dense":
            forward += 2 * batch * shape_in[0] * shape_out[0]
        elif kind == "conv2d":
            k = layer[2]
            forward += 2 * batch * shape_out[0] * shape_out[1] * k * k * shape_in[2] * shape_out[2]
        elif kind == "conv1d":
            k = layer[2]
            forward += 2 * batch * shape_out[0] * k * shape_in[1] * shape_out[1]
    return 3 * forward


def make_data(spec, n_batches=4, seed=0):
    """A few distinct batches, cycled, so no contender times a single cache-hot batch: (xs, one-hot ys, labels)."""
    rng = np.random.default_rng(seed)
    batch = spec["batch"]
    n_classes = spec["layers"][-1][1]
    xs, ys, labels = [], [], []
    for _ in range(n_batches):
        xs.append(rng.standard_normal((batch,) + tuple(spec["input_shape"])).astype(np.float32))
        lab = rng.integers(0, n_classes, batch)
        labels.append(lab)
        ys.append(np.eye(n_classes, dtype=np.float32)[lab])
    return xs, ys, labels


def fit_data(spec, fspec, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((fspec["samples"],) + tuple(spec["input_shape"])).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, fspec["samples"])]
    return x, y


# ---- ours ----------------------------------------------------------------------------------------

def build_ours(spec, weights=None):
    """Our Sequential model, compiled with Adam and categorical crossentropy; ``weights`` a list
    (one list of arrays per layer) to start from, else the initializers' draw."""
    from tinygrad_relu import layers as L
    from tinygrad_relu.models import Sequential
    layers = [L.Input(tuple(spec["input_shape"]))]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "dense":
            layers.append(L.Dense(layer[1], activation=layer[2]))
        elif kind == "conv2d":
            layers.append(L.Conv2D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "conv1d":
            layers.append(L.Conv1D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "maxpool2d":
            layers.append(L.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            layers.append(L.Flatten())
        elif kind == "gap":
            layers.append(L.GlobalAveragePooling2D())
        elif kind == "dropout":
            layers.append(L.Dropout(layer[1]))
    model = Sequential(layers)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    if weights is not None:
        for layer, arrays in zip(model.layers, weights):
            if arrays:
                layer.set_weights(arrays)
    return model


def initial_weights(spec, seed=0):
    """One list of arrays per layer (empty for layers without weights), from our initializers."""
    from tinygrad_relu import utils
    utils.set_random_seed(seed)
    return [layer.get_weights() for layer in build_ours(spec).layers]


def save_weights(path, weights):
    np.savez(path, **{f"{i}_{j}": a for i, arrays in enumerate(weights) for j, a in enumerate(arrays)})


def load_weights(path, spec):
    with np.load(path) as f:
        return [[f[f"{i}_{j}"] for j in range(sum(1 for k in f.files if k.startswith(f"{i}_")))]
                for i in range(len(spec["layers"]))]


# ---- PyTorch ----------------------------------------------------------------------------------------

def import_torch():
    """(torch module, None) or (None, reason)."""
    try:
        import torch
    except Exception as exc:  # ImportError, or a broken install
        return None, f"PyTorch not importable ({type(exc).__name__}: {exc})"
    return torch, None


def build_torch(torch, spec, weights=None):
    """The same network in PyTorch (NCHW / NCL layout); with ``weights``, those initial weights.

    Keras flattens (H, W, C), PyTorch (C, H, W): the first Dense after a Flatten gets its kernel
    rows permuted so both models compute the same function.
    """
    nn = torch.nn
    modules = []
    pending_flatten_shape = None

    def as_tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    for index, (layer, shape_in, _) in enumerate(shapes_through(spec)):
        kind = layer[0]
        arrays = weights[index] if weights is not None else []
        if kind == "dense":
            mod = nn.Linear(shape_in[0], layer[1])
            if arrays:
                kernel, bias = arrays
                if pending_flatten_shape is not None:  # (spatial..., C, out) -> (C, spatial..., out)
                    s = pending_flatten_shape
                    kernel = kernel.reshape(s + (kernel.shape[1],))
                    kernel = np.moveaxis(kernel, len(s) - 1, 0).reshape(-1, kernel.shape[-1])
                with torch.no_grad():
                    mod.weight.copy_(as_tensor(kernel.T))
                    mod.bias.copy_(as_tensor(bias))
            pending_flatten_shape = None
            modules.append(mod)
            if layer[2] == "relu":
                modules.append(nn.ReLU())
            # softmax stays out: CrossEntropyLoss takes logits (our fused softmax + CE)
        elif kind in ("conv2d", "conv1d"):
            _, filters, k, padding, act = layer
            conv = nn.Conv2d if kind == "conv2d" else nn.Conv1d
            mod = conv(shape_in[-1], filters, k, padding=padding)
            if arrays:
                kernel, bias = arrays
                perm = (3, 2, 0, 1) if kind == "conv2d" else (2, 1, 0)  # Keras (k.., cin, cout) -> (cout, cin, k..)
                with torch.no_grad():
                    mod.weight.copy_(as_tensor(kernel.transpose(perm)))
                    mod.bias.copy_(as_tensor(bias))
            modules.append(mod)
            if act == "relu":
                modules.append(nn.ReLU())
        elif kind == "maxpool2d":
            modules.append(nn.MaxPool2d(layer[1]))
        elif kind == "flatten":
            modules.append(nn.Flatten())
            pending_flatten_shape = tuple(shape_in)
        elif kind == "gap":
            modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "dropout":
            modules.append(nn.Dropout(layer[1]))
    return nn.Sequential(*modules)


def torch_layout(torch, x):
    """channels_last numpy batch -> PyTorch's channels-first tensor (done once, outside the timing)."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim == 3:
        x = x.transpose(0, 2, 1)
    return torch.from_numpy(np.ascontiguousarray(x))


def torch_stepper(torch, model):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    criterion = torch.nn.CrossEntropyLoss()

    def step(x, labels):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(x), labels)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def torch_eval_loss(torch, model, x, labels):
    model.eval()
    with torch.no_grad():
        loss = torch.nn.CrossEntropyLoss()(model(x), labels).item()
    model.train()
    return loss


# ---- Keras 3 ----------------------------------------------------------------------------------------

def build_keras(keras, spec, weights=None):
    """The same network in Keras 3 (channels_last, our layouts), compiled as ours."""
    layers = [keras.Input(tuple(spec["input_shape"]))]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "dense":
            layers.append(keras.layers.Dense(layer[1], activation=layer[2]))
        elif kind == "conv2d":
            layers.append(keras.layers.Conv2D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "conv1d":
            layers.append(keras.layers.Conv1D(layer[1], layer[2], padding=layer[3], activation=layer[4]))
        elif kind == "maxpool2d":
            layers.append(keras.layers.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            layers.append(keras.layers.Flatten())
        elif kind == "gap":
            layers.append(keras.layers.GlobalAveragePooling2D())
        elif kind == "dropout":
            layers.append(keras.layers.Dropout(layer[1]))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    if weights is not None:
        for layer, arrays in zip(model.layers, weights):
            if arrays:
                layer.set_weights(arrays)
    return model
