"""The backward pass: worked examples, accumulation, deep graphs, graph release, grad mode, errors."""
import gc
import math
import tracemalloc

import numpy as np
import pytest

import minidl as mdl


def leaf(value, dtype="float64"):
    return mdl.tensor(value, dtype=dtype, requires_grad=True)


def test_course_example_log_product_minus_sin():
    x1, x2 = leaf(2.0), leaf(5.0)
    y = mdl.log(x1) + x1 * x2 - mdl.sin(x2)
    y.backward()
    assert x1.grad.item() == pytest.approx(1 / 2 + 5, abs=1e-6)
    assert x2.grad.item() == pytest.approx(2 - math.cos(5), abs=1e-6)
    assert x2.grad.item() == pytest.approx(1.7163378, abs=1e-6)


def test_course_example_log_of_product():
    a, b = leaf(2.0), leaf(3.0)
    mdl.log(a * b).backward()
    assert (a.grad.item(), b.grad.item()) == pytest.approx((1 / 2, 1 / 3), abs=1e-6)


def test_second_derivative_of_cube_and_sin():
    x = leaf(1.5)
    assert mdl.grad(mdl.grad(lambda x: x ** 3))(x).item() == pytest.approx(6 * 1.5, abs=1e-6)
    assert mdl.grad(mdl.grad(mdl.sin))(x).item() == pytest.approx(-math.sin(1.5), abs=1e-6)
    assert mdl.grad(mdl.grad(mdl.grad(mdl.sin)))(x).item() == pytest.approx(-math.cos(1.5), abs=1e-6)


def test_fourth_derivative_through_backward_create_graph():
    x = leaf(0.7)
    y = x ** 5
    for order in range(4):
        (y,) = mdl.engine.grad(y, [x], create_graph=True)
    assert y.item() == pytest.approx(5 * 4 * 3 * 2 * 0.7, abs=1e-9)


def test_adjoints_of_a_tensor_used_on_several_paths_are_summed():
    x = leaf([1.0, 2.0])
    y = x * x + 3 * x + mdl.exp(x)
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0]) + 3 + np.exp([1.0, 2.0]))


def test_diamond_graph_counts_each_path_once():
    x = leaf(3.0)
    a = x * 2
    b, c = a * a, a + 1
    (b * c).backward()
    # d/dx (2x)^2 (2x + 1) = 8x(2x+1) + 8x^2 at x = 3
    assert x.grad.item() == pytest.approx(8 * 3 * 7 + 8 * 9)


def test_backward_accumulates_into_grad_across_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert np.allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_gradients_of_two_leaves_do_not_share_memory():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10
    assert np.allclose(b.grad.numpy(), [1.0, 1.0])


def test_chain_of_100k_ops_backward_without_recursion_error():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001 ** 100_000, rel=1e-9)


def test_graph_released_after_backward_and_second_backward_raises():
    x = leaf([1.0, 2.0])
    y = mdl.exp(x).sum()
    y.backward()
    assert y._node.args is None
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = mdl.exp(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]))


def test_memory_does_not_grow_over_a_training_loop():
    rng = np.random.default_rng(0)
    w = mdl.tensor(rng.standard_normal((64, 32)) * 0.1, requires_grad=True)
    x = mdl.tensor(rng.standard_normal((128, 64)))

    def step():
        loss = mdl.tanh(x @ w).square().mean()
        loss.backward()
        with mdl.no_grad():
            w.data -= 0.01 * w.grad.data
        w.grad = None

    for _ in range(20):
        step()
    tracemalloc.start()
    for _ in range(200):
        step()
    gc.collect()  # also empties CPython's free lists, which fill up over the first ~2000 steps
    first, _ = tracemalloc.get_traced_memory()
    for _ in range(500):
        step()
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 16 * 1024, f"memory grew by {second - first} bytes over 500 steps"


def test_a_training_step_leaves_no_reference_cycles():
    """Everything a step makes is freed by reference counting: no array waits for the garbage collector."""
    rng = np.random.default_rng(0)
    w = mdl.tensor(rng.standard_normal((8, 4)), requires_grad=True)
    x = mdl.tensor(rng.standard_normal((16, 8)))
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            loss = mdl.tanh(x @ w)[:, 1:].exp().square().mean()
            loss.backward()
            with mdl.no_grad():
                w -= 0.1 * w.grad
            w.grad = None
        gc.collect()
        cycles = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert cycles == []


def test_intermediate_arrays_are_freed_as_soon_as_the_graph_is_released():
    x = leaf(np.ones(1000))
    y = mdl.exp(x)
    z = (y * 2).sum()
    node = y._node
    assert node.ans is not None  # exp's VJP reads its output
    z.backward()
    assert node.args is None and node.ans is None  # the saved values are gone; the edges stay


def test_no_grad_records_nothing_and_enable_grad_records_again():
    x = leaf([1.0])
    with mdl.no_grad():
        y = x * 2
        with mdl.enable_grad():
            z = x * 2
    assert not y.requires_grad and y._node is None
    assert z.requires_grad and z._node is not None
    assert mdl.is_grad_enabled()


def test_detach_cuts_the_record():
    x = leaf(2.0)
    y = (x * x).detach() * x
    y.backward()
    assert x.grad.item() == pytest.approx(4.0)


def test_backward_of_non_scalar_needs_a_grad_argument():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs a gradient argument"):
        (x * 2).backward()
    (x * 2).backward(mdl.tensor([1.0, 10.0], dtype="float64"))
    assert np.allclose(x.grad.numpy(), [2.0, 20.0])


def test_backward_without_record_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mdl.tensor([1.0]).sum().backward()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        mdl.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        mdl.arange(3).requires_grad = True


def test_shape_mismatch_names_the_op_and_both_shapes():
    a, b = mdl.ones(2, 3), mdl.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4, 5\)"):
        a + b


def test_float32_stays_float32_with_python_scalars():
    x = leaf([1.0, 2.0], dtype="float32")
    y = (x * 2.5 + 1) / 3 - 0.5
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_gradient_dtype_follows_the_leaf_in_mixed_precision():
    x32, x64 = leaf([1.0], dtype="float32"), leaf([2.0], dtype="float64")
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


def test_user_defined_primitive_with_defvjp():
    @mdl.primitive
    def logaddexp(x, y):
        return np.logaddexp(x, y)

    mdl.defvjp(logaddexp,
               lambda g, ans, x, y: g * mdl.exp(x - ans),
               lambda g, ans, x, y: g * mdl.exp(y - ans))
    x, y = leaf([0.5, -1.0]), leaf([[1.0, 2.0], [0.0, 3.0]])
    assert mdl.gradcheck(logaddexp, (x, y))
    assert mdl.gradcheck(lambda x, y: mdl.grad(lambda a: logaddexp(a, y).sum())(x).sum(), (x, y))


def test_defvjp_refuses_a_plain_function():
    with pytest.raises(TypeError, match="not a primitive"):
        mdl.defvjp(lambda x: x, lambda g, ans, x: g)


def test_none_vjp_marks_an_argument_without_gradient():
    @mdl.primitive
    def scale(x, factor):
        return x * factor

    mdl.defvjp(scale, lambda g, ans, x, factor: g * factor, None)
    x, f = leaf([1.0]), leaf([2.0])
    scale(x, 3.0).sum().backward()
    assert x.grad.item() == 3.0
    with pytest.raises(TypeError, match="scale has no gradient with respect to argument 1"):
        scale(x, f).sum().backward()


def test_primitive_without_defvjp_says_so_in_backward():
    @mdl.primitive
    def double(x):
        return x * 2

    with pytest.raises(TypeError, match=r"double has no gradient with respect to argument 0 \(x\); register one"):
        double(leaf([1.0])).sum().backward()


def test_numpy_arrays_combine_with_tensors_on_either_side():
    x = leaf([1.0, 2.0])
    y = np.array([3.0, 4.0]) * x + x * np.array([1.0, 1.0])
    assert isinstance(y, mdl.Tensor)
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), [4.0, 5.0])
