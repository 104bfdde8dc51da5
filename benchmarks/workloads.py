"""The workloads the benchmarks time, each in minidl and as the floor (hand-written NumPy backprop).

Shared by the pytest-benchmark suite (benchmarks/) and scripts/bench.py, so the
numbers in both come from the same code. PyTorch versions are built only when
PyTorch is installed.
"""
import gc
import tracemalloc

import numpy as np

import minidl as mdl
from minidl import nn, optim

SEED_SIZES = (784, 256, 10)
LR = 0.1


def image_batch(batch, seed=0):
    """A batch of realistic (N, 1, 28, 28) images and labels: Fashion-MNIST's first training images
    (pixels in [0, 1]) where the Debian package is installed, else uniform values in [0, 1).

    Standard-normal inputs, used before, made the textbook sigmoid of the floor overflow on part of
    every batch (slow in NumPy), which pixel data never does: the floor looked slower than it is.
    """
    head = fashion_mnist_head()
    if head is not None and batch <= len(head[0]):
        return head[0][:batch], head[1][:batch]
    rng = np.random.default_rng(seed)
    return rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, SEED_SIZES[-1], batch)


def seed_data(batch, seed=0):
    """The seed network's batch: images flattened to 784 features."""
    x, y = image_batch(batch, seed)
    return np.ascontiguousarray(x.reshape(batch, -1)), y


_head = []


def fashion_mnist_head(n=1024):
    """The first ``n`` Fashion-MNIST training images and labels, or None when the data is not installed."""
    if not _head:
        from minidl import data
        try:
            train = data.load_dataset("fashion-mnist", "train", download=False)
            _head.append((train.inputs[:n].copy(), train.targets[:n].copy()))
        except (data.DatasetUnavailableError, data.IDXError, data.ChecksumError):
            _head.append(None)
    return _head[0]


def input_description():
    return "Fashion-MNIST images" if fashion_mnist_head() is not None else "uniform [0, 1) (Fashion-MNIST not installed)"


def seed_params(seed=0):
    """W1, b1, W2, b2 of the 784-256-10 network, PyTorch's default init, float32."""
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = SEED_SIZES
    b1, b2 = 1 / np.sqrt(n_in), 1 / np.sqrt(n_hidden)
    return [rng.uniform(-b1, b1, (n_hidden, n_in)).astype(np.float32), rng.uniform(-b1, b1, n_hidden).astype(np.float32),
            rng.uniform(-b2, b2, (n_out, n_hidden)).astype(np.float32), rng.uniform(-b2, b2, n_out).astype(np.float32)]


class NumpySeedStep:
    """One SGD step of Linear -> Sigmoid -> Linear -> cross-entropy, gradients written out by hand.

    ``xp`` is NumPy, or CuPy for the floor on a GPU.
    """

    def __init__(self, batch, xp=np):
        self.params = [xp.asarray(p) for p in seed_params()]
        x, y = seed_data(batch)
        self.x, self.y = xp.asarray(x), xp.asarray(y)
        self.rows = xp.arange(batch)
        self.xp = xp

    def __call__(self):
        xp, (w1, b1, w2, b2) = self.xp, self.params
        x, y, n = self.x, self.y, len(self.y)
        z0 = x @ w1.T
        z0 += b1
        z1 = 1 / (1 + xp.exp(-z0))
        logits = z1 @ w2.T
        logits += b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        loss = xp.mean(xp.log(total[:, 0]) - shifted[self.rows, y])
        g = exp / total
        g[self.rows, y] -= 1
        g /= n
        dw2, db2 = g.T @ z1, g.sum(axis=0)
        dz1 = g @ w2
        dz0 = dz1 * z1 * (1 - z1)
        dw1, db1 = dz0.T @ x, dz0.sum(axis=0)
        self.grads = [dw1, db1, dw2, db2]
        for p, d in zip(self.params, self.grads):
            p -= LR * d
        return loss


class MinidlSeedStep:
    """The same step written as a minidl user would: nn.Sequential, CrossEntropyLoss, optim.SGD."""

    def __init__(self, batch, device="cpu"):
        self.model = nn.Sequential(nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 10)).to(device)
        for p, value in zip(self.model.parameters(), seed_params()):
            p.data = mdl.tensor(value, device=device).data
        self.params = list(self.model.parameters())
        self.optimizer = optim.SGD(self.params, lr=LR)
        self.loss_fn = nn.CrossEntropyLoss()
        x, y = seed_data(batch)
        self.x, self.y = mdl.tensor(x, device=device), mdl.tensor(y, device=device)

    def __call__(self):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.grads = [p.grad for p in self.params]
        self.optimizer.step()
        return loss


class TorchSeedStep:
    """The same step in PyTorch (CPU or CUDA)."""

    def __init__(self, batch, device="cpu"):
        import torch
        self.torch = torch
        self.model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Sigmoid(), torch.nn.Linear(256, 10))
        with torch.no_grad():
            for p, value in zip(self.model.parameters(), seed_params()):
                p.copy_(torch.from_numpy(value))
        self.model.to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        x, y = seed_data(batch)
        self.x, self.y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def __call__(self):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss


# -- backward through a long chain of elementwise ops -------------------------------

CHAIN_SCALE = 0.999


def minidl_chain(length, shape, device="cpu"):
    """A leaf and the scalar at the end of ``length`` ops alternating sin and multiply-by-constant."""
    x = mdl.tensor(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32), device=device,
                   requires_grad=True)
    y = x
    for i in range(length):
        y = mdl.sin(y) if i % 2 == 0 else y * CHAIN_SCALE
    return x, y.sum()


class NumpyChain:
    """The same chain with its backward written by hand: the floor for the engine's overhead.

    ``backward()`` keeps the saved inputs, so it can run again; ``backward(release=True)`` drops each one once
    used, as minidl and PyTorch free a record during backward (once only: it empties the chain).
    """

    def __init__(self, length, shape, xp=np):
        self.length, self.xp = length, xp
        self.x = xp.asarray(np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32))
        self.saved = []
        y = self.x
        for i in range(length):
            if i % 2 == 0:
                self.saved.append(y)
                y = xp.sin(y)
            else:
                y = y * CHAIN_SCALE
        self.out = y.sum()

    def backward(self, release=False):
        g = self.xp.ones_like(self.x)
        if release:
            saved, self.saved = self.saved, None
            take = saved.pop
        else:
            take = iter(reversed(self.saved)).__next__
        for i in reversed(range(self.length)):
            g = g * self.xp.cos(take()) if i % 2 == 0 else g * CHAIN_SCALE
        return g


# -- LeNet-5 and the deep MLP used for checkpointing -----------------------------------------

def lenet_step(batch, device="cpu"):
    """A closure running one SGD-momentum step of the zoo's LeNet-5 on a batch of 1x28x28 images."""
    from minidl import zoo
    mdl.manual_seed(0)
    model = zoo.create("lenet5").to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = image_batch(batch)
    x, y = mdl.tensor(x, device=device), mdl.tensor(y, device=device)
    return training_step(model, optimizer, nn.CrossEntropyLoss(), x, y)


def torch_lenet_step(batch, device="cpu"):
    import torch
    torch.manual_seed(0)
    t = torch.nn
    model = t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2), t.Conv2d(6, 16, 5), t.ReLU(),
                         t.MaxPool2d(2), t.Flatten(), t.Linear(400, 120), t.ReLU(), t.Linear(120, 84), t.ReLU(),
                         t.Linear(84, 10)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = image_batch(batch)
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    return training_step(model, optimizer, t.CrossEntropyLoss(), x, y)


def training_step(model, optimizer, loss_fn, x, y):
    """A closure running one optimizer step (minidl and PyTorch spell it the same)."""
    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def checkpoint_step(model, x, segments):
    """One backward of the deep MLP, checkpointed in ``segments`` (0: plain)."""
    model.zero_grad()
    out = nn.checkpoint_sequential(model, segments, x) if segments else model(x)
    loss = out.square().mean()
    loss.backward()
    return loss


def held_for_backward(model, x, segments):
    """(bytes the forward pass leaves alive for backward, peak bytes during it), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    loss = (nn.checkpoint_sequential(model, segments, x) if segments else model(x)).square().mean()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    loss.backward()
    return held, peak


def deep_mlp(depth=32, width=1024):
    mdl.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers)
