"""The nn operations as functions (``import minidl.nn.functional as F``), PyTorch's names and semantics.

Each is composed of minidl's differentiable ops, so its gradient, and the gradient
of its gradient, come from the ops' VJPs.
"""
import math

from .. import ops
from ..creation import arange, rand
from ..ops.nn_kernels import reduce_losses
from ..ops import linear, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401 - re-exported
from .arguments import check_reduction, pair

__all__ = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "conv2d",
           "max_pool2d", "avg_pool2d", "batch_norm", "layer_norm", "cross_entropy", "nll_loss",
           "mse_loss", "binary_cross_entropy_with_logits", "flatten"]


def flatten(x, start_dim=1, end_dim=-1):
    return ops.flatten(x, start_dim, end_dim)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when not training."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = rand(x.shape, dtype=x.dtype, device=x.device) >= p
    return x * keep.astype(x.dtype) * (1.0 / (1.0 - p))


def _check_nchw(name, x, channels=None):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W), got {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: input has {x.shape[1]} channels, the weight expects {channels} "
                         f"(input {x.shape})")


def _windows(x, kernel_size, stride, padding, fill=0.0):
    """(C, kh, kw, N, OH, OW) windows of ``x``, padded by ``padding`` with ``fill``."""
    ph, pw = pair(padding)
    if ph or pw:
        x = ops.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), fill)
    kh, kw = pair(kernel_size)
    sh, sw = pair(stride)
    if sh != sw:
        raise ValueError(f"unequal strides {stride} are not supported")
    return ops.im2col(x, kh, kw, sh)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation as PyTorch: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW).

    im2col turns the convolution into one matrix product:
    weight (O, C*kh*kw) @ windows (C*kh*kw, N*OH*OW).
    """
    _check_nchw("conv2d", x, weight.shape[1])
    out_channels = weight.shape[0]
    cols = _windows(x, weight.shape[2:], stride, padding)
    c, kh, kw, n, oh, ow = cols.shape
    out = ops.matmul(weight.reshape(out_channels, -1), cols.reshape(c * kh * kw, n * oh * ow))
    out = out.reshape(out_channels, n, oh, ow).permute(1, 0, 2, 3)
    return out if bias is None else out + bias.reshape(1, out_channels, 1, 1)


def _pool(reduce, x, kernel_size, stride, padding, fill):
    """``reduce`` over each window: windows (C, kh*kw, N, OH, OW) reduced along one contiguous axis."""
    cols = _windows(x, kernel_size, kernel_size if stride is None else stride, padding, fill)
    c, kh, kw, n, oh, ow = cols.shape
    return reduce(cols.reshape(c, kh * kw, n, oh, ow), axis=1).permute(1, 0, 2, 3)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over each window (padding is -inf, as PyTorch); the gradient goes to the maximal element."""
    _check_nchw("max_pool2d", x)
    return _pool(ops.max, x, kernel_size, stride, padding, -math.inf)


def avg_pool2d(x, kernel_size, stride=None):
    """Mean over each window."""
    _check_nchw("avg_pool2d", x)
    return _pool(ops.mean, x, kernel_size, stride, 0, 0.0)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise over the batch (and spatial) axes, per channel (axis 1), as PyTorch.

    In training the batch statistics are used and the running ones updated in
    place (the variance with Bessel's correction); in evaluation the running ones are used.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.var(x, axis=axes, keepdims=True)
        if running_mean is not None:
            n = x.numel() // x.shape[1]
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * mean.data.reshape(-1)
            running_var.data *= 1 - momentum
            running_var.data += momentum * n / max(n - 1, 1) * var.data.reshape(-1)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    out = (x - mean) / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes of each sample."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[-len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with {normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = ops.mean(x, axis=axes, keepdims=True)
    var = ops.var(x, axis=axes, keepdims=True)
    out = (x - mean) / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _check_classification(name, logits, target):
    if logits.ndim != 2 or target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(f"{name}: expected input (N, C) and target (N,), got {logits.shape} and {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got {target.dtype}")


def _reduce(losses, reduction):
    check_reduction(reduction)
    return reduce_losses(losses, reduction)


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of (N, C) logits against (N,) integer targets, as one fused op."""
    _check_classification("cross_entropy", logits, target)
    check_reduction(reduction)
    return ops.cross_entropy(logits, target, reduction=reduction)


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood of (N, C) log-probabilities at (N,) integer targets."""
    _check_classification("nll_loss", log_probs, target)
    rows = arange(target.shape[0], device=target.device)
    return _reduce(-log_probs[rows, target], reduction)


def mse_loss(input, target, reduction="mean"):  # noqa: A002 - PyTorch's argument name
    """Mean squared error."""
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} differ in shape")
    return _reduce(ops.square(input - target), reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid + binary cross-entropy in the stable form max(x, 0) - x*y + log(1 + exp(-|x|))."""
    if logits.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: logits {logits.shape} and target "
                         f"{target.shape} differ in shape")
    losses = ops.relu(logits) - logits * target + ops.log(1 + ops.exp(-ops.abs(logits)))
    return _reduce(losses, reduction)
