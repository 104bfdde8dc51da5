"""Fully connected models: softmax regression and multi-layer perceptrons."""
import math
from collections import OrderedDict

from .. import nn
from .registry import register


def _features(input_shape):
    return math.prod(input_shape)


def flatten_then(*layers: nn.Module) -> nn.Sequential:
    """Flatten, then ``layers`` named "0", "1", ...: the state_dict keys (``0.weight``, ``2.weight``) are those
    of PyTorch's ``nn.Sequential(*layers)`` applied to flattened images, while the model still takes images.
    Children in order are [flatten, 0, 1, ...], so ``model[1]`` is layer "0" and checkpoint_sequential works."""
    return nn.Sequential(OrderedDict([("flatten", nn.Flatten()), *((str(i), m) for i, m in enumerate(layers))]))


@register("logreg", mnist={"epochs": 10, "lr_schedule": "cosine"},
          fashion_mnist={"epochs": 10, "lr_schedule": "cosine"})
def logreg(input_shape=(1, 28, 28), num_classes=10):
    """Softmax regression: Flatten -> Linear (keys ``0.*``). 7,850 parameters for 1x28x28 inputs and 10 classes."""
    return flatten_then(nn.Linear(_features(input_shape), num_classes))


@register("mlp", mnist={"epochs": 30, "lr_schedule": "cosine"}, fashion_mnist={"epochs": 30, "lr_schedule": "cosine"})
def mlp(input_shape=(1, 28, 28), num_classes=10, hidden=256):
    """The classic two-layer network: Flatten -> Linear -> Sigmoid -> Linear (784-256-10: 203,530 parameters;
    keys ``0.*`` and ``2.*`` as PyTorch's ``nn.Sequential(Linear, Sigmoid, Linear)``)."""
    return flatten_then(nn.Linear(_features(input_shape), hidden), nn.Sigmoid(), nn.Linear(hidden, num_classes))


@register("mlp-deep")
def mlp_deep(input_shape=(1, 28, 28), num_classes=10, hidden=(512, 256), dropout=0.2, batch_norm=False):
    """[Linear -> (BatchNorm1d) -> ReLU -> Dropout] per hidden size, then Linear (784-512-256-10: 535,818 parameters)."""
    layers, width = [], _features(input_shape)
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers += [nn.ReLU(), nn.Dropout(dropout)] if dropout else [nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return flatten_then(*layers)
