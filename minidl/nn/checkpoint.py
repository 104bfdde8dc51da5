"""Gradient checkpointing: keep a function's inputs, recompute its activations during backward.

``checkpoint`` is built on the engine, not into it. It runs ``fn`` once, finds the leaves
its output depends on (the arguments and any parameters ``fn`` uses), and drops that
graph, freeing the activations. What it records is one primitive with those leaves as
inputs, whose VJP runs ``fn`` again, replaying the same random draws, and backpropagates
through the recomputed graph (recorded too under ``create_graph=True``, so gradients of
gradients pass through checkpoints).
"""
from .. import engine
from ..autograd import defvjp_argnum, primitive
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
        self.params = ()  # leaves fn uses besides its arguments (closure parameters)
        self.grads = None

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
        """d<g, fn>/d(args + params)[index]; one recomputation serves every input."""
        if self.grads is None:
            current = get_rng_state(self.device)
            set_rng_state(self.rng_state, self.device)
            try:
                inputs, out = self.run(inputs)
            finally:
                set_rng_state(current, self.device)
            create = isinstance(g, Tensor)  # the backward pass is itself being recorded
            candidates = inputs + list(self.params)
            wanted = {i: t for i, t in enumerate(candidates) if isinstance(t, Tensor) and t.requires_grad}
            with raw_arrays(False):
                found, _ = engine.gradients(out, list(wanted.values()), g if create else Tensor(g, out.device),
                                            create_graph=create, materialize_grads=True, stop_at_inputs=True)
            self.grads = {i: d if create else d.data for i, d in zip(wanted, found)}
        return self.grads.pop(index)


@primitive
def _checkpointed(recomputation, *inputs):
    output, recomputation.output = recomputation.output, None
    return output


def _checkpoint_vjp(argnum, g, ans, recomputation, *inputs):
    return recomputation.gradient(argnum - 1, g, list(inputs[:len(recomputation.template)]))


defvjp_argnum(_checkpointed, _checkpoint_vjp)


def checkpoint(fn, *args):
    """``fn(*args)`` without keeping its intermediate activations; they are recomputed in backward.

    Gradients equal those of the plain call, for the arguments and for parameters
    used inside ``fn``. Dropout inside ``fn`` replays the same mask.
    """
    if not is_grad_enabled():
        return fn(*args)
    rec = _Recomputation(fn, args)
    inputs, out = rec.run([a.data if isinstance(a, Tensor) else a for a in args])
    own = {id(t) for t in inputs}
    rec.params = [t for t in engine.leaves(out) if id(t) not in own]
    rec.output = out.data
    del inputs, out  # the graph of this forward, and its activations, go here
    return _checkpointed(rec, *args, *rec.params)


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
