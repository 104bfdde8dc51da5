"""Checking and normalising the arguments of layers and losses, shared by nn's modules."""
from __future__ import annotations

import warnings
from typing import Any, Optional, Tuple


def pair(value: Any) -> Tuple[int, int]:
    """``3`` -> ``(3, 3)``; a pair stays a pair (kernel sizes, strides, padding)."""
    return (value, value) if isinstance(value, int) else tuple(value)


def single(value: Any) -> Tuple[int]:
    """``3`` -> ``(3,)``; a 1-tuple stays (the 1-D layers' sizes)."""
    return (value,) if isinstance(value, int) else tuple(value)


def check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def legacy_reduction(size_average: Optional[bool], reduce: Optional[bool], reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, when given, mapped to a ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce are deprecated, use reduction= instead", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def check_at_least(layer: str, name: str, value: Any, minimum: int) -> None:
    """Raise ValueError naming ``layer`` and ``name`` unless ``value`` (an int or a tuple of ints) is >= minimum."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not values or any(not isinstance(v, int) or isinstance(v, bool) or v < minimum for v in values):
        raise ValueError(f"{layer}: {name} must be {'a positive' if minimum == 1 else 'a non-negative'} integer "
                         f"(or a tuple of them), got {value!r}")


def check_probability(layer: str, p: float) -> None:
    """Raise ValueError unless the dropout probability ``p`` is in [0, 1]."""
    if not 0 <= p <= 1:
        raise ValueError(f"{layer}: dropout probability p must be between 0 and 1, got {p}")


def refuse(layer: str, **options: Any) -> None:
    """Raise NotImplementedError for a PyTorch option minidl does not implement, set to a non-default value."""
    for name, (value, default) in options.items():
        if value != default:
            raise NotImplementedError(f"{layer}: {name}={value!r} is not supported by minidl (only {default!r})")
