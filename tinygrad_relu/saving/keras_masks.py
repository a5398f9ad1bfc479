"""The mask operations in a functional config Keras 3 writes.

Keras 3 traces a layer's ``compute_mask`` symbolically, so a functional model it saves holds each mask's own
computation as operation nodes (``keras.src.ops.numpy``: ``NotEqual``, ``Any``) whose output reaches the
masked layers as their ``mask`` keyword. Here masks travel from layer to layer by themselves
(layers/mask_propagation.py, as Keras computes them), so these nodes and keywords are dropped, but only when
they compute exactly what a mask-making layer here computes on the same tensor:

    Embedding(mask_zero=True) on x:   not_equal(x, 0)
    Masking(mask_value=v) on x:       any(not_equal(x, v), axis=-1)

and their output is used as nothing but a ``mask``. Any other operation node is refused (ValueError naming it):
the graph would compute something the rebuilt model does not.
"""
_OPERATION_MODULE = "keras.src.ops"


def _is_operation(entry):
    return isinstance(entry, dict) and str(entry.get("module") or "").startswith(_OPERATION_MODULE)


def _reference(value):
    """(layer, node, tensor) of a serialized symbolic tensor, else None."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        if isinstance(history, (list, tuple)) and len(history) == 3:
            return tuple(history)
    return None


def _single_call(entry):
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], dict):
        return None
    return list(nodes[0].get("args") or []), dict(nodes[0].get("kwargs") or {})


def _mask_makers(layers):
    """{input tensor reference: [the masks computed on it, as ('not_equal', value) or ('any_not_equal', value)]}."""
    makers = {}
    for entry in layers:
        if entry.get("class_name") not in ("Embedding", "Masking") or _is_operation(entry):
            continue
        config = entry.get("config") or {}
        if entry["class_name"] == "Embedding" and not config.get("mask_zero"):
            continue
        kind = ("not_equal", 0) if entry["class_name"] == "Embedding" else ("any_not_equal",
                                                                             config.get("mask_value", 0.0))
        for node in entry.get("inbound_nodes") or []:
            args = node.get("args") if isinstance(node, dict) else None
            if args and _reference(args[0]) is not None:
                makers.setdefault(_reference(args[0]), []).append(kind)
    return makers


def _what_it_computes(entry, by_name):
    """('not_equal', v, input) or ('any_not_equal', v, input) for a mask operation node, else None."""
    call = _single_call(entry)
    if call is None:
        return None
    args, kwargs = call
    if entry["class_name"] == "NotEqual" and len(args) == 2 and not kwargs and _reference(args[0]) is not None \
            and isinstance(args[1], (int, float)) and not isinstance(args[1], bool):
        return "not_equal", args[1], _reference(args[0])
    config = entry.get("config") or {}
    if entry["class_name"] == "Any" and len(args) == 1 and not kwargs and config.get("axis") in (-1, [-1]) \
            and not config.get("keepdims", False) and _reference(args[0]) is not None:
        source = by_name.get(_reference(args[0])[0])
        inner = _what_it_computes(source, by_name) if _is_operation(source) else None
        if inner is not None and inner[0] == "not_equal":
            return "any_not_equal", inner[1], inner[2]
    return None


def without_mask_operations(config, who="Functional.from_config"):
    """The functional ``config`` without Keras' mask operation nodes and the ``mask`` keywords they feed."""
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or not any(_is_operation(e) for e in layers):
        return config
    by_name = {e.get("name"): e for e in layers if isinstance(e, dict)}
    makers = _mask_makers(layers)
    operations = {e["name"] for e in layers if _is_operation(e)}
    masks, inner = set(), set()
    computed = {e["name"]: _what_it_computes(e, by_name) for e in layers if _is_operation(e)}
    for name, what in computed.items():
        if what is not None and what[0] == "any_not_equal":
            inner.add(_reference(_single_call(by_name[name])[0][0])[0])  # its not_equal, part of the same mask
    for name, what in computed.items():
        known = {(kind, float(v)) for kind, v in makers.get(what[2], [])} if what is not None else set()
        if name not in inner and (what is None or (what[0], float(what[1])) not in known):
            entry = by_name[name]
            raise ValueError(f"{who}: the config holds the operation node '{name}' "
                             f"({entry.get('module')}.{entry.get('class_name')}), which is not the mask of an "
                             "Embedding(mask_zero=True) or Masking layer on the same tensor; operation nodes are "
                             "not supported here")
        if name not in inner:
            masks.add(name)
    rewritten = []
    for entry in layers:
        if entry["name"] in operations:
            continue
        nodes = []
        for node in entry.get("inbound_nodes") or []:
            if isinstance(node, dict):
                kwargs = dict(node.get("kwargs") or {})
                mask = _reference(kwargs.get("mask"))
                if mask is not None and mask[0] in masks:
                    del kwargs["mask"]  # (the layers here receive the same mask from their input)
                node = dict(node, kwargs=kwargs)
            nodes.append(node)
        if _uses_any(nodes, operations):
            raise ValueError(f"{who}: layer '{entry['name']}' takes the output of an operation node other than as "
                             "its `mask`; operation nodes are not supported here")
        rewritten.append(dict(entry, inbound_nodes=nodes))
    return dict(config, layers=rewritten)


def _uses_any(value, names):
    reference = _reference(value)
    if reference is not None:
        return reference[0] in names
    if isinstance(value, dict):
        return any(_uses_any(v, names) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_uses_any(v, names) for v in value)
    return False
