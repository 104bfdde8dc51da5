"""Recording: primitives, their VJP registry, and the switch that turns recording off.

A primitive is a function on backend arrays. Wrapped with ``@primitive`` it also
accepts Tensors: it unwraps them, computes on the arrays, and, when an input
requires grad, records a ``Node`` on the output. ``defvjp`` registers, for each
positional argument, the vector-Jacobian product ``vjp(g, ans, *args, **kwargs)``
that the backward pass (``engine.py``) calls.

VJPs are written with minidl's own ops. In an ordinary backward pass they
receive raw arrays, and the ops compute directly; with ``create_graph=True``
they receive Tensors, the ops record, and the gradient is itself differentiable.
"""
import contextlib
import functools

from .tensor import Tensor

_grad_enabled = True
VJPS = {}  # primitive -> sequence indexed by argument number; entries are vjp functions or None


class Node:
    """The record of one op: what the backward pass needs to call its VJPs.

    ``args`` are the raw arrays the op computed on; ``parents`` are the input
    tensors that require grad, and ``argnums`` their positions among the args.
    """

    __slots__ = ("prim", "args", "kwargs", "argnums", "parents")

    def __init__(self, prim, args, kwargs, argnums, parents):
        self.prim = prim
        self.args = args
        self.kwargs = kwargs
        self.argnums = argnums
        self.parents = parents

    @property
    def name(self):
        return self.prim.__name__


def primitive(fun):
    """Make ``fun`` (a function on backend arrays) a differentiable op on Tensors.

    With no Tensor among the positional arguments it simply returns ``fun``'s
    result, so VJPs can call primitives on raw arrays at full speed.
    """
    return _tensor_op(fun, record=True)


def nondifferentiable(fun):
    """Make ``fun`` an op on Tensors whose result is never recorded (comparisons, argmax)."""
    return _tensor_op(fun, record=False)


def _tensor_op(fun, record):
    @functools.wraps(fun)
    def op(*args, **kwargs):
        raw = device = None
        argnums = parents = ()
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                if device is None:
                    raw, device = list(args), arg.device
                elif arg.device != device:
                    raise RuntimeError(f"{fun.__name__}: tensors are on different devices, "
                                       f"{device} and {arg.device}; move one with .to(device)")
                raw[i] = arg.data
                if arg._requires_grad:
                    argnums += (i,)
                    parents += (arg,)
        if device is None:
            return fun(*args, **kwargs)
        try:
            ans = fun(*raw, **kwargs)
        except ValueError as err:
            shapes = ", ".join(str(tuple(a.shape)) for a in raw if hasattr(a, "shape"))
            raise ValueError(f"{fun.__name__}: cannot apply to shapes {shapes}: {err}") from err
        if record and parents and _grad_enabled:
            return Tensor(ans, device, True, Node(op, raw, kwargs, argnums, parents))
        return Tensor(ans, device)

    op.fun = fun
    if record:
        VJPS[op] = ()
    return op


def defvjp(prim, *vjps):
    """Register ``vjps[i](g, ans, *args, **kwargs)`` as the VJP for argument i of ``prim``.

    ``None`` marks an argument with no gradient (an index, a shape, a mask).
    """
    if prim not in VJPS:
        raise TypeError(f"defvjp: {prim!r} is not a primitive; decorate it with @minidl.primitive")
    VJPS[prim] = vjps


class _ArgnumVJPs:
    """A VJP table for ops with any number of arguments (concatenate)."""

    __slots__ = ("vjp",)

    def __init__(self, vjp):
        self.vjp = vjp

    def __getitem__(self, argnum):
        return functools.partial(self.vjp, argnum)


def defvjp_argnum(prim, vjp):
    """Register one ``vjp(argnum, g, ans, *args, **kwargs)`` for every argument of ``prim``."""
    defvjp(prim, _ArgnumVJPs(vjp))
    VJPS[prim] = VJPS[prim][0]


def is_grad_enabled():
    """Whether ops are being recorded."""
    return _grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode):
    """Record ops (``True``) or not (``False``) inside the block."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Record nothing inside the block: for evaluation and optimizer updates."""
    return set_grad_enabled(False)


def enable_grad():
    """Record again inside a ``no_grad`` block."""
    return set_grad_enabled(True)
