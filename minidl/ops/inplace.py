"""In-place ops: the same tensor object and the same storage, with PyTorch's rules.

- On a leaf that requires grad they raise, unless inside ``no_grad()``, where they update it and
  keep it a leaf that requires grad (``with mdl.no_grad(): w -= lr * w.grad``, the hand-written
  SGD step).
- When grad mode is on and the tensor or the value requires grad, they are recorded: the tensor's
  node becomes the op's node, so gradients equal those of the out-of-place program. A value the
  VJPs need from before the write (x in ``x.mul_(y)``) is copied first, as PyTorch does.
- Every write bumps the storage's version counter: a value saved for backward and modified
  afterwards makes backward raise, naming the op, instead of giving a wrong gradient.
- Through a view (``y[0] *= 3``, ``x[:, 1].add_(v)``) the write reaches the tensor the view belongs
  to, and so does the record: that tensor's node becomes "itself with the view's elements replaced"
  (as PyTorch rewrites a base's history), and views of it taken before are stale from then on.
"""
import operator

from .. import autograd, hooks
from ..autograd import HOST_SCALARS, defvjp, primitive
from ..backends import namespace
from ..dtypes import is_floating
from ..modes import switches
from ..tensor import Tensor, ViewOf, mark_written
from .conversion import to_device
from .elementwise import (abs, add, clip, divide, exp, log, multiply, negative, relu, sigmoid, sqrt, subtract,
                          tanh, zeros_of)
from .shape import getitem, index_by_value, reshape


@primitive
def _setitem(x, index, value):
    """A copy of ``x`` with ``value`` written at ``index``: the out-of-place twin of ``x[index] = value``."""
    out = x.copy()
    out[index] = value
    return out


@primitive
def _zero_at(g, index):
    """``g`` with zeros at ``index``: what flows back to the part of ``x`` that ``x[index] = v`` overwrote."""
    out = namespace(g).array(g, copy=True)  # g may be a NumPy scalar in a VJP: make it an array
    out[index] = 0
    return out


@primitive
def _replace_at(root, values, positions):
    """``root`` with its elements at the flat ``positions`` replaced by ``values``: the record of a tensor
    after an in-place write through one of its views."""
    out = root.copy()
    out.reshape(-1)[positions.reshape(-1)] = values.reshape(-1)
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
defvjp(_replace_at,
       lambda g, ans, root, values, positions: reshape(_zero_at(reshape(g, (-1,)), positions), root.shape),
       lambda g, ans, root, values, positions: getitem(reshape(g, (-1,)), positions), None)
defvjp(_fill, lambda g, ans, x, value: zeros_of(g), lambda g, ans, x, value: g.sum())
defvjp(_copy_from, lambda g, ans, x, src: zeros_of(g), lambda g, ans, x, src: g)


def _write_setitem(a, index, value):
    a[index] = value


def _write_fill(a, value):
    a[...] = value


def _write_clip(a, lo, hi):
    namespace(a).clip(a, lo, hi, out=a)


def _apply(t, prim, write, *operands, name=None):
    """Write ``prim(t, *operands)`` into ``t``'s own array with ``write``, recording it when needed.
    ``name`` (the op's, without the underscore) is what errors call it; by default the primitive's name."""
    name = name or prim.primitive.name
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}_: expected a Tensor, got {type(t).__name__}")
    recording = switches.grad_enabled and is_floating(t.dtype) and (
        t._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in operands))
    if recording:
        for o in operands:
            if isinstance(o, Tensor) and o._view is not None:
                autograd.check_view_is_current(o, f"{name}_")
    if recording and t._node is None and t._requires_grad:
        raise RuntimeError(f"{name}_: a leaf tensor that requires grad cannot be modified in place while "
                           "recording; do it inside `with minidl.no_grad():` (as an optimizer step does)")
    if recording and t._view is not None:
        return _apply_through_view(t, prim, operands, f"{name}_")
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
    mark_written(t)
    if recording:
        retains = t._node is not None and t._node.hooks is not None and t._node.hooks.retains is not None
        parents = tuple(autograd.vertex(args[i]) for i in argnums)
        autograd.record(prim.primitive, t, args, saved, {}, argnums, parents, private)
        if retains:  # t.retain_grad() follows t to its new value, as in PyTorch
            hooks.retain_grad(t)
    return t


def _apply_through_view(t, prim, operands, name):
    """A recorded in-place op on a view: the view's new value is recorded from a snapshot of its old one
    (which its VJPs may read: the write overwrites it), written into the shared memory, and the root
    tensor's record becomes "the root with the view's elements replaced by that value"."""
    view = t._view
    if view.root is None:
        raise RuntimeError(f"{name}: in-place operation on a detached tensor with a value that requires grad; "
                           "the tensor it was detached from would change behind its record: clone() it first")
    autograd.check_view_is_current(t, name)
    root = view.root
    if root._node is None and root._requires_grad:
        raise RuntimeError(f"{name}: a view of a leaf tensor that requires grad cannot be modified in place while "
                           "recording; do it inside `with minidl.no_grad():`, or on a clone()")
    if view.steps is None:
        raise RuntimeError(f"{name}: in-place operation on a view minidl cannot retrace to the tensor it views "
                           "(made by an op returning a view of a later argument); clone() it first")
    xp = namespace(t.data)
    operands = [_snapshot(o) if isinstance(o, Tensor) and xp.may_share_memory(o.data, root.data) else o
                for o in operands]  # values read before the write, kept as they were
    new = prim(_snapshot(t), *operands)
    if new.shape != t.shape:
        raise ValueError(f"{name}: cannot write a value of shape {new.shape} in place into a tensor of shape {t.shape}")
    if not xp.can_cast(new.dtype, t.dtype, "same_kind"):
        raise TypeError(f"{name}: the result is {new.dtype}, which an in-place op cannot store in a {t.dtype} tensor")
    t.data[...] = new.data
    mark_written(t)
    positions = _flat_positions(root, view.steps, t.shape)
    args = (root, new, positions)
    argnums = ((0,) if root._requires_grad else ()) + (1,)
    parents = tuple(autograd.vertex(args[i]) for i in argnums)
    autograd.record(_replace_at.primitive, root, args, [root.data, new.data, positions], {}, argnums, parents)
    t._node, t._requires_grad = new._node, True
    t._view = ViewOf(root, root._node, view.steps)
    return t


def _snapshot(t):
    """A private copy of ``t``'s values that keeps ``t``'s place in the record."""
    copy = Tensor(t.data.copy(), t.device)
    copy._node, copy._requires_grad = t._node, t._requires_grad
    return copy


def _flat_positions(root, steps, shape):
    """Where the view's elements sit in its root, as flat indices: the view's steps applied to a range."""
    positions = namespace(root.data).arange(root.data.size).reshape(root.data.shape)
    for fun, args, kwargs in steps:
        positions = fun(positions, *args, **kwargs)
    if tuple(positions.shape) != tuple(shape):
        raise RuntimeError(f"cannot retrace a view of shape {shape} to its root of shape {root.shape}")
    return positions


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


def _elementwise_in_place(op, name):
    """The in-place form ``name_`` of the elementwise ``op``: refused when the tensor's dtype cannot hold the
    result (``sigmoid_`` of an integer tensor), as PyTorch does."""
    fun = op.primitive.fun

    def write(a):
        namespace(a).copyto(a, fun(a), casting="same_kind")  # raises TypeError where a cannot hold the result

    def in_place(t):
        return _apply(t, op, write, name=name)

    in_place.__name__ = in_place.__qualname__ = f"{name}_"
    in_place.__doc__ = f"``t.{name}_()``: {name}(t) written into t, recorded as the out-of-place op."
    return in_place


abs_, exp_, log_, neg_, relu_, sigmoid_, sqrt_, tanh_ = (_elementwise_in_place(op, name) for op, name in (
    (abs, "abs"), (exp, "exp"), (log, "log"), (negative, "neg"), (relu, "relu"), (sigmoid, "sigmoid"),
    (sqrt, "sqrt"), (tanh, "tanh")))


def setitem_(t, index, value):
    """``t[index] = value``."""
    return _apply(t, _setitem, _write_setitem, index_by_value(index, t.data), value)
