"""The default process group and its collectives, with torch.distributed's names and semantics.

One group per process: ``init_process_group`` joins every rank ``mpiexec`` started, and the
collectives act on it. They write into the tensor in place (bumping its version counter, so a
value saved for backward and then reduced makes ``backward()`` raise instead of giving a wrong
gradient). They are not recorded: a collective on a tensor made by recorded ops is refused.

With two or more ranks, ``init_process_group`` also makes an uncaught exception on any rank end
the whole job (MPI_Abort) instead of leaving the other ranks waiting forever in a collective.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

from ..backends import DeviceUnavailableError
from ..dtypes import is_floating
from ..tensor import Tensor, mark_written
from .work import ReduceOp, Work, reduce_op

INSTALL_HINT = 'pip install "minidl[mpi]"'
BACKENDS = ("mpi", "nccl")

_group: Any = None            # the default process group: an MPIGroup or NCCLGroup
_previous_excepthook: Any = None


def init_process_group(backend: str = "mpi", *, world_size: int = -1, rank: int = -1) -> None:
    """Join the ranks started by ``mpiexec -n N`` into the default group.

    ``backend`` is "mpi" (mpi4py, tensors on any device) or "nccl" (CuPy's NCCL, CUDA tensors,
    one GPU per rank). MPI decides the ranks; ``world_size`` and ``rank``, when given, are checked
    against it.
    """
    global _group, _previous_excepthook
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized; "
                           "call destroy_process_group() first")
    name = str(backend).lower()
    if name not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; minidl has {list(BACKENDS)}")
    group = _make_group(name)
    for what, asked, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if asked not in (-1, None) and asked != actual:
            group.close()
            raise ValueError(f"init_process_group: {what}={asked}, but MPI gives this process {what} {actual}; "
                             "the launcher decides: start the job with mpiexec -n N and leave them out")
    _group = group
    if group.size > 1:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception


def _make_group(name: str) -> Any:
    try:
        from .mpi import MPIGroup
    except ImportError as err:
        raise ImportError(f"minidl.distributed needs mpi4py and an MPI library (for backend {name!r} too), and "
                          f"they could not be imported ({err}); install both with: {INSTALL_HINT}") from err
    if name == "nccl":
        from .nccl import NCCLGroup
        try:
            return NCCLGroup()
        except DeviceUnavailableError as err:
            raise DeviceUnavailableError(f"init_process_group('nccl') reduces CUDA tensors through CuPy's NCCL: "
                                         f"{err}; for CPU tensors use backend='mpi'") from err
    return MPIGroup()


def destroy_process_group() -> None:
    """Leave the default group (``init_process_group`` may then be called again)."""
    global _group, _previous_excepthook
    group = _default_group("destroy_process_group")
    _group = None
    if _previous_excepthook is not None:
        if sys.excepthook is _abort_on_uncaught_exception:
            sys.excepthook = _previous_excepthook
        _previous_excepthook = None
    group.close()


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and the group not destroyed)."""
    return _group is not None


def get_rank() -> int:
    """This process's rank in the default group, 0 to ``get_world_size() - 1``."""
    return _default_group("get_rank").rank


def get_world_size() -> int:
    """The number of ranks in the default group."""
    return _default_group("get_world_size").size


def get_node_local_rank() -> int:
    """This process's rank among the ranks on its own machine (the GPU index of the one-rank-per-GPU layout)."""
    return _default_group("get_node_local_rank").local_rank


def get_backend() -> str:
    """The default group's backend: "mpi" or "nccl"."""
    return _default_group("get_backend").name


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, async_op: bool = False) -> Optional[Work]:
    """Reduce ``tensor`` across all ranks, in place: every rank ends with the result.

    ``op`` is ``ReduceOp.SUM`` (default), ``AVG``, ``PRODUCT``, ``MIN`` or ``MAX``, or its string
    ("mean" is "avg"). With ``async_op`` a ``Work`` is returned: ``wait()`` on it before reading.
    """
    group = _default_group("all_reduce")
    op = reduce_op(op)
    _check_target(tensor, "all_reduce")
    if op == ReduceOp.AVG and not is_floating(tensor.dtype):
        raise TypeError(f"all_reduce: op=AVG needs a floating-point tensor, this one is {tensor.dtype}; "
                        "use SUM and divide as you intend")
    return _finish(group.all_reduce(tensor, op, async_op), tensor, async_op)


def broadcast(tensor: Tensor, src: int = 0, async_op: bool = False) -> Optional[Work]:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place."""
    group = _default_group("broadcast")
    _check_target(tensor, "broadcast")
    if not 0 <= src < group.size:
        raise ValueError(f"broadcast: src={src} is not a rank of this group (0 to {group.size - 1})")
    return _finish(group.broadcast(tensor, src, async_op), tensor, async_op)


def barrier() -> None:
    """Wait until every rank has reached this call."""
    _default_group("barrier").barrier()


def _default_group(what: str) -> Any:
    if _group is None:
        raise ValueError(f"{what}: the default process group has not been initialized; call "
                         "minidl.distributed.init_process_group() first (and launch with mpiexec -n N)")
    return _group


def _check_target(tensor: Any, what: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a minidl Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is not None:
        raise RuntimeError(f"{what}: collectives are not recorded for backward, and this tensor was made by a "
                           f"recorded op ({tensor.grad_fn.name()}); call it on tensor.detach() if the gradient "
                           "should ignore it")


def _finish(work: Work, tensor: Tensor, async_op: bool) -> Optional[Work]:
    mark_written(tensor)  # an in-place write, as the engine counts one into .grad
    if async_op:
        return work
    work.wait()
    return None


def _abort_on_uncaught_exception(kind: type, value: BaseException, traceback: Any) -> None:
    """``sys.excepthook`` while the group lives: report as usual, then end every rank of the job."""
    _previous_excepthook(kind, value, traceback)
    sys.stdout.flush()
    sys.stderr.write(f"minidl.distributed: rank {_group.rank} of {_group.size} stopped on an uncaught "
                     f"{kind.__name__}; aborting all ranks (MPI_Abort) so that none waits forever\n")
    sys.stderr.flush()
    # mpiexec forwards each rank's output through a pipe of its own and stops reading when a rank aborts: one
    # time in about twenty (a loaded 2-core machine) the report above never reached the user. A moment to
    # forward it costs nothing next to a job that is ending.
    time.sleep(0.5)
    _group.abort(1)
