"""Gradient checkpointing: keep a function's inputs, recompute its activations during backward.

``checkpoint`` is built on the engine, not into it. It runs ``fn`` once, finds where ``fn``'s
graph begins (its arguments, and whatever recorded tensors or parameters it reached besides:
closures), and drops the graph, freeing the activations. What it records is one primitive with
those as inputs, whose VJP runs ``fn`` again, replaying the same random draws, and
backpropagates through the recomputed graph down to them (recorded too under
``create_graph=True``, so gradients of gradients pass through checkpoints).
"""
from .. import backends, engine, modes
from ..autograd import Node, defvjp_argnum, primitive, vertex
from ..creation import get_rng_state, set_rng_state
from ..modes import enable_grad, is_grad_enabled, raw_arrays
from ..tensor import Tensor


class _Recomputation:
    """What the checkpoint node needs to run ``fn`` again: the function, its argument layout, the random state."""

    def __init__(self, fn, args):
        self.fn = fn
        self.template = [(a.device, a.requires_grad) if isinstance(a, Tensor) else None for a in args]
        self.device = next(a.device for a in args if isinstance(a, Tensor))
        self.rng_state = get_rng_state(self.device)
        self.output = None
        self.boundary = []  # tensors standing for the vertices fn's graph reached besides its arguments
        self.cache = None   # (cotangent, gradients): one recomputation serves every input of one VJP call

    def run(self, inputs):
        """``fn`` on ``inputs`` (arrays become fresh leaves), recorded; returns (inputs, output)."""
        inputs = [a if spec is None or isinstance(a, Tensor) else Tensor(a, spec[0], spec[1])
                  for a, spec in zip(inputs, self.template)]
        with enable_grad(), raw_arrays(False):
            out = self.fn(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"checkpoint: the function must return one Tensor, got {type(out).__name__}")
        return inputs, out

    def gradient(self, index, g, inputs):
        """d<g, fn>/d(args + boundary)[index], from a recomputation made once per cotangent ``g``."""
        if self.cache is None or self.cache[0] is not g:
            current = get_rng_state(self.device)
            set_rng_state(self.rng_state, self.device)
            try:
                inputs, out = self.run(inputs)
            finally:
                set_rng_state(current, self.device)
            create = isinstance(g, Tensor)  # the backward pass is itself being recorded
            candidates = inputs + self.boundary
            wanted = {i: t for i, t in enumerate(candidates) if isinstance(t, Tensor) and t.requires_grad}
            with raw_arrays(False):
                found, _ = engine.gradients(out, list(wanted.values()), g if create else Tensor(g, out.device),
                                            create_graph=create, materialize_grads=True, stop_at_inputs=True)
            self.cache = (g, {i: d if create else d.data for i, d in zip(wanted, found)})
        return self.cache[1][index]


@primitive
def _checkpointed(recomputation, *inputs):
    output, recomputation.output = recomputation.output, None
    return output


def _checkpoint_vjp(argnum, g, ans, recomputation, *inputs):
    return recomputation.gradient(argnum - 1, g, list(inputs[:len(recomputation.template)]))


defvjp_argnum(_checkpointed, _checkpoint_vjp)


def checkpoint(fn, *args):
    """``fn(*args)`` without keeping its intermediate activations; they are recomputed in backward.

    Gradients equal those of the plain call, for the arguments and for whatever ``fn`` reaches
    besides them (parameters, recorded tensors it closes over). Dropout inside ``fn`` replays the
    same mask. ``fn`` must not write its arguments in place (the recomputation would see the
    written values): that raises.
    """
    if not is_grad_enabled():
        return fn(*args)
    rec = _Recomputation(fn, args)
    versions = [a._counter().value if isinstance(a, Tensor) else None for a in args]
    with modes.collect_nodes() as made:
        inputs, out = rec.run([a.detach() if isinstance(a, Tensor) else a for a in args])
    if any(v is not None and a._counter().value != v for a, v in zip(args, versions)):
        raise RuntimeError("checkpoint: the function wrote one of its arguments in place; its recomputation in "
                           "backward would start from the written value: clone() the argument inside it")
    rec.boundary = _boundary(out, set(made.nodes), {id(t) for t in inputs})
    rec.output = out.data
    del inputs, out, made  # the graph of this forward, and its activations, go here
    return _checkpointed(rec, *args, *rec.boundary)


def _boundary(out, inside, own):
    """Tensors standing for the vertices ``out``'s graph reaches outside the nodes ``fn`` made, other than
    ``fn``'s own argument leaves (``own``, by id): parameters, and recorded tensors ``fn`` closed over."""
    found, stack, seen = [], [vertex(out)], set()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.__class__ is Node and v in inside:
            stack.extend(v.parents)
        elif v.__class__ is Node:
            found.append(_stand_in(v))  # a recorded tensor fn closed over: its node is an input
        elif id(v) not in own:
            found.append(v)  # a leaf: a parameter
    return found


def _stand_in(node):
    """A tensor whose place in the record is ``node`` (the zeros it holds are never read)."""
    xp = backends.resolve(node.device)[0].xp
    return Tensor(xp.broadcast_to(xp.zeros((), dtype=node.dtype), node.shape), node.device, _node=node)


def checkpoint_sequential(seq, segments, x):
    """Run ``seq`` (a Sequential) in ``segments`` checkpointed chunks; the last chunk runs plainly."""
    modules = list(seq)
    if not 1 <= segments <= len(modules):
        raise ValueError(f"checkpoint_sequential: segments must be between 1 and {len(modules)}, got {segments}")
    size = -(-len(modules) // segments)
    chunks = [modules[i:i + size] for i in range(0, len(modules), size)]
    for chunk in chunks[:-1]:
        x = checkpoint(_run_chunk(chunk), x)
    return _run_chunk(chunks[-1])(x)


def _run_chunk(chunk):
    def run(x):
        for module in chunk:
            x = module(x)
        return x
    return run
