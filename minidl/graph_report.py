"""``mdl.graph``: the record behind a tensor, node by node, with the memory each node keeps for backward.

Each row is one node: its op, output shape and dtype, the bytes it keeps alive for the backward
pass, and what it keeps (its output, an input made by node #k, a constant, or only a shape).
An array kept by several nodes (or viewed by them) is counted once, on the first row that keeps
it, so the rows add up to the total: the memory the record holds. Arrays of leaf tensors
(parameters, inputs that require grad) are listed apart: their owners hold them anyway.

The peak is what a default ``backward()`` (``retain_graph=False``) will hold at its worst step,
simulated in the order the engine visits the vertices (``engine.reverse_toposort``): the arrays
still kept (each freed once the last node keeping it has run its VJPs), the partial adjoints
waiting for their vertex (and their sum, while it is made), the node's own adjoint and its VJP
results, and the new ``.grad`` arrays of leaves that had none. Workspace inside a VJP (the
temporaries of ``g * (1 - ans * ans)``, im2col buffers) is not included: the real peak is higher
by at most a few arrays of the largest node's size.

Rows are grouped by module when the forward pass ran inside ``label_modules(model)``, which
names each node after the module that recorded it, using forward hooks.
"""
from __future__ import annotations

import contextlib
import math
import weakref
from collections import defaultdict
from typing import Any, Iterator, NamedTuple

from .autograd import Node, vertex
from .engine import reverse_toposort
from .saved import ArrayMeta
from .tensor import Tensor

_node_modules: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Node -> the module that recorded it
_parameter_names: dict = {}  # id(leaf) -> (weakref to the leaf, dotted name)


class GraphRow(NamedTuple):
    """One node of the record; ``index`` orders parents before consumers (#1 ran first)."""

    index: int
    op: str
    module: str       # the module that recorded it ("" when unknown)
    shape: tuple
    dtype: str
    kept_bytes: int   # bytes this node keeps alive for backward that no earlier row counted
    keeps: tuple      # what it keeps: "out", "x: #3" (made by node #3), "y: leaf", "w: const", "shape of x"


class GraphReport:
    """The record behind a tensor: ``rows``, ``total`` (their sum), ``leaf_bytes`` and ``peak``."""

    def __init__(self, rows: list, leaves: list, peak: int, edges: list):
        self.rows = rows
        self.leaves = leaves  # [(name, shape, dtype, bytes)] of the leaf tensors the record reaches
        self.edges = edges    # [(from, to)]: "l3" is leaves[3], "n5" the node of row #5
        self.total = sum(r.kept_bytes for r in rows)
        self.leaf_bytes = sum(b for *_, b in leaves)
        self.peak = peak

    def __str__(self) -> str:
        cells = [(str(r.index), r.op, str(r.shape), r.dtype, size(r.kept_bytes), ", ".join(r.keeps)) for r in self.rows]
        head = ("#", "op", "output", "dtype", "kept", "keeps")
        w = [max(len(c[k]) for c in cells + [head]) for k in range(5)]

        def line(c: tuple) -> str:
            return f"  {c[0]:>{w[0]}}  {c[1]:<{w[1]}}  {c[2]:<{w[2]}}  {c[3]:<{w[3]}}  {c[4]:>{w[4]}}  {c[5]}"
        lines = [f"Record: {len(self.rows)} nodes, {size(self.total)} kept for backward", line(head)]
        grouped = any(r.module for r in self.rows)
        start = 0
        for module, rows in _groups(self.rows):
            if grouped:
                lines.append(f"{module or '(no module)'}: {size(sum(r.kept_bytes for r in rows))}")
            lines += [line(c) for c in cells[start:start + len(rows)]]
            start += len(rows)
        lines += [f"total kept for backward: {size(self.total)}",
                  f"leaves: {len(self.leaves)} tensors, {size(self.leaf_bytes)} (held by their owners, not counted)",
                  f"peak during backward(): {size(self.peak)} (kept arrays + gradients in flight, VJP workspace aside)"]
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self) -> str:
        """The record as Graphviz DOT text: leaves as ellipses, nodes as boxes, data flowing down."""
        out = ["digraph record {", '  node [shape=box, fontname="Helvetica", fontsize=10];']
        for k, (name, shape, dtype, _) in enumerate(self.leaves):
            out.append(f'  l{k} [shape=ellipse, label="{_escape(name)}\\n{shape} {dtype}"];')
        for k, (module, rows) in enumerate(_groups(self.rows)):
            if module:
                out.append(f'  subgraph cluster_{k} {{ label="{_escape(module)}"; style=rounded;')
            out += [f'  n{r.index} [label="#{r.index} {r.op}\\n{r.shape} {r.dtype}\\nkeeps {size(r.kept_bytes)}"];'
                    for r in rows]
            if module:
                out.append("  }")
        out += [f"  {a} -> {b};" for a, b in self.edges]
        out.append("}")
        return "\n".join(out)

    def render(self, path: str) -> str:
        """Write the drawing to ``path`` (.svg, .png, .pdf, ...) with Graphviz; returns ``path``."""
        fmt = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
        if not fmt:
            raise ValueError(f"render({path!r}): give the file an extension (.svg, .png, .pdf) to choose the format")
        try:
            import graphviz
        except ImportError:
            raise RuntimeError('render() needs the Python package graphviz: pip install "minidl[viz]" (Graphviz\'s '
                               "dot program as well: apt-get install graphviz); to_dot() works without them") from None
        try:
            data = graphviz.Source(self.to_dot()).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise RuntimeError("render() needs Graphviz's dot program, which is not on the PATH: apt-get install "
                               "graphviz (macOS: brew install graphviz); to_dot() works without it") from None
        with open(path, "wb") as f:
            f.write(data)
        return path


def size(n: int) -> str:
    """Bytes for people: 512 B, 12.3 KiB, 4.56 MiB."""
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.2f} MiB"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _groups(rows: list) -> Iterator[tuple]:
    """Runs of consecutive rows recorded by one module: ``(module, rows)``."""
    start = 0
    for k in range(1, len(rows) + 1):
        if k == len(rows) or rows[k].module != rows[start].module:
            yield rows[start].module, rows[start:k]
            start = k


def _root(array: Any) -> Any:
    """The array that owns ``array``'s memory (a view keeps its base alive)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "nbytes"):
        array = array.base
    return array


def _nbytes(v: Any) -> int:
    """The size of a vertex's value (and of its gradient)."""
    if v.__class__ is Node:
        return math.prod(v.shape) * v.dtype.itemsize
    return v.data.nbytes


def graph(t: Tensor) -> GraphReport:
    """Describe the record behind ``t``: ``print(mdl.graph(loss))``, ``.to_dot()``, ``.render("graph.svg")``."""
    if not t.requires_grad or t._node is None:
        raise ValueError("graph: this tensor has no record behind it (it is a leaf, or does not require grad)")
    order, _ = reverse_toposort([vertex(t)], None)
    nodes = _in_running_order(order)
    leaves = [v for v in reversed(order) if v.__class__ is not Node]
    index = {node: k for k, node in enumerate(nodes, 1)}
    leaf_roots = {id(_root(leaf.data)) for leaf in leaves}
    counted: dict = {}   # id(root array) -> its size, for the arrays the record keeps alive
    holders: dict = defaultdict(list)  # node -> ids of the counted arrays it keeps
    rows = []
    for node in nodes:
        kept, keeps = 0, []
        for label, array, source in _kept(node, index):
            if isinstance(array, ArrayMeta):
                keeps.append(f"shape of {label}")
                continue
            root = id(_root(array))
            if root in leaf_roots:
                source = "leaf"
            elif root not in counted:
                counted[root] = _root(array).nbytes
                kept += counted[root]
            if root in counted:
                holders[node].append(root)
            keeps.append(label if source is None else f"{label}: {source}")
        rows.append(GraphRow(index[node], node.prim.name, _node_modules.get(node, ""), tuple(node.shape),
                             str(node.dtype), kept, tuple(keeps) or ("nothing",)))
    names = {leaf: f"l{k}" for k, leaf in enumerate(leaves)}
    names.update((node, f"n{k}") for node, k in index.items())
    edges = [(names[p], names[node]) for node in nodes for p in node.parents]
    leaf_rows = [(_leaf_name(leaf), leaf.shape, str(leaf.dtype), leaf.data.nbytes) for leaf in leaves]
    return GraphReport(rows, leaf_rows, _peak(order, holders, counted, vertex(t)), edges)


def _in_running_order(order: list) -> list:
    """The nodes of ``order`` (the engine's) in the order they ran where detect_anomaly() recorded it, else each
    as late as it could have run (by its longest path to the root), which keeps a layer's nodes together."""
    nodes = [v for v in order if v.__class__ is Node]
    if all(n.stack is not None for n in nodes):
        return sorted(nodes, key=lambda n: n.stack.index)
    height = dict.fromkeys(nodes, 0)
    for v in nodes:  # consumers come first in the engine's order, so height[v] is final when v is reached
        for p in v.parents:
            if p.__class__ is Node:
                height[p] = max(height[p], height[v] + 1)
    rank = {n: k for k, n in enumerate(nodes)}
    return sorted(nodes, key=lambda n: (-height[n], -rank[n]))


def _kept(node: Node, index: dict) -> Iterator[tuple]:
    """``(label, array or ArrayMeta, source)`` for each value ``node`` keeps; source names who made it."""
    if node.args is None:
        return  # released by a backward pass
    params = [p.name for p in node.prim.signature.parameters.values()]
    parents = dict(zip(node.argnums, node.parents))
    for i, a in enumerate(node.args):
        if a is None or not (isinstance(a, ArrayMeta) or hasattr(a, "nbytes")):
            continue  # dropped, or a number / shape / axis
        parent = parents.get(i)
        source = "const" if parent is None else ("leaf" if parent.__class__ is not Node else f"#{index[parent]}")
        yield (params[i] if i < len(params) else f"arg{i}"), a, source
    if node.ans is not None:
        yield "out", node.ans, None


def _peak(order: list, holders: dict, counted: dict, root: Any) -> int:
    """Simulate a default backward in the engine's order; return the most bytes alive at once (see the module doc)."""
    keepers: dict = defaultdict(int)
    for ids in holders.values():
        for i in ids:
            keepers[i] += 1
    live = sum(counted.values())
    pending = {root: [_nbytes(root)]}  # vertex -> the sizes of its partial adjoints, summed when it is reached
    waiting = _nbytes(root)  # bytes of all pending partial adjoints
    grads = 0                # new .grad arrays
    peak = live + waiting
    for v in order:
        parts = pending.pop(v, None)
        if parts is None:
            continue
        if len(parts) > 1:  # their sum is a new array while they are still alive
            peak = max(peak, live + waiting + _nbytes(v) + grads)
        waiting -= sum(parts)
        if v.__class__ is not Node:
            grads += _nbytes(v) if v.grad is None else 0  # the gradient becomes (or is added into) .grad
            continue
        results = [_nbytes(p) for p in v.parents]
        peak = max(peak, live + waiting + _nbytes(v) + sum(results) + grads)
        for p, n in zip(v.parents, results):
            pending.setdefault(p, []).append(n)
        waiting += sum(results)
        for i in holders.get(v, ()):  # the node's kept values are released once its VJPs have run
            keepers[i] -= 1
            if keepers[i] == 0:
                live -= counted[i]
    return peak


def _leaf_name(leaf: Tensor) -> str:
    ref, name = _parameter_names.get(id(leaf), (None, None))
    return name if ref is not None and ref() is leaf else "leaf"


@contextlib.contextmanager
def label_modules(*modules: Any) -> Iterator[None]:
    """Inside the block, each node that one of ``modules`` (or a submodule) records is named after that
    module, using forward hooks, and their parameters by their dotted names, so ``mdl.graph`` groups its
    rows by module: ``with mdl.label_modules(model, loss_fn): loss = loss_fn(model(x), y)``.
    Nodes keep their names after the block."""
    entered: dict = defaultdict(list)  # id(module) -> the input vertices of its calls now running
    handles = []
    for model in modules:
        for name, p in model.named_parameters():
            _parameter_names[id(p)] = (weakref.ref(p), name)
        for name, module in model.named_modules():
            label = f"{name} ({type(module).__name__})" if name else type(module).__name__
            handles.append(module.register_forward_pre_hook(
                lambda m, args: entered[id(m)].append({vertex(a) for a in args if isinstance(a, Tensor)})))
            handles.append(module.register_forward_hook(
                lambda m, args, output, label=label: _label(output, entered[id(m)].pop(), label)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _label(output: Any, inputs: set, label: str) -> None:
    """Name every unnamed node between ``output`` and the module's ``inputs`` after the module."""
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    stack = [t._node for t in outputs if isinstance(t, Tensor) and t._node is not None]
    while stack:
        node = stack.pop()
        if node in inputs or node in _node_modules:
            continue
        _node_modules[node] = label
        stack += [p for p in node.parents if p.__class__ is Node]
