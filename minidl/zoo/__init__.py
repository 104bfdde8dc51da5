"""Named model architectures: ``zoo.create("lenet5", input_shape=(1, 28, 28), num_classes=10)``.

Every model takes ``input_shape`` (C, H, W) and ``num_classes``, so every dataset fits every model.
"""
from .registry import create, list_models, register, training_defaults
from . import lenet, mlp  # noqa: E402,F401 - registers the models

__all__ = ["create", "list_models", "register", "training_defaults"]
