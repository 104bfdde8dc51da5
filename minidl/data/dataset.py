"""PyTorch's map-style dataset protocol: ``Dataset``, the base of every dataset ``DataLoader`` batches."""
from __future__ import annotations

from typing import Any


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` the i-th ``(input, label)`` (PyTorch's ``Dataset``).

    Subclass it and define ``__len__`` and ``__getitem__``; ``DataLoader`` batches any such object.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")
