"""Every primitive's first and second derivatives against central finite differences (float64)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minidl as mdl

rng = np.random.default_rng(0)


def t(shape, low=-2.0, high=2.0):
    return mdl.tensor(rng.uniform(low, high, size=shape), dtype="float64", requires_grad=True)


def away_from_zero(shape):
    """Values in ±[0.5, 2]: keeps abs/relu/divide away from their kinks and poles."""
    return mdl.tensor(rng.uniform(0.5, 2, size=shape) * rng.choice([-1, 1], size=shape), dtype="float64",
                      requires_grad=True)


def distinct(shape):
    """A random permutation of well-separated values: max/min without ties."""
    n = int(np.prod(shape))
    return mdl.tensor(rng.permutation(n).reshape(shape) * 0.1, dtype="float64", requires_grad=True)


def second_order(f):
    """A scalar function of the inputs whose gradient is f's second derivative, projected."""
    def first_derivative_projected(*xs):
        out = f(*xs)
        v = mdl.tensor(np.cos(np.arange(out.numel())).reshape(out.shape), dtype="float64")
        grads = mdl.grad(lambda *ys: (f(*ys) * v).sum(), argnums=tuple(range(len(xs))))(*xs)
        w = [mdl.tensor(np.sin(np.arange(g.numel()) + 1.0).reshape(g.shape), dtype="float64") for g in grads]
        return sum((g * wi).sum() for g, wi in zip(grads, w))
    return first_derivative_projected


UNARY = {
    "exp": (mdl.exp, t),
    "log": (mdl.log, lambda s: t(s, 0.5, 2.0)),
    "sin": (mdl.sin, t),
    "cos": (mdl.cos, t),
    "tanh": (mdl.tanh, t),
    "sigmoid": (mdl.sigmoid, t),
    "relu": (mdl.relu, away_from_zero),
    "abs": (mdl.abs, away_from_zero),
    "sqrt": (mdl.sqrt, lambda s: t(s, 0.5, 2.0)),
    "square": (mdl.square, t),
    "negative": (lambda x: -x, t),
    "clip": (lambda x: mdl.clip(x, -1.0, 1.0), away_from_zero),
    "power_scalar": (lambda x: x ** 3, t),
    "rpower": (lambda x: 2.0 ** x, t),
    "astype": (lambda x: x.astype("float32").astype("float64") * 1.0, t),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=8, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4))
def test_unary_gradients(name, shape):
    f, make = UNARY[name]
    if name == "astype":  # float32 round trip: finite differences need a larger step
        assert mdl.gradcheck(f, (make(shape),), eps=1e-3, atol=1e-3)
        return
    assert mdl.gradcheck(f, (make(shape),))


@pytest.mark.parametrize("name", sorted(n for n in UNARY if n != "astype"))
def test_unary_second_derivatives(name):
    f, make = UNARY[name]
    assert mdl.gradcheck(second_order(f), (make((2, 3)),))


BINARY = {
    "add": (lambda x, y: x + y, t, t),
    "subtract": (lambda x, y: x - y, t, t),
    "multiply": (lambda x, y: x * y, t, t),
    "divide": (lambda x, y: x / y, t, away_from_zero),
    "power": (lambda x, y: x ** y, lambda s: t(s, 0.5, 2.0), t),
    "maximum": (mdl.maximum, t, t),
    "minimum": (mdl.minimum, t, t),
    "where": (lambda x, y: mdl.where(x > 0, x, y), away_from_zero, t),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=10, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_binary_gradients_with_broadcasting(name, shapes):
    f, make_x, make_y = BINARY[name]
    x, y = make_x(shapes.input_shapes[0]), make_y(shapes.input_shapes[1])
    assert mdl.gradcheck(f, (x, y))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivatives(name):
    f, make_x, make_y = BINARY[name]
    assert mdl.gradcheck(second_order(f), (make_x((2, 3)), make_y((3,))))


AXES = [None, 0, -1, (0, 1)]
REDUCTIONS = {
    "sum": (mdl.sum, t),
    "mean": (mdl.mean, t),
    "max": (mdl.max, distinct),
    "min": (mdl.min, distinct),
    "var": (mdl.var, t),
    "logsumexp": (mdl.logsumexp, t),
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_gradients(name, axis, keepdims):
    f, make = REDUCTIONS[name]
    assert mdl.gradcheck(lambda x: f(x, axis=axis, keepdims=keepdims), (make((3, 4, 2)),))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_second_derivatives(name):
    f, make = REDUCTIONS[name]
    assert mdl.gradcheck(second_order(lambda x: f(x, axis=1)), (make((3, 4)),))


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("f", [mdl.softmax, mdl.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_family(f, axis):
    assert mdl.gradcheck(lambda x: f(x, axis=axis), (t((3, 4, 2)),))
    assert mdl.gradcheck(second_order(lambda x: f(x, axis=axis)), (t((2, 3)),))


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((2, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((3,), (2, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
                 ((2, 2, 3), (3,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradients(shapes):
    x, y = t(shapes[0]), t(shapes[1])
    assert mdl.gradcheck(mdl.matmul, (x, y))
    assert mdl.gradcheck(second_order(mdl.matmul), (x, y))


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 3), (2, 4, 3), (3,)], ids=str)  # (2, 3): batch < 4 outputs
def test_linear_gradients(x_shape):
    inputs = (t(x_shape), t((4, 3)), t((4,)))
    assert mdl.gradcheck(mdl.linear, inputs)
    assert mdl.gradcheck(second_order(mdl.linear), inputs)
    assert mdl.gradcheck(lambda x, w: mdl.linear(x, w), inputs[:2])


@pytest.mark.parametrize("batch", [1, 3, 4, 9])  # on both sides of the layer width, where linear turns its product
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_values_and_layout(batch, with_bias):
    rng = np.random.default_rng(batch)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((batch, 3), (4, 3), (4,)))
    out = mdl.linear(mdl.tensor(x), mdl.tensor(w), mdl.tensor(b) if with_bias else None).data
    np.testing.assert_allclose(out, x @ w.T + (b if with_bias else 0), rtol=1e-5, atol=1e-6)
    assert out.flags.c_contiguous and out.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradients(reduction):
    target = mdl.tensor([0, 2, 1, 2])
    f = lambda logits: mdl.cross_entropy(logits, target, reduction=reduction)  # noqa: E731
    assert mdl.gradcheck(f, (t((4, 3)),))
    assert mdl.gradcheck(second_order(f), (t((4, 3)),))


SHAPE_OPS = {
    "reshape": (lambda x: x.reshape(4, 6), (2, 3, 4)),
    "reshape_tuple": (lambda x: x.reshape((6, -1)), (2, 3, 4)),
    "transpose": (lambda x: mdl.transpose(x), (2, 3, 4)),
    "transpose_axes": (lambda x: mdl.transpose(x, (1, 2, 0)), (2, 3, 4)),
    "method_transpose": (lambda x: x.transpose(0, 2), (2, 3, 4)),
    "T": (lambda x: x.T, (2, 3)),
    "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    "broadcast_to": (lambda x: mdl.broadcast_to(x, (2, 3, 4)), (3, 1)),
    "sum_to_shape": (lambda x: mdl.sum_to_shape(x, (3, 1)), (2, 3, 4)),
    "squeeze": (lambda x: x.squeeze(), (2, 1, 3)),
    "squeeze_axis": (lambda x: x.squeeze(1), (2, 1, 3)),
    "unsqueeze": (lambda x: x.unsqueeze(-1), (2, 3)),
    "flatten": (lambda x: x.flatten(1), (2, 3, 4)),
    "pad": (lambda x: mdl.pad(x, ((0, 0), (1, 2), (2, 1))), (2, 3, 4)),
    "int": (lambda x: x[1], (3, 4)),
    "slices": (lambda x: x[1:, ::2], (3, 4)),
    "negative_step": (lambda x: x[::-1, 1], (3, 4)),
    "none_ellipsis": (lambda x: x[None, ..., 0], (2, 3, 4)),
    "int_array_repeats": (lambda x: x[[0, 2, 0, 0]], (3, 4)),
    "int_tensor": (lambda x: x[mdl.tensor([[1, 1], [0, 2]])], (3, 4)),
    "two_int_arrays": (lambda x: x[[0, 1, 1], [2, 2, 0]], (3, 4)),
    "bool_mask": (lambda x: x[x > 0], (3, 4)),
    "mixed": (lambda x: x[:, [0, 0, 2]], (3, 4)),
    "im2col": (lambda x: mdl.im2col(x, 2, 3, 1), (2, 2, 4, 5)),
    "im2col_stride": (lambda x: mdl.im2col(x, 2, 2, 2), (1, 2, 5, 4)),
    "col2im": (lambda x: mdl.col2im(x, (1, 2, 4, 5), 1), (2, 2, 3, 1, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op_gradients(name):
    f, shape = SHAPE_OPS[name]
    x = t(shape)
    assert mdl.gradcheck(f, (x,))
    assert mdl.gradcheck(second_order(f), (x,))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack_gradients(axis):
    a, b, c = t((2, 3)), t((2, 3)), t((2, 3))
    assert mdl.gradcheck(lambda *xs: mdl.concatenate(xs, axis=axis), (a, b, c))
    assert mdl.gradcheck(lambda *xs: mdl.stack(xs, axis=axis), (a, b, c))
    assert mdl.gradcheck(second_order(lambda *xs: mdl.concatenate(xs, axis=axis)), (a, b))


def test_concatenate_of_different_lengths():
    a, b = t((2, 3)), t((4, 3))
    assert mdl.gradcheck(lambda x, y: mdl.concatenate([x, y]) ** 2, (a, b))


def test_gradcheck_catches_a_wrong_vjp():
    @mdl.primitive
    def wrong_cube(x):
        return x ** 3

    mdl.defvjp(wrong_cube, lambda g, ans, x: g * 3 * x)  # should be 3 x^2
    with pytest.raises(mdl.GradcheckError, match=r"input 0 at index \(1,\).*reverse mode.*finite differences"):
        mdl.gradcheck(wrong_cube, (mdl.tensor([0.0, 2.0], dtype="float64", requires_grad=True),))
