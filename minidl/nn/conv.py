"""Convolution and pooling layers over (N, C, L) and (N, C, H, W) inputs, with PyTorch's arguments and reprs."""
import math

from .. import creation
from . import functional as F
from . import init
from .arguments import check_at_least, pair, refuse, single
from .module import Module, Parameter


class _ConvNd(Module):
    """Shared by Conv1d and Conv2d: weight (out, in, *kernel), bias (out,), PyTorch's default initialisation."""

    to_tuple = staticmethod(pair)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device="cpu", dtype=None):
        super().__init__()
        name = type(self).__name__
        refuse(name, dilation=(self.to_tuple(dilation), self.to_tuple(1)), groups=(groups, 1),
               padding_mode=(padding_mode, "zeros"))
        check_at_least(name, "in_channels", in_channels, 1)
        check_at_least(name, "out_channels", out_channels, 1)
        self.kernel_size, self.stride = self.to_tuple(kernel_size), self.to_tuple(stride)
        check_at_least(name, "kernel_size", self.kernel_size, 1)
        check_at_least(name, "stride", self.stride, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid' or a size, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = self.to_tuple(padding)
            check_at_least(name, "padding", self.padding, 0)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dilation, self.groups, self.padding_mode = self.to_tuple(1), 1, "zeros"
        self.weight = Parameter(creation.zeros(out_channels, in_channels, *self.kernel_size, device=device,
                                               dtype=dtype))
        self.register_parameter(
            "bias", Parameter(creation.zeros(out_channels, device=device, dtype=dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != self.to_tuple(0):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D convolution, weight (out_channels, in_channels, kh, kw)."""

    def forward(self, input):  # noqa: A002 - PyTorch's argument name
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L), weight (out_channels, in_channels, k)."""

    to_tuple = staticmethod(single)

    def forward(self, input):  # noqa: A002
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding)


def _check_pool(name, kernel_size, stride, padding):
    """PyTorch's pooling arguments, checked at construction; the padding at most half the kernel."""
    check_at_least(name, "kernel_size", kernel_size, 1)
    if stride is not None:
        check_at_least(name, "stride", stride, 1)
    check_at_least(name, "padding", padding, 0)
    if any(p > k / 2 for p, k in zip(pair(padding), pair(kernel_size))):
        raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {kernel_size}")


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        refuse("MaxPool2d", dilation=(dilation, 1), return_indices=(return_indices, False),
               ceil_mode=(ceil_mode, False))
        _check_pool("MaxPool2d", kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, input):  # noqa: A002
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        refuse("AvgPool2d", ceil_mode=(ceil_mode, False), divisor_override=(divisor_override, None))
        _check_pool("AvgPool2d", kernel_size, stride, padding)
        self.kernel_size, self.stride, self.padding = kernel_size, kernel_size if stride is None else stride, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, input):  # noqa: A002
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (None keeps that input size), PyTorch's bin edges."""

    def __init__(self, output_size):
        super().__init__()
        for size in pair(output_size):
            if size is not None:
                check_at_least("AdaptiveAvgPool2d", "output_size", size, 1)
        self.output_size = output_size

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
