"""The processes of a scripts/train_mnist.py run: one, or the ranks of ``mpiexec -n N ... --distributed``.

The training loop asks the same questions either way (am I the rank that prints and writes? what
is this sum over all ranks? did any rank fail?); with one process the answers are local.

With several ranks, every way out of the run must be taken by all ranks together: a rank that
exits alone leaves the others waiting in a collective forever. So decisions that a single rank
could make differently (a file it cannot read, a signal it received) are first agreed on with an
all-reduce; anything unforeseen on one rank ends the whole job through minidl.distributed, which
calls MPI_Abort on an uncaught exception.
"""
import minidl as mdl
from minidl import data, nn


class Ranks:
    """One process (``distributed=False``), or this rank of the default process group, which it initializes."""

    def __init__(self, distributed: bool):
        self.distributed = distributed
        self.rank, self.size, self.local_rank = 0, 1, 0
        if distributed:
            import minidl.distributed as dist
            dist.init_process_group("mpi")  # ImportError (saying what to install) without mpi4py
            self.rank, self.size = dist.get_rank(), dist.get_world_size()
            self.local_rank = dist.get_node_local_rank()  # the GPU of this rank, one per rank
            self._dist = dist
        self.is_main = self.rank == 0

    def close(self) -> None:
        if self.distributed:
            self._dist.destroy_process_group()

    def sum(self, values: list) -> list:
        """Element-wise sums of ``values`` (numbers) over all ranks, in float64."""
        if self.size == 1:
            return [float(v) for v in values]
        total = mdl.tensor([float(v) for v in values], dtype="float64")
        self._dist.all_reduce(total)
        return total.tolist()

    def share(self, mine: float, summed: list) -> tuple:
        """``(each rank's mine, the sums of summed)`` over all ranks, in one all-reduce (the same everywhere)."""
        slots = [0.0] * self.size
        slots[self.rank] = float(mine)
        values = self.sum(slots + [float(v) for v in summed])
        return values[:self.size], values[self.size:]

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` as it trains: wrapped in DistributedDataParallel when there are several ranks."""
        if not self.distributed:
            return module
        return nn.parallel.DistributedDataParallel(module)

    def train_loader(self, dataset, batch_size: int, seed: int, **kwargs) -> data.DataLoader:
        """Batches of this rank's share of ``dataset`` (``set_epoch`` reshuffles; the same order after a resume)."""
        if not self.distributed:
            return data.DataLoader(dataset, batch_size, shuffle=True, seed=seed, **kwargs)
        sampler = data.DistributedSampler(dataset, num_replicas=self.size, rank=self.rank, shuffle=True, seed=seed)
        return data.DataLoader(dataset, batch_size, sampler=sampler, **kwargs)

    def test_loader(self, dataset, **kwargs) -> data.DataLoader:
        """Batches of this rank's share of the test set: every sample on exactly one rank (no padding)."""
        if self.size > 1:
            dataset = data.Subset(dataset, range(self.rank, len(dataset), self.size))
        return data.DataLoader(dataset, 1000, **kwargs)
