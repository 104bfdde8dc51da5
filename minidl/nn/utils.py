"""Gradient utilities."""
import math

from ..modes import no_grad
from ..tensor import Tensor


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
