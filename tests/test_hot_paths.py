"""The op wrapper's and the backward pass's fast paths keep the general paths' behaviour."""
import numpy as np
import pytest

import minidl as mdl
from minidl import modes


def test_tensor_keyword_to_a_primitive_without_that_parameter_is_a_type_error():
    t = mdl.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="bogus"):
        mdl.sin(t, bogus=t)


def test_op_on_arrays_in_backward_mode_returns_an_array():
    a = np.array([0.5, 1.0])
    with modes.raw_arrays():
        out = mdl.sin(a)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, np.sin(a))


def test_op_on_python_numbers_in_backward_mode_makes_a_tensor():
    with modes.raw_arrays():
        out = mdl.sqrt(4.0)
    assert isinstance(out, mdl.Tensor) and out.item() == 2.0


def test_op_on_arrays_and_a_list_of_tensors_in_backward_mode_unwraps_them():
    a, b = np.array([1.0]), mdl.tensor([2.0])
    with modes.raw_arrays():
        out = mdl.cat([a, b])
    np.testing.assert_allclose(np.asarray(out), [1.0, 2.0])


def test_op_on_mismatched_arrays_in_backward_mode_raises():
    with modes.raw_arrays(), pytest.raises(ValueError):
        mdl.add(np.ones(2), np.ones(3))


def test_leaf_gradient_set_and_accumulated_over_two_passes():
    x = mdl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    np.testing.assert_allclose(first.numpy(), [2.0, 4.0, 6.0])
    assert first.shape == x.shape and first.dtype == x.dtype and not first.requires_grad
    (x * 3.0).sum().backward()
    assert x.grad is first  # accumulated in place, as PyTorch
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])


def test_broadcast_gradient_reaches_a_leaf_reduced_to_its_shape():
    b = mdl.tensor([1.0, 2.0], requires_grad=True)
    (mdl.ones((3, 2)) * b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 3.0])


def test_diamond_graph_order_sums_both_paths():
    x = mdl.tensor([0.3, -0.7], dtype=mdl.float64, requires_grad=True)
    assert mdl.gradcheck(lambda x: mdl.sin(x) * mdl.cos(x) + mdl.exp(mdl.sin(x)), (x,))
