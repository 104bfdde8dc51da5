"""Functional transforms in JAX's style, built on the backward pass: grad, value_and_grad, vjp, jvp, hvp.

Each transform differentiates with respect to variables of its own: a fresh leaf for a
plain input, or, for an input that is itself recorded (by an outer transform or by the
user), a new node that is that input's identity. The backward walk stops at those
variables, so nested transforms never confuse their perturbations: in
``grad(lambda x: grad(lambda y: x * y)(x))`` the inner transform differentiates with
respect to its own ``y`` only, giving ``x``, whose derivative is 1 (HIPS autograd and
autodidact tag values with trace ids for the same purpose).

A transform records its own backward pass (so an outer one can differentiate the result)
exactly when its result can depend on something recorded outside it: a recorded input, or
a closure's variable that requires grad.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, Union

from . import dtypes, engine, ops
from .creation import as_tensor, zeros_like
from .modes import enable_grad, is_grad_enabled
from .tensor import Tensor

Argnums = Union[int, Sequence[int]]


def _fresh(x: Any, where: str) -> Tensor:
    """A variable of this transform's own for input ``x``: its identity if recorded, else a fresh leaf."""
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if not dtypes.is_floating(t.dtype):
        raise TypeError(f"{where}: cannot differentiate with respect to an input of dtype {t.dtype}; "
                        "pass a floating-point tensor")
    if t.requires_grad:
        return ops.identity(t)
    fresh = engine.Perturbation(t.data, t.device)
    fresh._version = t._counter()  # it shares t's memory
    return fresh


def _finished(xs: Sequence) -> None:
    """Mark a returning transform's variables: from now on they are constants to every other transform."""
    for x in xs:
        if isinstance(x, engine.Perturbation):
            x.active = False


def _positional(args: tuple, nums: tuple, kwargs: dict, where: str) -> None:
    if any(i >= len(args) or i < -len(args) for i in nums):
        given = f"{len(args)} positional argument{'s' * (len(args) != 1)}"
        raise TypeError(f"{where}: argnums={nums} needs the inputs to differentiate passed positionally, but the "
                        f"call has {given}" + (f" (and keywords {sorted(kwargs)})" if kwargs else ""))


def _check_tangents(primals: tuple, tangents: tuple, where: str) -> None:
    if len(primals) != len(tangents):
        raise ValueError(f"{where}: {len(primals)} primals but {len(tangents)} tangents")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        p_shape, t_shape = tuple(getattr(p, "shape", ())), tuple(getattr(t, "shape", ()))
        if p_shape != t_shape:
            raise ValueError(f"{where}: tangent {i} has shape {t_shape}, its primal {p_shape}: they must match")


def _create(primals: Sequence, outer_recording: bool) -> Any:
    """``create_graph`` for the engine: yes for a recorded input, "auto" (closures) while recording, else no."""
    if not outer_recording:
        return False
    return True if any(isinstance(p, Tensor) and p.requires_grad for p in primals) else "auto"


def _recorded(create: Any, out: Tensor, xs: Sequence) -> bool:
    """Whether the transform's results must stay recorded: "auto" asks whether ``out`` reaches a closure's variable."""
    return engine.reaches_other_leaf(out, xs) if create == "auto" else create


def _scalar_output(out: Any, f: Callable) -> Tensor:
    out = out if isinstance(out, Tensor) else as_tensor(out)
    if out.numel() != 1:
        raise TypeError(f"grad: {getattr(f, '__name__', 'f')} must return a one-element tensor, got shape {out.shape}")
    return out


def _argnums_tuple(argnums: Argnums) -> tuple:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _as_output(t: Any, keep_graph: bool) -> Any:
    return t if keep_graph or not isinstance(t, Tensor) else t.detach()


def value_and_grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function returning ``(f(*args), gradient of f with respect to args[argnums])``.

    ``f`` must return a one-element tensor. For an int ``argnums`` the gradient is one
    Tensor, for a tuple a tuple of Tensors. Inputs ``f`` does not use get zeros.
    """
    nums = _argnums_tuple(argnums)

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple:
        _positional(args, nums, kwargs, "grad")
        args = list(args)
        create = _create([args[i] for i in nums], is_grad_enabled())
        with enable_grad():
            for i in nums:
                args[i] = _fresh(args[i], "grad")
            try:
                out = _scalar_output(f(*args, **kwargs), f)
                grads, recorded = engine.gradients(out, [args[i] for i in nums], create_graph=create,
                                                   materialize_grads=True, stop_at_inputs=True)
            finally:
                _finished([args[i] for i in nums])
        return _as_output(out, recorded), grads[0] if isinstance(argnums, int) else grads

    return value_and_grad_f


def grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """The gradient function of scalar-valued ``f`` (JAX's ``grad``)."""
    vg = value_and_grad(f, argnums)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return grad_f


def _vjp(f: Callable, primals: Sequence, outer_recording: bool) -> tuple:
    """``(out, vjp_fn, recorded)``: ``vjp`` and whether its results stay recorded.

    ``f`` may return a tensor or a tuple of tensors; ``vjp_fn`` then takes one cotangent, or a tuple.
    """
    create = _create(primals, outer_recording)
    with enable_grad():
        xs = [_fresh(p, "vjp") for p in primals]
        try:
            out = f(*xs)
        except BaseException:
            _finished(xs)
            raise
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"vjp: {getattr(f, '__name__', 'f')} must return a Tensor or a tuple of Tensors")
    recorded = any(_recorded(create, o, xs) for o in outs)

    def vjp_fn(cotangent: Any) -> tuple:
        cts = list(cotangent) if isinstance(out, (tuple, list)) else [cotangent]
        if len(cts) != len(outs):
            raise ValueError(f"vjp_fn: {len(cts)} cotangents for {len(outs)} outputs")
        cts = [c if isinstance(c, Tensor) else as_tensor(c, dtype=o.dtype) for c, o in zip(cts, outs)]
        with enable_grad():
            grads, _ = engine.gradients(outs, xs, cts, retain_graph=True, materialize_grads=True, stop_at_inputs=True,
                                        create_graph=recorded or any(c.requires_grad for c in cts))
        return grads

    _finished(xs)
    return out, vjp_fn, recorded


def vjp(f: Callable, *primals: Any) -> tuple:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one gradient per primal, as a tuple."""
    out, vjp_fn, recorded = _vjp(f, primals, is_grad_enabled())
    return _as_output(out, recorded), vjp_fn


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """``(f(*primals), J @ tangents)``: forward mode, computed as the transpose of a VJP.

    The VJP is linear in its cotangent ``u``, so differentiating ``<vjp(u), tangents>``
    with respect to ``u`` gives the Jacobian-vector product (the double-VJP trick).
    """
    primals, tangents = tuple(primals), tuple(tangents)
    _check_tangents(primals, tangents, "jvp")
    outer = is_grad_enabled()
    with enable_grad():
        out, vjp_fn, recorded = _vjp(f, primals, outer)
        if not isinstance(out, Tensor):
            raise TypeError("jvp: the function must return one Tensor")
        if not dtypes.is_floating(out.dtype):  # a piecewise-constant output (argmax): its tangent is zero
            return out, zeros_like(out)
        recorded = recorded or (outer and any(isinstance(t, Tensor) and t.requires_grad for t in tangents))
        u = zeros_like(out, requires_grad=True)
        (tangent_out,), _ = engine.gradients(_inner(vjp_fn(u), tangents), [u], create_graph=recorded,
                                             materialize_grads=True, stop_at_inputs=True)
    return _as_output(out, recorded), tangent_out


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """The Hessian of scalar ``f`` at ``primals`` times ``tangents`` (reverse over reverse)."""
    _check_tangents(tuple(primals), tuple(tangents), "hvp")
    nums = tuple(range(len(primals)))
    gradient = grad(f, nums)

    def grad_dot_tangents(*xs: Any) -> Tensor:
        return _inner(gradient(*xs), tangents)

    result = grad(grad_dot_tangents, nums)(*primals)
    return result[0] if len(primals) == 1 else result


def _inner(xs: Sequence, ys: Sequence) -> Tensor:
    """sum_i <xs[i], ys[i]> as a scalar tensor."""
    total = None
    for x, y in zip(xs, ys):
        term = (x * y).sum()
        total = term if total is None else total + term
    return total
