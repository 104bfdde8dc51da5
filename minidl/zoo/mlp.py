"""Fully connected models: softmax regression and multi-layer perceptrons."""
import math

from .. import nn
from .registry import register


def _features(input_shape):
    return math.prod(input_shape)


@register("logreg")
def logreg(input_shape=(1, 28, 28), num_classes=10):
    """Softmax regression: Flatten -> Linear. 7,850 parameters for 1x28x28 inputs and 10 classes."""
    return nn.Sequential(nn.Flatten(), nn.Linear(_features(input_shape), num_classes))


@register("mlp")
def mlp(input_shape=(1, 28, 28), num_classes=10, hidden=256):
    """The classic two-layer network: Flatten -> Linear -> Sigmoid -> Linear (784-256-10: 203,530 parameters)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(_features(input_shape), hidden), nn.Sigmoid(),
                         nn.Linear(hidden, num_classes))


@register("mlp-deep")
def mlp_deep(input_shape=(1, 28, 28), num_classes=10, hidden=(512, 256), dropout=0.2, batch_norm=False):
    """[Linear -> (BatchNorm1d) -> ReLU -> Dropout] per hidden size, then Linear (784-512-256-10: 535,818 parameters)."""
    layers, width = [nn.Flatten()], _features(input_shape)
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers += [nn.ReLU(), nn.Dropout(dropout)] if dropout else [nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
