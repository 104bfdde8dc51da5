"""Functional transforms in JAX's style, built on the backward pass: grad, value_and_grad, vjp, jvp, hvp.

Each transform runs ``f`` on inputs it watches and asks the engine for their
gradients. When a transform runs inside another one (``grad(grad(f))``), or its
inputs are themselves recorded, it records its own backward pass, so the outer
transform can differentiate the result.
"""
import contextlib

from . import autograd, engine
from .creation import tensor, zeros_like
from .tensor import Tensor

_depth = 0  # transforms currently running


@contextlib.contextmanager
def _transform():
    global _depth
    _depth += 1
    try:
        with autograd.enable_grad():
            yield
    finally:
        _depth -= 1


def _nested():
    """True inside a transform that is itself inside another transform."""
    return _depth > 1


def _watch(x):
    """``x`` as a tensor whose gradient can be collected: itself if recorded, else a fresh leaf."""
    if isinstance(x, Tensor):
        return x if x.requires_grad else Tensor(x.data, x.device).requires_grad_()
    return tensor(x, requires_grad=True)


def _is_recorded(x):
    return isinstance(x, Tensor) and x.requires_grad


def _as_output(t, keep_graph):
    return t if keep_graph or not isinstance(t, Tensor) else t.detach()


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(f, argnums=0):
    """A function returning ``(f(*args), gradient of f with respect to args[argnums])``.

    ``f`` must return a one-element tensor. For an int ``argnums`` the gradient is
    one Tensor, for a tuple a tuple of Tensors.
    """
    nums = _argnums_tuple(argnums)

    def value_and_grad_f(*args, **kwargs):
        args = list(args)
        with _transform():
            create = _nested() or any(_is_recorded(args[i]) for i in nums)
            for i in nums:
                args[i] = _watch(args[i])
            out = f(*args, **kwargs)
            if not isinstance(out, Tensor) or out.size != 1:
                raise TypeError(f"grad: {getattr(f, '__name__', 'f')} must return a one-element tensor, "
                                f"got {getattr(out, 'shape', type(out).__name__)}")
            grads = engine.grad(out, [args[i] for i in nums], create_graph=create)
        return _as_output(out, create), grads[0] if isinstance(argnums, int) else grads

    return value_and_grad_f


def grad(f, argnums=0):
    """The gradient function of scalar-valued ``f`` (JAX's ``grad``)."""
    vg = value_and_grad(f, argnums)

    def grad_f(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return grad_f


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one gradient per primal, as a tuple."""
    with _transform():
        create = _nested() or any(_is_recorded(p) for p in primals)
        xs = [_watch(p) for p in primals]
        out = f(*xs)

    def vjp_fn(cotangent):
        cotangent = cotangent if isinstance(cotangent, Tensor) else tensor(cotangent, dtype=out.dtype)
        with _transform():
            return engine.grad(out, xs, grad_output=cotangent, retain_graph=True,
                               create_graph=create or cotangent.requires_grad)

    return _as_output(out, create), vjp_fn


def jvp(f, primals, tangents):
    """``(f(*primals), J @ tangents)``: forward mode, computed as the transpose of a VJP.

    The VJP is linear in its cotangent ``u``, so differentiating ``<vjp(u), tangents>``
    with respect to ``u`` gives the Jacobian-vector product (the double-VJP trick).
    """
    with _transform():
        keep = _nested() or any(_is_recorded(p) for p in (*primals, *tangents))
        out, vjp_fn = vjp(f, *primals)
        u = zeros_like(out, requires_grad=True)
        (tangent_out,) = engine.grad(_inner(vjp_fn(u), tangents), [u], create_graph=keep)
    return _as_output(out, keep), tangent_out


def hvp(f, primals, tangents):
    """The Hessian of scalar ``f`` at ``primals`` times ``tangents`` (reverse over reverse)."""
    nums = tuple(range(len(primals)))
    gradient = grad(f, nums)

    def grad_dot_tangents(*xs):
        return _inner(gradient(*xs), tangents)

    result = grad(grad_dot_tangents, nums)(*primals)
    return result[0] if len(primals) == 1 else result


def _inner(xs, ys):
    """sum_i <xs[i], ys[i]> as a scalar tensor."""
    total = None
    for x, y in zip(xs, ys):
        term = (x * y).sum()
        total = term if total is None else total + term
    return total
