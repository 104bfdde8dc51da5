"""Recording: primitives, their VJPs, and the Node each recorded op leaves behind.

A primitive is a function on backend arrays. ``@primitive`` makes it an op on Tensors: it
unwraps its tensor arguments, computes on the arrays, and, when an input requires grad and
grad mode is on in this thread, records a ``Node`` on the output. ``defvjp`` registers, for
each positional argument, the vector-Jacobian product ``vjp(g, ans, *args, **kwargs)`` that
the backward pass (``engine.py``) calls (HIPS autograd's convention).

The record is a graph: a node's edges lead to the nodes that made its inputs, or to the
leaf tensors that collect ``.grad``; never to arrays. A node keeps only what its VJPs read
(``saved.py``), so an intermediate that no VJP reads is freed as soon as the program drops it.

VJPs are written with minidl's own ops. In an ordinary backward pass they run on raw arrays
and the ops compute directly (``modes.raw_arrays``); with ``create_graph=True`` they receive
Tensors, the ops record, and the gradient is itself differentiable.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional

from . import anomaly, backends, creation, modes, saved
from .modes import switches
from .saved import FULL, SHAPE, ArrayMeta
from .tensor import Tensor, VersionCounter, ViewOf

HOST_SCALARS = backends.host_scalar_types()  # NumPy scalars: treated as Python numbers next to tensors
_SCALARS = HOST_SCALARS | {bool, int, float, complex}  # results that must become 0-d arrays
_SEQUENCES = (list, tuple)

_plain: set = set()  # argument classes an op passes on as they are (arrays, Python numbers): see _is_plain


def _is_plain(cls: type) -> bool:
    """Whether arguments of class ``cls`` are passed on as they are (no tensor, host scalar or sequence);
    remembered in ``_plain``, so the backward pass's ops test each argument with one set lookup."""
    plain = not issubclass(cls, Tensor) and cls not in HOST_SCALARS and cls not in _SEQUENCES
    if plain:
        _plain.add(cls)
    return plain


class Primitive:
    """What minidl knows about one op: its function on arrays, its VJPs and what they read."""

    __slots__ = ("fun", "name", "differentiable", "vjps", "usage_of", "plans", "_signature")

    def __init__(self, fun: Callable, differentiable: bool):
        self.fun, self.name, self.differentiable = fun, fun.__name__.lstrip("_"), differentiable
        self.vjps: Any = ()
        self.usage_of: Callable = lambda i: None
        self.plans: dict = {}
        self._signature = None

    @property
    def signature(self) -> inspect.Signature:
        if self._signature is None:
            self._signature = inspect.signature(self.fun)
        return self._signature

    def plan(self, argnums: tuple, nargs: int) -> saved.Plan:
        """What a node keeps when the inputs at ``argnums`` require grad, for a call with ``nargs``
        arguments. Cached by ``argnums`` (one plan per argument count, the usual one first)."""
        found = self.plans.get(argnums)
        if found is not None and found.nargs == nargs:
            return found
        key = argnums if found is None else (argnums, nargs)
        found = self.plans.get(key)
        if found is None:
            found = self.plans[key] = saved.plan(self.usage_of, argnums, nargs)
        return found

    def missing_vjp(self, i: int) -> Callable:
        """A VJP that raises: for an argument registered with None, or not registered at all."""
        def no_gradient(*args, **kwargs):
            raise TypeError(f"{self.name} has no gradient with respect to {self.arg_name(i)}; register one with defvjp")
        return no_gradient

    def arg_name(self, i: int) -> str:
        params = [p.name for p in self.signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return f"argument {i} ({params[i]})" if i < len(params) else f"argument {i}"

    def bind_keywords(self, args: tuple, kwargs: dict) -> tuple:
        """Move tensors passed by keyword to their positions, so they are recorded like positional ones.

        A tensor that can only be passed by keyword (keyword-only, ``**kwargs``) is used as a
        constant when it does not require grad, and refused when it does: never a silent zero.
        """
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return args, kwargs, ()  # let the call itself raise its usual error
        bound.apply_defaults()
        args, kwargs = bound.args, dict(bound.kwargs)
        kept = ()
        for key, value in kwargs.items():
            if isinstance(value, Tensor):
                if value._requires_grad and switches.grad_enabled and self.differentiable:
                    raise TypeError(f"{self.name}: the tensor passed as keyword argument {key!r} requires grad, "
                                    "but only positional arguments are differentiated; pass it positionally")
                counter = value._version
                kept += ((value, 0 if counter is None else counter.value, key),)  # version-checked like args
                kwargs[key] = value.data
        return args, kwargs, kept


class Node:
    """The record of one op: its primitive, its edges, and what its VJPs will read.

    ``parents[k]`` is the vertex of argument ``argnums[k]``: the Node that made it, or the
    leaf Tensor that collects its gradient. ``args`` are the op's positional arguments with
    the arrays no VJP reads replaced by None (or by an ArrayMeta when only the shape is read);
    ``ans`` is the output when a VJP reads it. ``checks`` holds ``(tensor, version, position)``
    for every input kept (``(version counter, version, -1)`` for the output), so a later in-place
    write to one is caught before its value is used.
    ``args`` is None once backward has released the node.
    """

    __slots__ = ("prim", "parents", "argnums", "args", "kwargs", "ans", "checks", "shape", "dtype", "device",
                 "hooks", "stack", "__weakref__")

    def __init__(self, prim, parents, argnums, args, kwargs, ans, checks, shape, dtype, device):
        self.prim = prim
        self.parents = parents
        self.argnums = argnums
        self.args = args
        self.kwargs = kwargs
        self.ans = ans
        self.checks = checks
        self.shape = shape
        self.dtype = dtype
        self.device = device
        self.hooks: Any = None             # the GradHooks of the tensor this node made (hooks.py)
        self.stack = None                  # the forward call's stack, in detect_anomaly() only

    def name(self) -> str:
        """PyTorch-style name of the backward of this op, e.g. ``MultiplyBackward``."""
        return "".join(part.capitalize() for part in self.prim.name.split("_")) + "Backward"

    @property
    def next_functions(self) -> tuple:
        """``((vertex, 0), ...)``: the nodes (or leaf tensors) this node sends gradients to."""
        return tuple((p, 0) for p in self.parents)

    def __repr__(self) -> str:
        return f"<{self.name()} {self.shape} {self.dtype}>"


def vertex(t: Tensor) -> Any:
    """Where ``t`` sits in the record: the node that made it, or itself for a leaf."""
    return t if t._node is None else t._node


def primitive(fun: Callable) -> Callable:
    """Make ``fun`` (a function on backend arrays) a differentiable op on Tensors.

    Tensors passed by keyword are recorded like positional ones. Without any Tensor among
    the arguments, numbers and arrays become Tensors (``mdl.sqrt(4.0)`` is a Tensor), except
    inside VJPs of an ordinary backward pass, where arrays stay arrays for speed.
    """
    return _make_op(fun, differentiable=True)


def nondifferentiable(fun: Callable) -> Callable:
    """Make ``fun`` an op on Tensors whose result is never recorded (comparisons, argmax)."""
    return _make_op(fun, differentiable=False)


def _make_op(fun: Callable, differentiable: bool) -> Callable:
    prim = Primitive(fun, differentiable)

    @functools.wraps(fun)
    def op(*args, **kwargs):
        if switches.raw_arrays and not kwargs:  # a VJP's op in an ordinary backward pass, the usual case first:
            for arg in args:                     # arrays and numbers only, so no tensor to unwrap or record
                if arg.__class__ not in _plain and not _is_plain(arg.__class__):
                    break
            else:
                try:
                    return fun(*args)  # called here, not through _on_raw_arrays: one call less per VJP op
                except TypeError:
                    return _on_raw_arrays(op, args, kwargs)  # calls it again: raises, or numbers make a Tensor
        keyword_checks = ()
        if kwargs and any(isinstance(v, Tensor) for v in kwargs.values()):
            args, kwargs, keyword_checks = prim.bind_keywords(args, kwargs)
        raw = device = None
        argnums, parents, views, scalars = (), (), False, False
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                if raw is None:
                    raw, device = list(args), arg.device
                elif arg.device != device:
                    raise RuntimeError(f"{prim.name}: tensors are on different devices, {device} and "
                                       f"{arg.device}; move one with .to(device)")
                raw[i] = arg.data
                if arg._requires_grad:
                    argnums += (i,)
                    parents += (arg if arg._node is None else arg._node,)
                if arg._view is not None:
                    views = True
            elif arg.__class__ in HOST_SCALARS:
                scalars = True
            elif arg.__class__ in _SEQUENCES:
                for e in arg:
                    if isinstance(e, Tensor):
                        args = _unwrap_sequence(prim, args, i)
                        if raw is not None:
                            raw[i] = args[i]
                        break
        if raw is None:
            if switches.raw_arrays:  # a VJP's op in an ordinary backward pass: arrays in, arrays out
                return _on_raw_arrays(op, args, kwargs)
            return _on_arrays(op, args, kwargs)
        if scalars:  # np.float64(2) next to a float32 tensor keeps float32, as 2.0 does
            raw = [a.item() if a.__class__ in HOST_SCALARS else a for a in raw]
        if views and switches.grad_enabled:
            for a in args:
                if isinstance(a, Tensor) and a._view is not None:
                    check_view_is_current(a, prim.name)
        try:
            ans = fun(*raw, **kwargs) if kwargs else fun(*raw)
        except ValueError as err:
            shapes = ", ".join(str(tuple(a.shape)) for a in raw if hasattr(a, "shape"))
            raise ValueError(f"{prim.name}: cannot apply to shapes {shapes}: {err}") from err
        if ans.__class__ in _SCALARS:
            ans = backends.resolve(device)[0].asarray(ans, device=device)  # a 0-d array, never a scalar
        if modes.anomaly_threads and switches.anomaly:
            anomaly.check_forward(prim.name, ans)
        out = Tensor(ans, device)
        if getattr(ans, "base", None) is not None:
            _link_view(out, prim, args, raw, kwargs)
        else:
            for r in raw:
                if r is ans:  # the op returned an argument as it is
                    _link_view(out, prim, args, raw, kwargs)
                    break
        if argnums and differentiable and switches.grad_enabled:
            record(prim, out, args, raw, kwargs, argnums, parents)
            if keyword_checks:
                out._node.checks += keyword_checks
        return out

    op.primitive = prim
    return op


def _unwrap_sequence(prim: Primitive, args: tuple, i: int) -> tuple:
    """Tensors inside a list or tuple argument are used by value, or refused if they require grad:
    they are not recorded, and a gradient must never silently be zero."""
    seq = args[i]
    if switches.grad_enabled and prim.differentiable and any(
            isinstance(e, Tensor) and e._requires_grad for e in seq):
        raise TypeError(f"{prim.name}: {prim.arg_name(i)} is a {type(seq).__name__} holding tensors that require "
                        "grad; a primitive records only tensors passed as arguments themselves: pass them as "
                        "separate arguments (a primitive taking *args, with defvjp_argnum)")
    return (*args[:i], type(seq)(e.data if isinstance(e, Tensor) else e for e in seq), *args[i + 1:])


def _on_raw_arrays(op: Callable, args: tuple, kwargs: dict) -> Any:
    """An op called on arrays inside an ordinary backward pass: its function's array, as it is."""
    try:
        return op.primitive.fun(*args, **kwargs) if kwargs else op.primitive.fun(*args)
    except TypeError:
        if any(backends.is_array(a) for a in args):
            raise
        return _on_arrays(op, args, kwargs)  # an op on plain Python numbers in a VJP makes a Tensor, as outside


def _on_arrays(op: Callable, args: tuple, kwargs: dict) -> Any:
    """An op called without tensors outside the backward pass: its data argument becomes a Tensor."""
    args = list(args)
    k = next((i for i, a in enumerate(args) if backends.is_array(a)), None)
    if k is None:
        k = next((i for i, a in enumerate(args) if isinstance(a, (bool, int, float, complex, list))), None)
    if k is None:
        return op.primitive.fun(*args, **kwargs)
    args[k] = creation.as_tensor(args[k])
    return op(*args, **kwargs)


def record(prim: Primitive, out: Tensor, args: tuple, raw: list, kwargs: dict, argnums: tuple, parents: tuple,
           private: tuple = ()) -> None:
    """Attach to ``out`` the node of ``prim`` applied to ``args``, keeping only what its VJPs read.

    ``parents`` are the vertices of the arguments at ``argnums``. ``private`` are positions
    whose kept array is the node's own copy (an in-place op's input from before the write):
    no later write can reach it, so it needs no version check.
    """
    plan = prim.plans.get(argnums)  # prim.plan()'s usual case, inlined: this runs for every recorded op
    if plan is None or plan[-1] != len(raw):
        plan = prim.plan(argnums, len(raw))
    keep_ans, full, shape_only, dropped, _ = plan  # unpacked once: a NamedTuple's fields are slow to read
    checks = ()
    for i in full:
        a = args[i]
        if isinstance(a, Tensor) and not (private and i in private):
            counter = a._version  # a tensor without a counter has had no write yet: version 0
            checks += ((a, 0 if counter is None else counter.value, i),)
    for i in shape_only:
        if hasattr(raw[i], "shape"):
            raw[i] = ArrayMeta(raw[i])
    for i in dropped:
        raw[i] = None
    data = out.data
    ans = None
    if keep_ans == FULL:
        ans = data
        counter = out._version
        if counter is None:  # the node must not hold its own output tensor: it holds its counter
            counter = out._version = VersionCounter()
        checks += ((counter, counter.value, -1),)
    elif keep_ans == SHAPE:
        ans = ArrayMeta(data)
    node = Node(prim, parents, argnums, raw, kwargs, ans, checks, data.shape, data.dtype, out.device)
    if modes.anomaly_threads and switches.anomaly:
        node.stack = anomaly.capture_stack(args, out)
    if modes.collecting_threads and switches.new_nodes is not None:
        switches.new_nodes.append(node)
    out._node = node
    out._requires_grad = True


def _link_view(out: Tensor, prim: Primitive, args: tuple, raw: list, kwargs: dict) -> None:
    """If ``out``'s array shares memory with a tensor argument, make ``out`` a view of it.

    A view shares its source's version counter (an in-place write through either is seen by
    both), and its ``ViewOf`` says which tensor it views, the record that tensor had then (see
    ``check_view_is_current``) and how to make the view from it again (ops/inplace.py's rebase).
    """
    ans = out.data
    for p, (a, r) in enumerate(zip(args, raw)):
        if not isinstance(a, Tensor):
            continue
        if ans is r:
            step = ()  # the op returned its argument as it is
        elif backends.backend_of_array(ans).may_share_memory(ans, r):
            step = ((prim.fun, tuple(raw[1:]), dict(kwargs)),) if p == 0 else None
        else:
            continue
        out._version = a._counter()
        source = a._view
        if source is None:
            out._view = ViewOf(a, a._node, step)
        elif source.root is None:
            out._view = source  # a view of a detached tensor is a constant too
        else:
            steps = None if source.steps is None or step is None else source.steps + step
            out._view = ViewOf(source.root, source.node, steps)
        return


def check_view_is_current(t: Tensor, where: str) -> None:
    """Refuse a view whose root tensor got a new record (a recorded in-place op) after the view was taken:
    the view's own record still describes the old value, so a gradient through it would be wrong."""
    root, node_when_viewed = t._view.root, t._view.node
    if root is not None and root._node is not node_when_viewed:
        op = root._node.prim.name if root._node is not None else "an in-place op"
        raise RuntimeError(
            f"{where}: a tensor used here is a view of a tensor that was modified in place (by {op}) while "
            "recording, after the view was taken, so the view's recorded history is stale; take the view "
            "again after the in-place op")


def defvjp(prim: Callable, *vjps: Optional[Callable]) -> None:
    """Register ``vjps[i](g, ans, *args, **kwargs)`` as the VJP for argument i of ``prim``.

    ``None`` marks an argument with no gradient (an index, a shape, a mask).
    """
    spec = _spec(prim)
    for i, vjp in enumerate(vjps):
        if vjp is not None:
            _check_convention(spec, i, vjp)
    usages = [None if v is None else saved.usage(v, leading=1) for v in vjps]
    spec.vjps = tuple(spec.missing_vjp(i) if v is None else v for i, v in enumerate(vjps))
    spec.usage_of = lambda i: usages[i] if i < len(usages) else None
    spec.plans.clear()


class _ArgnumVJPs:
    """A VJP table for ops with any number of arguments (concatenate): entry i is vjp(i, ...)."""

    __slots__ = ("vjp",)

    def __init__(self, vjp):
        self.vjp = vjp

    def __getitem__(self, argnum):
        return functools.partial(self.vjp, argnum)


def defvjp_argnum(prim: Callable, vjp: Callable) -> None:
    """Register one ``vjp(argnum, g, ans, *args, **kwargs)`` for every argument of ``prim``."""
    spec = _spec(prim)
    usage = saved.usage(vjp, leading=2)
    spec.vjps = _ArgnumVJPs(vjp)
    spec.usage_of = lambda i: usage
    spec.plans.clear()


def _spec(prim: Callable) -> Primitive:
    spec = getattr(prim, "primitive", None)
    if not isinstance(spec, Primitive):
        raise TypeError(f"defvjp: {prim!r} is not a primitive; decorate it with @minidl.primitive")
    if not spec.differentiable:
        raise TypeError(f"defvjp: {spec.name} was declared nondifferentiable")
    return spec


def _check_convention(spec: Primitive, i: int, vjp: Callable) -> None:
    """Refuse at registration a VJP that cannot take ``(g, ans, *args)`` for every positional argument the
    primitive accepts, HIPS autograd's curried form ``lambda ans, x: lambda g: ...`` above all."""
    fn, bound = (vjp.__func__, 1) if inspect.ismethod(vjp) else (vjp, 0)
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    names = code.co_varnames[bound:code.co_argcount]
    convention = ("minidl calls vjp(g, ans, *args, **kwargs) with the op's positional arguments and uses the "
                  "gradient it returns")
    if names[:1] == ("ans",):
        raise TypeError(f"defvjp({spec.name}): the VJP for argument {i} starts with `ans`: this looks like HIPS "
                        f"autograd's curried form `lambda ans, x: lambda g: ...`; {convention}: write "
                        "`lambda g, ans, x: ...`")
    params = [p for p in spec.signature.parameters.values()]
    if code.co_flags & inspect.CO_VARARGS or any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < 2 + len(positional):
        raise TypeError(f"defvjp({spec.name}): the VJP for argument {i} takes {len(names)} positional parameters "
                        f"({', '.join(names)}), but {spec.name} accepts {len(positional)} ({', '.join(positional)}); "
                        f"{convention}: take them all (with the same defaults)")


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: Optional[bool] = None,
         create_graph: bool = False, allow_unused: bool = False, materialize_grads: bool = False) -> tuple:
    """PyTorch's ``torch.autograd.grad``: gradients of ``outputs`` with respect to ``inputs``."""
    return engine.grad(outputs, inputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                       allow_unused=allow_unused, materialize_grads=materialize_grads)


from . import engine  # noqa: E402 - the backward pass builds on the record defined above
