"""What the record keeps for each op: only what its VJPs read (PyTorch's saved tensors).

``defvjp`` hands each VJP to ``usage``, which reads the VJP's code once and reports, for
``ans`` and for each argument, whether the VJP uses it whole (FULL), only its metadata
(SHAPE: ``x.shape``, ``x.ndim``, ``x.dtype``) or not at all (UNUSED). For a call whose
inputs ``argnums`` require grad, ``plan`` combines the VJPs of those inputs into what
the node keeps: e.g. ``y = x * 1.0001`` keeps nothing (the VJP for x reads the constant,
not x), ``sum(x)`` keeps x's shape, ``tanh(x)`` keeps its output.

A VJP the analysis cannot read (a builtin, a callable object, code using ``locals()``)
is taken to read everything: conservative, never wrong.
"""
from __future__ import annotations

import dis
import inspect
from typing import Any, Callable, NamedTuple

UNUSED, SHAPE, FULL = 0, 1, 2
METADATA = frozenset({"shape", "ndim", "dtype"})
_DYNAMIC = frozenset({"locals", "vars", "eval", "exec", "_getframe", "currentframe", "f_locals", "getargvalues"})


class ArrayMeta:
    """Stands in for an array whose VJPs read only its shape, ndim and dtype."""

    __slots__ = ("shape", "ndim", "dtype")

    def __init__(self, array: Any):
        self.shape, self.ndim, self.dtype = tuple(array.shape), array.ndim, array.dtype

    def __repr__(self) -> str:
        return f"ArrayMeta(shape={self.shape}, dtype={self.dtype})"


class Usage(NamedTuple):
    """How one VJP uses ``ans``, each positional argument, and any further (``*args``) arguments."""

    ans: int
    args: tuple
    rest: int

    def of_arg(self, i: int) -> int:
        return self.args[i] if i < len(self.args) else self.rest


READS_EVERYTHING = Usage(FULL, (), FULL)


def usage(vjp: Callable, leading: int) -> Usage:
    """How ``vjp`` uses its parameters after the first ``leading`` ones (``g``; ``argnum, g``).

    The parameter after those is ``ans``; the rest are the op's arguments, by position.
    """
    if inspect.ismethod(vjp):  # a bound method: its function's first parameter is filled by the object
        vjp, leading = vjp.__func__, leading + 1
    code = getattr(vjp, "__code__", None)
    if code is None or _DYNAMIC & set(code.co_names):
        return READS_EVERYTHING
    params = code.co_varnames[:code.co_argcount]
    varargs = code.co_varnames[code.co_argcount + code.co_kwonlyargcount] if code.co_flags & inspect.CO_VARARGS else None
    modes = dict.fromkeys((*params[leading:], *([varargs] if varargs else [])), UNUSED)
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if not (ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE")):
            continue
        names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        for name in names:
            if name in modes:
                after = instructions[k + 1] if k + 1 < len(instructions) and len(names) == 1 else None
                only_metadata = after is not None and after.opname == "LOAD_ATTR" and after.argval in METADATA
                modes[name] = max(modes[name], SHAPE if only_metadata else FULL)
    for name in set(code.co_cellvars) & modes.keys():  # read inside a nested function: assume whole
        modes[name] = FULL
    named = params[leading:]
    if not named:  # the VJP takes even ans through *args
        return Usage(modes.get(varargs, UNUSED), (), modes.get(varargs, UNUSED))
    return Usage(modes[named[0]], tuple(modes[p] for p in named[1:]),
                 modes[varargs] if varargs else FULL)


class Plan(NamedTuple):
    """What a node keeps for one pattern of inputs that require grad."""

    ans: int          # UNUSED, SHAPE or FULL
    full: tuple       # argument positions kept whole
    shape: tuple      # argument positions kept as ArrayMeta
    dropped: tuple    # argument positions replaced by None
    nargs: int        # the number of arguments of the call this plan is for


def plan(usage_of: Callable, argnums: tuple, nargs: int) -> Plan:
    """Combine the usages of the VJPs of ``argnums``; ``usage_of(i)`` is None where no VJP is registered."""
    ans, modes = UNUSED, [UNUSED] * nargs
    for i in argnums:
        u = usage_of(i)
        if u is None:
            continue  # no VJP: backward will raise for this argument, nothing to keep for it
        ans = max(ans, u.ans)
        for j in range(nargs):
            modes[j] = max(modes[j], u.of_arg(j))
    return Plan(ans, tuple(j for j, m in enumerate(modes) if m == FULL),
                tuple(j for j, m in enumerate(modes) if m == SHAPE),
                tuple(j for j, m in enumerate(modes) if m == UNUSED), nargs)

