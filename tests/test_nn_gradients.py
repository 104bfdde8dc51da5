"""The new layers and loss options: first and second derivatives against finite differences (float64)."""
import numpy as np
import pytest

import minidl as mdl
import minidl.nn.functional as F

rng = np.random.default_rng(1)


def f64(*shape, low=-1.0, high=1.0):
    return mdl.tensor(rng.uniform(low, high, size=shape), dtype="float64", requires_grad=True)


def away_from_zero(*shape):
    """Values in ±[0.3, 2]: keeps piecewise functions away from their kink at 0."""
    return mdl.tensor(rng.uniform(0.3, 2, size=shape) * rng.choice([-1, 1], size=shape), dtype="float64",
                      requires_grad=True)


def check_first_and_second_order(f, *inputs):
    """gradcheck ``f``, then the squared norm of its projected gradient (whose gradient needs f's Hessian)."""
    assert mdl.gradcheck(f, inputs)
    v = mdl.tensor(np.cos(np.arange(f(*inputs).numel())).reshape(f(*inputs).shape), dtype="float64")

    def gradient_norm(*xs):
        with mdl.enable_grad():  # gradcheck's finite differences run under no_grad
            grads = mdl.autograd.grad((f(*xs) * v).sum(), xs, create_graph=True, allow_unused=True,
                                      materialize_grads=True)
            return sum((g * g).sum() for g in grads)

    assert mdl.gradcheck(gradient_norm, inputs)


ACTIVATIONS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), away_from_zero),
    "gelu": (F.gelu, f64),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), f64),
    "silu": (F.silu, f64),
    "elu": (lambda x: F.elu(x, 0.7), away_from_zero),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=1.0), away_from_zero),  # both sides of threshold
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives(name):
    f, make = ACTIVATIONS[name]
    check_first_and_second_order(f, make(3, 4))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, "same")])
def test_conv1d_derivatives(stride, padding):
    check_first_and_second_order(lambda x, w, b: F.conv1d(x, w, b, stride, padding), f64(2, 3, 7), f64(4, 3, 3),
                                 f64(4))


@pytest.mark.parametrize("shape, size", [((1, 2, 7, 5), (3, 2)), ((2, 1, 4, 4), 2), ((2, 6, 6), (None, 4))])
def test_adaptive_avg_pool2d_derivatives(shape, size):
    check_first_and_second_order(lambda x: F.adaptive_avg_pool2d(x, size), f64(*shape))


def test_group_norm_derivatives():
    check_first_and_second_order(lambda x, w, b: F.group_norm(x, 2, w, b), f64(2, 4, 3), f64(4), f64(4))


def test_embedding_gradient_reaches_the_rows_used_and_skips_padding():
    weight = f64(5, 3)
    idx = mdl.tensor([[0, 2], [2, 4]])
    check_first_and_second_order(lambda w: F.embedding(idx, w) ** 2, weight)
    F.embedding(idx, weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy().sum(1), [3.0, 0.0, 0.0, 0.0, 3.0])


def test_attention_derivatives_with_a_mask():
    mask = mdl.tensor([[True, False, True], [True, True, False]])
    check_first_and_second_order(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                                 f64(2, 2, 4), f64(2, 3, 4), f64(2, 3, 4))


PROBABILITIES = F.softmax(mdl.tensor(rng.standard_normal((5, 4)), dtype="float64"), dim=1)
LOSSES = {
    "ce-weight-ignore": lambda x, y, w: F.cross_entropy(x, y, w, ignore_index=1),
    "ce-label-smoothing": lambda x, y, w: F.cross_entropy(x, y, label_smoothing=0.2, reduction="sum"),
    "ce-everything": lambda x, y, w: F.cross_entropy(x, y, w, ignore_index=0, label_smoothing=0.1),
    "ce-probabilities": lambda x, y, w: F.cross_entropy(x, PROBABILITIES, w, label_smoothing=0.1),
    "nll-weight": lambda x, y, w: F.nll_loss(F.log_softmax(x, dim=1), y, w, reduction="none"),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_option_derivatives(name):
    target = mdl.tensor([1, 0, 3, 2, 1])
    check_first_and_second_order(lambda x, w: LOSSES[name](x, target, w), f64(5, 4), f64(4, low=0.5, high=2))


def test_regression_and_binary_loss_derivatives():
    target = mdl.tensor(rng.uniform(0, 1, (3, 2)), dtype="float64")
    check_first_and_second_order(lambda x: F.l1_loss(x, target), f64(3, 2, low=2, high=3))
    check_first_and_second_order(lambda p: F.binary_cross_entropy(p, target), f64(3, 2, low=0.1, high=0.9))
    check_first_and_second_order(
        lambda x, pw: F.binary_cross_entropy_with_logits(x, target, pos_weight=pw), f64(3, 2), f64(2, low=0.5))
