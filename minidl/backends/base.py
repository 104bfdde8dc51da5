"""What a backend is: an array namespace plus the few extras minidl needs."""
import contextlib
import copy


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this machine cannot provide (no library, no GPU)."""


class Backend:
    """Base class for array backends.

    Subclasses set ``xp`` (a NumPy-compatible namespace) and ``array_types`` and
    override the transfer methods. Random numbers come from one seeded
    ``xp.random.default_rng`` generator per device, so ``minidl.manual_seed``
    makes every draw repeatable.
    """

    name = None
    xp = None
    array_types = ()
    scalar_types = frozenset()  # array scalars (NumPy's float64, ...): treated as Python numbers next to tensors
    default_device = None       # set by backends.register from its first device name
    default_seed = 0

    def __init__(self):
        self._seed = self.default_seed
        self._generators = {}

    # -- devices -------------------------------------------------------------
    def check_available(self, device=None):
        """Raise DeviceUnavailableError saying what is missing; return None if usable."""

    def canonical_device(self, kind, index):
        """The device string tensors carry, e.g. "cpu" or "cuda:0"."""
        return f"{kind}:{index}" if index else kind

    def device_scope(self, device):
        """A context in which the namespace allocates on ``device`` (CuPy: the current GPU)."""
        return contextlib.nullcontext()

    def device_of(self, array):
        """The device ``array`` lives on (a backend with several devices overrides this)."""
        return self.default_device or self.name

    def synchronize(self, device):
        """Wait until queued work on ``device`` is done (before reading a clock)."""

    # -- transfer ------------------------------------------------------------
    def asarray(self, data, dtype=None, device=None):
        """``data`` (host array, list, scalar or this backend's array) as an array on ``device``."""
        raise NotImplementedError

    def to_host(self, array):
        """A NumPy array with the values of ``array`` (no copy when already on the host)."""
        raise NotImplementedError

    def dtype(self, name):
        """The namespace's dtype for a name such as "float32" (or for a NumPy dtype)."""
        name = getattr(name, "name", None) or getattr(name, "__name__", None) or str(name)
        try:
            return self.xp.dtype(name)
        except TypeError as err:
            raise TypeError(f"unknown dtype {name!r}") from err

    # -- extras the array API does not standardise ----------------------------
    def scatter_add(self, target, index, values):
        """``target[index] += values`` in place, adding repeated indices (np.add.at)."""
        raise NotImplementedError

    def may_share_memory(self, a, b):
        """Whether two arrays may overlap in memory (a quick bounds check, as numpy.may_share_memory)."""
        return bool(self.xp.may_share_memory(a, b))

    def is_row_major(self, array):
        """Whether ``array``'s elements lie in row-major (C) order without gaps, as a new array's do
        (NumPy's and CuPy's ``flags.c_contiguous``; a backend whose arrays have no flags overrides this)."""
        return bool(array.flags.c_contiguous)

    def where(self, condition, x, y):
        """``x`` where ``condition`` holds, else ``y`` (``xp.where``)."""
        return self.xp.where(condition, x, y)

    def sliding_windows(self, array, window_shape, axis):
        """A read-only view of every ``window_shape`` window along ``axis`` (NumPy's sliding_window_view)."""
        return self.xp.lib.stride_tricks.sliding_window_view(array, window_shape, axis=axis)

    def erf(self, array):
        """The error function, elementwise (NumPy has none; SciPy and CuPy's cupyx do)."""
        raise NotImplementedError(f"backend {self.name!r} does not provide erf")

    def expit(self, array):
        """The logistic sigmoid 1 / (1 + exp(-x)), accurate in both tails.

        exp(-|x|) lies in (0, 1], so nothing overflows, and for x < 0 the result is
        e / (1 + e), which keeps the tiny values (4e-8 at x = -17) that 1 - something rounds away.
        """
        xp = self.xp
        if array.dtype.kind in "biu":
            array = array.astype(xp.float64)  # as NumPy's exp promotes integers (and booleans, as PyTorch takes)
        e = xp.exp(-xp.abs(array))
        return xp.where(array >= 0, 1, e) / (1 + e)

    # -- random numbers ------------------------------------------------------
    def seed(self, seed):
        """Restart every device's generator from ``seed``."""
        self._seed = seed
        self._generators.clear()

    def generator(self, device):
        """The seeded generator of ``device`` (created on first use)."""
        gen = self._generators.get(device)
        if gen is None:
            gen = self._generators[device] = self._new_generator(self._seed, device)
        return gen

    def _new_generator(self, seed, device):
        return self.xp.random.default_rng(seed)

    def get_rng_state(self, device):
        """A snapshot of ``device``'s generator, for ``set_rng_state``."""
        return copy.deepcopy(self.generator(device))

    def set_rng_state(self, device, state):
        self._generators[device] = copy.deepcopy(state)

    def __repr__(self):
        return f"<minidl backend {self.name!r} ({getattr(self.xp, '__name__', self.xp)})>"
