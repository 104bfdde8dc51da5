"""2-D convolution and max pooling as primitives on (N, C, H, W) arrays.

The VJPs are written in these same primitives, so gradients of any order exist, and a record keeps
what a VJP reads: a convolution keeps its input and weight, never the unfolded windows (C*kh*kw
times the input); max pooling keeps its input and output (PyTorch keeps the input too) and its VJP
finds each window's argmax from them, one byte per output, never an input-sized mask.

Layout: the kernels compute with the batch axis last in memory, (C, H, W, N). A convolution is then one
matrix product, weight (O, C*kh*kw) @ columns (C*kh*kw, OH*OW*N), whose (O, OH*OW*N) result is returned
as an (N, O, OH, OW) view of it, without a copy. Elementwise ops keep that memory order, so the next
layer's input and the gradient coming back to this one are batch-last too: their transposes cost no copy.
It pays because every window offset, and every row of the columns, is then a run of at least N
contiguous numbers (OW*N at stride 1): the copies and the pooling passes run at memory speed, where the
(N, C, H, W) layout gave runs of OW numbers (a few dozen), each a separate inner loop.
"""
from ..autograd import defvjp, nondifferentiable, primitive
from ..backends import backend_of_array, namespace


def _output_size(name, shape, kernel, stride, padding):
    n, c, h, w = shape
    oh, ow = ((size + 2 * p - k) // s + 1 for size, k, s, p in zip((h, w), kernel, stride, padding))
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{name}: a {kernel[0]}x{kernel[1]} window does not fit an input of {tuple(shape[2:])} "
                         f"with padding {tuple(padding)}")
    return oh, ow


def _batch_last(x, padding=(0, 0)):
    """x (N, C, H, W) as a (C, H + 2*ph, W + 2*pw, N) array, zero-padded: a view when x is batch-last
    already and nothing is padded, else one copy."""
    ph, pw = padding
    t = x.transpose(1, 2, 3, 0)
    if not (ph or pw) and backend_of_array(x).is_row_major(t):
        return t
    c, h, w, n = t.shape
    padded = namespace(x).zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    padded[:, ph:ph + h, pw:pw + w] = t
    return padded


def _columns(x, kernel, stride, padding):
    """The (C*kh*kw, OH*OW*N) matrix of x's windows: sliding_window_view makes them without a copy, the
    reshape copies them once, into the layout the matrix product reads."""
    (kh, kw), (sh, sw) = kernel, stride
    windows = backend_of_array(x).sliding_windows(_batch_last(x, padding), kernel, (1, 2))[:, ::sh, ::sw]
    c, oh, ow, n = windows.shape[:4]
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, oh * ow * n)


def _rows(g):
    """(N, O, OH, OW) -> (O, OH*OW*N): no copy when g is batch-last (as the gradients here are)."""
    return g.transpose(1, 2, 3, 0).reshape(g.shape[1], -1)


@primitive
def conv2d(x, weight, stride=(1, 1), padding=(0, 0)):
    """Cross-correlation of x (N, C, H, W) with weight (O, C, kh, kw) -> (N, O, OH, OW), as PyTorch's conv2d."""
    o, kernel = weight.shape[0], weight.shape[2:]
    oh, ow = _output_size("conv2d", x.shape, kernel, stride, padding)
    out = weight.reshape(o, -1) @ _columns(x, kernel, stride, padding)
    return out.reshape(o, oh, ow, x.shape[0]).transpose(3, 0, 1, 2)


@primitive
def conv2d_input_grad(g, weight, shape, stride=(1, 1), padding=(0, 0)):
    """The gradient of conv2d for its input of ``shape``: each window's share, weight.T @ g, added back in place."""
    o, c, kh, kw = weight.shape
    n, _, h, w = shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = g.shape[2:]
    shares = (weight.reshape(o, -1).T @ _rows(g)).reshape(c, kh, kw, oh, ow, n)
    dx = namespace(g).zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=shares.dtype)
    for i in range(kh):  # windows overlap: one strided add per kernel offset (kh * kw), none per pixel
        for j in range(kw):
            dx[:, i:i + sh * oh:sh, j:j + sw * ow:sw] += shares[:, i, j]
    return dx[:, ph:ph + h, pw:pw + w].transpose(3, 0, 1, 2)


@primitive
def conv2d_weight_grad(x, g, shape, stride=(1, 1), padding=(0, 0)):
    """The gradient of conv2d for its weight of ``shape``: g (O, N*OH*OW) @ x's windows, recomputed here.

    Computed as the transpose of windows @ g.T: the same sums, but OpenBLAS (SkylakeX kernels) ran them
    1.4-1.6x faster in that orientation for LeNet's two layers (O of 6 and 16 rows is short for its kernels)."""
    return (_columns(x, shape[2:], stride, padding) @ _rows(g).T).T.copy().reshape(shape)  # copy: row-major


defvjp(conv2d,
       lambda g, ans, x, weight, stride=(1, 1), padding=(0, 0): conv2d_input_grad(g, weight, x.shape, stride, padding),
       lambda g, ans, x, weight, stride=(1, 1), padding=(0, 0): conv2d_weight_grad(x, g, weight.shape, stride, padding))
# both gradients are linear in each argument: their VJPs are convolutions again
defvjp(conv2d_input_grad,
       lambda h, ans, g, weight, shape, stride=(1, 1), padding=(0, 0): conv2d(h, weight, stride, padding),
       lambda h, ans, g, weight, shape, stride=(1, 1), padding=(0, 0): conv2d_weight_grad(h, g, weight.shape, stride,
                                                                                           padding))
defvjp(conv2d_weight_grad,
       lambda k, ans, x, g, shape, stride=(1, 1), padding=(0, 0): conv2d_input_grad(g, k, x.shape, stride, padding),
       lambda k, ans, x, g, shape, stride=(1, 1), padding=(0, 0): conv2d(x, k, stride, padding))


# -- max pooling ----------------------------------------------------------------------------------------

def _offsets(x, kernel, stride):
    """Per kernel offset (i, j), the (C, OH, OW, N) view of the elements at that offset of every window."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = _output_size("max_pool2d", x.shape, kernel, stride, (0, 0))
    t = x.transpose(1, 2, 3, 0)
    return [t[:, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)]


@primitive
def max_pool2d(x, kernel, stride):
    """The maximum of each window of x (N, C, H, W): (N, C, OH, OW), NaN where a window holds one."""
    xp = namespace(x)
    offsets = _offsets(x, kernel, stride)
    top = offsets[0].copy()
    for view in offsets[1:]:
        xp.maximum(top, view, out=top)
    return top.transpose(3, 0, 1, 2)


@nondifferentiable
def max_pool2d_indices(x, top, kernel, stride):
    """For each window, the offset i * kw + j of its maximum ``top``, (C, OH, OW, N) batch-last, one byte each:
    the first maximum, or the last NaN (PyTorch's choices).

    Counted without a branch per element: the index of the first maximum is the number of offsets before
    it, so adding up "no maximum at this offset or before" over the offsets gives it.
    """
    xp = namespace(x)
    offsets, top = _offsets(x, kernel, stride), top.transpose(1, 2, 3, 0)
    none_yet = offsets[0] != top
    indices = none_yet.astype(xp.uint8 if len(offsets) <= 256 else xp.int32)
    for view in offsets[1:-1]:
        none_yet &= view != top
        indices += none_yet
    if xp.isnan(top).any():  # NaN equals nothing: point at the window's last NaN instead
        for k, view in enumerate(offsets):
            indices = xp.where(xp.isnan(view), k, indices).astype(indices.dtype)
    return indices


@primitive
def max_pool2d_scatter(g, indices, shape, kernel, stride):
    """Each window's gradient g (N, C, OH, OW) sent to its element at ``indices``: an array of ``shape``."""
    n, c, h, w = shape
    backend = backend_of_array(g)
    dx = backend.xp.zeros((c, h, w, n), dtype=g.dtype).transpose(3, 0, 1, 2)  # batch-last, as the input was
    g = g.transpose(1, 2, 3, 0)
    for k, view in enumerate(_offsets(dx, kernel, stride)):
        view += backend.where(indices == k, g, 0)  # += : windows may overlap (stride < kernel)
    return dx


@primitive
def max_pool2d_select(x, indices, kernel, stride):
    """The element of each window of x at ``indices``: the adjoint of ``max_pool2d_scatter``."""
    xp = namespace(x)
    offsets = _offsets(x, kernel, stride)
    out = offsets[0]
    for k, view in enumerate(offsets[1:], 1):
        out = xp.where(indices == k, view, out)
    return out.transpose(3, 0, 1, 2)


defvjp(max_pool2d, lambda g, ans, x, kernel, stride: max_pool2d_scatter(
    g, max_pool2d_indices(x, ans, kernel, stride), x.shape, kernel, stride))
defvjp(max_pool2d_scatter,
       lambda h, ans, g, indices, shape, kernel, stride: max_pool2d_select(h, indices, kernel, stride), None)
defvjp(max_pool2d_select,
       lambda g, ans, x, indices, kernel, stride: max_pool2d_scatter(g, indices, x.shape, kernel, stride), None)
