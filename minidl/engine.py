"""The backward pass: reverse topological order over the record, summed adjoints, VJP calls.

The record's vertices are Nodes (one per recorded op) and the leaf tensors that collect
``.grad``. Each vertex receives the sum of its consumers' partial adjoints before it is
visited; a node then passes that sum through its VJPs to its parents, a leaf adds it to
``.grad``. ``grad`` visits only the vertices that lead to its inputs. Higher-order
gradients, the functional transforms and checkpointing build on ``backward`` and ``grad``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional, Sequence

from . import backends, hooks, modes
from .anomaly import check_vjp
from .autograd import HOST_SCALARS, Node, check_view_is_current, vertex
from .broadcasting import sum_to_shape
from .modes import switches
from .saved import ArrayMeta
from .tensor import Tensor, mark_written

class Perturbation(Tensor):
    """A functional transform's own variable: a fresh leaf standing for a plain input.

    While its transform runs (``active``), a transform nested inside that closes over it must record
    its result (``create_graph="auto"``); once its transform has returned, it is a constant to every
    other transform, and never a reason to record."""

    __slots__ = ("active",)

    def __init__(self, data: Any, device: str):
        super().__init__(data, device, requires_grad=True)
        self.active = True


_callbacks = threading.local()  # per thread: a stack of lists, one per running backward pass
_accumulation = threading.Lock()  # held while a gradient is added into a leaf's .grad


def backward(root: Tensor, gradient: Any = None, retain_graph: Optional[bool] = None,
             create_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    The record is released afterwards unless ``retain_graph`` (which defaults to ``create_graph``).
    """
    if not root._requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no record to walk; "
                           "create its inputs with requires_grad=True")
    if root._view is not None:
        check_view_is_current(root, "backward()")
    _run([vertex(root)], [_seed(root, gradient)], None, retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: Optional[bool] = None,
         create_graph: bool = False, allow_unused: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to each of ``inputs``, without touching ``.grad``.

    As ``torch.autograd.grad``: an input the outputs do not depend on raises unless
    ``allow_unused`` (giving None) or ``materialize_grads`` (giving zeros).
    """
    grads, _ = gradients(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads)
    return grads


def gradients(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: Optional[bool] = None,
              create_graph: Any = False, allow_unused: bool = False, materialize_grads: bool = False,
              stop_at_inputs: bool = False) -> tuple:
    """``grad`` for the transforms: returns ``(grads, recorded)``.

    With ``stop_at_inputs`` the walk does not look behind the inputs (the transforms' own
    variables); ``create_graph="auto"`` records the gradient computation only when the graph
    reaches a leaf that requires grad other than the inputs (a closure's variable).
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if not (materialize_grads or allow_unused):  # PyTorch's errors: name what does not require grad
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
        if not any(out._requires_grad for out in outputs):
            raise RuntimeError("grad: the outputs do not require grad and have no record: nothing to differentiate")
    for t in (*outputs, *inputs):
        if t._view is not None:
            check_view_is_current(t, "grad()")
    roots, seeds = [], []
    for out, g in zip(outputs, grad_outputs):
        if out._requires_grad:
            roots.append(vertex(out))
            seeds.append(_seed(out, g))
    found, created = {}, create_graph is True
    if roots:
        found, created = _run(roots, seeds, [vertex(t) for t in inputs], retain_graph, create_graph, stop_at_inputs)
    grads = []
    for i, t in enumerate(inputs):
        g = found.get(vertex(t))
        if g is None:
            if materialize_grads:
                g = t.backend.xp.zeros_like(t.data)  # not t * 0: NaN where t is Inf
            elif allow_unused:
                grads.append(None)
                continue
            else:
                raise RuntimeError(f"grad: input {i} (shape {t.shape}) is not used by the outputs; "
                                   "pass allow_unused=True to get None for it")
        if g.__class__ in HOST_SCALARS:
            g = t.backend.asarray(g, device=t.device)
        if g.dtype != t.dtype:
            g = g.astype(t.dtype)  # each gradient has its input's dtype, as .grad does
        grads.append(g if isinstance(g, Tensor) else Tensor(g, t.device))
    return tuple(grads), created


def reaches_other_leaf(root: Tensor, known: Sequence[Tensor]) -> bool:
    """Whether ``root``'s record reaches a leaf that requires grad other than ``known`` (not looking behind them)."""
    if not root._requires_grad:
        return False
    return reverse_toposort([vertex(root)], {vertex(t) for t in known})[1]


def queue_callback(fn: Callable[[], None]) -> None:
    """Run ``fn()`` when the backward pass now running in this thread has finished (DDP's final wait)."""
    stack = getattr(_callbacks, "stack", None)
    if not stack:
        raise RuntimeError("queue_callback() can only be called while a backward pass runs (from a hook)")
    stack[-1].append(fn)


def _seed(root: Tensor, gradient: Any) -> Any:
    """The adjoint the pass starts from: ones for a one-element root, else ``gradient`` (array or Tensor)."""
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() of a tensor of shape {root.shape} needs a gradient argument "
                               "of that shape; only a one-element output gets the implicit gradient 1")
        return root.backend.xp.ones_like(root.data)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(root.backend.asarray(gradient, dtype=root.dtype, device=root.device), root.device)
    if gradient.shape != root.shape:
        raise ValueError(f"backward(): gradient of shape {gradient.shape} does not match the output's "
                         f"shape {root.shape}")
    return gradient


def _run(roots: list, seeds: list, targets: Optional[list], retain: Optional[bool], create: Any,
         stop_at_targets: bool = False) -> tuple:
    """Propagate ``seeds`` from ``roots``; return ``(adjoints that reached targets, whether recorded)``.

    ``retain`` defaults to whether the pass is recorded (``create``), as in PyTorch.
    """
    target_set = None if targets is None else set(targets)
    order, foreign = reverse_toposort(roots, target_set if stop_at_targets else None)
    if create == "auto":
        create = foreign
    retain = create if retain is None else retain
    needed = None if target_set is None else _leading_to(order, target_set, stop_at_targets)
    adjoints: dict = {}
    for root, seed in zip(roots, seeds):
        seed = (seed if isinstance(seed, Tensor) else Tensor(seed, root.device)) if create else \
            (seed.data if isinstance(seed, Tensor) else seed)
        old = adjoints.get(root)  # the same root twice: its seeds are summed
        adjoints[root] = seed if old is None else _Sum((*old, seed) if old.__class__ is _Sum else (old, seed))
    adoptable = set()  # leaves whose one gradient is a new array no one else holds: it can become .grad
    adopted = set()    # ids of arrays already made some leaf's .grad in this pass
    found = {}
    stack = getattr(_callbacks, "stack", None)
    if stack is None:
        stack = _callbacks.stack = []
    stack.append([])
    try:
        with modes.raw_arrays(), modes.set_grad_enabled(bool(create)):
            anomaly = switches.anomaly
            for v in order:
                g = adjoints.pop(v, None)
                if g is None:
                    continue
                summed = g.__class__ is _Sum
                if summed:
                    g = g.total()
                if v.__class__ is not Node:
                    if target_set is None:
                        if v._requires_grad:  # a leaf frozen since the forward pass gets nothing, as in PyTorch
                            own = (summed or v in adoptable) and id(g) not in adopted
                            if own:
                                adopted.add(id(g))
                            _accumulate(v, g, own, create)
                    elif v in target_set:
                        found[v] = hooks.leaf_gradient(v, g, create)  # grad() returns it after the leaf's hooks
                    continue
                if v.hooks:  # before grad() takes it, as PyTorch's tensor hooks
                    g = hooks.run_grad_hooks(v.hooks, g, v.device, create)
                if target_set is not None:
                    if v in target_set:
                        found[v] = g
                        if stop_at_targets:
                            continue
                    if not any(p in needed for p in v.parents):
                        continue  # not on a path to a target (or a target with nothing wanted behind it)
                # a node: check what it kept, then send g through each VJP to its parents
                args = v.args
                if args is None:
                    raise RuntimeError("trying to backward through the graph a second time: the values it "
                                       "saved were freed by the first backward(); pass retain_graph=True to "
                                       "the first call")
                checks = v.checks
                if checks:
                    check_versions(v)
                if create:
                    args, ans = _inputs_for_create_graph(v)
                else:
                    ans = v.ans
                kwargs, vjps = v.kwargs, v.prim.vjps
                for argnum, parent in zip(v.argnums, v.parents):
                    if needed is not None and parent not in needed:
                        continue
                    try:
                        vjp = vjps[argnum]
                    except IndexError:
                        vjp = v.prim.missing_vjp(argnum)
                    gi = vjp(g, ans, *args, **kwargs) if kwargs else vjp(g, ans, *args)  # no empty dict to unpack
                    if isinstance(gi, Tensor) and not create:
                        gi = gi.data  # a VJP that used minidl's constructors (mdl.ones_like) on raw arrays
                    if anomaly:
                        check_vjp(v, argnum, gi)
                    # a Node's shape is a slot; a leaf's .shape property builds a tuple: read its array's
                    if getattr(gi, "shape", None) != (parent.shape if parent.__class__ is Node else parent.data.shape):
                        gi = _reduce_to(gi, parent.shape, v, argnum)
                    old = adjoints.get(parent)  # add gi to the parent's partial adjoints (once per edge)
                    if old is None:
                        adjoints[parent] = gi
                        if parent.__class__ is not Node and not create and gi is not g \
                                and getattr(gi, "base", 0) is None:
                            adoptable.add(parent)
                    elif old.__class__ is _Sum:
                        old.append(gi)
                    else:
                        adjoints[parent] = _Sum((old, gi))
                if not retain:
                    v.args = v.ans = None  # release what the node kept, now
                    if checks:
                        v.checks = ()
        for fn in stack[-1]:
            fn()
    finally:
        stack.pop()
    return found, create


class _Sum(list):
    """Two or more partial adjoints of one vertex, summed once, when the vertex is reached."""

    __slots__ = ()

    def total(self) -> Any:
        total = self[0] + self[1]  # a new array: the rest can be added into it in place
        for g in self[2:]:
            if isinstance(total, Tensor):
                total = total + g  # recorded (create_graph): out of place
            else:
                total += g
        return total


def _reduce_to(gi: Any, shape: tuple, node: Node, argnum: int) -> Any:
    """Sum a gradient over the dimensions broadcasting added; any other mismatch is the VJP's error."""
    if not hasattr(gi, "shape"):
        raise TypeError(f"the VJP of {node.prim.name} for {node.prim.arg_name(argnum)} returned a "
                        f"{type(gi).__name__}, not an array: minidl calls vjp(g, ans, *args, **kwargs) and uses the "
                        "gradient it returns (HIPS autograd's curried form lambda ans, x: lambda g: ... does not fit)")
    if not _broadcasts_to(shape, tuple(gi.shape)):
        raise ValueError(f"the VJP of {node.prim.name} for {node.prim.arg_name(argnum)} returned a gradient of "
                         f"shape {tuple(gi.shape)}, which does not reduce to the argument's shape {shape}")
    return sum_to_shape(gi, shape)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an argument of ``shape`` broadcasts to ``target`` (leading ones beyond it allowed, as NumPy's
    assignment allows): then its gradient of shape ``target`` is summed back to ``shape``."""
    extra = len(shape) - len(target)
    if extra > 0:
        if any(n != 1 for n in shape[:extra]):
            return False
        shape = shape[extra:]
    return all(n == m or n == 1 for n, m in zip(shape, target[len(target) - len(shape):]))


def check_versions(node: Node) -> None:
    """Refuse to use a value the node kept if an in-place write changed it since."""
    for kept, version, position in node.checks:
        counter = kept if position == -1 else kept._version
        current = 0 if counter is None else counter.value
        if current != version:
            what = ("its output" if position == -1 else f"keyword argument {position!r}" if isinstance(position, str)
                    else node.prim.arg_name(position))
            raise RuntimeError(
                f"one of the values needed to compute the gradient of {node.prim.name} ({what}) was modified "
                f"by an in-place operation after {node.prim.name} used it (version {current}, expected "
                f"{version}); do the in-place operation on a clone(), or after backward()")


def _inputs_for_create_graph(node: Node) -> tuple:
    """The node's kept values as tensors attached to the record, so the VJPs' ops record.

    A kept input is the input tensor itself (its version counter goes with it, so an in-place
    write after this pass is caught by the next one); the output gets a tensor sharing its counter.
    """
    args = list(node.args)
    kept = {position: t for t, _, position in node.checks if isinstance(position, int) and position >= 0}
    for i, parent in zip(node.argnums, node.parents):
        a = args[i]
        if a is not None and not isinstance(a, ArrayMeta):
            if i in kept:
                args[i] = kept[i]
            else:  # a private copy (an in-place op's input from before its write)
                args[i] = parent if parent.__class__ is not Node else Tensor(a, node.device, _node=parent)
    ans = node.ans
    if ans is not None and not isinstance(ans, ArrayMeta):
        ans = Tensor(ans, node.device, _node=node)
        ans._version = next((c for c, _, position in node.checks if position == -1), None)
    return args, ans


def _accumulate(leaf: Tensor, g: Any, owned: bool, create: bool) -> None:
    """Add ``g`` to ``leaf.grad`` (in place when neither is recorded, as PyTorch does)."""
    if g.__class__ in HOST_SCALARS:
        g, owned = leaf.backend.asarray(g, device=leaf.device), True
    if leaf._hooks is not None:
        hooked = hooks.run_grad_hooks(leaf._hooks.grad, g, leaf.device, create)
        owned, g = owned and hooked is g, hooked  # a hook's tensor may be held elsewhere: copy it
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype, order="C")
        owned = True
    with _accumulation:  # several threads may run backward passes into one shared leaf
        grad = leaf._grad
        if create or (grad is not None and grad._requires_grad):
            g = g if isinstance(g, Tensor) else Tensor(g, leaf.device)
            leaf.grad = g if grad is None else grad + g
        elif grad is None:  # g has the leaf's shape, dtype and device: set without the .grad setter's checks
            # a row-major .grad, as PyTorch's for a row-major parameter: .view() works on it and in-place
            # writes through a reshape reach it (a transpose's VJP, say, gives a transposed array)
            owned = owned and backends.backend_of_array(g).is_row_major(g)
            leaf._grad = Tensor(g if owned else g.copy(), leaf.device)
        else:
            grad.data += g
            mark_written(grad)
    if leaf._hooks is not None:
        hooks.run_post_accumulate_hooks(leaf)


def reverse_toposort(roots: Sequence, stop: Optional[set]) -> tuple:
    """Vertices reachable from ``roots``, each after every vertex that consumes it.

    Iterative (no recursion limit): count each vertex's consumers, then emit a vertex once
    all of its consumers have been emitted. Also reports whether a leaf outside ``stop``
    that requires grad was reached (the "auto" create_graph rule of ``grad``).
    """
    consumers = dict.fromkeys(roots, 0)
    starts = list(consumers)  # only a root can have no consumer
    stack, foreign = starts.copy(), False
    push, pop, count = stack.append, stack.pop, consumers.get  # bound once: this loop runs per vertex
    while stack:
        v = pop()
        if v.__class__ is not Node:
            foreign = foreign or ((v.__class__ is not Perturbation or v.active) and (stop is None or v not in stop))
            continue
        if stop is not None and v in stop:
            continue
        for parent in v.parents:
            n = count(parent)
            if n is None:
                consumers[parent] = 1
                push(parent)
            else:
                consumers[parent] = n + 1
    order, ready = [], [v for v in starts if consumers[v] == 0]
    emit, push, pop = order.append, ready.append, ready.pop
    while ready:
        v = pop()
        emit(v)
        if v.__class__ is Node and (stop is None or v not in stop):
            for parent in v.parents:
                n = consumers[parent] - 1
                consumers[parent] = n
                if n == 0:
                    push(parent)
    return order, foreign


def _leading_to(order: list, targets: set, stop_at_targets: bool) -> set:
    """The vertices in ``order`` from which some target can be reached (the ones worth visiting)."""
    needed = set()
    for v in reversed(order):  # parents come after their consumers in order: visit them first
        if v in targets:
            needed.add(v)
            if stop_at_targets:
                continue
        if v.__class__ is Node and any(p in needed for p in v.parents):
            needed.add(v)
    return needed


def leaves(root: Tensor) -> list:
    """The leaf tensors that require grad and that ``root`` depends on (checkpointing finds parameters so)."""
    if not root._requires_grad:
        return []
    order, _ = reverse_toposort([vertex(root)], None)
    return [v for v in order if v.__class__ is not Node]
