"""Nested transforms never confuse their perturbations: the classic cases, by hand and against HIPS autograd."""
import math

import numpy as np
import pytest

import minidl as mdl


def test_grad_of_grad_of_product_with_the_outer_variable_is_one():
    # d/dx [d/dy (x * y)](y = x) = d/dx x = 1; a tape that re-uses x for y gives 2
    inner = lambda x: mdl.grad(lambda y: x * y)(x)  # noqa: E731
    assert mdl.grad(inner)(mdl.tensor(3.0)).item() == 1.0
    assert mdl.grad(inner)(3.0).item() == 1.0


def test_siskind_pearlmutter_example_is_one():
    # d/dx (x * d/dy (x + y) at y = 1) = d/dx x = 1 (Siskind & Pearlmutter, "Perturbation confusion")
    f = lambda x: x * mdl.grad(lambda y: x + y)(mdl.tensor(1.0))  # noqa: E731
    assert mdl.grad(f)(mdl.tensor(5.0)).item() == 1.0


def test_jvp_inside_grad():
    # d/dx jvp(y -> y**2 at x, tangent 1) = d/dx 2x = 2
    f = lambda x: mdl.jvp(lambda y: y ** 2, (x,), (mdl.tensor(1.0),))[1]  # noqa: E731
    assert mdl.grad(f)(mdl.tensor(3.0)).item() == pytest.approx(2.0)


def test_grad_inside_jvp():
    # jvp of x -> d/dy (x * y**2) = 2 x y at y = x: d/dx 2x**2 = 4x
    f = lambda x: mdl.grad(lambda y: x * y ** 2)(x)  # noqa: E731
    _, tangent = mdl.jvp(f, (mdl.tensor(1.5),), (mdl.tensor(1.0),))
    assert tangent.item() == pytest.approx(6.0)


def test_grad_of_grad_of_a_closure():
    # f(x) = d/dy (x**2 * y**3) at y = x = 3 x**4 ; f'(x) = 12 x**3
    f = lambda x: mdl.grad(lambda y: x ** 2 * y ** 3)(x)  # noqa: E731
    assert mdl.grad(f)(mdl.tensor(2.0)).item() == pytest.approx(96.0)


def test_closure_over_a_parameter_keeps_its_gradient():
    w = mdl.tensor(2.0, requires_grad=True)
    g = mdl.grad(lambda x: w * x ** 2)(mdl.tensor(3.0))  # 2 w x = 12, recorded with respect to w
    g.backward()
    assert g.item() == 12.0 and w.grad.item() == pytest.approx(6.0)


def test_value_of_a_transform_keeps_its_dependence_on_an_outer_variable():
    # as JAX: the value returned by value_and_grad inside grad is differentiable in the outer variable
    outer = lambda w: mdl.value_and_grad(lambda x: w * x)(mdl.tensor(1.5))[0]  # noqa: E731
    assert mdl.grad(outer)(mdl.tensor(2.0)).item() == pytest.approx(1.5)


def test_top_level_results_are_not_recorded():
    x = mdl.tensor([1.0, 2.0])
    value, g = mdl.value_and_grad(lambda x: (x ** 3).sum())(x)
    _, tangent = mdl.jvp(lambda x: x ** 2, (x,), (mdl.ones(2),))
    assert not value.requires_grad and not g.requires_grad and not tangent.requires_grad


def test_third_order_of_a_product_with_nested_variables():
    # f(x) = x * d/dy (x * y**3)(y = x) = 3 x**4: f''' = 72 x
    f = lambda x: x * mdl.grad(lambda y: x * y ** 3)(x)  # noqa: E731
    assert mdl.grad(mdl.grad(mdl.grad(f)))(mdl.tensor(0.5)).item() == pytest.approx(36.0)


NESTED_CASES = {  # each written once, run with (grad, sin) of HIPS autograd and of minidl
    "x * y at y = x": lambda grad, sin, x: grad(lambda y: x * y)(x),
    "Siskind-Pearlmutter": lambda grad, sin, x: x * grad(lambda y: x + y)(1.0),
    "closure in sin": lambda grad, sin, x: grad(lambda y: x * sin(y))(x) * x,
    "three levels": lambda grad, sin, x: grad(lambda y: grad(lambda z: x * y * z)(x))(x),
}


@pytest.mark.parametrize("name", sorted(NESTED_CASES))
@pytest.mark.parametrize("x", [0.3, 1.7, -2.2])
def test_nested_cases_agree_with_hips_autograd(name, x):
    autograd = pytest.importorskip("autograd", reason="HIPS autograd is not installed")
    import autograd.numpy as anp
    case = NESTED_CASES[name]
    theirs = autograd.grad(lambda x: case(autograd.grad, anp.sin, x))(x)
    ours = mdl.grad(lambda x: case(mdl.grad, mdl.sin, x))(mdl.tensor(x, dtype="float64")).item()
    assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_hvp_and_nested_grad_agree_with_hips_autograd():
    autograd = pytest.importorskip("autograd", reason="HIPS autograd is not installed")
    import autograd.numpy as anp
    x0 = np.array([0.4, -1.3, 2.0])
    v = np.array([1.0, 0.5, -2.0])
    theirs = autograd.grad(lambda x: anp.dot(autograd.grad(lambda y: anp.sum(anp.sin(y) * y ** 2))(x), v))(x0)
    ours = mdl.hvp(lambda y: (mdl.sin(y) * y ** 2).sum(), (mdl.tensor(x0),), (mdl.tensor(v),))
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-12)


def test_hand_checked_second_derivative_of_a_nested_closure():
    # g(x) = d/dy exp(x*y) at y=1 = x e^x ; g'(x) = (1 + x) e^x
    g = lambda x: mdl.grad(lambda y: mdl.exp(x * y))(mdl.tensor(1.0, dtype="float64"))  # noqa: E731
    assert mdl.grad(g)(mdl.tensor(0.7, dtype="float64")).item() == pytest.approx(1.7 * math.exp(0.7))
