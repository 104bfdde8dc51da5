"""``ReduceOp`` and ``Work``: the reduction names and the handle of a collective that may still be running."""
from __future__ import annotations

from typing import Any, Callable, Optional


class ReduceOp:
    """PyTorch's reduction names for ``all_reduce``; each is also accepted as a string.

    ``"sum"``, ``"avg"`` (or ``"mean"``), ``"product"``, ``"min"`` and ``"max"``, in any case.
    """

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_OP_NAMES = {"sum": ReduceOp.SUM, "avg": ReduceOp.AVG, "mean": ReduceOp.AVG, "product": ReduceOp.PRODUCT,
             "prod": ReduceOp.PRODUCT, "min": ReduceOp.MIN, "max": ReduceOp.MAX}


def reduce_op(op: Any) -> str:
    """The canonical name of ``op`` (a ``ReduceOp`` attribute or a string); ValueError for anything else."""
    name = _OP_NAMES.get(op.lower()) if isinstance(op, str) else None
    if name is None:
        raise ValueError(f"all_reduce: unknown reduction {op!r}; use one of ReduceOp.SUM, AVG, PRODUCT, MIN, MAX "
                         f"or their strings {sorted(_OP_NAMES)}")
    return name


class Work:
    """A collective started with ``async_op=True`` (PyTorch's ``Work``): ``wait()`` before reading the tensor.

    ``request`` is the library's handle (an MPI request, or None when the library orders the
    work itself, as NCCL's stream does); ``finish`` runs once the data has arrived (the division
    of an average, the copy back from a staging buffer).
    """

    __slots__ = ("_request", "_finish", "_done")

    def __init__(self, request: Any = None, finish: Optional[Callable[[], None]] = None):
        self._request, self._finish, self._done = request, finish, False

    def wait(self) -> bool:
        """Block until the collective has completed and its result is in the tensor."""
        if not self._done:
            if self._request is not None:
                self._request.Wait()
            self._complete()
        return True

    def is_completed(self) -> bool:
        """Whether the result is in the tensor, without blocking (it also lets MPI make progress)."""
        if not self._done and (self._request is None or self._request.Test()):
            self._complete()
        return self._done

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()
