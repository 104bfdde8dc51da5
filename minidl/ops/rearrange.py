"""Ops that move, copy or cut out elements: flip, roll, repeat, tile, split, chunk, tril and triu.

Two names mean different things in NumPy and PyTorch (api.md): the function ``repeat`` is NumPy's
(each element repeated in place) while ``Tensor.repeat`` is PyTorch's (the whole tensor tiled:
``repeat_as_tiles``), and ``split`` takes a number of sections with NumPy's ``axis=`` but a piece
size with PyTorch's ``dim=`` or positionally.
"""
from ..autograd import defvjp, primitive
from ..backends import namespace
from ..tensor import Tensor
from . import reductions
from .shape import flatten, getitem, reshape


def _either(op, numpy_value, numpy_word, torch_value, torch_word):
    """The argument given under NumPy's name or PyTorch's; both at once is an error."""
    if torch_value is None:
        return numpy_value
    if numpy_value is not None:
        raise TypeError(f"{op}: give {numpy_word} (NumPy) or {torch_word} (PyTorch), not both")
    return torch_value


def _ints(value):
    """An int, a tuple of ints, or None, from ints, NumPy integers, one-element tensors or sequences."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return int(value)


def _slice_along(x, axis, start, stop):
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


# -- reversing and rotating ------------------------------------------------------------

@primitive
def _flip(x, axes):
    return namespace(x).flip(x, axes).copy()  # a copy, as PyTorch's (NumPy's flip is a view)


@primitive
def _roll(x, shift, axis):
    return namespace(x).roll(x, shift, axis)


def _negated(shift):
    return -shift if isinstance(shift, int) else tuple(-s for s in shift)


defvjp(_flip, lambda g, ans, x, axes: _flip(g, axes))
defvjp(_roll, lambda g, ans, x, shift, axis: _roll(g, _negated(shift), axis))


def flip(x, axis=None, *, dims=None):
    """The elements in reverse order along ``axis`` (NumPy) or ``dims`` (PyTorch), an int or a tuple;
    along every axis when neither is given, as ``numpy.flip``."""
    return _flip(x, _ints(_either("flip", axis, "axis", dims, "dims")))


def roll(x, shift=None, axis=None, *, shifts=None, dims=None):
    """The elements shifted cyclically by ``shift`` along ``axis`` (PyTorch: ``shifts``, ``dims``), ints
    or tuples of ints; the flattened tensor is rolled, and reshaped back, when no axis is given."""
    shift = _either("roll", shift, "shift", shifts, "shifts")
    if shift is None:
        raise TypeError("roll: missing the shift (shift= in NumPy, shifts= in PyTorch)")
    return _roll(x, _ints(shift), _ints(_either("roll", axis, "axis", dims, "dims")))


# -- repeating -----------------------------------------------------------------------------

@primitive
def _repeat(x, repeats, axis):
    return namespace(x).repeat(x, repeats, axis)


@primitive
def _tile(x, reps):
    return namespace(x).tile(x, reps)


def _tile_vjp(g, ans, x, reps):
    """The sum of ``g``'s tiles: each axis split into (repetition, length), the repetitions summed."""
    n = g.ndim
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    reps = (1,) * (n - len(reps)) + tuple(reps)
    tiles = reshape(g, tuple(size for pair in zip(reps, shape) for size in pair))
    return reshape(reductions.sum(tiles, tuple(range(0, 2 * n, 2))), x.shape)


defvjp(_repeat, lambda g, ans, x, repeats, axis: reductions.sum(
    reshape(g, x.shape[:axis] + (x.shape[axis], repeats) + x.shape[axis + 1:]), axis + 1))
defvjp(_tile, _tile_vjp)


def repeat(x, repeats, axis=None):
    """NumPy's ``repeat``: each element ``repeats`` times in a row along ``axis`` (of the flattened tensor
    when None). ``repeats`` is an int or one count per element. ``Tensor.repeat`` is PyTorch's, which
    tiles the whole tensor (``repeat_as_tiles``)."""
    if axis is None:
        x, axis = flatten(x), 0
    axis = int(axis) % max(x.ndim, 1)
    counts = repeats.data if isinstance(repeats, Tensor) else repeats
    if not isinstance(counts, int):
        counts = namespace(x.data if isinstance(x, Tensor) else x).asarray(counts)
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise TypeError(f"repeat: repeats must be an int or a 1-D sequence of ints, not {counts.dtype} "
                            f"of shape {tuple(counts.shape)}")
        if counts.size == 1:
            counts = int(counts.reshape(()))
    if isinstance(counts, int):
        if counts < 0:
            raise ValueError(f"repeat: repeats must be non-negative, got {counts}")
        return _repeat(x, counts, axis)
    n = x.shape[axis]
    if counts.shape != (n,) or bool((counts < 0).any()):
        raise ValueError(f"repeat: repeats must give one non-negative count for each of the {n} elements along "
                         f"axis {axis}, got {counts.tolist()}")
    ids = namespace(counts).repeat(namespace(counts).arange(n), counts)
    return getitem(x, (slice(None),) * axis + (ids,))  # the gradient adds each element's copies back


def repeat_interleave(x, repeats, dim=None, *, output_size=None):
    """PyTorch's name for NumPy's ``repeat``: each element ``repeats`` times along ``dim``."""
    out = repeat(x, repeats, dim)
    if output_size is not None and out.shape[dim or 0] != output_size:
        raise ValueError(f"repeat_interleave: output_size={output_size}, but the result has {out.shape[dim or 0]}")
    return out


def tile(x, reps=None, *, dims=None):
    """``x`` repeated as a whole ``reps`` times per axis (PyTorch: ``dims``); a shorter ``reps`` counts
    from the last axis, a longer one adds leading axes (NumPy's and PyTorch's ``tile``)."""
    reps = _ints(_either("tile", reps, "reps", dims, "dims"))
    reps = (reps,) if isinstance(reps, int) else reps
    if reps is None or any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative ints, got {reps}")
    return _tile(x, reps)


def repeat_as_tiles(x, *sizes):
    """PyTorch's ``Tensor.repeat(*sizes)``: ``x`` tiled ``sizes`` times per dimension, with at least one
    size per dimension of ``x`` (extra sizes add leading dimensions)."""
    sizes = _ints(sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} sizes {sizes} for a tensor of {x.ndim} dimensions; give at least "
                         "one per dimension (Tensor.repeat tiles, as PyTorch's; numpy.repeat is mdl.repeat)")
    return tile(x, sizes)


# -- cutting into pieces ---------------------------------------------------------------------

def _numpy_sections(x, sections, axis):
    n = x.shape[axis]
    if isinstance(sections, int):
        if sections <= 0 or n % sections:
            raise ValueError(f"split: {n} elements along axis {axis} do not split into {sections} equal sections "
                             "(NumPy's split with axis=; PyTorch's split(x, size) gives pieces of a size)")
        bounds = list(range(0, n + 1, n // sections)) if n else [0] * (sections + 1)
    else:
        bounds = [0, *sections, n]
    return [_slice_along(x, axis, a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _torch_pieces(x, sizes, axis):
    n = x.shape[axis]
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError(f"split: the piece size must be positive, got {sizes}")
        sizes = [min(sizes, n - start) for start in range(0, n, sizes)] or [0]
    elif any(s < 0 for s in sizes) or sum(sizes) != n:
        raise ValueError(f"split: sizes {list(sizes)} must be non-negative and sum to the {n} elements "
                         f"along dim {axis}")
    starts = [0]
    for s in sizes:
        starts.append(starts[-1] + s)
    return tuple(_slice_along(x, axis, a, b) for a, b in zip(starts[:-1], starts[1:]))


def split(x, sections, *args, **kwargs):
    """Pieces of ``x`` along an axis, which share its memory; the call's keywords pick the dialect.

    NumPy's ``split(x, sections, axis=0)``: an int N gives N equal pieces (N must divide the length),
    a list gives the indices where pieces start; the result is a list. PyTorch's
    ``split(x, split_size, dim=0)``, also without keywords: an int gives pieces of that size (the last
    may be shorter), a list gives the pieces' sizes; the result is a tuple.
    """
    if len(args) > 1:
        raise TypeError(f"split: expected (x, sections, axis), got {len(args) + 2} positional arguments")
    axis, _, pytorch = reductions.dialect(args, kwargs, ("axis",), ("dim",))
    axis = int(axis or 0) % max(x.ndim, 1)
    sections = _ints(sections)
    return _torch_pieces(x, sections, axis) if pytorch else _numpy_sections(x, sections, axis)


def chunk(x, chunks, dim=0):
    """PyTorch's ``chunk``: at most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (the last
    may be smaller, and fewer pieces come back when the size leaves nothing for the rest)."""
    if int(chunks) <= 0:
        raise ValueError(f"chunk: the number of chunks must be positive, got {chunks}")
    n = x.shape[dim]
    if n == 0:
        return (x,) * int(chunks)  # as PyTorch: that many empty pieces
    return split(x, -(-n // int(chunks)), dim=dim)


# -- triangles ---------------------------------------------------------------------------------

@primitive
def _tril(x, k):
    return namespace(x).tril(x, k)


@primitive
def _triu(x, k):
    return namespace(x).triu(x, k)


# a 1-D x gives a matrix (NumPy): the engine sums the gradient's rows back to x's shape
defvjp(_tril, lambda g, ans, x, k: _tril(g, k))
defvjp(_triu, lambda g, ans, x, k: _triu(g, k))


def tril(x, k=0, *, diagonal=None):
    """The lower triangle of (each matrix in) ``x``: elements above diagonal ``k`` (PyTorch: ``diagonal``)
    set to 0. A 1-D ``x`` is taken as each row of a square matrix, as NumPy's."""
    return _tril(x, int(_either("tril", k if k != 0 else None, "k", diagonal, "diagonal") or 0))


def triu(x, k=0, *, diagonal=None):
    """The upper triangle of (each matrix in) ``x``: elements below diagonal ``k`` (PyTorch: ``diagonal``)
    set to 0. A 1-D ``x`` is taken as each row of a square matrix, as NumPy's."""
    return _triu(x, int(_either("triu", k if k != 0 else None, "k", diagonal, "diagonal") or 0))
