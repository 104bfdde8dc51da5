"""The nn operations as functions (``import minidl.nn.functional as F``), PyTorch's names and semantics.

Each is composed of minidl's differentiable ops, so its gradient, and the gradient
of its gradient, come from the ops' VJPs. Losses live in ``loss_functions.py`` and
the attention module in ``attention.py``; the losses are re-exported here.
"""
import math
import warnings

from .. import ops
from ..creation import arange, ones_like, rand
from ..ops import linear, sigmoid, tanh  # noqa: F401 - re-exported
from ..ops.linalg import check_same_dtype
from .arguments import check_probability, pair, single
from .loss_functions import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                             l1_loss, mse_loss, nll_loss)

__all__ = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "gelu", "silu", "elu",
           "softplus", "dropout", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "batch_norm", "layer_norm", "group_norm", "embedding", "cross_entropy", "nll_loss", "mse_loss",
           "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "flatten", "pad", "one_hot",
           "scaled_dot_product_attention"]


def flatten(x, start_dim=1, end_dim=-1):
    return ops.flatten(x, start_dim, end_dim)


def pad(input, pad, mode="constant", value=None):  # noqa: A002 - PyTorch's argument names
    """PyTorch's ``F.pad``: ``pad`` lists (before, after) pairs from the last dimension backwards."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode={mode!r} is not supported by minidl (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > input.ndim or any(p < 0 for p in pad):
        raise ValueError(f"pad: {tuple(pad)} is not a list of non-negative (before, after) pairs for an input of "
                         f"{input.ndim} dimensions")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return ops.pad(input, tuple(widths), 0 if value is None else value)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot rows of the class indices in ``tensor`` (any shape); ``num_classes=-1``: max + 1."""
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: class indices must be integers, got {tensor.dtype}")
    count = int(tensor.max()) + 1 if num_classes == -1 else num_classes
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= count):
        raise ValueError(f"one_hot: class values must be in [0, {count}), got {int(tensor.min())}..{int(tensor.max())}")
    return (ops.unsqueeze(tensor, -1) == arange(count, device=tensor.device)).astype("int64")


def _result(x, out, inplace):
    """``out``, written into ``x`` when ``inplace`` (PyTorch's ``inplace=True``: same values, same tensor)."""
    return x.copy_(out) if inplace else out


# -- activations ----------------------------------------------------------------------

def relu(input, inplace=False):  # noqa: A002 - PyTorch's argument name
    return _result(input, ops.relu(input), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x where x > 0, else negative_slope * x (at 0 the slope is negative_slope, as PyTorch's gradient)."""
    return _result(input, ops.where(input > 0, input, input * negative_slope), inplace)


def gelu(input, approximate="none"):  # noqa: A002
    """x * Phi(x) (exact, through erf), or PyTorch's tanh approximation with ``approximate="tanh"``."""
    if approximate == "none":
        return input * 0.5 * (1 + ops.erf(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return input * 0.5 * (1 + ops.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x) (also called swish)."""
    return _result(input, input * ops.sigmoid(input), inplace)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x where x > 0, else alpha * (exp(x) - 1); exp only sees x <= 0, so large x cannot overflow."""
    negative = alpha * (ops.exp(ops.clip(input, None, 0)) - 1)
    return _result(input, ops.where(input > 0, input, negative), inplace)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold (as PyTorch), computed stably as
    relu(z) + log(1 + exp(-|z|))."""
    z = input * beta
    smooth = (ops.relu(z) + ops.log(1 + ops.exp(-ops.abs(z)))) / beta
    return ops.where(z > threshold, input, smooth)


def _softmax_dim(x, dim, name):
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated; pass dim=", UserWarning, stacklevel=3)
    return 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy choice


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim`` (without ``dim``, PyTorch's legacy choice, with its warning)."""
    x = input if dtype is None else input.astype(dtype)
    return ops.softmax(x, _softmax_dim(x, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """log(softmax(x)) along ``dim``, computed stably."""
    x = input if dtype is None else input.astype(dtype)
    return ops.log_softmax(x, _softmax_dim(x, dim, "log_softmax"))


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when not training."""
    check_probability("dropout", p)
    if not training or p == 0:
        return input
    if p == 1:
        return _result(input, input * 0, inplace)
    keep = rand(input.shape, dtype=input.dtype, device=input.device) >= p
    return _result(input, input * keep.astype(input.dtype) * (1.0 / (1.0 - p)), inplace)


# -- convolution and pooling ---------------------------------------------------------------

def _check_input(name, x, ndim, layout, channels=None):
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected input of shape {layout}, got {x.shape}")
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


def _same_padding(x, kernel, stride):
    """``x`` padded as PyTorch's ``padding="same"`` (the extra one at the end for an even kernel)."""
    if any(s != 1 for s in pair(stride)):
        raise ValueError("padding='same' is not supported for strided convolutions")
    widths = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel]
    return ops.pad(x, ((0, 0), (0, 0), *widths))


def conv2d(input, weight, bias=None, stride=1, padding=0):  # noqa: A002
    """2-D cross-correlation as PyTorch: x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW).

    One matrix product over the input's windows (ops/convolution.py). ``padding`` may be "valid" or "same".
    """
    _check_input("conv2d", input, 4, "(N, C, H, W)", weight.shape[1])
    check_same_dtype("conv2d", input, weight, bias)  # as linear: a float32 layer fed float64 data raises
    if padding == "same":
        input, padding = _same_padding(input, weight.shape[2:], stride), 0
    elif padding == "valid":
        padding = 0
    out = ops.conv2d(input, weight, pair(stride), pair(padding))
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def conv1d(input, weight, bias=None, stride=1, padding=0):  # noqa: A002
    """1-D cross-correlation: x (N, C, L), weight (O, C, k) -> (N, O, L_out), as a conv2d of height 1."""
    _check_input("conv1d", input, 3, "(N, C, L)", weight.shape[1])
    check_same_dtype("conv1d", input, weight, bias)
    (s,) = single(stride)
    padding = padding if isinstance(padding, str) else (0, single(padding)[0])
    out = conv2d(ops.unsqueeze(input, 2), ops.unsqueeze(weight, 2), bias, s, padding)
    return ops.squeeze(out, 2)


def _pool(reduce, x, kernel_size, stride, padding, fill):
    """``reduce`` over each window: windows (C, kh*kw, N, OH, OW) reduced along one contiguous axis."""
    cols = _windows(x, kernel_size, kernel_size if stride is None else stride, padding, fill)
    c, kh, kw, n, oh, ow = cols.shape
    return reduce(cols.reshape(c, kh * kw, n, oh, ow), axis=1).permute(1, 0, 2, 3)


def max_pool2d(input, kernel_size, stride=None, padding=0):  # noqa: A002
    """Maximum over each window (padding is -inf, as PyTorch); the gradient goes to the first maximal element."""
    _check_input("max_pool2d", input, 4, "(N, C, H, W)")
    kernel, stride = pair(kernel_size), pair(kernel_size if stride is None else stride)
    ph, pw = pair(padding)
    if ph or pw:
        input = ops.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)), -math.inf)
    return ops.max_pool2d(input, kernel, stride)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):  # noqa: A002
    """Mean over each window; with ``count_include_pad=False`` the zero padding is left out of each mean."""
    _check_input("avg_pool2d", input, 4, "(N, C, H, W)")
    out = _pool(ops.mean, input, kernel_size, stride, padding, 0.0)
    if count_include_pad or not any(pair(padding)):
        return out
    inside = _pool(ops.mean, ones_like(input[:1, :1]), kernel_size, stride, padding, 0.0)
    return out / inside  # the fraction of each window that lies inside the input


def _bin_matrix(size, bins, like):
    """(bins, size) averaging matrix of adaptive pooling: row i averages [floor(i*size/bins), ceil((i+1)*size/bins))."""
    rows = arange(bins, device=like.device).reshape(bins, 1)
    cols = arange(size, device=like.device).reshape(1, size)
    start, end = (rows * size) // bins, ((rows + 1) * size + bins - 1) // bins
    inside = ((cols >= start) & (cols < end)).astype(like.dtype)
    return inside / (end - start).astype(like.dtype)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed (OH, OW) with PyTorch's bin edges, also when the size does not divide.

    Each output is the mean of its bin: two small averaging matrices, P_h @ x @ P_w.T.
    ``None`` in ``output_size`` keeps that input size.
    """
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")
    h, w = input.shape[-2:]
    oh, ow = (h if o is None else o for o in pair(output_size))
    if oh <= 0 or ow <= 0:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    out = ops.matmul(_bin_matrix(h, oh, input), input)
    return ops.matmul(out, _bin_matrix(w, ow, input).T)


# -- normalisation ---------------------------------------------------------------------

def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,  # noqa: A002
               eps=1e-5):
    """Normalise over the batch (and spatial) axes, per channel (axis 1), as PyTorch.

    In training the batch statistics are used and the running ones updated in
    place (the variance with Bessel's correction); in evaluation the running ones are used.
    """
    x = input
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
    return _affine((x - mean) / ops.sqrt(var + eps), weight, bias, shape)


def _affine(out, weight, bias, shape):
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _standardize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` (the biased variance, as the norm layers use)."""
    mean = ops.mean(x, axis=axes, keepdims=True)
    var = ops.var(x, axis=axes, keepdims=True)
    return (x - mean) / ops.sqrt(var + eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the last ``len(normalized_shape)`` axes of each sample."""
    normalized_shape = single(normalized_shape)
    if tuple(input.shape[-len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end with {normalized_shape}")
    out = _standardize(input, tuple(range(input.ndim - len(normalized_shape), input.ndim)), eps)
    return _affine(out, weight, bias, normalized_shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise each sample over groups of channels (and the spatial axes): input (N, C, *)."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(f"group_norm: input of shape {input.shape} does not split into {num_groups} channel groups")
    n = input.shape[0]
    out = _standardize(input.reshape(n, num_groups, -1), 2, eps).reshape(input.shape)
    return _affine(out, weight, bias, (1, -1) + (1,) * (input.ndim - 2))


# -- lookup ----------------------------------------------------------------------------

def embedding(input, weight, padding_idx=None):  # noqa: A002
    """Rows of ``weight`` at the integer indices ``input`` (any shape); the row ``padding_idx`` gets no gradient."""
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {input.dtype}")
    num = weight.shape[0]
    if input.numel() and (int(input.min()) < 0 or int(input.max()) >= num):
        bad = int(input.min()) if int(input.min()) < 0 else int(input.max())
        raise IndexError(f"embedding: index {bad} is out of range for an embedding of {num} rows")
    out = weight[input]
    if padding_idx is None:
        return out
    keep = ops.unsqueeze(input != padding_idx, -1)
    return ops.where(keep, out, weight.detach()[input])  # the same values; no gradient to the padding row


# -- attention ----------------------------------------------------------------------------

def attention_bias(mask, dtype, masked_when):
    """A boolean mask as an additive float bias (-inf where ``mask == masked_when``); a float mask as it is."""
    if mask.dtype.kind == "b":
        return ops.where(mask == masked_when, -math.inf, 0.0).astype(dtype)
    if mask.dtype.kind != "f":
        raise TypeError(f"attention masks must be boolean or floating point, got {mask.dtype}")
    return mask.astype(dtype)


def attention(q, k, v, bias, dropout_p, training):
    """softmax(q k^T / sqrt(d) + bias) v over the last two axes; returns (output, attention weights)."""
    scores = ops.matmul(q * (1 / math.sqrt(q.shape[-1])), ops.swapaxes(k, -1, -2))
    if bias is not None:
        scores = scores + bias
    weights = ops.softmax(scores, -1)
    if dropout_p and training:
        weights = dropout(weights, dropout_p)
    return ops.matmul(weights, v), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """PyTorch's ``F.scaled_dot_product_attention``: (..., L, E) queries against (..., S, E) keys.

    ``attn_mask``: boolean (True = may attend) or an additive float bias; ``is_causal``: position i
    attends to positions <= i.
    """
    if scale is not None:
        query = query * (scale * math.sqrt(query.shape[-1]))  # attention() divides by sqrt(E)
    bias = None if attn_mask is None else attention_bias(attn_mask, query.dtype, masked_when=False)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        rows = arange(query.shape[-2], device=query.device).reshape(-1, 1)
        causal = rows >= arange(key.shape[-2], device=query.device)
        bias = attention_bias(causal, query.dtype, masked_when=False)
    return attention(query, key, value, bias, dropout_p, True)[0]
