"""What the record keeps: only what the VJPs read; edges between nodes; keyword tensors recorded or refused."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minidl as mdl
from minidl import nn
from minidl.saved import FULL, SHAPE, UNUSED, ArrayMeta, usage


def kept(t):
    """(names of the arguments kept whole, kept as shape only, whether the output is kept) by t's node."""
    node = t.grad_fn
    whole = [i for i, a in enumerate(node.args) if a is not None and not isinstance(a, ArrayMeta)
             and hasattr(a, "shape")]
    shapes = [i for i, a in enumerate(node.args) if isinstance(a, ArrayMeta)]
    return whole, shapes, node.ans is not None


def test_usage_reads_what_a_vjp_uses_whole_by_shape_or_not_at_all():
    assert usage(lambda g, ans, x, y: g * y, 1) == (UNUSED, (UNUSED, FULL), FULL)
    assert usage(lambda g, ans, x: g * ans, 1) == (FULL, (UNUSED,), FULL)
    assert usage(lambda g, ans, x, axis: g.reshape(x.shape), 1).args == (SHAPE, UNUSED)
    assert usage(lambda g, ans, x: g.reshape(x.shape) * x, 1).args == (FULL,)  # shape and value: whole
    assert usage(lambda argnum, g, ans, *xs: xs[argnum], 2).rest == FULL
    assert usage(lambda g, ans, x: (lambda: x)(), 1).args == (FULL,)  # read inside a nested function


def test_a_vjp_the_analysis_cannot_read_keeps_everything():
    class Scale:
        def __call__(self, g, ans, x):
            return g * 2

    @mdl.primitive
    def double(x):
        return x * 2

    mdl.defvjp(double, Scale())
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = double(x)
    assert kept(y) == ([0], [], True)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_nodes_keep_only_what_their_vjps_read():
    x = mdl.tensor(np.ones((3, 4)), requires_grad=True)
    assert kept(x * 1.0001) == ([], [], False)              # d(x*c)/dx reads c, a number
    assert kept(x + 1) == ([], [], False)
    assert kept(mdl.tanh(x)) == ([], [], True)              # 1 - tanh^2 from the output
    assert kept(mdl.sin(x)) == ([0], [], False)             # cos(x) from the input
    assert kept(x.sum()) == ([], [0], False)                # only the shape, to broadcast back
    assert kept(x.reshape(12)) == ([], [0], False)
    assert kept(x[1:]) == ([], [0], False)
    w = nn.Linear(4, 2)
    out = w(x.detach().float())                             # the weight's VJP reads the input, not the weight
    assert kept(out) == ([0], [], False)


def test_an_intermediate_no_vjp_reads_is_freed_when_the_program_drops_it():
    x = mdl.tensor(np.ones(1000), requires_grad=True)
    y = mdl.exp(x) + 1             # exp keeps its output; + keeps nothing
    z = (y * 3).sum()
    freed = weakref.ref(y.data)
    del y
    gc.collect()
    assert freed() is None          # z's record does not hold y's array
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.e)


def held_by_forward(step, n=50, shape=(500, 500)):
    """Bytes (tracemalloc) alive after n steps of ``step`` on a float32 leaf, before backward."""
    x = mdl.tensor(np.random.default_rng(0).random(shape, dtype=np.float32), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    y = x
    for _ in range(n):
        y = step(y)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held, peak, x, y


def test_an_affine_chain_holds_a_few_arrays_not_fifty():
    array = 500 * 500 * 4
    held, peak, x, y = held_by_forward(lambda y: y * 1.0001 + 1)
    assert held < 2 * array and peak < 4 * array, (held / array, peak / array)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0001 ** 50, rtol=1e-5)


def test_a_tanh_chain_holds_exactly_the_fifty_outputs_its_vjps_read():
    array = 500 * 500 * 4
    held, _, x, y = held_by_forward(lambda y: mdl.tanh(y) + 1)
    assert 50 * array <= held < 52 * array, held / array


def test_a_tensor_passed_by_keyword_is_recorded_like_a_positional_one():
    @mdl.primitive
    def where3(c, x, y):
        return np.where(c, x, y)

    mdl.defvjp(where3, None, lambda g, ans, c, x, y: np.where(c, g, 0), lambda g, ans, c, x, y: np.where(c, 0, g))
    c = mdl.tensor([True, False])
    a, b = mdl.tensor([1.0, 2.0], requires_grad=True), mdl.tensor([3.0, 4.0], requires_grad=True)
    where3(c, a, y=b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0] and b.grad.tolist() == [0.0, 1.0]
    assert mdl.clip(a, max=mdl.tensor(1.5, requires_grad=True)).requires_grad


def test_a_tensor_that_requires_grad_passed_to_a_keyword_only_parameter_is_refused():
    @mdl.primitive
    def shift(x, *, by):
        return x + by

    mdl.defvjp(shift, lambda g, ans, x, by=None: g)
    x = mdl.tensor([1.0], requires_grad=True)
    assert shift(x, by=mdl.tensor([2.0])).tolist() == [3.0]  # a constant is fine
    with pytest.raises(TypeError, match="keyword argument 'by' requires grad"):
        shift(x, by=mdl.tensor([2.0], requires_grad=True))


def test_edges_lead_to_nodes_and_leaves_not_to_arrays():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = mdl.exp(x)
    z = y * x
    assert z.grad_fn.parents == (y.grad_fn, x)
    assert [v for v, _ in z.grad_fn.next_functions] == [y.grad_fn, x]
    assert z.grad_fn.name() == "MultiplyBackward"
