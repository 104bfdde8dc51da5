"""detect_anomaly's checks: NaN/Inf in a forward output or a VJP result, named with the forward call's file:line.

The switch itself is per thread (``modes.detect_anomaly``); the recording and the backward pass
call into this module only while it is on, so it costs nothing otherwise. Inside it every node
keeps a ``ForwardCall``: where the op was called and in which order (and, for ``mdl.trace``,
its output's value and its constant operands).
"""
from __future__ import annotations

import cmath
import itertools
import os
import sys
import traceback
from typing import Any, Optional

from . import backends
from .modes import CHECK_NAN, TRACE_VALUES, switches

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# files that only pass an op along (the op machinery): the op was called by the first frame outside them
_MACHINERY = tuple(_PACKAGE + name for name in ("autograd.py", "tensor.py", "ops" + os.sep, "broadcasting.py",
                                                "anomaly.py", "creation.py"))
_order = itertools.count()  # ForwardCall.index: the order in which ops were recorded (next() is atomic)


class AnomalyError(RuntimeError):
    """A NaN or Inf appeared in a forward output or a gradient inside ``detect_anomaly()``."""


class ForwardCall:
    """Where and when a recorded op was called; kept on its node (``node.stack``) in ``detect_anomaly()``.

    ``index`` orders the calls; ``frames`` is the call stack (source lines read only when shown).
    Inside ``modes.trace_values()`` also ``value``, a copy of the op's output, and ``operands``:
    for each argument, None when it is recorded (a tensor that requires grad), else a short description.
    """

    __slots__ = ("index", "frames", "value", "operands")

    def __init__(self, args: tuple, out: Any):
        self.index = next(_order)
        self.frames = traceback.StackSummary.extract(traceback.walk_stack(sys._getframe(2)), lookup_lines=False)
        self.frames.reverse()  # outermost first, as extract_stack gives them
        self.value = self.operands = None
        if switches.anomaly == TRACE_VALUES:
            self.value = out.data.copy()  # a copy: a later in-place write must not change the trace
            self.operands = tuple(None if getattr(a, "_requires_grad", False) else describe(a) for a in args)

    def location(self) -> str:
        """``file:line`` where the op was called, and where the user's code called that (if elsewhere)."""
        return call_site(self.frames)


def capture_stack(args: tuple, out: Any) -> ForwardCall:
    """The ``ForwardCall`` of the op that made ``out`` from ``args`` (called by ``autograd.record``)."""
    return ForwardCall(args, out)


def describe(value: Any) -> str:
    """A short name for a constant operand: its value when it is one number, else its shape."""
    data = _array(value)
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        if data.size == 1:
            return format(data.reshape(()).item(), "g") if data.dtype.kind in "fc" else str(data.reshape(()).item())
        return f"const{tuple(data.shape)}"
    if isinstance(value, float):
        return format(value, "g")
    if value is None or isinstance(value, (bool, int, str, tuple)):
        return repr(value)
    return type(value).__name__


def _frame_text(frame: traceback.FrameSummary) -> str:
    code = (frame.line or "").strip()
    return f"{frame.filename}:{frame.lineno}" + (f" (`{code}`)" if code else "")


def call_site(frames: traceback.StackSummary) -> str:
    """The innermost frame outside the op machinery, and the innermost outside minidl if that differs."""
    caller = user = None
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if caller is None and not path.startswith(_MACHINERY):
            caller = frame
        if not path.startswith(_PACKAGE):
            user = frame
            break
    if caller is None:
        return "an unknown place"
    where = _frame_text(caller)
    return where if user is None or user is caller else f"{where}, from {_frame_text(user)}"


def _array(value: Any) -> Any:
    """A Tensor's array (anomaly.py sits below tensor.py, so it recognises a Tensor by its attribute)."""
    return value.data if hasattr(value, "_requires_grad") else value


def _finite(value: Any) -> bool:
    value = _array(value)  # a Tensor under create_graph
    if isinstance(value, (int, float, complex)):
        return cmath.isfinite(value)
    if getattr(value.dtype, "kind", "f") not in "fc":
        return True
    return bool(backends.namespace(value).isfinite(value).all())


def check_forward(op: str, array: Any) -> None:
    """Raise if a forward op's output has a NaN or Inf (not for ops inside a VJP: ``check_vjp`` sees those)."""
    if switches.anomaly != CHECK_NAN or switches.raw_arrays or _finite(array):
        return
    frames = traceback.StackSummary.extract(traceback.walk_stack(sys._getframe(1)), lookup_lines=False)
    frames.reverse()
    raise AnomalyError(f"detect_anomaly: the forward op {op} produced NaN or Inf in its output "
                       f"(shape {tuple(array.shape)}), called at {call_site(frames)}")


def check_vjp(node: Any, argnum: int, gradient: Any) -> None:
    """Raise if a node's VJP returned NaN or Inf, naming the op, the argument and the forward call."""
    if switches.anomaly != CHECK_NAN or _finite(gradient):
        return
    call: Optional[ForwardCall] = node.stack
    where = call.location() if call is not None else "a place unknown (it was recorded outside detect_anomaly())"
    raise AnomalyError(f"detect_anomaly: the gradient of {node.prim.name} with respect to "
                       f"{node.prim.arg_name(argnum)} contains NaN or Inf; the forward {node.prim.name} was called "
                       f"at {where}")
