"""ResNet-8: a small residual network for 28x28 and 8x8 images, laid out as torchvision's ResNet."""
from collections import OrderedDict

from .. import nn
from .registry import register


def _conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to the input (or to its 1x1-convolved projection
    ``downsample`` when the stride or the width changes), then ReLU: torchvision's BasicBlock."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet8(nn.Sequential):
    """conv3x3-BN-ReLU stem, three stages of one BasicBlock each (stride 1, 2, 2), global average pooling,
    Linear. A Sequential with torchvision's child names, so state_dict keys are torchvision's ResNet keys
    (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``; there is no max pooling
    after the stem, as in the CIFAR ResNets) and ``nn.checkpoint_sequential`` can cut it between stages.
    77,754 parameters on 1x28x28 with 10 classes (widths 16, 32, 64)."""

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, widths=(16, 32, 64)):
        channels = input_shape[0]
        stages, width = [], widths[0]
        for i, out in enumerate(widths):
            stages.append((f"layer{i + 1}", nn.Sequential(BasicBlock(width, out, stride=1 if i == 0 else 2))))
            width = out
        super().__init__(OrderedDict([
            ("conv1", _conv3x3(channels, widths[0])), ("bn1", nn.BatchNorm2d(widths[0])), ("relu", nn.ReLU()),
            *stages,
            ("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(width, num_classes)),
        ]))
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


@register("resnet8", defaults={"lr": 0.05, "weight_decay": 5e-4, "lr_schedule": "cosine"},
          mnist={"epochs": 3}, fashion_mnist={"epochs": 3})
def resnet8(input_shape=(1, 28, 28), num_classes=10, widths=(16, 32, 64)) -> ResNet8:
    """ResNet-8 (see ``ResNet8``): 77,754 parameters on 1x28x28."""
    return ResNet8(input_shape, num_classes, widths)
