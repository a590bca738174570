"""Convolution and pooling over volumes (N, C, D, H, W), as PyTorch's conv3d,
conv_transpose3d, max_pool3d, avg_pool3d and the adaptive pools, built on the 2-D ones:
the kernel's depth taps become strided slices along D, stacked beside the channels, so
that one conv2d (or 2-D pooling) over a batch of N * OD images does the rest.
Differentiable wherever the 2-D op is, on every backend. F re-exports them
(``F.conv3d``)."""

import numbers

import numpy as np

import ember
from ember.errors import ShapeError

from . import functional as F


def _triple(v, name, op, least=1):
    """(d, h, w) of an int or three ints, each at least ``least``."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = (v, v, v)
    v = tuple(v) if isinstance(v, (tuple, list)) else v
    if not (isinstance(v, tuple) and len(v) == 3 and all(
            isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in v)):
        raise ValueError(f"{op}: {name} must be an int or three ints, got {v!r}")
    if min(v) < least:
        raise ValueError(f"{op}: {name} must be at least {least}, got {v}")
    return tuple(int(i) for i in v)


def _volume_batch(op, x):
    """x as a batch of volumes: (N, C, D, H, W) as it is, (C, D, H, W) as a batch of one,
    and a function that undoes it on a result."""
    if x.ndim == 5:
        return x, lambda y: y
    if x.ndim == 4:
        return x.unsqueeze(0), lambda y: y.squeeze(0)
    raise ShapeError(f"{op}: input must be (N, C, D, H, W) or (C, D, H, W), got shape {x.shape}")


def _depth_taps(x, kd, sd, dd, od):
    """The depth slices each kernel tap reads, (kd, N, C, OD, H, W): tap i reads depths
    i dd, i dd + sd, ... (x already padded along D)."""
    return ember.stack([x[:, :, i * dd:i * dd + sd * (od - 1) + 1:sd] for i in range(kd)], 0)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation, as PyTorch) of (N, C, D, H, W) or (C, D, H, W)
    with weight (out, in/groups, kd, kh, kw); padding an int, three ints, 'valid' or
    'same' (stride 1; an odd total puts the extra plane last). One conv2d over the N * OD
    output planes, its channels the depth taps of each group's channels."""
    x, unbatch = _volume_batch("conv3d", x)
    if weight.ndim != 5:
        raise ShapeError(f"conv3d: weight must have shape (out, in/groups, kd, kh, kw), got "
                         f"{weight.shape}")
    F._check_groups("conv3d", groups)
    o, cg, kd, kh, kw = weight.shape
    n, c = x.shape[:2]
    if c != cg * groups or o % groups:
        raise ShapeError(f"conv3d: input {x.shape} has {c} channels but weight {weight.shape} "
                         f"expects {cg * groups} (groups={groups}), and {o} outputs must "
                         f"divide into the groups")
    stride, dilation = _triple(stride, "stride", "conv3d"), _triple(dilation, "dilation", "conv3d")
    if padding in ("same", "valid"):
        if padding == "same" and stride != (1, 1, 1):
            raise ValueError(f"conv3d: padding='same' needs stride 1, got {stride} (as PyTorch)")
        total = dilation[0] * (kd - 1) if padding == "same" else 0
        depth, rest = (total // 2, total - total // 2), padding
    elif isinstance(padding, str):
        raise ValueError(f"conv3d: padding must be an int, three ints, 'valid' or 'same', got "
                         f"{padding!r}")
    else:
        pd, ph, pw = _triple(padding, "padding", "conv3d", least=0)
        depth, rest = (pd, pd), (ph, pw)
    if any(depth):
        x = ember.pad(x, ((0, 0), (0, 0), depth, (0, 0), (0, 0)))
    od = F._out_size("conv3d", x.shape[2], kd, stride[0], 0, dilation[0])
    h, w = x.shape[3:]
    taps = _depth_taps(x, kd, stride[0], dilation[0], od)          # (kd, N, C, OD, H, W)
    planes = taps.reshape(kd, n, groups, cg, od, h, w).permute(1, 4, 2, 0, 3, 5, 6)
    planes = planes.reshape(n * od, groups * kd * cg, h, w)
    filters = weight.permute(0, 2, 1, 3, 4).reshape(o, kd * cg, kh, kw)
    out = F.conv2d(planes, filters, bias, stride[1:], rest, dilation[1:], groups)
    return unbatch(out.reshape(n, od, o, *out.shape[2:]).permute(0, 2, 1, 3, 4))


def _pool3d_args(op, kernel_size, stride, padding, dilation=1):
    kernel = _triple(kernel_size, "kernel_size", op)
    stride = kernel if F._kernel_stride(stride) else _triple(stride, "stride", op)
    return kernel, stride, _triple(padding, "padding", op, least=0), _triple(dilation, "dilation", op)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Largest value of each window of (N, C, D, H, W) or (C, D, H, W) (padding counts as
    -inf, NaN wins), as PyTorch: the gradient goes to the window's first largest element
    in (d, h, w) order; ``return_indices`` gives each winner's d H W + h W + w."""
    x, unbatch = _volume_batch("max_pool3d", x)
    kernel, stride, padding, dilation = _pool3d_args("max_pool3d", kernel_size, stride,
                                                     padding, dilation)
    size = x.shape[2:]
    x, out = F._pool_window("max_pool3d", x, kernel, stride, padding, dilation, ceil_mode,
                            F.lowest(x.dtype))
    n, c, d, h, w = x.shape
    # each plane's 2-D winners (the first in (h, w) order), then the first plane among the taps
    flat = F.max_pool2d(x.reshape(n, c * d, h, w), kernel[1:], stride[1:], 0, dilation[1:],
                        False, return_indices)
    planes, where = flat if return_indices else (flat, None)
    planes = planes.reshape(n, c, d, *out[1:])
    taps = _depth_taps(planes, kernel[0], stride[0], dilation[0], out[0])
    tap = taps.argmax(axis=0)
    values = unbatch(F._pick_along(taps, tap, 0))
    if not return_indices:
        return values
    # the winner's (h, w) index in its padded plane, to d H W + h W + w of the input
    where = _depth_taps(where.reshape(n, c, d, *out[1:]), kernel[0], stride[0], dilation[0],
                        out[0])
    hw = F._pick_along(where, tap, 0)
    rows, cols = hw // w - padding[1], hw % w - padding[2]
    depth = (ember.arange(out[0], dtype=tap.dtype, backend=x.backend) * stride[0]
             - padding[0]).reshape(-1, 1, 1) + tap * dilation[0]
    return values, unbatch((depth * size[1] + rows) * size[2] + cols)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean of each window of (N, C, D, H, W) or (C, D, H, W), as PyTorch: zero padding
    counts in the divisor with ``count_include_pad`` (ceil_mode's overhang never does),
    without it only the input's own elements; ``divisor_override`` replaces the count."""
    x, unbatch = _volume_batch("avg_pool3d", x)
    kernel, stride, padding, _ = _pool3d_args("avg_pool3d", kernel_size, stride, padding)
    F._check_divisor("avg_pool3d", divisor_override)
    size = x.shape[2:]
    x, out = F._pool_window("avg_pool3d", x, kernel, stride, padding, (1, 1, 1), ceil_mode, 0.0)
    n, c, d, h, w = x.shape
    sums = F.avg_pool2d(x.reshape(n, c * d, h, w), kernel[1:], stride[1:], 0, False, True, 1)
    total = _depth_taps(sums.reshape(n, c, d, *out[1:]), kernel[0], stride[0], 1, out[0]).sum(0)
    if divisor_override is not None:
        return unbatch(total / divisor_override)
    counts = [F._window_counts(*args, count_include_pad)
              for args in zip(size, kernel, stride, padding, out)]
    divisor = np.einsum("i,j,k->ijk", *counts)
    return unbatch(total / ember.tensor(divisor, dtype=x.dtype, backend=x.backend))


def _adaptive_size3(op, output_size, size):
    """(OD, OH, OW) from an int or three (None keeping that input size), each at least 1."""
    triple = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(triple) != 3:
        raise ValueError(f"{op}: output_size must be an int or three, got {output_size!r}")
    out = tuple(s if o is None else int(o) for o, s in zip(triple, size))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be at least 1, got {output_size!r}")
    if 0 in size:
        raise ShapeError(f"{op}: input of shape (..., {', '.join(map(str, size))}) has no "
                         f"positions to pool")
    return out


def adaptive_avg_pool3d(x, output_size):
    """Mean over the boxes PyTorch's adaptive average pooling takes for an output of
    ``output_size`` on (N, C, D, H, W) or (C, D, H, W): each box's sum by three GEMMs with
    0/1 window matrices (every backend, differentiable), divided by its size once, as
    PyTorch (a sum of 0 stays exactly 0)."""
    op = "adaptive_avg_pool3d"
    x, unbatch = _volume_batch(op, x)
    n, c, d, h, w = x.shape
    od, oh, ow = _adaptive_size3(op, output_size, (d, h, w))
    if (od, oh, ow) == (1, 1, 1):
        return unbatch(x.mean(axis=(-3, -2, -1), keepdims=True))
    windows = [F._adaptive_windows(size, out) > 0 for size, out in ((d, od), (h, oh), (w, ow))]
    mats = [ember.tensor(m, dtype=x.dtype, backend=x.backend) for m in windows]
    y = mats[1] @ (x @ mats[2].T)                                   # (N, C, D, OH, OW)
    y = mats[0] @ y.reshape(n, c, d, oh * ow)                       # (N, C, OD, OH OW)
    counts = np.einsum("i,j,k->ijk", *(m.sum(axis=1) for m in windows))
    return unbatch(y.reshape(n, c, od, oh, ow) / ember.tensor(counts, dtype=x.dtype,
                                                              backend=x.backend))


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """Largest value of each of PyTorch's adaptive boxes for an output of ``output_size``
    on (N, C, D, H, W) or (C, D, H, W): each plane's adaptive 2-D maxima, then the first
    largest plane of each depth window, so the gradient goes to the first largest element
    in (d, h, w) order; ``return_indices`` gives its d H W + h W + w."""
    op = "adaptive_max_pool3d"
    x, unbatch = _volume_batch(op, x)
    n, c, d, h, w = x.shape
    od, oh, ow = _adaptive_size3(op, output_size, (d, h, w))
    flat = F.adaptive_max_pool2d(x.reshape(n, c * d, h, w), (oh, ow), return_indices)
    planes, where = flat if return_indices else (flat, None)
    depths = F._adaptive_positions(d, od)                           # (OD, widest)
    taps = ember.tensor(depths.T.reshape(-1), backend=x.backend)
    windows = planes.reshape(n, c, d, oh, ow)[:, :, taps].reshape(
        n, c, depths.shape[1], od, oh, ow).permute(2, 0, 1, 3, 4, 5)
    tap = windows.argmax(axis=0)
    values = unbatch(F._pick_along(windows, tap, 0))
    if not return_indices:
        return values
    hw = F._pick_along(where.reshape(n, c, d, oh, ow)[:, :, taps].reshape(
        n, c, depths.shape[1], od, oh, ow).permute(2, 0, 1, 3, 4, 5), tap, 0)
    first = ember.tensor(depths, dtype=tap.dtype, backend=x.backend)   # (OD, widest)
    depth = F._pick_along(first.permute(1, 0).reshape(-1, od, 1, 1), tap, 0)
    return values, unbatch(depth * (h * w) + hw)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transposed 3-D convolution (conv3d's gradient with respect to its input, as
    PyTorch's) of (N, C, D, H, W) or (C, D, H, W), weight (in, out/groups, kd, kh, kw): each
    depth tap k is one conv_transpose2d over every input plane, its output planes spread
    ``stride`` apart and shifted by k ``dilation`` along depth, and the taps summed; then
    ``padding`` is cropped from each end of depth and ``output_padding`` more kept at the
    back. Output depth (D - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    op = "conv_transpose3d"
    x, unbatch = _volume_batch(op, x)
    if weight.ndim != 5:
        raise ShapeError(f"{op}: weight must have shape (in, out/groups, kd, kh, kw), got "
                         f"{weight.shape}")
    stride, dilation = _triple(stride, "stride", op), _triple(dilation, "dilation", op)
    padding = _triple(padding, "padding", op, least=0)
    extra = _triple(output_padding, "output_padding", op, least=0)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than stride {stride} "
                         f"or dilation {dilation}, as PyTorch requires")
    n, c, d, h, w = x.shape
    kd = weight.shape[2]
    if c != weight.shape[0]:
        raise ShapeError(f"{op}: input {x.shape} has {c} channels but weight {weight.shape} "
                         f"takes {weight.shape[0]}")
    planes = x.permute(0, 2, 1, 3, 4).reshape(n * d, c, h, w)
    sd, dd = stride[0], dilation[0]
    full = (d - 1) * sd + dd * (kd - 1) + 1
    total = None
    for k in range(kd):     # tap k writes output depths i sd + k dd
        y = F.conv_transpose2d(planes, weight[:, :, k], None, stride[1:], padding[1:],
                               extra[1:], groups, dilation[1:])
        y = y.reshape(n, d, *y.shape[1:]).permute(0, 2, 1, 3, 4)     # (N, out, D, OH, OW)
        if sd > 1:          # D planes sd apart: each followed by sd - 1 planes of zeros
            y = ember.pad(y.unsqueeze(3), ((0, 0),) * 3 + ((0, sd - 1),) + ((0, 0),) * 2)
            y = y.reshape(n, y.shape[1], d * sd, *y.shape[4:])[:, :, :(d - 1) * sd + 1]
        y = ember.pad(y, ((0, 0), (0, 0), (k * dd, full - k * dd - y.shape[2]), (0, 0), (0, 0)))
        total = y if total is None else total + y
    out = total[:, :, padding[0]:full - padding[0] + extra[0]] if extra[0] <= padding[0] else \
        ember.pad(total, ((0, 0), (0, 0), (0, extra[0] - padding[0]), (0, 0), (0, 0)))[
            :, :, padding[0]:]
    if bias is not None:
        if bias.shape != (out.shape[1],):
            raise ShapeError(f"{op}: bias must have shape ({out.shape[1]},), got {bias.shape}")
        out = out + bias.reshape(-1, 1, 1, 1)
    return unbatch(out)
