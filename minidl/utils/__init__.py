"""PyTorch's ``torch.utils`` paths: ``minidl.utils.data`` is ``minidl.data``, so ``torch.utils.data.DataLoader``
and ``from torch.utils.data import DataLoader`` work after ``import minidl as torch``."""
import sys

from .. import data

sys.modules[__name__ + ".data"] = data  # `import minidl.utils.data` finds the same module object

__all__ = ["data"]
