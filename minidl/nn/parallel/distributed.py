"""DistributedDataParallel: the same model on every rank, each on its own share of the data.

As PyTorch's: at wrap time the parameters and buffers of rank 0 are copied to every rank; in
each backward pass the gradients are averaged across ranks (bucketed, overlapping the backward
pass: see reducer.py), so the optimizer step is the same everywhere and the replicas never drift
apart. BatchNorm keeps PyTorch's plain-BatchNorm behaviour: in training each rank normalises
with the statistics of its own batch (no SyncBatchNorm), and with ``broadcast_buffers`` (default)
rank 0's buffers (running statistics) are copied to every rank at the start of each forward
pass that follows a training step, so all ranks evaluate with rank 0's running statistics.
"""
from __future__ import annotations

import contextlib
import zlib
from typing import Any, Iterator, Optional, Sequence

from ... import distributed as dist
from ...creation import tensor
from ...modes import is_grad_enabled, no_grad
from ...ops import concatenate
from ..module import Module
from .reducer import Reducer


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training on the default process group.

    Call ``minidl.distributed.init_process_group()`` first. ``bucket_cap_mb`` bounds the
    gradient buckets; ``find_unused_parameters`` lets some parameters go without a gradient in
    some iterations (one more small all-reduce per step); ``no_sync()`` accumulates gradients
    locally. ``device_ids`` (PyTorch's ``[local_rank]``) must name the device the module is on.
    The state dict has PyTorch's ``module.`` prefix.
    """

    def __init__(self, module: Module, device_ids: Optional[Sequence[Any]] = None, broadcast_buffers: bool = True,
                 bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False):
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: call minidl.distributed.init_process_group() first "
                               "(and launch with mpiexec -n N)")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self._sync_buffers_next_forward = True  # PyTorch's require_forward_param_sync
        _check_device_ids(module, device_ids)
        _check_same_module_everywhere(module)
        with no_grad():
            broadcast_coalesced([*module.parameters(), *module.buffers()])
        trained = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        self.reducer = Reducer([p for _, p in reversed(trained)], {p: name for name, p in trained},
                               bucket_cap_mb, find_unused_parameters)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """The wrapped module's forward; the backward pass that follows averages the gradients."""
        buffers = list(self.module.buffers())
        if self.broadcast_buffers and self._sync_buffers_next_forward and buffers:
            with no_grad():
                broadcast_coalesced(buffers)
        sync = is_grad_enabled() and self.require_backward_grad_sync
        self._sync_buffers_next_forward = sync
        if sync:
            self.reducer.armed = True
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside the block, forward/backward passes only accumulate gradients locally (gradient accumulation).

        The first backward after a forward outside the block averages everything accumulated.
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous


def broadcast_coalesced(tensors: list, src: int = 0) -> None:
    """Copy ``src``'s values of ``tensors`` to every rank, one broadcast per device and dtype (not one per tensor)."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    for members in groups.values():
        flat = concatenate([t.detach().reshape(-1) for t in members])
        dist.broadcast(flat, src)
        offset = 0
        for t in members:
            t.copy_(flat[offset:offset + t.numel()].reshape(t.shape))
            offset += t.numel()


def _check_same_module_everywhere(module: Module) -> None:
    """Raise on every rank if the ranks' modules differ in their parameters' or buffers' names, shapes or dtypes.

    A mismatch would otherwise garble the broadcasts and reductions, or hang them.
    """
    layout = [(name, t.shape, str(t.dtype)) for name, t in (*module.named_parameters(), *module.named_buffers())]
    fingerprint = [len(layout), sum(t.numel() for _, t in module.named_parameters()), zlib.crc32(repr(layout).encode())]
    device = next((p.device for p in module.parameters()), "cpu")
    low, high = (tensor(fingerprint, dtype="int64", device=device) for _ in range(2))
    dist.all_reduce(low, dist.ReduceOp.MIN)
    dist.all_reduce(high, dist.ReduceOp.MAX)
    if low.tolist() != high.tolist():
        raise RuntimeError(f"DistributedDataParallel: the module differs between ranks (rank {dist.get_rank()} has "
                           f"{len(layout)} parameters and buffers, {fingerprint[1]} parameter elements); every rank "
                           "must build the same model before wrapping it")


def _check_device_ids(module: Module, device_ids: Optional[Sequence[Any]]) -> None:
    if device_ids is None:
        return
    devices = {p.device for p in module.parameters()}
    wanted = [f"cuda:{d}" if isinstance(d, int) else str(d) for d in device_ids]
    if len(wanted) != 1 or devices - {wanted[0]}:
        raise ValueError(f"DistributedDataParallel: device_ids={list(device_ids)}, but the module's parameters are "
                         f"on {sorted(devices)}; give the one device this rank's module is on, after moving it there")
