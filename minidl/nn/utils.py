"""Gradient utilities."""
import math

from ..modes import no_grad
from ..tensor import Tensor


def zero_grads(parameters, set_to_none=True):
    """Set each parameter's ``.grad`` to None, or (``set_to_none=False``) zero it in place, keeping the tensor."""
    with no_grad():
        for p in parameters:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                p.grad.zero_()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale gradients in place so their joint norm is at most ``max_norm``; returns the norm before."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    with no_grad():
        if norm_type == math.inf:
            norm = max(float(g.abs().max().item()) for g in grads)
        else:
            norm = sum(float((g.abs() ** norm_type).sum().item()) for g in grads) ** (1.0 / norm_type)
        scale = max_norm / (norm + 1e-6)
        if scale < 1:
            for g in grads:
                g.data *= scale
    return norm
