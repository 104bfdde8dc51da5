"""Per-thread switches: grad mode, the backward pass's array mode, and anomaly mode.

Every switch belongs to the thread that sets it, as in PyTorch: ``no_grad()`` in one
thread, or a ``backward()`` running in one, never changes what another thread records.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading


class _Switches(threading.local):
    """One instance per thread; the class attributes are each thread's starting values."""

    grad_enabled = True  # ops on tensors that require grad are recorded
    raw_arrays = False   # ops on plain arrays return plain arrays (set while VJPs run)
    anomaly = False      # forward outputs and VJP results are checked for NaN/Inf
    new_nodes = None     # a list collecting the nodes recorded here (checkpointing's boundary)


switches = _Switches()
anomaly_threads = 0  # threads inside detect_anomaly(): lets every op skip the per-thread check when 0
collecting_threads = 0  # threads inside collect_nodes(), for the same reason
_anomaly_lock = threading.Lock()


def is_grad_enabled() -> bool:
    """Whether ops on tensors that require grad are being recorded in this thread."""
    return switches.grad_enabled


class _Switch(contextlib.ContextDecorator):
    """Sets a switch for the duration of a ``with`` block (or a decorated function call)."""

    name = ""
    value = None

    def _recreate_cm(self):
        # a decorated function may run in several threads at once: each call gets its own record
        # of the previous value, so no call restores another thread's state
        return type(self)(*self._args())

    def _args(self):
        return ()

    def __enter__(self):
        self.previous = getattr(switches, self.name)
        setattr(switches, self.name, self.value)
        return self

    def __exit__(self, *exc):
        setattr(switches, self.name, self.previous)
        return False

    def __call__(self, func):
        """Decorate ``func``: each call runs with the switch set; a generator function, each of its steps."""
        if not inspect.isgeneratorfunction(func):
            return super().__call__(func)

        @functools.wraps(func)
        def steps(*args, **kwargs):
            gen, sent = func(*args, **kwargs), None
            while True:
                with self._recreate_cm():
                    try:
                        item = gen.send(sent)
                    except StopIteration as stop:
                        return stop.value
                sent = yield item
        return steps


class _Flag(_Switch):
    """A switch taking no argument, usable as ``@switch`` as well as ``@switch()`` (as PyTorch's)."""

    def __new__(cls, func=None):
        if func is None:
            return super().__new__(cls)
        return cls()(func)


class no_grad(_Flag):
    """Record nothing inside the block (evaluation, optimizer updates); also a decorator."""

    name, value = "grad_enabled", False


class enable_grad(_Flag):
    """Record again inside a ``no_grad`` block; also a decorator."""

    name, value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """Turn recording on or off: at once when called, until the end of the block when used with ``with``.

    As PyTorch's: ``set_grad_enabled(False)`` alone switches this thread off until switched back.
    """

    name = "grad_enabled"

    def __init__(self, mode: bool):
        self.value = bool(mode)
        self.previous = switches.grad_enabled
        switches.grad_enabled = self.value

    def _args(self):
        return (self.value,)

    def __call__(self, func):
        # used as a decorator, the call that made this object must not leave the thread switched
        switches.grad_enabled = self.previous
        return super().__call__(func)

    def __enter__(self):
        return self  # the switch was already set by __init__


class raw_arrays(_Switch):
    """Inside the backward pass: ops on plain arrays return plain arrays, so VJPs run at array speed."""

    name = "raw_arrays"

    def __init__(self, value: bool = True):
        self.value = value

    def _args(self):
        return (self.value,)


# the values of switches.anomaly: each node records its call site (and order); with TRACE_VALUES also a copy
# of its output and its constant operands (mdl.trace); with CHECK_NAN outputs and gradients are checked
RECORD_STACKS, TRACE_VALUES, CHECK_NAN = 1, 2, 3


class detect_anomaly(_Switch):
    """Check every op for NaN/Inf: a forward op producing one raises naming the op, and a VJP
    producing one raises naming the op and the file:line of the forward call that recorded it.

    ``check_nan=False`` (as PyTorch's) only records where each op was called. Costs nothing
    outside the block: the call stacks are captured only inside it. Also a decorator.
    """

    name = "anomaly"

    def __init__(self, check_nan: bool = True):
        self.value = CHECK_NAN if check_nan else RECORD_STACKS

    def _args(self):
        return (self.value == CHECK_NAN,)

    def __enter__(self):
        global anomaly_threads
        with _anomaly_lock:
            anomaly_threads += 1
        return super().__enter__()

    def __exit__(self, *exc):
        global anomaly_threads
        super().__exit__(*exc)
        with _anomaly_lock:
            anomaly_threads -= 1
        return False


class collect_nodes:
    """Inside the block, every node recorded in this thread is appended to ``self.nodes``
    (checkpointing tells the nodes its function made from the ones it found)."""

    def __enter__(self) -> "collect_nodes":
        global collecting_threads
        self.nodes, self.previous = [], switches.new_nodes
        switches.new_nodes = self.nodes
        with _anomaly_lock:
            collecting_threads += 1
        return self

    def __exit__(self, *exc) -> bool:
        global collecting_threads
        switches.new_nodes = self.previous
        with _anomaly_lock:
            collecting_threads -= 1
        return False


def is_anomaly_enabled() -> bool:
    """Whether this thread is inside ``detect_anomaly()``."""
    return bool(switches.anomaly)


def is_anomaly_check_nan_enabled() -> bool:
    """Whether this thread is inside ``detect_anomaly()`` with its NaN/Inf checks on (PyTorch's name)."""
    return switches.anomaly == CHECK_NAN


class trace_values(detect_anomaly):
    """``detect_anomaly(check_nan=False)`` in which each node also keeps a copy of its output and describes
    its constant operands: ``mdl.trace`` writes the evaluation trace from them."""

    def __init__(self):
        self.value = TRACE_VALUES

    def _args(self):
        return ()
