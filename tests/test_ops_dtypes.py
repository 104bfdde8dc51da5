"""float32 stays float32 through every new op, forward and backward: no VJP widens a gradient to float64
(which would slow every op before it and trip matmul's same-dtype rule)."""
import numpy as np
import pytest

import minidl as mdl

LA = mdl.linalg
OPS = {
    "log1p": lambda x: mdl.log1p(abs(x)), "expm1": mdl.expm1, "log2": lambda x: mdl.log2(abs(x) + 1),
    "log10": lambda x: mdl.log10(abs(x) + 1), "tan": mdl.tan, "arcsin": lambda x: mdl.arcsin(x * 0.1),
    "arccos": lambda x: mdl.arccos(x * 0.1), "arctan": mdl.arctan, "arctan2": lambda x: mdl.arctan2(x, x + 3),
    "sinh": mdl.sinh, "cosh": mdl.cosh, "softplus": mdl.softplus, "logaddexp": lambda x: mdl.logaddexp(x, x * 2),
    "floor": mdl.floor, "ceil": mdl.ceil, "round": mdl.round, "prod": lambda x: mdl.prod(x, 1),
    "cumsum": lambda x: mdl.cumsum(x, 0), "std": mdl.std, "norm": mdl.norm,
    "norm_inf": lambda x: mdl.norm(x, float("inf")), "norm_nuc": lambda x: mdl.norm(x, "nuc"),
    "norm_3": lambda x: mdl.norm(x, 3, dim=1), "matrix_1": lambda x: LA.norm(x, 1), "spectral": lambda x: LA.norm(x, 2),
    "einsum": lambda x: mdl.einsum("ij,kj->ik", x, x), "tensordot": lambda x: mdl.tensordot(x, x, 2),
    "dot": lambda x: mdl.dot(x, x.T), "outer": lambda x: mdl.outer(x, x[0]), "sort": lambda x: mdl.sort(x).values,
    "topk": lambda x: mdl.topk(x, 2).values, "gather": lambda x: mdl.gather(x, 1, mdl.tensor([[0, 0], [1, 1], [2, 2]])),
    "tril": mdl.tril, "triu": mdl.triu, "flip": lambda x: mdl.flip(x, 0), "roll": lambda x: mdl.roll(x, 1),
    "repeat": lambda x: mdl.repeat(x, 2, 0), "repeat_counts": lambda x: mdl.repeat(x, [1, 2, 0], 0),
    "tile": lambda x: mdl.tile(x, (2, 1)), "split": lambda x: mdl.split(x, 1)[0], "chunk": lambda x: x.chunk(2, 1)[0],
    "inv": lambda x: LA.inv(x + 3 * mdl.eye(3)), "det": LA.det, "slogdet": lambda x: LA.slogdet(x).logabsdet,
    "solve": lambda x: LA.solve(x + 3 * mdl.eye(3), x), "cholesky": lambda x: LA.cholesky(x @ x.T + mdl.eye(3)),
    "svdvals": LA.svdvals,
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_float32_in_float32_out_and_back(name):
    x = mdl.tensor(np.random.default_rng(0).standard_normal((3, 3)), dtype="float32", requires_grad=True)
    seen = []
    y = x * 1.0
    y.register_hook(lambda g: seen.append(g.dtype))
    out = OPS[name](y)
    out.sum().backward()
    assert out.dtype == mdl.float32 and seen == [mdl.float32]
