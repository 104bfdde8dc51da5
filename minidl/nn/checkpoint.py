"""Gradient checkpointing: keep a function's inputs, recompute its activations during backward.

``checkpoint`` is built on the engine, not into it: it records one primitive
whose forward runs ``fn`` without recording, and whose VJP runs ``fn`` again with
recording (replaying the same random draws) and backpropagates through it.
"""
from .. import engine
from ..autograd import defvjp_argnum, enable_grad, no_grad, primitive
from ..creation import get_rng_state, set_rng_state
from ..tensor import Tensor


class _Recomputation:
    """What the checkpoint node needs to run ``fn`` again: the function, devices and random state."""

    def __init__(self, fn, args):
        self.fn = fn
        self.template = [(a.device, a.requires_grad) if isinstance(a, Tensor) else None for a in args]
        self.device = next(a.device for a in args if isinstance(a, Tensor))
        self.rng_state = get_rng_state(self.device)
        self.grads = None

    def tensors(self, arrays):
        return [a if spec is None else Tensor(a, spec[0], spec[1]) for a, spec in zip(arrays, self.template)]

    def gradient(self, index, g, arrays):
        """d<g, fn(args)>/d args[index]; one recomputation serves every argument."""
        if self.grads is None:
            if isinstance(g, Tensor):
                raise NotImplementedError("checkpoint does not support create_graph=True")
            current = get_rng_state(self.device)
            set_rng_state(self.rng_state, self.device)
            try:
                with enable_grad():
                    inputs = self.tensors(arrays)
                    out = self.fn(*inputs)
                    engine.backward(out, Tensor(g, out.device))  # parameters inside fn get .grad here
            finally:
                set_rng_state(current, self.device)
            self.grads = {i: x.grad.data for i, x in enumerate(inputs)
                          if isinstance(x, Tensor) and x.grad is not None}
        return self.grads.pop(index)


@primitive
def _checkpointed(recomputation, *arrays):
    with no_grad():
        out = recomputation.fn(*recomputation.tensors(arrays))
    if not isinstance(out, Tensor):
        raise TypeError(f"checkpoint: the function must return one Tensor, got {type(out).__name__}")
    return out.data


defvjp_argnum(_checkpointed, lambda argnum, g, ans, rec, *arrays: rec.gradient(argnum - 1, g, arrays))


def checkpoint(fn, *args):
    """``fn(*args)`` without keeping its intermediate activations; they are recomputed in backward.

    Gradients equal those of the plain call, for the arguments and for parameters
    used inside ``fn``. Dropout inside ``fn`` replays the same mask.
    """
    return _checkpointed(_Recomputation(fn, args), *args)


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
