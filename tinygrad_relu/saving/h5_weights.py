"""Keras 3's HDF5 weights layout (``model.weights.h5`` inside a .keras file, and ``.weights.h5`` files), with h5py.

Keras walks the model as its saving_lib does and gives every object that owns variables a group
``<path>/vars`` (the model's own is ``vars``), its variables as datasets "0", "1", ... in its own
order (trainable first), and the object's name as the group's ``name`` attribute. The path follows
the attributes: a Sequential or Functional model's layers under ``layers/``, each named by its class in
snake case, made unique in order (``layers/dense``, ``layers/dense_1``: not the layer's own name, which
may differ between two copies of a model); a layer's sublayer attributes in sorted order, private ones
last (``block/inner``), lists of them like the layers; the optimizer under ``optimizer``: the
iteration count, the learning rate (unless it is a schedule), then its slots in the order Keras
creates them.

Reading checks the whole file against the model before it reads one array: every group and dataset
on a path this model gives (no soft or external links, no external or virtual datasets, only
HDF5's built-in filters, so HDF5 loads no plugin), the number of datasets of each object, and each
one's shape and dtype; a compressed dataset may not promise far more than it stores. Datasets are
then read straight into the weights. Groups the model does not have are ignored, as Keras does.
"""
import math
from typing import NamedTuple

import numpy as np

from .. import _registry
from ..layers import Layer
from .archive import ModelFileError

# HDF5's own filters (gzip, shuffle, fletcher32, szip, nbit, scaleoffset) and h5py's lzf: any other filter
# id makes HDF5 search its plugin path for a library to load, so a file could choose code to run.
_BUILTIN_FILTERS = {1, 2, 3, 4, 5, 6, 32000}
_BOMB_FLOOR = 64 << 20       # a dataset declaring more bytes than this ...
_BOMB_RATIO = 1000           # ... must store at least 1/_BOMB_RATIO of them
_MAX_CHUNK_BYTES = 64 << 20  # an HDF5 chunk is decompressed whole: no bigger than its dataset, or this


def require_h5py(who):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{who}: Keras' file formats (.keras, .weights.h5) need h5py: "
                          "pip install \"tinygrad_relu[keras]\" (or pip install h5py)") from None
    return h5py


class Saveable(NamedTuple):
    """One object whose variables Keras saves: its group path, its name, and its variables in Keras' order
    (weight Tensors, or for the optimizer the (shape, dtype) of each state array)."""
    path: str
    name: str
    variables: list
    optimizer: object = None  # for an optimizer's entry: the optimizer ...
    owner: object = None      # ... and the model it trains


def _join(path, name):
    return f"{path}/{name}" if path else name


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name  # Keras visits private attributes last


def saveables(model, with_optimizer=True):
    """Every object Keras saves variables for, in its walk order, with the paths of its groups."""
    found, visited = [], set()
    model_class = _registry.model_class("Model")

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        own = [t for owner, _, t in obj.named_weights() if owner is obj]
        found.append(Saveable(path, obj.name, own))
        children = {name: obj.__dict__.get(name) for name in obj.__dict__.get("_layer_attributes", ())}
        first = []
        if model_class is not None and isinstance(obj, model_class):
            children["layers"] = obj.layers
            if obj._container:
                first = [("layers", obj.layers)]  # Keras saves a Sequential's or Functional's layers first
            optimizer = getattr(obj, "optimizer", None) if obj.compiled else None
            if with_optimizer and optimizer is not None and id(optimizer) not in visited:
                children["optimizer"] = optimizer
        for name, value in first + sorted(children.items(), key=lambda item: _name_key(item[0])):
            child = _join(path, name)
            if isinstance(value, Layer):
                visit(value, child)
            elif isinstance(value, (list, tuple, dict)):
                container(value, child)
            elif value is not None and name == "optimizer" and id(value) not in visited:
                visited.add(id(value))
                found.append(Saveable(child, value.name, optimizer_layout(value, obj.trainable_weights), value, obj))

    def container(values, path):
        used = {}
        for value in (values.values() if isinstance(values, dict) else values):
            if isinstance(value, Layer):
                visit(value, _join(path, _unique(_registry.snake_case(type(value).__name__), used)))
            elif isinstance(value, (list, tuple, dict)):
                container(value, _join(path, _unique("container", used)))

    visit(model, "")
    return found


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


# ---- the optimizer's variables ---------------------------------------------------------------------
def _head(optimizer):
    """How many variables precede the slots: the iteration count, and the learning rate unless it is a schedule."""
    return len(optimizer.state_layout([]))


def optimizer_layout(optimizer, variables):
    """[(shape, dtype)] of the optimizer's variables in Keras' order: iterations, learning rate, slots."""
    layout = optimizer.state_layout(variables)
    head = _head(optimizer)
    slots = layout[head:]
    keras_head = [((), np.dtype(np.int64))] + ([((), np.dtype(np.float32))] if head == 2 else [])
    extra = [(a.shape, a.dtype) for a in optimizer.keras_extra_state()]
    return keras_head + [slots[k] for k in optimizer.keras_slot_order(len(variables))] + extra


def optimizer_arrays(optimizer, variables):
    """The optimizer's state as Keras' variables, in Keras' order."""
    if variables and not optimizer.built:
        optimizer.build(variables)
    state = optimizer.get_state()
    head = _head(optimizer)
    keras_head = [np.asarray(state[0], dtype=np.int64)] + \
        ([np.asarray(state[1], dtype=np.float32)] if head == 2 else [])
    slots = state[head:]
    extra = optimizer.keras_extra_state()
    if not slots:
        return keras_head + extra
    tracked = len(slots) // len(optimizer.keras_slot_order(1))  # the parameters it keeps slots for (frozen ones too)
    return keras_head + [slots[k] for k in optimizer.keras_slot_order(tracked)] + extra


def restore_optimizer(optimizer, variables, arrays):
    """Set the optimizer's state from Keras' variables (``arrays``, in Keras' order; slots may be absent)."""
    head = _head(optimizer)
    state = [np.asarray(arrays[0], dtype=np.int64)] + ([np.asarray(arrays[1], dtype=np.float64)] if head == 2 else [])
    keras_slots = arrays[head:len(arrays) - len(optimizer.keras_extra_state())]  # the extras are derived here
    if keras_slots:
        order = optimizer.keras_slot_order(len(variables))
        slots = [None] * len(order)
        for position, k in enumerate(order):
            slots[k] = keras_slots[position]
        state += slots
        if variables:
            optimizer.build(variables)
    optimizer.set_state(state)


# ---- writing ---------------------------------------------------------------------------------------
def write(model, fileobj, who, with_optimizer=True):
    """Write the model's variables (and its optimizer's) into ``fileobj`` as Keras' weights file."""
    h5py = require_h5py(who)
    with h5py.File(fileobj, "w") as f:
        for entry in saveables(model, with_optimizer):
            group = f.create_group(_join(entry.path, "vars"))
            group.attrs["name"] = entry.name
            if entry.optimizer is not None:
                arrays = optimizer_arrays(entry.optimizer, entry.owner.trainable_weights)
            else:
                arrays = [t.data for t in entry.variables]
            for i, array in enumerate(arrays):
                group.create_dataset(str(i), data=np.asarray(array))


# ---- reading ---------------------------------------------------------------------------------------
class Reader:
    """A Keras weights file opened with h5py, checked against a model before any array is read."""

    def __init__(self, fileobj, label, who):
        self.h5py = require_h5py(who)
        self.label, self.who = label, who
        try:
            self.file = self.h5py.File(fileobj, "r")
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
            raise self.error(f"it is not a readable HDF5 file: {err}") from None

    def error(self, message):
        return ModelFileError(f"{self.who}: cannot load '{self.label}': {message}")

    def close(self):
        try:
            self.file.close()
        except (OSError, ValueError, RuntimeError):
            pass

    def _child(self, parent, name, kind, where):
        link = parent.get(name, getclass=True, getlink=True)
        if link is None:
            return None
        if link is not self.h5py.HardLink:
            raise self.error(f"'{where}' is a {link.__name__}; a weights file may hold only hard links")
        obj = parent[name]
        if not isinstance(obj, kind):
            raise self.error(f"'{where}' is not an HDF5 {kind.__name__.lower()}")
        return obj

    def group(self, path):
        """The ``vars`` group at ``path``, or None when the file has none."""
        node = self.file
        for part in [p for p in path.split("/") if p] + ["vars"]:
            node = self._child(node, part, self.h5py.Group, _join(path, "vars"))
            if node is None:
                return None
        return node

    def check(self, path, shapes, what):
        """The datasets of the ``vars`` group at ``path``, after checking them against ``shapes``
        [(shape, dtype kinds)]; nothing is read."""
        where = _join(path, "vars")
        try:
            group = self.group(path)
            count = 0 if group is None else len(group)
            if count != len(shapes):
                raise self.error(f"{what} has {len(shapes)} variables, but '{where}' in the file holds {count}")
            datasets = []
            for i, (shape, kinds) in enumerate(shapes):
                dataset = self._child(group, str(i), self.h5py.Dataset, f"{where}/{i}")
                if dataset is None:
                    raise self.error(f"{what}: the file has no dataset '{where}/{i}'")
                self._check_dataset(dataset, tuple(shape), kinds, f"{what}: variable {i} ('{where}/{i}')")
                datasets.append(dataset)
            return datasets
        except ModelFileError:
            raise
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
            raise self.error(f"{what}: '{where}' cannot be read: {err}") from None

    def _check_dataset(self, dataset, shape, kinds, what):
        if dataset.shape != shape:
            raise self.error(f"{what} has shape {dataset.shape} in the file, but {shape} in the model")
        dtype = dataset.dtype
        if dtype.kind not in kinds or dtype.hasobject or dtype.itemsize > 8:
            raise self.error(f"{what} has dtype {dtype} in the file; the model needs "
                             f"{'a float' if kinds == 'f' else 'an integer'} dtype")
        if dataset.external:
            raise self.error(f"{what} is stored in external files {dataset.external}")
        if dataset.is_virtual:
            raise self.error(f"{what} is a virtual dataset (made of other files' data)")
        plist = dataset.id.get_create_plist()
        for k in range(plist.get_nfilters()):
            code = plist.get_filter(k)[0]
            if code not in _BUILTIN_FILTERS:
                raise self.error(f"{what} uses the HDF5 filter {code}, which is not one of HDF5's built-in filters")
        declared = math.prod(shape) * dtype.itemsize
        if dataset.chunks is not None:
            chunk = math.prod(dataset.chunks) * dtype.itemsize
            if chunk > max(declared, _MAX_CHUNK_BYTES):
                raise self.error(f"{what} is stored in chunks of {chunk} bytes, more than the array's {declared}")
        if declared > _BOMB_FLOOR and declared > _BOMB_RATIO * dataset.id.get_storage_size():
            raise self.error(f"{what} declares {declared} bytes but stores {dataset.id.get_storage_size()}: "
                             "refused as a decompression bomb")

    def read_into(self, dataset, out, what):
        """Read ``dataset`` into the array ``out`` (same shape; HDF5 converts the dtype)."""
        try:
            if out.ndim == 0:
                out[...] = dataset[()]
            else:
                dataset.read_direct(out)
        except (OSError, ValueError, RuntimeError, TypeError) as err:
            raise self.error(f"{what}: the data is corrupt: {err}") from None
        return out


def check_weights(reader, model):
    """[(saveable, its datasets, label)] for every layer and model variable, each checked; nothing is read."""
    plan = []
    for entry in saveables(model, with_optimizer=False):
        what = f"layer '{entry.name}'"
        kinds = [(t.shape, "iu" if t.data.dtype.kind in "iu" else "f") for t in entry.variables]  # (a counter is int)
        plan.append((entry, reader.check(entry.path, kinds, what), what))
    return plan


def read_weights(reader, plan, into_model):
    """[(weight Tensor, its array)] read from the datasets ``check_weights`` checked. ``into_model``: straight into
    the weights (a model made for this file); otherwise into new arrays, assigned by the caller."""
    weights = []
    for entry, datasets, what in plan:
        for i, (tensor, dataset) in enumerate(zip(entry.variables, datasets)):
            out = tensor.data if into_model else np.empty(tensor.shape, tensor.data.dtype)
            weights.append((tensor, reader.read_into(dataset, out, f"{what}: variable {i}")))
    return weights


def check_optimizer(reader, model):
    """(entry, datasets, layout) of the model's optimizer group, checked: all of its variables, or only the
    iteration count and learning rate of an optimizer that never took a step (Keras writes that); None when the
    file has no optimizer group."""
    entry = next((e for e in saveables(model) if e.optimizer is not None and e.owner is model), None)
    group = None if entry is None else reader.group(entry.path)
    if group is None:
        return None
    head = _head(entry.optimizer)
    layout = list(entry.variables) if len(group) != head else list(entry.variables[:head])
    kinds = ["iu"] + ["f"] * (len(layout) - 1)
    what = f"optimizer '{entry.name}'"
    datasets = reader.check(entry.path, [(shape, kind) for (shape, _), kind in zip(layout, kinds)], what)
    return entry, datasets, layout


def read_optimizer(reader, optimizer_plan):
    """The optimizer's variables (Keras' order) from the datasets ``check_optimizer`` checked."""
    entry, datasets, layout = optimizer_plan
    return [reader.read_into(d, np.empty(shape, dtype), f"optimizer '{entry.name}': variable {i}")
            for i, (d, (shape, dtype)) in enumerate(zip(datasets, layout))]
