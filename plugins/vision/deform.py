"""Deformable convolution (Dai et al. 2017; with ``mask``, DCNv2, Zhu et al. 2019):
torchvision.ops.deform_conv2d and DeformConv2d. Each kernel tap reads the input at its
usual place moved by a learned offset, by bilinear interpolation, and (DCNv2) scaled by
a learned mask; the samples then meet the weights as im2col's columns do.

Everything is ember ops on the backend: the sampling points come from the offsets on
the device, their four neighbours are gathered, and the bilinear weights are the
points' fractional parts, so gradients reach the input, the offsets, the mask, the
weight and the bias, as torchvision's."""

import math

import ember
from ember.errors import ShapeError
from ember.plugins import nn
from ember.plugins.nn import LayerExample
from ember.plugins.nn import init as nn_init


def _pair(v, name):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"deform_conv2d: {name} is an int or a pair, got {v!r}")
    return pair


def _corner(flat, y, x, height, width):
    """The (N, C, K, L) input values at integer points (y, x) (N, G, K, L), 0 outside
    the image; each of the G offset groups' points read its own channels."""
    n, channels = flat.shape[:2]
    inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
    index = _spread(ember.where(inside, y * width + x, 0).to(flat.backend.default_int),
                    channels)
    taps, length = index.shape[2:]
    got = ember.gather(flat, 2, index.reshape(n, channels, taps * length)).reshape(index.shape)
    return got * _spread(inside, channels).to(flat.dtype)


def _spread(t, channels):
    """(N, G, K, L) per offset group to (N, C, K, L) per channel."""
    n, g, k, length = t.shape
    return ember.broadcast_to(t[:, :, None], (n, g, channels // g, k, length)).reshape(
        n, channels, k, length)


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0),  # noqa: A002
                  dilation=(1, 1), mask=None):
    """torchvision's deform_conv2d: input (N, C, H, W); offset (N, 2 G kh kw, Ho, Wo), the
    (y, x) shift of each tap for each of G offset groups of channels; weight (Cout,
    C / groups, kh, kw), groups = C / weight.shape[1]; mask (N, G kh kw, Ho, Wo) or None.
    A sample is 0 beyond a pixel outside the image, and each of its four neighbours
    outside counts 0 (torchvision's bilinear_interpolate)."""
    op = "deform_conv2d"
    if input.ndim != 4 or weight.ndim != 4 or offset.ndim != 4:
        raise ShapeError(f"{op}: input, offset and weight must be 4-D, got {input.shape}, "
                         f"{offset.shape} and {weight.shape}")
    n, channels, height, width = input.shape
    out_channels, per_group, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = (_pair(stride, "stride"), _pair(padding, "padding"),
                                   _pair(dilation, "dilation"))
    if per_group == 0 or channels % per_group:
        raise ShapeError(f"{op}: weight's {per_group} input channels per group do not divide "
                         f"the input's {channels}")
    groups = channels // per_group
    taps = kh * kw
    out_h = (height + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    out_w = (width + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    if offset.shape[1] % (2 * taps) or offset.shape[0] != n or offset.shape[2:] != (out_h, out_w):
        raise ShapeError(f"{op}: offset must be (N, 2 * offset_groups * {kh} * {kw}, {out_h}, "
                         f"{out_w}) for this input and weight, got {offset.shape}")
    offset_groups = offset.shape[1] // (2 * taps)
    if channels % offset_groups:
        raise ShapeError(f"{op}: {offset_groups} offset groups do not divide {channels} "
                         f"input channels")
    if out_channels % groups:
        raise ShapeError(f"{op}: {groups} groups do not divide {out_channels} output channels")
    if mask is not None and mask.shape != (n, offset_groups * taps, out_h, out_w):
        raise ShapeError(f"{op}: mask must be (N, {offset_groups * taps}, {out_h}, {out_w}), "
                         f"got {mask.shape}")
    length = out_h * out_w
    shifts = offset.reshape(n, offset_groups, taps, 2, length)
    backend, dtype = input.backend, input.dtype
    taps_y = ember.tensor([i * dh for i in range(kh) for _ in range(kw)], dtype=dtype,
                          backend=backend).reshape(1, 1, taps, 1)
    taps_x = ember.tensor([j * dw for _ in range(kh) for j in range(kw)], dtype=dtype,
                          backend=backend).reshape(1, 1, taps, 1)
    rows = ember.arange(out_h, dtype=dtype, backend=backend) * sh - ph
    cols = ember.arange(out_w, dtype=dtype, backend=backend) * sw - pw
    base_y = ember.broadcast_to(rows[:, None], (out_h, out_w)).reshape(1, 1, 1, length)
    base_x = ember.broadcast_to(cols[None, :], (out_h, out_w)).reshape(1, 1, 1, length)
    y = base_y + taps_y + shifts[:, :, :, 0]                    # (N, G, K, L)
    x = base_x + taps_x + shifts[:, :, :, 1]
    inside = (y > -1) & (y < height) & (x > -1) & (x < width)   # NaN: outside
    y, x = ember.where(inside, y, 0.0), ember.where(inside, x, 0.0)
    y0, x0 = ember.floor(y), ember.floor(x)
    ly, lx = y - y0, x - x0
    flat = input.reshape(n, channels, height * width)
    sample = None
    for dy, wy in ((0, 1.0 - ly), (1, ly)):
        for dx, wx in ((0, 1.0 - lx), (1, lx)):
            value = _corner(flat, y0 + dy, x0 + dx, height, width)
            term = value * _spread(wy * wx, channels)
            sample = term if sample is None else sample + term
    scale = inside.to(dtype)
    if mask is not None:
        scale = scale * mask.reshape(n, offset_groups, taps, length)
    columns = (sample * _spread(scale, channels)).reshape(n, groups, per_group * taps, length)
    kernel = weight.reshape(groups, out_channels // groups, per_group * taps)
    out = ember.matmul(kernel[None], columns).reshape(n, out_channels, out_h, out_w)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


class DeformConv2d(nn.Module):
    """torchvision's DeformConv2d: the parameters of a Conv2d (weight, bias; its
    initialization), called as ``layer(input, offset, mask=None)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"DeformConv2d: groups {groups} must divide in_channels "
                             f"{in_channels} and out_channels {out_channels}")
        kh, kw = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation, self.groups = _pair(dilation, "dilation"), groups
        self.weight = nn.Parameter(ember.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(ember.empty(out_channels)) if bias else None
        nn_init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(in_channels // groups * kh * kw)
            nn_init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):  # noqa: A002
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, mask)

    @classmethod
    def example(cls):
        def call(layer, x):     # offsets of a fixed pattern, up to 1.5 pixels
            n, _, h, w = x.shape
            offset = ember.sin(ember.arange(n * 2 * 2 * 9 * h * w, dtype=x.dtype,
                                            backend=x.backend).reshape(n, 36, h, w)) * 1.5
            return layer(x, offset)
        return LayerExample({"in_channels": 4, "out_channels": 6, "kernel_size": 3,
                             "padding": 1, "groups": 2}, shape=(2, 4, 5, 6), call=call,
                            scale=3)
