"""Gradient buckets for DistributedDataParallel: average gradients while the backward pass still runs.

Parameters are packed, in reverse order (the order backward reaches them), into a few flat
buckets of at most ``bucket_cap_mb`` (the first one smaller, so communication starts early),
as PyTorch's DDP does. A post-accumulate-grad hook copies each gradient into its bucket as soon
as backward has produced it; when a bucket is full its all-reduce starts, non-blocking, and the
rest of the backward pass runs meanwhile. Buckets are launched in index order, so every rank
issues the same collectives in the same order whatever the timing. When the backward pass ends
(``engine.queue_callback``), the reducer waits for every bucket and writes the averages into ``.grad``.
"""
from __future__ import annotations

from typing import Optional

from ... import distributed as dist
from ...creation import tensor, zeros
from ...engine import queue_callback
from ...modes import no_grad
from ...tensor import Tensor

FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's first bucket: small, so the first all-reduce starts early


class Bucket:
    """Parameters of one device and dtype whose gradients are reduced together, in one flat tensor."""

    __slots__ = ("params", "offsets", "flat", "pending", "work")

    def __init__(self, params: list):
        self.params = params
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append(total)
            total += p.numel()
        self.flat = zeros(total, dtype=params[0].dtype, device=params[0].device)
        self.pending = len(params)
        self.work: Optional[dist.Work] = None


def assign_buckets(params: list, cap_bytes: int, first_cap_bytes: int = FIRST_BUCKET_BYTES) -> list:
    """Group ``params`` (in the order gradients arrive) into buckets of one device and dtype each.

    A bucket is closed once it holds ``cap_bytes`` (``first_cap_bytes`` for the first of each
    kind); buckets are ordered by their first parameter, so they fill up one after another.
    """
    position = {id(p): i for i, p in enumerate(params)}
    open_buckets: dict = {}
    limits: dict = {}
    closed = []
    for p in params:
        key = (p.device, p.dtype)
        members = open_buckets.setdefault(key, [])
        members.append(p)
        limit = limits.setdefault(key, min(first_cap_bytes, cap_bytes))
        if sum(m.numel() * m.dtype.itemsize for m in members) >= limit:
            closed.append(open_buckets.pop(key))
            limits[key] = cap_bytes
    closed.extend(open_buckets.values())
    closed.sort(key=lambda members: position[id(members[0])])
    return [Bucket(members) for members in closed]


class Reducer:
    """Averages the gradients of ``params`` across ranks during each armed backward pass.

    ``armed`` is set by DistributedDataParallel's forward (outside ``no_sync``); the backward
    pass that follows reduces, and disarms it. ``names`` label parameters in error messages.
    """

    def __init__(self, params: list, names: dict, bucket_cap_mb: float, find_unused_parameters: bool):
        self.buckets = assign_buckets(params, int(bucket_cap_mb * 1024 * 1024))
        self.slots = {p: (b, off) for b in self.buckets for p, off in zip(b.params, b.offsets)}
        self.names = names
        self.find_unused_parameters = find_unused_parameters
        self.armed = False
        self._reset()
        for p in params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _reset(self) -> None:
        for b in self.buckets:
            b.pending, b.work = len(b.params), None
        self._next = 0          # the next bucket to launch
        self._ready: set = set()  # parameters whose gradient reached their bucket in this pass
        self._callback_queued = False

    def _grad_ready(self, param: Tensor) -> None:
        """Post-accumulate hook: copy ``param.grad`` into its bucket; launch the buckets now complete."""
        if not self.armed:
            return
        if param.grad.requires_grad:
            raise RuntimeError("DistributedDataParallel does not support backward(create_graph=True): its "
                               "averaged gradients would not be recorded")
        if not self._callback_queued:
            queue_callback(self._finish)
            self._callback_queued = True
        bucket, offset = self.slots[param]
        bucket.flat.data[offset:offset + param.numel()] = param.grad.data.reshape(-1)
        if param not in self._ready:
            self._ready.add(param)
            bucket.pending -= 1
        self._launch_complete_buckets()

    def _launch_complete_buckets(self) -> None:
        while self._next < len(self.buckets) and self.buckets[self._next].pending == 0:
            bucket = self.buckets[self._next]
            bucket.work = dist.all_reduce(bucket.flat, dist.ReduceOp.AVG, async_op=True)
            self._next += 1
        for bucket in self.buckets[:self._next]:
            bucket.work.is_completed()  # lets MPI progress the reductions in flight

    def _finish(self) -> None:
        """End of the backward pass: reduce what is left, wait, and write the averages into ``.grad``."""
        try:
            missing = [p for p in self.slots if p not in self._ready]
            if missing and not self.find_unused_parameters:
                raise RuntimeError(
                    f"DistributedDataParallel: {len(missing)} parameter(s) received no gradient in this backward "
                    f"pass ({', '.join(self.names[p] for p in missing[:5])}{', ...' if len(missing) > 5 else ''}); "
                    "every rank must reduce every parameter. If some parameters are unused in some iterations, "
                    "wrap the module with find_unused_parameters=True")
            for p in missing:  # as PyTorch: a gradient accumulated earlier (no_sync) counts, else zeros
                bucket, offset = self.slots[p]
                bucket.flat.data[offset:offset + p.numel()] = 0 if p.grad is None else p.grad.data.reshape(-1)
                bucket.pending -= 1
            self._launch_complete_buckets()
            unused = self._globally_unused()
            for bucket in self.buckets:
                bucket.work.wait()
                self._write_grads(bucket, unused)
        finally:
            self.armed = False
            self._reset()

    def _globally_unused(self) -> set:
        """The parameters no rank produced a gradient for (their ``.grad`` is left as it is, as PyTorch does)."""
        if not self.find_unused_parameters:
            return set()
        params = list(self.slots)
        used = tensor([p.grad is not None for p in params], dtype="int32", device=params[0].device)
        dist.all_reduce(used, dist.ReduceOp.MAX)
        return {p for p, flag in zip(params, used.tolist()) if not flag}

    @staticmethod
    def _write_grads(bucket: Bucket, unused: set) -> None:
        with no_grad():
            for p, offset in zip(bucket.params, bucket.offsets):
                if p in unused:
                    continue
                average = bucket.flat.data[offset:offset + p.numel()].reshape(p.shape)
                if p.grad is None:
                    p.grad = Tensor(average.copy(), p.device)
                else:
                    p.grad.copy_(Tensor(average, p.device))

