"""PyTorch's map-style datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``."""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence

import numpy as np

from .. import backends


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` the i-th ``(input, label)`` (PyTorch's ``Dataset``).

    Subclass it and define ``__len__`` and ``__getitem__``; ``DataLoader`` batches any such object.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors (or arrays): ``ds[i] == (t[i] for t in tensors)``."""

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        lengths = [len(t) for t in tensors]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors, first dimensions {lengths}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def draw_seed() -> int:
    """A seed drawn from minidl's CPU generator: repeatable after ``minidl.manual_seed`` (PyTorch draws from
    its global generator the same way when no seed or generator is given)."""
    return int(backends.get("numpy").generator("cpu").integers(0, 2 ** 62))


def random_split(dataset: Any, lengths: Sequence[float], seed: Optional[int] = None) -> List[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``, or of fractions that sum
    to 1 (each floor(n * fraction), the remainder dealt one by one from the first, as PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must be between 0 and 1, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(k, (int, np.integer)) or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, "
                         f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, the dataset has {n} samples")
    order = np.random.default_rng(draw_seed() if seed is None else seed).permutation(n).tolist()
    offsets = np.cumsum([0] + lengths).tolist()
    return [Subset(dataset, order[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
