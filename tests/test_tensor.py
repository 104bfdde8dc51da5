"""Tensor construction, attributes, host interop, indexing and the PyTorch-style method spellings."""
import numpy as np
import pytest

import minidl as mdl


def test_python_floats_default_to_float32_and_ints_to_int64():
    assert mdl.tensor([1.0, 2.0]).dtype == np.float32
    assert mdl.tensor(3.5).dtype == np.float32
    assert mdl.tensor([1, 2]).dtype == np.int64
    assert mdl.tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert mdl.tensor([1, 2], dtype="float64").dtype == np.float64
    assert mdl.tensor([1.0], dtype=np.float16).dtype == np.float16


def test_tensor_copies_its_data():
    a = np.ones(3, dtype=np.float32)
    t = mdl.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1.0
    assert mdl.tensor(t).data is not t.data


def test_as_tensor_shares_memory_when_it_can():
    a = np.ones(3, dtype=np.float32)
    assert mdl.as_tensor(a).data is a
    assert mdl.as_tensor(a, dtype="float64").dtype == np.float64
    assert mdl.as_tensor([1.0]).dtype == np.float32 and not mdl.as_tensor(a).requires_grad


def test_constructors_take_shapes_both_ways_and_options():
    assert mdl.zeros(2, 3).shape == (2, 3) == mdl.ones((2, 3)).shape
    assert mdl.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert mdl.zeros(2, dtype="int64").dtype == np.int64
    assert mdl.ones(2, requires_grad=True).requires_grad
    assert mdl.arange(4).tolist() == [0, 1, 2, 3] and mdl.arange(4).dtype == np.int64
    assert mdl.arange(0, 1, 0.5).dtype == np.float32
    like = mdl.zeros_like(mdl.ones(2, 2, dtype="float64"))
    assert like.shape == (2, 2) and like.dtype == np.float64 and like.sum().item() == 0
    assert mdl.ones_like(like).sum().item() == 4


def test_manual_seed_repeats_every_draw():
    mdl.manual_seed(7)
    a, b = mdl.randn(3, 2), mdl.rand(4)
    mdl.manual_seed(7)
    assert np.array_equal(a.numpy(), mdl.randn(3, 2).numpy())
    assert np.array_equal(b.numpy(), mdl.rand(4).numpy())
    assert a.dtype == np.float32 and 0 <= b.numpy().min() and b.numpy().max() < 1


def test_rng_state_round_trip_replays_draws():
    state = mdl.get_rng_state()
    first = mdl.rand(5).numpy()
    mdl.set_rng_state(state)
    assert np.array_equal(first, mdl.rand(5).numpy())


def test_attributes():
    t = mdl.tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.device == "cpu" and t.size() == (2, 3) and t.numel() == 6
    assert t.grad is None and not t.requires_grad and t.is_leaf
    assert t.T.shape == (3, 2) and isinstance(t.data, np.ndarray)
    assert len(t) == 2


def test_host_interop():
    t = mdl.tensor([[1.0, 2.0]])
    assert np.asarray(t).shape == (1, 2)
    assert t.numpy().tolist() == t.tolist() == [[1.0, 2.0]]
    assert mdl.tensor(4.0).item() == 4.0 and float(mdl.tensor([2.5])) == 2.5
    assert "tensor(" in repr(t) and "float32" in repr(t)


def test_to_dtype_and_astype():
    t = mdl.tensor([1.5, 2.5])
    assert t.to("float64").dtype == np.float64
    assert t.astype("int64").tolist() == [1, 2]
    assert t.to("cpu") is t
    with pytest.raises(ValueError, match=r"to\('gpu'\): neither a device nor a dtype.*known device types"):
        t.to("gpu")


def test_reshape_accepts_ints_or_a_tuple():
    t = mdl.arange(12)
    assert t.reshape(4, 3).shape == t.reshape((4, 3)).shape == (4, 3)
    assert t.view(2, -1).shape == (2, 6)


@pytest.mark.parametrize("key", [
    1, -1, slice(1, None), (slice(None), 0), (None, Ellipsis, 1), (Ellipsis, None),
    [0, 2, 2], (np.array([0, 1]), np.array([2, 3])), np.array([True, False, True]),
], ids=repr)
def test_indexing_matches_numpy(key):
    a = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(mdl.tensor(a)[key].numpy(), a[key])


def test_indexing_with_tensors_and_masks():
    t = mdl.tensor(np.arange(6.0))
    assert t[mdl.tensor([5, 0])].tolist() == [5.0, 0.0]
    assert t[t > 3].tolist() == [4.0, 5.0]


def test_comparisons_return_bool_tensors_without_record():
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_ and not mask.requires_grad and mask.tolist() == [False, True]
    assert ((x == 1.0) | (x == 2.0)).tolist() == [True, True]


def test_reductions_accept_pytorch_names():
    t = mdl.tensor(np.arange(6.0).reshape(2, 3))
    assert t.sum(dim=1, keepdim=True).shape == (2, 1)
    assert t.mean(axis=0).tolist() == [1.5, 2.5, 3.5]
    values, indices = t.max(dim=1)
    assert values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2]
    assert t.max(axis=1).tolist() == [2.0, 5.0]  # NumPy's keyword: values only
    assert t.argmax(dim=1).tolist() == [2, 2]
    assert np.isclose(t.var(correction=1).item(), np.arange(6.0).var(ddof=1))


def test_transpose_spellings():
    t = mdl.zeros(2, 3, 4)
    assert t.transpose(0, 2).shape == (4, 3, 2)  # PyTorch: swap two
    assert t.permute(2, 0, 1).shape == (4, 2, 3)
    assert mdl.transpose(t).shape == (4, 3, 2)


def test_stable_functions_do_not_overflow():
    big = mdl.tensor([-1000.0, 0.0, 1000.0])
    assert mdl.sigmoid(big).tolist() == [0.0, 0.5, 1.0]
    assert np.allclose(mdl.logsumexp(big).item(), 1000.0)
    assert np.all(np.isfinite(mdl.log_softmax(big, axis=0).numpy()[1:]))
    assert np.allclose(mdl.softmax(big, axis=0).numpy(), [0, 0, 1])


def test_concatenate_stack_pad_values():
    a, b = mdl.ones(2, 2), mdl.zeros(2, 2)
    assert mdl.concatenate([a, b], axis=1).shape == (2, 4)
    assert mdl.stack([a, b]).shape == (2, 2, 2)
    assert mdl.pad(a, 1).shape == (4, 4) and mdl.pad(a, 1).sum().item() == 4


def test_contiguous_copies_only_a_tensor_that_is_not_row_major():
    x = mdl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.is_contiguous() and x.contiguous() is x
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.data.flags.c_contiguous
    np.testing.assert_array_equal(c.view(-1).numpy(), x.numpy().T.reshape(-1))  # view works after contiguous()
    (c.view(-1) * mdl.tensor(np.arange(6.0))).sum().backward()  # and gradients flow through the copy
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


@pytest.mark.parametrize("make", ["transpose", "conv2d"])
def test_grad_is_row_major_as_in_pytorch(make):
    """A VJP may return a transposed or strided array; .grad is still row-major, so .view() works on it and an
    in-place write through a reshape reaches it (as for a PyTorch parameter)."""
    rng = np.random.default_rng(0)
    if make == "transpose":  # float32 parameter, float64 product: the gradient is cast back, keeping its layout
        w = mdl.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
        (w.T * mdl.tensor(rng.standard_normal((3, 2)))).sum().backward()
    else:
        conv, x = mdl.nn.Conv2d(3, 4, (2, 3)).double(), mdl.tensor(rng.standard_normal((2, 3, 6, 5)))
        (direct,) = mdl.autograd.grad(conv(x).sum(), conv.weight)  # the kernel's own result, not via .grad
        assert direct.data.flags.c_contiguous
        conv(x).sum().backward()
        w = conv.weight
    assert w.grad.data.flags.c_contiguous
    assert w.grad.view(-1).shape == (w.numel(),)
    w.grad.reshape(-1).mul_(0)
    assert not w.grad.numpy().any()
