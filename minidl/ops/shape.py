"""Shape primitives: broadcasting and its adjoint, reshapes, transposes, indexing, joins, padding."""
from ..autograd import defvjp, defvjp_argnum, primitive
from ..backends import backend_of_array, namespace
from ..tensor import Tensor, _is_floating


@primitive
def sum_to_shape(x, shape):
    """Sum ``x`` over the dimensions that broadcasting added, giving ``shape``: the adjoint of broadcasting."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    out = x.sum(axis=axes)
    return out if out.shape == shape else out.reshape(shape)


@primitive
def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (a read-only view)."""
    return namespace(x).broadcast_to(x, shape)


defvjp(sum_to_shape, lambda g, ans, x, shape: broadcast_to(g, x.shape))
defvjp(broadcast_to, lambda g, ans, x, shape: sum_to_shape(g, x.shape))


@primitive
def _reshape(x, shape):
    return x.reshape(shape)


defvjp(_reshape, lambda g, ans, x, shape: _reshape(g, x.shape))


def reshape(x, *shape):
    """``x`` with a new shape; ``reshape(x, 4, 3)`` and ``reshape(x, (4, 3))`` both work."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return _reshape(x, tuple(shape))


@primitive
def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed when ``axes`` is None), as ``numpy.transpose``."""
    return x.transpose(axes)


def _inverse_permutation(axes, ndim):
    if axes is None:
        return None
    inverse = [0] * ndim
    for i, a in enumerate(axes):
        inverse[a % ndim] = i
    return tuple(inverse)


defvjp(transpose, lambda g, ans, x, axes=None: transpose(g, _inverse_permutation(axes, x.ndim)))


def permute(x, *dims):
    """PyTorch's name for ``transpose`` with explicit axes: ``x.permute(0, 2, 1)``."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return transpose(x, tuple(dims))


def swapaxes(x, axis1=-1, axis2=-2):
    """``x`` with two axes exchanged (by default the last two: a batched matrix transpose)."""
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, tuple(axes))


def unsqueeze(x, axis):
    """``x`` with a new axis of length 1 at ``axis`` (``numpy.expand_dims``)."""
    shape = list(x.shape)
    shape.insert(axis if axis >= 0 else len(shape) + axis + 1, 1)
    return _reshape(x, tuple(shape))


expand_dims = unsqueeze


def squeeze(x, axis=None):
    """``x`` without the axes of length 1 (only ``axis`` when given)."""
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
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    return x[index]


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


def index(x, key):
    """``x[key]``; Tensors inside ``key`` (integer or boolean arrays) are used by value."""
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    elif isinstance(key, list):
        key = namespace(x.data if isinstance(x, Tensor) else x).asarray(key)
    return getitem(x, key)


# -- joining and padding -----------------------------------------------------------

@primitive
def _concatenate(axis, *xs):
    return namespace(xs[0]).concatenate(xs, axis=axis)


def _concatenate_vjp(argnum, g, ans, axis, *xs):
    axis %= ans.ndim
    start = sum(x.shape[axis] for x in xs[:argnum - 1])
    stop = start + xs[argnum - 1].shape[axis]
    return getitem(g, (slice(None),) * axis + (slice(start, stop),))


defvjp_argnum(_concatenate, _concatenate_vjp)


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis."""
    return _concatenate(axis if dim is None else dim, *tensors)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis."""
    axis = axis if dim is None else dim
    return _concatenate(axis, *(unsqueeze(t, axis) for t in tensors))


@primitive
def _pad(x, pad_width, value=0):
    return namespace(x).pad(x, pad_width, constant_values=value)


defvjp(_pad, lambda g, ans, x, pad_width, value=0: getitem(
    g, tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))))


def pad(x, pad_width, value=0):
    """``x`` padded with ``value``; ``pad_width`` as in ``numpy.pad``: an int, a pair, or a pair per axis."""
    ndim = x.ndim
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * ndim
    elif len(pad_width) == 2 and all(isinstance(p, int) for p in pad_width):
        pad_width = (tuple(pad_width),) * ndim
    pad_width = tuple((int(b), int(a)) for b, a in pad_width)
    if len(pad_width) != ndim:
        raise ValueError(f"pad: {len(pad_width)} (before, after) pairs for a tensor of {ndim} dimensions")
    return _pad(x, pad_width, value)


# -- dtype -----------------------------------------------------------------------

@primitive
def _astype(x, dtype):
    return x.astype(dtype)


defvjp(_astype, lambda g, ans, x, dtype: _astype(g, x.dtype))


def astype(x, dtype):
    """``x`` converted to ``dtype``; a conversion to a non-float type is not recorded."""
    if isinstance(x, Tensor):
        dtype = x.backend.dtype(dtype)
        if not _is_floating(dtype):
            return Tensor(x.data.astype(dtype), x.device)
    return _astype(x, dtype)
