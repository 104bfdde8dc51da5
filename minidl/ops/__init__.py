"""minidl's differentiable ops, one module per family, and the Tensor methods that are these ops."""
from ..tensor import Tensor
from .elementwise import (abs, add, clip, cos, divide, equal, exp, greater, greater_equal, isfinite,
                          less, less_equal, log, logical_and, logical_not, logical_or, maximum,
                          minimum, multiply, negative, not_equal, power, relu, sigmoid, sign, sin,
                          sqrt, square, subtract, tanh, where)
from .linalg import linear, matmul
from .nn_kernels import col2im, cross_entropy, im2col, one_hot
from .reductions import (argmax, argmin, log_softmax, logsumexp, max, mean, min, softmax, sum,
                         var)
from .shape import (astype, broadcast_to, cat, concatenate, expand_dims, flatten, index, pad,
                    permute, reshape, squeeze, stack, sum_to_shape, swapaxes, transpose,
                    unsqueeze)


__all__ = [
    "abs", "add", "argmax", "argmin", "astype", "broadcast_to", "cat", "clip", "col2im", "concatenate",
    "cos", "cross_entropy", "divide", "equal", "exp", "expand_dims", "flatten", "greater",
    "greater_equal", "im2col", "index", "isfinite", "less", "less_equal", "linear", "log",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "multiply", "negative", "not_equal", "one_hot", "pad",
    "permute", "power", "relu", "reshape", "sigmoid", "sign", "sin", "softmax", "sqrt", "square",
    "squeeze", "stack", "subtract", "sum", "sum_to_shape", "swapaxes", "tanh", "transpose",
    "unsqueeze", "var", "where",
]


def _reflected(op):
    def reflected(self, other):
        return op(other, self)
    reflected.__name__ = f"r{op.__name__}"
    return reflected


def _transpose_method(self, *dims):
    """``x.transpose()`` reverses the axes; ``x.transpose(0, 1)`` swaps two (PyTorch); more permute (NumPy)."""
    if not dims:
        return transpose(self)
    if len(dims) == 2 and all(isinstance(d, int) for d in dims):
        return swapaxes(self, *dims)
    return permute(self, *dims)


def _attach_methods():
    """Bind the ops as Tensor operators and methods: ``x + y`` is ``add(x, y)``."""
    methods = {
        "__add__": add, "__radd__": _reflected(add), "__sub__": subtract,
        "__rsub__": _reflected(subtract), "__mul__": multiply, "__rmul__": _reflected(multiply),
        "__truediv__": divide, "__rtruediv__": _reflected(divide), "__pow__": power,
        "__rpow__": _reflected(power), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
        "__neg__": negative, "__abs__": abs, "__getitem__": index,
        "__eq__": equal, "__ne__": not_equal, "__lt__": less, "__le__": less_equal,
        "__gt__": greater, "__ge__": greater_equal, "__and__": logical_and,
        "__or__": logical_or, "__invert__": logical_not,
        "exp": exp, "log": log, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid,
        "relu": relu, "abs": abs, "sqrt": sqrt, "square": square, "clip": clip, "clamp": clip,
        "maximum": maximum, "minimum": minimum,
        "sum": sum, "mean": mean, "max": max, "min": min, "var": var, "logsumexp": logsumexp,
        "softmax": softmax, "log_softmax": log_softmax, "argmax": argmax, "argmin": argmin,
        "matmul": matmul, "reshape": reshape, "view": reshape, "transpose": _transpose_method,
        "permute": permute, "swapaxes": swapaxes, "broadcast_to": broadcast_to,
        "expand": broadcast_to, "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten,
        "astype": astype,
    }
    for name, op in methods.items():
        setattr(Tensor, name, op)
    Tensor.T = property(lambda self: transpose(self), doc="The tensor with its axes reversed.")


_attach_methods()
