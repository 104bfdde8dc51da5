"""Activation layers and Dropout."""
from . import functional as F
from .module import Module


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class _AlongDim(Module):
    function = None

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return type(self).function(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    function = F.softmax


class LogSoftmax(_AlongDim):
    function = F.log_softmax


class Dropout(Module):
    """Zeroes elements with probability p while training (seeded by minidl.manual_seed); identity in eval."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
