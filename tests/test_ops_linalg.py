"""mdl.linalg (inv, det, slogdet, solve, cholesky, svdvals, norms) and the top-level norm's two
dialects: values against NumPy, gradients of first and second order (batched too), singular and
non-positive-definite inputs, and parity with PyTorch."""
import math

import numpy as np
import pytest

import minidl as mdl
from test_ops_support import check_both_orders, rng, spd, t, torch_parity, well_conditioned

LA = mdl.linalg


# -- inverse and determinants ----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 5), (4, 3, 3), (2, 2, 3, 3)], ids=str)
def test_inv_values_and_gradients(shape):
    a = well_conditioned(*shape)
    np.testing.assert_allclose(LA.inv(a).numpy(), np.linalg.inv(a.numpy()), rtol=1e-12)
    assert mdl.gradcheck(LA.inv, (a,))
    check_both_orders(LA.inv, (well_conditioned(*shape[:-2], 3, 3),))


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3)], ids=str)
def test_det_values_and_gradients(shape):
    a = t(shape)
    np.testing.assert_allclose(LA.det(a).numpy(), np.linalg.det(a.numpy()), rtol=1e-12)
    check_both_orders(LA.det, (a,))


def test_det_gradient_of_a_singular_matrix_is_its_cofactor_matrix():
    a = mdl.tensor(np.arange(9.0).reshape(3, 3), dtype="float64", requires_grad=True)  # rank 2
    LA.det(a).backward()
    m = a.numpy()
    cofactors = [[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1)) for j in range(3)]
                 for i in range(3)]
    np.testing.assert_allclose(a.grad.numpy(), cofactors, atol=1e-12)
    assert np.abs(a.grad.numpy()).max() > 1  # not the zeros of a 0 * inf


@pytest.mark.parametrize("flip_sign", [False, True])
def test_slogdet_sign_and_log_of_the_absolute_determinant(flip_sign):
    a = t((4, 4)) * (-1.0 if flip_sign else 1.0)
    sign, logabsdet = LA.slogdet(a)
    det = np.linalg.det(a.numpy())
    assert sign.item() == np.sign(det) and not sign.requires_grad
    assert logabsdet.item() == pytest.approx(math.log(abs(det)), rel=1e-12)
    check_both_orders(lambda a: LA.slogdet(a).logabsdet, (a.detach().requires_grad_(),))


def test_slogdet_of_a_batch_and_of_a_singular_matrix():
    a = spd(3, 4, 4)
    check_both_orders(lambda a: LA.slogdet(a)[1].sum(), (a,))
    sign, logabsdet = LA.slogdet(mdl.tensor(np.ones((3, 3)), dtype="float64"))
    assert sign.item() == 0 and logabsdet.item() == -math.inf
    big = mdl.tensor(np.eye(3) * 1e200, dtype="float64")
    assert LA.slogdet(big).logabsdet.item() == pytest.approx(600 * math.log(10))  # det itself overflows


# -- solve ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape, b_shape", [((4, 4), (4, 3)), ((4, 4), (4,)), ((5, 3, 3), (5, 3)),
                                              ((5, 3, 3), (5, 3, 2)), ((2, 1, 3, 3), (4, 3, 2)), ((3, 3), (2, 3, 1))],
                         ids=str)
def test_solve_values_and_gradients_in_both_arguments(a_shape, b_shape):
    a, b = well_conditioned(*a_shape), t(b_shape)
    x = LA.solve(a, b)
    residual = mdl.matmul(a, x.unsqueeze(-1)).squeeze(-1) if _is_vector(a_shape, b_shape) else mdl.matmul(a, x)
    np.testing.assert_allclose(residual.numpy(), np.broadcast_to(b.numpy(), residual.shape), atol=1e-12)
    check_both_orders(LA.solve, (a, b))


def _is_vector(a_shape, b_shape):
    return len(b_shape) == 1 or tuple(b_shape) == tuple(a_shape[:-1])


def test_solve_reads_b_as_vectors_by_pytorchs_rule():
    a, b = well_conditioned(3, 3, 3), t((3, 3))  # b is a's shape without its last dimension: three vectors
    x = LA.solve(a, b)
    assert x.shape == (3, 3)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", a.numpy(), x.numpy()), b.numpy(), atol=1e-12)


def test_solve_from_the_right():
    a, b = well_conditioned(2, 3, 3), t((4, 3))
    x = LA.solve(a, b, left=False)
    np.testing.assert_allclose((x @ a).numpy(), np.broadcast_to(b.numpy(), (2, 4, 3)), atol=1e-12)
    check_both_orders(lambda a, b: LA.solve(a, b, left=False), (a, b))


# -- Cholesky ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3)], ids=str)
def test_cholesky_values_and_gradients(shape):
    a = spd(*shape)
    low = LA.cholesky(a)
    np.testing.assert_allclose(low.numpy(), np.linalg.cholesky(a.numpy()), rtol=1e-12)
    np.testing.assert_allclose(LA.cholesky(a, upper=True).numpy(), np.swapaxes(low.numpy(), -1, -2))
    check_both_orders(LA.cholesky, (a,))


def test_cholesky_factors_the_symmetric_part_and_its_gradient_is_symmetric():
    a = spd(4, 4)
    w = mdl.tensor(rng.standard_normal((4, 4)))
    g, = mdl.autograd.grad((LA.cholesky(a) * w).sum(), [a])
    np.testing.assert_allclose(g.numpy(), g.numpy().T, atol=1e-14)
    antisymmetric = mdl.tensor(np.triu(np.ones((4, 4)), 1) - np.tril(np.ones((4, 4)), -1))
    np.testing.assert_allclose(LA.cholesky(a + antisymmetric).numpy(), LA.cholesky(a).numpy(), rtol=1e-12)


def test_cholesky_reparameterisation_trick():
    z = mdl.tensor(rng.standard_normal(4))
    check_both_orders(lambda a: LA.norm(LA.cholesky(a) @ z), (spd(4, 4),))


# -- singular values and norms ----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 4), (4, 2), (2, 3, 3)], ids=str)
def test_svdvals_values_and_gradients(shape):
    a = t(shape)
    np.testing.assert_allclose(LA.svdvals(a).numpy(), np.linalg.svd(a.numpy(), compute_uv=False), rtol=1e-12)
    check_both_orders(LA.svdvals, (a,))


LINALG_NORMS = [((6,), {}), ((6, 5), {}), ((4, 3, 2), {"axis": (0, 1)}), ((6,), {"ord": 3}), ((6,), {"ord": 4}),
                ((6,), {"ord": 0.5}), ((6,), {"ord": math.inf}), ((6,), {"ord": -math.inf}), ((6,), {"ord": 1}),
                ((4, 3, 2), {"axis": 0}), ((4, 3, 2), {"axis": 1}), ((4, 3, 2), {"axis": 2, "keepdims": True}),
                ((4, 3), {"ord": "nuc"}), ((4, 3, 2), {"ord": "nuc", "axis": (0, 1)}), ((4, 3), {"ord": 2}),
                ((4, 3), {"ord": -2}), ((4, 3), {"ord": 1}), ((4, 3), {"ord": -1}), ((4, 3), {"ord": math.inf}),
                ((4, 3), {"ord": -math.inf}), ((4, 3), {"ord": "fro", "keepdims": True}),
                ((2, 3, 4), {"ord": 2, "axis": (2, 0)})]


@pytest.mark.parametrize("shape, kwargs", LINALG_NORMS, ids=str)
def test_linalg_norm_is_numpys_with_gradients(shape, kwargs):
    x = t(shape)
    np.testing.assert_allclose(LA.norm(x, **kwargs).numpy(), np.linalg.norm(x.numpy(), **kwargs), rtol=1e-12)
    np.testing.assert_allclose(mdl.norm(x, **kwargs).numpy(), np.linalg.norm(x.numpy(), **kwargs), rtol=1e-12)
    check_both_orders(lambda x: LA.norm(x, **kwargs), (x,))


def test_linalg_norm_takes_pytorchs_spelling_and_its_helpers():
    x = t((3, 4))
    np.testing.assert_allclose(LA.norm(x, 3, dim=1, keepdim=True).numpy(),
                               np.linalg.norm(x.numpy(), 3, axis=1, keepdims=True))
    np.testing.assert_allclose(LA.vector_norm(x, 1).numpy(), np.abs(x.numpy()).sum())
    np.testing.assert_allclose(LA.vector_norm(x, 2, dim=(0, 1)).numpy(), np.linalg.norm(x.numpy()))
    np.testing.assert_allclose(LA.matrix_norm(x, "nuc").numpy(), np.linalg.norm(x.numpy(), "nuc"))


def test_top_level_norm_without_numpy_keywords_is_pytorchs():
    m = t((3, 4))
    data = m.numpy()
    np.testing.assert_allclose(mdl.norm(m, 2).numpy(), np.sqrt((data ** 2).sum()))  # Frobenius, not spectral
    np.testing.assert_allclose(mdl.norm(m, ord=2).numpy(), np.linalg.norm(data, 2))  # NumPy's keyword: spectral
    np.testing.assert_allclose(m.norm().numpy(), np.linalg.norm(data))
    np.testing.assert_allclose(m.norm(1).numpy(), np.abs(data).sum())
    np.testing.assert_allclose(m.norm(p=3, dim=1).numpy(), np.linalg.norm(data, 3, axis=1))
    np.testing.assert_allclose(m.norm("nuc").numpy(), np.linalg.norm(data, "nuc"))
    np.testing.assert_allclose(m.norm(dim=0, keepdim=True).numpy(), np.linalg.norm(data, axis=0, keepdims=True))


def test_norm_gradient_at_zero_is_zero_as_pytorch():
    for p in (2, 1.5, 0.5, 3):
        x = mdl.tensor([0.0, 0.0, 0.0], dtype="float64", requires_grad=True)
        mdl.norm(x, p).backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_norm_of_integers_is_a_float_as_numpys():
    assert mdl.norm(mdl.tensor([3, 4])).item() == 5.0


@pytest.mark.parametrize("call, error, message", [
    (lambda x: LA.norm(x, "nuc", axis=0), ValueError, "matrix norm"),
    (lambda x: LA.norm(x, 3, axis=(0, 1)), ValueError, "not a matrix norm"),
    (lambda x: LA.norm(x.reshape(2, 3, 2), 2), ValueError, "1-D or 2-D"),
    (lambda x: mdl.norm(x, 2, axis=0, dim=0), TypeError, "mix of NumPy"),
    (lambda x: mdl.norm(x, p="bad"), ValueError, "torch.norm takes"),
    (lambda x: LA.inv(x), ValueError, r"square matrix.*\(3, 4\)"),
    (lambda x: LA.det(x[0]), ValueError, "square matrix"),
    (lambda x: LA.solve(x[:, :3], x.T), ValueError, "do not match"),
    (lambda x: LA.cholesky(-mdl.eye(3, dtype="float64")), ValueError, "positive definite"),
    (lambda x: LA.inv(mdl.tensor(np.ones((3, 3)))), ValueError, "[Ss]ingular"),
], ids=["nuc_vector", "ord_matrix", "ndim", "mixed", "p", "inv_shape", "det_shape", "solve_shape", "not_pd",
        "singular"])
def test_linalg_refuses_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(t((3, 4)))


# -- against PyTorch ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


def test_decompositions_parity_with_pytorch(torch):
    a = well_conditioned(2, 3, 3).numpy()
    s = spd(2, 3, 3).numpy()
    b, v = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3))
    tl = torch.linalg
    torch_parity(torch, LA.inv, tl.inv, [a])
    torch_parity(torch, LA.det, tl.det, [a])
    torch_parity(torch, lambda a: LA.slogdet(a).logabsdet, lambda a: tl.slogdet(a).logabsdet, [-a])
    torch_parity(torch, LA.solve, tl.solve, [a, b])
    torch_parity(torch, LA.solve, tl.solve, [a, v])
    torch_parity(torch, lambda a, b: LA.solve(a, b, left=False), lambda a, b: tl.solve(a, b, left=False),
                 [a, b.swapaxes(-1, -2)])
    torch_parity(torch, LA.cholesky, tl.cholesky, [s])
    torch_parity(torch, lambda s: LA.cholesky(s, upper=True), lambda s: tl.cholesky(s, upper=True), [s])
    torch_parity(torch, LA.svdvals, tl.svdvals, [rng.standard_normal((3, 4))])


@pytest.mark.parametrize("ord_, dim", [(None, None), (2, None), ("nuc", None), (-2, None), (1, None),
                                       (math.inf, None), (3, 1), (0.5, 0), (-math.inf, 1), ("fro", (0, 1))], ids=str)
def test_linalg_norm_parity_with_pytorch(torch, ord_, dim):
    torch_parity(torch, lambda x: LA.norm(x, ord_, dim), lambda x: torch.linalg.norm(x, ord_, dim),
                 [rng.standard_normal((4, 3))])


@pytest.mark.parametrize("args, kwargs", [((), {}), ((2,), {}), ((1,), {}), ((3,), {"dim": 1}), (("nuc",), {}),
                                          ((math.inf,), {}), (("fro",), {"dim": (0, 1), "keepdim": True})], ids=str)
def test_top_level_norm_parity_with_pytorch(torch, args, kwargs):
    torch_parity(torch, lambda x: mdl.norm(x, *args, **kwargs), lambda x: torch.norm(x, *args, **kwargs),
                 [rng.standard_normal((4, 3))])


def test_pytorchs_top_level_names_and_methods():
    a = well_conditioned(3, 3)
    np.testing.assert_allclose(a.inverse().numpy(), np.linalg.inv(a.numpy()))
    np.testing.assert_allclose(mdl.inverse(a).numpy(), np.linalg.inv(a.numpy()))
    assert a.det().item() == pytest.approx(np.linalg.det(a.numpy())) == mdl.det(a).item()
    sign, logabsdet = a.slogdet()
    assert sign.item() * math.exp(logabsdet.item()) == pytest.approx(np.linalg.det(a.numpy()))
    assert mdl.slogdet(a).sign.item() == sign.item()
