"""Nested structures of lists, tuples and dicts, walked as Keras' ``keras.tree`` walks them.

A model's inputs and outputs, a layer's arguments and a fit's data may each be one array, a
list or tuple of them, or a dict of them (nested to any depth). These helpers visit the
leaves in Keras' order: list and tuple items in order, dict values by sorted key.
"""


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def _children(x):
    if isinstance(x, dict):
        return [x[k] for k in sorted(x)]
    return list(x)


def flatten(structure):
    """The leaves, in Keras' order (a lone leaf gives a one-element list)."""
    if not is_nested(structure):
        return [structure]
    out = []
    stack = [structure]
    while stack:  # iterative: deep nesting never meets the recursion limit
        item = stack.pop()
        if is_nested(item):
            stack.extend(reversed(_children(item)))
        else:
            out.append(item)
    return out


def pack_sequence_as(structure, leaves):
    """``leaves`` (a flat list) arranged like ``structure``."""
    leaves = list(leaves)
    position = [0]

    def build(item):
        if isinstance(item, dict):
            built = {k: build(item[k]) for k in sorted(item)}
            return {k: built[k] for k in item}  # the caller's key order, filled in sorted order
        if isinstance(item, (list, tuple)):
            values = [build(v) for v in item]
            if isinstance(item, tuple):
                return type(item)(*values) if hasattr(item, "_fields") else tuple(values)
            return values
        value = leaves[position[0]]
        position[0] += 1
        return value

    count = len(flatten(structure))
    if count != len(leaves):
        raise ValueError(f"pack_sequence_as: the structure holds {count} leaves, received {len(leaves)} values")
    return build(structure)


def map_structure(fn, structure):
    """The same structure with ``fn`` applied to every leaf."""
    return pack_sequence_as(structure, [fn(leaf) for leaf in flatten(structure)])


def same_structure(a, b):
    """Whether a and b nest alike (lists and tuples count as the same kind, as Keras lets them)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and \
            all(same_structure(x, y) for x, y in zip(a, b))
    return True
