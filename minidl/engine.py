"""The backward pass: reverse topological order, summed adjoints, VJP calls.

Adjoints are keyed by tensor identity. Every tensor that contributed to the root
receives the sum of its consumers' partial adjoints before it is visited, then
passes that sum through its node's VJPs (or, for a leaf, into ``.grad``).
Higher-order gradients, functional transforms and checkpointing build on the two
entry points here, ``backward`` and ``grad``.
"""
from . import autograd
from .ops.shape import sum_to_shape
from .tensor import Tensor


def backward(root, grad=None, retain_graph=False, create_graph=False):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    With ``create_graph`` the graph is kept (a recorded gradient refers back into it).
    """
    _run(root, _seed(root, grad, create_graph), None, retain_graph or create_graph, create_graph)


def grad(output, inputs, grad_output=None, retain_graph=False, create_graph=False):
    """The gradients of ``output`` with respect to each of ``inputs``, without touching ``.grad``.

    Inputs the output does not depend on get zeros (JAX's convention).
    """
    found = {}
    if output.requires_grad:
        found = _run(output, _seed(output, grad_output, create_graph), inputs,
                     retain_graph or create_graph, create_graph)
    grads = []
    for t in inputs:
        g = found.get(id(t))
        if g is None:
            g = t.data * 0
        grads.append(g if isinstance(g, Tensor) else Tensor(g, t.device))
    return tuple(grads)


def leaves(root):
    """The tensors without a record that require grad and that ``root`` depends on."""
    if not root.requires_grad:
        return []
    return [t for t in _reverse_toposort(root, None) if t._node is None]


def _seed(root, grad, create_graph):
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() of a tensor of shape {root.shape} needs a grad argument "
                               "of that shape; only a one-element output gets the implicit gradient 1")
        grad = root.backend.xp.ones_like(root.data)
    elif isinstance(grad, Tensor):
        if grad.shape != root.shape:
            raise ValueError(f"backward(): grad of shape {grad.shape} does not match the output's shape {root.shape}")
        grad = grad if create_graph else grad.data
    if create_graph and not isinstance(grad, Tensor):
        grad = Tensor(grad, root.device)
    return grad


def _run(root, seed, targets, retain_graph, create_graph):
    """Propagate ``seed`` from ``root``. With ``targets``, stop at and return their adjoints."""
    if not root._requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no record to walk; "
                           "create its inputs with requires_grad=True")
    stop = None if targets is None else {id(t) for t in targets}
    adjoints = {id(root): seed}
    owned = set()  # keys of adjoints no other array shares: safe to add into in place, or to keep
    found = {}
    with autograd.set_grad_enabled(create_graph):
        for t in _reverse_toposort(root, stop):
            g = adjoints.pop(id(t))
            node = t._node
            if stop is not None and id(t) in stop:
                found[id(t)] = g
            elif node is None:
                if stop is None:
                    _accumulate_into_leaf(t, g, id(t) in owned or create_graph)
            else:
                _propagate(t, node, g, adjoints, owned, create_graph)
                if not retain_graph:
                    node.args = node.parents = None  # free the saved arrays now
    return found


def _propagate(t, node, g, adjoints, owned, create_graph):
    """Call the node's VJPs and add each result to its parent's adjoint."""
    vjps = autograd.VJPS[node.prim]
    kwargs = node.kwargs
    if create_graph:
        args = list(node.args)
        for i, parent in zip(node.argnums, node.parents):
            args[i] = parent
        ans = t
    else:
        args, ans = node.args, t.data
    for i, parent in zip(node.argnums, node.parents):
        try:
            vjp = vjps[i]
        except IndexError:  # a primitive whose defvjp did not cover this argument
            vjp = None
        if vjp is None:
            raise TypeError(f"{node.name} has no gradient with respect to argument {i}; "
                            f"register one with defvjp")
        gi = vjp(g, ans, *args, **kwargs)
        if gi.shape != parent.data.shape:
            gi = sum_to_shape(gi, parent.data.shape)
        key = id(parent)
        old = adjoints.get(key)
        if old is None:
            adjoints[key] = gi
            if gi is not g and getattr(gi, "base", 0) is None and not create_graph:
                owned.add(key)  # a fresh array: neither g passed through nor a view of another
        elif key in owned:
            old += gi
            adjoints[key] = old  # numpy scalars add out of place
        else:
            adjoints[key] = old + gi
            if not create_graph:
                owned.add(key)


def _accumulate_into_leaf(leaf, g, owned):
    """Add ``g`` to ``leaf.grad``; a shared array is copied first, so every ``.grad`` is its own."""
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    elif not owned and leaf.grad is None:
        g = g.copy()
    if not isinstance(g, Tensor):
        g = Tensor(g, leaf.device)
    leaf.grad = g if leaf.grad is None else leaf.grad + g


def _reverse_toposort(root, stop):
    """Tensors reachable from ``root``, each after every tensor that consumes it.

    Iterative (no recursion limit): count each tensor's consumers, then emit a
    tensor once all of its consumers have been emitted.
    """
    consumers, parents_of = {}, {}
    stack = [root]
    while stack:
        t = stack.pop()
        key = id(t)
        if key in consumers:
            consumers[key] += 1
            continue
        consumers[key] = 0
        node = t._node
        if node is not None and (stop is None or key not in stop):
            if node.parents is None:
                raise RuntimeError("trying to backward through the graph a second time: its saved values were "
                                   "freed by the first backward(); pass retain_graph=True to the first call")
            parents_of[key] = node.parents
            stack.extend(node.parents)
    order, ready = [], [root]
    while ready:
        t = ready.pop()
        order.append(t)
        for parent in parents_of.get(id(t), ()):
            key = id(parent)
            if consumers[key] == 0:
                ready.append(parent)
            else:
                consumers[key] -= 1
    return order
