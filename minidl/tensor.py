"""The Tensor: a backend array, the device it lives on, and its place in the record.

Arithmetic operators and math methods (``+``, ``exp``, ``sum``, ...) are the
differentiable ops themselves, attached in ``minidl/ops/__init__.py`` where the
ops are defined, so ``x.exp()`` and ``mdl.exp(x)`` are one function.
"""
from . import backends


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``data`` is the backend array (NumPy, CuPy, ...). A tensor produced by an op
    on tensors that require grad carries the ``Node`` that made it; leaves
    (tensors made by the user) have none and collect gradients in ``.grad``.
    Create tensors with ``minidl.tensor`` and the other constructors.
    """

    __slots__ = ("data", "device", "grad", "_requires_grad", "_node", "__weakref__")
    __array_ufunc__ = None  # make NumPy defer `ndarray + Tensor` to Tensor.__radd__
    __hash__ = object.__hash__  # __eq__ is elementwise, identity stays the hash

    def __init__(self, data, device="cpu", requires_grad=False, _node=None):
        self.data = data
        self.device = device
        self.grad = None
        self._requires_grad = requires_grad or _node is not None
        self._node = _node

    # -- attributes ------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape), doc="The shape, as a tuple.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="The element type (a dtype of the backend).")
    size = property(lambda self: int(self.data.size), doc="The number of elements.")
    backend = property(lambda self: backends.resolve(self.device)[0], doc="The Backend computing for this tensor.")
    is_leaf = property(lambda self: self._node is None, doc="True unless an op recorded this tensor.")

    @property
    def requires_grad(self):
        """Whether ops on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and not _is_floating(self.data.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one is {self.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use .detach() instead")
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag=True):
        """Set ``requires_grad`` in place and return the tensor (PyTorch style)."""
        self.requires_grad = flag
        return self

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = str(self.to_numpy()).replace("\n", "\n       ")
        extras = "" if self.device == "cpu" else f", device={self.device!r}"
        if self._node is not None:
            extras += f", grad_fn={self._node.name}"
        elif self._requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}, dtype={self.dtype}{extras})"

    # -- host interop ----------------------------------------------------------
    def to_numpy(self):
        """The values as a host NumPy array (shares memory on the CPU, copies from a GPU)."""
        return self.backend.to_host(self.data)

    numpy = to_numpy

    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError(f"cannot convert a {self.device} tensor to a NumPy array implicitly; "
                            "call .numpy() to copy it to the host")
        array = self.data
        return array if dtype is None else array.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.to_numpy().reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self.to_numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all()")
        return bool(self.item())

    # -- graph -----------------------------------------------------------------
    def detach(self):
        """A tensor sharing this one's data, cut from the record."""
        return Tensor(self.data, self.device)

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad."""
        from .engine import backward
        backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # -- devices and dtypes ----------------------------------------------------
    def to(self, target):
        """A copy on another device ("cpu", "cuda:0", ...) or of another dtype."""
        try:
            backends.resolve(target)
        except ValueError as not_a_device:
            try:
                return self.astype(target)
            except TypeError:
                raise ValueError(f"to({target!r}): neither a device nor a dtype ({not_a_device})") from None
        return self._to_device(target)

    def cpu(self):
        return self._to_device("cpu")

    def cuda(self, index=0):
        return self._to_device(f"cuda:{index}")

    def _to_device(self, device):
        """Copy to ``device``. The copy is a new leaf: transfers are not recorded."""
        dst, device = backends.resolve(device)
        if device == self.device:
            return self
        src = self.backend
        data = self.data if dst is src else src.to_host(self.data)
        moved = Tensor(dst.asarray(data, device=device), device)
        moved._requires_grad = self._requires_grad and self._node is None
        return moved


def _is_floating(dtype):
    return getattr(dtype, "kind", "f") in "fc"
