"""The elementwise functions of api.md's "Also" list: values against NumPy, gradients of first and
second order, zero gradients of the rounding functions, stability, and parity with PyTorch."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minidl as mdl
from test_ops_support import check_both_orders, rng, t, torch_parity

# name: (minidl function, NumPy function, input range)
UNARY = {
    "log1p": (mdl.log1p, np.log1p, (0.2, 2.0)),
    "expm1": (mdl.expm1, np.expm1, (-2.0, 2.0)),
    "log2": (mdl.log2, np.log2, (0.2, 2.0)),
    "log10": (mdl.log10, np.log10, (0.2, 2.0)),
    "tan": (mdl.tan, np.tan, (-1.1, 1.1)),
    "arcsin": (mdl.arcsin, np.arcsin, (-0.9, 0.9)),
    "arccos": (mdl.arccos, np.arccos, (-0.9, 0.9)),
    "arctan": (mdl.arctan, np.arctan, (-2.0, 2.0)),
    "sinh": (mdl.sinh, np.sinh, (-2.0, 2.0)),
    "cosh": (mdl.cosh, np.cosh, (-2.0, 2.0)),
    "softplus": (mdl.softplus, lambda x: np.log1p(np.exp(x)), (-3.0, 3.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=5, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=3))
def test_unary_values_and_gradients(name, shape):
    f, reference, (low, high) = UNARY[name]
    x = t(shape, low, high)
    np.testing.assert_allclose(f(x).numpy(), reference(x.numpy()), rtol=1e-12, atol=1e-14)
    assert mdl.gradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivatives(name):
    f, _, (low, high) = UNARY[name]
    check_both_orders(f, (t((2, 3), low, high),))


BINARY = {
    "arctan2": (mdl.arctan2, np.arctan2, (-2.0, 2.0), (0.3, 2.0)),
    "logaddexp": (mdl.logaddexp, np.logaddexp, (-2.0, 2.0), (-2.0, 2.0)),
    "remainder": (lambda x, y: x % y, np.remainder, (-0.9, 0.9), (0.7, 1.9)),
    "remainder_negative_divisor": (lambda x, y: x % y, np.remainder, (-0.9, 0.9), (-1.9, -0.7)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=6, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_binary_values_and_gradients_with_broadcasting(name, shapes):
    f, reference, x_range, y_range = BINARY[name]
    x, y = t(shapes.input_shapes[0], *x_range), t(shapes.input_shapes[1], *y_range)
    np.testing.assert_allclose(f(x, y).numpy(), reference(x.numpy(), y.numpy()), rtol=1e-12, atol=1e-14)
    assert mdl.gradcheck(f, (x, y))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivatives(name):
    f, _, x_range, y_range = BINARY[name]
    check_both_orders(f, (t((2, 3), *x_range), t((3,), *y_range)))


def test_arctan2_takes_python_numbers_on_either_side():
    x = t((3,), 0.5, 1.0)
    np.testing.assert_allclose(mdl.arctan2(1.0, x).numpy(), np.arctan2(1.0, x.numpy()))
    assert mdl.gradcheck(lambda x: mdl.arctan2(x, -2.0), (x,))
    assert mdl.gradcheck(lambda x: mdl.logaddexp(0.5, x), (x,))


@pytest.mark.parametrize("f", [mdl.floor, mdl.ceil, mdl.round, mdl.sign, lambda x: mdl.round(x, 1), lambda x: x // 0.7],
                         ids=["floor", "ceil", "round", "sign", "round_decimals", "floor_divide"])
def test_piecewise_constant_functions_have_a_zero_gradient(f):
    x = t((3, 4))
    g, = mdl.autograd.grad(f(x).sum(), [x], create_graph=True)
    assert g.shape == x.shape and not g.numpy().any()
    assert mdl.gradcheck(lambda x: f(x) * x, (mdl.tensor([0.3, 1.6, -2.2], dtype="float64", requires_grad=True),))


def test_rounding_values_match_numpy_halves_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1.26, -1.74])
    for ours, theirs in [(mdl.floor, np.floor), (mdl.ceil, np.ceil), (mdl.round, np.round)]:
        np.testing.assert_array_equal(ours(mdl.tensor(x)).numpy(), theirs(x))
    np.testing.assert_array_equal(mdl.round(mdl.tensor(x), 1).numpy(), np.round(x, 1))


def test_floor_and_ceil_keep_integer_dtypes_as_pytorch():
    x = mdl.tensor([3, -2, 0])
    assert mdl.floor(x).dtype == mdl.int64 and mdl.ceil(x).tolist() == [3, -2, 0]
    assert mdl.round(x).dtype == mdl.int64


def test_softplus_is_exact_and_finite_for_large_inputs():
    x = mdl.tensor([800.0, -800.0, 40.0, -40.0], dtype="float64")
    out = mdl.softplus(x, threshold=math.inf).numpy()
    np.testing.assert_allclose(out, [800.0, math.exp(-800.0), 40.0, math.exp(-40.0)], rtol=1e-15, atol=0)
    x.requires_grad = True
    g, = mdl.autograd.grad(mdl.softplus(x, threshold=math.inf).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [1.0, 0.0, 1.0, math.exp(-40.0)], rtol=1e-12)


def test_softplus_beta_and_threshold_as_pytorch():
    x = t((2, 5), -15.0, 15.0)
    assert mdl.gradcheck(lambda x: mdl.softplus(x, beta=2.0, threshold=10.0), (x,))
    beyond = mdl.tensor([12.0], dtype="float64", requires_grad=True)
    out = mdl.softplus(beyond, beta=2.0, threshold=10.0)
    out.backward()
    assert out.item() == 12.0 and beyond.grad.item() == 1.0  # linear past the threshold, gradient 1


def test_logaddexp_is_stable_for_large_and_infinite_inputs():
    x = mdl.tensor([1000.0, -1000.0, math.inf, 1.0, -40.0], dtype="float64", requires_grad=True)
    y = mdl.tensor([1000.0, -1001.0, 1.0, math.inf, 0.0], dtype="float64")
    np.testing.assert_allclose(mdl.logaddexp(x, y).numpy(), np.logaddexp(x.numpy(), y.numpy()))
    g, = mdl.autograd.grad(mdl.logaddexp(x, y).sum(), [x])
    np.testing.assert_allclose(g.numpy(), [0.5, 1 / (1 + math.exp(-1)), 1.0, 0.0, math.exp(-40) / (1 + math.exp(-40))],
                               rtol=1e-14)


def test_pytorch_names_are_the_same_functions():
    assert mdl.asin is mdl.arcsin and mdl.acos is mdl.arccos and mdl.atan is mdl.arctan and mdl.atan2 is mdl.arctan2
    x = t((4,), -0.9, 0.9)
    for method in ["log1p", "expm1", "tan", "asin", "arcsin", "acos", "arccos", "atan", "arctan", "sinh", "cosh",
                   "erf", "floor", "ceil", "round"]:
        np.testing.assert_array_equal(getattr(x, method)().numpy(), getattr(mdl, method)(x).numpy(), err_msg=method)
    np.testing.assert_array_equal(x.atan2(x + 2).numpy(), mdl.arctan2(x, x + 2).numpy())
    np.testing.assert_array_equal(x.logaddexp(x * 2).numpy(), mdl.logaddexp(x, x * 2).numpy())
    np.testing.assert_array_equal(abs(x).log2().numpy(), np.log2(np.abs(x.numpy())))
    np.testing.assert_array_equal(abs(x).log10().numpy(), np.log10(np.abs(x.numpy())))


def test_functions_accept_python_numbers():
    assert mdl.log1p(0.0).item() == 0.0 and mdl.tan(0.0).item() == 0.0
    assert mdl.logaddexp(0.0, 0.0).item() == pytest.approx(math.log(2))


# -- against PyTorch ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")


TORCH_UNARY = [
    ("log1p", (0.2, 2.0)), ("expm1", (-2, 2)), ("log2", (0.2, 2.0)), ("log10", (0.2, 2.0)), ("tan", (-1.1, 1.1)),
    ("asin", (-0.9, 0.9)), ("acos", (-0.9, 0.9)), ("atan", (-2, 2)), ("sinh", (-2, 2)), ("cosh", (-2, 2)),
    ("floor", (-2, 2)), ("ceil", (-2, 2)), ("round", (-2, 2)),
]


@pytest.mark.parametrize("name, limits", TORCH_UNARY, ids=[n for n, _ in TORCH_UNARY])
def test_unary_parity_with_pytorch(torch, name, limits):
    torch_parity(torch, getattr(mdl, name), getattr(torch, name), [rng.uniform(*limits, size=(3, 4))])


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 3.0), (0.5, 1.0)])
def test_softplus_parity_with_pytorch(torch, beta, threshold):
    torch_parity(torch, lambda x: mdl.softplus(x, beta, threshold),
                 lambda x: torch.nn.functional.softplus(x, beta, threshold), [rng.uniform(-8, 8, size=(4, 5))])


@pytest.mark.parametrize("ours, theirs, y_limits", [
    (mdl.atan2, "atan2", (-2, 2)), (mdl.logaddexp, "logaddexp", (-2, 2)),
    (lambda x, y: x % y, "remainder", (0.7, 1.9)), (lambda x, y: x % y, "remainder", (-1.9, -0.7)),
], ids=["atan2", "logaddexp", "remainder", "remainder_negative"])
def test_binary_parity_with_pytorch(torch, ours, theirs, y_limits):
    torch_parity(torch, ours, getattr(torch, theirs), [rng.uniform(-3, 3, size=(3, 1)), rng.uniform(*y_limits, size=(4,))])
