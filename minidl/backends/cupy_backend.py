"""The GPU backend: CuPy, imported only when a "cuda" device is asked for.

CuPy mirrors NumPy, so this module only supplies device handling, the two
extras NumPy spells differently (scatter-add, host transfer), and CuPy's NCCL
bindings for the distributed nccl group.
"""
from .base import Backend, DeviceUnavailableError

NCCL_HINT = ("CuPy cannot load NCCL, the library it uses for collectives between GPUs; NCCL is one of CuPy's "
             "additional CUDA libraries: see https://docs.cupy.dev/en/stable/install.html")
INSTALL_HINT = 'install CuPy for CUDA 12 with: pip install "minidl[cuda]" (or cupy-cuda11x for CUDA 11)'


class CupyBackend(Backend):
    """Computes with CuPy on NVIDIA GPUs; devices "cuda:0", "cuda:1", ..."""

    def __init__(self):
        super().__init__()
        try:
            import cupy
            import cupyx
        except ImportError as err:
            self._import_error = err
            self.xp, self._cupyx, self.array_types = None, None, ()
        else:
            self._import_error = None
            self.xp, self._cupyx, self.array_types = cupy, cupyx, (cupy.ndarray,)

    def nccl(self):
        """CuPy's NCCL bindings (``cupy.cuda.nccl``), for the distributed nccl group; ImportError saying how to
        get NCCL where CuPy was built without it."""
        try:
            from cupy.cuda import nccl
        except ImportError as err:
            raise ImportError(f"{NCCL_HINT} ({err})") from err
        if not getattr(nccl, "available", True):
            raise ImportError(NCCL_HINT)
        return nccl

    def check_available(self, device=None):
        if self._import_error is not None:
            raise DeviceUnavailableError(
                f"device {device or 'cuda'!r} needs CuPy, which is not installed "
                f"({self._import_error}); {INSTALL_HINT}")
        try:
            count = self.xp.cuda.runtime.getDeviceCount()
        except Exception as err:  # CUDA driver missing or broken: CuPy raises its own types
            raise DeviceUnavailableError(
                f"CuPy is installed but cannot reach a CUDA GPU ({err}); "
                "check the NVIDIA driver with nvidia-smi") from err
        index = self._index(device)
        if count == 0 or index >= count:
            raise DeviceUnavailableError(
                f"device {device!r} is not present: CuPy sees {count} CUDA GPU(s)")

    @staticmethod
    def _index(device):
        _, _, index = (device or "cuda").partition(":")
        return int(index or 0)

    def canonical_device(self, kind, index):
        return f"cuda:{int(index or 0)}"

    def device_of(self, array):
        return f"cuda:{array.device.id}"

    def device_scope(self, device):
        return self.xp.cuda.Device(self._index(device))

    def synchronize(self, device):
        with self.device_scope(device):
            self.xp.cuda.get_current_stream().synchronize()

    def asarray(self, data, dtype=None, device=None):
        with self.device_scope(device):
            return self.xp.asarray(data, dtype=dtype)

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def scatter_add(self, target, index, values):
        self._cupyx.scatter_add(target, index, values)

    def erf(self, array):
        from cupyx.scipy import special
        return special.erf(array)

    def _new_generator(self, seed, device):
        with self.device_scope(device):
            return self.xp.random.default_rng(seed)
