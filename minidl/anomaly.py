"""detect_anomaly's checks: NaN/Inf in a forward output or a VJP result, named with the forward call's file:line.

The switch itself is per thread (``modes.detect_anomaly``); the recording and the backward pass
call into this module only while it is on, so it costs nothing otherwise.
"""
from __future__ import annotations

import os
import traceback
from typing import Any

from . import backends

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward output or a gradient inside ``detect_anomaly()``."""


def _finite(array: Any) -> bool:
    if getattr(array.dtype, "kind", "f") not in "fc":
        return True
    return bool(backends.namespace(array).isfinite(array).all())


def check_forward(op: str, array: Any) -> None:
    if not _finite(array):
        raise AnomalyError(f"detect_anomaly: the forward op {op} produced NaN or Inf in its output "
                           f"(shape {tuple(array.shape)})")


def capture_stack() -> traceback.StackSummary:
    return traceback.extract_stack()


def user_frame(stack: traceback.StackSummary) -> str:
    """``file:line`` of the innermost frame outside minidl itself: where the user called the op."""
    for frame in reversed(stack):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE):
            return f"{frame.filename}:{frame.lineno}"
    return "an unknown place"


def check_vjp(node: Any, argnum: int, gradient: Any) -> None:
    array = gradient.data if hasattr(gradient, "_requires_grad") else gradient  # a Tensor under create_graph
    if not _finite(array):
        where = user_frame(node.stack) if node.stack is not None else "a forward call recorded outside detect_anomaly()"
        raise AnomalyError(f"detect_anomaly: the gradient of {node.prim.name} with respect to "
                           f"{node.prim.arg_name(argnum)} contains NaN or Inf; the forward {node.prim.name} was called "
                           f"at {where}")
