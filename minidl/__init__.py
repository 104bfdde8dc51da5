"""minidl: a small, fast, readable deep learning framework.

``import minidl as mdl``; see README.md for a tour and ../shared/design/api.md for the contract.
"""
from . import backends
from .autograd import (defvjp, defvjp_argnum, enable_grad, is_grad_enabled, no_grad, nondifferentiable,
                       primitive, set_grad_enabled)
from .creation import (arange, as_tensor, full, get_rng_state, manual_seed, ones, ones_like, rand, randn,
                       set_rng_state, tensor, zeros, zeros_like)
from .functional import grad, hvp, jvp, value_and_grad, vjp
from .gradcheck import GradcheckError, gradcheck
from .ops import *  # noqa: F401,F403 - the differentiable functions are minidl's namespace
from .serialization import CheckpointError, load, save
from .tensor import Tensor

from . import data, nn, optim, zoo  # noqa: E402 - built on the names above

__version__ = "0.1.0"
