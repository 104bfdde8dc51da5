"""sort, argsort and topk: NumPy's values-only sort with its keywords, PyTorch's (values, indices)
otherwise, stable orders, gradients of first and second order, and parity with PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes

import minidl as mdl
from test_ops_support import check_both_orders, distinct, rng, torch_parity

TIED = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, -1.0, 0.0, 5.0, 5.0, -1.0]])


@settings(max_examples=6, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_sort_values_and_gradients_in_numpys_dialect(shape):
    x = distinct(shape)
    for axis in (0, -1, None):
        np.testing.assert_array_equal(mdl.sort(x, axis=axis).numpy(), np.sort(x.numpy(), axis=axis))
    assert mdl.gradcheck(lambda x: mdl.sort(x, axis=0) * mdl.sort(x, axis=None)[0], (x,))


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4)], ids=str)
def test_sort_second_derivatives(shape):
    check_both_orders(lambda x: mdl.sort(x, axis=-1) ** 2 * mdl.arange(shape[-1], dtype="float64"), (distinct(shape),))
    check_both_orders(lambda x: x.sort(descending=True).values ** 3, (distinct(shape),))


def test_sort_without_numpy_keywords_returns_values_and_indices():
    x = distinct((3, 4))
    for result in (mdl.sort(x), x.sort(), x.sort(0), x.sort(dim=1), mdl.sort(x, descending=True)):
        assert isinstance(result, mdl.ValuesIndices)
    values, indices = x.sort(dim=0)
    np.testing.assert_array_equal(values.numpy(), np.sort(x.numpy(), 0))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(x.numpy(), 0))
    assert indices.dtype == mdl.int64 and not indices.requires_grad
    assert not isinstance(mdl.sort(x, -1, "stable"), tuple)  # NumPy's kind, positionally: NumPy's answer


def test_sorts_are_stable_and_descending_keeps_ties_in_order():
    x = mdl.tensor(TIED)
    np.testing.assert_array_equal(mdl.argsort(x).numpy(), np.argsort(TIED, kind="stable"))
    _, down = mdl.sort(x, descending=True)
    expected = [sorted(range(6), key=lambda j, row=row: -row[j]) for row in TIED]  # Python's sort is stable
    np.testing.assert_array_equal(down.numpy(), expected)


def test_argsort_spellings_and_flattening():
    x = distinct((3, 4))
    np.testing.assert_array_equal(mdl.argsort(x, axis=None).numpy(), np.argsort(x.numpy(), axis=None))
    np.testing.assert_array_equal(x.argsort(dim=0, descending=True).numpy(), np.argsort(-x.numpy(), 0))
    np.testing.assert_array_equal(mdl.argsort(x, 0, kind="mergesort").numpy(), np.argsort(x.numpy(), 0))


def test_sort_refuses_mixed_dialects_and_structured_orders():
    x = distinct((3,))
    with pytest.raises(TypeError, match="mix of NumPy"):
        mdl.sort(x, axis=0, descending=True)
    with pytest.raises(TypeError, match="structured"):
        mdl.sort(x, order="name")
    with pytest.raises(TypeError, match="unexpected"):
        mdl.argsort(x, reverse=True)


def test_topk_returns_the_largest_values_and_their_indices():
    x = distinct((3, 5))
    values, indices = mdl.topk(x, 2)
    np.testing.assert_array_equal(values.numpy(), -np.sort(-x.numpy(), 1)[:, :2])
    np.testing.assert_array_equal(np.take_along_axis(x.numpy(), indices.numpy(), 1), values.numpy())
    smallest = x.topk(2, dim=0, largest=False)
    np.testing.assert_array_equal(smallest.values.numpy(), np.sort(x.numpy(), 0)[:2])
    check_both_orders(lambda x: mdl.topk(x, 3).values ** 2, (x,))
    assert mdl.topk(x, 0).values.shape == (3, 0)


def test_topk_refuses_k_out_of_range():
    with pytest.raises(ValueError, match="k=6 is out of range for 5"):
        mdl.topk(distinct((5,)), 6)


# -- against PyTorch ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_sort_parity_with_pytorch(torch, dim, descending):
    x = np.array([[3.0, np.nan, 1.0, 3.0], [-np.inf, np.inf, 2.0, 2.0], [0.5, 0.5, -1.0, 7.0]])
    ours = mdl.sort(mdl.tensor(x), dim=dim, descending=descending)
    theirs = torch.sort(torch.tensor(x), dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_sort_and_topk_gradients_match_pytorch(torch):
    x = rng.permutation(12).reshape(3, 4) * 0.5
    torch_parity(torch, lambda a: a.sort(dim=0).values, lambda a: a.sort(dim=0).values, [x])
    torch_parity(torch, lambda a: a.topk(2, dim=1).values, lambda a: a.topk(2, dim=1).values, [x])
    torch_parity(torch, lambda a: mdl.topk(a, 3, 0, False).values, lambda a: torch.topk(a, 3, 0, False).values, [x])
