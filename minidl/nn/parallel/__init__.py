"""Data-parallel training across processes: ``nn.parallel.DistributedDataParallel`` (PyTorch's name)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
