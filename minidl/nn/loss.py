"""Loss layers: thin wrappers over nn.functional holding the reduction."""
from . import functional as F
from .arguments import check_reduction
from .module import Module


class _Loss(Module):
    function = None

    def __init__(self, reduction="mean"):
        super().__init__()
        check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        return type(self).function(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of (N, C) logits and (N,) integer targets; gradient (softmax - onehot)/N."""
    function = F.cross_entropy


class NLLLoss(_Loss):
    """Negative log-likelihood of (N, C) log-probabilities (after LogSoftmax)."""
    function = F.nll_loss


class MSELoss(_Loss):
    """Mean squared error."""
    function = F.mse_loss


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, computed stably."""
    function = F.binary_cross_entropy_with_logits
