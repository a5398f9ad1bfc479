"""How a mask travels from layer to layer (Keras 3's ``_keras_mask`` machinery).

A mask says which timesteps of a sequence are real: a boolean Tensor of shape (batch, timesteps),
True where a step counts. ``Embedding(mask_zero=True)`` and ``Masking`` make one; Keras attaches
it to the output Tensor itself (``tensor._keras_mask``), so it travels with the values through
Sequential and functional models alike without either knowing about it. ``Layer.__call__`` then:

1. hands the mask of the input to ``call(..., mask=...)`` when ``call`` declares a ``mask``
   argument and the input is the call's only tensor argument (Keras' rule: with a second tensor
   argument, such as ``initial_state``, no mask is passed implicitly);
2. after the call, when the layer ``supports_masking``, attaches ``compute_mask(inputs,
   previous_mask)`` to the outputs that have none yet (the default passes the input's mask on);
   a layer that does not support masking drops it, with Keras' warning.

Recurrent layers consume the mask (masked steps keep the previous state), the losses weigh
masked timesteps out (losses.py), GlobalAveragePooling1D averages over the real steps only.
"""
import warnings

import numpy as np

from ..tensor import Tensor
from ..utils import tree


def mask_of(value):
    """The mask attached to a Tensor (None for anything else)."""
    return value._keras_mask if type(value) is Tensor else None


def masks_of(value):
    """The mask of a Tensor, or the masks of a list / tuple / dict of them (same structure); None when
    nothing in it carries a mask."""
    if type(value) is Tensor:
        return value._keras_mask
    if isinstance(value, (list, tuple, dict)):
        masks = tree.map_structure(mask_of, value)
        return masks if any(m is not None for m in tree.flatten(masks)) else None
    return None


def holds_tensor(value):
    """Whether a call argument is a Tensor or array, or a structure holding one (Keras converts arrays to tensors
    before it counts them)."""
    if isinstance(value, (Tensor, np.ndarray)):
        return True
    return isinstance(value, (list, tuple, dict)) and any(isinstance(v, (Tensor, np.ndarray))
                                                          for v in tree.flatten(value))


def as_mask(mask, who):
    """A mask given by a caller (a Tensor, array or nested list of booleans or 0/1) as a numpy bool array."""
    values = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{who}: a mask must hold booleans (or 0/1), received dtype {values.dtype}")
    return values if values.dtype == bool else values != 0


def attach_output_masks(layer, inputs, outputs, previous_mask):
    """Keras' _set_mask_metadata: the layer's compute_mask(inputs, previous_mask) onto the outputs that carry
    no mask yet."""
    flat_outputs = [o for o in tree.flatten(outputs)]
    if all(type(o) is Tensor and o._keras_mask is not None for o in flat_outputs):
        return
    computed = layer.compute_mask(inputs, previous_mask)
    if computed is None:
        return
    flat_masks = tree.flatten(computed) if isinstance(computed, (list, tuple, dict)) else [computed]
    for tensor, mask in zip(flat_outputs, flat_masks):
        if type(tensor) is Tensor and tensor._keras_mask is None and mask is not None:
            tensor._keras_mask = mask if isinstance(mask, Tensor) else Tensor._make(as_mask(mask, layer.name),
                                                                                     False, None)


def warn_mask_dropped(layer):
    warnings.warn(f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a mask attached "
                  "to it. However, this layer does not support masking and will therefore destroy the mask "
                  "information. Downstream layers will not see the mask.", stacklevel=3)
