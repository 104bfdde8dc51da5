"""The backend registry: routing devices, clear errors for missing GPUs, and a backend minidl does not ship."""
import collections
import pathlib
import re
import sys
import types

import numpy as np
import pytest

import minidl as mdl
from minidl import backends
from minidl.backends.cupy_backend import CupyBackend

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED_TO_IMPORT_ARRAY_LIBRARIES = ("minidl/backends/", "minidl/data/", "minidl/serialization.py")


def cuda_usable():
    try:
        backends.resolve("cuda")
    except backends.DeviceUnavailableError:
        return False
    return True


requires_cuda = pytest.mark.skipif(not cuda_usable(), reason="needs CuPy and a CUDA GPU, not present here")


# -- a third backend: NumPy under its own array type, namespace and device name ------

class HostArray(np.ndarray):
    """Arrays of the test backend: a type of their own, so only the registry can route them."""


class CountingNamespace:
    """NumPy's functions, counting every call and returning HostArrays."""

    def __init__(self):
        self.calls = collections.Counter()

    def __getattr__(self, name):
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def call(*args, **kwargs):
            self.calls[name] += 1
            out = attr(*args, **kwargs)
            return out.view(HostArray) if isinstance(out, np.ndarray) else out
        return call


class WrappedBackend(backends.Backend):
    array_types = (HostArray,)

    def __init__(self):
        super().__init__()
        self.xp = CountingNamespace()

    def asarray(self, data, dtype=None, device=None):
        if isinstance(data, np.ndarray):
            data = data.view(np.ndarray)
        return np.array(data, dtype=dtype).view(HostArray)

    def to_host(self, array):
        return np.asarray(array).view(np.ndarray)

    def scatter_add(self, target, index, values):
        np.add.at(target, index, values)


@pytest.fixture(scope="module")
def wrapped():
    backend = WrappedBackend()
    backends.register("wrapped", backend, devices=("npwrap",))
    return backend


def small_network_loss(x, w1, b1, w2, b2, target):
    hidden = mdl.sigmoid(mdl.linear(x, w1, b1))
    windows = mdl.im2col(hidden.reshape(4, 1, 2, 3), 2, 2)  # exercise the conv kernel too
    logits = mdl.linear(windows.reshape(4, -1).relu(), w2, b2)
    return mdl.cross_entropy(logits, target)


def network_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in [(4, 5), (6, 5), (6,), (3, 8), (3,)]]


def train_step_on(device):
    x, w1, b1, w2, b2 = (mdl.tensor(a, device=device, requires_grad=i > 0) for i, a in enumerate(network_arrays()))
    target = mdl.tensor([0, 2, 1, 2], device=device)
    loss = small_network_loss(x, w1, b1, w2, b2, target)
    loss.backward()
    return loss, [w1, b1, w2, b2]


def test_registered_backend_runs_forward_and_backward(wrapped):
    loss, params = train_step_on("npwrap")
    ref_loss, ref_params = train_step_on("cpu")
    assert loss.device == "npwrap" and isinstance(loss.data, HostArray | np.generic)
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-6)
    for p, ref in zip(params, ref_params):
        assert p.grad.device == "npwrap"
        np.testing.assert_allclose(p.grad.numpy(), ref.grad.numpy(), rtol=1e-5, atol=1e-6)
    # the computation went through the registered namespace, not numpy imported by minidl
    # abs: the generic sigmoid. (max and sum are array methods in the fused cross-entropy, not namespace calls.)
    for fn in ("matmul", "abs", "exp", "empty", "zeros"):
        assert wrapped.xp.calls[fn] > 0, fn


def test_registered_backend_is_listed_and_resolves_its_device(wrapped):
    assert "wrapped" in backends.available()
    assert backends.get("wrapped") is wrapped
    assert backends.resolve("npwrap") == (wrapped, "npwrap")


def test_mixing_devices_names_both(wrapped):
    a, b = mdl.ones(3), mdl.ones(3, device="npwrap")
    with pytest.raises(RuntimeError, match="different devices, cpu and npwrap"):
        a + b


def test_moving_between_backends(wrapped):
    x = mdl.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("npwrap")
    assert y.device == "npwrap" and isinstance(y.data, HostArray) and y.requires_grad
    assert np.array_equal(y.cpu().numpy(), [1.0, 2.0])


def test_register_rejects_non_backends():
    with pytest.raises(TypeError, match="expected a minidl.backends.Backend"):
        backends.register("bad", object(), devices=("bad",))


# -- the shipped backends -------------------------------------------------------------

def test_numpy_backend_serves_cpu():
    backend, device = backends.resolve("cpu")
    assert backend is backends.get("numpy") and device == "cpu" and backend.xp is np
    assert "numpy" in backends.available()


def test_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mdl.zeros(2, device="tpu")


@pytest.mark.skipif("cupy" in sys.modules or cuda_usable(), reason="CuPy is installed here")
def test_cuda_without_cupy_says_how_to_install_and_never_falls_back():
    with pytest.raises(backends.DeviceUnavailableError, match=r'needs CuPy.*pip install "minidl\[cuda\]"'):
        mdl.zeros(2, device="cuda")
    with pytest.raises(backends.DeviceUnavailableError):
        mdl.ones(2).to("cuda:0")
    assert "cupy" not in backends.available()


def test_cuda_with_cupy_but_no_gpu_says_the_gpu_is_missing(monkeypatch):
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 0)
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.cuda = types.SimpleNamespace(runtime=runtime)
    fake_cupy.ndarray = type("ndarray", (), {})
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))
    with pytest.raises(backends.DeviceUnavailableError, match=r"'cuda:1' is not present: CuPy sees 0 CUDA GPU"):
        CupyBackend().check_available("cuda:1")


def test_core_never_imports_an_array_library():
    pattern = re.compile(r"^\s*(import|from)\s+(numpy|cupy)\b", re.MULTILINE)
    offenders = []
    for path in (ROOT / "minidl").rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(ALLOWED_TO_IMPORT_ARRAY_LIBRARIES) and pattern.search(path.read_text()):
            offenders.append(rel)
    assert not offenders, f"import numpy/cupy outside backends/: {offenders}"


@requires_cuda
def test_cuda_forward_and_backward_match_cpu():
    loss, params = train_step_on("cuda")
    ref_loss, ref_params = train_step_on("cpu")
    assert loss.device == "cuda:0"
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-5)
    for p, ref in zip(params, ref_params):
        np.testing.assert_allclose(p.grad.numpy(), ref.grad.numpy(), rtol=1e-4, atol=1e-5)


@requires_cuda
def test_cuda_seeded_draws_repeat():
    mdl.manual_seed(3)
    a = mdl.randn(4, device="cuda").numpy()
    mdl.manual_seed(3)
    assert np.array_equal(a, mdl.randn(4, device="cuda").numpy())
