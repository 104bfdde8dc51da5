"""The CPU backend: NumPy."""
import numpy

from .base import Backend

_NUMBERS = (int, float)


class NumpyBackend(Backend):
    """Computes with NumPy on the host; device "cpu"."""

    xp = numpy
    array_types = (numpy.ndarray, numpy.generic)
    scalar_types = frozenset(t for t in numpy.sctypeDict.values() if issubclass(t, numpy.generic))

    def asarray(self, data, dtype=None, device=None):
        if hasattr(data, "__cuda_array_interface__") and hasattr(data, "get"):
            data = data.get()  # a CuPy array: copy to the host
        return numpy.asarray(data, dtype=dtype)

    def to_host(self, array):
        return numpy.asarray(array)

    def scatter_add(self, target, index, values):
        numpy.add.at(target, index, values)

    def expit(self, array):
        if array.dtype.kind != "f":
            return super().expit(array)
        # The textbook form is accurate in both tails (1 + exp(-x) has full relative precision) and the fastest
        # here: NumPy's exp is vectorised (SciPy's expit is a scalar loop, about twice as slow). Below
        # x = -88 (float32) exp(-x) overflows to inf and the result is 0, the subnormal true value rounded.
        with numpy.errstate(over="ignore"):
            return 1 / (1 + numpy.exp(-array))

    def where(self, condition, x, y):
        # numpy.where branches on every element: on a mask such as a ReLU's, true about half the time at
        # random, it mispredicts and runs 10x slower than a multiply by the mask. So "x where condition,
        # else 0" (every ReLU and max-pool gradient) is that multiply, unless x holds an Inf or NaN, which
        # the multiply would spread where the mask is false (-0.0 may stand for 0 where x < 0).
        if y.__class__ in _NUMBERS and y == 0 and condition.__class__ is numpy.ndarray and condition.dtype == bool \
                and x.__class__ is numpy.ndarray:
            if x.dtype.kind != "f" or numpy.isfinite(x).all():
                return x * condition
        return numpy.where(condition, x, y)

    def erf(self, array):
        from scipy import special  # imported on first use: SciPy takes a while to load
        return special.erf(array)
