"""The backend registry: which array library computes for which device.

A backend owns an array namespace ``xp`` (NumPy, CuPy, or anything that mirrors
NumPy) plus the few extras minidl needs that the namespace does not standardise:
moving arrays between host and device, scatter-add, and seeded random numbers.
Everything above this package asks a tensor's backend instead of importing an
array library, which is what keeps minidl pluggable.

Devices are strings: ``"cpu"`` maps to NumPy, ``"cuda"``/``"cuda:N"`` to CuPy,
and a registered backend claims device names of its own.
"""
from .base import Backend, DeviceUnavailableError
from .numpy_backend import NumpyBackend

__all__ = ["Backend", "DeviceUnavailableError", "available", "get", "register", "resolve", "namespace",
           "backend_of_array", "is_array", "device_of", "host_scalar_types"]

_backends = {}          # name -> Backend
_device_types = {}      # device type ("cpu", "cuda", ...) -> backend name
_lazy = {}              # name -> factory for backends imported on first use
_backend_by_type = {}   # array type -> Backend, filled on first sight of a type


def register(name, backend, devices=()):
    """Add ``backend`` under ``name`` and route each device type in ``devices`` to it."""
    if not isinstance(backend, Backend):
        raise TypeError(f"register({name!r}): expected a minidl.backends.Backend, "
                        f"got {type(backend).__name__}")
    backend.name = name
    if devices:
        backend.default_device = devices[0]
    _backends[name] = backend
    _lazy.pop(name, None)
    for device in devices:
        _device_types[device.split(":")[0]] = name
    _backend_by_type.clear()


def _register_lazy(name, factory, devices):
    _lazy[name] = factory
    for device in devices:
        _device_types[device] = name


def get(name):
    """The backend registered as ``name``; imports a lazy backend (CuPy) on first use."""
    if name not in _backends:
        if name not in _lazy:
            raise KeyError(f"no backend named {name!r}; registered: {sorted({*_backends, *_lazy})}")
        register(name, _lazy[name](), devices=())
    return _backends[name]


def available():
    """Names of the backends that can compute on this machine right now."""
    names = []
    for name in [*_backends, *_lazy]:
        try:
            get(name).check_available()
        except DeviceUnavailableError:
            continue
        names.append(name)
    return names


def resolve(device):
    """``(backend, canonical device string)`` for a device such as "cpu", "cuda" or "cuda:1"
    (None means the default device, the CPU, as PyTorch's ``device=None``)."""
    if device is None:
        device = "cpu"
    if not isinstance(device, str):
        device = str(device)
    kind, _, index = device.partition(":")
    name = _device_types.get(kind)
    if name is None:
        raise ValueError(f"unknown device {device!r}; known device types: {sorted(_device_types)}")
    backend = get(name)
    backend.check_available(device)
    return backend, backend.canonical_device(kind, index)


def namespace(array):
    """The array namespace (``xp``) that computes on ``array``."""
    try:
        return _backend_by_type[type(array)].xp
    except KeyError:
        return backend_of_array(array).xp


def backend_of_array(array):
    """The registered backend whose array types include ``type(array)``."""
    backend = _backend_by_type.get(type(array))
    if backend is not None:
        return backend
    for backend in reversed(_backends.values()):  # a later registration may wrap an earlier type
        if isinstance(array, backend.array_types):
            _backend_by_type[type(array)] = backend
            return backend
    raise TypeError(f"no registered backend handles arrays of type {type(array).__name__}")


def device_types():
    """The device types a tensor can live on ("cpu", "cuda", and any a registered backend claims)."""
    return sorted(_device_types)


def is_array(value):
    """True for an array (or array scalar) of any registered backend."""
    try:
        backend_of_array(value)
    except TypeError:
        return False
    return True


def device_of(array):
    """The device an array of a registered backend lives on ("cpu", "cuda:1", ...)."""
    return backend_of_array(array).device_of(array)


def host_scalar_types():
    """The scalar types of the registered backends (NumPy's ``float64``, ``int64``, ...)."""
    return frozenset().union(*(b.scalar_types for b in _backends.values()))


register("numpy", NumpyBackend(), devices=("cpu",))


def _make_cupy():
    from .cupy_backend import CupyBackend
    return CupyBackend()


_register_lazy("cupy", _make_cupy, devices=("cuda",))
