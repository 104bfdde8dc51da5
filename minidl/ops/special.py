"""More elementwise functions: logarithms and exponentials near their edges, trigonometric and
hyperbolic functions, and the numerically stable ``softplus`` and ``logaddexp``.

PyTorch's short names (``asin``, ``acos``, ``atan``, ``atan2``) are the same functions as NumPy's.
"""
import math

from ..autograd import defvjp, primitive
from ..backends import namespace
from .elementwise import abs, exp, minimum, sqrt, where  # noqa: A004 - minidl's abs, on tensors


def _namespace(*args):
    """The array namespace of the first argument that is an array (the others may be Python numbers)."""
    return namespace(next(a for a in args if hasattr(a, "shape")))


# -- logarithms and exponentials -------------------------------------------------------

@primitive
def log1p(x):
    """log(1 + x), accurate for small ``x``."""
    return namespace(x).log1p(x)


@primitive
def expm1(x):
    """exp(x) - 1, accurate for small ``x``."""
    return namespace(x).expm1(x)


@primitive
def log2(x):
    """The base-2 logarithm."""
    return namespace(x).log2(x)


@primitive
def log10(x):
    """The base-10 logarithm."""
    return namespace(x).log10(x)


defvjp(log1p, lambda g, ans, x: g / (1 + x))
defvjp(expm1, lambda g, ans, x: g * (ans + 1))
defvjp(log2, lambda g, ans, x: g / (x * math.log(2)))
defvjp(log10, lambda g, ans, x: g / (x * math.log(10)))

# -- trigonometric and hyperbolic --------------------------------------------------------


@primitive
def tan(x):
    """The tangent (of radians)."""
    return namespace(x).tan(x)


@primitive
def arcsin(x):
    """The inverse sine, in [-pi/2, pi/2] (``asin`` in PyTorch)."""
    return namespace(x).arcsin(x)


@primitive
def arccos(x):
    """The inverse cosine, in [0, pi] (``acos`` in PyTorch)."""
    return namespace(x).arccos(x)


@primitive
def arctan(x):
    """The inverse tangent, in (-pi/2, pi/2) (``atan`` in PyTorch)."""
    return namespace(x).arctan(x)


@primitive
def arctan2(y, x):
    """The angle of the point (x, y), in [-pi, pi], by the signs of both (``atan2`` in PyTorch)."""
    return _namespace(y, x).arctan2(y, x)


@primitive
def sinh(x):
    """The hyperbolic sine."""
    return namespace(x).sinh(x)


@primitive
def cosh(x):
    """The hyperbolic cosine."""
    return namespace(x).cosh(x)


defvjp(tan, lambda g, ans, x: g * (1 + ans * ans))
defvjp(arcsin, lambda g, ans, x: g / sqrt(1 - x * x))
defvjp(arccos, lambda g, ans, x: -g / sqrt(1 - x * x))
defvjp(arctan, lambda g, ans, x: g / (1 + x * x))
defvjp(arctan2, lambda g, ans, y, x: g * x / (x * x + y * y), lambda g, ans, y, x: -g * y / (x * x + y * y))
defvjp(sinh, lambda g, ans, x: g * cosh(x))
defvjp(cosh, lambda g, ans, x: g * sinh(x))

asin, acos, atan, atan2 = arcsin, arccos, arctan, arctan2

# -- stable compositions -------------------------------------------------------------------


@primitive
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, as PyTorch's: ``x`` itself where ``beta * x > threshold``.

    Computed as max(bx, 0) + log1p(exp(-|bx|)), which neither overflows for large inputs nor loses
    the small values of large negative ones (so ``threshold=float("inf")`` is exact everywhere).
    """
    xp = namespace(x)
    bx = x * beta
    out = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
    return xp.where(bx > threshold, x, out)


@primitive
def logaddexp(x, y):
    """log(exp(x) + exp(y)), computed without overflow (the backend's stable kernel)."""
    return _namespace(x, y).logaddexp(x, y)


def _logistic(z):
    """sigmoid(z) as exp(min(z, 0) - log(1 + exp(-|z|))): full relative precision in both tails (the
    gradients of softplus and logaddexp there), 0 and 1 at -inf and inf; written with ops, so the
    second derivatives follow."""
    return exp(minimum(z, 0) - log1p(exp(-abs(z))))


defvjp(softplus, lambda g, ans, x, beta=1.0, threshold=20.0: g * where(x * beta > threshold, 1, _logistic(x * beta)))
defvjp(logaddexp, lambda g, ans, x, y: g * _logistic(x - y), lambda g, ans, x, y: g * _logistic(y - x))
