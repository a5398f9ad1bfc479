"""Activation ops: one small Function per activation, kernels in cysrc/activations.pyx.

Each class states its derivative in its docstring and saves, for backward, whichever of
input ``x`` or output ``y`` gives the derivative most cheaply and exactly: the ReLU family,
sigmoid and tanh read ``y`` (no second pass of exp/tanh, and no need to keep ``x``);
the smooth functions whose derivative is not a function of ``y`` alone read ``x``.
Arrays are made contiguous once here, so the kernels only ever see flat float32/float64 loops.
"""
import numpy as np

from ..function import Function
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


# ---- ReLU family: backward reads the saved output ------------------------------------
class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1 if x > 0 else 0  (ReLU'(0) = 0)"""

    def forward(self, x):
        self.y = K.relu_forward(_float_contiguous(x))
        return self.y

    def backward(self, g):
        return K.relu_backward(_grad_like(g, self.y), self.y)


class LeakyReLU(Function):
    """y = x if x > 0 else a*x (a > 0);  dy/dx = 1 if x > 0 else a"""

    def forward(self, x, negative_slope):
        self.negative_slope = negative_slope
        self.y = K.leaky_relu_forward(_float_contiguous(x), negative_slope)
        return self.y

    def backward(self, g):
        return K.leaky_relu_backward(_grad_like(g, self.y), self.y, self.negative_slope)


class ClippedReLU(Function):
    """y = min(max(x, 0), m);  dy/dx = 1 if 0 < x < m else 0  (relu6: m = 6)"""

    def forward(self, x, max_value):
        self.max_value = max_value
        self.y = K.clipped_relu_forward(_float_contiguous(x), max_value)
        return self.y

    def backward(self, g):
        return K.clipped_relu_backward(_grad_like(g, self.y), self.y, self.max_value)


class ReLUGeneral(Function):
    """Keras relu: y = clip(x, 0, m) if x > t else a*(x - t);  dy/dx = 1 inside, a below t, 0 clipped"""

    def forward(self, x, negative_slope, max_value, threshold):
        self.settings = (negative_slope, max_value, threshold)
        self.x = _float_contiguous(x)
        return K.relu_general_forward(self.x, *self.settings)

    def backward(self, g):
        return K.relu_general_backward(_grad_like(g, self.x), self.x, *self.settings)


class HardSigmoid(Function):
    """y = relu6(x + 3) / 6;  dy/dx = 1/6 if -3 < x < 3 else 0"""

    def forward(self, x):
        self.x = _float_contiguous(x)
        return K.hard_sigmoid_forward(self.x)

    def backward(self, g):
        return K.hard_sigmoid_backward(_grad_like(g, self.x), self.x)


# ---- output-based smooth activations ---------------------------------------------------
class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)"""

    def forward(self, x):
        self.y = K.sigmoid_forward(_float_contiguous(x))
        return self.y

    def backward(self, g):
        return K.sigmoid_backward(_grad_like(g, self.y), self.y)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y^2"""

    def forward(self, x):
        self.y = K.tanh_forward(_float_contiguous(x))
        return self.y

    def backward(self, g):
        return K.tanh_backward(_grad_like(g, self.y), self.y)


# ---- input-based smooth activations ------------------------------------------------------
class _InputSaved(Function):
    """Shared plumbing: save x; subclasses name their forward/backward kernels."""
    forward_kernel = backward_kernel = None

    def forward(self, x):
        self.x = _float_contiguous(x)
        return self.forward_kernel(self.x)

    def backward(self, g):
        return self.backward_kernel(_grad_like(g, self.x), self.x)


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dy/dx = 1 if x > 0 else alpha e^x"""
    scale = 1.0

    def forward(self, x, alpha=1.0):
        self.alpha = alpha
        self.x = _float_contiguous(x)
        return K.elu_forward(self.x, alpha, self.scale)

    def backward(self, g):
        return K.elu_backward(_grad_like(g, self.x), self.x, self.alpha, self.scale)


class SELU(ELU):
    """y = s * elu(x, a), a = 1.6733, s = 1.0507;  dy/dx = s if x > 0 else s a e^x"""
    scale = SELU_SCALE

    def forward(self, x):
        return super().forward(x, alpha=SELU_ALPHA)


class GELU(Function):
    """y = x Phi(x);  dy/dx = Phi(x) + x phi(x)  (approximate: Phi from the tanh formula)"""

    def forward(self, x, approximate=False):
        self.approximate = bool(approximate)
        self.x = _float_contiguous(x)
        return K.gelu_forward(self.x, self.approximate)

    def backward(self, g):
        return K.gelu_backward(_grad_like(g, self.x), self.x, self.approximate)


class SiLU(_InputSaved):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)"""
    forward_kernel = staticmethod(K.silu_forward)
    backward_kernel = staticmethod(K.silu_backward)


class Softplus(_InputSaved):
    """y = log(1 + e^x);  dy/dx = sigmoid(x)"""
    forward_kernel = staticmethod(K.softplus_forward)
    backward_kernel = staticmethod(K.softplus_backward)


class Softsign(_InputSaved):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)^2"""
    forward_kernel = staticmethod(K.softsign_forward)
    backward_kernel = staticmethod(K.softsign_backward)


class Mish(_InputSaved):
    """y = x tanh(softplus(x));  dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x))"""
    forward_kernel = staticmethod(K.mish_forward)
    backward_kernel = staticmethod(K.mish_backward)


# ---- softmax family: row-wise over one axis (the kernels use the last) -----------------------
def _check_axis(fn_name, shape, axis):
    ndim = max(len(shape), 1)
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{fn_name}: axis {axis!r} is out of range for input of shape {shape}")
    return int(axis) % ndim


class _RowWise(Function):
    """Moves ``axis`` to the end (one copy when it is not already last) and back."""
    fn_name = forward_kernel = backward_kernel = None

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


# ---- the functions the rest of the package calls ------------------------------------------
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
    return ReLUGeneral.apply(x, negative_slope=negative_slope, max_value=max_value,
                             threshold=threshold)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x (PyTorch's default slope 0.01)."""
    return relu(x, negative_slope=negative_slope)


def relu6(x):
    """min(max(x, 0), 6)."""
    return ClippedReLU.apply(x, max_value=6.0)


def elu(x, alpha=1.0):
    return ELU.apply(x, alpha=_number("elu", "alpha", alpha))


def selu(x):
    return SELU.apply(x)


def gelu(x, approximate=False):
    """Exact x * Phi(x) by default (PyTorch's default); approximate=True is the tanh form."""
    if isinstance(approximate, str):  # PyTorch spelling: 'none' / 'tanh'
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be True/False, 'none' or 'tanh', got {approximate!r}")
        approximate = approximate == "tanh"
    return GELU.apply(x, approximate=bool(approximate))


def silu(x):
    return SiLU.apply(x)


swish = silu


def sigmoid(x):
    return Sigmoid.apply(x)


def hard_sigmoid(x):
    """Keras 3's hard sigmoid: relu6(x + 3) / 6."""
    return HardSigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def softplus(x):
    return Softplus.apply(x)


def softsign(x):
    return Softsign.apply(x)


def mish(x):
    return Mish.apply(x)


def softmax(x, axis=-1):
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, axis=axis)


def linear(x):
    """The identity: returns x itself, as Keras does."""
    return x
