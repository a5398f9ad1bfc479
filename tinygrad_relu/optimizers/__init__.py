"""Optimizers with Keras 3's defaults and update equations.

``opt.apply_gradients(params)`` takes the parameter Tensors whose ``.grad`` backward has
filled, and updates each ``param.data`` in place. One update, in Keras' order:

1. clip the gradients (clipnorm per tensor, global_clipnorm over all, or clipvalue);
2. weight decay, if set: w -= w * weight_decay * lr (decoupled, as AdamW);
3. the optimizer's own step (below), at learning rate ``lr`` = the schedule at ``iterations``;
4. ``iterations += 1``.

State (momenta, second moments) is created lazily per parameter, in the order parameters are
first seen, and saved with ``get_state()`` / restored with ``set_state()``.

Two paths compute the same update:
* the fused path (``opt.fused = True``, the default): one Cython kernel per parameter
  (cysrc/optim.pyx) reads the weight, its gradient and its slots once and writes them once,
  with clipping and weight decay folded in. Bit-identical to the numpy path (the same float
  operations in the same order); it declines arrays it cannot take (non-contiguous, mixed
  dtypes), which then take the numpy path;
* the numpy path (``opt.fused = False``): in-place ufuncs on a per-parameter scratch buffer,
  the readable reference the fused kernels are tested against.
"""
import math
import numbers

import numpy as np

from .._kernels import optim as _kernels
from .._registry import cannot_interpret, check_serialized, find_class, from_serialized, unknown_name
from .._registry import serialize  # noqa: F401  (public: optimizers.serialize)
from . import schedules
from .schedules import LearningRateSchedule

# Keras-only settings that from_config accepts when they hold their (inactive) defaults.
_INACTIVE_KERAS_SETTINGS = {"use_ema": False, "ema_momentum": None, "ema_overwrite_frequency": None,
                            "loss_scale_factor": None, "gradient_accumulation_steps": None}


def _check_learning_rate(learning_rate, who):
    if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"{who}: learning_rate must be a number, a LearningRateSchedule or a callable, "
                        f"received {learning_rate!r} of type {type(learning_rate).__name__}")
    learning_rate = float(learning_rate)
    if not learning_rate >= 0:
        raise ValueError(f"{who}: learning_rate must be a non-negative number, received {learning_rate}")
    return learning_rate


def _optional_positive(value, name, who):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{who}: {name} must be a positive number or None, received {name}={value!r}")
    return float(value)


class Optimizer:
    """Base class. Subclasses list their per-parameter state in ``_slot_specs`` and define ``_update``."""

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        who = type(self).__name__
        self.name = name
        self._learning_rate = _check_learning_rate(learning_rate, who)
        if weight_decay is not None and (isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real)
                                         or weight_decay < 0):
            raise ValueError(f"{who}: weight_decay must be a non-negative number or None, received {weight_decay!r}")
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.clipnorm = _optional_positive(clipnorm, "clipnorm", who)
        self.clipvalue = _optional_positive(clipvalue, "clipvalue", who)
        self.global_clipnorm = _optional_positive(global_clipnorm, "global_clipnorm", who)
        if sum(c is not None for c in (self.clipnorm, self.clipvalue, self.global_clipnorm)) > 1:
            raise ValueError(f"{who}: only one of clipnorm, clipvalue and global_clipnorm can be set, received "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.iterations = 0
        self._variables = []      # parameters in the order first seen
        self._index = {}          # id(parameter) -> position in _variables
        self._slots = {name: [] for name, _ in self._slot_specs()}
        self._scratch = []        # one work buffer per parameter for the numpy path (not state), made on first use
        self._kernel_rows = []    # per parameter: its slot arrays in the fused kernel's argument order
        self._pending_slots = None  # slot arrays from set_state before the parameters were known
        self._no_decay = set()

    # ---- what a subclass defines -------------------------------------------------------
    def _slot_specs(self):
        """[(slot name, initial value)] for the state this optimizer keeps per parameter."""
        return []

    def _update(self, grad, var, lr, i, buf):  # pragma: no cover - abstract
        raise NotImplementedError

    # The fused path: the kernel in tinygrad_relu._kernels.optim, called as
    # kernel(var, grad, *slots, scale, lo, hi, decay_lr, decayed, *_kernel_args(lr)).
    _kernel = None

    def _kernel_slots(self):
        """Slot names in the kernel's argument order; None where the kernel takes an absent slot."""
        return ()

    def _kernel_args(self, lr):
        """The kernel's trailing arguments for this update (constants of the step)."""
        return ()

    fused = True  # False: run the numpy reference path

    # ---- the learning rate ---------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate for the next update: a float (the schedule evaluated at ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, LearningRateSchedule) and not callable(value):
            raise TypeError(f"{type(self).__name__}: this optimizer was created with a LearningRateSchedule, "
                            "so its learning rate cannot be set to a number; create it with a float "
                            "learning_rate to make the learning rate settable")
        self._learning_rate = _check_learning_rate(value, type(self).__name__)

    # ---- state ------------------------------------------------------------------------------
    @property
    def built(self):
        return bool(self._variables)

    def build(self, var_list):
        """Create the state for parameters not seen yet, in the order given."""
        for p in var_list:
            if id(p) in self._index:
                continue
            data = p.data
            if data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize floating point parameters, "
                                f"received one of dtype {data.dtype} and shape {data.shape}")
            self._index[id(p)] = len(self._variables)
            self._variables.append(p)
            for name, initial in self._slot_specs():
                self._slots[name].append(np.full(data.shape, initial, dtype=data.dtype))
            self._scratch.append(None)
            i = len(self._variables) - 1
            self._kernel_rows.append(tuple(None if name is None else self._slots[name][i]
                                           for name in self._kernel_slots()))
        if self._pending_slots is not None and self._variables:
            pending, self._pending_slots = self._pending_slots, None
            self._assign_slots(pending)

    def exclude_from_weight_decay(self, var_list=None):
        """Parameters (e.g. biases) that weight decay must leave alone."""
        self._no_decay = {id(p) for p in (var_list or [])}

    def get_state(self):
        """[iterations, learning_rate (when a plain number), then each slot for every parameter].

        The order is Keras': slot kind by slot kind, parameters in the order first seen.
        """
        state = [np.array(self.iterations, dtype=np.int64)]
        if not callable(self._learning_rate):
            state.append(np.array(self._learning_rate, dtype=np.float64))
        for name, _ in self._slot_specs():
            state.extend(a.copy() for a in self._slots[name])
        return state

    def set_state(self, state):
        """Restore ``get_state()``'s list. Slots wait for the first update if no parameter was seen yet."""
        who = type(self).__name__
        state = list(state)
        head = 1 if callable(self._learning_rate) else 2
        if len(state) < head:
            raise ValueError(f"{who}.set_state: expected at least {head} arrays (iterations"
                             f"{', learning_rate' if head == 2 else ''}), received {len(state)}")
        iterations = np.asarray(state[0])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or int(iterations) < 0:
            raise ValueError(f"{who}.set_state: the first array must be the iteration count (a non-negative "
                             f"integer scalar), received shape {iterations.shape} and dtype {iterations.dtype}")
        if head == 2:
            lr = np.asarray(state[1])
            if lr.shape != () or lr.dtype.kind != "f":
                raise ValueError(f"{who}.set_state: the second array must be the learning rate (a float scalar), "
                                 f"received shape {lr.shape} and dtype {lr.dtype}")
        slots = state[head:]
        n_kinds = len(self._slot_specs())
        if n_kinds == 0 and slots:
            raise ValueError(f"{who}.set_state: this optimizer keeps no per-parameter state, "
                             f"but {len(slots)} extra arrays were given")
        if n_kinds and len(slots) % n_kinds:
            raise ValueError(f"{who}.set_state: {len(slots)} slot arrays is not a multiple of the "
                             f"{n_kinds} slot kinds {[n for n, _ in self._slot_specs()]}")
        if self._variables or not slots:
            self._assign_slots(slots)
        else:
            self._pending_slots = [np.array(a) for a in slots]
        self.iterations = int(iterations)
        if head == 2:
            self._learning_rate = float(lr)

    def _assign_slots(self, slots):
        who = type(self).__name__
        specs = self._slot_specs()
        n = len(self._variables)
        if len(slots) != n * len(specs):
            raise ValueError(f"{who}.set_state: received {len(slots)} slot arrays but the optimizer tracks "
                             f"{n} parameters x {len(specs)} slot kinds = {n * len(specs)}")
        k = 0
        for name, _ in specs:
            for i in range(n):
                target, value = self._slots[name][i], np.asarray(slots[k])
                if value.shape != target.shape:
                    raise ValueError(f"{who}.set_state: slot '{name}' of parameter {i} has shape {target.shape}, "
                                     f"received an array of shape {value.shape}")
                target[...] = value
                k += 1

    # ---- one update --------------------------------------------------------------------------
    def apply_gradients(self, params):
        """Update every parameter whose ``.grad`` is set, in place. Also accepts Keras' (grad, param) pairs."""
        if type(params) is not list:
            params = list(params)
        if not params:
            return self.iterations
        if isinstance(params[0], tuple):
            pairs = [(None if g is None else np.asarray(getattr(g, "data", g)), p) for g, p in params]
            variables = [p for g, p in pairs if g is not None]
            grads = [g for g, _ in pairs if g is not None]
        else:
            variables = [p for p in params if p.grad is not None]
            grads = [p.grad for p in variables]
        if not variables:
            raise ValueError(f"{type(self).__name__}: no gradients provided for any of the {len(params)} parameters "
                             "(did backward run, and do the parameters require grad?)")
        index = self._index
        positions = [index.get(id(p)) for p in variables]
        if None in positions:
            self.build(variables)
            positions = [index[id(p)] for p in variables]
        if self.fused and self._kernel is not None:  # a subclass without a kernel runs the numpy path
            self._apply_fused(grads, variables, positions)
        else:
            self._apply_numpy(grads, variables, positions)
        self.iterations += 1
        return self.iterations

    def _apply_numpy(self, grads, variables, positions):
        """The reference: clip every gradient, then decay and update each parameter with numpy ufuncs."""
        grads = self._clip_gradients(grads)
        lr = self.learning_rate
        for g, p, i in zip(grads, variables, positions):
            self._update_numpy(g, p, i, lr)

    def _update_numpy(self, g, p, i, lr):
        var = p.data
        if g.shape != var.shape:
            raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} does not match its parameter "
                             f"of shape {var.shape}")
        if g.dtype != var.dtype:
            g = g.astype(var.dtype)
        buf = self._scratch[i]
        if buf is None or buf.shape != var.shape or buf.dtype != var.dtype:
            buf = self._scratch[i] = np.empty_like(var)
        decay = self.weight_decay
        if decay and id(p) not in self._no_decay:
            np.multiply(var, decay * lr, out=buf)
            var -= buf
        self._update(g, var, lr, i, buf)

    def _apply_fused(self, grads, variables, positions):
        """One kernel call per parameter; a parameter the kernel declines takes the numpy path."""
        scales, lo, hi = self._clip_factors(grads)
        lr = self.learning_rate
        decay = self.weight_decay
        decay_lr = decay * lr if decay else 0.0
        no_decay = self._no_decay
        kernel, rows, args = self._kernel, self._kernel_rows, self._kernel_args(lr)
        for g, p, i, scale in zip(grads, variables, positions, scales):
            var = p.data
            if (g.dtype == var.dtype and g.shape == var.shape
                    and kernel(var, g, *rows[i], scale, lo, hi, decay_lr,
                               bool(decay) and id(p) not in no_decay, *args)):
                continue
            # declined (dtype or shape mismatch, non-contiguous, read-only ...): clip as the numpy path does
            if scale != 1.0:
                g = g * scale
            if self.clipvalue is not None:
                g = np.clip(g, lo, hi)
            self._update_numpy(g, p, i, lr)

    def _clip_factors(self, grads):
        """(per-gradient scale, lo, hi): the clipping _clip_gradients does, as factors for the kernels.

        scale is 1.0 where nothing is scaled (an exact identity), NaN for every gradient when the global
        norm is not finite; [lo, hi] is [-clipvalue, clipvalue], or [-inf, inf] (an identity too).
        """
        n = len(grads)
        scales = [1.0] * n
        if self.clipnorm is not None:
            clipnorm = self.clipnorm
            for k, g in enumerate(grads):
                norm = math.sqrt(float(np.vdot(g, g)))
                if norm > clipnorm:
                    scales[k] = clipnorm / norm
        elif self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            if not math.isfinite(norm):
                scales = [math.nan] * n
            elif norm > self.global_clipnorm:
                scales = [self.global_clipnorm / norm] * n
        if self.clipvalue is not None:
            return scales, -self.clipvalue, self.clipvalue
        return scales, -math.inf, math.inf

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = math.sqrt(float(np.vdot(g, g)))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            if not math.isfinite(norm):  # Keras turns every gradient into NaN rather than hide the blow-up
                return [np.full_like(g, np.nan) for g in grads]
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                return [g * scale for g in grads]
            return grads
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # ---- config --------------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = float(lr())
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, default in _INACTIVE_KERAS_SETTINGS.items():
            if key in config:
                value = config.pop(key)
                if value not in (default, None) and not (key == "ema_momentum"):
                    raise ValueError(f"{cls.__name__}.from_config: {key}={value!r} is not supported here")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g} iterations={self.iterations}>"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras' form.

    m = momentum * m - lr * g;  w += m   (nesterov: w += momentum * m - lr * g);
    without momentum: w -= lr * g.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name="SGD"):
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be a float in [0, 1], received momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm)

    def _slot_specs(self):
        return [("momentum", 0.0)] if self.momentum != 0 else []

    _kernel = staticmethod(_kernels.sgd_update)

    def _kernel_slots(self):
        return ("momentum" if self.momentum != 0 else None,)

    def _kernel_args(self, lr):
        return lr, self.momentum, self.nesterov

    def _update(self, g, var, lr, i, buf):
        np.multiply(g, lr, out=buf)  # lr * g
        if self.momentum == 0:
            var -= buf
            return
        m = self._slots["momentum"][i]
        m *= self.momentum
        m -= buf
        if self.nesterov:
            var -= buf
            np.multiply(m, self.momentum, out=buf)
            var += buf
        else:
            var += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam, Keras' form: the bias corrections scale the step, epsilon is added to sqrt(v).

    t = iterations + 1;  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m)(1 - beta_1);  v += (g^2 - v)(1 - beta_2);  (amsgrad: v_hat = max(v_hat, v), used for v)
    w -= alpha * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adam"):
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)
        for label, beta in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{type(self).__name__}: {label} must be in [0, 1), received {label}={beta}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm)

    def _slot_specs(self):
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        return specs + [("velocity_hat", 0.0)] if self.amsgrad else specs

    _kernel = staticmethod(_kernels.adam_update)

    def _kernel_slots(self):
        return "momentum", "velocity", "velocity_hat" if self.amsgrad else None

    def _kernel_args(self, lr):
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        return 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon, alpha

    def _update(self, g, var, lr, i, buf):
        m, v = self._slots["momentum"][i], self._slots["velocity"][i]
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        np.multiply(g, g, out=buf)
        buf -= v
        buf *= 1.0 - self.beta_2
        v += buf
        if self.amsgrad:
            v_hat = self._slots["velocity_hat"][i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= alpha
        var -= buf

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= w * weight_decay * lr before the Adam step)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name="adamw"):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float, received weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, name)


class RMSprop(Optimizer):
    """RMSprop, Keras' form (epsilon inside the square root).

    v = rho v + (1 - rho) g^2;  centered: a = rho a + (1 - rho) g, denominator v - a^2 + eps, else v + eps
    step = lr g / sqrt(denominator);  momentum: mom = momentum mom + step, w -= mom;  else w -= step
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name="rmsprop"):
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)
        if not 0 <= self.rho < 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), received rho={rho}")
        if self.momentum < 0:
            raise ValueError(f"RMSprop: momentum must be non-negative, received momentum={momentum}")
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm)

    def _slot_specs(self):
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return specs

    _kernel = staticmethod(_kernels.rmsprop_update)

    def _kernel_slots(self):
        return ("velocity", "average_gradient" if self.centered else None,
                "momentum" if self.momentum > 0 else None)

    def _kernel_args(self, lr):
        return lr, self.rho, 1.0 - self.rho, self.epsilon, self.momentum

    def _update(self, g, var, lr, i, buf):
        rho = self.rho
        v = self._slots["velocity"][i]
        v *= rho
        np.multiply(g, g, out=buf)
        buf *= 1.0 - rho
        v += buf
        if self.centered:
            a = self._slots["average_gradient"][i]
            a *= rho
            np.multiply(g, 1.0 - rho, out=buf)
            a += buf
            np.multiply(a, a, out=buf)
            np.subtract(v, buf, out=buf)
            buf += self.epsilon
        else:
            np.add(v, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        if self.momentum > 0:
            mom = self._slots["momentum"][i]
            mom *= self.momentum
            mom += buf
            var -= mom
        else:
            var -= buf

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad, Keras' form: acc += g^2;  w -= lr g / sqrt(acc + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="adagrad"):
        if initial_accumulator_value < 0:
            raise ValueError("Adagrad: initial_accumulator_value must be non-negative, "
                             f"received {initial_accumulator_value}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)
        super().__init__(learning_rate, name, weight_decay, clipnorm, clipvalue, global_clipnorm)

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    _kernel = staticmethod(_kernels.adagrad_update)

    def _kernel_slots(self):
        return ("accumulator",)

    def _kernel_args(self, lr):
        return lr, self.epsilon

    def _update(self, g, var, lr, i, buf):
        acc = self._slots["accumulator"][i]
        np.multiply(g, g, out=buf)
        acc += buf
        np.add(acc, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        var -= buf

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


# ---- lookup ------------------------------------------------------------------------------------
_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}
_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def deserialize(config):
    check_serialized(config, "optimizers.deserialize")
    return from_serialized(config, _CLASSES, _NAMES, "Unknown optimizer class {name!r}. Known: {known}",
                           ignore_case=True)


def get(identifier):
    """An optimizer from a Keras name ('adam', 'sgd', 'rmsprop', 'adamw', 'adagrad'), a dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if cls is None:
            raise unknown_name(identifier, _NAMES, "optimizer", "optimizers")
        return cls()
    raise cannot_interpret("optimizers.get", identifier, "an optimizer",
                           f"; give a name ({', '.join(sorted(_NAMES))}) or an Optimizer instance")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get", "serialize",
           "deserialize"]
