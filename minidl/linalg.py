"""``mdl.linalg``: the linear algebra of ``numpy.linalg`` and ``torch.linalg`` under their names.

``norm`` here is ``numpy.linalg.norm`` / ``torch.linalg.norm`` (the two agree), not the top-level
``mdl.norm``, which follows ``torch.norm`` unless called with NumPy's keywords.
"""
from .ops.decompositions import SlogdetResult, cholesky, det, inv, slogdet, solve, svdvals
from .ops.linalg import matmul
from .ops.norms import linalg_norm as norm
from .ops.norms import matrix_norm, vector_norm

__all__ = ["SlogdetResult", "cholesky", "det", "inv", "matmul", "matrix_norm", "norm", "slogdet", "solve",
           "svdvals", "vector_norm"]
