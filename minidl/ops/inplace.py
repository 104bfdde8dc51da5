"""In-place ops: the same tensor object and the same storage, with PyTorch's rules.

- On a leaf that requires grad they raise, unless inside ``no_grad()``, where they update it and
  keep it a leaf that requires grad (``with mdl.no_grad(): w -= lr * w.grad``, the hand-written
  SGD step).
- When grad mode is on and the tensor or the value requires grad, they are recorded: the tensor's
  node becomes the op's node, so gradients equal those of the out-of-place program. A value the
  VJPs need from before the write (x in ``x.mul_(y)``) is copied first, as PyTorch does.
- Every write bumps the storage's version counter: a value saved for backward and modified
  afterwards makes backward raise, naming the op, instead of giving a wrong gradient.
- A view cannot be modified in place while recording (minidl does not rebase a view's history
  onto its base): ``clone()`` it, or write through the tensor it views.
"""
import operator

from .. import autograd
from ..autograd import HOST_SCALARS, defvjp, primitive
from ..backends import namespace
from ..modes import switches
from ..tensor import Tensor
from .conversion import to_device
from .elementwise import add, clip, divide, multiply, subtract
from .shape import getitem, index_by_value


@primitive
def _setitem(x, index, value):
    """A copy of ``x`` with ``value`` written at ``index``: the out-of-place twin of ``x[index] = value``."""
    out = x.copy()
    out[index] = value
    return out


@primitive
def _zero_at(g, index):
    """``g`` with zeros at ``index``: what flows back to the part of ``x`` that ``x[index] = v`` overwrote."""
    out = g.copy()
    out[index] = 0
    return out


@primitive
def _fill(x, value):
    return namespace(x).full_like(x, value)


@primitive
def _copy_from(x, src):
    return namespace(x).broadcast_to(src, x.shape).astype(x.dtype)


defvjp(_setitem, lambda g, ans, x, index, value: _zero_at(g, index), None,
       lambda g, ans, x, index, value: getitem(g, index))
defvjp(_zero_at, lambda g, ans, x, index: _zero_at(g, index))
defvjp(_fill, lambda g, ans, x, value: g * 0, lambda g, ans, x, value: g.sum())
defvjp(_copy_from, lambda g, ans, x, src: g * 0, lambda g, ans, x, src: g)


def _write_setitem(a, index, value):
    a[index] = value


def _write_fill(a, value):
    a[...] = value


def _write_clip(a, lo, hi):
    namespace(a).clip(a, lo, hi, out=a)


def _apply(t, prim, write, *operands):
    """Write ``prim(t, *operands)`` into ``t``'s own array with ``write``, recording it when needed."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{prim.primitive.name}_: expected a Tensor, got {type(t).__name__}")
    name = prim.primitive.name
    recording = switches.grad_enabled and (
        t._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in operands))
    if recording and t._node is None and t._requires_grad:
        raise RuntimeError(f"{name}_: a leaf tensor that requires grad cannot be modified in place while "
                           "recording; do it inside `with minidl.no_grad():` (as an optimizer step does)")
    if recording and t._view is not None:
        raise RuntimeError(f"{name}_: in-place operation on a view of another tensor while recording; minidl "
                           "does not rewrite the history of the tensor it views: clone() the view first, or write "
                           "through the tensor itself")
    raw = [t.data]
    for o in operands:
        if isinstance(o, Tensor):
            if o.device != t.device:
                raise RuntimeError(f"{name}_: the value is on {o.device}, the tensor on {t.device}; move it with .to()")
            raw.append(o.data)
        else:
            raw.append(o.item() if o.__class__ in HOST_SCALARS else o)
    args = (t, *operands)
    private = ()
    if recording:
        argnums = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad)
        plan = prim.primitive.plan(argnums, len(args))
        xp = namespace(t.data)
        private = tuple(i for i in plan.full if hasattr(raw[i], "shape") and xp.may_share_memory(raw[i], t.data))
        saved = list(raw)
        for i in private:
            saved[i] = raw[i].copy()  # the value from before the write, for the VJPs
    try:
        write(*raw)
    except ValueError as err:
        shapes = ", ".join(str(tuple(getattr(r, "shape", ()))) for r in raw[1:])
        raise ValueError(f"{name}_: cannot write {shapes or 'the value'} in place into a tensor of shape "
                         f"{t.shape}: {err}") from err
    except TypeError as err:
        raise TypeError(f"{name}_: {err} (an in-place op keeps the tensor's dtype {t.dtype})") from err
    t._counter().value += 1
    if recording:
        parents = tuple(autograd.vertex(args[i]) for i in argnums)
        autograd.record(prim.primitive, t, args, saved, {}, argnums, parents, private)
    return t


def add_(t, other, alpha=1):
    return _apply(t, add, operator.iadd, other if alpha == 1 else other * alpha)


def sub_(t, other, alpha=1):
    return _apply(t, subtract, operator.isub, other if alpha == 1 else other * alpha)


def mul_(t, other):
    return _apply(t, multiply, operator.imul, other)


def div_(t, other):
    return _apply(t, divide, operator.itruediv, other)


def fill_(t, value):
    return _apply(t, _fill, _write_fill, value)


def copy_(t, src):
    if isinstance(src, Tensor) and src.device != t.device:
        src = to_device(src, t.device)
    return _apply(t, _copy_from, _write_fill, src)


def clamp_(t, min=None, max=None):  # noqa: A002 - PyTorch's argument names
    return _apply(t, clip, _write_clip, min, max)


def setitem_(t, index, value):
    """``t[index] = value``."""
    return _apply(t, _setitem, _write_setitem, index_by_value(index, t.data), value)
