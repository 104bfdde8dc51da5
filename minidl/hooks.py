"""Hooks on gradients: ``register_hook``, ``retain_grad`` and post-accumulate hooks, each removable.

A hook on a leaf lives on the tensor; a hook on a recorded tensor lives on the node that
made it and sees the tensor's whole gradient (the sum over its consumers). The backward
pass calls them only where some are registered. Semantics are PyTorch's: hooks run in the
order registered, a returned tensor replaces the gradient (same shape and dtype), and the
gradient ``retain_grad`` keeps is the one after every hook.
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any, Callable, Optional

from .tensor import Tensor

_ids = itertools.count()


class RemovableHandle:
    """Returned by every ``register_*hook``: ``handle.remove()`` unregisters that one hook.

    Also a context manager that removes the hook on leaving the block, as PyTorch's.
    """

    __slots__ = ("id", "_table")

    def __init__(self, table: dict):
        self.id = next(_ids)
        self._table = table

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(table: dict, entry: Any, prepend: bool = False) -> RemovableHandle:
    """Put ``entry`` (a hook) into ``table`` (handle id -> entry, in calling order) and return its handle."""
    handle = RemovableHandle(table)
    table[handle.id] = entry
    if prepend:  # move every other hook after it
        for key in [k for k in table if k != handle.id]:
            table[key] = table.pop(key)
    return handle


class GradHooks:
    """The gradient hooks of one tensor, and the tensor that retains its gradient (``retain_grad``)."""

    __slots__ = ("fns", "retains")

    def __init__(self):
        self.fns: dict = {}
        self.retains: Optional[weakref.ref] = None  # weak: the node must not keep its own output alive


class LeafHooks:
    """The hooks of one leaf tensor: on its incoming gradient, and after its ``.grad`` is updated."""

    __slots__ = ("grad", "post_accumulate")

    def __init__(self):
        self.grad = GradHooks()
        self.post_accumulate: dict = {}


def _leaf_hooks(t: Tensor) -> LeafHooks:
    if t._hooks is None:
        t._hooks = LeafHooks()
    return t._hooks


def _grad_hooks(t: Tensor) -> GradHooks:
    """Where the gradient hooks of ``t`` live: on the leaf itself, or on the node that made it."""
    if t._node is None:
        return _leaf_hooks(t).grad
    if t._node.hooks is None:
        t._node.hooks = GradHooks()
    return t._node.hooks


def check_callable(hook: Any) -> None:
    if not callable(hook):
        raise TypeError(f"a hook must be callable, not {type(hook).__name__}")


def register_grad_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    """``hook(grad)`` runs when ``t``'s gradient has been computed; a tensor it returns replaces the gradient."""
    check_callable(hook)
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    return add_hook(_grad_hooks(t).fns, hook)


def register_post_accumulate_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    """``hook(t)`` runs after backward has added into a leaf's ``.grad`` (DDP starts its all-reduce here)."""
    check_callable(hook)
    if t._node is not None or not t.requires_grad:
        raise RuntimeError("post-accumulate-grad hooks can only be registered on leaf tensors that require grad")
    return add_hook(_leaf_hooks(t).post_accumulate, hook)


def retain_grad(t: Tensor) -> None:
    """Make a recorded tensor keep its gradient in ``.grad`` (a no-op on leaves, which always do)."""
    if not t.requires_grad:
        raise RuntimeError("retain_grad() on a tensor that does not require grad")
    if t._node is not None:
        _grad_hooks(t).retains = weakref.ref(t)


def run_grad_hooks(hooks: GradHooks, g: Any, device: str, create: bool) -> Any:
    """``g`` after every hook (hooks see and return Tensors; the backward pass may hold a raw array).

    The tensor that retains its gradient gets it last, after every hook, as in PyTorch.
    """
    for hook in tuple(hooks.fns.values()):  # a copy: a hook may remove itself
        given = g if isinstance(g, Tensor) else Tensor(g, device)
        result = hook(given)
        if result is not None:
            _check_replacement(hook, given, result)
            g = result if create else result.data
    target = hooks.retains() if hooks.retains is not None else None
    # an in-place op since retain_grad() gave the tensor a new node: this gradient is its old value's, not kept
    if target is not None and target._node is not None and target._node.hooks is hooks:
        kept = g if isinstance(g, Tensor) else Tensor(g, device)
        target.grad = kept.clone() if target.grad is None else target.grad + kept  # recorded under create_graph
    return g


def _check_replacement(hook: Callable, given: Tensor, result: Any) -> None:
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(result, Tensor):
        raise TypeError(f"hook {name!r} returned a {type(result).__name__}; a gradient hook returns None or a Tensor")
    if result.shape != given.shape or result.dtype != given.dtype or result.device != given.device:
        raise RuntimeError(f"hook {name!r} changed the gradient from {given.shape} {given.dtype} on {given.device} "
                           f"to {result.shape} {result.dtype} on {result.device}; a replacement must have the same shape, "
                           "dtype and device")


def leaf_gradient(leaf: Tensor, g: Any, create: bool) -> Any:
    """The gradient reaching ``leaf`` after its hooks (``grad()`` returns it; ``backward()`` accumulates it)."""
    if leaf._hooks is None:
        return g
    return run_grad_hooks(leaf._hooks.grad, g, leaf.device, create)


def run_post_accumulate_hooks(leaf: Tensor) -> None:
    for hook in tuple(leaf._hooks.post_accumulate.values()):
        hook(leaf)
