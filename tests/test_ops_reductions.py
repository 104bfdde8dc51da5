"""prod, cumsum and std (and var's PyTorch positional forms): values against NumPy, both dialects,
gradients of first and second order, prod's gradient where elements are zero, parity with PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes

import minidl as mdl
from test_ops_support import check_both_orders, rng, t, torch_parity

SHAPES_AND_AXES = [((), None), ((3,), None), ((3,), 0), ((2, 3), None), ((2, 3), 0), ((2, 3), 1), ((2, 3), -1),
                   ((1, 3), 0), ((2, 3, 2), (0, 2))]


def away_from_zero(shape):
    """Magnitudes in [0.5, 1.5] with random signs: products neither vanish nor explode."""
    values = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return mdl.tensor(values, dtype="float64", requires_grad=True)


# -- prod ----------------------------------------------------------------------------------

@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", SHAPES_AND_AXES, ids=str)
def test_prod_values_and_gradients(shape, axis, keepdims):
    x = away_from_zero(shape)
    f = lambda x: mdl.prod(x, axis=axis, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), np.prod(x.numpy(), axis=axis, keepdims=keepdims))
    check_both_orders(f, (x,))


def test_prod_in_pytorchs_spelling_and_of_a_number():
    x = away_from_zero((2, 3))
    np.testing.assert_allclose(x.prod(1, keepdim=True).numpy(), np.prod(x.numpy(), 1, keepdims=True))
    np.testing.assert_allclose(x.prod(dim=0).numpy(), np.prod(x.numpy(), 0))
    assert mdl.prod(3.5).item() == 3.5
    assert mdl.prod(mdl.tensor([2, 3, 4]), dtype="float64").dtype == mdl.float64


def test_prod_gradient_at_one_zero_is_the_product_of_the_others():
    x = mdl.tensor([[2.0, 0.0, 3.0], [1.0, 2.0, 4.0]], dtype="float64", requires_grad=True)
    mdl.prod(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 6.0, 0.0], [8.0, 4.0, 2.0]])  # no nan, no inf


def test_prod_gradient_with_two_zeros_is_zero_but_its_derivative_is_not():
    x = mdl.tensor([0.0, 5.0, 0.0, 3.0], dtype="float64", requires_grad=True)
    g, = mdl.autograd.grad(mdl.prod(x), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 0.0, 0.0])
    h, = mdl.autograd.grad(g[0], [x])  # d/dx of x1 x2 x3: only x2 (the other zero) matters, by x1 x3
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.0, 15.0, 0.0])


@pytest.mark.parametrize("values", [[0.0, 2.0, 3.0, -1.5], [2.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0],
                                    [1.5, -2.0, 0.5, 3.0]], ids=["one_zero", "two_zeros", "three_zeros", "none"])
def test_prod_hessian_is_exact_with_zeros(values):
    """Row i of the Hessian of prod is the product of all elements but i and j, at j != i."""
    x = mdl.tensor(values, dtype="float64", requires_grad=True)
    g, = mdl.autograd.grad(mdl.prod(x), [x], create_graph=True)
    hessian = np.stack([mdl.autograd.grad(g[i], [x], retain_graph=True)[0].numpy() for i in range(4)])
    expected = [[0.0 if i == j else np.prod(np.delete(values, [i, j])) for j in range(4)] for i in range(4)]
    np.testing.assert_allclose(hessian, expected, rtol=1e-14)


def test_prod_third_derivative_is_refused_not_wrong():
    x = mdl.tensor([0.5, 2.0, 3.0], dtype="float64", requires_grad=True)
    g, = mdl.autograd.grad(mdl.prod(x), [x], create_graph=True)
    h, = mdl.autograd.grad(g.sum(), [x], create_graph=True)
    with pytest.raises(TypeError, match="no gradient with respect to argument 0"):
        mdl.autograd.grad(h.sum(), [x])


# -- cumsum --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", [((5,), None), ((3, 4), None), ((3, 4), 0), ((3, 4), 1), ((2, 3, 2), -1)],
                         ids=str)
def test_cumsum_values_and_gradients(shape, axis):
    x = t(shape)
    np.testing.assert_allclose(mdl.cumsum(x, axis).numpy(), np.cumsum(x.numpy(), axis))
    check_both_orders(lambda x: mdl.cumsum(x, axis=axis), (x,))


def test_cumsum_spellings():
    x = t((3, 4))
    np.testing.assert_allclose(x.cumsum(1).numpy(), np.cumsum(x.numpy(), 1))
    np.testing.assert_allclose(x.cumsum(dim=0).numpy(), np.cumsum(x.numpy(), 0))
    assert mdl.cumsum(mdl.tensor([1, 2, 3]), dtype="float64").tolist() == [1.0, 3.0, 6.0]
    with pytest.raises(TypeError, match="not both"):
        mdl.cumsum(x, axis=0, dim=0)


# -- std (and var) --------------------------------------------------------------------------

@settings(max_examples=6, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
def test_std_numpy_dialect_and_gradients(shape):
    x = t(shape)
    for ddof in (0, 1):
        np.testing.assert_allclose(mdl.std(x, axis=0, ddof=ddof).numpy(), np.std(x.numpy(), axis=0, ddof=ddof))
    np.testing.assert_allclose(mdl.std(x, axis=None, keepdims=True).numpy(), np.std(x.numpy(), keepdims=True))
    assert mdl.gradcheck(lambda x: mdl.std(x, axis=-1, keepdims=True), (x,))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis, ddof", [((3,), None, 0), ((3, 4), None, 1), ((1, 3), None, 1),
                                               ((3, 4), None, 2), ((1, 3), 1, 2), ((3, 4), 1, 0)], ids=str)
def test_std_with_ddof_as_numpy(shape, axis, ddof, keepdims):
    x = t(shape)
    f = lambda x: mdl.std(x, axis=axis, ddof=ddof, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), np.std(x.numpy(), axis=axis, ddof=ddof, keepdims=keepdims))
    assert mdl.gradcheck(f, (x,))


def test_std_refuses_a_mix_of_dialects():
    x = t((3, 4))
    with pytest.raises(TypeError, match="mix of NumPy"):
        mdl.std(x, axis=0, keepdim=True)
    with pytest.raises(TypeError, match="unbiased= is PyTorch's"):
        mdl.std(x, axis=0, unbiased=True)
    np.testing.assert_allclose(mdl.std(x, axis=0, correction=1).numpy(), np.std(x.numpy(), 0, ddof=1))


def test_std_is_unbiased_as_pytorch_without_numpy_keywords():
    x = t((3, 4))
    data = x.numpy()
    np.testing.assert_allclose(x.std().numpy(), np.std(data, ddof=1))
    np.testing.assert_allclose(x.std(1).numpy(), np.std(data, 1, ddof=1))
    np.testing.assert_allclose(x.std(dim=0, keepdim=True).numpy(), np.std(data, 0, ddof=1, keepdims=True))
    np.testing.assert_allclose(x.std(unbiased=False).numpy(), np.std(data))
    np.testing.assert_allclose(x.std(0, correction=0).numpy(), np.std(data, 0))


@pytest.mark.parametrize("f", [mdl.std, mdl.var], ids=["std", "var"])
def test_pytorch_positional_unbiased(f):
    x = t((3, 4))
    data = x.numpy()
    np.testing.assert_allclose(f(x, False).numpy(), np.var(data) ** (0.5 if f is mdl.std else 1))
    np.testing.assert_allclose(f(x, 1, False).numpy(), np.var(data, 1) ** (0.5 if f is mdl.std else 1))
    out = f(x, 0, True, True)  # (dim, unbiased, keepdim)
    np.testing.assert_allclose(out.numpy(), np.var(data, 0, ddof=1, keepdims=True) ** (0.5 if f is mdl.std else 1))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_std_second_derivatives(axis):
    check_both_orders(lambda x: mdl.std(x, axis=axis), (t((3, 4)),))
    check_both_orders(lambda x: mdl.std(x, axis), (t((3, 4)),))


def test_std_of_a_constant_slice_has_a_zero_gradient_as_pytorch():
    x = mdl.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype="float64", requires_grad=True)
    mdl.std(x, 1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and not x.grad.numpy()[0].any()


# -- against PyTorch ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


@pytest.mark.parametrize("values", [rng.uniform(0.5, 1.5, (3, 4)), [[0.0, 2.0, 3.0, 1.0], [0.0, 0.0, 2.0, 1.0],
                                                                    [1.0, 2.0, 3.0, 0.0]]], ids=["no_zeros", "zeros"])
@pytest.mark.parametrize("dim", [None, 1])
def test_prod_parity_with_pytorch(torch, values, dim):
    ours = (lambda x: mdl.prod(x)) if dim is None else (lambda x: mdl.prod(x, dim))
    theirs = (lambda x: torch.prod(x)) if dim is None else (lambda x: torch.prod(x, dim))
    torch_parity(torch, ours, theirs, [np.array(values)])


def test_prod_second_derivative_parity_with_pytorch_at_zeros(torch):
    values = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.5, 2.0, -1.0]])
    x, xt = mdl.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    w = np.cos(np.arange(9.0)).reshape(3, 3)
    g, = mdl.autograd.grad(mdl.prod(x, 1).sum(), [x], create_graph=True)
    gt, = torch.autograd.grad(torch.prod(xt, 1).sum(), [xt], create_graph=True)
    h, = mdl.autograd.grad((g * mdl.tensor(w)).sum(), [x])
    ht, = torch.autograd.grad((gt * torch.tensor(w)).sum(), [xt])
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumsum_parity_with_pytorch(torch, dim):
    torch_parity(torch, lambda x: mdl.cumsum(x, dim), lambda x: torch.cumsum(x, dim), [rng.standard_normal((3, 4))])


@pytest.mark.parametrize("args, kwargs", [((), {}), ((1,), {}), ((0, False), {}), ((), {"dim": 1, "keepdim": True}),
                                          ((), {"dim": 0, "correction": 0})], ids=str)
def test_std_parity_with_pytorch(torch, args, kwargs):
    torch_parity(torch, lambda x: mdl.std(x, *args, **kwargs), lambda x: torch.std(x, *args, **kwargs),
                 [rng.standard_normal((3, 4))])


def test_std_of_a_constant_parity_with_pytorch(torch):
    torch_parity(torch, lambda x: mdl.std(x, 1), lambda x: torch.std(x, 1), [np.array([[1.0, 1.0], [0.0, 3.0]])])
