"""The built-in layers. Default initializations follow PyTorch's and are
stated in each docstring; all draw from ember's seeded host generator."""

import inspect
import math
import numbers

import ember
from ember.errors import ShapeError

from . import functional as F
from . import volumetric
from . import init
from .module import LayerExample, Module, Parameter


class Linear(Module):
    """y = x @ W.T + b. Init: W and b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform, a=sqrt(5))."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, backend=None):
        super().__init__()
        if not all(isinstance(n, numbers.Integral) and n >= 0 for n in (in_features, out_features)):
            raise ValueError(f"Linear: in_features and out_features must be ints >= 0, got "
                             f"{in_features!r} and {out_features!r}")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(init.kaiming_uniform((out_features, in_features), a=math.sqrt(5),
                                                     dtype=dtype, backend=backend))
        self.bias = Parameter(init.uniform((out_features,), -bound, bound, dtype, backend)) \
            if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"

    @classmethod
    def example(cls):
        return LayerExample({"in_features": 5, "out_features": 3}, shape=(4, 5), bad_shape=(4, 6))


#: the convolutions' padding_mode, as PyTorch's: zeros, or F.pad's mode of the input first
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _Conv(Module):
    """What the convolution layers share: the groups check, PyTorch's init (weight
    kaiming_uniform with a = sqrt(5), bias uniform within 1 / sqrt(fan_in)), padding_mode
    and repr."""

    #: the settings the repr shows after the channels and kernel size
    shown = ("stride", "padding", "dilation", "groups")
    padding_mode = "zeros"

    def _set_padding_mode(self, padding_mode):
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{type(self).__name__}: padding_mode must be one of "
                             f"{', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode

    def _convolve(self, conv, x):
        """conv(x, ...) with the layer's settings; for a padding_mode other than zeros, x
        padded in that mode by F.pad first and convolved without padding (PyTorch's
        _conv_forward; "same" puts the odd element of its padding after)."""
        padding = self.padding
        if self.padding_mode != "zeros":
            dims = len(self.kernel_size)

            def axes(v):
                return (v,) * dims if isinstance(v, int) else tuple(v)
            if padding in ("same", "valid"):
                low, extra = F._conv_padding(padding, self.kernel_size, axes(self.stride),
                                             axes(self.dilation), type(self).__name__)
                pairs = [(p, p + e) for p, e in zip(low, extra)]
            else:
                pairs = [(p, p) for p in axes(padding)]
            x = F.pad(x, [w for pair in reversed(pairs) for w in pair], mode=self.padding_mode)
            padding = 0
        return conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _make_weights(self, in_channels, out_channels, kernel, groups, bias, dtype, backend,
                    transposed=False):
        name = type(self).__name__
        F._check_groups(name, groups)
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{name}: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups={groups}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        shape = (in_channels, out_channels // groups, *kernel) if transposed else \
            (out_channels, in_channels // groups, *kernel)
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), dtype=dtype,
                                                     backend=backend))
        fan_in = init.fans(shape)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0      # as PyTorch
        self.bias = Parameter(init.uniform((out_channels,), -bound, bound, dtype, backend)) \
            if bias else None

    def extra_repr(self):
        shown = self.shown + (("padding_mode",) if self.padding_mode != "zeros" else ())
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " + \
            ", ".join(f"{k}={getattr(self, k)!r}" if k == "padding_mode" else
                      f"{k}={getattr(self, k)}" for k in shown)


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W). Init as Linear with fan_in = in/groups * kh * kw."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None, backend=None):
        super().__init__()
        kernel = F._pair(kernel_size, "kernel_size", "Conv2d")
        F._conv_padding(padding, kernel, F._pair(stride, "stride", "Conv2d"),   # checked now
                        F._pair(dilation, "dilation", "Conv2d"))
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self._set_padding_mode(padding_mode)
        self._make_weights(in_channels, out_channels, kernel, groups, bias, dtype, backend)

    def forward(self, x):
        return self._convolve(F.conv2d, x)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                             "padding": 1, "dilation": 1, "groups": 2}, shape=(2, 4, 7, 6),
                            bad_shape=(2, 3, 7, 6), scale=3)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) (F.conv1d). Init as Linear with fan_in = in/groups * k,
    as PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None, backend=None):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self._set_padding_mode(padding_mode)
        self._make_weights(in_channels, out_channels,
                         (F._single(kernel_size, "kernel_size", "Conv1d"),), groups, bias, dtype,
                         backend)

    def forward(self, x):
        return self._convolve(F.conv1d, x)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                             "padding": 1, "dilation": 2, "groups": 2}, shape=(2, 4, 9),
                            bad_shape=(2, 3, 9), scale=3)


class ConvTranspose2d(_Conv):
    """Transposed 2-D convolution over (N, C, H, W) (F.conv_transpose2d): weight (in,
    out/groups, kh, kw), init as PyTorch's (fan_in = out/groups * kh * kw)."""

    shown = ("stride", "padding", "output_padding", "groups", "dilation")
    function = "conv_transpose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=None, backend=None):
        super().__init__()
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation
        self._make_weights(in_channels, out_channels, self._kernel(kernel_size), groups, bias,
                           dtype, backend, transposed=True)

    def _kernel(self, kernel_size):
        return F._pair(kernel_size, "kernel_size", type(self).__name__)

    def forward(self, x):
        return getattr(F, self.function)(x, self.weight, self.bias, self.stride, self.padding,
                                         self.output_padding, self.groups, self.dilation)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                             "padding": 1, "output_padding": 1, "groups": 2}, shape=(2, 4, 4, 3),
                            bad_shape=(2, 3, 4, 3), scale=3)


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W) (F.conv3d). Init as Linear with fan_in =
    in/groups * kd * kh * kw, as PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None, backend=None):
        super().__init__()
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self._set_padding_mode(padding_mode)
        self._make_weights(in_channels, out_channels,
                           volumetric._triple(kernel_size, "kernel_size", "Conv3d"), groups, bias,
                           dtype, backend)

    def forward(self, x):
        return self._convolve(F.conv3d, x)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2, 3),
                             "stride": (2, 1, 1), "padding": 1, "groups": 2},
                            shape=(2, 4, 5, 4, 3), bad_shape=(2, 3, 5, 4, 3), scale=3)


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution over (N, C, L) (F.conv_transpose1d): weight (in,
    out/groups, k), init as PyTorch's."""

    function = "conv_transpose1d"

    def _kernel(self, kernel_size):
        return (F._single(kernel_size, "kernel_size", "ConvTranspose1d"),)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 2,
                             "padding": 1, "output_padding": 1, "groups": 2}, shape=(2, 4, 5),
                            bad_shape=(2, 3, 5), scale=3)


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-D convolution over (N, C, D, H, W) (F.conv_transpose3d): weight (in,
    out/groups, kd, kh, kw), init as PyTorch's."""

    function = "conv_transpose3d"

    def _kernel(self, kernel_size):
        return volumetric._triple(kernel_size, "kernel_size", "ConvTranspose3d")

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2, 2),
                             "stride": (2, 1, 2), "padding": (1, 0, 1),
                             "output_padding": (1, 0, 0), "groups": 2},
                            shape=(2, 4, 3, 4, 3), bad_shape=(2, 3, 3, 4, 3), scale=3)


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor`` (F.interpolate). No parameters."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"

    @classmethod
    def example(cls):
        return LayerExample({"scale_factor": 1.5, "mode": "bilinear"}, shape=(2, 3, 4, 5),
                            bad_shape=(2, 3, 4))


class UpsamplingNearest2d(Upsample):
    """Upsample with mode 'nearest' (PyTorch's older name)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode 'bilinear' and align_corners=True (PyTorch's older name)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", align_corners=True)


class _Functional(Module):
    """A layer of no parameters around one functional.py function (``function``, a
    pooling or Unfold's): its arguments, kept under PyTorch's names, go to it in order."""

    function, arguments, shown = None, (), 3

    def forward(self, x):
        return getattr(F, self.function)(x, *(getattr(self, name) for name in self.arguments))

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)}" for name in self.arguments[:self.shown])


class MaxPool2d(_Functional):
    """Maximum over each window (F.max_pool2d); stride defaults to the kernel size."""

    function = "max_pool2d"
    arguments = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": 2, "stride": 2, "padding": 1}, shape=(2, 3, 5, 6),
                            bad_shape=(3, 5))


class MaxPool1d(MaxPool2d):
    """Maximum over each window along the last axis (F.max_pool1d)."""

    function = "max_pool1d"

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                            shape=(2, 3, 8), bad_shape=(3,))


class AvgPool2d(_Functional):
    """Mean over each window (F.avg_pool2d); stride defaults to the kernel size."""

    function = "avg_pool2d"
    arguments = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                 "divisor_override")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": 3, "stride": 2, "padding": 1}, shape=(2, 3, 6, 5),
                            bad_shape=(2, 3))


class AvgPool1d(_Functional):
    """Mean over each window along the last axis (F.avg_pool1d)."""

    function = "avg_pool1d"
    arguments = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                             "count_include_pad": False}, shape=(2, 3, 8), bad_shape=(3,))


class MaxPool3d(MaxPool2d):
    """Maximum over each window of a volume (F.max_pool3d)."""

    function = "max_pool3d"

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": (3, 2, 2), "stride": 2, "padding": 1,
                             "ceil_mode": True}, shape=(2, 3, 6, 5, 4), bad_shape=(3, 5))


class AvgPool3d(AvgPool2d):
    """Mean over each window of a volume (F.avg_pool3d)."""

    function = "avg_pool3d"

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": 3, "stride": (2, 1, 2), "padding": 1,
                             "count_include_pad": False}, shape=(2, 3, 5, 4, 6), bad_shape=(3, 5))


class AdaptiveAvgPool2d(_Functional):
    """Mean over the windows that give an output of ``output_size``
    (F.adaptive_avg_pool2d)."""

    function, arguments = "adaptive_avg_pool2d", ("output_size",)

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    @classmethod
    def example(cls):
        return LayerExample({"output_size": (3, 2)}, shape=(2, 3, 7, 5), bad_shape=(2, 3))


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Mean over the windows along the last axis that give ``output_size`` of them."""

    function = "adaptive_avg_pool1d"

    @classmethod
    def example(cls):
        return LayerExample({"output_size": 3}, shape=(2, 3, 7), bad_shape=(3,))


class AdaptiveMaxPool2d(_Functional):
    """Maximum over the windows that give an output of ``output_size``
    (F.adaptive_max_pool2d)."""

    function, arguments, shown = "adaptive_max_pool2d", ("output_size", "return_indices"), 1

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    @classmethod
    def example(cls):
        return LayerExample({"output_size": (3, 2)}, shape=(2, 3, 7, 5), bad_shape=(2, 3))


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Mean over the boxes that give an output of ``output_size`` (F.adaptive_avg_pool3d)."""

    function = "adaptive_avg_pool3d"

    @classmethod
    def example(cls):
        return LayerExample({"output_size": (2, None, 3)}, shape=(2, 3, 5, 4, 7),
                            bad_shape=(2, 3))


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """Maximum over the boxes that give an output of ``output_size``
    (F.adaptive_max_pool3d)."""

    function = "adaptive_max_pool3d"

    @classmethod
    def example(cls):
        return LayerExample({"output_size": (2, 3, 2)}, shape=(2, 3, 5, 4, 7), bad_shape=(2, 3))


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Maximum over the windows along the last axis that give ``output_size`` of them."""

    function = "adaptive_max_pool1d"

    @classmethod
    def example(cls):
        return LayerExample({"output_size": 3}, shape=(2, 3, 7), bad_shape=(3,))


class _Pad(Module):
    """Padding of the last ``dims`` axes (F.pad in ``mode``) by ``padding``: an int for
    every side, or (left, right, top, bottom, front, back) as far as ``dims`` goes. No
    parameters."""

    mode, dims, value = "reflect", 1, None

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (padding,) * (2 * self.dims)
        if len(tuple(padding)) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding must be an int or "
                             f"{2 * self.dims} ints, got {padding!r}")
        self.padding = tuple(padding)

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"padding={self.padding}" + ("" if self.value is None else f", value={self.value}")

    @classmethod
    def example(cls):
        constant = cls.mode == "constant"
        return LayerExample({"padding": (2, 1, 0, 3, 1, 1)[:2 * cls.dims],
                             **({"value": 1.5} if "value" in inspect.signature(cls).parameters
                                else {})},
                            shape=(2, 3, 4, 5, 6)[:2 + cls.dims],
                            bad_shape=(5,) * (cls.dims - 1 if constant else cls.dims + 3) or None)


class _ConstantPad(_Pad):
    mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value


def _pad_layer(name, base, mode, dims, doc):
    """A padding layer class of PyTorch's name."""
    return type(name, (base,), {"mode": mode, "dims": dims, "__doc__": doc,
                                "__module__": __name__, "__qualname__": name})


ConstantPad1d, ConstantPad2d, ConstantPad3d = (
    _pad_layer(f"ConstantPad{d}d", _ConstantPad, "constant", d,
               f"Padding of the last {d} axes with ``value``.") for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _pad_layer(f"ReflectionPad{d}d", _Pad, "reflect", d,
               f"Padding of the last {d} axes mirrored at the edge (the edge not repeated).")
    for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _pad_layer(f"ReplicationPad{d}d", _Pad, "replicate", d,
               f"Padding of the last {d} axes with the edge repeated.") for d in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (
    _pad_layer(f"CircularPad{d}d", _Pad, "circular", d,
               f"Padding of the last {d} axes wrapped around.") for d in (1, 2, 3))


class ZeroPad1d(ConstantPad1d):
    """Padding of the last axis with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ConstantPad2d):
    """Padding of the last 2 axes with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad3d(ConstantPad3d):
    """Padding of the last 3 axes with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class Unfold(_Functional):
    """Sliding windows as columns (F.unfold): (N, C * kh * kw, L)."""

    function = "unfold"
    arguments = ("kernel_size", "dilation", "padding", "stride")
    shown = 4

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                      padding, stride)

    @classmethod
    def example(cls):
        return LayerExample({"kernel_size": (2, 3), "padding": 1, "stride": 2},
                            shape=(2, 3, 5, 6), bad_shape=(3, 5))


class Fold(_Functional):
    """Columns summed back into an image (F.fold), Unfold's adjoint."""

    function = "fold"
    arguments = ("output_size", "kernel_size", "dilation", "padding", "stride")
    shown = 5

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride


class Flatten(Module):
    """Merge axes start_dim..end_dim (all but the batch axis by default)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(2, 3, 4), bad_shape=(5,))


class Dropout(Module):
    """Zero elements with probability p in train mode (scaling the rest); identity in eval."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    function = "dropout"

    def forward(self, x):
        return getattr(F, self.function)(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"

    @classmethod
    def example(cls):
        return LayerExample({"p": 0.3}, shape=(6, 5), random_in_train=True)


class Dropout1d(Dropout):
    """Whole channels of (N, C, L) or (C, L) zeroed with probability p (F.dropout1d)."""

    function = "dropout1d"


class Dropout2d(Dropout):
    """Whole channels of (N, C, H, W) or (C, H, W) zeroed with probability p."""

    function = "dropout2d"

    @classmethod
    def example(cls):
        return LayerExample({"p": 0.3}, shape=(2, 6, 3, 3), random_in_train=True,
                            bad_shape=(6, 3))


class Dropout3d(Dropout):
    """Whole channels of (N, C, D, H, W) or (C, D, H, W) zeroed with probability p."""

    function = "dropout3d"


class AlphaDropout(Dropout):
    """Dropout for SELU networks (F.alpha_dropout): dropped units take SELU's saturation,
    mean and variance kept."""

    function = "alpha_dropout"


class FeatureAlphaDropout(Dropout):
    """alpha dropout of whole channels (F.feature_alpha_dropout)."""

    function = "feature_alpha_dropout"

    @classmethod
    def example(cls):
        return LayerExample({"p": 0.3}, shape=(4, 6, 3), random_in_train=True)


class Unflatten(Module):
    """Axis ``dim`` split into ``unflattened_size`` (Flatten's inverse)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        if x.ndim == 0 or not -x.ndim <= self.dim < x.ndim:
            raise ShapeError(f"Unflatten: dim {self.dim} is out of range for an input of shape "
                             f"{x.shape}")
        axis = self.dim % x.ndim
        return x.reshape(x.shape[:axis] + self.unflattened_size + x.shape[axis + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    @classmethod
    def example(cls):
        return LayerExample({"dim": 1, "unflattened_size": (3, 4)}, shape=(2, 12, 2),
                            bad_shape=(2, 10, 2))


def _counter(like):
    """A 0-d count of PyTorch's dtype (int64, or the backend's widest int) beside ``like``."""
    be = like.backend
    return ember.zeros((), dtype=ember.int64 if ember.int64 in be.dtypes else be.default_int,
                       backend=be)


class _BatchNorm(Module):
    """Init: weight 1, bias 0, running mean 0, running variance 1; num_batches_tracked
    counts training steps (PyTorch's state-dict key, so checkpoints load either way).
    momentum=None makes the running statistics the plain average of every batch's
    (PyTorch's cumulative average: each batch moves them 1 / num_batches_tracked)."""

    dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, backend=None):
        super().__init__()
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be a number in [0, 1] or "
                             f"None (a cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(init.ones((num_features,), dtype, backend)) if affine else None
        self.bias = Parameter(init.zeros((num_features,), dtype, backend)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", init.zeros((num_features,), dtype, backend))
            self.register_buffer("running_var", init.ones((num_features,), dtype, backend))
            self.register_buffer("num_batches_tracked", _counter(self.running_mean))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            want = " or ".join(f"{d}-D" for d in self.dims)
            raise ShapeError(f"{type(self).__name__}: expects {want} input with "
                             f"{self.num_features} channels on axis 1, got {x.shape}")
        batch = self._batch_statistics()
        momentum = self.momentum
        if momentum is None and batch and self.running_mean is not None:
            momentum = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            batch, 0.0 if momentum is None else momentum, self.eps)

    def _batch_statistics(self):
        """Whether this call normalizes by its input's statistics (training, or no running
        ones kept), counted in num_batches_tracked where it moves the running ones."""
        if self.training and self.num_batches_tracked is not None:
            with ember.no_grad():
                self.num_batches_tracked += 1
        return self.training or self.running_mean is None

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) input."""

    dims = (2, 3)

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3}, shape=(5, 3), bad_shape=(5, 4))


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) input."""

    dims = (4,)

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3}, shape=(2, 3, 3, 2), bad_shape=(2, 4, 3, 2))


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) input."""

    dims = (5,)

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3}, shape=(2, 3, 2, 3, 2), bad_shape=(2, 4, 2, 3, 2))


class _InstanceNorm(_BatchNorm):
    """Init: weight 1 and bias 0 with ``affine``; running mean 0 and variance 1 with
    ``track_running_stats`` (both off by default, as PyTorch's)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=None, backend=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         backend)

    def forward(self, x):
        if x.ndim not in self.dims:
            want = " or ".join(f"{d}-D" for d in self.dims)
            raise ShapeError(f"{type(self).__name__}: expects {want} input, got {x.shape}")
        batched = x.ndim == self.dims[-1]
        x = x if batched else x.unsqueeze(0)
        if (self.weight is not None or self.running_mean is not None) and \
                x.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}: expects {self.num_features} channels on "
                             f"the channel axis, got input {x.shape if batched else x.shape[1:]}")
        # PyTorch keeps num_batches_tracked at 0 here: its instance norm does not count
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or self.running_mean is None, self.momentum,
                              self.eps)
        return out if batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L) input: each channel of each
    sample over its positions."""

    dims = (2, 3)

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3, "affine": True}, shape=(2, 3, 5),
                            bad_shape=(2, 4, 5))


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W) input (style transfer's)."""

    dims = (3, 4)

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3, "track_running_stats": True},
                            shape=(2, 3, 3, 4), bad_shape=(2, 4, 3, 4))


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or (C, D, H, W) input."""

    dims = (4, 5)


class LayerNorm(Module):
    """Normalization over the trailing dims of each sample. Init: weight 1, bias 0 (none
    with bias=False, as PyTorch's)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None, backend=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.weight = Parameter(init.ones(self.normalized_shape, dtype, backend)) \
            if elementwise_affine else None
        self.bias = Parameter(init.zeros(self.normalized_shape, dtype, backend)) \
            if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"

    @classmethod
    def example(cls):
        return LayerExample({"normalized_shape": (3, 4)}, shape=(2, 3, 4), bad_shape=(2, 4, 3))


class LocalResponseNorm(_Functional):
    """Each value over a power of its channel neighbourhood's mean square
    (F.local_response_norm, AlexNet's); no parameters."""

    function, arguments = "local_response_norm", ("size", "alpha", "beta", "k")
    shown = 4

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    @classmethod
    def example(cls):
        return LayerExample({"size": 3, "alpha": 0.5}, shape=(2, 5, 3, 2), bad_shape=(3,))


class GroupNorm(Module):
    """Normalization of each sample's channels in groups (F.group_norm). Init: weight 1,
    bias 0, one each per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None, backend=None):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} must divide into "
                             f"num_groups {num_groups}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = Parameter(init.ones((num_channels,), dtype, backend)) if affine else None
        self.bias = Parameter(init.zeros((num_channels,), dtype, backend)) if affine else None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"

    @classmethod
    def example(cls):
        return LayerExample({"num_groups": 2, "num_channels": 4}, shape=(2, 4, 3, 3),
                            bad_shape=(2, 3, 3, 3))


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing dims (LLaMA's). Init: weight 1."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=None,
                 backend=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.weight = Parameter(init.ones(self.normalized_shape, dtype, backend)) \
            if elementwise_affine else None

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"

    @classmethod
    def example(cls):
        return LayerExample({"normalized_shape": 4, "eps": 1e-6}, shape=(2, 3, 4),
                            bad_shape=(2, 4, 3))


class Bilinear(Module):
    """y = x1^T A x2 + b (F.bilinear). Init: A and b ~ U(-1/sqrt(in1), 1/sqrt(in1)), as
    PyTorch's."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, dtype=None,
                 backend=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in1_features) if in1_features else 0.0
        self.weight = Parameter(init.uniform((out_features, in1_features, in2_features),
                                             -bound, bound, dtype, backend))
        self.bias = Parameter(init.uniform((out_features,), -bound, bound, dtype, backend)) \
            if bias else None

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")

    @classmethod
    def example(cls):
        return LayerExample({"in1_features": 5, "in2_features": 5, "out_features": 3},
                            shape=(4, 5), bad_shape=(4, 6),
                            call=lambda layer, x: layer(x, x.flip(0) + 0.5))


class Embedding(Module):
    """Rows of a (num_embeddings, embedding_dim) table by index. Init: N(0, 1), the row
    of ``padding_idx`` zeros; that row gets no gradient (PyTorch's padding_idx)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, dtype=None, backend=None):
        super().__init__()
        if sparse:
            raise ValueError(f"{type(self).__name__}: sparse gradients are not supported; "
                             f"ember's gradients are dense (leave sparse=False)")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = None if padding_idx is None else F._padding_index(
            padding_idx, num_embeddings, type(self).__name__)
        weight = init.normal((num_embeddings, embedding_dim), 0.0, 1.0, dtype, backend)
        if self.padding_idx is not None:
            pad = ember.arange(num_embeddings, backend=weight.backend) == self.padding_idx
            weight = ember.where(pad.reshape(num_embeddings, 1), 0.0, weight)
        self.weight = Parameter(weight)

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False, **options):
        """A layer holding the (num_embeddings, embedding_dim) table ``embeddings`` (word
        vectors), not trained when ``freeze``, as PyTorch's (EmbeddingBag's ``mode`` and
        ``include_last_offset`` among ``options``)."""
        table = embeddings if isinstance(embeddings, ember.Tensor) else ember.tensor(embeddings)
        if table.ndim != 2:
            raise ShapeError(f"{cls.__name__}.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {table.shape}")
        layer = cls(*table.shape, padding_idx=padding_idx, max_norm=max_norm,
                    norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
                    dtype=table.dtype, backend=table.backend, **options)
        with ember.no_grad():
            layer.weight.copy_(table)
        layer.weight.requires_grad = not freeze
        return layer

    def extra_repr(self):
        extra = "".join(f", {name}={getattr(self, name)}" for name in
                        ("padding_idx", "max_norm", "scale_grad_by_freq") if getattr(self, name))
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"

    @classmethod
    def example(cls):
        return LayerExample({"num_embeddings": 7, "embedding_dim": 3}, shape=(2, 5),
                            integer_high=7)


class EmbeddingBag(Embedding):
    """The sum, mean or max of bags of a (num_embeddings, embedding_dim) table's rows
    (F.embedding_bag), as PyTorch's: ``layer(input, offsets=None, per_sample_weights=None)``
    with a 2-D input of bags or a 1-D one cut by offsets. Init and state as Embedding's."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, include_last_offset=False,
                 padding_idx=None, dtype=None, backend=None):
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, sparse, dtype, backend)
        self.mode, self.include_last_offset = mode, include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, False, per_sample_weights,
                               self.include_last_offset, self.padding_idx)

    @classmethod
    def example(cls):
        return LayerExample({"num_embeddings": 7, "embedding_dim": 3, "mode": "max"},
                            shape=(2, 5), integer_high=7)


class CosineSimilarity(Module):
    """Cosine similarity of two inputs along ``dim`` (F.cosine_similarity)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 5), call=lambda layer, x: layer(x, x.flip(0) + 0.5))


class PairwiseDistance(Module):
    """p-norm of x1 - x2 + eps along the last axis (F.pairwise_distance)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 5), call=lambda layer, x: layer(x, x.flip(0) + 0.5))


class ChannelShuffle(Module):
    """Channels in ``groups`` interleaved (F.channel_shuffle, ShuffleNet's). No parameters."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"

    @classmethod
    def example(cls):
        return LayerExample({"groups": 3}, shape=(2, 6, 3, 2), bad_shape=(2, 5, 3, 2))


class _MaxUnpool(Module):
    """max_pool's partial inverse (F.max_unpool1d/2d/3d): ``forward(input, indices,
    output_size=None)`` with the indices the pool returned."""

    function, dims = "max_unpool2d", 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, input, indices, output_size=None):  # noqa: A002  (PyTorch's names)
        return getattr(F, self.function)(input, indices, self.kernel_size, self.stride,
                                         self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


    @classmethod
    def example(cls):
        pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[cls.dims]
        shape = (2, 3) + (6, 4, 4)[:cls.dims]
        return LayerExample({"kernel_size": 2}, shape=shape, bad_shape=(2,),
                            call=lambda layer, x: layer(*pool(x, 2, return_indices=True)))


class MaxUnpool1d(_MaxUnpool):
    function, dims = "max_unpool1d", 1


class MaxUnpool2d(_MaxUnpool):
    function, dims = "max_unpool2d", 2


class MaxUnpool3d(_MaxUnpool):
    function, dims = "max_unpool3d", 3


class LPPool2d(_Functional):
    """The ``norm_type``-norm of each window (F.lp_pool2d)."""

    function, arguments = "lp_pool2d", ("norm_type", "kernel_size", "stride", "ceil_mode")

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
        self.ceil_mode = ceil_mode

    @classmethod
    def example(cls):
        return LayerExample({"norm_type": 3, "kernel_size": 2, "stride": (2, 1)},
                            shape=(2, 3, 5, 4), low=0.2, high=2.0, bad_shape=(2, 3))


class LPPool1d(LPPool2d):
    """The ``norm_type``-norm of each window along the last axis (F.lp_pool1d)."""

    function = "lp_pool1d"

    @classmethod
    def example(cls):
        return LayerExample({"norm_type": 2, "kernel_size": 3, "stride": 2},
                            shape=(2, 3, 7), low=0.2, high=2.0, bad_shape=(3,))


class LPPool3d(LPPool2d):
    """The ``norm_type``-norm of each window of a volume (F.lp_pool3d)."""

    function = "lp_pool3d"

    @classmethod
    def example(cls):
        return LayerExample({"norm_type": 2, "kernel_size": (2, 2, 1)},
                            shape=(2, 3, 4, 4, 3), low=0.2, high=2.0, bad_shape=(2, 3))


class FractionalMaxPool2d(_Functional):
    """Max pooling over windows whose starts step by random fractional amounts
    (F.fractional_max_pool2d, Graham 2014): new windows each call unless
    ``_random_samples`` (N, C, 2) fixes them."""

    function = "fractional_max_pool2d"
    arguments = ("kernel_size", "output_size", "output_ratio", "return_indices",
                 "_random_samples")

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        self.kernel_size, self.output_size, self.output_ratio = kernel_size, output_size, output_ratio
        self.return_indices, self._random_samples = return_indices, _random_samples

    @classmethod
    def example(cls):
        samples = ember.tensor([[[0.3, 0.8], [0.1, 0.5], [0.9, 0.2]]] * 2)
        return LayerExample({"kernel_size": 2, "output_size": (3, 4), "_random_samples": samples},
                            shape=(2, 3, 7, 6), bad_shape=(2, 3, 3, 3))


class FractionalMaxPool3d(FractionalMaxPool2d):
    """Fractional max pooling over (N, C, T, H, W) (F.fractional_max_pool3d)."""

    function = "fractional_max_pool3d"

    @classmethod
    def example(cls):
        samples = ember.tensor([[[0.3, 0.8, 0.6], [0.1, 0.5, 0.4]]] * 2)
        return LayerExample({"kernel_size": (2, 2, 1), "output_ratio": 0.6,
                             "_random_samples": samples},
                            shape=(2, 2, 5, 6, 4), bad_shape=(2, 2, 5))


class PixelShuffle(Module):
    """Channels into r x r blocks of pixels (F.pixel_shuffle). No parameters."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"

    @classmethod
    def example(cls):
        return LayerExample({"upscale_factor": 2}, shape=(2, 8, 3, 2), bad_shape=(2, 6, 3, 2))


class PixelUnshuffle(Module):
    """r x r blocks of pixels into channels (F.pixel_unshuffle). No parameters."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"

    @classmethod
    def example(cls):
        return LayerExample({"downscale_factor": 2}, shape=(2, 3, 4, 6), bad_shape=(2, 3, 5, 6))
