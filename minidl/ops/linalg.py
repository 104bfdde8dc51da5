"""Matrix products: ``matmul`` with NumPy's batching and 1-D rules, and the fused ``linear`` layer op."""
from ..autograd import defvjp, primitive
from ..backends import namespace
from .shape import _reshape, squeeze, swapaxes, transpose, unsqueeze


@primitive
def matmul(x, y):
    """Matrix product with broadcasting over batch dimensions, 1-D operands as ``numpy.matmul``."""
    return namespace(x).matmul(x, y)


def _matmul_vjp_x(g, ans, x, y):
    if y.ndim == 1:
        return g * y if x.ndim == 1 else unsqueeze(g, -1) * y
    if x.ndim == 1:
        return squeeze(matmul(y, unsqueeze(g, -1)), -1)
    return matmul(g, swapaxes(y))


def _matmul_vjp_y(g, ans, x, y):
    if x.ndim == 1:
        return g * x if y.ndim == 1 else unsqueeze(x, -1) * unsqueeze(g, -2)
    if y.ndim == 1:
        return squeeze(matmul(swapaxes(x), unsqueeze(g, -1)), -1)
    return matmul(swapaxes(x), g)


defvjp(matmul, _matmul_vjp_x, _matmul_vjp_y)


@primitive
def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: one op, so a layer costs one record and one fused VJP."""
    out = namespace(x).matmul(x, weight.T)
    if bias is not None:
        out += bias
    return out


def _linear_weight_vjp(g, ans, x, weight, bias=None):
    """g.T @ x, with any leading (batch) dimensions of x and g merged first."""
    if g.ndim != 2:
        g, x = _reshape(g, (-1, g.shape[-1])), _reshape(x, (-1, x.shape[-1]))
    return matmul(transpose(g), x)


defvjp(linear,
       lambda g, ans, x, weight, bias=None: matmul(g, weight),
       _linear_weight_vjp,
       lambda g, ans, x, weight, bias=None: g)  # summed to bias.shape by the engine
