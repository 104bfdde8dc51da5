"""Shape primitives: reshapes, transposes, indexing, joins and padding.

Broadcasting and its adjoint live in ``minidl/broadcasting.py``, below the op families,
because the engine itself reduces gradients with them.
"""
from ..autograd import HOST_SCALARS, defvjp, defvjp_argnum, primitive
from ..backends import backend_of_array, namespace
from ..broadcasting import broadcast_to, sum_to_shape  # noqa: F401 - re-exported with the shape ops
from ..tensor import Tensor


@primitive
def _reshape(x, shape):
    return x.reshape(shape)


defvjp(_reshape, lambda g, ans, x, shape: _reshape(g, x.shape))


def _shape_arg(shape):
    """``f(x, 4, 3)`` and ``f(x, (4, 3))`` both mean the shape (4, 3), as in PyTorch."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def reshape(x, *shape):
    """``x`` with a new shape; ``reshape(x, 4, 3)`` and ``reshape(x, (4, 3))`` both work."""
    return _reshape(x, _shape_arg(shape))


def view(x, *shape):
    """PyTorch's ``view``: ``x`` reshaped without copying; a layout that would need a copy raises."""
    out = _reshape(x, _shape_arg(shape))
    if out.numel() > 1 and out._view is None:
        raise RuntimeError(f"view: shape {tuple(out.shape)} is not compatible with the memory layout of a tensor of "
                           f"shape {tuple(x.shape)} (a transposed or sliced one); use .reshape(), which may copy")
    return out


def expand(x, *sizes):
    """PyTorch's ``expand``: ``x`` broadcast to ``sizes``, where -1 keeps that dimension's length."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes)))


@primitive
def _transpose(x, axes=None):
    return x.transpose(axes)


def _inverse_permutation(axes, ndim):
    if axes is None:
        return None
    inverse = [0] * ndim
    for i, a in enumerate(axes):
        inverse[a % ndim] = i
    return tuple(inverse)


defvjp(_transpose, lambda g, ans, x, axes=None: _transpose(g, _inverse_permutation(axes, x.ndim)))


def transpose(x, *axes):
    """Axes reversed (no ``axes``), permuted (NumPy: a tuple, or one int per axis), or two swapped
    (PyTorch's ``transpose(x, 0, 1)``)."""
    if not axes:
        return _transpose(x)
    if len(axes) == 1:
        return _transpose(x, None if axes[0] is None else tuple(axes[0]))
    if len(axes) == 2 and x.ndim != 2:
        return swapaxes(x, *axes)
    return _transpose(x, tuple(axes))


def permute(x, *dims):
    """PyTorch's name for ``transpose`` with explicit axes: ``x.permute(0, 2, 1)``."""
    return _transpose(x, _shape_arg(dims))


def swapaxes(x, axis1=-1, axis2=-2):
    """``x`` with two axes exchanged (by default the last two: a batched matrix transpose)."""
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return _transpose(x, tuple(axes))


def unsqueeze(x, axis):
    """``x`` with a new axis of length 1 at ``axis`` (``numpy.expand_dims``)."""
    shape = list(x.shape)
    shape.insert(axis if axis >= 0 else len(shape) + axis + 1, 1)
    return _reshape(x, tuple(shape))


expand_dims = unsqueeze


def squeeze(x, axis=None, *, dim=None):
    """``x`` without the axes of length 1 (only ``axis``/``dim`` when given)."""
    axis = axis if dim is None else dim
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {tuple(x.shape)} has length {x.shape[a]}, not 1")
        shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return _reshape(x, shape)


def flatten(x, start_dim=0, end_dim=-1):
    """``x`` with dimensions ``start_dim..end_dim`` merged into one (PyTorch's ``flatten``)."""
    shape = tuple(x.shape)
    if not shape:
        return _reshape(x, (1,))
    start, end = start_dim % len(shape), end_dim % len(shape)
    merged = 1
    for n in shape[start:end + 1]:
        merged *= n
    return _reshape(x, shape[:start] + (merged,) + shape[end + 1:])


# -- indexing --------------------------------------------------------------------

def _is_basic(index):
    """True when ``index`` selects without integer or boolean arrays (no repeated elements)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


@primitive
def getitem(x, index):
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks.

    One element (``x[1]``) is a 0-d view, as in PyTorch, not NumPy's copied scalar, so an
    in-place op on it writes into ``x``.
    """
    out = x[index]
    if out.__class__ in HOST_SCALARS:
        out = x[(*index, Ellipsis) if isinstance(index, tuple) else (index, Ellipsis)]
    return out


@primitive
def untake(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index``: the adjoint of ``getitem``."""
    out = namespace(g).zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        backend_of_array(out).scatter_add(out, index, g)
    return out


defvjp(getitem, lambda g, ans, x, index: untake(g, index, x.shape))
defvjp(untake, lambda g, ans, x, index, shape: getitem(g, index))


def index_by_value(key, like):
    """An index with its Tensors replaced by their arrays and lists by arrays of ``like``'s backend."""
    if isinstance(key, Tensor):
        return key.data.copy()  # kept by getitem's node: a later write to the index must not move a gradient
    if isinstance(key, tuple):
        return tuple(index_by_value(k, like) for k in key)
    if isinstance(key, list):
        return namespace(like).asarray([k.item() if isinstance(k, Tensor) else k for k in key])
    return key


def index(x, key):
    """``x[key]``; Tensors inside ``key`` (integer or boolean arrays) are used by value."""
    return getitem(x, index_by_value(key, x.data if isinstance(x, Tensor) else x))


def _along_axis(x, raw, axis, sizes):
    """``x`` at the integer array ``raw`` along ``axis`` and at positions ``0..sizes[d]-1`` along each
    other axis d (broadcast with ``raw``): one ``getitem`` with an integer array per axis, whose
    gradient scatters back (adding repeated indices) through ``untake``."""
    xp = namespace(raw)
    grid = []
    for d, n in enumerate(sizes):
        shape = [1] * len(sizes)
        shape[d] = n
        grid.append(raw if d == axis else xp.arange(n).reshape(shape))
    return getitem(x, tuple(grid))


def _integer_index(name, x, indices, dim_word):
    raw = indices.data if isinstance(indices, Tensor) else \
        namespace(x.data if isinstance(x, Tensor) else x).asarray(indices)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{name}: the index must be an integer tensor, not {raw.dtype}")
    if raw.ndim != x.ndim:
        raise ValueError(f"{name}: the index has {raw.ndim} dimensions and the input {x.ndim} (shape "
                         f"{tuple(x.shape)}); they must have the same number, as {dim_word} picks along one")
    return raw


def take_along_axis(x, indices, axis=-1):
    """``numpy.take_along_axis``: the elements of ``x`` at ``indices`` along ``axis``; ``indices``
    broadcasts against ``x`` in the other axes, and ``axis=None`` takes from the flattened ``x``."""
    if axis is None:
        x, axis = flatten(x), 0
    raw = _integer_index("take_along_axis", x, indices, "axis")
    return _along_axis(x, raw, axis % x.ndim, x.shape)  # the index arrays broadcast against each other


def gather(x, dim, index, *, sparse_grad=False):
    """PyTorch's ``gather``: ``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim=0`` (and so on).

    ``index`` has ``x``'s number of dimensions and is no longer than ``x`` in the others (it picks
    from their first positions, without broadcasting); its values lie in ``[0, x.shape[dim])``.
    """
    raw = _integer_index("gather", x, index, "dim")
    dim %= x.ndim
    for d, (n, m) in enumerate(zip(x.shape, raw.shape)):
        if d != dim and m > n:
            raise ValueError(f"gather: the index of shape {tuple(raw.shape)} is larger than the input of "
                             f"shape {tuple(x.shape)} in dimension {d}")
    if raw.size and (int(raw.min()) < 0 or int(raw.max()) >= x.shape[dim]):
        bad = int(raw.min()) if int(raw.min()) < 0 else int(raw.max())
        raise IndexError(f"gather: index {bad} is out of bounds for dimension {dim} of size {x.shape[dim]}")
    return _along_axis(x, raw, dim, raw.shape)


# -- joining and padding -----------------------------------------------------------

@primitive
def _concatenate(axis, sizes, *xs):
    return namespace(xs[0]).concatenate(xs, axis=axis)


def _concatenate_vjp(argnum, g, ans, axis, sizes, *xs):
    """The slice of ``g`` where argument ``argnum`` went; ``sizes`` along ``axis`` are all it needs."""
    axis %= ans.ndim
    start = sum(sizes[:argnum - 2])
    return getitem(g, (slice(None),) * axis + (slice(start, start + sizes[argnum - 2]),))


defvjp_argnum(_concatenate, _concatenate_vjp)


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis."""
    axis = axis if dim is None else dim
    return _concatenate(axis, tuple(t.shape[axis] for t in tensors), *tensors)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis."""
    axis = axis if dim is None else dim
    return concatenate([unsqueeze(t, axis) for t in tensors], axis)


@primitive
def _pad(x, pad_width, value=0):
    return namespace(x).pad(x, pad_width, constant_values=value)


defvjp(_pad, lambda g, ans, x, pad_width, value=0: getitem(
    g, tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))))


def _pad_pairs(pad_width, ndim):
    """``pad_width`` in any of NumPy's forms (n, (n,), (before, after), ((b, a),), one pair per axis)
    as one (before, after) pair per axis."""
    if isinstance(pad_width, int):
        pad_width = (pad_width,)
    if all(isinstance(p, int) for p in pad_width) and len(pad_width) in (1, 2):
        pairs = [(pad_width[0], pad_width[-1])]  # (n,) or (before, after): the same for every axis
    elif all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pad_width):
        pairs = [tuple(p) for p in pad_width]
    else:
        raise ValueError(f"pad: pad_width {pad_width!r} is not an int, a (before, after) pair, or one pair per axis")
    if len(pairs) == 1:
        pairs *= ndim
    if len(pairs) != ndim:
        raise ValueError(f"pad: pad_width {pad_width!r} gives {len(pairs)} pairs for {ndim} dimensions")
    if any(int(b) < 0 or int(a) < 0 for b, a in pairs):
        raise ValueError(f"pad: negative padding in {pad_width!r}")
    return tuple((int(b), int(a)) for b, a in pairs)


def pad(x, pad_width, value=0, *, constant_values=None):
    """``x`` padded with a constant, ``pad_width`` in every form ``numpy.pad`` takes."""
    return _pad(x, _pad_pairs(pad_width, x.ndim), value if constant_values is None else constant_values)
