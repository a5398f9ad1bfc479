"""Elementwise ops. Binary ops broadcast; their gradients are summed back to each input's shape."""
import numpy as np

from ..tensor import Function, unbroadcast


def _broadcast_error(op, a, b):
    return ValueError(f"{op}: cannot broadcast shapes {a.shape} and {b.shape}")


class _Binary(Function):
    op_name = "binary"
    fresh_grads = True  # every gradient below is computed into a new array (Add and Sub: per call)

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        try:
            return self.compute(a, b)
        except ValueError as e:
            if "broadcast" in str(e):
                raise _broadcast_error(self.op_name, a, b) from None
            raise


# ---- binary -------------------------------------------------------------------------
class Add(_Binary):
    """d(a+b) = da + db"""
    op_name = "add"

    def compute(self, a, b):
        return a + b

    def backward(self, g):
        ga, gb = self.needs_input_grad
        da = unbroadcast(g, self.a_shape) if ga else None
        db = unbroadcast(g, self.b_shape) if gb else None
        self.fresh_grads = (da is not g, db is not g)  # summed over broadcast axes: a new array
        return da, db


class Sub(_Binary):
    """d(a-b) = da - db"""
    op_name = "sub"

    def compute(self, a, b):
        return a - b

    def backward(self, g):
        ga, gb = self.needs_input_grad
        da = unbroadcast(g, self.a_shape) if ga else None
        self.fresh_grads = (da is not g, True)
        return da, (unbroadcast(-g, self.b_shape) if gb else None)


class Mul(_Binary):
    """d(a*b) = b da + a db"""
    op_name = "mul"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        ga, gb = self.needs_input_grad
        return (unbroadcast(g * self.b, self.a_shape) if ga else None,
                unbroadcast(g * self.a, self.b_shape) if gb else None)


class Div(_Binary):
    """d(a/b) = da / b - a db / b^2"""
    op_name = "div"

    def compute(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        ga, gb = self.needs_input_grad
        return (unbroadcast(g / self.b, self.a_shape) if ga else None,
                unbroadcast(-g * self.a / (self.b * self.b), self.b_shape) if gb else None)


class Maximum(_Binary):
    """d max(a, b): the gradient goes to the larger input, split evenly on ties (as torch.maximum)."""
    op_name = "maximum"

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        share_a = (a > b) + 0.5 * (a == b)
        ga, gb = self.needs_input_grad
        return (unbroadcast(g * share_a, self.a_shape) if ga else None,
                unbroadcast(g * (1 - share_a), self.b_shape) if gb else None)


class Minimum(_Binary):
    """d min(a, b): the gradient goes to the smaller input, split evenly on ties."""
    op_name = "minimum"

    def compute(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        share_a = (a < b) + 0.5 * (a == b)
        ga, gb = self.needs_input_grad
        return (unbroadcast(g * share_a, self.a_shape) if ga else None,
                unbroadcast(g * (1 - share_a), self.b_shape) if gb else None)


class Where(Function):
    """where(cond, a, b): the gradient goes to a where cond holds, to b elsewhere."""
    fresh_grads = True

    def forward(self, cond, a, b):
        self.cond = cond.astype(bool)
        self.a_shape, self.b_shape = a.shape, b.shape
        try:
            return np.where(self.cond, a, b)
        except ValueError:
            raise ValueError(f"where: cannot broadcast shapes {cond.shape}, {a.shape} and {b.shape}") from None

    def backward(self, g):
        _, ga, gb = self.needs_input_grad
        zero = np.zeros((), dtype=g.dtype)
        return (None,
                unbroadcast(np.where(self.cond, g, zero), self.a_shape) if ga else None,
                unbroadcast(np.where(self.cond, zero, g), self.b_shape) if gb else None)


# ---- unary --------------------------------------------------------------------------
class Neg(Function):
    """d(-x) = -dx"""
    fresh_grads = True

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Pow(Function):
    """d(x^p) = p x^(p-1) dx, for a scalar p"""
    fresh_grads = True

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x ** x.dtype.type(exponent) if x.dtype.kind == "f" else x ** exponent

    def backward(self, g):
        p = self.x.dtype.type(self.p)
        return g * p * self.x ** (p - 1)


class Exp(Function):
    """d exp(x) = exp(x) dx"""
    fresh_grads = True

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    """d log(x) = dx / x"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return g / self.x


class Sqrt(Function):
    """d sqrt(x) = dx / (2 sqrt(x))"""
    fresh_grads = True

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)


class Abs(Function):
    """d|x| = sign(x) dx (0 at 0)"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        return g * np.sign(self.x)


class Clip(Function):
    """d clip(x, lo, hi) = dx where lo <= x <= hi, else 0 (as torch.clamp)"""
    fresh_grads = True

    def forward(self, x, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        self.x, self.lo, self.hi = x, min, max
        return np.clip(x, min, max)

    def backward(self, g):
        keep = np.ones(self.x.shape, dtype=bool)
        if self.lo is not None:
            keep &= self.x >= self.lo
        if self.hi is not None:
            keep &= self.x <= self.hi
        return g * keep


class Square(Function):
    """d(x^2) = 2x dx"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * (self.x + self.x)


class Power(_Binary):
    """d(a^b) = b a^(b-1) da + a^b log(a) db  (a tensor exponent; ``x ** 2.0`` uses Pow)"""
    op_name = "power"

    def compute(self, a, b):
        self.a, self.b = a, b
        self.y = np.power(a, b)
        return self.y

    def backward(self, g):
        ga, gb = self.needs_input_grad
        a, b = self.a, self.b
        grad_a = grad_b = None
        if ga:
            grad_a = unbroadcast(g * b * np.power(a, b - 1), self.a_shape)
        if gb:
            # a^b log(a) is 0 where a == 0 (the limit for b > 0), not 0 * -inf = NaN
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), np.where(a == 0, 0, np.nan))
            grad_b = unbroadcast(g * self.y * log_a.astype(self.y.dtype, copy=False), self.b_shape)
        return grad_a, grad_b


class Sin(Function):
    """d sin(x) = cos(x) dx"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, g):
        return g * np.cos(self.x)


class Cos(Function):
    """d cos(x) = -sin(x) dx"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def backward(self, g):
        return -g * np.sin(self.x)


class Log1p(Function):
    """d log(1 + x) = dx / (1 + x)  (exact for tiny x, where log(1 + x) would round)"""
    fresh_grads = True

    def forward(self, x):
        self.x = x
        return np.log1p(x)

    def backward(self, g):
        return g / (1 + self.x)


class Expm1(Function):
    """d (e^x - 1) = e^x dx"""
    fresh_grads = True

    def forward(self, x):
        self.y = np.expm1(x)
        return self.y

    def backward(self, g):
        return g * (self.y + 1)


class Cast(Function):
    """y = x as another float dtype;  dx = dy cast back to x's dtype"""
    fresh_grads = True

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype)
