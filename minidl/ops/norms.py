"""Norms: vector norms (a reduction with its own VJP), matrix norms, and the two meanings of ``norm``.

``mdl.linalg.norm`` is ``numpy.linalg.norm`` and ``torch.linalg.norm``, which agree (NumPy's ``axis``
and ``keepdims`` or PyTorch's ``dim`` and ``keepdim``). The top-level ``mdl.norm`` follows the
call's dialect (api.md): NumPy's keywords give ``numpy.linalg.norm``; PyTorch's or none give
``torch.norm``, whose numeric ``p`` is always a vector norm over the given dimensions.
At a zero vector the gradient is 0, as PyTorch's.
"""
import math

from ..autograd import defvjp, primitive
from ..backends import namespace
from ..dtypes import is_floating
from . import reductions
from .conversion import astype
from .decompositions import svdvals
from .elementwise import abs, power, sign, where  # noqa: A004 - minidl's abs, on tensors
from .reductions import kept_shape, spread
from .shape import reshape, transpose

_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


@primitive
def _vector_norm(x, ord, axis, keepdims):  # noqa: A002 - NumPy's and PyTorch's argument name
    xp = namespace(x)
    size = xp.abs(x)
    if ord == math.inf:
        return size.max(axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return size.min(axis=axis, keepdims=keepdims)
    if ord == 0:
        return (x != 0).sum(axis=axis, keepdims=keepdims).astype(x.dtype)
    if ord == 1:
        return size.sum(axis=axis, keepdims=keepdims)
    if ord == 2:
        return xp.sqrt((x * x).sum(axis=axis, keepdims=keepdims))
    return (size ** ord).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _vector_norm_vjp(g, ans, x, ord, axis, keepdims):  # noqa: A002
    """sign(x) |x|^(p-1) / norm^(p-1) (0 at a zero norm); for p = +-inf the extreme elements share g."""
    g = spread(g, x.shape, axis, keepdims)
    norm = spread(ans, x.shape, axis, keepdims)
    if ord == 0:
        return g * 0
    if math.isinf(ord):
        hits = (abs(x) == norm).astype(x.dtype)
        return g * sign(x) * hits / reductions.sum(hits, axis, True)
    scaled = sign(x) * power(where(x == 0, 1, abs(x)), ord - 1)
    return scaled * where(norm == 0, 0, g / power(where(norm == 0, 1, norm), ord - 1))


defvjp(_vector_norm, _vector_norm_vjp)


def _floating(x, dtype):
    """``x`` cast to ``dtype`` if given; integer tensors become float64, as in NumPy's norms."""
    if dtype is not None:
        return astype(x, dtype)
    return x if is_floating(x.dtype) else astype(x, "float64")


def _axes(axis, ndim):
    return None if axis is None else tuple(int(a) % max(ndim, 1) for a in ((axis,) if isinstance(axis, int) else axis))


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"norm: ord={ord!r} is not a matrix norm; use one of {_MATRIX_ORDS}")
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"norm: a matrix norm needs two different axes, got {axes}")
    if ord == "fro":
        return _vector_norm(x, 2, axes, keepdims)
    rows, cols = axes
    if ord in ("nuc", 2, -2):  # from the singular values: move the matrix axes last
        batch = [d for d in range(x.ndim) if d not in axes]
        values = svdvals(transpose(x, tuple(batch) + axes))
        out = reductions.sum(values, -1) if ord == "nuc" else (
            reductions.max if ord == 2 else reductions.min)(values, axis=-1)
    else:  # the largest (smallest) column sum for 1 (-1), row sum for inf (-inf)
        sums = reductions.sum(abs(x), rows if ord in (1, -1) else cols, True)
        extreme = reductions.max if ord in (1, math.inf) else reductions.min
        out = extreme(sums, axis=cols if ord in (1, -1) else rows, keepdims=True)
    kept = kept_shape(x.shape, axes)
    return reshape(out, kept if keepdims else tuple(n for d, n in enumerate(x.shape) if d not in axes))


def linalg_norm(x, ord=None, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):  # noqa: A002
    """``numpy.linalg.norm`` and ``torch.linalg.norm``, one meaning: over one axis (``dim``/``axis``) a
    vector norm of order ``ord`` (2 by default; any number, inf, -inf, 0); over two a matrix norm
    ("fro" by default, "nuc", 1, -1, 2, -2, inf, -inf); with neither, the 2-norm of all elements
    when ``ord`` is None, else a vector norm of a 1-D and a matrix norm of a 2-D ``x``."""
    x = _floating(x, dtype)
    axes = _axes(axis if dim is None else dim, x.ndim)
    keepdims = keepdim if keepdims is None else keepdims
    if axes is None:
        if ord is None:
            return _vector_norm(x, 2, None, keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} without an axis needs a 1-D or 2-D input, got shape {tuple(x.shape)}")
        axes = tuple(range(x.ndim))
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm, but one axis ({axes[0]}) asks for a vector norm")
        return _vector_norm(x, 2 if ord is None else ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, "fro" if ord is None else ord, axes, keepdims)
    raise ValueError(f"norm: the axis must be an int or a pair of ints, got {axes}")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):  # noqa: A002
    """The vector norm of order ``ord`` over ``dim``/``axis`` (an int, a tuple, or all elements)."""
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: ord must be a number, got {ord!r}")
    x = _floating(x, dtype)
    return _vector_norm(x, ord, _axes(axis if dim is None else dim, x.ndim), keepdim if keepdims is None else keepdims)


def matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False, *, keepdims=None, dtype=None):  # noqa: A002
    """The matrix norm of order ``ord`` ("fro", "nuc", 1, -1, 2, -2, inf, -inf) over the two axes ``dim``."""
    x = _floating(x, dtype)
    return _matrix_norm(x, ord, _axes(dim, x.ndim), keepdim if keepdims is None else keepdims)


def _torch_norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """``torch.norm``: "fro" and any number are vector norms over ``dim`` (all elements by default);
    "nuc" is the nuclear norm over two dimensions (all, for a matrix)."""
    x = _floating(x, dtype)
    axes = _axes(dim, x.ndim)
    if p == "nuc":
        return _matrix_norm(x, "nuc", tuple(range(x.ndim)) if axes is None else axes, keepdim)
    if isinstance(p, str) and p != "fro":
        raise ValueError(f"norm: p={p!r}; torch.norm takes 'fro', 'nuc' or a number")
    return _vector_norm(x, 2 if p in ("fro", None) else p, axes, keepdim)


def _bind(op, args, kwargs, names):
    if len(args) > len(names):
        raise TypeError(f"{op}: at most {len(names)} arguments after the tensor, got {len(args)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise TypeError(f"{op}: unexpected or repeated argument {key!r} (this call reads as {names})")
        bound[key] = value
    return bound


def norm(x, *args, **kwargs):
    """A norm, in the call's dialect (api.md). NumPy's keywords (``ord=``, ``axis=``, ``keepdims=``) give
    ``numpy.linalg.norm(x, ord, axis, keepdims)``; PyTorch's (``p=``, ``dim=``, ``keepdim=``,
    ``dtype=``) or none give ``torch.norm(x, p="fro", dim=None, keepdim=False)``, where a number
    ``p`` is a vector norm over all elements by default: ``norm(m, 2)`` of a matrix is its
    Frobenius norm, where ``norm(m, ord=2)`` is NumPy's largest singular value."""
    numpy_words, torch_words = ("ord", "axis", "keepdims"), ("p", "dim", "keepdim", "dtype")
    if any(k in kwargs for k in numpy_words):
        if any(k in kwargs for k in torch_words):
            raise TypeError(f"norm: mix of NumPy keywords {numpy_words} and PyTorch keywords {torch_words}")
        bound = _bind("norm", args, kwargs, numpy_words)
        return linalg_norm(x, bound.get("ord"), bound.get("axis"), bool(bound.get("keepdims", False)))
    return _torch_norm(x, **_bind("norm", args, kwargs, torch_words))
