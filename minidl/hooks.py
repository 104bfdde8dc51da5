"""Hooks on gradients: ``register_hook``, ``retain_grad`` and post-accumulate hooks, each removable.

A hook on a leaf lives on the tensor; a hook on a recorded tensor lives on the node that
made it and sees the tensor's whole gradient (the sum over its consumers). The backward
pass calls them only where some are registered.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

from .tensor import Tensor


class RemovableHandle:
    """Returned by every ``register_*hook``: ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable):
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class LeafHooks:
    """The hooks of one leaf tensor: on its incoming gradient, and after its ``.grad`` is updated."""

    __slots__ = ("grad", "post_accumulate")

    def __init__(self):
        self.grad: list = []
        self.post_accumulate: list = []


def _leaf_hooks(t) -> LeafHooks:
    if t._hooks is None:
        t._hooks = LeafHooks()
    return t._hooks


def register_grad_hook(t, hook: Callable) -> RemovableHandle:
    """``hook(grad)`` runs when ``t``'s gradient has been computed; a tensor it returns replaces the gradient."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    if t._node is None:
        hooks = _leaf_hooks(t).grad
    else:
        if t._node.hooks is None:
            t._node.hooks = []
        hooks = t._node.hooks
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def register_post_accumulate_hook(t, hook: Callable) -> RemovableHandle:
    """``hook(t)`` runs after backward has added into a leaf's ``.grad`` (DDP starts its all-reduce here)."""
    if t._node is not None or not t.requires_grad:
        raise RuntimeError("post-accumulate-grad hooks can only be registered on leaf tensors that require grad")
    hooks = _leaf_hooks(t).post_accumulate
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def retain_grad(t) -> None:
    """Make a recorded tensor keep its gradient in ``.grad`` (a no-op on leaves, which always do)."""
    if not t.requires_grad:
        raise RuntimeError("retain_grad() on a tensor that does not require grad")
    if t._node is None:
        return
    ref = weakref.ref(t)  # the node must not keep its own output alive

    def keep(grad):
        target = ref()
        if target is not None:
            grad = grad.detach()
            target.grad = grad.clone() if target.grad is None else target.grad + grad

    register_grad_hook(t, keep)


def run_grad_hooks(hooks: list, g: Any, device: str, create: bool) -> Any:
    """``g`` after every hook (hooks see and return Tensors; the backward pass may hold a raw array)."""
    for hook in list(hooks):
        result = hook(g if isinstance(g, Tensor) else Tensor(g, device))
        if result is not None:
            g = result if create else result.data
    return g


def run_post_accumulate_hooks(leaf) -> None:
    for hook in list(leaf._hooks.post_accumulate):
        hook(leaf)
