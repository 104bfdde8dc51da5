"""minidl: a small, fast, readable deep learning framework.

``import minidl as mdl``; see README.md for a tour and ../shared/design/api.md for the contract.
"""
from . import backends
from .dtypes import bool_ as bool  # noqa: A001 - PyTorch's dtype names
from .dtypes import float16, float32, float64, int8, int16, int32, int64, uint8
from .dtypes import float16 as half, float32 as float, float64 as double, int32 as int, int64 as long, int16 as short  # noqa: A001,E501
from .modes import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad,
                    set_grad_enabled)
from .tensor import Tensor, ValuesIndices, is_tensor
from .autograd import defvjp, defvjp_argnum, nondifferentiable, primitive
from .creation import (arange, as_tensor, eye, full, get_rng_state, manual_seed, ones, ones_like, rand, randn,
                       set_rng_state, tensor, zeros, zeros_like)
from .devices import accelerator, cuda, device
from .functional import grad, hvp, jvp, value_and_grad, vjp
from .gradcheck import GradcheckError, gradcheck
from .ops import *  # noqa: F401,F403 - the differentiable functions are minidl's namespace
from .anomaly import AnomalyError
from .serialization import CheckpointError, load, save
from .dlpack import from_dlpack
from . import autograd, engine  # noqa: F401 - mdl.autograd.grad as torch.autograd.grad
from . import linalg  # noqa: F401 - mdl.linalg.inv, ... as torch.linalg and numpy.linalg
from .trace import Trace, trace
from .graph_report import GraphReport, graph, label_modules
from .modes import is_anomaly_check_nan_enabled

from . import data, nn, optim, zoo  # noqa: E402 - built on the names above
from . import utils  # noqa: E402 - torch.utils.data's path to data

__version__ = "0.2.0"
