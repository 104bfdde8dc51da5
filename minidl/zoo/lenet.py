"""LeNet-5, the convolutional classic, with ReLU and max pooling as in modern re-implementations."""
from .. import nn
from .registry import register


# lr 0.1 diverges with one BLAS thread (issue 10); 0.03 is stable with 1 and 2
@register("lenet5", defaults={"lr": 0.03}, mnist={"epochs": 12, "lr_schedule": "cosine"},
          fashion_mnist={"epochs": 12, "lr_schedule": "cosine"})
def lenet5(input_shape=(1, 28, 28), num_classes=10):
    """conv5(6, pad 2) -> pool -> conv5(16) -> pool -> 120 -> 84 -> classes (61,706 parameters on 1x28x28).

    On small inputs (8x8 digits) the second convolution is 3x3 with padding 1, so
    the feature map never shrinks below 1x1.
    """
    channels, height, width = input_shape
    side = min(height, width) // 2
    k2, p2 = (5, 0) if side >= 10 else (3, 1)
    h = ((height // 2) + 2 * p2 - k2 + 1) // 2
    w = ((width // 2) + 2 * p2 - k2 + 1) // 2
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, k2, padding=p2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * h * w, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))
