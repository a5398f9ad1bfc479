"""Exporting a model for other runtimes: ``model.export("m.onnx", format="onnx")`` (Keras 3's spelling).

    onnx_graph.py   the graph under construction, and the walk of Sequential and Functional models
    onnx_layers.py  each layer's and each activation's ONNX form: one table entry per class
    onnx_recurrent.py  the sequence layers' forms (Embedding, the recurrent layers, their wrappers), added
                    to the same table

The ONNX model is built with the ``onnx`` package (``pip install "tinygrad_relu[onnx]"``), checked with
its checker, and written atomically. Its inputs are named after the model's input layers, its outputs
``output_0``, ``output_1``, ...; the batch axis is dynamic. The weights are copied into the file as they
are when export runs.
"""
import os

import numpy as np

from ..saving.archive import atomic_write
from .onnx_graph import DEFAULT_OPSET, MIN_OPSET, ExportError, Graph, convert_model, model_kind
from .onnx_layers import ACTIVATIONS, CONVERTERS, NO_ONNX_FORM, convert_layer
from . import onnx_recurrent  # noqa: F401  (registers the sequence layers' converters)

_ELEMENT_TYPES = {"float32": "FLOAT", "float64": "DOUBLE"}


def _require_onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401  (a submodule the graph builder uses)
    except ImportError:
        raise ImportError("export(format='onnx') needs the onnx package: pip install \"tinygrad_relu[onnx]\" "
                          "(or pip install onnx)") from None
    return onnx


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
    """Keras 3's ``Model.export``; ``format="onnx"`` is the one format here."""
    if format != "onnx":
        raise NotImplementedError(f"export: format={format!r} is not supported; use format='onnx'")
    if input_signature is not None:
        raise NotImplementedError("export: input_signature is not supported; the model's own input shapes are "
                                  "exported, with a dynamic batch axis")
    opset = kwargs.pop("opset_version", None)
    if kwargs:
        raise TypeError(f"export: unexpected keyword arguments {sorted(kwargs)} (format='onnx' takes opset_version)")
    onnx_model = to_onnx(model, opset)
    data = onnx_model.SerializeToString()
    atomic_write(filepath, lambda handle: handle.write(data), True, "export", zipped=False)
    if verbose:
        print(f"Saved the ONNX model (opset {onnx_model.opset_import[0].version}) to {os.fspath(filepath)}")


def _input_specs(model):
    """[(name, shape)] of the model's inputs, batch axis first."""
    inputs = getattr(model, "inputs", None)
    if inputs is not None and getattr(model, "_container", False) and hasattr(model, "_execution"):
        return [(t._keras_history.layer.name, tuple(t.shape)) for t in inputs]
    shape = getattr(model, "_input_batch_shape", None)
    if shape is None:
        raise ExportError(f"model '{model.name}' has no known input shape; build it (give the first layer "
                          "input_shape= or start with Input) before exporting")
    return [(getattr(model, "_input_layer_name", None) or "input_layer", (None,) + tuple(shape[1:]))]


def _value_info(onnx, name, element_type, shape, prefix):
    dims = ["batch" if i == 0 else d if d is not None else f"{prefix}_dim{i}" for i, d in enumerate(shape)]
    return onnx.helper.make_tensor_value_info(name, element_type, dims)


def to_onnx(model, opset_version=None):
    """The ONNX ModelProto of ``model`` (built, Sequential or Functional, nested models inside allowed)."""
    onnx = _require_onnx()
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ValueError(f"export: opset_version must be an int from {MIN_OPSET} to {latest} (this onnx package's "
                         f"newest), received {opset!r}")
    if model_kind(model) is None:
        raise ExportError(f"export: model '{model.name}' ({type(model).__name__}) is a subclassed model: its call() is "
                          "Python code, which ONNX export does not trace; build it as a Sequential or Functional model")
    if not model.built:
        try:
            model.build()
        except ValueError:
            raise ExportError(f"export: model '{model.name}' is not built yet; build it (call it on data, give the "
                              "first layer input_shape=, or call model.build) before exporting") from None
    inputs = getattr(model, "inputs", None) if hasattr(model, "_execution") else None
    dtype = np.dtype(inputs[0].dtype if inputs else model.dtype).name
    if dtype not in _ELEMENT_TYPES:
        raise ExportError(f"export: model '{model.name}' computes in {dtype}; ONNX export takes float32 or float64")
    element_type = getattr(onnx.TensorProto, _ELEMENT_TYPES[dtype])
    graph = Graph(onnx, opset, dtype)
    specs = _input_specs(model)
    for name, _ in specs:
        graph.name(name)
    try:
        outputs, output_shapes = convert_model(graph, model, [name for name, _ in specs], [shape for _, shape in specs],
                                convert_layer)
    except ExportError as err:
        raise ExportError(f"export: model '{model.name}': {err}") from None
    final = []
    for i, (name, shape) in enumerate(zip(outputs, output_shapes)):
        out = graph.name(f"output_{i}")
        graph.nodes.append(onnx.helper.make_node("Identity", [name], [out], name=out))
        final.append((out, shape))
    onnx_graph = onnx.helper.make_graph(
        graph.used_nodes([name for name, _ in final]), model.name,
        [_value_info(onnx, name, element_type, shape, name) for name, shape in specs],
        [_value_info(onnx, name, element_type, shape, name) for name, shape in final], graph.initializers)
    onnx_model = onnx.helper.make_model(onnx_graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                        producer_name="tinygrad_relu")
    # the oldest IR version that carries this opset, so that older runtimes read the file too
    onnx_model.ir_version = onnx.helper.find_min_ir_version_for([onnx_model.opset_import[0]])
    onnx.checker.check_model(onnx_model)
    return onnx_model


__all__ = ["export_model", "to_onnx", "ExportError", "ACTIVATIONS", "CONVERTERS", "NO_ONNX_FORM"]
