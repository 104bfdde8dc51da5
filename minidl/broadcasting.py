"""Broadcasting and its adjoint, the one place gradients are reduced back to an input's shape.

The engine calls ``sum_to_shape`` on every gradient whose shape differs from its input's,
so no VJP handles broadcasting itself. The two ops are each other's VJP, which makes
gradients of gradients through broadcasting work too.
"""
from __future__ import annotations

from typing import Any

from .autograd import defvjp, primitive
from .backends import namespace


@primitive
def sum_to_shape(x: Any, shape: tuple) -> Any:
    """Sum ``x`` over the dimensions that broadcasting added, giving ``shape``: the adjoint of broadcasting.

    ``shape`` may also have leading ones ``x`` lacks (NumPy writes a (1, 3) value into a row of 3)."""
    lead = x.ndim - len(shape)
    if lead < 0:
        return namespace(x).reshape(x, shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    out = x.sum(axis=axes) if axes else x
    return out if out.shape == shape else out.reshape(shape)


@primitive
def broadcast_to(x: Any, shape: tuple) -> Any:
    """``x`` broadcast to ``shape`` (a read-only view)."""
    return namespace(x).broadcast_to(x, shape)


defvjp(sum_to_shape, lambda g, ans, x, shape: broadcast_to(g, x.shape))
defvjp(broadcast_to, lambda g, ans, x, shape: sum_to_shape(g, x.shape))
