"""Reductions and the softmax family, with PyTorch's ``dim``/``keepdim`` accepted beside ``axis``/``keepdims``."""
import functools

from ..autograd import defvjp, nondifferentiable, primitive
from ..backends import namespace
from .elementwise import exp
from .shape import _reshape, broadcast_to


def _reduced_axes(shape, axis):
    if axis is None:
        return set(range(len(shape)))
    return {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}


def _kept_shape(shape, axis):
    """``shape`` with a 1 at each reduced axis: where a keepdims result broadcasts back."""
    axes = _reduced_axes(shape, axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape, axis):
    """How many elements each reduced value summarises."""
    total = 1
    for i in _reduced_axes(shape, axis):
        total *= shape[i]
    return total


def _spread(g, x, axis, keepdims):
    """The reduced gradient ``g`` broadcast back over ``x``'s shape."""
    if not keepdims:
        g = _reshape(g, _kept_shape(x.shape, axis))
    return broadcast_to(g, x.shape)


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
    shape = _kept_shape(x.shape, axis)
    hits = (x == _reshape(ans, shape)).astype(x.dtype)
    return _reshape(g, shape) * hits / _sum(hits, axis, True)


defvjp(_sum, lambda g, ans, x, axis=None, keepdims=False: _spread(g, x, axis, keepdims))
defvjp(_mean, lambda g, ans, x, axis=None, keepdims=False: _spread(g, x, axis, keepdims) / _count(x.shape, axis))
defvjp(_max, _extremum_vjp)
defvjp(_min, _extremum_vjp)


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
    shape = _kept_shape(x.shape, axis)
    return _reshape(g, shape) * exp(x - _reshape(ans, shape))


defvjp(_logsumexp, _logsumexp_vjp)
defvjp(_softmax, lambda g, ans, x, axis=-1: ans * (g - _sum(g * ans, axis, True)))
defvjp(_log_softmax, lambda g, ans, x, axis=-1: g - exp(ans) * _sum(g, axis, True))


@nondifferentiable
def _argmax(x, axis=None, keepdims=False):
    return namespace(x).argmax(x, axis=axis, keepdims=keepdims)


@nondifferentiable
def _argmin(x, axis=None, keepdims=False):
    return namespace(x).argmin(x, axis=axis, keepdims=keepdims)


# -- public names: NumPy's axis/keepdims or PyTorch's dim/keepdim ----------------------

def _reduction(op):
    @functools.wraps(op)
    def reduce(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        if dim is not None:
            axis = dim
        if keepdim is not None:
            keepdims = keepdim
        if isinstance(axis, list):
            axis = tuple(axis)
        return op(x, axis, keepdims)
    reduce.__name__ = reduce.__qualname__ = op.__name__.lstrip("_")
    return reduce


def _along_axis(op):
    @functools.wraps(op)
    def normalize(x, axis=-1, *, dim=None):
        return op(x, axis if dim is None else dim)
    normalize.__name__ = normalize.__qualname__ = op.__name__.lstrip("_")
    return normalize


sum = _reduction(_sum)  # noqa: A001 - the public names mirror NumPy's
mean = _reduction(_mean)
max = _reduction(_max)  # noqa: A001
min = _reduction(_min)  # noqa: A001
logsumexp = _reduction(_logsumexp)
argmax = _reduction(_argmax)
argmin = _reduction(_argmin)
softmax = _along_axis(_softmax)
log_softmax = _along_axis(_log_softmax)


def var(x, axis=None, keepdims=False, *, ddof=0, dim=None, keepdim=None, correction=None):
    """Variance; ``ddof=0`` as NumPy (PyTorch's ``correction=1`` gives the unbiased estimate)."""
    axis = axis if dim is None else dim
    keepdims = keepdims if keepdim is None else keepdim
    ddof = ddof if correction is None else correction
    d = x - _mean(x, axis, True)
    return _sum(d * d, axis, keepdims) / (_count(x.shape, axis) - ddof)
