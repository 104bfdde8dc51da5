"""Checking reverse-mode gradients against central finite differences in float64."""
import math

from . import engine
from .dtypes import is_floating
from .modes import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Reverse-mode and finite-difference gradients disagree."""


def gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check ``f``'s gradients at ``inputs``; return True or raise GradcheckError naming the mismatch.

    The output is projected on a fixed random direction ``v``, so one scalar
    ``<v, f(x)>`` is differentiated: reverse mode gives its gradient for every
    input element at once, and each element is compared with a central
    difference. Float inputs that require grad are checked (all float inputs when
    none does); every float input is promoted to float64 first. A NaN or Inf on either
    side is a mismatch.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    floats = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and is_floating(x.dtype)]
    checked = [i for i in floats if inputs[i].requires_grad] or floats
    if not checked:
        raise ValueError("gradcheck: no floating-point tensor among the inputs")
    xs = list(inputs)
    for i in floats:
        x = inputs[i]
        xp = x.backend.xp
        xs[i] = Tensor(x.data.astype("float64", copy=True), x.device, requires_grad=i in checked)  # keeps 0-d as 0-d

    def projected(v):
        out = f(*xs)
        return (out * v).sum()

    with enable_grad():
        out = f(*xs)
        xp = out.backend.xp
        v = Tensor(xp.random.default_rng(seed).standard_normal(out.shape), out.device)
        analytic = engine.grad((out * v).sum(), [xs[i] for i in checked], materialize_grads=True)
    with no_grad():
        for i, a in zip(checked, analytic):
            flat = xs[i].data.reshape(-1)
            a_flat = a.numpy().reshape(-1)
            for j in range(flat.size):
                original = flat[j].item()
                flat[j] = original + eps
                plus = projected(v).item()
                flat[j] = original - eps
                minus = projected(v).item()
                flat[j] = original
                numeric = (plus - minus) / (2 * eps)
                analytic_j = float(a_flat[j])
                close = abs(analytic_j - numeric) <= atol + rtol * abs(numeric)  # False for NaN
                if not (close and math.isfinite(analytic_j) and math.isfinite(numeric)):
                    raise GradcheckError(
                        f"gradcheck: gradient of input {i} at index {_unravel(j, xs[i].shape)} "
                        f"is {analytic_j:.8g} by reverse mode but {numeric:.8g} by finite differences")
    return True


def _unravel(flat_index, shape):
    index = []
    for n in reversed(shape):
        flat_index, r = divmod(flat_index, n)
        index.append(r)
    return tuple(reversed(index))
