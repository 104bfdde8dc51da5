"""``mdl.device`` and ``mdl.cuda``: PyTorch's device spellings over minidl's device strings."""
from __future__ import annotations

from typing import Optional

from . import backends


class device(str):  # noqa: N801 - PyTorch's name
    """A device name that is also a string: ``mdl.device("cuda:1") == "cuda:1"``, with ``.type`` and ``.index``.

    Tensors carry plain strings, so ``t.device == mdl.device("cpu")`` holds, and either form
    goes wherever a device is taken.
    """

    def __new__(cls, spec: str, index: Optional[int] = None) -> "device":
        return super().__new__(cls, str(spec) if index is None else f"{spec}:{index}")

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> Optional[int]:
        _, _, index = self.partition(":")
        return int(index) if index else None


class accelerator:  # noqa: N801 - used as a namespace, as torch.accelerator
    """``mdl.accelerator.is_available()`` and ``current_accelerator()``: PyTorch 2.6's device-agnostic spelling."""

    @staticmethod
    def is_available() -> bool:
        return cuda.is_available()

    @staticmethod
    def current_accelerator() -> Optional[device]:
        """``device("cuda")`` where a GPU is usable, else None (the CPU is not an accelerator)."""
        return device("cuda") if cuda.is_available() else None


class cuda:  # noqa: N801 - used as a namespace, as torch.cuda
    """``mdl.cuda.is_available()`` and ``mdl.cuda.device_count()``."""

    @staticmethod
    def is_available() -> bool:
        """True when CuPy is installed and sees a GPU (never imports anything that could fail loudly)."""
        return "cupy" in backends.available()

    @staticmethod
    def device_count() -> int:
        if not cuda.is_available():
            return 0
        return backends.get("cupy").xp.cuda.runtime.getDeviceCount()
