"""Process groups and collectives with torch.distributed's names: ``import minidl.distributed as dist``.

Launch N processes with ``mpiexec -n N python script.py``; in each, ``dist.init_process_group("mpi")``
(mpi4py, any device) or ``"nccl"`` (CuPy's NCCL, CUDA tensors). This package is the only part of
minidl that imports mpi4py or NCCL, and it imports them only when a group is initialized.
``pip install "minidl[mpi]"`` installs mpi4py and an MPI implementation (MPICH) from PyPI.
"""
from .process_group import (all_reduce, barrier, broadcast, destroy_process_group, get_backend, get_node_local_rank,
                            get_rank, get_world_size, init_process_group, is_initialized)
from .work import ReduceOp, Work

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "get_rank", "get_world_size",
           "get_node_local_rank", "get_backend", "all_reduce", "broadcast", "barrier", "ReduceOp", "Work"]
