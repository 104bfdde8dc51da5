"""The "nccl" backend: collectives on CUDA tensors through CuPy's NCCL bindings.

Untested: the machine this was written on has no GPU. It uses only CuPy's documented
``cupy.cuda.nccl`` API (``get_unique_id``, ``NcclCommunicator(ndev, commId, rank)``,
``allReduce``, ``bcast``). MPI starts the ranks and carries the one-time set-up (the NCCL unique
id, each rank's GPU), so ``mpi4py`` is needed here too. Each rank drives one GPU: the one whose
index is its rank on its node. Collectives are queued on the current CUDA stream, so GPU work
issued after them sees their result without the host waiting.
"""
from __future__ import annotations

from typing import Any

from .. import backends
from ..tensor import Tensor
from .mpi import MPIGroup
from .work import ReduceOp, Work

class NCCLGroup:
    """One rank per GPU; NCCL moves the data, MPI (``MPIGroup``) sets the group up."""

    name = "nccl"

    def __init__(self):
        self.backend = backends.get("cupy")
        self.backend.check_available("cuda")  # says what is missing: CuPy, or a working driver and GPU
        self.bootstrap = MPIGroup()
        try:
            self._connect(self.backend.xp)
        except BaseException:
            self.bootstrap.close()
            raise

    def _connect(self, cupy: Any) -> None:
        """Pick this rank's GPU, share rank 0's NCCL id over MPI, and open the NCCL communicator."""
        self.rank, self.size = self.bootstrap.rank, self.bootstrap.size
        self.local_rank, self.local_size = self.bootstrap.local_rank, self.bootstrap.local_size
        self.cupy, self.device = cupy, f"cuda:{self.bootstrap.local_rank}"
        count = cupy.cuda.runtime.getDeviceCount()
        if self.local_size > count:
            raise RuntimeError(f"init_process_group('nccl'): {self.local_size} ranks on this node but {count} "
                               "GPU(s); NCCL needs one GPU per rank: start at most one rank per GPU")
        self.nccl = self.backend.nccl()
        cupy.cuda.Device(self.local_rank).use()
        unique_id = self.nccl.get_unique_id() if self.rank == 0 else None
        unique_id = self.bootstrap.comm.bcast(unique_id, root=0)  # pickled once, at set-up only
        self.comm = self.nccl.NcclCommunicator(self.size, unique_id, self.rank)
        self._types = {name: getattr(self.nccl, f"NCCL_{name.upper()}") for name in
                       ("int8", "uint8", "int32", "uint32", "int64", "uint64", "float16", "float32", "float64")}
        self._ops = {ReduceOp.SUM: self.nccl.NCCL_SUM, ReduceOp.AVG: self.nccl.NCCL_SUM,
                     ReduceOp.PRODUCT: self.nccl.NCCL_PROD, ReduceOp.MIN: self.nccl.NCCL_MIN,
                     ReduceOp.MAX: self.nccl.NCCL_MAX}

    def all_reduce(self, t: Tensor, op: str, async_op: bool) -> Work:
        buf, write_back = self._buffer(t, "all_reduce")
        nccl_op = self._ops[op]
        if buf.dtype.kind == "b":  # NCCL has no booleans: bytes, reduced by max (or) and min (and)
            buf = buf.view("uint8")
            nccl_op = self.nccl.NCCL_MAX if op in (ReduceOp.SUM, ReduceOp.MAX) else self.nccl.NCCL_MIN
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._type(buf), nccl_op, self._stream())
        if op == ReduceOp.AVG:
            buf /= self.size  # queued on the same stream, after the sum
        if write_back is not None:
            write_back()
        return Work()

    def broadcast(self, t: Tensor, src: int, async_op: bool) -> Work:
        buf, write_back = self._buffer(t, "broadcast")
        self.comm.bcast(buf.data.ptr, buf.size, self._type(buf), src, self._stream())
        if write_back is not None:
            write_back()
        return Work()

    def barrier(self) -> None:
        self.cupy.cuda.get_current_stream().synchronize()
        self.bootstrap.barrier()

    def abort(self, code: int) -> None:
        self.bootstrap.abort(code)

    def close(self) -> None:
        self.comm.destroy()
        self.bootstrap.close()

    def _buffer(self, t: Tensor, what: str) -> tuple:
        """A contiguous array on this rank's GPU with ``t``'s values, and how to write it back (None: it is t's own)."""
        if t.device != self.device:
            raise RuntimeError(f"{what}: the nccl backend reduces tensors on this rank's GPU ({self.device}); this "
                               f"tensor is on {t.device}: move it with .to({self.device!r}), or use backend='mpi'")
        array = t.data
        if self.backend.is_row_major(array):
            return array, None
        buf = self.cupy.ascontiguousarray(array)
        return buf, lambda: array.__setitem__(Ellipsis, buf)

    def _type(self, buf: Any) -> int:
        try:
            return self._types[buf.dtype.name]
        except KeyError:
            raise TypeError(f"the nccl backend cannot reduce {buf.dtype} tensors; NCCL takes "
                            f"{sorted(self._types)}") from None

    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr
