"""Ops that keep a tensor's values: identity, detach, clone, and dtype and device conversions."""
from .. import backends, dtypes
from ..autograd import defvjp, primitive
from ..tensor import Tensor, ViewOf


@primitive
def identity(x):
    """``x`` itself, recorded as a new node: the functional transforms' fresh variable for a recorded input."""
    return x


defvjp(identity, lambda g, ans, x: g)


def detach(x):
    """A tensor sharing ``x``'s data and version counter, cut from the record (never requires grad).

    It keeps nothing of ``x``'s record alive; as a view with no root it is a constant: never
    stale, and refused as the target of a recorded in-place op (that would change ``x`` behind
    its record's back).
    """
    out = Tensor(x.data, x.device)
    out._version = x._counter()
    out._view = _DETACHED
    return out


_DETACHED = ViewOf(None, None, None)


@primitive
def clone(x):
    """A copy of ``x`` with its own storage; the gradient passes through unchanged."""
    return x.copy()


defvjp(clone, lambda g, ans, x: g)


@primitive
def _astype(x, dtype):
    return x.astype(dtype)


defvjp(_astype, lambda g, ans, x, dtype: _astype(g, x.dtype))


def astype(x, dtype):
    """``x`` converted to ``dtype`` (``x`` itself if it has it already, as PyTorch's ``to``);
    a conversion to a non-float type is not recorded."""
    if not isinstance(x, Tensor):
        return _astype(x, dtype)
    dtype = x.backend.dtype(dtype)
    if dtype == x.dtype:
        return x
    if not dtypes.is_floating(dtype):
        return Tensor(x.data.astype(dtype), x.device)
    return _astype(x, dtype)


@primitive
def _to_device(x, device, source):
    dst, _ = backends.resolve(device)
    src = backends.backend_of_array(x)
    return dst.asarray(x if dst is src else src.to_host(x), device=device)


defvjp(_to_device, lambda g, ans, x, device, source: _to_device(g, source, device))


def to_device(x, device):
    """A copy of tensor ``x`` on ``device``; recorded, so gradients flow back to ``x``'s device."""
    out = _to_device(x, device, x.device)
    out.device = device  # the op's inputs were on x.device; its output is not
    if out._node is not None:
        out._node.device = device
    return out
