"""grad, value_and_grad, vjp, jvp and hvp, alone and nested."""
import numpy as np
import pytest

import minidl as mdl

rng = np.random.default_rng(1)


def f64(a):
    return mdl.tensor(np.asarray(a, dtype=np.float64))


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


def test_grad_with_int_and_tuple_argnums():
    f = lambda x, y: (x * y + mdl.sin(x)).sum()  # noqa: E731
    x, y = f64([1.0, 2.0]), f64([3.0, -1.0])
    gx = mdl.grad(f)(x, y)
    gx2, gy = mdl.grad(f, argnums=(0, 1))(x, y)
    assert isinstance(gx, mdl.Tensor)
    assert np.allclose(gx.numpy(), [3 + np.cos(1.0), -1 + np.cos(2.0)])
    assert np.allclose(gx2.numpy(), gx.numpy()) and np.allclose(gy.numpy(), [1.0, 2.0])


def test_grad_does_not_touch_dot_grad_of_closed_over_parameters():
    w = mdl.tensor([2.0], requires_grad=True)
    g = mdl.grad(lambda x: (x * w).sum())(mdl.tensor([1.0]))
    assert g.item() == 2.0 and w.grad is None


def test_grad_of_unused_input_is_zero():
    g = mdl.grad(lambda x, y: (x * 2).sum(), argnums=1)(f64([1.0]), f64([5.0, 6.0]))
    assert np.array_equal(g.numpy(), [0.0, 0.0])


def test_value_and_grad():
    value, g = mdl.value_and_grad(lambda x: (x ** 2).sum())(f64([1.0, 3.0]))
    assert value.item() == 10.0 and np.allclose(g.numpy(), [2.0, 6.0])
    assert not value.requires_grad


def test_grad_rejects_non_scalar_output():
    with pytest.raises(TypeError, match="one-element tensor"):
        mdl.grad(lambda x: x * 2)(f64([1.0, 2.0]))


def test_nested_grad_of_summed_gradient():
    f = lambda x: (x ** 3).sum()  # noqa: E731
    g = mdl.grad(lambda x: mdl.grad(f)(x).sum())(f64([1.0, 2.0]))
    assert np.allclose(g.numpy(), [6.0, 12.0])


def test_grad_through_closure_of_outer_variable():
    # d/dx [ d/dz (z * x) at z=1 ] = d/dx x = 1
    outer = mdl.grad(lambda x: mdl.grad(lambda z: (z * x).sum())(f64(1.0)) * 3)
    assert outer(f64(2.0)).item() == pytest.approx(3.0)


def test_vjp_returns_one_gradient_per_primal_and_can_be_called_twice():
    x, y = f64(rng.standard_normal((2, 3))), f64(rng.standard_normal((3, 4)))
    out, vjp_fn = mdl.vjp(mdl.matmul, x, y)
    ct = f64(rng.standard_normal((2, 4)))
    gx, gy = vjp_fn(ct)
    gx_again, _ = vjp_fn(ct * 2)
    assert np.allclose(gx.numpy(), ct.numpy() @ y.numpy().T)
    assert np.allclose(gy.numpy(), x.numpy().T @ ct.numpy())
    assert np.allclose(gx_again.numpy(), 2 * gx.numpy())
    assert np.allclose(out.numpy(), x.numpy() @ y.numpy())


def test_jvp_matches_finite_differences():
    f = lambda x, y: mdl.tanh(x @ y) * x.sum()  # noqa: E731
    x, y = f64(rng.standard_normal((2, 3))), f64(rng.standard_normal((3, 2)))
    tx, ty = f64(rng.standard_normal((2, 3))), f64(rng.standard_normal((3, 2)))
    out, tangent = mdl.jvp(f, (x, y), (tx, ty))
    eps = 1e-6
    plus = f(f64(x.numpy() + eps * tx.numpy()), f64(y.numpy() + eps * ty.numpy())).numpy()
    minus = f(f64(x.numpy() - eps * tx.numpy()), f64(y.numpy() - eps * ty.numpy())).numpy()
    assert np.allclose(tangent.numpy(), (plus - minus) / (2 * eps), atol=1e-6)
    assert np.allclose(out.numpy(), f(x, y).numpy())


def test_hvp_equals_hessian_times_vector():
    x = np.array([1.2, -0.5, 0.8, 2.0])
    v = rng.standard_normal(4)
    result = mdl.hvp(rosenbrock, (f64(x),), (f64(v),))
    assert np.allclose(result.numpy(), rosenbrock_hessian(x) @ v)


def test_hvp_via_jvp_of_grad_agrees():
    x, v = f64([1.2, -0.5, 0.8]), f64([1.0, 2.0, -1.0])
    _, forward_over_reverse = mdl.jvp(mdl.grad(rosenbrock), (x,), (v,))
    assert np.allclose(forward_over_reverse.numpy(), mdl.hvp(rosenbrock, (x,), (v,)).numpy())


def test_third_order_nesting():
    third = mdl.grad(mdl.grad(mdl.grad(lambda x: mdl.exp(2 * x).sum())))
    assert third(f64(0.3)).item() == pytest.approx(8 * np.exp(0.6))
