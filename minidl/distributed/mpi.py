"""The "mpi" backend: collectives through mpi4py's buffer interface, for tensors on any device.

Host arrays go to MPI as buffers (``Allreduce``/``Iallreduce``/``Bcast`` with ``MPI.IN_PLACE``):
nothing is pickled on the hot path. A tensor whose memory MPI cannot take directly (a GPU
array, a strided view, a read-only array) is staged through a contiguous host copy and written
back when the collective completes. Importing this module initialises MPI (mpi4py does on import).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from mpi4py import MPI

from ..tensor import Tensor
from .work import ReduceOp, Work

_OPS = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX}
# MPI's arithmetic ops are undefined on booleans; PyTorch reduces them as logical or (sum, max) and and
_BOOL_OPS = {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND}


class MPIGroup:
    """All the ranks ``mpiexec`` started, on a private duplicate of ``MPI.COMM_WORLD``.

    The duplicate keeps minidl's messages apart from any the program exchanges on
    ``COMM_WORLD`` itself.
    """

    name = "mpi"

    def __init__(self):
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks sharing this machine's memory
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()

    def all_reduce(self, t: Tensor, op: str, async_op: bool) -> Work:
        buf, write_back = host_buffer(t)
        mpi_op = (_BOOL_OPS if t.dtype.kind == "b" else _OPS)[op]

        def finish():
            nonlocal buf
            if op == ReduceOp.AVG:
                buf /= self.size  # in place: buf is the array MPI reduced into
            if write_back is not None:
                write_back()

        if async_op:
            return Work(self.comm.Iallreduce(MPI.IN_PLACE, buf, mpi_op), finish)
        self.comm.Allreduce(MPI.IN_PLACE, buf, mpi_op)
        return Work(None, finish)

    def broadcast(self, t: Tensor, src: int, async_op: bool) -> Work:
        buf, write_back = host_buffer(t)
        if async_op:
            return Work(self.comm.Ibcast(buf, root=src), write_back)
        self.comm.Bcast(buf, root=src)
        return Work(None, write_back)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        """End every rank of the job at once (``MPI_Abort``; ``mpiexec`` then exits non-zero)."""
        MPI.COMM_WORLD.Abort(code)

    def close(self) -> None:
        self.comm.Free()


def host_buffer(t: Tensor) -> tuple[Any, Optional[Callable[[], None]]]:
    """A writable C-contiguous host array with ``t``'s values, and how to write it back into ``t``.

    The second item is None when the array is ``t``'s own memory (a contiguous CPU tensor):
    MPI then reduces straight into the tensor, with no copy.
    """
    array = t.data
    if _is_host_buffer(array):
        return array, None
    host = t.backend.to_host(array)
    if host is array or not _is_host_buffer(host):
        host = host.copy()  # a C-contiguous, writable copy
    return host, lambda: _write_back(t, host)


def _is_host_buffer(array: Any) -> bool:
    try:
        view = memoryview(array)
    except TypeError:  # not host memory (a GPU array)
        return False
    return view.c_contiguous and not view.readonly


def _write_back(t: Tensor, host: Any) -> None:
    array = t.data
    value = t.backend.asarray(host, device=t.device)
    if getattr(getattr(array, "flags", None), "writeable", True):
        array[...] = value
    else:  # an array scalar or a read-only array: the tensor gets a new array
        t.data = value.reshape(array.shape)
