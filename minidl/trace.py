"""``mdl.trace``: the lectures' evaluation trace and adjoint trace of a function, read from minidl's own record.

The evaluation (forward primal) trace names the inputs v_{-n+1} .. v_0 and each recorded op
v_1 .. v_m in the order it ran, with its value. The adjoint trace walks the same record in
reverse: each v̄_i is the sum of its partial adjoints v̄_j·∂v_j/∂v_i, one per consumer v_j,
each computed by calling the node's VJP (``node.prim.vjps``) exactly as the backward pass does.

    >>> t = mdl.trace(lambda x1, x2: mdl.log(x1) + x1 * x2 - mdl.sin(x2), 2.0, 5.0)
    >>> print(t)  # ... x̄1 = v̄_-1 = 5.5, x̄2 = v̄_0 = 1.71634

The values come from running ``f`` inside ``modes.trace_values()`` (anomaly mode keeping a copy
of each op's output), so nothing is added to the ordinary recording path.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple, Optional

from . import backends, creation, modes
from .anomaly import describe
from .autograd import Node, vertex
from .broadcasting import sum_to_shape
from .engine import check_versions, reverse_toposort
from .tensor import Tensor

BAR = "\u0304"  # the combining macron of v̄: the adjoint of v
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "matmul": "@"}


class ForwardRow(NamedTuple):
    """One line of the evaluation trace: ``name = expression = value``."""

    name: str        # "v_1"; the inputs are v_{-n+1} .. v_0
    expression: str  # "log(v_-1)", or for an input its parameter name ("x1")
    value: Tensor


class Partial(NamedTuple):
    """One partial adjoint summed into v̄_i: v̄_j·∂v_j/∂v_i for a consumer v_j of v_i."""

    consumer: str    # "v_2"
    value: Tensor


class AdjointRow(NamedTuple):
    """One line of the adjoint trace: v̄_i, the partial adjoints summed into it, and their sum."""

    name: str        # "v̄_1"
    partials: Optional[tuple]  # Partial, ... in the consumers' order; None for the output (the seed ȳ = 1)
    value: Tensor


class Trace:
    """The evaluation and adjoint traces of one call; ``print(trace)`` writes both, as on the board."""

    def __init__(self, forward: list, adjoint: list, inputs: list, output: str):
        self._forward, self._adjoint = forward, adjoint
        self.inputs = inputs    # [(parameter name, vertex name)], e.g. [("x1", "v_-1"), ("x2", "v_0")]
        self.output = output    # the vertex name of f's result, e.g. "v_5"
        adjoints = {row.name: row.value for row in adjoint}
        self.gradients = tuple(adjoints[bar(v)] for _, v in inputs)  # df/d(input), in the inputs' order

    def forward_table(self) -> list:
        """The evaluation trace: one ForwardRow per input, then per op in the order it ran."""
        return list(self._forward)

    def adjoint_table(self) -> list:
        """The adjoint trace: one AdjointRow per vertex, in reverse order, ending with the inputs'."""
        return list(self._adjoint)

    def _lines(self) -> tuple:
        forward = [(r.name, r.expression, format_value(r.value)) for r in self._forward]
        forward.append(("y", self.output, format_value(self._forward[-1].value)))
        adjoint = [(r.name, _sum_of_partials(r), format_value(r.value)) for r in self._adjoint]
        adjoint += [(bar(name), bar(v), format_value(g)) for (name, v), g in zip(self.inputs, self.gradients)]
        return forward, adjoint

    def __str__(self) -> str:
        forward, adjoint = self._lines()
        return "\n".join(["Evaluation trace (forward primal trace)", *_aligned(forward), "",
                          "Adjoint trace (reverse)", *_aligned(adjoint)])

    def to_markdown(self) -> str:
        """Both traces as Markdown tables."""
        forward, adjoint = self._lines()

        def table(header: str, rows: list) -> list:
            return [header, "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
        return "\n".join(["**Evaluation trace**", "", *table("| v | op | value |", forward), "",
                          "**Adjoint trace**", "", *table("| v̄ | sum of partial adjoints | value |", adjoint)])

    __repr__ = __str__


def bar(name: str) -> str:
    """The adjoint's name: v_1 -> v̄_1, x1 -> x̄1."""
    return name[0] + BAR + name[1:]


def _sum_of_partials(row: AdjointRow) -> str:
    """``v̄_2·∂v_2/∂v_0 + v̄_4·∂v_4/∂v_0 = 2 + (-0.283662)``; ``ȳ`` for the seed."""
    if row.partials is None:
        return bar("y")
    if not row.partials:
        return "0 (not used)"
    of = row.name.replace(BAR, "")
    text = " + ".join(f"{bar(p.consumer)}·∂{p.consumer}/∂{of}" for p in row.partials)
    if len(row.partials) > 1 and all(p.value.data.size <= 4 for p in row.partials):  # short enough to write out
        text += " = " + " + ".join(_term(p.value) for p in row.partials)
    return text


def _aligned(rows: list) -> list:
    widths = [max(len(row[k]) for row in rows) for k in (0, 1)]
    return [f"  {a:<{widths[0]}} = {b:<{widths[1]}} = {c}" for a, b, c in rows]


def _term(value: Tensor) -> str:
    text = format_value(value)
    return f"({text})" if text.startswith("-") else text


def format_value(t: Tensor) -> str:
    """A value as the tables show it: in full when small (up to 8 numbers), else shape, dtype and a few numbers."""
    data = t.data
    if data.size <= 8:
        return _nested(t.tolist())
    first = backends.resolve(t.device)[0].to_host(data.reshape(-1)[:3]).tolist()
    return f"{tuple(data.shape)} {data.dtype} [{', '.join(_nested(v) for v in first)}, ...]"


def _nested(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    return format(value, ".6g") if isinstance(value, float) else str(value)


def trace(f: Callable, *inputs: Any) -> Trace:
    """Run ``f(*inputs)`` and return its evaluation trace and adjoint trace.

    Numbers and lists become float64 tensors (the lectures' exact arithmetic); tensors keep their
    floating dtype. ``f`` must return a one-element tensor (reduce with ``.sum()`` otherwise).
    """
    names = _parameter_names(f, len(inputs))
    leaves = [_leaf(x, name) for x, name in zip(inputs, names)]
    with modes.enable_grad(), modes.trace_values():
        y = f(*leaves)
    if not isinstance(y, Tensor) or not y.requires_grad:
        raise TypeError(f"trace: {_name(f)} must return a Tensor computed from its inputs, not "
                        f"{type(y).__name__ if not isinstance(y, Tensor) else 'a tensor that does not depend on them'}")
    if y.data.size != 1:
        raise ValueError(f"trace: {_name(f)} returned a tensor of shape {y.shape}; the adjoint trace starts from "
                         "one output: reduce it (e.g. .sum()) first")
    vertices = {leaf: f"v_{k - len(leaves) + 1}" for k, leaf in enumerate(leaves)}
    nodes = _traced_nodes(y)
    vertices.update((node, f"v_{k}") for k, node in enumerate(nodes, 1))
    outside = _outside_leaves(nodes, vertices)  # tensors f uses that require grad but are not its inputs
    vertices.update((leaf, f"w_{k}") for k, leaf in enumerate(outside, 1))
    forward = [ForwardRow(vertices[leaf], name, leaf.detach()) for leaf, name in zip(leaves, names)]
    forward += [ForwardRow(vertices[leaf], "(from outside f)", leaf.detach()) for leaf in outside]
    forward += [ForwardRow(vertices[n], _expression(n, vertices), Tensor(n.stack.value, n.device)) for n in nodes]
    adjoint = _adjoints(nodes, outside + leaves, vertices, y)
    return Trace(forward, adjoint, [(name, vertices[leaf]) for leaf, name in zip(leaves, names)], vertices[nodes[-1]])


def _name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _parameter_names(f: Callable, n: int) -> list:
    """The names of ``f``'s first ``n`` positional parameters, or x1 .. xn where they cannot be read."""
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names if len(names) == n and len(set(names)) == n else [f"x{k}" for k in range(1, n + 1)]


def _leaf(x: Any, name: str) -> Tensor:
    """A fresh leaf that requires grad holding ``x``'s value."""
    t = x.detach() if isinstance(x, Tensor) else creation.tensor(x, dtype="float64")
    if t.dtype.kind not in "fc":
        raise TypeError(f"trace: input {name} has dtype {t.dtype}; only floating-point inputs can be differentiated")
    return Tensor(t.data, t.device, requires_grad=True)


def _traced_nodes(y: Tensor) -> list:
    """The nodes behind ``y`` that ``f`` recorded, in the order they ran."""
    order, _ = reverse_toposort([vertex(y)], None)
    nodes = [v for v in order if v.__class__ is Node]
    outside = [n for n in nodes if n.stack is None or n.stack.value is None]
    if outside:
        raise ValueError(f"trace: the result depends on {len(outside)} recorded op(s) ({outside[0].prim.name}, ...) "
                         "whose values the trace did not see: they ran before the traced call (compute them inside "
                         "the function, or pass their results as inputs), or inside a detect_anomaly() block in it")
    return sorted(nodes, key=lambda n: n.stack.index)


def _outside_leaves(nodes: list, vertices: dict) -> list:
    found: dict = {}
    for node in nodes:
        found.update((p, None) for p in node.parents if p.__class__ is not Node and p not in vertices)
    return list(found)


def _expression(node: Node, vertices: dict) -> str:
    """``v_-1 * v_0``, ``log(v_-1)``, ``sum(v_3, axis=0)``: the op and its operands by name."""
    operands = list(node.stack.operands)
    for i, parent in zip(node.argnums, node.parents):
        operands[i] = vertices[parent]
    defaults = [p.default for p in node.prim.signature.parameters.values()]
    while len(operands) <= len(defaults) and operands and operands[-1] == describe(defaults[len(operands) - 1]):
        operands.pop()  # a trailing argument left at its default (axis=None, keepdims=False) says nothing
    name = node.prim.name
    if name in _INFIX and len(operands) == 2 and not node.kwargs:
        return f"{operands[0]} {_INFIX[name]} {operands[1]}"
    if name == "negative" and len(operands) == 1:
        return f"-{operands[0]}"
    keywords = [f"{k}={v!r}" for k, v in node.kwargs.items()]
    return f"{name}({', '.join(operands + keywords)})"


def _adjoints(nodes: list, leaves: list, vertices: dict, y: Tensor) -> list:
    """The adjoint trace: each node's VJPs called on the retained record, newest node first."""
    partials: dict = {nodes[-1]: None}  # the output's adjoint is the seed
    seed = y.backend.xp.ones_like(y.data)
    rows = []
    with modes.raw_arrays(), modes.no_grad():
        for node in reversed(nodes):
            if node not in partials:
                continue  # no path from this node to y: its adjoint is 0 and it sends nothing
            parts = partials.pop(node)
            g = seed if parts is None else _sum(parts)
            rows.append(_row(node, parts, g, vertices))
            for argnum, parent in zip(node.argnums, node.parents):
                partials.setdefault(parent, []).append((vertices[node], _partial(node, argnum, parent, g)))
    for leaf in reversed(leaves):
        parts = partials.pop(leaf, [])
        rows.append(_row(leaf, parts, _sum(parts) if parts else leaf.data * 0, vertices))
    return rows


def _partial(node: Node, argnum: int, parent: Any, g: Any) -> Any:
    """v̄_j·∂v_j/∂v_i: the VJP of ``node`` for argument ``argnum``, called as the backward pass calls it."""
    if node.args is None:
        raise RuntimeError(f"trace: the record of {node.prim.name} was released by a backward() inside the traced "
                           "function; pass retain_graph=True to it")
    check_versions(node)
    try:
        vjp = node.prim.vjps[argnum]
    except IndexError:
        vjp = node.prim.missing_vjp(argnum)
    gi = vjp(g, node.ans, *node.args, **node.kwargs)
    gi = gi.data if isinstance(gi, Tensor) else gi  # a VJP that used minidl's constructors on raw arrays
    return gi if gi.shape == parent.shape else sum_to_shape(gi, parent.shape)


def _sum(parts: list) -> Any:
    total = parts[0][1]
    for _, gi in parts[1:]:
        total = total + gi
    return total


def _row(v: Any, parts: Optional[list], g: Any, vertices: dict) -> AdjointRow:
    backend = backends.resolve(v.device)[0]

    def tensor(array: Any) -> Tensor:
        return Tensor(backend.asarray(array, device=v.device), v.device)  # a NumPy scalar becomes a 0-d array
    terms = None if parts is None else tuple(Partial(name, tensor(gi)) for name, gi in reversed(parts))
    return AdjointRow(bar(vertices[v]), terms, tensor(g))
