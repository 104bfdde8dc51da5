"""Helpers shared by the tests/test_ops_*.py files (this file holds no tests of its own)."""
import numpy as np

import minidl as mdl
from test_gradients import second_order  # noqa: F401 - one helper for every gradient test

rng = np.random.default_rng(7)


def t(shape, low=-2.0, high=2.0):
    """A float64 leaf of uniform values that requires grad."""
    return mdl.tensor(rng.uniform(low, high, size=shape), dtype="float64", requires_grad=True)


def distinct(shape, scale=0.1):
    """A random permutation of well-separated values: sorting without ties."""
    n = int(np.prod(shape))
    return mdl.tensor(rng.permutation(n).reshape(shape) * scale - n * scale / 2, dtype="float64", requires_grad=True)


def well_conditioned(*shape):
    """Square matrices (the last two axes) far from singular: random plus a multiple of the identity."""
    n = shape[-1]
    return mdl.tensor(rng.standard_normal(shape) + 3 * np.eye(n), dtype="float64", requires_grad=True)


def spd(*shape):
    """Symmetric positive-definite matrices."""
    a = rng.standard_normal(shape)
    return mdl.tensor(a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1]), dtype="float64",
                      requires_grad=True)


def check_both_orders(f, inputs, **tolerances):
    """gradcheck of f and of its projected first derivative."""
    assert mdl.gradcheck(f, inputs, **tolerances)
    assert mdl.gradcheck(second_order(f), inputs, **tolerances)


def torch_parity(torch, f_ours, f_theirs, inputs, rtol=1e-7, atol=1e-9):
    """Same values and the same gradients (of a fixed projection) in minidl and PyTorch, float64."""
    ours = [mdl.tensor(x, dtype="float64", requires_grad=True) for x in inputs]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out_ours, out_theirs = f_ours(*ours), f_theirs(*theirs)
    np.testing.assert_allclose(out_ours.numpy(), out_theirs.detach().numpy(), rtol=rtol, atol=atol)
    v = np.cos(np.arange(out_theirs.numel())).reshape(tuple(out_theirs.shape))
    (out_ours * mdl.tensor(v, dtype="float64")).sum().backward()
    (out_theirs * torch.tensor(v)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
