"""DLPack exchange: ``minidl.from_dlpack(x)`` shares the memory of a NumPy, PyTorch, CuPy or JAX array.

The producer's ``__dlpack_device__`` says where the data lives; the backend for that device
(NumPy for the CPU, CuPy for CUDA) imports it without a copy, so a write on either side is seen
by the other. Tensors export themselves the same way (``Tensor.__dlpack__``).
"""
from __future__ import annotations

from typing import Any

from . import backends
from .tensor import Tensor

_DEVICE_TYPES = {1: "cpu", 2: "cuda", 3: "cpu"}  # DLPack's kDLCPU, kDLCUDA, kDLCUDAHost (pinned host memory)


def from_dlpack(x: Any) -> Tensor:
    """A Tensor sharing the memory of ``x`` (any object with ``__dlpack__``, or a legacy DLPack capsule on the CPU)."""
    if isinstance(x, Tensor):
        return x
    if not hasattr(x, "__dlpack__"):  # a capsule: it cannot say its device; only the host reads it
        return Tensor(backends.get("numpy").xp.from_dlpack(_Capsule(x)), "cpu")
    kind, index = x.__dlpack_device__()
    if int(kind) not in _DEVICE_TYPES:
        raise RuntimeError(f"from_dlpack: DLPack device type {int(kind)} has no minidl backend "
                           f"(known: {sorted(_DEVICE_TYPES)} = CPU, CUDA, CUDA host)")
    device = _DEVICE_TYPES[int(kind)] + (f":{int(index)}" if _DEVICE_TYPES[int(kind)] == "cuda" else "")
    backend, device = backends.resolve(device)
    with backend.device_scope(device):
        return Tensor(backend.xp.from_dlpack(x), device)


class _Capsule:
    """A legacy DLPack capsule wrapped in the protocol NumPy's ``from_dlpack`` reads."""

    def __init__(self, capsule: Any):
        self.capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return (1, 0)
