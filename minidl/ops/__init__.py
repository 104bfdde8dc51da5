"""minidl's differentiable ops, one module per family; ``minidl`` re-exports them (``mdl.exp``)."""
from . import inplace
from .conversion import astype, clone, detach, identity, to_device
from .elementwise import (abs, add, clip, cos, divide, equal, erf, exp, floor_divide, greater, greater_equal,
                          isfinite, less, less_equal, log, logical_and, logical_not, logical_or, logical_xor,
                          maximum, minimum, multiply, negative, not_equal, power, relu, remainder, sigmoid,
                          sign, sin, sqrt, square, subtract, tanh, where)
from .linalg import linear, matmul
from .nn_kernels import col2im, cross_entropy, im2col, one_hot
from .reductions import (all, any, argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, sum,
                         var)
from .shape import (broadcast_to, cat, concatenate, expand, expand_dims, flatten, index, pad, permute,
                    reshape, squeeze, stack, sum_to_shape, swapaxes, take_along_axis, transpose, unsqueeze)

__all__ = [
    "abs", "add", "all", "any", "argmax", "argmin", "astype", "broadcast_to", "cat", "clip", "clone",
    "col2im", "concatenate", "cos", "cross_entropy", "detach", "divide", "equal", "erf", "exp", "expand",
    "expand_dims", "flatten", "floor_divide", "greater", "greater_equal", "identity", "im2col", "index",
    "isfinite", "less", "less_equal", "linear", "log", "log_softmax", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum",
    "multiply", "negative", "not_equal", "one_hot", "pad", "permute", "power", "relu", "remainder",
    "reshape", "sigmoid", "sign", "sin", "softmax", "sqrt", "square", "squeeze", "stack", "subtract", "sum",
    "sum_to_shape", "swapaxes", "take_along_axis", "tanh", "to_device", "transpose", "unsqueeze", "var",
    "where",
]
