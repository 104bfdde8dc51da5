"""Checking and normalising the arguments of layers and losses, shared by nn's modules."""
from __future__ import annotations

from typing import Any, Tuple


def pair(value: Any) -> Tuple[int, int]:
    """``3`` -> ``(3, 3)``; a pair stays a pair (kernel sizes, strides, padding)."""
    return (value, value) if isinstance(value, int) else tuple(value)


def check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
