"""DistributedSampler: each rank's share of a dataset's indices, with PyTorch's semantics."""
from __future__ import annotations

import math
from typing import Iterator, Optional

import numpy as np



class DistributedSampler:
    """The indices rank ``rank`` of ``num_replicas`` reads in each epoch (PyTorch's ``DistributedSampler``).

    Every rank draws the same permutation (seeded by ``seed`` and the epoch: call ``set_epoch(e)``
    at the start of each epoch, or every epoch repeats the first's order) and takes every
    ``num_replicas``-th index from position ``rank``. So that all ranks take the same number of
    steps, the indices are padded by repeating the first ones up to a multiple of ``num_replicas``
    (some samples are seen twice per epoch), or with ``drop_last`` the tail is dropped instead.
    ``num_replicas`` and ``rank`` default to the default process group's.
    """

    def __init__(self, dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            # the defaults come from the process group, a layer above data/: looked up only when needed
            from .. import distributed as dist
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}; it should be in [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)  # the largest share all ranks can have
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:  # pad by repeating from the start (several times over if the dataset is tiny)
            order = np.resize(order, self.total_size)
        order = order[self.rank:self.total_size:self.num_replicas]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose permutation the next iteration uses (the same on every rank)."""
        self.epoch = epoch
