"""Matrix products: ``matmul`` with NumPy's batching and 1-D rules, and the fused ``linear`` layer op.

Both refuse operands of two different dtypes, as PyTorch does: a float32 layer fed float64
data raises instead of silently computing (and returning) float64. VJPs call the primitives
directly, where an adjoint may legitimately be of a wider dtype than the weights.
"""
from ..autograd import defvjp, primitive
from ..backends import namespace
from .shape import reshape, squeeze, swapaxes, transpose, unsqueeze


def _same_dtype(name, *operands):
    dtypes = [getattr(a, "dtype", None) for a in operands if a is not None]
    if any(d != dtypes[0] for d in dtypes if d is not None) and dtypes[0] is not None:
        raise TypeError(f"{name}: operands of different dtypes {', '.join(str(d) for d in dtypes)}; convert one "
                        "with .to(dtype) (a model with .double() or .float()): matrix products do not promote")


@primitive
def _matmul(x, y):
    return namespace(x).matmul(x, y)


def matmul(x, y):
    """Matrix product with broadcasting over batch dimensions, 1-D operands as ``numpy.matmul``."""
    _same_dtype("matmul", x, y)
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


@primitive
def _linear(x, weight, bias=None):
    out = namespace(x).matmul(x, weight.T)
    if bias is not None:
        out += bias
    return out


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: one op, so a layer costs one record and one fused VJP."""
    _same_dtype("linear", x, weight, bias)
    return _linear(x, weight, bias)


def _linear_weight_vjp(g, ans, x, weight, bias=None):
    """g.T @ x, with any leading (batch) dimensions of x and g merged first."""
    if g.ndim != 2:
        g, x = reshape(g, (-1, g.shape[-1])), reshape(x, (-1, x.shape[-1]))
    return _matmul(transpose(g), x)


defvjp(_linear,
       lambda g, ans, x, weight, bias=None: _matmul(g, weight),
       _linear_weight_vjp,
       lambda g, ans, x, weight, bias=None: g)  # summed to bias.shape by the engine
