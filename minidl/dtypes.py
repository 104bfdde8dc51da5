"""dtype objects (``mdl.float32``, PyTorch's aliases ``mdl.float``, ``mdl.long``, ...) and dtype helpers.

minidl's dtypes are NumPy's dtype objects (CuPy uses the same), so ``t.dtype == mdl.float32``
and ``t.dtype is mdl.float32`` both hold, and every place that takes a dtype name such as
"float32" takes these too.
"""
from __future__ import annotations

from typing import Any

from . import backends

_host = backends.get("numpy")
float16 = _host.dtype("float16")
float32 = _host.dtype("float32")
float64 = _host.dtype("float64")
int8 = _host.dtype("int8")
uint8 = _host.dtype("uint8")
int16 = _host.dtype("int16")
int32 = _host.dtype("int32")
int64 = _host.dtype("int64")
bool_ = _host.dtype("bool")
DEFAULT_FLOAT = float32

# PyTorch's names for the same types (exported from minidl as mdl.float, mdl.double, ...)
ALIASES = {"half": float16, "float": float32, "double": float64, "short": int16, "int": int32,
           "long": int64, "bool": bool_, "uint8": uint8, "int8": int8}


def is_floating(dtype: Any) -> bool:
    """True for floating-point (and complex) dtypes: the ones that can carry gradients."""
    return getattr(dtype, "kind", "f") in "fc"


def is_integer(dtype: Any) -> bool:
    """True for signed and unsigned integer dtypes."""
    return getattr(dtype, "kind", "") in "iu"
