"""DataLoader: shuffled (seeded, per epoch) mini-batches of host arrays, handed to a device once per batch."""
import math

import numpy as np

from ..creation import as_tensor


class DataLoader:
    """Iterate ``(inputs, targets)`` batches as Tensors on ``device``.

    ``dataset_or_arrays`` is an ImageDataset (anything with ``inputs`` and ``targets``)
    or a tuple of equally long arrays. With ``shuffle``, epoch e uses the
    permutation seeded by ``(seed, e)``, so a resumed run (``set_epoch``) sees
    exactly the batches an uninterrupted one would.
    """

    def __init__(self, dataset_or_arrays, batch_size=1, shuffle=False, seed=0, drop_last=False,
                 device="cpu", dtype=None):
        if hasattr(dataset_or_arrays, "inputs"):
            arrays = (dataset_or_arrays.inputs, dataset_or_arrays.targets)
        else:
            arrays = tuple(np.asarray(a) for a in dataset_or_arrays)
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"DataLoader: arrays of different lengths {[len(a) for a in arrays]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.arrays, self.batch_size, self.shuffle = arrays, batch_size, shuffle
        self.seed, self.drop_last, self.device, self.dtype = seed, drop_last, device, dtype
        self.epoch = 0

    def set_epoch(self, epoch):
        """Choose the epoch whose shuffle the next iteration uses."""
        self.epoch = epoch

    def __len__(self):
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.arrays[0])
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        self.epoch += 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            yield tuple(self._to_device(a[index]) for a in self.arrays)

    def _to_device(self, batch):
        dtype = self.dtype if self.dtype is not None and batch.dtype.kind == "f" else None
        return as_tensor(batch, dtype=dtype, device=self.device)  # batches are fresh: no second copy
