"""DataLoader: PyTorch's batching of map-style datasets, with a fast path for data held in arrays.

Batches of a dataset whose samples are rows of arrays (a tuple of arrays, a TensorDataset, an
ImageDataset, or a Subset of one) are cut with one fancy index per array; any other dataset is
read sample by sample and collated as PyTorch's ``default_collate`` does. Shuffling is seeded:
with ``seed``, epoch e uses the permutation seeded by ``(seed, e)`` (``set_epoch`` resumes it);
without, each epoch draws a seed from minidl's generator (repeatable after ``manual_seed``).

``num_workers > 0`` reads samples in that many threads, a few batches ahead, and yields the
batches in order, so the batches are identical to ``num_workers=0`` for any dataset whose
``__getitem__`` is deterministic (threads, not processes: it pays where reading releases the
GIL, such as file I/O and NumPy; the array fast path needs no workers and ignores them).
"""
import collections
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import ops
from ..creation import as_tensor
from ..tensor import Tensor
from .dataset import Subset, TensorDataset, draw_seed

__all__ = ["DataLoader", "default_collate", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    """Base of the index orders a DataLoader draws from: ``iter()`` gives indices, ``len()`` their count."""

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def order(self):
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(self.order().tolist())

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation per epoch: seeded by ``(seed, epoch)``, or by a draw from minidl's generator."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None, seed=None):
        if replacement or num_samples is not None:
            raise NotImplementedError("RandomSampler: replacement and num_samples are not supported by minidl")
        _refuse_generator(generator)
        self.data_source, self.seed, self.epoch = data_source, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def order(self):
        """This epoch's permutation (and the next call gives the next epoch's)."""
        seed = draw_seed() if self.seed is None else [self.seed, self.epoch]
        self.epoch += 1
        return np.random.default_rng(seed).permutation(len(self.data_source))

    def __iter__(self):
        return iter(self.order().tolist())

    def __len__(self):
        return len(self.data_source)


class SubsetRandomSampler(RandomSampler):
    """The given ``indices`` in a fresh random order each epoch."""

    def __init__(self, indices, generator=None, seed=None):
        super().__init__(indices, generator=generator, seed=seed)
        self.indices = indices

    def order(self):
        return np.asarray(self.indices)[super().order()]


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def index_arrays(self):
        """The batches as index arrays: slices of one order array where the sampler gives one (no Python lists)."""
        if hasattr(self.sampler, "order"):
            order = self.sampler.order()
        else:
            order = np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start:start + self.batch_size]

    def __iter__(self):
        return (batch.tolist() for batch in self.index_arrays())

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _refuse_generator(generator):
    if generator is not None:
        raise TypeError("minidl's samplers take seed= (an int) instead of a generator")


def default_collate(batch):
    """PyTorch's default collation: samples of arrays, Tensors or numbers become batched Tensors, recursively
    through tuples (returned as lists), lists, dicts and named tuples; strings stay lists."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return ops.stack(batch)
    if isinstance(elem, np.ndarray) and elem.dtype.kind not in "OUS":
        return as_tensor(np.stack(batch))
    if isinstance(elem, (np.number, np.bool_, bool, int, float)):
        return as_tensor(np.asarray(batch))  # Python floats stay float64 and ints int64, as PyTorch
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: a batch must contain Tensors, NumPy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def _columns(dataset):
    """``(arrays, index map or None)`` when the samples of ``dataset`` are rows of arrays, else None."""
    if isinstance(dataset, Subset):
        inner = _columns(dataset.dataset)
        if inner is None:
            return None
        arrays, mapping = inner
        indices = np.asarray(dataset.indices)
        return arrays, indices if mapping is None else mapping[indices]
    if isinstance(dataset, TensorDataset):
        return dataset.tensors, None
    if hasattr(dataset, "inputs") and hasattr(dataset, "targets"):
        return (dataset.inputs, dataset.targets), None
    return None


def _is_arrays(obj):
    return isinstance(obj, tuple) and obj and all(hasattr(a, "shape") and len(a.shape) >= 1 for a in obj)


class DataLoader:
    """Iterate batches of ``dataset`` (a map-style dataset, or a tuple of equally long arrays) as Tensors on
    ``device`` (float arrays cast to ``dtype`` if given). PyTorch's arguments; see the module docstring."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", seed=None, device="cpu", dtype=None):
        _refuse_generator(generator)
        if _is_arrays(dataset):
            arrays = tuple(a if isinstance(a, Tensor) else np.asarray(a) for a in dataset)
            if len({len(a) for a in arrays}) != 1:
                raise ValueError(f"DataLoader: arrays of different lengths {[len(a) for a in arrays]}")
            dataset = TensorDataset(*arrays)
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader needs a map-style dataset (__len__ and __getitem__) or a tuple of arrays, "
                            f"got {type(dataset).__name__}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("prefetch_factor needs num_workers > 0")
        if batch_size is None:
            raise NotImplementedError("batch_size=None (no automatic batching) is not supported by minidl")
        if sampler is not None and shuffle:
            raise ValueError("sampler and shuffle=True are mutually exclusive")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last")
            batch_size = None
        else:
            if sampler is None:
                sampler = RandomSampler(dataset, seed=seed) if shuffle else SequentialSampler(dataset)
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.num_workers = sampler, batch_sampler, num_workers
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor or 2
        self.seed, self.device, self.dtype = seed, device, dtype
        self._columns = _columns(dataset) if collate_fn is None else None

    def set_epoch(self, epoch):
        """Choose the epoch whose shuffle the next iteration uses (with ``seed``: resumes a run exactly)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        if self._columns is not None:
            return self._array_batches()
        return self._sample_batches()

    def _index_batches(self):
        if hasattr(self.batch_sampler, "index_arrays"):
            return self.batch_sampler.index_arrays()
        return (np.asarray(batch, dtype=np.int64) for batch in self.batch_sampler)

    def _array_batches(self):
        arrays, mapping = self._columns
        for index in self._index_batches():
            rows = index if mapping is None else mapping[index]
            yield [self._to_device(_take(a, rows)) for a in arrays]

    def _sample_batches(self):
        def fetch(index):
            return self._move(self.collate_fn([self.dataset[i] for i in index.tolist()]))

        if self.num_workers == 0:
            yield from map(fetch, self._index_batches())
            return
        ids = iter(range(self.num_workers))
        init = None if self.worker_init_fn is None else (lambda: self.worker_init_fn(next(ids)))
        with ThreadPoolExecutor(self.num_workers, thread_name_prefix="minidl-loader", initializer=init) as pool:
            pending = collections.deque()
            for index in self._index_batches():
                pending.append(pool.submit(fetch, index))
                if len(pending) > self.num_workers * self.prefetch_factor:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _to_device(self, batch):
        dtype = self.dtype if self.dtype is not None and batch.dtype.kind == "f" else None
        return as_tensor(batch, dtype=dtype, device=self.device)  # batches are fresh: no second copy

    def _move(self, batch):
        """The Tensors inside a collated batch moved to ``device`` (float ones cast to ``dtype``)."""
        if self.device == "cpu" and self.dtype is None:
            return batch
        if isinstance(batch, Tensor):
            return self._to_device(batch)
        if isinstance(batch, Mapping):
            return {k: self._move(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)) and not isinstance(batch, (str, bytes)):
            moved = [self._move(v) for v in batch]
            return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
        return batch


def _take(column, rows):
    """Rows of an array or Tensor as a new batch (a Tensor's rows are copied outside the record)."""
    if isinstance(column, Tensor):
        return Tensor(column.data[rows], column.device)
    return column[rows]
