"""minidl's differentiable ops, one module per family; ``minidl`` re-exports them (``mdl.exp``)."""
from . import inplace  # noqa: F401 - the in-place ops register themselves on import
from .conversion import astype, clone, detach, identity, to_device
from .decompositions import det, slogdet
from .decompositions import inv as inverse
from .elementwise import (abs, add, ceil, clip, cos, divide, equal, erf, exp, floor, floor_divide, greater,
                          greater_equal, isfinite, less, less_equal, log, logical_and, logical_not, logical_or,
                          logical_xor, maximum, minimum, multiply, negative, not_equal, power, relu, remainder,
                          round, sigmoid, sign, sin, sqrt, square, subtract, tanh, where)
from .linalg import dot, einsum, linear, matmul, outer, tensordot
from .convolution import conv2d, max_pool2d  # noqa: F401 - for nn.functional, not in mdl's namespace
from .nn_kernels import col2im, cross_entropy, im2col, one_hot
from .norms import norm
from .rearrange import chunk, flip, repeat, repeat_interleave, roll, split, tile, tril, triu
from .reductions import (all, any, argmax, argmin, cumsum, log_softmax, logsumexp, max, mean, min, prod, softmax,
                         std, sum, var)
from .shape import (broadcast_to, cat, concatenate, expand, expand_dims, flatten, gather, index, pad, permute, reshape, squeeze, stack, sum_to_shape, swapaxes, take_along_axis, transpose, unsqueeze, view)  # noqa: F401 - view: Tensor.view's, not in mdl's namespace
from .sorting import argsort, sort, topk
from .special import (acos, arccos, arcsin, arctan, arctan2, asin, atan, atan2, cosh, expm1, log1p, log2, log10,
                      logaddexp, sinh, softplus, tan)

__all__ = [
    "abs", "acos", "add", "all", "any", "arccos", "arcsin", "arctan", "arctan2", "argmax", "argmin", "argsort",
    "asin", "astype", "atan", "atan2", "broadcast_to", "cat", "ceil", "chunk", "clip", "clone", "col2im",
    "concatenate", "cos", "cosh", "cross_entropy", "cumsum", "det", "detach", "divide", "dot", "einsum", "equal",
    "erf", "exp", "expand", "expand_dims", "expm1", "flatten", "flip", "floor", "floor_divide", "gather",
    "greater", "greater_equal", "identity", "im2col", "index", "inverse", "isfinite", "less", "less_equal",
    "linear", "log", "log10", "log1p", "log2", "log_softmax", "logaddexp", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply",
    "negative", "norm", "not_equal", "one_hot", "outer", "pad", "permute", "power", "prod", "relu", "remainder",
    "repeat", "repeat_interleave", "reshape", "roll", "round", "sigmoid", "sign", "sin", "sinh", "slogdet",
    "softmax", "softplus", "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "subtract", "sum",
    "sum_to_shape", "swapaxes", "take_along_axis", "tan", "tanh", "tensordot", "tile", "to_device", "topk",
    "transpose", "tril", "triu", "unsqueeze", "var", "where",
]
