"""Elementwise primitives and their VJPs. Broadcast gradients are reduced by the engine."""
import math

from ..autograd import defvjp, nondifferentiable, primitive
from ..backends import backend_of_array, namespace


@nondifferentiable
def zeros_of(x):
    """Zeros of ``x``'s shape and dtype on its device: a gradient that is exactly zero, even where the
    incoming gradient is Inf or NaN (``g * 0`` would be NaN there)."""
    return namespace(x).zeros_like(x)


def _zero_gradient(g, ans, x, *args, **kwargs):
    """The VJP of a piecewise-constant op (sign, floor, ...): zero, as PyTorch gives."""
    return zeros_of(g)

# -- arithmetic ------------------------------------------------------------------


@primitive
def add(x, y):
    return x + y


@primitive
def subtract(x, y):
    return x - y


@primitive
def multiply(x, y):
    return x * y


@primitive
def divide(x, y):
    return x / y


@primitive
def negative(x):
    return -x


@primitive
def power(x, y):
    return x ** y


defvjp(add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defvjp(subtract, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
defvjp(multiply, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)
# d(x/y)/dy from x, not from the output: y /= w then y += 1 must not invalidate it (PyTorch's div_ too)
defvjp(divide, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * x / (y * y))
defvjp(negative, lambda g, ans, x: -g)


def _log_base(x):
    """log(x) with log(0) taken as 0, so d(x**y)/dy is 0 rather than nan at x = 0 (as HIPS)."""
    if not hasattr(x, "shape"):  # a Python number, as in 2 ** t
        return math.log(x) if x != 0 else 0.0
    return log(where(x == 0, 1, x))


def _power_vjp_base(g, ans, x, y):
    """g * y * x**(y-1), and exactly 0 where y == 0 (as PyTorch), even at x = 0 where x**-1 is inf."""
    if not hasattr(y, "shape"):  # a Python number
        return g * 0 if y == 0 else g * y * x ** (y - 1)
    return g * y * x ** where(y == 0, 1, y - 1)


defvjp(power, _power_vjp_base, lambda g, ans, x, y: g * ans * _log_base(x))


@primitive
def floor_divide(x, y):
    """``x // y``: the floor of the quotient; its gradient is zero, as PyTorch's."""
    return x // y


@primitive
def remainder(x, y):
    """``x % y`` with the sign of ``y`` (Python's and PyTorch's); d/dx is 1, d/dy is -floor(x / y)."""
    return x % y


defvjp(floor_divide, _zero_gradient, _zero_gradient)
defvjp(remainder, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * floor_divide(x, y))

# -- unary functions ---------------------------------------------------------------


@primitive
def exp(x):
    return namespace(x).exp(x)


@primitive
def log(x):
    return namespace(x).log(x)


@primitive
def sin(x):
    return namespace(x).sin(x)


@primitive
def cos(x):
    return namespace(x).cos(x)


@primitive
def tanh(x):
    return namespace(x).tanh(x)


@primitive
def sigmoid(x):
    """1 / (1 + exp(-x)), accurate in both tails (the backend's expit; (1 + tanh(x/2)) / 2 gave 0 at -17)."""
    return backend_of_array(x).expit(x)


@primitive
def relu(x):
    return namespace(x).maximum(x, 0)


@primitive
def abs(x):  # noqa: A001 - the public name, as numpy.abs
    return namespace(x).abs(x)


@primitive
def sqrt(x):
    return namespace(x).sqrt(x)


@primitive
def square(x):
    return x * x


@primitive
def erf(x):
    """The error function (of GELU), computed by the backend: SciPy on the CPU, cupyx on a GPU."""
    return backend_of_array(x).erf(x)


defvjp(erf, lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * exp(-x * x))
defvjp(exp, lambda g, ans, x: g * ans)
defvjp(log, lambda g, ans, x: g / x)
defvjp(sin, lambda g, ans, x: g * cos(x))
defvjp(cos, lambda g, ans, x: -g * sin(x))
defvjp(tanh, lambda g, ans, x: g * (1 - ans * ans))
defvjp(sigmoid, lambda g, ans, x: g * ans * (1 - ans))
defvjp(relu, lambda g, ans, x: where(ans > 0, g, 0))  # selects, as PyTorch: a closed gate passes 0, even of Inf
defvjp(abs, lambda g, ans, x: g * sign(x))
defvjp(sqrt, lambda g, ans, x: g * 0.5 / ans)
defvjp(square, lambda g, ans, x: g * 2 * x)

# -- selection ---------------------------------------------------------------------


@primitive
def maximum(x, y):
    return namespace(x if hasattr(x, "shape") else y).maximum(x, y)


@primitive
def minimum(x, y):
    return namespace(x if hasattr(x, "shape") else y).minimum(x, y)


@primitive
def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``."""
    array = next(a for a in (condition, x, y) if hasattr(a, "shape"))
    return backend_of_array(array).where(condition, x, y)


@primitive
def clip(x, min=None, max=None):  # noqa: A002 - PyTorch's and NumPy's argument names
    return namespace(x).clip(x, min, max)


def _tie_split(g, winner, tie):
    """``g`` where ``winner``, half of it on ties (PyTorch's choice for max/min of two tensors), 0 elsewhere."""
    return where(tie, g * 0.5, where(winner, g, 0))


defvjp(maximum, lambda g, ans, x, y: _tie_split(g, x > y, x == y),
       lambda g, ans, x, y: _tie_split(g, y > x, x == y))
defvjp(minimum, lambda g, ans, x, y: _tie_split(g, x < y, x == y),
       lambda g, ans, x, y: _tie_split(g, y < x, x == y))
defvjp(where, None, lambda g, ans, c, x, y: where(c, g, 0), lambda g, ans, c, x, y: where(c, 0, g))


def _clip_vjp(g, ans, x, min=None, max=None):  # noqa: A002
    """``g`` where ``x`` is inside the bounds, 0 where a bound took over (selected, not multiplied)."""
    if min is not None:
        g = where(x >= min, g, 0)
    if max is not None:
        g = where(x <= max, g, 0)
    return g


def _clip_min_vjp(g, ans, x, min=None, max=None):  # noqa: A002
    """The lower bound's gradient: where it won (x below it), unless the upper bound is below it too."""
    won = x < min
    return where(won if max is None else won & (min <= max), g, 0)


def _clip_max_vjp(g, ans, x, min=None, max=None):  # noqa: A002
    """The upper bound's gradient: where it won (x, or a crossed lower bound, above it)."""
    return where((x > max) if min is None else (maximum(x, min) > max), g, 0)


defvjp(clip, _clip_vjp, _clip_min_vjp, _clip_max_vjp)

# -- piecewise constant: a zero gradient, as PyTorch's ------------------------------


@primitive
def sign(x):
    """-1, 0 or 1 by the sign of each element (zero gradient)."""
    return namespace(x).sign(x)


def _rounded(x, how):
    """``xp.floor`` or ``xp.ceil``; integer and bool arrays come back as copies, as PyTorch's (NumPy's give float64)."""
    return x.copy() if x.dtype.kind in "iub" else getattr(namespace(x), how)(x)


@primitive
def floor(x):
    """The largest integer not above each element (zero gradient, as PyTorch's)."""
    return _rounded(x, "floor")


@primitive
def ceil(x):
    """The smallest integer not below each element (zero gradient, as PyTorch's)."""
    return _rounded(x, "ceil")


@primitive
def round(x, decimals=0):  # noqa: A001 - NumPy's and PyTorch's name
    """Each element rounded to ``decimals`` places, halves to even (NumPy and PyTorch); zero gradient."""
    return namespace(x).round(x, decimals)


defvjp(sign, _zero_gradient)
defvjp(floor, _zero_gradient)
defvjp(ceil, _zero_gradient)
defvjp(round, _zero_gradient)

# -- not differentiable ----------------------------------------------------------


def _comparison(name, symbol, compare):
    op = nondifferentiable(compare)
    op.__name__ = op.__qualname__ = op.primitive.name = name
    op.__doc__ = f"Elementwise ``x {symbol} y`` as a bool tensor (not differentiable)."
    return op


equal = _comparison("equal", "==", lambda x, y: x == y)
not_equal = _comparison("not_equal", "!=", lambda x, y: x != y)
less = _comparison("less", "<", lambda x, y: x < y)
less_equal = _comparison("less_equal", "<=", lambda x, y: x <= y)
greater = _comparison("greater", ">", lambda x, y: x > y)
greater_equal = _comparison("greater_equal", ">=", lambda x, y: x >= y)
logical_and = _comparison("logical_and", "&", lambda x, y: x & y)
logical_or = _comparison("logical_or", "|", lambda x, y: x | y)
logical_xor = _comparison("logical_xor", "^", lambda x, y: x ^ y)


@nondifferentiable
def logical_not(x):
    """Elementwise ``~x`` of a bool tensor (not differentiable)."""
    return ~x


@nondifferentiable
def isfinite(x):
    """True where ``x`` is neither NaN nor infinite."""
    return namespace(x).isfinite(x)
