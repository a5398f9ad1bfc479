"""clone_model: a new model with the same architecture and freshly initialized weights (Keras' clone_model)."""
from ..layers import Input, InputLayer
from ..saving import serialization_lib
from ..utils import tree
from .functional import Functional
from .sequential import Sequential


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """The same architecture with new layers and new weights (not copied: ``set_weights(model.get_weights())``
    copies them). ``clone_function(layer)`` makes each new layer (default: from its config). A subclassed model
    is rebuilt from its get_config(), as Keras does."""
    if input_tensors is not None or call_function is not None or recursive or kwargs:
        given = [name for name, value in (("input_tensors", input_tensors), ("call_function", call_function),
                                          ("recursive", recursive or None)) if value is not None] + list(kwargs)
        raise NotImplementedError(f"clone_model: {', '.join(given)} not supported")
    clone = clone_function or (lambda layer: serialization_lib.deserialize_layer(
        serialization_lib.serialize_keras_object(layer)))
    if isinstance(model, Sequential):
        copy = Sequential(name=model.name, trainable=model.trainable)
        if model._input_batch_shape is not None:
            copy.add(Input(batch_shape=model._input_batch_shape, dtype=model._dtype()))
        for layer in model.layers:
            copy.add(clone(layer))
        return copy
    if isinstance(model, Functional):
        config = model.get_config()
        if clone_function is None:
            return Functional.from_config(config)
        return _clone_functional(model, clone)
    copy = type(model).from_config(model.get_config())  # a subclass: its own class, from its config
    if model.built and model._build_input_shape is not None:
        copy.build(model._build_input_shape)
    return copy


def _clone_functional(model, clone):
    """A Functional model rebuilt by calling ``clone(layer)`` for each layer on the graph's new tensors."""
    new_layers, values = {}, {}
    for tensor in model.inputs:
        layer = tensor._keras_history.layer
        values[id(tensor)] = Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
    for node in model._execution:
        layer = node.layer
        if isinstance(layer, InputLayer):
            continue
        if id(layer) not in new_layers:
            new_layers[id(layer)] = clone(layer)
        args, kwargs = node.arguments(values)
        out = new_layers[id(layer)](*args, **kwargs)
        for tensor, value in zip(node.outputs, tree.flatten(out)):
            values[id(tensor)] = value
    inputs = tree.pack_sequence_as(model._inputs_struct, [values[id(t)] for t in model.inputs])
    outputs = tree.pack_sequence_as(model._outputs_struct, [values[id(t)] for t in model.outputs])
    return Functional(inputs, outputs, name=model.name, trainable=model.trainable)
