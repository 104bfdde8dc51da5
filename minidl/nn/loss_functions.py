"""Loss functions with PyTorch's options (``F.cross_entropy(weight=, ignore_index=, label_smoothing=)``, ...).

Cross-entropy on plain class targets (no weight, no smoothing, nothing ignored) is one
fused op, the hot path of every classifier's training step; the options go through
log_softmax and a weighted, masked negative log-likelihood composed of ordinary ops.
"""
import math

from .. import ops
from ..creation import arange
from ..ops.nn_kernels import reduce_losses
from .arguments import check_reduction, legacy_reduction

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "TargetError"]


class TargetError(IndexError, ValueError):
    """A class target outside [0, C) that is not ``ignore_index``: an IndexError as PyTorch raises, and a ValueError."""


def _reduce(losses, reduction):
    check_reduction(reduction)
    return reduce_losses(losses, reduction)


def _as_rows(name, input, target, soft_ok=False):
    """``(input (N, C), target (N,) or (N, C), shape of a reduction="none" result or None)`` from PyTorch's
    layouts: (N, C) with (N,), unbatched (C,) with (), and (N, C, d1, ...) with (N, d1, ...); with ``soft_ok``,
    a floating target of the input's shape holds class probabilities."""
    soft = soft_ok and target.dtype.kind == "f" and target.shape == input.shape
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if input.ndim == 0 or not soft and target.shape != expected:
        raise ValueError(f"{name}: expected input (N, C) and target (N,), got {input.shape} and {target.shape}")
    if not soft and target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got {target.dtype}")
    if input.ndim == 2:
        return input, target, None
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1, -1) if soft else target.reshape(1), ()
    return _classes_last(input), _classes_last(target) if soft else target.reshape(-1), expected


def _classes_last(x):
    """(N, C, d1, ...) as rows of C: (N * d1 * ..., C)."""
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def check_targets(name, target, num_classes, ignore_index):
    """Raise TargetError naming a target outside [0, C) other than ``ignore_index``; return whether any target
    is ``ignore_index``. One reduction when all are valid (the usual case, on the hot path)."""
    t = target.data
    if t.size == 0:
        return False
    unsigned = t if t.dtype.kind == "u" else t.view(f"u{t.dtype.itemsize}")  # negatives wrap to huge values
    if int(unsigned.max()) < num_classes:
        return 0 <= ignore_index < num_classes and bool((t == ignore_index).any())
    bad = t[(t != ignore_index) & ((t < 0) | (t >= num_classes))]
    if bad.size:
        raise TargetError(f"{name}: target {int(bad[0])} is out of bounds: classes are 0..{num_classes - 1} "
                          f"(and ignore_index={ignore_index} marks a sample to skip)")
    return True


def _weighted_nll(log_probs, target, weight, ignore_index, reduction, label_smoothing=0.0):
    """-log_probs[i, target[i]] * weight[target[i]], zero where target is ignore_index; "mean" divides by the
    summed weights of the counted samples, as PyTorch. With label smoothing, PyTorch's mixture."""
    valid = target != ignore_index
    safe = ops.where(valid, target, 0)
    mask = valid.astype(log_probs.dtype)
    w = mask if weight is None else weight[safe] * mask
    losses = -log_probs[arange(target.shape[0], device=target.device), safe] * w
    if label_smoothing:
        spread = log_probs if weight is None else log_probs * weight
        smooth = -spread.sum(1) * mask
        losses = (1 - label_smoothing) * losses + (label_smoothing / log_probs.shape[1]) * smooth
    if reduction == "mean":
        # every target ignored: the loss is 0/0 = NaN but the gradient zero, as PyTorch's (a NaN gradient would
        # reach the parameters at the next step): divide by 1 instead, and select a NaN constant as the value.
        # Counted targets whose weights are all zero still give 0/0 in both, as in PyTorch.
        # An ignored row's gradient is a selected 0, not 0 * (1/0).
        empty = valid.sum() == 0
        losses = ops.where(valid, losses, 0)
        return ops.where(empty, float("nan"), losses.sum() / ops.where(empty, 1, w.sum()))
    return _reduce(losses, reduction)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits against class indices (or class probabilities of the input's shape)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0 and 1, got {label_smoothing}")
    logits, target, shape = _as_rows("cross_entropy", input, target, soft_ok=True)
    if target.dtype.kind == "f":
        loss = _soft_cross_entropy(logits, target, weight, reduction, label_smoothing)
    elif not check_targets("cross_entropy", target, logits.shape[1], ignore_index) and weight is None \
            and not label_smoothing:
        loss = ops.cross_entropy(logits, target, reduction=reduction)  # the fused hot path
    else:
        loss = _weighted_nll(ops.log_softmax(logits, 1), target, weight, ignore_index, reduction, label_smoothing)
    return loss if shape is None or reduction != "none" else loss.reshape(shape)


def _soft_cross_entropy(logits, probs, weight, reduction, label_smoothing):
    """-sum_c weight_c * p_c * log softmax(x)_c per sample; "mean" divides by the number of samples."""
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / logits.shape[1]
    terms = ops.log_softmax(logits, 1) * probs
    return _reduce(-(terms if weight is None else terms * weight).sum(1), reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,  # noqa: A002
             reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) at integer targets (N,)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    log_probs, target, shape = _as_rows("nll_loss", input, target)
    ignored = check_targets("nll_loss", target, log_probs.shape[1], ignore_index)
    if weight is None and not ignored:
        loss = _reduce(-log_probs[arange(target.shape[0], device=target.device), target], reduction)
    else:
        loss = _weighted_nll(log_probs, target, weight, ignore_index, reduction)
    return loss if shape is None or reduction != "none" else loss.reshape(shape)


def _check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ValueError(f"{name}: input {input.shape} and target {target.shape} differ in shape")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """Mean squared error."""
    _check_same_shape("mse_loss", input, target)
    return _reduce(ops.square(input - target), legacy_reduction(size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """Mean absolute error (gradient sign(x - y), 0 where they are equal)."""
    _check_same_shape("l1_loss", input, target)
    return _reduce(ops.abs(input - target), legacy_reduction(size_average, reduce, reduction))


_LOG_FLOOR = math.exp(-100)  # PyTorch clamps each log of binary_cross_entropy at -100


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """-(y log p + (1 - y) log(1 - p)) on probabilities p in [0, 1], each log at least -100 (as PyTorch)."""
    _check_same_shape("binary_cross_entropy", input, target)
    p = input.data
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise ValueError("binary_cross_entropy: input values must be probabilities in [0, 1]; for logits use "
                         "binary_cross_entropy_with_logits (BCEWithLogitsLoss)")
    losses = -(target * ops.log(ops.clip(input, _LOG_FLOOR, None))
               + (1 - target) * ops.log(ops.clip(1 - input, _LOG_FLOOR, None)))
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, legacy_reduction(size_average, reduce, reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in the stable form (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = ops.relu(-input) + ops.log(1 + ops.exp(-ops.abs(input)))  # -log sigmoid(x), never overflows
    if pos_weight is None:
        losses = (1 - target) * input + softplus_neg
    else:
        losses = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, legacy_reduction(size_average, reduce, reduction))
