"""Activation ops, and the one table of activations everything else is derived from.

Each kernel-backed activation is a small Function naming its Cython kernels (cysrc/activations.pyx)
and which array its derivative reads: the output ``y`` for the ReLU family, sigmoid and tanh (no
second pass of exp/tanh, and no need to keep ``x``), the input ``x`` for the smooth functions
whose derivative is not a function of ``y`` alone. Arrays are made contiguous once here, so the
kernels only ever see flat float32/float64 loops.

``TABLE`` lists every activation once: its name, the function computing it, Keras' options and
defaults, the Tensor method's (PyTorch's where they differ), and the op Dense and Conv run inside
their own op when the activation is given by name. ``tinygrad_relu.activations`` (Keras' functions),
``functional``, the ``Tensor`` methods, the fused Dense/Conv paths and the command line's choices
are all built from it: adding an activation is its kernels, its Function and one row here.
"""
import inspect
from typing import NamedTuple

import numpy as np

from ..tensor import Function
from .._kernels import activations as K

SELU_ALPHA = K.SELU_ALPHA
SELU_SCALE = K.SELU_SCALE


def _float_contiguous(a):
    """The kernels' input: C-contiguous float32/float64 (integers become float32)."""
    if a.dtype != np.float32 and a.dtype != np.float64:
        a = a.astype(np.float64 if a.dtype.kind == "f" and a.dtype.itemsize > 8 else np.float32)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _grad_like(g, saved):
    """The incoming gradient as a contiguous array of the saved array's dtype."""
    if g.dtype != saved.dtype:
        g = g.astype(saved.dtype)
    return g if g.flags.c_contiguous else np.ascontiguousarray(g)


class KernelActivation(Function):
    """An elementwise activation computed by a forward and a backward kernel.

    ``saves`` names the array the derivative reads ("y": the output, "x": the input); keyword
    settings (a slope, alpha, ...) go to both kernels unchanged.
    """
    forward_kernel = backward_kernel = None
    saves = "y"
    fresh_grads = True  # the backward kernel allocates the gradient it returns

    # The kernels are read from the class: through an instance, a compiled function would be bound
    # like a method and receive the op as its first argument.
    def forward(self, x, **settings):
        x = _float_contiguous(x)
        y = type(self).forward_kernel(x, **settings)
        self.settings = settings
        self.saved = y if self.saves == "y" else x
        return y

    def backward(self, g):
        return type(self).backward_kernel(_grad_like(g, self.saved), self.saved, **self.settings)


# ---- ReLU family: backward reads the saved output ------------------------------------
class ReLU(KernelActivation):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0  (ReLU'(0) = 0)"""
    forward_kernel, backward_kernel = K.relu_forward, K.relu_backward

    # Spelled out (the base class does the same) so the op a learner follows first reads whole.
    def forward(self, x):
        self.y = self.saved = K.relu_forward(_float_contiguous(x))
        self.settings = {}
        return self.y

    def backward(self, g):
        return K.relu_backward(_grad_like(g, self.y), self.y)


class LeakyReLU(KernelActivation):
    """y = x if x > 0 else a*x (a > 0);  dy/dx = 1 if x > 0 else a"""
    forward_kernel, backward_kernel = K.leaky_relu_forward, K.leaky_relu_backward


class ClippedReLU(KernelActivation):
    """y = min(max(x, 0), m);  dy/dx = 1 if 0 < x < m else 0  (relu6: m = 6)"""
    forward_kernel, backward_kernel = K.clipped_relu_forward, K.clipped_relu_backward


class ReLUGeneral(KernelActivation):
    """Keras relu: y = clip(x, 0, m) if x > t else a*(x - t);  dy/dx = 1 inside, a below t, 0 clipped"""
    forward_kernel, backward_kernel = K.relu_general_forward, K.relu_general_backward
    saves = "x"


class HardSigmoid(KernelActivation):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 if -3 < x < 3 else 0"""
    forward_kernel, backward_kernel = K.hard_sigmoid_forward, K.hard_sigmoid_backward
    saves = "x"  # just below 3, y rounds to 1 while the slope is still 1/6


# ---- output-based smooth activations ---------------------------------------------------
class Sigmoid(KernelActivation):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)"""
    forward_kernel, backward_kernel = K.sigmoid_forward, K.sigmoid_backward


class Tanh(KernelActivation):
    """y = tanh(x);  dy/dx = 1 - y^2"""
    forward_kernel, backward_kernel = K.tanh_forward, K.tanh_backward


# ---- input-based smooth activations ------------------------------------------------------
class ELU(KernelActivation):
    """y = s (x if x > 0 else alpha (e^x - 1));  dy/dx = s if x > 0 else s alpha e^x  (selu: fixed s, alpha)"""
    forward_kernel, backward_kernel = K.elu_forward, K.elu_backward
    saves = "x"


class GELU(KernelActivation):
    """y = x Phi(x);  dy/dx = Phi(x) + x phi(x)  (approximate: Phi from the tanh formula)"""
    forward_kernel, backward_kernel = K.gelu_forward, K.gelu_backward
    saves = "x"


class SiLU(KernelActivation):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)"""
    forward_kernel, backward_kernel = K.silu_forward, K.silu_backward
    saves = "x"


class Softplus(KernelActivation):
    """y = log(1 + e^x);  dy/dx = sigmoid(x)"""
    forward_kernel, backward_kernel = K.softplus_forward, K.softplus_backward
    saves = "x"


class Softsign(KernelActivation):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2"""
    forward_kernel, backward_kernel = K.softsign_forward, K.softsign_backward
    saves = "x"


class Mish(KernelActivation):
    """y = x tanh(softplus(x));  dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))"""
    forward_kernel, backward_kernel = K.mish_forward, K.mish_backward
    saves = "x"


# ---- softmax family: row-wise over one axis (the kernels use the last) -----------------------
def _check_axis(fn_name, shape, axis):
    ndim = max(len(shape), 1)
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{fn_name}: axis {axis!r} is out of range for input of shape {shape}")
    return int(axis) % ndim


class _RowWise(Function):
    """Moves ``axis`` to the end (one copy when it is not already last) and back."""
    fn_name = forward_kernel = backward_kernel = None
    fresh_grads = True

    def forward(self, x, axis=-1):
        self.axis = _check_axis(self.fn_name, x.shape, axis)
        self.moved = x.ndim > 1 and self.axis != x.ndim - 1
        if self.moved:
            x = np.moveaxis(x, self.axis, -1)
        self.y = self.forward_kernel(_float_contiguous(x))
        return np.moveaxis(self.y, -1, self.axis) if self.moved else self.y

    def backward(self, g):
        if self.moved:
            g = np.moveaxis(g, self.axis, -1)
        gx = self.backward_kernel(_grad_like(g, self.y), self.y)
        return np.moveaxis(gx, -1, self.axis) if self.moved else gx


class Softmax(_RowWise):
    """y_i = e^x_i / sum_j e^x_j;  dx = y * (g - sum(g * y))"""
    fn_name = "softmax"
    forward_kernel = staticmethod(K.softmax_forward)
    backward_kernel = staticmethod(K.softmax_backward)


class LogSoftmax(_RowWise):
    """y_i = x_i - log sum_j e^x_j;  dx = g - softmax(x) * sum(g)"""
    fn_name = "log_softmax"
    forward_kernel = staticmethod(K.log_softmax_forward)
    backward_kernel = staticmethod(K.log_softmax_backward)


# ---- the functions: options checked, then the right op ------------------------------------
def _number(fn_name, setting, value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{fn_name}: {setting} must be a number, got {value!r}") from None


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' relu: x above ``threshold`` (clipped at ``max_value``), else negative_slope * (x - threshold)."""
    negative_slope = _number("relu", "negative_slope", negative_slope)
    threshold = _number("relu", "threshold", threshold)
    if max_value is not None:
        max_value = _number("relu", "max_value", max_value)
        if not max_value >= 0:
            raise ValueError(f"relu: max_value must be >= 0, got {max_value}")
    if threshold == 0.0:
        if max_value is None:
            if negative_slope == 0.0:
                return ReLU.apply(x)
            if negative_slope > 0.0:
                return LeakyReLU.apply(x, negative_slope=negative_slope)
        elif negative_slope == 0.0:
            return ClippedReLU.apply(x, max_value=max_value)
    return ReLUGeneral.apply(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    return relu(x, negative_slope=negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return ClippedReLU.apply(x, max_value=6.0)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return ELU.apply(x, alpha=_number("elu", "alpha", alpha), scale=1.0)


def selu(x):
    """scale * elu(x, alpha) with alpha = 1.67326324, scale = 1.05070098."""
    return ELU.apply(x, alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x, approximate=False):
    """x * Phi(x), the exact erf form by default; approximate=True (or PyTorch's 'tanh') is the tanh formula."""
    if isinstance(approximate, str):  # PyTorch spelling: 'none' / 'tanh'
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be True/False, 'none' or 'tanh', got {approximate!r}")
        approximate = approximate == "tanh"
    return GELU.apply(x, approximate=bool(approximate))


def silu(x):
    """x * sigmoid(x), also called swish."""
    return SiLU.apply(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return Sigmoid.apply(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, x/6 + 1/2 between (Keras 3)."""
    return HardSigmoid.apply(x)


def hard_silu(x):
    """x * hard_sigmoid(x), also called hard_swish."""
    return x * HardSigmoid.apply(x)


def tanh(x):
    """Hyperbolic tangent."""
    return Tanh.apply(x)


def softplus(x):
    """log(exp(x) + 1), computed without overflow."""
    return Softplus.apply(x)


def softsign(x):
    """x / (abs(x) + 1)."""
    return Softsign.apply(x)


def mish(x):
    """x * tanh(softplus(x))."""
    return Mish.apply(x)


def exponential(x):
    """exp(x)."""
    return x.exp()


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along ``axis``."""
    return LogSoftmax.apply(x, axis=axis)


def linear(x):
    """The identity: returns its input unmodified."""
    return x


# ---- the table ----------------------------------------------------------------------------
class Activation(NamedTuple):
    """One activation of the table.

    ``function``: computes it, ``function(x, **options)``; a KernelActivation class may stand here
    itself (its ``apply`` is called). ``keras`` / ``tensor``: its options and their defaults in
    Keras' function (``activations.<name>``) and in the Tensor method (None: no method). ``fused``:
    (op class, kernel settings) that Dense and Conv apply inside their own op at Keras' defaults;
    for a KernelActivation class given as ``function`` it is that class with no settings.
    """
    name: str
    function: object
    keras: dict
    tensor: object = None
    fused: object = None

    @property
    def compute(self):
        function = self.function
        if isinstance(function, type) and issubclass(function, Function):
            return function.apply
        return function

    @property
    def fused_op(self):
        if self.fused is not None:
            return self.fused
        if isinstance(self.function, type) and issubclass(self.function, KernelActivation):
            return (self.function, {})
        return None

    @property
    def kernel_backed(self):
        return self.fused_op is not None


def _same(options):
    return dict(options)


_RELU_OPTIONS = {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}
_GELU_OPTIONS = {"approximate": False}
_AXIS = {"axis": -1}

# Defaults differ where the libraries differ: Keras' leaky_relu function slopes 0.2, PyTorch's
# (and so Tensor.leaky_relu) 0.01; layers.LeakyReLU keeps Keras' layer default, 0.3.
TABLE = (
    Activation("relu", relu, _RELU_OPTIONS, _same(_RELU_OPTIONS), (ReLU, {})),
    Activation("leaky_relu", leaky_relu, {"negative_slope": 0.2}, {"negative_slope": 0.01},
               (LeakyReLU, {"negative_slope": 0.2})),
    Activation("relu6", relu6, {}, {}, (ClippedReLU, {"max_value": 6.0})),
    Activation("elu", elu, {"alpha": 1.0}, {"alpha": 1.0}, (ELU, {"alpha": 1.0, "scale": 1.0})),
    Activation("selu", selu, {}, {}, (ELU, {"alpha": SELU_ALPHA, "scale": SELU_SCALE})),
    Activation("gelu", gelu, _GELU_OPTIONS, _same(_GELU_OPTIONS), (GELU, {"approximate": False})),
    Activation("silu", silu, {}, {}, (SiLU, {})),
    Activation("sigmoid", sigmoid, {}, {}, (Sigmoid, {})),
    Activation("hard_sigmoid", hard_sigmoid, {}, {}, (HardSigmoid, {})),
    Activation("hard_silu", hard_silu, {}),
    Activation("tanh", tanh, {}, {}, (Tanh, {})),
    Activation("softplus", softplus, {}, {}, (Softplus, {})),
    Activation("softsign", softsign, {}, {}, (Softsign, {})),
    Activation("mish", mish, {}, {}, (Mish, {})),
    Activation("exponential", exponential, {}),
    Activation("softmax", softmax, _AXIS, _same(_AXIS)),
    Activation("log_softmax", log_softmax, _AXIS, _same(_AXIS)),
    Activation("linear", linear, {}),
)
BY_NAME = {row.name: row for row in TABLE}
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}  # Keras' second names for the same function
NAMES = tuple(row.name for row in TABLE)
KERNEL_BACKED = tuple(row.name for row in TABLE if row.kernel_backed)


class FusedActivation(NamedTuple):
    """What a fused Dense/Conv op needs: y = forward(z), dz = backward(g, saved), saved is "y" or "z"."""
    forward: object
    backward: object
    saves: str


def _fused(row):
    op, settings = row.fused_op
    forward, backward = op.forward_kernel, op.backward_kernel
    if settings:
        return FusedActivation(lambda z: forward(z, **settings), lambda g, s: backward(g, s, **settings),
                               "y" if op.saves == "y" else "z")
    return FusedActivation(forward, backward, "y" if op.saves == "y" else "z")


FUSED = {row.name: _fused(row) for row in TABLE if row.kernel_backed}
FUSED.update({alias: FUSED[name] for alias, name in ALIASES.items() if name in FUSED})
FUSABLE = frozenset(FUSED) | {"linear"}


def make_function(row, defaults, convert=None, name=None):
    """``row.function`` with ``defaults`` as its options (by keyword or, in order, by position),
    named and documented for help(). ``convert`` turns the first argument into a Tensor first
    (Keras' functions take lists and arrays)."""
    function, option_names, label = row.compute, tuple(defaults), name or row.name

    def activation(x, *args, **options):
        if args:
            if len(args) > len(option_names):
                raise TypeError(f"{label}() takes at most {len(option_names) + 1} positional arguments "
                                f"({len(args) + 1} given)")
            for key, value in zip(option_names, args):
                if key in options:
                    raise TypeError(f"{label}() got multiple values for argument '{key}'")
                options[key] = value
        for key in options:
            if key not in defaults:
                raise TypeError(f"{label}() got an unexpected keyword argument '{key}'; it takes "
                                f"{', '.join(option_names) or 'no options'}")
        if convert is not None:
            x = convert(x)
        return function(x, **{**defaults, **options}) if options else function(x, **defaults)

    activation.__name__, activation.__qualname__ = row.name, label
    activation.__doc__ = function.__doc__
    activation.__signature__ = inspect.Signature(
        [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v) for k, v in defaults.items()])
    return activation
