"""Matrix functions and decompositions: inv, det, slogdet, solve, cholesky and singular values.

Each works on a square matrix or a batch of them (the last two axes), through the backend's
``linalg``; ``mdl.linalg`` re-exports them with the norms. Every VJP is written with these ops,
so second derivatives work (an exactly singular matrix has no second derivative of det here).
"""
from typing import Any, NamedTuple

from ..autograd import defvjp, nondifferentiable, primitive
from ..backends import namespace
from . import reductions
from .elementwise import where
from .linalg import adjoint_matmul as mm
from .rearrange import tril
from .shape import squeeze, swapaxes, unsqueeze


class SlogdetResult(NamedTuple):
    """``slogdet``'s ``(sign, logabsdet)``, as NumPy and PyTorch name them."""

    sign: Any
    logabsdet: Any


def _check_square(name, A):
    shape = tuple(getattr(A, "shape", ()))
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: expected a square matrix or a batch of them (shape (..., n, n)), got shape {shape}")


def _as_matrix_scale(g):
    """A batch of numbers as a batch of 1x1 matrices, to scale a batch of matrices."""
    return unsqueeze(unsqueeze(g, -1), -1)


# -- inverse and determinants ------------------------------------------------------------------

@primitive
def _inv(A):
    return namespace(A).linalg.inv(A)


@primitive
def _det(A):
    return namespace(A).linalg.det(A)


@primitive
def _cofactor(A):
    """The matrix of cofactors, d det(A) / dA: det(A) inv(A)^T, and exact where A is singular too, from
    the SVD A = U S V^T as det(U) det(V^T) U diag(the product of the other singular values) V^T."""
    xp = namespace(A)
    u, s, vh = xp.linalg.svd(A)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * reductions.others_product(s, -1)[..., None, :]) @ vh)


def _cofactor_vjp(g, ans, A):
    """The derivative of <G, det(A) A^-T>: <G, A^-T> det(A) A^-T - A^-T G^T det(A) A^-T (A invertible)."""
    inv_t = swapaxes(_inv(A))
    return reductions.sum(g * inv_t, (-2, -1), True) * ans - mm(mm(inv_t, swapaxes(g)), ans)


@nondifferentiable
def _det_sign(A):
    return namespace(A).linalg.slogdet(A)[0]


@primitive
def _logabsdet(A):
    return namespace(A).linalg.slogdet(A)[1]


defvjp(_inv, lambda g, ans, A: -mm(mm(swapaxes(ans), g), swapaxes(ans)))
defvjp(_det, lambda g, ans, A: _as_matrix_scale(g) * _cofactor(A))
defvjp(_cofactor, _cofactor_vjp)
defvjp(_logabsdet, lambda g, ans, A: _as_matrix_scale(g) * swapaxes(_inv(A)))


def inv(A):
    """The inverse of a square matrix (or of each in a batch); a singular one raises."""
    _check_square("inv", A)
    return _inv(A)


def det(A):
    """The determinant of a square matrix (or of each in a batch). Its gradient is the matrix of
    cofactors, also for a singular matrix."""
    _check_square("det", A)
    return _det(A)


def slogdet(A):
    """``(sign, logabsdet)``: the sign of det(A) (-1, 0 or 1; not differentiable) and log|det(A)|, which
    neither overflows nor underflows where det(A) itself would."""
    _check_square("slogdet", A)
    return SlogdetResult(_det_sign(A), _logabsdet(A))


# -- linear systems ----------------------------------------------------------------------------------

def _broadcast_shapes(a, b):
    a, b = (1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)
    if any(m != n and 1 not in (m, n) for m, n in zip(a, b)):
        raise ValueError(f"solve: batch shapes {a} and {b} do not broadcast")
    return tuple(max(m, n) for m, n in zip(a, b))


@primitive
def _solve(A, B):
    """X with A X = B for a batch of matrices B; the batch shapes broadcast (spelled out, so that every
    backend reads B as matrices)."""
    xp = namespace(A)
    batch = _broadcast_shapes(A.shape[:-2], B.shape[:-2])
    return xp.linalg.solve(xp.broadcast_to(A, batch + A.shape[-2:]), xp.broadcast_to(B, batch + B.shape[-2:]))


defvjp(_solve, lambda g, ans, A, B: -mm(_solve(swapaxes(A), g), swapaxes(ans)),
       lambda g, ans, A, B: _solve(swapaxes(A), g))


def solve(A, B, *, left=True):
    """X with ``A @ X = B`` (``X @ A = B`` with ``left=False``) for a square A or a batch of them.

    B is a batch of vectors when it is 1-D or has exactly A's shape without the last dimension
    (PyTorch's rule; NumPy 2 reads only a 1-D B as a vector), and a batch of matrices otherwise;
    batch dimensions broadcast. A singular A raises.
    """
    _check_square("solve", A)
    vector = left and (B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])))
    rows = B.shape[-1] if vector or not left else (B.shape[-2] if B.ndim >= 2 else None)
    if B.ndim < (1 if left else 2) or rows != A.shape[-1]:
        raise ValueError(f"solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not match; B needs "
                         f"{A.shape[-1]} rows ({A.shape[-1]} columns with left=False; as a batch of vectors, A's shape "
                         "without its last dimension)")
    if not left:  # X A = B is A^T X^T = B^T
        return swapaxes(_solve(swapaxes(A), swapaxes(B)))
    return squeeze(_solve(A, unsqueeze(B, -1)), -1) if vector else _solve(A, B)


# -- Cholesky ------------------------------------------------------------------------------------------

@primitive
def _cholesky(A):
    """The lower Cholesky factor of the symmetric part (A + A^T) / 2."""
    xp = namespace(A)
    return xp.linalg.cholesky((A + xp.swapaxes(A, -1, -2)) / 2)


def _cholesky_vjp(g, ans, A):
    """L^-T Phi L^-1, where the symmetric Phi has tril(L^T G) as its lower triangle, halved (Murray 2016,
    as PyTorch's): the gradient with respect to the symmetric part, itself symmetric."""
    lower = tril(mm(swapaxes(ans), g))
    phi = (lower + swapaxes(tril(lower, -1))) * 0.5
    left = _solve(swapaxes(ans), phi)  # L^-T Phi
    return swapaxes(_solve(swapaxes(ans), swapaxes(left)))  # (L^-T (L^-T Phi)^T)^T = L^-T Phi L^-1


defvjp(_cholesky, _cholesky_vjp)


def cholesky(A, *, upper=False):
    """The Cholesky factor L (lower triangular, A = L L^T; U = L^T with ``upper=True``) of a symmetric
    positive-definite matrix, or of each in a batch.

    minidl factors the symmetric part (A + A^T) / 2: for a symmetric A that is NumPy's and PyTorch's
    result, and the gradient, symmetric as PyTorch documents it, is then the true gradient of what
    was computed (NumPy and PyTorch read only A's lower triangle). A matrix that is not positive
    definite raises.
    """
    _check_square("cholesky", A)
    factor = _cholesky(A)
    return swapaxes(factor) if upper else factor


# -- singular values ----------------------------------------------------------------------------------

@primitive
def svdvals(A):
    """The singular values of a matrix (or of each in a batch), in descending order."""
    return namespace(A).linalg.svd(A, compute_uv=False)


@primitive
def _svd_u(A):
    return namespace(A).linalg.svd(A, full_matrices=False)[0]


@primitive
def _svd_vh(A):
    return namespace(A).linalg.svd(A, full_matrices=False)[2]


@nondifferentiable
def _diagonal_mask(s):
    return namespace(s).eye(s.shape[-1], dtype=bool)


def _inverse_gaps(s):
    """F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it (infinite for repeated singular values)."""
    s2 = s * s
    diagonal = _diagonal_mask(s)
    return where(diagonal, 0, 1 / where(diagonal, 1, unsqueeze(s2, -2) - unsqueeze(s2, -1)))


# The adjoints of the thin SVD A = U S V^T, one factor at a time (Townsend, "Differentiating the
# singular value decomposition", 2016). The three primitives factor A the same way, so their
# factors agree, signs included.
def _svd_u_vjp(g, ans, A):
    """U [F o (U^T G - G^T U)] S V^T + (I - U U^T) G S^-1 V^T."""
    s = svdvals(A)
    utg = mm(swapaxes(ans), g)
    inner = _inverse_gaps(s) * (utg - swapaxes(utg)) * unsqueeze(s, -2)
    return mm(mm(ans, inner) + (g - mm(ans, utg)) / unsqueeze(s, -2), _svd_vh(A))


def _svd_vh_vjp(g, ans, A):
    """U [S (F o (V^T V' - V'^T V))] V^T + U S^-1 V'^T (I - V V^T), with V' = G^T the adjoint of V."""
    s = svdvals(A)
    vtv = mm(ans, swapaxes(g))
    inner = unsqueeze(s, -1) * (_inverse_gaps(s) * (vtv - swapaxes(vtv)))
    return mm(_svd_u(A), mm(inner, ans) + (g - mm(mm(g, swapaxes(ans)), ans)) / unsqueeze(s, -1))


defvjp(svdvals, lambda g, ans, A: mm(_svd_u(A) * unsqueeze(g, -2), _svd_vh(A)))
defvjp(_svd_u, _svd_u_vjp)
defvjp(_svd_vh, _svd_vh_vjp)
