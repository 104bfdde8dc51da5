"""conv2d and max_pool2d kernels: PyTorch's values and gradients, gradients of any order, and a record that
keeps the input, never the unfolded windows or an input-sized mask."""
import numpy as np
import pytest

import minidl as mdl
import minidl.nn.functional as F

rng = np.random.default_rng(0)

CONVS = [  # (N, C, H, W), out channels, kernel, stride, padding
    ((2, 3, 9, 8), 4, 3, 1, 0),
    ((2, 3, 9, 8), 4, 3, 2, 1),
    ((3, 1, 7, 7), 2, (2, 3), (2, 1), (1, 0)),
    ((1, 2, 5, 5), 3, 5, 1, 2),
]
POOLS = [((2, 3, 8, 8), 2, None, 0), ((2, 2, 7, 9), 3, 2, 1), ((1, 1, 5, 5), (2, 3), 1, 0), ((2, 2, 6, 6), 3, 1, 1)]


def leaf(shape, values=None):
    return mdl.tensor(rng.standard_normal(shape) if values is None else values, dtype="float64", requires_grad=True)


def kernel_shape(k):
    return k if isinstance(k, tuple) else (k, k)


@pytest.mark.parametrize("shape, out_channels, kernel, stride, padding", CONVS)
def test_conv2d_matches_pytorch(shape, out_channels, kernel, stride, padding):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional test dependency")
    x, w, b = leaf(shape), leaf((out_channels, shape[1], *kernel_shape(kernel))), leaf((out_channels,))
    out = F.conv2d(x, w, b, stride, padding)
    g = rng.standard_normal(out.shape)
    (out * mdl.tensor(g)).sum().backward()
    tx, tw, tb = (torch.tensor(t.numpy(), requires_grad=True) for t in (x, w, b))
    expected = torch.nn.functional.conv2d(tx, tw, tb, stride, padding)
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, out_channels, kernel, stride, padding",
                         [((1, 2, 5, 4), 2, 3, 2, 1), ((2, 1, 4, 5), 2, (2, 3), (2, 1), (1, 0))])
def test_conv2d_first_and_second_derivatives(shape, out_channels, kernel, stride, padding):
    x, w = leaf(shape), leaf((out_channels, shape[1], *kernel_shape(kernel)))
    assert mdl.gradcheck(lambda a, b: F.conv2d(a, b, None, stride, padding), [x, w])

    def gradient_norms(a, b):
        ga, gb = mdl.grad(lambda a, b: (F.conv2d(a, b, None, stride, padding) ** 2).sum(), argnums=(0, 1))(a, b)
        return (ga * ga).sum() + (gb * gb).sum()
    assert mdl.gradcheck(gradient_norms, [x, w])


def distinct(shape):
    """Well-separated values: no ties, so finite differences see the one maximum of each window."""
    n = int(np.prod(shape))
    return leaf(shape, rng.permutation(n).reshape(shape) * 0.1)


@pytest.mark.parametrize("shape, kernel, stride, padding", POOLS)
def test_max_pool2d_first_and_second_derivatives(shape, kernel, stride, padding):
    x = distinct(shape)
    assert mdl.gradcheck(lambda a: F.max_pool2d(a, kernel, stride, padding), [x])
    assert mdl.gradcheck(lambda a: (mdl.grad(lambda b: (F.max_pool2d(b, kernel, stride, padding) ** 2).sum())(a) ** 2)
                         .sum(), [x])


@pytest.mark.parametrize("shape, kernel, stride, padding", POOLS)
def test_max_pool2d_matches_pytorch_with_ties_and_nan(shape, kernel, stride, padding):
    """ReLU outputs tie at 0 (the first maximum gets the gradient), a NaN wins its window (its last NaN)."""
    torch = pytest.importorskip("torch", reason="PyTorch is an optional test dependency")
    values = np.maximum(rng.standard_normal(shape), 0)
    values[0, 0, 0, 0] = values[-1, -1, 1, 2] = np.nan
    values[-1, 0, 2:4, 2:4] = 5.0
    x = leaf(shape, values)
    out = F.max_pool2d(x, kernel, stride, padding)
    g = rng.standard_normal(out.shape)
    (out * mdl.tensor(g)).sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    expected = torch.nn.functional.max_pool2d(tx, kernel, stride, padding)
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_conv_record_keeps_the_input_not_its_windows_and_pooling_no_mask():
    x = mdl.randn(8, 3, 12, 12)
    w = mdl.randn(4, 3, 5, 5, requires_grad=True)
    conv = F.conv2d(x, w, None, 1, 2)
    rows = mdl.graph(F.max_pool2d(conv.relu(), 2).sum()).rows
    assert [r.op for r in rows] == ["conv2d", "relu", "max_pool2d", "sum"]
    assert rows[0].kept_bytes == x.data.nbytes  # 25x less than the unfolded (75, 8*12*12) windows
    assert rows[1].kept_bytes == conv.data.nbytes  # relu's output, which max pooling reads too
    assert rows[2].kept_bytes == conv.data.nbytes // 4  # only its own output beside that: no mask


def test_gradients_flow_through_non_contiguous_and_float32_inputs():
    x = mdl.tensor(rng.standard_normal((6, 6, 2, 3)).astype(np.float32)).permute(2, 3, 0, 1)  # (2, 3, 6, 6) view
    w = mdl.tensor(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w), 2)
    y.sum().backward()
    dense = mdl.tensor(np.ascontiguousarray(x.numpy()))
    w2 = mdl.tensor(w.numpy(), requires_grad=True)
    F.max_pool2d(F.conv2d(dense, w2), 2).sum().backward()
    assert y.dtype == mdl.float32 and w.grad.dtype == mdl.float32
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-6)


def test_a_window_larger_than_the_input_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        F.conv2d(mdl.randn(1, 1, 3, 3), mdl.randn(1, 1, 5, 5))
    with pytest.raises(ValueError, match="does not fit"):
        F.max_pool2d(mdl.randn(1, 1, 3, 3), 4)
