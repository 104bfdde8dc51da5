"""The Tensor: a backend array, the device it lives on, and its place in the record.

Operators and math methods are one line each and call the differentiable op of the same
name in ``minidl.ops``, so ``x.exp()`` and ``mdl.exp(x)`` are one function. The ops
build Tensors and Tensor's methods call the ops, so ``ops`` is imported at the end of
this module, once the class exists.

A tensor made by an op on tensors that require grad carries the ``Node`` that made it
(``grad_fn``); leaves (made by the user) have none and collect gradients in ``.grad``.
Tensors that share memory (views, ``detach()``) share one ``VersionCounter``, bumped by
every in-place write, so the backward pass can refuse a value that changed after it was saved.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Union

from . import backends, dtypes

Shape = tuple
DTypeLike = Any


class VersionCounter:
    """How many in-place writes a storage has had; shared by all tensors viewing that storage."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class ViewOf:
    """How a tensor views another's memory (``Tensor._view``).

    ``root`` is the tensor that owns the memory, ``node`` the record ``root`` had when the view was
    taken (a recorded in-place op on ``root`` replaces it: the view's own record is then stale), and
    ``steps`` the view functions that make the view's array from the root's, ``(fun, args, kwargs)``
    each, so an in-place op through the view can rewrite the root's record. ``root`` is None for
    ``detach()``: a constant that shares memory, never stale. ``steps`` is None where unknown.
    """

    __slots__ = ("root", "node", "steps")

    def __init__(self, root: Optional["Tensor"], node: Any, steps: Optional[tuple]):
        self.root, self.node, self.steps = root, node, steps


class ValuesIndices(NamedTuple):
    """``t.max(dim=1)``, ``t.sort()``, ``topk``: PyTorch's (values, indices) pair."""

    values: "Tensor"
    indices: "Tensor"


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``data`` is the backend array (NumPy, CuPy, ...), ``device`` a string such as "cpu"
    or "cuda:0". Make tensors with ``minidl.tensor`` and the other constructors.
    """

    __slots__ = ("data", "device", "_grad", "_requires_grad", "_node", "_version", "_view", "_hooks",
                 "__weakref__")
    __array_ufunc__ = None  # NumPy defers `ndarray + Tensor` to Tensor.__radd__
    __hash__ = object.__hash__  # __eq__ is elementwise; identity stays the hash

    def __init__(self, data: Any, device: str = "cpu", requires_grad: bool = False, _node: Any = None):
        self.data = data
        self.device = device
        self._grad: Optional[Tensor] = None
        self._requires_grad = requires_grad or _node is not None
        self._node = _node
        self._version: Optional[VersionCounter] = None  # created when first needed
        self._view: Optional[ViewOf] = None  # set when this tensor views another tensor's memory
        self._hooks = None   # hooks on a leaf's gradient (see hooks.py)

    # -- attributes ------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape), doc="The shape, as a tuple.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="The element type (a NumPy dtype).")
    is_leaf = property(lambda self: self._node is None, doc="True unless an op recorded this tensor.")
    grad_fn = property(lambda self: self._node, doc="The record of the op that made this tensor (None for leaves).")
    backend = property(lambda self: backends.resolve(self.device)[0], doc="The Backend computing for this tensor.")
    T = property(lambda self: ops.transpose(self), doc="The tensor with its axes reversed.")
    mT = property(lambda self: ops.swapaxes(self, -1, -2), doc="The last two axes swapped (batched transpose).")

    @property
    def grad(self) -> Optional["Tensor"]:
        """The gradient accumulated by backward passes (None until the first)."""
        return self._grad

    @grad.setter
    def grad(self, value: Optional["Tensor"]) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, not {type(value).__name__}")
            if value.shape != self.shape or value.device != self.device:
                raise ValueError(f"assigned grad of shape {value.shape} on {value.device} to a tensor of shape "
                                 f"{self.shape} on {self.device}")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and not dtypes.is_floating(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one is {self.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use .detach() instead")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor (PyTorch style)."""
        self.requires_grad = requires_grad
        return self

    def size(self, dim: Optional[int] = None) -> Union[Shape, int]:
        """The shape (PyTorch's name), or the length of dimension ``dim``."""
        return tuple(self.data.shape) if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def _counter(self) -> VersionCounter:
        """This tensor's version counter, created on first need."""
        if self._version is None:
            self._version = VersionCounter()
        return self._version

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = str(self.numpy()).replace("\n", "\n       ")
        extras = "" if self.device == "cpu" else f", device={self.device!r}"
        if self._node is not None:
            extras += f", grad_fn=<{self._node.name()}>"
        elif self._requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}, dtype={self.dtype}{extras})"

    def __format__(self, spec: str) -> str:
        return format(self.item(), spec) if self.data.ndim == 0 and spec else repr(self)

    # -- host interop ----------------------------------------------------------
    def numpy(self) -> Any:
        """The values as a host NumPy array (shares memory on the CPU, copies from a GPU)."""
        return self.backend.to_host(self.data)

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> Any:
        if self.device != "cpu":
            raise TypeError(f"cannot convert a {self.device} tensor to a NumPy array implicitly; "
                            "call .numpy() to copy it to the host")
        array = self.backend.to_host(self.data)
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        return self.data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self.data.__dlpack_device__()

    def item(self) -> Union[float, int, bool]:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.size != 1 or self.data.dtype.kind not in "iub":
            raise TypeError(f"only a one-element integer tensor can be used as an index, not {self.dtype} "
                            f"of shape {self.shape}")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.item())

    # -- graph -----------------------------------------------------------------
    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter), cut from the record."""
        return ops.detach(self)

    def backward(self, gradient: Optional[Tensor] = None, retain_graph: Optional[bool] = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad."""
        engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, hook: Callable) -> Any:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        return hooks.register_grad_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable) -> Any:
        """Call ``hook(tensor)`` after a leaf's ``.grad`` has been accumulated by a backward pass."""
        return hooks.register_post_accumulate_hook(self, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep theirs)."""
        hooks.retain_grad(self)

    # -- devices and dtypes ----------------------------------------------------
    def to(self, *args: Any, device: Any = None, dtype: DTypeLike = None, copy: bool = False) -> Tensor:
        """A tensor on another device and/or of another dtype: ``to("cuda")``, ``to(mdl.float64)``,
        ``to(device=..., dtype=...)`` or ``to(other_tensor)``. Returns ``self`` when nothing changes."""
        device, dtype = device_and_dtype(args, device, dtype)
        out = self if device is None else self._to_device(device)
        out = out if dtype is None else out.astype(dtype)
        return ops.clone(out) if copy and out is self else out

    def cpu(self) -> Tensor:
        return self._to_device("cpu")

    def cuda(self, device: Union[int, str, None] = None) -> Tensor:
        return self._to_device(device if isinstance(device, str) else f"cuda:{device or 0}")

    def _to_device(self, device: str) -> Tensor:
        """Copy to ``device``; a differentiable op when the tensor is recorded."""
        _, device = backends.resolve(device)
        return self if device == self.device else ops.to_device(self, device)

    def astype(self, dtype: DTypeLike) -> Tensor:
        return ops.astype(self, dtype)

    def type(self, dtype: DTypeLike = None) -> Union[str, Tensor]:
        """With a dtype, the tensor converted to it; without, its type name (``"minidl.float32"``)."""
        return f"minidl.{self.dtype}" if dtype is None else self.astype(dtype)

    def float(self) -> Tensor:
        return self.astype(dtypes.float32)

    def double(self) -> Tensor:
        return self.astype(dtypes.float64)

    def half(self) -> Tensor:
        return self.astype(dtypes.float16)

    def long(self) -> Tensor:
        return self.astype(dtypes.int64)

    def int(self) -> Tensor:
        return self.astype(dtypes.int32)

    def bool(self) -> Tensor:
        return self.astype(dtypes.bool_)

    # -- arithmetic (each operator is the op of that name) ----------------------------
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.subtract(self, other)
    def __rsub__(self, other): return ops.subtract(other, self)
    def __mul__(self, other): return ops.multiply(self, other)
    def __rmul__(self, other): return ops.multiply(other, self)
    def __truediv__(self, other): return ops.divide(self, other)
    def __rtruediv__(self, other): return ops.divide(other, self)
    def __floordiv__(self, other): return ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return ops.floor_divide(other, self)
    def __mod__(self, other): return ops.remainder(self, other)
    def __rmod__(self, other): return ops.remainder(other, self)
    def __pow__(self, other): return ops.power(self, other)
    def __rpow__(self, other): return ops.power(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.negative(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)
    def __getitem__(self, index): return ops.index(self, index)

    # comparisons and logic: bool tensors, not differentiable
    def __eq__(self, other): return ops.equal(self, other)  # type: ignore[override]
    def __ne__(self, other): return ops.not_equal(self, other)  # type: ignore[override]
    def __lt__(self, other): return ops.less(self, other)
    def __le__(self, other): return ops.less_equal(self, other)
    def __gt__(self, other): return ops.greater(self, other)
    def __ge__(self, other): return ops.greater_equal(self, other)
    def __and__(self, other): return ops.logical_and(self, other)
    def __or__(self, other): return ops.logical_or(self, other)
    def __xor__(self, other): return ops.logical_xor(self, other)
    def __invert__(self): return ops.logical_not(self)
    def eq(self, other): return ops.equal(self, other)
    def ne(self, other): return ops.not_equal(self, other)
    def lt(self, other): return ops.less(self, other)
    def le(self, other): return ops.less_equal(self, other)
    def gt(self, other): return ops.greater(self, other)
    def ge(self, other): return ops.greater_equal(self, other)
    def isfinite(self): return ops.isfinite(self)
    def any(self, dim=None, keepdim=False, **kw): return ops.any(self, dim, keepdim, **kw)
    def all(self, dim=None, keepdim=False, **kw): return ops.all(self, dim, keepdim, **kw)

    # -- in place: the same tensor, the same storage (see ops/inplace.py for the rules) --
    def __iadd__(self, other): return ops.inplace.add_(self, other)
    def __isub__(self, other): return ops.inplace.sub_(self, other)
    def __imul__(self, other): return ops.inplace.mul_(self, other)
    def __itruediv__(self, other): return ops.inplace.div_(self, other)
    def __setitem__(self, index, value): ops.inplace.setitem_(self, index, value)
    def add_(self, other, *, alpha=1): return ops.inplace.add_(self, other, alpha=alpha)
    def sub_(self, other, *, alpha=1): return ops.inplace.sub_(self, other, alpha=alpha)
    def mul_(self, other): return ops.inplace.mul_(self, other)
    def div_(self, other): return ops.inplace.div_(self, other)
    def abs_(self): return ops.inplace.abs_(self)
    def exp_(self): return ops.inplace.exp_(self)
    def log_(self): return ops.inplace.log_(self)
    def neg_(self): return ops.inplace.neg_(self)
    def relu_(self): return ops.inplace.relu_(self)
    def sigmoid_(self): return ops.inplace.sigmoid_(self)
    def sqrt_(self): return ops.inplace.sqrt_(self)
    def tanh_(self): return ops.inplace.tanh_(self)
    def zero_(self): return ops.inplace.fill_(self, 0)
    def fill_(self, value): return ops.inplace.fill_(self, value)
    def copy_(self, src): return ops.inplace.copy_(self, src)
    def clamp_(self, min=None, max=None): return ops.inplace.clamp_(self, min, max)  # noqa: A002
    clip_ = clamp_

    # -- elementwise functions ------------------------------------------------------
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def abs(self): return ops.abs(self)
    def sqrt(self): return ops.sqrt(self)
    def square(self): return ops.square(self)
    def sign(self): return ops.sign(self)
    def pow(self, exponent): return ops.power(self, exponent)
    def clip(self, min=None, max=None): return ops.clip(self, min, max)  # noqa: A002
    clamp = clip
    def maximum(self, other): return ops.maximum(self, other)
    def minimum(self, other): return ops.minimum(self, other)
    def clone(self): return ops.clone(self)
    def log1p(self): return ops.log1p(self)
    def expm1(self): return ops.expm1(self)
    def log2(self): return ops.log2(self)
    def log10(self): return ops.log10(self)
    def tan(self): return ops.tan(self)
    def arcsin(self): return ops.arcsin(self)
    def arccos(self): return ops.arccos(self)
    def arctan(self): return ops.arctan(self)
    def arctan2(self, other): return ops.arctan2(self, other)
    asin, acos, atan, atan2 = arcsin, arccos, arctan, arctan2
    def sinh(self): return ops.sinh(self)
    def cosh(self): return ops.cosh(self)
    def erf(self): return ops.erf(self)
    def logaddexp(self, other): return ops.logaddexp(self, other)
    def floor(self): return ops.floor(self)
    def ceil(self): return ops.ceil(self)
    def round(self, decimals=0): return ops.round(self, decimals)

    # -- reductions: PyTorch's dim/keepdim or NumPy's axis/keepdims pick the dialect (api.md) --
    def sum(self, *args, **kw): return ops.sum(self, *args, **kw)
    def mean(self, *args, **kw): return ops.mean(self, *args, **kw)
    def var(self, *args, **kw): return ops.var(self, *args, **kw)
    def max(self, *args, **kw): return ops.max(self, *args, **kw)
    def min(self, *args, **kw): return ops.min(self, *args, **kw)
    def argmax(self, *args, **kw): return ops.argmax(self, *args, **kw)
    def argmin(self, *args, **kw): return ops.argmin(self, *args, **kw)
    def logsumexp(self, *args, **kw): return ops.logsumexp(self, *args, **kw)
    def softmax(self, *args, **kw): return ops.softmax(self, *args, **kw)
    def log_softmax(self, *args, **kw): return ops.log_softmax(self, *args, **kw)
    def prod(self, *args, **kw): return ops.prod(self, *args, **kw)
    def cumsum(self, *args, **kw): return ops.cumsum(self, *args, **kw)
    def std(self, *args, **kw): return ops.std(self, *args, **kw)
    def norm(self, *args, **kw): return ops.norm(self, *args, **kw)
    def sort(self, *args, **kw): return ops.sort(self, *args, **kw)
    def argsort(self, *args, **kw): return ops.argsort(self, *args, **kw)
    def topk(self, k, dim=-1, largest=True, sorted=True): return ops.topk(self, k, dim, largest, sorted)  # noqa: A002

    # -- shape ------------------------------------------------------------------------
    def matmul(self, other): return ops.matmul(self, other)
    def reshape(self, *shape): return ops.reshape(self, *shape)
    def view(self, *shape): return ops.view(self, *shape)
    def view_as(self, other): return ops.reshape(self, other.shape)
    def transpose(self, *dims): return ops.transpose(self, *dims)
    def t(self): return ops.transpose(self) if self.ndim == 2 else self
    def permute(self, *dims): return ops.permute(self, *dims)
    def swapaxes(self, axis1, axis2): return ops.swapaxes(self, axis1, axis2)
    def broadcast_to(self, shape): return ops.broadcast_to(self, shape)
    def expand(self, *sizes): return ops.expand(self, *sizes)
    def expand_as(self, other): return ops.broadcast_to(self, other.shape)
    def squeeze(self, *args, **kw): return ops.squeeze(self, *args, **kw)
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def contiguous(self): return self if self.is_contiguous() else ops.clone(self)  # a row-major copy
    def is_contiguous(self): return self.backend.is_row_major(self.data)
    def gather(self, dim, index): return ops.gather(self, dim, index)
    def tril(self, diagonal=0): return ops.tril(self, diagonal)
    def triu(self, diagonal=0): return ops.triu(self, diagonal)
    def flip(self, *dims, **kw): return ops.flip(self, dims[0] if len(dims) == 1 else dims or None, **kw)
    def roll(self, *args, **kw): return ops.roll(self, *args, **kw)
    def repeat(self, *sizes): return ops.rearrange.repeat_as_tiles(self, *sizes)  # PyTorch's: tiles (api.md)
    def repeat_interleave(self, repeats, dim=None): return ops.repeat_interleave(self, repeats, dim)
    def tile(self, *dims): return ops.tile(self, dims[0] if len(dims) == 1 else dims)
    def split(self, *args, **kw): return ops.split(self, *args, **kw)
    def chunk(self, chunks, dim=0): return ops.chunk(self, chunks, dim)

    # -- linear algebra ----------------------------------------------------------------
    def dot(self, other): return ops.dot(self, other)
    def outer(self, other): return ops.outer(self, other)
    def det(self): return ops.det(self)
    def slogdet(self): return ops.slogdet(self)
    def inverse(self): return ops.inverse(self)


def device_and_dtype(args: tuple, device: Any = None, dtype: DTypeLike = None) -> tuple:
    """``(device, dtype)`` from the arguments of a ``to(...)`` call (Tensor's and Module's), PyTorch's forms:
    a device, a dtype, both, or a tensor whose device and dtype are taken."""
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif _is_device(arg):
            device = arg
        else:
            try:
                backends.get("numpy").dtype(arg)
            except TypeError:
                raise ValueError(f"to({arg!r}): neither a device nor a dtype; known device types: "
                                 f"{backends.device_types()}") from None
            dtype = arg
    return device, dtype


def _is_device(value: Any) -> bool:
    try:
        backends.resolve(value)
    except (ValueError, TypeError):
        return False
    return True


def mark_written(t: Tensor) -> None:
    """Count an in-place write to ``t``'s memory (and so its views'): a value saved for backward before it
    is then refused instead of being used stale. In-place ops, optimizer steps and collectives call this."""
    t._counter().value += 1


def is_tensor(obj: Any) -> bool:
    """True for minidl Tensors (PyTorch's ``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


from . import engine, hooks, ops  # noqa: E402 - both build on Tensor; Tensor's methods call them
