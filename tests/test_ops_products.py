"""einsum, tensordot, dot and outer: values against NumPy (every argument form), gradients of first and
second order, errors for bad subscripts, and parity with PyTorch."""
import numpy as np
import pytest

import minidl as mdl
from test_ops_support import check_both_orders, rng, t, torch_parity

EINSUMS = [
    ("ij->ji", [(1, 1)]), ("ij->ji", [(3, 4)]), ("ij,jk->ik", [(2, 3), (3, 4)]), ("ijk,lji->lki", [(3, 4, 4), (4, 4, 3)]),
    ("...jk,...lj->...lk", [(3, 4, 4), (3, 4, 4)]), ("...,...->...", [(3, 4, 4), (3, 4, 4)]),
    ("ijk,lji,lli->lki", [(3, 4, 4), (4, 4, 3), (4, 4, 3)]), ("ij,jk", [(2, 3), (3, 4)]), ("ba,aC", [(2, 3), (3, 4)]),
    ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("iij->j", [(2, 2, 3)]), ("ij->", [(2, 3)]), ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(2,), (3,)]), (" ij , jk -> ik ", [(2, 3), (3, 4)]), ("ij,ij->ij", [(1, 3), (4, 3)]),
    ("...ij,jk->...ik", [(2, 1, 2, 3), (3, 4)]), ("...i,...i->...", [(2, 3), (4, 1, 3)]), (",i->i", [(), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
]


def with_shapes(f, shapes):
    """f of inputs reshaped to ``shapes``: gradcheck hands 0-d inputs over as shape (1,)."""
    return lambda *xs: f(*(x.reshape(s) for x, s in zip(xs, shapes)))


@pytest.mark.parametrize("subscripts, shapes", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_values_and_gradients(subscripts, shapes):
    xs = [t(s) for s in shapes]
    expected = np.einsum(subscripts, *[x.numpy() for x in xs])
    np.testing.assert_allclose(mdl.einsum(subscripts, *xs).numpy(), expected, rtol=1e-12, atol=1e-12)
    check_both_orders(with_shapes(lambda *xs: mdl.einsum(subscripts, *xs), shapes), xs)


def test_einsum_takes_a_list_of_operands_and_numpys_sublists():
    a, b = t((2, 3)), t((3, 4))
    expected = a.numpy() @ b.numpy()
    np.testing.assert_allclose(mdl.einsum("ij,jk", [a, b]).numpy(), expected)
    np.testing.assert_allclose(mdl.einsum(a, [0, 1], b, [1, 2], [0, 2]).numpy(), expected)
    np.testing.assert_allclose(mdl.einsum(a, [0, 1], b, [1, 2]).numpy(), expected)
    np.testing.assert_allclose(mdl.einsum(a, [Ellipsis, 1], [1, Ellipsis]).numpy(), a.numpy().T)
    np.testing.assert_allclose(mdl.einsum("ij,jk->ik", a, b, optimize=True).numpy(), expected)


@pytest.mark.parametrize("args, message", [
    (("ij,jk", (2, 3)), "2 operand subscripts"), (("ijk", (2, 3)), "3 dimensions|2 dimensions"),
    (("ij->ii", (2, 2)), "once"), (("ij->k", (2, 2)), "once"), (("...i->i", (2, 3)), "needs '...'"),
    (("i1", (2, 2)), "invalid subscripts"), (("ij,jk", (2, 3), (4, 5)), "cannot apply"),
], ids=["operands", "ndim", "repeated_output", "unknown_output", "ellipsis", "letters", "lengths"])
def test_einsum_refuses_bad_subscripts(args, message):
    with pytest.raises(ValueError, match=message):
        mdl.einsum(args[0], *[t(s) for s in args[1:]])


@pytest.mark.parametrize("a_shape, b_shape, axes", [
    ((1, 3), (3,), [(1,), (0,)]), ((2, 3, 2), (3, 1), [(1,), (0,)]), ((3,), (1, 3), [(0,), (1,)]),
    ((2, 3), (1, 2, 3), [(0, 1), (1, 2)]), ((2, 3, 4), (2, 2, 3, 4), [(1, 0), (2, 1)]), ((2, 2), (2, 2), 1),
    ((4, 2, 2), (2, 2, 4), 2), ((2, 3), (3, 4), [1, 0]), ((2, 3), (4,), 0),
], ids=str)
def test_tensordot_values_and_gradients(a_shape, b_shape, axes):
    a, b = t(a_shape), t(b_shape)
    expected = np.tensordot(a.numpy(), b.numpy(), axes)
    np.testing.assert_allclose(mdl.tensordot(a, b, axes).numpy(), expected, rtol=1e-12)
    check_both_orders(lambda a, b: mdl.tensordot(a, b, axes=axes), (a, b))


def test_tensordot_spellings_and_errors():
    a, b = t((2, 2)), t((2, 2))
    np.testing.assert_allclose(mdl.tensordot(a, b, 2).numpy(), np.tensordot(a.numpy(), b.numpy(), 2))
    np.testing.assert_allclose(mdl.tensordot(a, b, dims=([0], [1])).numpy(), np.tensordot(a.numpy(), b.numpy(), ([0], [1])))
    with pytest.raises(ValueError, match="pair up"):
        mdl.tensordot(t((2, 3)), t((2, 3)), ([1], [0]))
    with pytest.raises(ValueError, match="axes=3"):
        mdl.tensordot(a, b, 3)


@pytest.mark.parametrize("a_shape, b_shape", [((), ()), ((), (3,)), ((2, 3), ()), ((3,), (3,)), ((3,), (3, 4)),
                                              ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 3), (4, 3, 2)), ((2, 2, 3), (3, 2))],
                         ids=str)
def test_dot_is_numpys_with_gradients(a_shape, b_shape):
    a, b = t(a_shape), t(b_shape)
    np.testing.assert_allclose(mdl.dot(a, b).numpy(), np.dot(a.numpy(), b.numpy()), rtol=1e-12)
    check_both_orders(with_shapes(mdl.dot, (a_shape, b_shape)), (a, b))


def test_dot_with_python_numbers_and_as_a_method():
    v = t((3,))
    np.testing.assert_allclose(mdl.dot(1.5, v).numpy(), 1.5 * v.numpy())
    np.testing.assert_allclose(v.dot(v).numpy(), v.numpy() @ v.numpy())


@pytest.mark.parametrize("a_shape, b_shape", [((4,), (3,)), ((2, 2), (3,)), ((), (2,))], ids=str)
def test_outer_flattens_as_numpy_with_gradients(a_shape, b_shape):
    a, b = t(a_shape), t(b_shape)
    np.testing.assert_allclose(mdl.outer(a, b).numpy(), np.outer(a.numpy(), b.numpy()))
    np.testing.assert_allclose(a.outer(b).numpy(), np.outer(a.numpy(), b.numpy()))
    check_both_orders(mdl.outer, (a, b))


# -- against PyTorch ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


@pytest.mark.parametrize("subscripts, shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bkj->bik", [(2, 2, 3), (2, 4, 3)]),
                                                ("ii->i", [(3, 3)]), ("...ij,...j", [(2, 3, 4), (4,)]),
                                                ("ij,ij->", [(1, 3), (4, 3)])], ids=str)
def test_einsum_parity_with_pytorch(torch, subscripts, shapes):
    torch_parity(torch, lambda *xs: mdl.einsum(subscripts, *xs), lambda *xs: torch.einsum(subscripts, *xs),
                 [rng.standard_normal(s) for s in shapes])


def test_contractions_parity_with_pytorch(torch):
    a, b, v, w = (rng.standard_normal(s) for s in [(2, 3, 4), (4, 3, 2), (5,), (5,)])
    torch_parity(torch, lambda a, b: mdl.tensordot(a, b, dims=([1, 2], [1, 0])),
                 lambda a, b: torch.tensordot(a, b, dims=([1, 2], [1, 0])), [a, b])
    torch_parity(torch, lambda a, b: mdl.tensordot(a, b, 1), lambda a, b: torch.tensordot(a, b, 1), [a, b])
    torch_parity(torch, lambda v, w: v.dot(w), lambda v, w: v.dot(w), [v, w])
    torch_parity(torch, mdl.outer, torch.outer, [v, w[:3]])
