"""Sorting: ``argsort`` (not differentiable), and ``sort`` and ``topk``, whose values are taken from
the input at the sorted indices, so their gradient scatters back through ``take_along_axis``.

``sort`` answers in the call's dialect (api.md): NumPy's keywords (``axis=``, ``kind=``) give the values,
as ``numpy.sort``; PyTorch's (``dim=``, ``descending=``) or none give PyTorch's ``(values, indices)``.
Every sort is stable; a descending one keeps equal elements in their order too, and puts NaN first.
"""
from ..autograd import nondifferentiable
from ..backends import namespace
from ..tensor import ValuesIndices
from .shape import flatten, index, take_along_axis

_NUMPY_WORDS = ("axis", "kind", "order")
_TORCH_WORDS = ("dim", "descending")


@nondifferentiable
def _argsort(x, axis, descending):
    xp = namespace(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    # a stable ascending sort of the reversed array, read backwards: descending, ties in order, NaN first
    order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return x.shape[axis] - 1 - xp.flip(order, axis)


def _sort_call(name, args, kwargs):
    """``(axis, descending, pytorch)`` of a sort/argsort call in either dialect."""
    numpy_style = any(k in kwargs for k in _NUMPY_WORDS) or (len(args) > 1 and isinstance(args[1], str))
    if numpy_style and any(k in kwargs for k in _TORCH_WORDS):
        raise TypeError(f"{name}: mix of NumPy keywords {_NUMPY_WORDS} and PyTorch keywords {_TORCH_WORDS}")
    unknown = set(kwargs) - set(_NUMPY_WORDS) - set(_TORCH_WORDS) - {"stable"}
    if unknown or len(args) > 2:
        raise TypeError(f"{name}: unexpected arguments {sorted(unknown) or args[2:]}")
    if kwargs.get("order") is not None:
        raise TypeError(f"{name}: order= sorts structured arrays by field, which minidl tensors do not have")
    axis = args[0] if args else kwargs.get("axis", kwargs.get("dim", -1))
    descending = bool(kwargs.get("descending", args[1] if len(args) > 1 and not numpy_style else False))
    return axis, descending, not numpy_style


def argsort(x, *args, **kwargs):
    """The indices that sort ``x`` along ``axis``/``dim`` (the last by default; the flattened tensor with
    ``axis=None``), ascending or with PyTorch's ``descending=True``. Always stable."""
    axis, descending, _ = _sort_call("argsort", args, kwargs)
    if axis is None:
        x, axis = flatten(x), 0
    return _argsort(x, axis, descending)


def sort(x, *args, **kwargs):
    """``x`` sorted along ``axis``/``dim`` (the last by default). PyTorch's call (``dim=``, ``descending=``,
    or no keyword) returns ``(values, indices)``; NumPy's (``axis=``, ``kind=``) the values only, and
    ``axis=None`` sorts the flattened tensor. The gradient goes back to each value's position."""
    axis, descending, pytorch = _sort_call("sort", args, kwargs)
    if axis is None:
        x, axis = flatten(x), 0
    indices = _argsort(x, axis, descending)
    values = take_along_axis(x, indices, axis)
    return ValuesIndices(values, indices) if pytorch else values


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's argument name
    """PyTorch's ``topk``: ``(values, indices)`` of the ``k`` largest elements along ``dim`` (smallest with
    ``largest=False``), in sorted order (also with ``sorted=False``); ties keep their order."""
    n = x.shape[dim] if x.ndim else 1
    if not 0 <= int(k) <= n:
        raise ValueError(f"topk: k={k} is out of range for {n} elements along dim {dim}")
    order = _argsort(x, dim, largest)
    indices = index(order, (slice(None),) * (dim % max(x.ndim, 1)) + (slice(0, int(k)),))
    return ValuesIndices(take_along_axis(x, indices, dim), indices)
