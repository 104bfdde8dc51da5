"""Named model architectures: ``zoo.create("lenet5", input_shape=(1, 28, 28), num_classes=10)``.

Every model takes ``input_shape`` (C, H, W) and ``num_classes``, so every dataset fits every model.
"""
from .pretrained import Weights, WeightsError
from .registry import create, list_models, register, training_defaults, weights
from . import lenet, mlp, resnet, vit  # noqa: E402,F401 - registers the models

__all__ = ["create", "list_models", "register", "training_defaults", "weights", "Weights", "WeightsError"]
