"""Reductions and the softmax family; a call's keywords pick NumPy's or PyTorch's meaning (``dialect``)."""
import builtins
import math

from ..autograd import defvjp, nondifferentiable, primitive
from ..backends import namespace
from ..broadcasting import broadcast_to
from ..tensor import Tensor, ValuesIndices
from .conversion import astype
from .elementwise import exp, maximum, minimum, where
from .shape import getitem, reshape, squeeze, take_along_axis


def _reduced_axes(shape, axis):
    if axis is None:
        return set(range(len(shape)))
    return {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}


def kept_shape(shape, axis):
    """``shape`` with a 1 at each reduced axis: where a keepdims result broadcasts back (for VJPs)."""
    axes = _reduced_axes(shape, axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape, axis):
    """How many elements each reduced value summarises."""
    total = 1
    for i in _reduced_axes(shape, axis):
        total *= shape[i]
    return total


def spread(g, shape, axis, keepdims):
    """The reduced gradient ``g`` broadcast back over an input of ``shape`` (for VJPs)."""
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


@primitive
def _sum(x, axis=None, keepdims=False):
    return x.sum(axis=axis, keepdims=keepdims)


@primitive
def _mean(x, axis=None, keepdims=False):
    return x.mean(axis=axis, keepdims=keepdims)


@primitive
def _max(x, axis=None, keepdims=False):
    return x.max(axis=axis, keepdims=keepdims)


@primitive
def _min(x, axis=None, keepdims=False):
    return x.min(axis=axis, keepdims=keepdims)


def _extremum_vjp(g, ans, x, axis=None, keepdims=False):
    """The gradient goes to the positions of the max (min), shared equally among ties."""
    shape = kept_shape(x.shape, axis)
    hits = (x == reshape(ans, shape)).astype(x.dtype)
    return reshape(g, shape) * hits / _sum(hits, axis, True)


defvjp(_sum, lambda g, ans, x, axis=None, keepdims=False: spread(g, x.shape, axis, keepdims))
defvjp(_mean, lambda g, ans, x, axis=None, keepdims=False: spread(g, x.shape, axis, keepdims) / _count(x.shape, axis))
defvjp(_max, _extremum_vjp)
defvjp(_min, _extremum_vjp)

# -- products: where an element is 0, its gradient is the product of the others, never a 0/0 --


@primitive
def _prod(x, axis=None, keepdims=False):
    return x.prod(axis=axis, keepdims=keepdims)


def _zeros_and_nonzero_product(x, axis):
    """Where ``x`` is 0, how many zeros each slice along ``axis`` has, ``x`` with its zeros replaced
    by 1, and the product of each slice's nonzero elements (arrays, for the primitives below)."""
    zero = x == 0
    nonzero = namespace(x).where(zero, 1, x)
    return zero, zero.sum(axis=axis, keepdims=True), nonzero, nonzero.prod(axis=axis, keepdims=True)


def others_product(x, axis=None):
    """Each element of the array ``x`` replaced by the product of the other elements of its slice along
    ``axis``. Divides only by nonzero elements: in a slice with one zero, the zero's entry is the
    product of the rest and the others are 0, as PyTorch's gradient of ``prod``."""
    xp = namespace(x)
    zero, zeros, nonzero, p = _zeros_and_nonzero_product(x, axis)
    return xp.where(zeros == 0, p / nonzero, xp.where(zero & (zeros == 1), p, 0))


_others_product = primitive(others_product)  # the gradient of prod, itself differentiable


@primitive
def _pair_products(x, g, axis=None):
    """For each j, the sum over i != j of g_i times the product of the elements other than i and j:
    the VJP of ``_others_product`` (and its JVP, as its Jacobian is symmetric).

    Exact with zeros, by counting them. With none it is (p / x_j)(sum_i g_i / x_i - g_j / x_j);
    with one zero, at m: p * sum_i g_i / x_i over the nonzero i at m, and g_m p / x_j elsewhere;
    with two: at each zero, g at the other zero times p; elsewhere, and with more zeros, 0.
    """
    xp = namespace(x)
    zero, zeros, nonzero, p = _zeros_and_nonzero_product(x, axis)
    g_over_x = xp.where(zero, 0, g / nonzero)
    total = g_over_x.sum(axis=axis, keepdims=True)
    g_at_zeros = xp.where(zero, g, 0).sum(axis=axis, keepdims=True)
    none = p / nonzero * (total - g_over_x)
    one = xp.where(zero, p * total, g_at_zeros * p / nonzero)
    two = xp.where(zero, (g_at_zeros - g) * p, 0)
    return xp.where(zeros == 0, none, xp.where(zeros == 1, one, xp.where(zeros == 2, two, 0)))


defvjp(_prod, lambda g, ans, x, axis=None, keepdims=False:
       spread(g, x.shape, axis, keepdims) * _others_product(x, axis))
defvjp(_others_product, lambda g, ans, x, axis=None: _pair_products(x, g, axis))
# linear in g, with _others_product's symmetric Jacobian; the derivative in x, a third derivative of
# prod, is not provided (asking for it raises, naming the argument)
defvjp(_pair_products, None, lambda g, ans, x, h, axis=None: _pair_products(x, g, axis))

# -- cumulative sums and the square root of a variance -------------------------------------


@primitive
def _cumsum(x, axis):
    return namespace(x).cumsum(x, axis=axis)


def _reversed(g, axis):
    return getitem(g, (slice(None),) * (axis % g.ndim) + (slice(None, None, -1),))


defvjp(_cumsum, lambda g, ans, x, axis: _reversed(_cumsum(_reversed(g, axis), axis), axis))


@primitive
def _std(variance):
    """sqrt, with a zero gradient where the result is 0: PyTorch's std of a constant slice."""
    return namespace(variance).sqrt(variance)


defvjp(_std, lambda g, ans, variance: g * 0.5 / where(ans == 0, math.inf, ans))


@primitive
def _logsumexp(x, axis=None, keepdims=False):
    xp = namespace(x)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf along an axis: keep -inf, not nan
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=tuple(_reduced_axes(x.shape, axis)))


@primitive
def _softmax(x, axis=-1):
    xp = namespace(x)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    e /= xp.sum(e, axis=axis, keepdims=True)
    return e


@primitive
def _log_softmax(x, axis=-1):
    xp = namespace(x)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    shifted -= xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    return shifted


def _logsumexp_vjp(g, ans, x, axis=None, keepdims=False):
    shape = kept_shape(x.shape, axis)
    return reshape(g, shape) * exp(x - reshape(ans, shape))


defvjp(_logsumexp, _logsumexp_vjp)
defvjp(_softmax, lambda g, ans, x, axis=-1: ans * (g - _sum(g * ans, axis, True)))
defvjp(_log_softmax, lambda g, ans, x, axis=-1: g - exp(ans) * _sum(g, axis, True))


@nondifferentiable
def _argmax(x, axis=None, keepdims=False):
    return namespace(x).argmax(x, axis=axis, keepdims=keepdims)


@nondifferentiable
def _argmin(x, axis=None, keepdims=False):
    return namespace(x).argmin(x, axis=axis, keepdims=keepdims)


@nondifferentiable
def _any(x, axis=None, keepdims=False):
    return namespace(x).any(x, axis=axis, keepdims=keepdims)


@nondifferentiable
def _all(x, axis=None, keepdims=False):
    return namespace(x).all(x, axis=axis, keepdims=keepdims)


# -- public names: the call's keywords pick NumPy's or PyTorch's meaning (api.md) ---------------

def dialect(args, kwargs, numpy_words=("axis", "keepdims"), torch_words=("dim", "keepdim")):
    """``(axis, keepdims, pytorch)`` of a reduction call: positional arguments and PyTorch's
    ``dim``/``keepdim`` (or no keyword) mean PyTorch; NumPy's ``axis``/``keepdims`` mean NumPy."""
    numpy_style = builtins.any(k in kwargs for k in numpy_words)  # this module's any() is the op
    if numpy_style and builtins.any(k in kwargs for k in torch_words):
        raise TypeError(f"mix of NumPy keywords {numpy_words} and PyTorch keywords {torch_words} in one call")
    unknown = set(kwargs) - set(numpy_words) - set(torch_words)
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    axis = args[0] if args else kwargs.get("axis", kwargs.get("dim"))
    keepdims = args[1] if len(args) > 1 else kwargs.get("keepdims", kwargs.get("keepdim", False))
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims), not numpy_style


def _reduction(op, doc):
    def reduce(x, *args, **kwargs):
        axis, keepdims, _ = dialect(args, kwargs)
        return op(x, axis, keepdims)
    reduce.__name__ = reduce.__qualname__ = op.__name__.lstrip("_")
    reduce.__doc__ = doc
    return reduce


sum = _reduction(_sum, "Sum over ``axis``/``dim`` (all elements by default).")  # noqa: A001 - NumPy's names
mean = _reduction(_mean, "Mean over ``axis``/``dim``.")
logsumexp = _reduction(_logsumexp, "log(sum(exp(x))) over ``axis``/``dim``, computed stably.")
argmax = _reduction(_argmax, "Indices of the maxima along ``axis``/``dim`` (of the flattened tensor by default).")
argmin = _reduction(_argmin, "Indices of the minima along ``axis``/``dim``.")
any = _reduction(_any, "Whether any element is true, over ``axis``/``dim``.")  # noqa: A001
all = _reduction(_all, "Whether every element is true, over ``axis``/``dim``.")  # noqa: A001


def _extremum(values_op, index_op, pair_op, name):
    def extremum(x, *args, **kwargs):
        if args and (isinstance(args[0], (Tensor, float)) or getattr(args[0], "ndim", 0) > 0):
            return pair_op(x, args[0])  # PyTorch's max(a, b): the elementwise maximum
        axis, keepdims, pytorch = dialect(args, kwargs)
        if not pytorch or axis is None or isinstance(axis, tuple):
            return values_op(x, axis, keepdims)
        indices = index_op(x, axis, True)
        values = take_along_axis(x, indices, axis)  # the gradient goes to the chosen index, as PyTorch's
        if not keepdims:
            values, indices = squeeze(values, axis), squeeze(indices, axis)
        return ValuesIndices(values, indices)
    extremum.__name__ = extremum.__qualname__ = name
    extremum.__doc__ = (f"The {name}imum: of all elements, over NumPy's ``axis=`` (values only), or PyTorch's "
                        f"``dim`` (a ``(values, indices)`` pair); ``{name}(a, b)`` is elementwise.")
    return extremum


max = _extremum(_max, _argmax, maximum, "max")  # noqa: A001
min = _extremum(_min, _argmin, minimum, "min")  # noqa: A001


def softmax(x, *args, **kwargs):
    """exp(x) / sum(exp(x)) along ``axis``/``dim`` (the last by default)."""
    axis, _, _ = dialect(args, kwargs)
    return _softmax(x, -1 if axis is None else axis)


def log_softmax(x, *args, **kwargs):
    """log(softmax(x)) along ``axis``/``dim`` (the last by default), computed stably."""
    axis, _, _ = dialect(args, kwargs)
    return _log_softmax(x, -1 if axis is None else axis)


def _torch_positional(args, unbiased):
    """PyTorch's positional forms of var and std, ``(unbiased)`` and ``(dim, unbiased, keepdim)``, as
    ``((dim, keepdim), unbiased)``."""
    if args and isinstance(args[0], bool):
        if len(args) > 1:
            raise TypeError(f"var/std: after unbiased={args[0]} no more positional arguments, got {args[1:]}")
        return (), args[0]
    if len(args) > 1:
        return (args[0],) + args[2:], args[1]
    return args, unbiased


def var(x, *args, ddof=None, correction=None, unbiased=None, **kwargs):
    """Variance. NumPy's keywords give NumPy's (``ddof=0``); PyTorch's keywords or none give PyTorch's
    unbiased estimate (``correction=1``; ``unbiased=False`` or ``correction=0`` for the population one).
    PyTorch's positional forms ``var(x, unbiased)`` and ``var(x, dim, unbiased, keepdim)`` work too."""
    args, unbiased = _torch_positional(args, unbiased)
    axis, keepdims, pytorch = dialect(args, kwargs)
    if ddof is not None or not pytorch:
        if unbiased is not None or (ddof is not None and correction is not None):
            raise TypeError("var/std: unbiased= is PyTorch's, and ddof= and correction= say the same: with NumPy's "
                            "axis=/keepdims=/ddof= give one of ddof= or correction=")
        correction = ddof if ddof is not None else (correction or 0)
    elif correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    d = x - _mean(x, axis, True)
    return _sum(d * d, axis, keepdims) / (_count(x.shape, axis) - correction)


def std(x, *args, **kwargs):
    """Standard deviation: the square root of ``var`` with the same arguments and dialects (unbiased
    by default, NumPy's ``ddof=0`` with ``axis=``). Its gradient is 0 where it is 0, as PyTorch's."""
    return _std(var(x, *args, **kwargs))


def prod(x, *args, dtype=None, **kwargs):
    """Product over ``axis``/``dim`` (all elements by default), after a cast to ``dtype`` if given.

    The gradient of an element is the product of the others in its slice, also where some are 0.
    """
    axis, keepdims, _ = dialect(args, kwargs)
    return _prod(x if dtype is None else astype(x, dtype), axis, keepdims)


def cumsum(x, axis=None, dtype=None, *, dim=None):
    """Running sums along ``axis`` (NumPy) or ``dim`` (PyTorch), after a cast to ``dtype`` if given;
    of the flattened tensor when neither is given, as NumPy's."""
    if dim is not None:
        if axis is not None:
            raise TypeError("cumsum: give axis (NumPy) or dim (PyTorch), not both")
        axis = dim
    if dtype is not None:
        x = astype(x, dtype)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return _cumsum(x, axis)
