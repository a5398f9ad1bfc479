"""Layer: the base of every Keras-style layer.

Keras' rule, kept here: ``__init__`` stores configuration only, ``build(input_shape)``
creates the weights once the input shape is known, ``call(x, training)`` computes, and
``get_config``/``from_config`` round-trip the configuration through plain JSON values.
"""
import numpy as np

from ..tensor import Tensor
from .. import _state, activations, debug, initializers, regularizers
from .._registry import snake_case as to_snake_case
from .._state import unique_name, reset_names as reset_uids  # noqa: F401  (re-exported)

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


def normalize_tuple(value, n, arg_name, layer_name, allow_zero=False):
    """An int or a sequence of n ints -> a tuple of n positive ints (ValueError otherwise)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(f"Layer '{layer_name}': `{arg_name}` must be an int or a tuple of {n} ints, "
                            f"received {arg_name}={value!r}") from None
        if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"Layer '{layer_name}': `{arg_name}` must be an int or a tuple of {n} ints, "
                             f"received {arg_name}={value!r}")
        values = tuple(int(v) for v in values)
    smallest = 0 if allow_zero else 1
    if any(v < smallest for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"Layer '{layer_name}': `{arg_name}` must contain only {kind} integers, "
                         f"received {arg_name}={value!r}")
    return values


def positive_int(value, arg_name, layer_name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer() and value > 0:
            return int(value)
        raise ValueError(f"Layer '{layer_name}': received an invalid value for `{arg_name}`, expected a "
                         f"positive integer, received {arg_name}={value!r}")
    if value <= 0:
        raise ValueError(f"Layer '{layer_name}': received an invalid value for `{arg_name}`, expected a "
                         f"positive integer, received {arg_name}={value}")
    return int(value)


def shape_str(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _mark_built(build):
    """Wrap a subclass's build so that calling it directly also marks the layer built (as Keras)."""
    def wrapper(self, input_shape):
        if self.built:  # weights exist already: building again would silently replace them
            return
        build(self, tuple(input_shape))
        self._build_input_shape = tuple(input_shape)
        self.built = True
    wrapper.__name__, wrapper.__doc__ = build.__name__, build.__doc__
    wrapper._marks_built = True
    return wrapper


class Layer:
    """Base layer: names, weights, the build-on-first-call rule and input checking."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            cls.build = _mark_built(build)

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        unknown = [k for k in kwargs if k not in _ALLOWED_BASE_KWARGS]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword argument(s) {unknown}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: `name` must be a non-empty string without '/', received {name!r}")
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype if dtype is not None else "float32").name
        if self.dtype not in ("float32", "float64"):  # what the kernels compute in; inputs are converted to it
            raise ValueError(f"Layer '{self.name}': dtype must be float32 or float64, received dtype={dtype!r}"
                             + (" (float16 inputs are fine: they are converted to the layer's dtype)"
                                if self.dtype == "float16" else ""))
        self._trainable = bool(trainable)
        self.built = False
        self._weight_records = []  # (name, Tensor, declared_trainable, regularizer)
        self._build_input_shape = None
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

    # ---- configuration --------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # ---- weights --------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="zeros", regularizer=None, trainable=True, dtype=None):
        """Create a weight Tensor from an initializer and register it (Keras' add_weight)."""
        shape = tuple(int(d) for d in shape)
        dtype = np.dtype(dtype or self.dtype)
        if _state.local.skip_initializers:
            values = np.zeros(shape, dtype=dtype)
        else:
            values = np.asarray(initializers.get(initializer)(shape, dtype=dtype.name), dtype=dtype)
        if values.shape != shape:
            raise ValueError(f"Layer '{self.name}': initializer for weight '{name}' returned shape "
                             f"{values.shape}, expected {shape}")
        weight = Tensor(np.ascontiguousarray(values), requires_grad=trainable and self._trainable)
        self._weight_records.append((name, weight, bool(trainable), regularizers.get(regularizer)))
        return weight

    @property
    def weights(self):
        """All weights in Keras' order: the trainable ones first, then the rest."""
        return ([w for _, w, t, _ in self._weight_records if t]
                + [w for _, w, t, _ in self._weight_records if not t])

    @property
    def weight_names(self):
        return ([n for n, _, t, _ in self._weight_records if t]
                + [n for n, _, t, _ in self._weight_records if not t])

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [w for _, w, t, _ in self._weight_records if t]

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [w for _, w, t, _ in self._weight_records if not t]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for _, w, declared, _ in self._weight_records:  # frozen weights record no gradient
            w.requires_grad = declared and self._trainable

    @property
    def losses(self):
        """Regularization penalties of this layer's weights, as scalar Tensors (Keras' layer.losses)."""
        return [reg(w) for _, w, _, reg in self._weight_records if reg is not None]

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights (Keras' order and layouts), after checking every one."""
        arrays = self._checked_weights(weights)
        for target, value in zip(self.weights, arrays):  # in place: optimizers keep their references
            target.data[...] = value

    def _checked_weights(self, weights):
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"Layer '{self.name}': set_weights expected a list of {len(own)} arrays "
                             f"({', '.join(self.weight_names) or 'no weights'}), received {len(weights)}")
        arrays = []
        for wname, target, value in zip(self.weight_names, own, weights):
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.dtype.kind not in "fiub":
                raise TypeError(f"Layer '{self.name}': weight '{wname}' needs a numeric array, "
                                f"received dtype {value.dtype}")
            if value.shape != target.shape:
                raise ValueError(f"Layer '{self.name}': weight '{wname}' has shape {target.shape}, "
                                 f"received an array of shape {value.shape}")
            arrays.append(value)
        return arrays

    # ---- shapes ---------------------------------------------------------------------
    @_mark_built
    def build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

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
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            self.check_input_shape(input_shape)  # the checks that need the weights' shapes

    # ---- computing ------------------------------------------------------------------
    def __call__(self, x, training=False):
        if not isinstance(x, Tensor):
            arr = np.asarray(x)
            if arr.dtype != self.dtype:
                arr = arr.astype(self.dtype)
            x = Tensor(np.ascontiguousarray(arr))
        elif not x.requires_grad and x.data.dtype != self.dtype:
            x = Tensor._make(x.data.astype(self.dtype), False, None)
        self._ensure_built(x.shape)
        if _state.local.anomaly_hook is not None:  # detect_anomaly() reports ops with their layer
            with debug.layer_scope(self.name):
                return self.call(x, training=training)
        return self.call(x, training=training)

    def _set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                            kernel_regularizer, bias_regularizer, activity_regularizer,
                            kernel_constraint, bias_constraint):
        """The constructor options Dense and the convolutions share, resolved by Keras' names."""
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        if activity_regularizer is not None or kernel_constraint is not None or bias_constraint is not None:
            raise NotImplementedError(f"{type(self).__name__} '{self.name}': activity_regularizer and "
                                      "constraints are not supported")
        self.kernel = self.bias = None

    def _fused_activation_name(self, fusable):
        """Name of self.activation when a fused op computes it (a name in ``fusable``), else None.

        Cached per activation function; a custom callable that merely shares a built-in's
        name is not fused.
        """
        activation = self.activation
        cached = self.__dict__.get("_fused_for")
        if cached is not None and cached[0] is activation:
            return cached[1]
        name = activations.fused_name(activation, fusable)
        self._fused_for = (activation, name)
        return name

    def call(self, x, training=False):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.call")

    # The model fuses a final softmax (sigmoid) into the crossentropy, computed stably from
    # the logits; these two tell it where the final activation is and how to skip it.
    def output_activation_name(self):
        """Name of the activation applied last by this layer ('softmax', 'sigmoid', ...) or None."""
        activation = getattr(self, "activation", None)
        if activation is None:
            return None
        try:
            return activations.serialize(activation)
        except (ValueError, TypeError, KeyError):
            return None

    def call_logits(self, x, training=False):
        """This layer's output before its final activation (the logits)."""
        raise NotImplementedError(f"{type(self).__name__} has no separable activation")
