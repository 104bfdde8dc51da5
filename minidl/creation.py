"""Making tensors: from data, filled, ranges, random draws, and the global seed."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union


from . import backends
from .dtypes import DEFAULT_FLOAT, is_floating
from .tensor import Tensor


def _finish(data, device, requires_grad):
    t = Tensor(data, device)
    if requires_grad:
        t.requires_grad = True  # refuses integer dtypes with a clear error
    return t


def tensor(data: Any, dtype: Any = None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (scalars, lists, NumPy/CuPy arrays, a Tensor).

    Python floats become float32 (as in PyTorch); arrays keep their dtype unless ``dtype`` is given.
    """
    source = data.data if isinstance(data, Tensor) else data
    array = as_tensor(data.detach() if isinstance(data, Tensor) else data, dtype, device).data
    return _finish(array.copy() if array is source else array, device, requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Optional[str] = None) -> Tensor:
    """``data`` as a tensor, sharing its memory when no conversion is needed (PyTorch's as_tensor).

    A Tensor of the right device and dtype is returned as it is; NumPy arrays keep their dtype;
    Python floats become float32. ``device`` defaults to the data's own (the CPU for host data).
    """
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if device is None:
        device = backends.device_of(data) if backends.is_array(data) else "cpu"
    backend, device = backends.resolve(device)
    has_dtype = hasattr(data, "dtype")
    array = backend.asarray(data, dtype=None if dtype is None else backend.dtype(dtype), device=device)
    if dtype is None and not has_dtype and is_floating(array.dtype):
        array = array.astype(backend.dtype(DEFAULT_FLOAT))
    return Tensor(array, device)


def _create(make, shape, dtype, device, requires_grad):
    """A leaf from ``make(backend, device, shape, dtype)``; ``shape`` given as ints or as one tuple."""
    backend, device = backends.resolve(device)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    with backend.device_scope(device):
        array = make(backend, device, tuple(shape), backend.dtype(dtype or DEFAULT_FLOAT))
    return _finish(array, device, requires_grad)


def _filled(fill, shape, dtype, device, requires_grad):
    return _create(lambda b, d, s, dt: b.xp.full(s, fill, dtype=dt), shape, dtype, device, requires_grad)


def zeros(*shape: Union[int, Sequence[int]], dtype: Any = None, device: str = "cpu",
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` both work."""
    return _filled(0, shape, dtype, device, requires_grad)


def ones(*shape: Union[int, Sequence[int]], dtype: Any = None, device: str = "cpu",
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _filled(1, shape, dtype, device, requires_grad)


def full(shape: Union[int, Sequence[int]], fill_value: Any, dtype: Any = None, device: str = "cpu",
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    return _filled(fill_value, (shape,) if isinstance(shape, int) else tuple(shape), dtype, device, requires_grad)


def zeros_like(x: Tensor, dtype: Any = None, device: Optional[str] = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and, unless given, the dtype and device) of ``x``."""
    return zeros(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: Optional[str] = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and, unless given, the dtype and device) of ``x``."""
    return ones(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: Any = None, device: str = "cpu",
        requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` (square by default) identity matrix."""
    return _create(lambda b, d, s, dt: b.xp.eye(s[0], s[1], dtype=dt), (n, n if m is None else m), dtype, device,
                   requires_grad)


def arange(start: float, stop: Optional[float] = None, step: float = 1, dtype: Any = None, device: str = "cpu",
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), as ``numpy.arange`` (integers stay int64)."""
    backend, device = backends.resolve(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        integral = all(isinstance(v, int) for v in (start, stop, step))
        dtype = "int64" if integral else DEFAULT_FLOAT
    with backend.device_scope(device):
        array = backend.xp.arange(start, stop, step, dtype=backend.dtype(dtype))
    return _finish(array, device, requires_grad)


def _random(draw, shape, dtype, device, requires_grad):
    return _create(lambda b, d, s, dt: draw(b.generator(d), s, dt), shape, dtype, device, requires_grad)


def randn(*shape: Union[int, Sequence[int]], dtype: Any = None, device: str = "cpu",
          requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the seeded generator of ``device``."""
    return _random(lambda gen, s, d: gen.standard_normal(s, dtype=d), shape, dtype, device, requires_grad)


def rand(*shape: Union[int, Sequence[int]], dtype: Any = None, device: str = "cpu",
         requires_grad: bool = False) -> Tensor:
    """Uniform draws in [0, 1) from the seeded generator of ``device``."""
    return _random(lambda gen, s, d: gen.random(s, dtype=d), shape, dtype, device, requires_grad)


def manual_seed(seed: int) -> None:
    """Make every random draw of minidl (randn, rand, init, dropout) repeatable."""
    for name in backends.available():
        backends.get(name).seed(seed)


def get_rng_state(device: str = "cpu") -> Any:
    """A snapshot of ``device``'s generator; ``set_rng_state`` replays the draws made since."""
    backend, device = backends.resolve(device)
    return backend.get_rng_state(device)


def set_rng_state(state: Any, device: str = "cpu") -> None:
    """Restore a snapshot taken by ``get_rng_state``."""
    backend, device = backends.resolve(device)
    backend.set_rng_state(device, state)
