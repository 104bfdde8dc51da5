"""What the DDP scripts run under mpiexec and tests/test_distributed.py's one-process references share:
the models, the data of each step, the optimizers, one training step, and how errors are reported.
Nothing here talks to MPI."""
import numpy as np

import minidl as mdl
import minidl.nn.functional as F
from minidl import nn, optim

SEED = 0           # rank 0's (and the reference's) initial parameters; other ranks start elsewhere
FEATURES, CLASSES = 6, 3


def build_model(kind, seed=SEED):
    mdl.manual_seed(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(FEATURES, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, CLASSES))
    if kind == "batchnorm":
        return nn.Sequential(nn.Linear(FEATURES, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, CLASSES))
    raise ValueError(kind)


def make_optimizer(params, kind):
    if kind == "sgd":
        return optim.SGD(params, lr=0.1)
    if kind == "momentum":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    raise ValueError(kind)


def global_batches(steps, size, seed=1):
    """The (inputs, targets) of each step's global batch (float32 inputs, int64 targets), the same in every process."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, size, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, (steps, size))
    return [(mdl.tensor(x[k]), mdl.tensor(y[k])) for k in range(steps)]


def shard(batch, rank, ranks):
    """Rank ``rank``'s contiguous share of a global batch."""
    x, y = batch
    size = len(x) // ranks
    return x[rank * size:(rank + 1) * size], y[rank * size:(rank + 1) * size]


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def error_of(fn):
    """``[type name, message]`` of what ``fn()`` raises, or None: the scripts report misuse this way."""
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - the test reads the type and message
        return [type(err).__name__, str(err)]
    return None


def arrays(named_tensors, prefix=""):
    """``{prefix + name: NumPy copy}``, to save with np.savez."""
    return {prefix + name: t.numpy().copy() for name, t in named_tensors}
