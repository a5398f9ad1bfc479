"""Optimizer: the base of every optimizer, with Keras 3's order of operations in one update.

``opt.apply_gradients(params)`` takes the parameter Tensors whose ``.grad`` backward has
filled, and updates each ``param.data`` in place. One update, in Keras' order:

1. clip the gradients (clipnorm per tensor, global_clipnorm over all, or clipvalue);
2. weight decay, if set: w -= w * weight_decay * lr (decoupled, as AdamW);
3. the optimizer's own step (below), at learning rate ``lr`` = the schedule at ``iterations``;
4. with ``use_ema``, the moving average of every weight: average = m average + (1 - m) w, with
   m = ema_momentum (0 on the first step, so it starts at the weights), and every
   ``ema_overwrite_frequency`` steps the weights are set to their averages; ``fit`` ends with
   ``finalize_variable_values``, which sets them to their averages (Keras 3's Polyak averaging);
5. ``iterations += 1``.

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

from ..variables import CounterVariable, Variable
from . import schedules
from .schedules import LearningRateSchedule

REGISTRY = {}  # Keras' lower-case name -> class, filled as the subclasses are defined

# Keras-only settings that from_config accepts when they hold their (inactive) defaults.
_INACTIVE_KERAS_SETTINGS = {"loss_scale_factor": None, "gradient_accumulation_steps": None}


def _check_learning_rate(learning_rate, who):
    if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"{who}: learning_rate must be a number, a LearningRateSchedule or a callable, "
                        f"received {learning_rate!r} of type {type(learning_rate).__name__}")
    learning_rate = float(learning_rate)
    if not 0 <= learning_rate < math.inf:
        raise ValueError(f"{who}: learning_rate must be a finite non-negative number, received {learning_rate}")
    return learning_rate


def _optional_positive(value, name, who):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{who}: {name} must be a positive number or None, received {name}={value!r}")
    return float(value)


def _check_ema(momentum, overwrite_frequency, who):
    """Keras' checks of ema_momentum (in [0, 1]) and ema_overwrite_frequency (an int >= 1 or None)."""
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"{who}: ema_momentum must be in the range [0, 1], received ema_momentum={momentum!r}")
    if overwrite_frequency is not None and (isinstance(overwrite_frequency, bool) or
                                            not isinstance(overwrite_frequency, numbers.Integral)
                                            or overwrite_frequency < 1):
        raise ValueError(f"{who}: ema_overwrite_frequency must be an integer >= 1 or None, received "
                         f"ema_overwrite_frequency={overwrite_frequency!r}")
    return float(momentum), None if overwrite_frequency is None else int(overwrite_frequency)


class Optimizer:
    """Base class. Subclasses list their per-parameter state in ``_slot_specs`` and define ``_update``.

    Every subclass is registered by its class name and by Keras' name for it, the class name in
    lower case ('sgd', 'adam', 'rmsprop'): that is how ``optimizers.get("adam")`` finds it.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__.lower()] = cls

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None):
        who = type(self).__name__
        for key, value in (("loss_scale_factor", loss_scale_factor),
                           ("gradient_accumulation_steps", gradient_accumulation_steps)):
            if value is not None:
                raise NotImplementedError(f"{who}: {key}={value!r} is not supported here (leave it None)")
        self.name = name
        learning_rate = _check_learning_rate(learning_rate, who)
        # a number is held in a Variable (Keras' optimizer.learning_rate), float64 so that the update uses
        # exactly the float given; a schedule or a callable is kept as it is
        self._learning_rate = learning_rate if callable(learning_rate) else Variable(
            np.array(learning_rate, dtype=np.float64), trainable=False, name="learning_rate",
            path=f"{name}/learning_rate")
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
        self.use_ema = bool(use_ema)
        self.ema_momentum, self.ema_overwrite_frequency = _check_ema(ema_momentum, ema_overwrite_frequency, who)
        self._iterations = CounterVariable(path=f"{name}/iteration")
        self._variables = []      # parameters in the order first seen
        self._index = {}          # id(parameter) -> position in _variables
        self._slots = {name: [] for name, _ in self._state_specs()}
        self._scratch = []        # one work buffer per parameter for the numpy path (not state), made on first use
        self._kernel_rows = []    # per parameter: its slot arrays in the fused kernel's argument order
        self._pending_slots = None  # slot arrays from set_state before the parameters were known
        self._no_decay = set()

    # ---- what a subclass defines -------------------------------------------------------
    def _slot_specs(self):
        """[(slot name, initial value)] for the state this optimizer keeps per parameter."""
        return []

    def _state_specs(self):
        """The slots get_state holds: Keras' moving averages first (with use_ema), then the optimizer's own."""
        return ([("average", 0.0)] if self.use_ema else []) + self._slot_specs()

    # Slot kinds Keras creates together, parameter by parameter (Adam: momentum and velocity); it creates
    # every other kind for all parameters in turn. That order is the order of the variables in its files.
    keras_interleaved = ()

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

    # ---- the learning rate and the step count ----------------------------------------------
    @property
    def iterations(self):
        """The number of updates applied: a Variable (``int(opt.iterations)``, ``opt.iterations.numpy()``)."""
        return self._iterations

    @property
    def learning_rate(self):
        """The learning rate: a Variable (``opt.learning_rate.assign(1e-4)``) when it is a number; with a
        schedule, the float it gives at ``iterations`` (read-only, as in Keras)."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            return lr
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        """A number is assigned into the learning-rate Variable (the same object stays in use); a schedule or a
        callable replaces it."""
        value = _check_learning_rate(value.data.item() if isinstance(value, Variable) else value,
                                     type(self).__name__)
        if callable(value):
            self._learning_rate = value
        elif isinstance(self._learning_rate, Variable):
            self._learning_rate.assign(value)
        elif isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(f"{type(self).__name__}: this optimizer was created with a LearningRateSchedule, "
                            "so its learning rate cannot be set to a number; create it with a float "
                            "learning_rate to make the learning rate settable")
        else:
            self._learning_rate = Variable(np.array(value, dtype=np.float64), trainable=False,
                                           name="learning_rate", path=f"{self.name}/learning_rate")

    def _current_learning_rate(self):
        """The learning rate of the next update, a float: the Variable's value, or the schedule at
        ``iterations`` (a callable is called); checked the same way a number given to the constructor is."""
        lr = self._learning_rate
        if isinstance(lr, Variable):
            value = lr.data.item()
            if not 0 <= value < math.inf:  # lr.assign() takes any number: the update must not
                raise ValueError(f"{type(self).__name__}: learning_rate must be a finite non-negative number, "
                                 f"received {value}")
            return value
        if isinstance(lr, LearningRateSchedule):
            return float(lr(int(self._iterations)))
        return float(lr())

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
            for name, initial in self._state_specs():
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

        Slot kind by slot kind (with use_ema the moving averages first, as Keras has them), parameters in
        the order first seen. (Keras 3.15 interleaves the kinds one ``add_optimizer_variables`` call
        creates weight by weight, so its ``optimizer.variables`` come in another order.)
        """
        state = [np.array(int(self._iterations), dtype=np.int64)]
        if not callable(self._learning_rate):
            state.append(np.array(self._learning_rate.data, dtype=np.float64))
        for name, _ in self._state_specs():
            state.extend(a.copy() for a in self._slots[name])
        return state

    def state_layout(self, var_list):
        """[(shape, dtype)] of the arrays ``get_state()`` returns once this optimizer tracks ``var_list``.

        The iteration count, the learning rate when it is a plain number, then each slot kind
        for every parameter: what a saved state must hold, known before reading any of it.
        """
        layout = [((), np.dtype(np.int64))]
        if not callable(self._learning_rate):
            layout.append(((), np.dtype(np.float64)))
        for _ in self._state_specs():
            layout.extend((tuple(p.shape), p.dtype) for p in var_list)
        return layout

    def keras_extra_state(self):
        """Arrays Keras keeps as optimizer variables after the slots that this state derives from the others
        (Nadam's u_prod_t): written into Keras' files, not part of ``get_state()``."""
        return []

    def keras_slot_order(self, n_params):
        """Keras' order of the slot arrays: for each of its optimizer variables after the iteration count and
        learning rate, the position of that array among ``get_state()``'s slots (kind by kind; with use_ema
        Keras makes the moving averages first, in its base build)."""
        names = [name for name, _ in self._state_specs()]
        order, done = [], set()
        for name in names:
            if name in done:
                continue
            group = [g for g in names if g in self.keras_interleaved] if name in self.keras_interleaved else [name]
            done.update(group)
            order += [names.index(g) * n_params + i for i in range(n_params) for g in group]
        return order

    def set_state(self, state):
        """Restore ``get_state()``'s list. Slots wait for the first update if no parameter was seen yet.

        Everything is checked before anything changes.
        """
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
            lr = _check_learning_rate(float(lr), f"{who}.set_state")  # as strict as the constructor
        slots = state[head:]
        n_kinds = len(self._state_specs())
        if n_kinds == 0 and slots:
            raise ValueError(f"{who}.set_state: this optimizer keeps no per-parameter state, "
                             f"but {len(slots)} extra arrays were given")
        if n_kinds and len(slots) % n_kinds:
            raise ValueError(f"{who}.set_state: {len(slots)} slot arrays is not a multiple of the "
                             f"{n_kinds} slot kinds {[n for n, _ in self._state_specs()]}")
        if self._variables or not slots:
            self._assign_slots(slots)
        else:
            self._pending_slots = [np.array(a) for a in slots]
        self._iterations.assign(int(iterations))
        if head == 2:
            self._learning_rate.assign(lr)

    def _assign_slots(self, slots):
        who = type(self).__name__
        specs = self._state_specs()
        n = len(self._variables)
        if len(slots) != n * len(specs):
            raise ValueError(f"{who}.set_state: received {len(slots)} slot arrays but the optimizer tracks "
                             f"{n} parameters x {len(specs)} slot kinds = {n * len(specs)}")
        pairs = [(name, i, self._slots[name][i], np.asarray(slots[k * n + i]))
                 for k, (name, _) in enumerate(specs) for i in range(n)]
        for name, i, target, value in pairs:  # all checked before any is assigned
            if value.shape != target.shape:
                raise ValueError(f"{who}.set_state: slot '{name}' of parameter {i} has shape {target.shape}, "
                                 f"received an array of shape {value.shape}")
        for _, _, target, value in pairs:
            target[...] = value

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
        if self.use_ema:
            self._update_moving_averages()
        self._iterations.data += 1  # (in place: the Variable users hold counts on)
        return self._iterations

    # ---- exponential moving average of the weights (use_ema) -----------------------------------
    def _update_moving_averages(self):
        """average = m average + (1 - m) w for every tracked weight (m = 0 on the first step), in the weight's
        dtype as Keras computes it; every ema_overwrite_frequency steps the weights become their averages."""
        step = int(self._iterations)
        first = step == 0
        for i, (p, average) in enumerate(zip(self._variables, self._slots["average"])):
            var = p.data
            buf = self._scratch[i]
            if buf is None or buf.shape != var.shape or buf.dtype != var.dtype:
                buf = self._scratch[i] = np.empty_like(var)
            momentum = var.dtype.type(0.0 if first else self.ema_momentum)
            average *= momentum
            np.multiply(var, var.dtype.type(1.0) - momentum, out=buf)
            average += buf
        frequency = self.ema_overwrite_frequency
        if frequency and (step + 1) % frequency == 0:
            self.finalize_variable_values([p for p in self._variables])

    def swap_moving_averages(self):
        """With use_ema, exchange every tracked weight's values with its moving average, in place: the model then
        computes with the averages (callbacks.SwapEMAWeights); a second call swaps them back."""
        if not self.use_ema:
            raise ValueError(f"{type(self).__name__}: swapping in the moving averages needs use_ema=True")
        for p, average in zip(self._variables, self._slots["average"]):
            values = p.data.copy()
            p.data[...] = average
            average[...] = values

    def finalize_variable_values(self, var_list):
        """With use_ema, set each weight of ``var_list`` to its moving average (``fit`` calls this at its end, as
        Keras does); otherwise nothing to do."""
        if not self.use_ema:
            return
        var_list = list(var_list)
        positions = [self._index.get(id(p)) for p in var_list]
        if None in positions:
            raise ValueError(f"{type(self).__name__}.finalize_variable_values: {positions.count(None)} of the "
                             f"{len(var_list)} weights were never updated by this optimizer, so it has no moving "
                             "average for them")
        for p, i in zip(var_list, positions):
            p.data[...] = self._slots["average"][i]

    def _apply_numpy(self, grads, variables, positions):
        """The reference: clip every gradient, then decay and update each parameter with numpy ufuncs."""
        grads = self._clip_gradients(grads)
        lr = self._current_learning_rate()
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
        lr = self._current_learning_rate()
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
        else:
            lr = lr.data.item()
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, default in _INACTIVE_KERAS_SETTINGS.items():
            if key in config:
                value = config.pop(key)
                if value not in (default, None):
                    raise ValueError(f"{cls.__name__}.from_config: {key}={value!r} is not supported here")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return (f"<{type(self).__name__} name={self.name!r} learning_rate={self._current_learning_rate():g} "
                f"iterations={int(self._iterations)}>")
