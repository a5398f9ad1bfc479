"""Layer: the base of every Keras-style layer, built-in or written by a user.

Keras 3's contracts, kept here: ``__init__`` stores configuration (and may create sublayers,
tracked as attributes), ``build(input_shape)`` creates the weights once the input shape is
known (``add_weight``), ``call(inputs)`` computes, with a ``training`` and a ``mask`` argument
only if it declares them; ``get_config``/``from_config`` round-trip the configuration through
plain JSON values. ``add_loss`` and ``activity_regularizer`` add terms to the loss; ``losses``
collects them with the weight penalties, through nested layers. Called on symbolic tensors
(``Input(...)``) a layer records a Node instead of computing (layers/symbolic.py).
"""
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor
from .. import _state, activations, config, constraints, debug, initializers, regularizers
from ..variables import Variable, name_scope, scoped_path
from .._registry import snake_case as to_snake_case
from .._state import unique_name, reset_names as reset_uids  # noqa: F401  (re-exported)
from ..utils import tree
from .checks import as_shape_structure, is_shape, shape_str
from .mask_propagation import attach_output_masks, holds_tensor, masks_of, warn_mask_dropped
from .signatures import CallSignature, accepts_name, constructor_config
from .symbolic import infer_output_specs, is_symbolic, placeholders, shape_of, symbolic_call

_ALLOWED_BASE_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "input_dim")


class skip_initializers:
    """Context manager: layers built inside it (in this thread) get zero weights instead of initialized ones.

    While a saved model is being rebuilt its weights are about to be overwritten, so they are
    made as lazy zeros: no random numbers drawn, and an absurd size claimed by a hostile file
    costs no memory before the shape check rejects it.
    """

    def __enter__(self):
        self._prev, _state.local.skip_initializers = _state.local.skip_initializers, True
        return self

    def __exit__(self, *exc):
        _state.local.skip_initializers = self._prev
        return False


class WeightRecord(NamedTuple):
    name: str
    tensor: Variable
    trainable: bool      # as declared in add_weight; the layer's own trainable flag is separate
    regularizer: object
    constraint: object


def marks_built(build):
    """Decorator for a build() that marks the layer built itself (a model's), so Layer leaves it unwrapped."""
    build._marks_built = True
    return build


def _mark_built(build):
    """Wrap a subclass's build so that calling it directly also marks the layer built (as Keras)."""
    def wrapper(self, input_shape=None):
        if self.built:  # weights exist already: building again would silently replace them
            return
        shape = None if input_shape is None else as_shape_structure(input_shape)
        with name_scope(self.name):  # the weights made here are 'layer/kernel', nested layers' 'layer/inner/...'
            build(self, shape)
        self._build_input_shape = shape
        self.built = True
        _state.structure_changed()
    wrapper.__name__, wrapper.__doc__ = build.__name__, build.__doc__
    wrapper._marks_built = True
    return wrapper


class Layer:
    """Base layer: names, weights and sublayers, the build-on-first-call rule, losses and symbolic calls."""

    # Built-in layers whose call takes (one Tensor, training), runs no sublayer and adds no loss set this:
    # a model may then call them directly on checked batches, skipping __call__'s per-call work.
    _fast_call = False
    _container = False  # a model whose call only runs its layers (Sequential, Functional)
    _supports_masking = None  # True: passes the input's mask on (Dense, Dropout, ...); None: Keras' default
    _call_signature = None

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        # a class without its own get_config serializes its constructor arguments, as Keras does
        layer.__dict__["_init_config"] = constructor_config(cls, args, kwargs) \
            if cls.get_config is Layer.get_config else None
        return layer

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            cls.build = _mark_built(build)
        if "call" in cls.__dict__ or cls._call_signature is None:
            cls._call_signature = CallSignature.of(cls.call)
        if ("call" in cls.__dict__ or "__call__" in cls.__dict__) and "_fast_call" not in cls.__dict__:
            cls._fast_call = False

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True, name=None, **kwargs):
        if kwargs.pop("quantization_config", None) is not None:  # Keras >= 3.12 writes it (None) into configs
            raise NotImplementedError(f"{type(self).__name__}: quantization is not supported")
        unknown = [k for k in kwargs if k not in _ALLOWED_BASE_KWARGS]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword argument(s) {unknown}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: `name` must be a non-empty string without '/', received {name!r}")
        if not isinstance(trainable, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: `trainable` must be a boolean, received trainable={trainable!r}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        if isinstance(dtype, dict):  # a Keras DTypePolicy config: {'class_name': 'DTypePolicy', 'config': {'name': ...}}
            if dtype.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy"):
                raise NotImplementedError(f"{type(self).__name__} '{self.name}': the dtype policy "
                                          f"{dtype.get('class_name')!r} is not supported (quantization is not)")
            dtype = (dtype.get("config") or {}).get("name")
        try:
            self.dtype = np.dtype(dtype if dtype is not None else config.floatx()).name
        except TypeError:  # Keras' policy names such as 'mixed_float16'
            self.dtype = str(dtype)
        if self.dtype not in ("float32", "float64"):  # what the kernels compute in; inputs are converted to it
            raise ValueError(f"Layer '{self.name}': dtype must be float32 or float64, received dtype={dtype!r}"
                             + (" (float16 inputs are fine: they are converted to the layer's dtype)"
                                if self.dtype == "float16" else ""))
        self.autocast = bool(autocast)
        self._trainable = bool(trainable)
        self.built = False
        self._weight_records = []
        self._build_input_shape = None
        self._losses = []            # add_loss and the activity penalty, from the last call
        self._inbound_nodes = []     # symbolic calls (Functional graphs)
        self.activity_regularizer = activity_regularizer
        # Keras lets the first layer declare the model's input: input_shape=(28, 28, 1) or input_dim=10
        batch_shape = kwargs.get("batch_input_shape")
        if batch_shape is None and kwargs.get("input_shape") is not None:
            batch_shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        if batch_shape is None and kwargs.get("input_dim") is not None:
            batch_shape = (kwargs.get("batch_size"), kwargs["input_dim"])
        if batch_shape is not None:
            batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
            if any(d is not None and d <= 0 for d in batch_shape):
                raise ValueError(f"Layer '{self.name}': every axis of the input shape must be positive, received "
                                 f"input shape {shape_str(batch_shape[1:])} (batch shape {shape_str(batch_shape)})")
        self._batch_input_shape = batch_shape

    def __getattr__(self, name):  # only reached when an attribute is missing
        if "_trainable" not in self.__dict__ and not name.startswith("__"):
            raise RuntimeError(f"In layer '{type(self).__name__}', you forgot to call `super().__init__()` as the "
                               "first statement in the `__init__()` method.")
        descriptor = getattr(type(self), name, None)
        if isinstance(descriptor, property):  # a property raised AttributeError: let its own message through
            return descriptor.fget(self)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ---- sublayers: tracked when assigned as attributes ---------------------------------------
    def __setattr__(self, name, value):
        if isinstance(value, Layer) or (isinstance(value, (list, tuple, dict)) and value and
                                        any(isinstance(v, Layer) for v in tree.flatten(value))):
            attrs = self.__dict__.setdefault("_layer_attributes", [])
            if name not in attrs:
                attrs.append(name)
            _state.structure_changed()
        object.__setattr__(self, name, value)

    def _tracked_layers(self):
        """The direct sublayers, in the order their attributes were first set (Keras' order)."""
        found, seen = [], set()
        for attr in self.__dict__.get("_layer_attributes", ()):
            for value in tree.flatten(self.__dict__.get(attr)):
                if isinstance(value, Layer) and id(value) not in seen and value is not self:
                    seen.add(id(value))
                    found.append(value)
        return found

    def _flatten_layers(self, include_self=True):
        """This layer (optionally) and every layer nested in it, depth first, each once."""
        out, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            if layer is not self or include_self:
                out.append(layer)
            stack.extend(reversed(layer._tracked_layers()))
        return out

    # ---- configuration --------------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if type(self).get_config is Layer.get_config and type(self).__init__ is not Layer.__init__:
            auto = self.__dict__.get("_init_config")
            if auto is None:
                raise NotImplementedError(
                    f"Layer {type(self).__name__} was created with constructor arguments that are not plain values "
                    "(str, int, float, bool, None or lists of them), so it must define get_config() to be saved: "
                    "return {**super().get_config(), 'arg': self.arg, ...}")
            config.update(auto)
            if not accepts_name(type(self)):
                for key in ("name", "trainable", "dtype"):
                    config.pop(key, None)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        return None if self._build_input_shape is None else {"input_shape": self._build_input_shape}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None and not self.built:
            self.build(as_shape_structure(config["input_shape"]))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def _describe(self):
        """How error messages name this layer."""
        return f"Layer '{self.name}'"

    # ---- weights --------------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, autocast=True, aggregation="none", overwrite_with_gradient=False):
        """Create a weight Tensor and track it (Keras' add_weight: shape, initializer, dtype, ... in its order).

        ``initializer`` defaults to glorot_uniform for a float weight; ``regularizer`` adds a penalty
        to ``losses``; ``constraint`` (a callable w -> w') is applied after each optimizer step.
        """
        if isinstance(shape, str):
            raise ValueError(f"Layer '{self.name}': add_weight's first argument is the shape; pass the name by "
                             f"keyword: add_weight(shape=..., name={shape!r})")
        if overwrite_with_gradient:
            raise NotImplementedError(f"Layer '{self.name}': add_weight(overwrite_with_gradient=True) is not supported")
        try:
            constraint = constraints.get(constraint)
        except (TypeError, ValueError) as error:
            raise type(error)(f"Layer '{self.name}': {error}") from None
        try:
            shape = () if shape is None else tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ValueError(f"Layer '{self.name}': add_weight needs a fully known shape, received shape={shape!r}") \
                from None
        dtype = np.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        name = "variable" if name is None else str(name)
        if _state.local.skip_initializers:
            values = np.zeros(shape, dtype=dtype)
        else:
            values = np.asarray(initializers.get(initializer)(shape, dtype=dtype.name), dtype=dtype)
        if values.shape != shape:
            raise ValueError(f"Layer '{self.name}': initializer for weight '{name}' returned shape "
                             f"{values.shape}, expected {shape}")
        if not values.flags.c_contiguous:  # (not np.ascontiguousarray: it turns a scalar weight into 1-D)
            values = values.copy(order="C")
        scope = _state.local.name_scope
        path = scoped_path(name) if scope and scope[-1] == self.name else scoped_path(f"{self.name}/{name}")
        weight = Variable._wrap(values, bool(trainable) and self._trainable, name, path)
        self._weight_records.append(WeightRecord(name, weight, bool(trainable), regularizers.get(regularizer),
                                                 constraint))
        _state.structure_changed()
        return weight

    def add_variable(self, shape, initializer, dtype=None, trainable=True, autocast=True, regularizer=None,
                     constraint=None, name=None):
        """Keras' alias of add_weight (its positional order: shape, initializer)."""
        return self.add_weight(shape, initializer, dtype, trainable, regularizer, constraint, name)

    def named_weights(self):
        """(owner, name, Tensor) for every weight in Keras' order: this layer's own (trainable ones first, owner
        self), then each sublayer's (owner the sublayer, the name relative to it: 'dense/kernel' deeper down)."""
        own = ([(self, r.name, r.tensor) for r in self._weight_records if r.trainable]
               + [(self, r.name, r.tensor) for r in self._weight_records if not r.trainable])
        seen = {id(t) for _, _, t in own}
        for layer in self._tracked_layers():
            for owner, name, tensor in layer.named_weights():
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    own.append((layer, name if owner is layer else f"{owner.name}/{name}", tensor))
        return own

    def _weight_entries(self):
        """(name, Tensor) pairs in weight order; a sublayer's weights are named 'sublayer/weight'."""
        return [(name if owner is self else f"{owner.name}/{name}", t) for owner, name, t in self.named_weights()]

    @property
    def weights(self):
        """All weights in Keras' order: this layer's (trainable ones first), then each sublayer's."""
        return [t for _, t in self._weight_entries()]

    @property
    def weight_names(self):
        return [n for n, _ in self._weight_entries()]

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w for w in self.weights if not w.requires_grad]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freeze (False) or unfreeze this layer and every layer inside it, as Keras 3 does."""
        value = bool(value)
        self._trainable = value
        for record in self._weight_records:  # frozen weights record no gradient
            record.tensor.requires_grad = record.trainable and value and record.tensor.dtype.kind == "f"
        for layer in self._tracked_layers():
            layer.trainable = value
        _state.structure_changed()

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                             "You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights (Keras' order and layouts), after checking every one."""
        arrays = self._checked_weights(weights)
        for target, value in zip(self.weights, arrays):  # in place: optimizers keep their references
            target.data[...] = value

    def _checked_weights(self, weights):
        entries = self.named_weights()
        weights = list(weights)
        if len(weights) != len(entries):
            raise ValueError(f"{self._describe()}: set_weights expected a list of {len(entries)} "
                             f"arrays ({', '.join(self.weight_names) or 'no weights'}), received {len(weights)}")
        arrays = []
        for (owner, wname, target), value in zip(entries, weights):
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"Layer '{owner.name}': weight '{wname}' needs a numeric array, "
                                f"received dtype {value.dtype}")
            if value.shape != target.shape:
                raise ValueError(f"Layer '{owner.name}': weight '{wname}' has shape {target.shape}, "
                                 f"received an array of shape {value.shape}")
            arrays.append(value)
        return arrays

    # ---- losses ---------------------------------------------------------------------------------
    @property
    def activity_regularizer(self):
        return self.__dict__.get("_activity_regularizer")

    @activity_regularizer.setter
    def activity_regularizer(self, value):
        value = regularizers.get(value)
        self.__dict__["_activity_regularizer"] = value
        if value is not None:
            self.__dict__["_fast_call"] = False  # the penalty is added in __call__
        else:
            self.__dict__.pop("_fast_call", None)
        _state.structure_changed()

    def add_loss(self, loss):
        """Add a scalar (or list of scalars) to the loss of this call, as Keras' add_loss inside call()."""
        if _state.local.inferring_shapes:
            return
        for value in tree.flatten(loss):
            if not isinstance(value, Tensor):
                value = Tensor(np.asarray(value, dtype=self.dtype))
            self._losses.append(value)

    def _clear_losses(self):
        for layer in self._flatten_layers():
            layer._losses.clear()

    def regularization_losses(self):
        """The weight penalties of the trainable weights, this layer's and its sublayers'."""
        regularizer_of = {id(r.tensor): r.regularizer for layer in self._flatten_layers()
                          for r in layer._weight_records if r.regularizer is not None}
        if not regularizer_of:
            return []
        return [regularizer_of[id(w)](w) for w in self.trainable_weights if id(w) in regularizer_of]

    @property
    def losses(self):
        """Keras' layer.losses: add_loss values and activity penalties of the last call (this layer's and its
        sublayers'), then the weight penalties, as scalar Tensors."""
        return [x for layer in self._flatten_layers() for x in layer._losses] + self.regularization_losses()

    # ---- the symbolic calls ----------------------------------------------------------------------
    @property
    def output(self):
        """The symbolic output of this layer's first call on symbolic tensors (an ``Input``, or a Sequential model's
        build): one KerasTensor, or the structure the layer returned."""
        return self._first_node("output_structure", "output")

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on symbolic tensors."""
        inputs = self._first_node("input_tensors", "input")
        return inputs[0] if isinstance(inputs, list) and len(inputs) == 1 else inputs

    def _first_node(self, attribute, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        return getattr(self._inbound_nodes[0], attribute)

    # ---- shapes ---------------------------------------------------------------------------------
    @_mark_built
    def build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        """Output shape(s) for ``input_shape``; unless a layer says, found by running it on zeros."""
        specs = infer_output_specs(self, (placeholders(as_shape_structure(input_shape), self.dtype),), {})
        return tree.map_structure(lambda t: t.shape, specs) if tree.is_nested(specs) else specs.shape

    def check_input_shape(self, shape):
        """Raise the Keras-style ValueError when ``shape`` cannot feed this layer (override)."""

    def _incompatible(self, message, shape):
        raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: {message}, "
                         f"but received input with shape {shape_str(shape)}")

    def _require_ndim(self, shape, ndim):
        if len(shape) != ndim:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                             f"ndim={ndim}, found ndim={len(shape)}. Full shape received: {shape_str(shape)}")

    def _require_min_ndim(self, shape, ndim):
        if len(shape) < ndim:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                             f"min_ndim={ndim}, found ndim={len(shape)}. Full shape received: {shape_str(shape)}")

    def _require_axis(self, shape, axis, value):
        if shape[axis] is not None and shape[axis] != value:
            self._incompatible(f"expected axis {axis} of input shape to have value {value}", shape)

    def _ensure_built(self, input_shape):
        """Check ``input_shape`` (a shape, or a structure of shapes) and build on first use."""
        if self.built and type(input_shape) is tuple:  # the per-batch case: a built layer, one tensor's shape
            self.check_input_shape(input_shape)
            return
        input_shape = as_shape_structure(input_shape)
        single = is_shape(input_shape)
        if single:
            self.check_input_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            if single:
                self.check_input_shape(input_shape)  # the checks that need the weights' shapes

    # ---- calling ---------------------------------------------------------------------------------
    def __call__(self, *args, training=None, mask=None, **kwargs):
        if not args:
            raise TypeError(f"Layer '{self.name}': call it on its inputs, layer(inputs)")
        if is_symbolic([list(args), kwargs]):
            return symbolic_call(self, args, kwargs, training, mask, Layer.compute_output_shape)
        first = args[0]
        if type(first) is not Tensor or len(args) > 1 or (
                first.data.dtype != self.dtype and not first.requires_grad and first.data.dtype.kind == "f"):
            args = tuple(self._as_input(a) for a in args)
            first = args[0]
        first_call = not self.built
        self._ensure_built(first.shape if isinstance(first, Tensor) else tree.map_structure(shape_of, first))
        state = _state.local
        signature = self._call_signature
        if state.call_depth == 0:
            self._clear_losses()  # a top-level call starts this layer's losses afresh (Keras)
        if training is None:
            training = state.call_training if state.call_depth else None
            if training is None:
                training = signature.training_default or False
        if signature.takes_training:
            kwargs["training"] = training
        previous_mask = masks_of(first)  # the input's mask (layers/mask_propagation.py)
        if mask is not None:
            if not signature.takes_mask:
                raise TypeError(f"Layer '{self.name}' ({type(self).__name__}): its call() takes no `mask` argument")
            kwargs["mask"] = mask
        elif previous_mask is not None and signature.takes_mask and len(args) == 1 and \
                not any(holds_tensor(v) for v in kwargs.values()):
            kwargs["mask"] = previous_mask
        previous = state.call_training
        state.call_depth += 1
        state.call_training = training
        if first_call:  # sublayers built during this call get weight paths under this layer's name
            state.name_scope.append(self.name)
        try:
            if state.anomaly_hook is not None:  # detect_anomaly() reports ops with their layer
                with debug.layer_scope(self.name):
                    outputs = self.call(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
        finally:
            state.call_depth -= 1
            state.call_training = previous
            if first_call:
                state.name_scope.pop()
        if previous_mask is not None or type(self).compute_mask is not Layer.compute_mask:
            if self.supports_masking:
                attach_output_masks(self, first, outputs, previous_mask)
            elif previous_mask is not None:
                warn_mask_dropped(self)
        regularizer = self.activity_regularizer
        if regularizer is not None:
            for output in tree.flatten(outputs):
                if isinstance(output, Tensor):
                    penalty = regularizer(output)  # per sample, as Keras 3 divides by the batch size
                    self.add_loss(penalty / float(output.shape[0]) if output.ndim else penalty)
        return outputs

    # ---- masks (Keras' supports_masking / compute_mask; layers/mask_propagation.py) ----------------
    @property
    def supports_masking(self):
        """Whether this layer passes on (or computes) a mask; by default, whether it defines compute_mask."""
        value = self._supports_masking
        return type(self).compute_mask is not Layer.compute_mask if value is None else value

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of this layer's output: by default the input's, passed on unchanged."""
        return previous_mask

    def _as_input(self, value):
        """An input leaf as a Tensor of this layer's dtype (arrays and lists; Tensors of other float dtypes
        without a graph are cast); structures keep their shape."""
        if isinstance(value, Tensor):
            if not value.requires_grad and value.data.dtype != self.dtype and value.data.dtype.kind == "f":
                cast = Tensor._make(value.data.astype(self.dtype), False, None)
                cast._keras_mask = value._keras_mask
                return cast
            return value
        if isinstance(value, (list, tuple, dict)) and any(isinstance(v, (Tensor, np.ndarray)) for v in tree.flatten(value)):
            return tree.map_structure(self._as_input, value)
        if value is None or isinstance(value, (bool, str)):
            return value
        arr = np.asarray(value)
        if arr.dtype.kind in "fiub" and arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        return Tensor(np.ascontiguousarray(arr))

    def call(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"Layer {type(self).__name__} has no call(); define call(self, inputs)")

    # ---- used by built-in layers ------------------------------------------------------------------
    # The model fuses a final softmax (sigmoid) into the crossentropy, computed stably from
    # the logits; these two tell it where the final activation is and how to skip it.
    def output_activation_name(self):
        """Name of the activation applied last by this layer ('softmax', 'sigmoid', ...) or None."""
        activation = getattr(self, "activation", None)
        if activation is None or not self._fast_call:
            return None
        try:
            return activations.serialize(activation)
        except (ValueError, TypeError, KeyError):
            return None

    def call_logits(self, x, training=False):
        """This layer's output before its final activation (the logits)."""
        raise NotImplementedError(f"{type(self).__name__} has no separable activation")


Layer._call_signature = CallSignature.of(Layer.call)


def keeps_shape(layer, input_shape):
    """compute_output_shape for a layer whose output has its input's shape (activations, dropout, ...)."""
    return tuple(input_shape)
