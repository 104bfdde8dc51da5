"""Products: ``matmul`` with NumPy's batching and 1-D rules, the fused ``linear`` layer op, and the
contractions ``einsum``, ``tensordot``, ``dot`` and ``outer``.

``matmul`` and ``linear`` refuse operands of two different dtypes, as PyTorch does: a float32 layer
fed float64 data raises instead of silently computing (and returning) float64. VJPs call the
primitives directly (``adjoint_matmul``), where an adjoint may legitimately be of a wider dtype
than the weights.
"""
import collections
import string

from ..autograd import defvjp, defvjp_argnum, primitive
from ..backends import namespace
from .elementwise import multiply
from .shape import reshape, squeeze, swapaxes, transpose, unsqueeze


def check_same_dtype(name, *operands):
    dtypes = [getattr(a, "dtype", None) for a in operands if a is not None]
    if any(d != dtypes[0] for d in dtypes if d is not None) and dtypes[0] is not None:
        raise TypeError(f"{name}: operands of different dtypes {', '.join(str(d) for d in dtypes)}; convert one "
                        "with .to(dtype) (a model with .double() or .float()): matrix products do not promote")


@primitive
def _matmul(x, y):
    return namespace(x).matmul(x, y)


def matmul(x, y):
    """Matrix product with broadcasting over batch dimensions, 1-D operands as ``numpy.matmul``."""
    check_same_dtype("matmul", x, y)
    return _matmul(x, y)


def _matmul_vjp_x(g, ans, x, y):
    if y.ndim == 1:
        return g * y if x.ndim == 1 else unsqueeze(g, -1) * y
    if x.ndim == 1:
        return squeeze(_matmul(y, unsqueeze(g, -1)), -1)
    return _matmul(g, swapaxes(y))


def _matmul_vjp_y(g, ans, x, y):
    if x.ndim == 1:
        return g * x if y.ndim == 1 else unsqueeze(x, -1) * unsqueeze(g, -2)
    if y.ndim == 1:
        return squeeze(_matmul(swapaxes(x), unsqueeze(g, -1)), -1)
    return _matmul(swapaxes(x), g)


defvjp(_matmul, _matmul_vjp_x, _matmul_vjp_y)
adjoint_matmul = _matmul  # for VJPs (other op families' too): no dtype check, see the module's docstring


@primitive
def _linear(x, weight, bias=None):
    xp = namespace(x)
    if x.ndim == 2 and x.shape[0] < weight.shape[0]:
        # A batch smaller than the layer: OpenBLAS ran weight @ x.T (the long side of the product as its rows)
        # 1.4x faster than x @ weight.T (784 -> 256 at batch 32, float32); one pass, adding the bias, makes its
        # transposed view the usual row-major output. Measured on OpenBLAS only: elsewhere the form costs that
        # one pass over the output, small next to the product.
        product = xp.matmul(weight, x.T).T
        out = xp.empty(product.shape, dtype=product.dtype)
        if bias is None:
            out[...] = product
            return out
        return xp.add(product, bias, out=out)
    out = xp.matmul(x, weight.T)
    if bias is not None:
        out += bias
    return out


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: one op, so a layer costs one record and one fused VJP."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or weight.dtype != dtype or bias is not None and bias.dtype != dtype:
        check_same_dtype("linear", x, weight, bias)  # the usual case (one dtype) without building lists: it runs per layer
    return _linear(x, weight, bias)


def _linear_weight_vjp(g, ans, x, weight, bias=None):
    """g.T @ x, with any leading (batch) dimensions of x and g merged first."""
    if g.ndim != 2:
        g, x = reshape(g, (-1, g.shape[-1])), reshape(x, (-1, x.shape[-1]))
    return _matmul(transpose(g), x)


def _linear_bias_vjp(g, ans, x, weight, bias=None):
    """g summed over its leading (batch) dimensions: what the engine's sum_to_shape would do, without its
    shape analysis (this runs once per layer and step)."""
    return g.sum(axis=tuple(range(g.ndim - 1))) if g.ndim > 1 else g  # a bias of another shape: the engine reduces


defvjp(_linear,
       lambda g, ans, x, weight, bias=None: _matmul(g, weight),
       _linear_weight_vjp,
       _linear_bias_vjp)


# -- einsum, and the contractions built on it -------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's sublist ints 0..51, in sorting order


@primitive
def _einsum(spec, *operands):
    """``numpy.einsum`` of ``spec = (inputs, output, sizes)``, generalised so that its VJPs are einsums
    too: an output letter may repeat (a diagonal, zero elsewhere), and ``sizes``, (letter, length)
    pairs, may ask for a length the inputs do not give it (the result broadcast along that letter,
    also one absent from the inputs)."""
    inputs, output, sizes = spec
    xp = namespace(next(a for a in operands if hasattr(a, "shape")))
    present = set("".join(inputs))
    core = "".join(dict.fromkeys(c for c in output if c in present))
    out = xp.einsum(",".join(inputs) + "->" + core, *operands, optimize=len(operands) > 1)
    length = dict(zip(core, out.shape))
    wide = {c: n for c, n in sizes if c not in present or length[c] < n}  # absent, or broadcast from length 1
    if core == output and not wide:
        return out
    length.update(wide)
    fresh = iter(c for c in _LETTERS if c not in output)
    terms, factors, renamed = [core], [out], []
    for i, c in enumerate(output):
        if c in output[:i]:  # a repeated letter: a diagonal, through an identity matrix
            renamed.append(next(fresh))
            terms.append(c + renamed[-1])
            factors.append(xp.eye(length[c], dtype=out.dtype))
        else:
            renamed.append(c)
            if c in wide:  # broadcast along c, through a vector of ones
                terms.append(c)
                factors.append(xp.ones(length[c], dtype=out.dtype))
    return xp.einsum(",".join(terms) + "->" + "".join(renamed), *factors)


def _einsum_vjp(argnum, g, ans, spec, *operands):
    """The einsum of ``g`` with the other operands into operand ``argnum - 1``'s subscripts, at its lengths."""
    inputs, output, _ = spec
    k = argnum - 1
    lengths = tuple(dict(zip(inputs[k], operands[k].shape)).items())
    return _einsum(((output,) + inputs[:k] + inputs[k + 1:], inputs[k], lengths), g, *operands[:k], *operands[k + 1:])


defvjp_argnum(_einsum, _einsum_vjp)


def _einsum_term(term, ndim, dots):
    """One operand's subscripts with its part of ``...`` (the last dimensions of ``dots``) spelled out."""
    letters = term.replace("...", "")
    if term.count(".") != 3 * term.count("...") or term.count("...") > 1 or not set(letters) <= set(_LETTERS):
        raise ValueError(f"einsum: invalid subscripts {term!r}: letters a-z, A-Z and at most one '...'")
    extra = ndim - len(letters)
    if extra < 0 or (extra and "..." not in term):
        raise ValueError(f"einsum: subscripts {term!r} for an operand of {ndim} dimensions")
    return term.replace("...", dots[len(dots) - extra:])


def _einsum_spec(subscripts, operands):
    """``(inputs, output)``: the subscripts of each operand and of the result, ``...`` spelled out in letters
    of its own and the implicit output made explicit (the letters seen once, sorted, after ``...``)."""
    lhs, arrow, rhs = subscripts.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {len(terms)} operand subscripts in {subscripts!r} for {len(operands)} operands")
    ndims = [getattr(a, "ndim", 0) for a in operands]
    width = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t), default=0)
    dots = "".join([c for c in _LETTERS if c not in subscripts][:max(width, 0)])
    inputs = tuple(_einsum_term(t, n, dots) for t, n in zip(terms, ndims))
    if not arrow:
        counts = collections.Counter("".join(inputs))
        return inputs, dots + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in dots))
    output = _einsum_term(rhs, len(rhs.replace("...", "")) + (len(dots) if "..." in rhs else 0), dots)
    if dots and "..." not in rhs:
        raise ValueError(f"einsum: the output {rhs!r} needs '...' for the dimensions the inputs' '...' stand for")
    missing = set(output) - set("".join(inputs))
    if missing or len(set(output)) != len(output):
        raise ValueError(f"einsum: each output letter must appear once in {rhs!r} and in some input; "
                         f"not so for {sorted(missing) or sorted(c for c in output if output.count(c) > 1)}")
    return inputs, output


def _from_sublists(args):
    """NumPy's interleaved form ``(x, [0, 1], y, [1, 2], [0, 2])`` as a subscripts string and operands."""
    def letters(sublist):
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sublist)
    operands = args[0:len(args) - len(args) % 2:2]
    subscripts = ",".join(letters(s) for s in args[1::2][:len(operands)])
    return subscripts + ("->" + letters(args[-1]) if len(args) % 2 else ""), operands


def einsum(*args, optimize=None):
    """``numpy.einsum``/``torch.einsum``: a subscripts string and the operands (also as one list, as
    PyTorch takes them), or NumPy's interleaved form ``einsum(x, [0, 1], y, [1, 2], [0, 2])``.

    Implicit outputs, ``...`` and repeated letters work as in NumPy; dimensions of length 1 broadcast.
    Contractions run through the backend's optimised einsum (``optimize`` is accepted, and implied).
    Differentiable in every operand, to any order: its VJPs are einsums.
    """
    if isinstance(args[0], str):
        subscripts, operands = args[0], args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    else:
        subscripts, operands = _from_sublists(args)
    inputs, output = _einsum_spec(subscripts, operands)
    return _einsum((inputs, output, ()), *operands)


def tensordot(a, b, axes=2, *, dims=None):
    """``numpy.tensordot`` (``dims=`` in PyTorch): sums over pairs of axes of ``a`` and ``b``. An int N pairs
    a's last N axes with b's first N; a pair of sequences (or of ints) names them. The result has a's
    remaining axes, then b's."""
    axes = axes if dims is None else dims
    na, nb = getattr(a, "ndim", 0), getattr(b, "ndim", 0)
    if getattr(axes, "ndim", None) == 0:  # a NumPy integer or a one-element tensor
        axes = int(axes)
    if isinstance(axes, int):
        if not 0 <= axes <= min(na, nb):
            raise ValueError(f"tensordot: axes={axes} for operands of {na} and {nb} dimensions")
        axes_a, axes_b = range(na - axes, na), range(axes)
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else x for x in axes)
    axes_a, axes_b = [int(i) % max(na, 1) for i in axes_a], [int(j) % max(nb, 1) for j in axes_b]
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: axes {axes_a} of shape {tuple(a.shape)} and {axes_b} of shape "
                         f"{tuple(b.shape)} do not pair up with equal lengths")
    sa = _LETTERS[:na]
    free_b = iter(_LETTERS[na:])
    sb = "".join(sa[axes_a[axes_b.index(j)]] if j in axes_b else next(free_b) for j in range(nb))
    output = "".join(c for i, c in enumerate(sa) if i not in axes_a) + "".join(
        c for j, c in enumerate(sb) if j not in axes_b)
    return _einsum(((sa, sb), output, ()), a, b)


def dot(a, b):
    """``numpy.dot``: the product of numbers, the inner product of vectors, the matrix product of
    matrices, and for N-D operands the sum over a's last axis and b's second to last (its only one
    when 1-D). PyTorch's ``dot`` takes only vectors, where the two agree."""
    na, nb = getattr(a, "ndim", 0), getattr(b, "ndim", 0)
    if na == 0 or nb == 0:
        return multiply(a, b)
    return tensordot(a, b, ([na - 1], [max(nb - 2, 0)]))


def outer(a, b):
    """``numpy.outer``: ``out[i, j] = a[i] * b[j]`` of the flattened inputs (PyTorch's takes vectors only,
    where the two agree)."""
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))
