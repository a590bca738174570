"""The pools PyTorch composes of others, for 1, 2 and 3 spatial axes: max_unpool (max
pooling's partial inverse: each value written back at the index max pooling gave, zeros
elsewhere; one scatter), lp_pool (the p-norm of each window, from average pooling of
the p-th powers, exactly as PyTorch's formula) and fractional max pooling (windows at
PyTorch's random fractional steps, gathered in one index). F re-exports them."""

import math

import numpy as np

import ember
from ember.autograd import run
from ember.errors import ShapeError

from . import functional as F
from . import volumetric


def _ints(v, name, op, dims, least=1):
    """``dims`` ints from an int or that many: the 1-, 2- and 3-D ops' own checks."""
    if dims == 1:
        return (F._single(v, name, op, least),)
    return F._pair(v, name, op, least) if dims == 2 else volumetric._triple(v, name, op, least)


def _max_unpool(op, dims, x, indices, kernel_size, stride, padding, output_size):
    """(N, C, *in) or (C, *in) values back at ``indices`` (flat positions in each output
    plane, as max_pool's return_indices) of an output (N, C, *out), zeros elsewhere. The
    output size is (in - 1) stride - 2 padding + kernel, or the last ``dims`` entries of
    ``output_size``."""
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{op}: input must be (N, C, {dims} axes) or (C, {dims} axes), got "
                         f"shape {x.shape}")
    indices = ember.asarray(indices, backend=x.backend)
    if indices.shape != x.shape or indices.dtype.is_float:
        raise ShapeError(f"{op}: indices must be integers of the input's shape {x.shape}, got "
                         f"{indices.dtype.name}{indices.shape}")
    kernel = _ints(kernel_size, "kernel_size", op, dims)
    stride = kernel if stride is None else _ints(stride, "stride", op, dims)
    padding = _ints(padding, "padding", op, dims, least=0)
    size = x.shape[-dims:]
    default = tuple((s - 1) * st - 2 * p + k for s, st, p, k in zip(size, stride, padding, kernel))
    out = default if output_size is None else tuple(int(o) for o in tuple(output_size)[-dims:])
    if len(out) != dims or any(abs(o - d) >= st for o, d, st in zip(out, default, stride)):
        raise ValueError(f"{op}: output_size {output_size} must be within the stride {stride} "
                         f"of the default size {default}")
    plane = math.prod(out)
    if indices.size and not ember.is_compiling():
        host = indices.numpy()
        if host.min() < 0 or host.max() >= plane:
            bad = host.min() if host.min() < 0 else host.max()
            raise ShapeError(f"{op}: index {bad} is outside the output plane of {out} "
                             f"({plane} positions)")
    lead = x.shape[:-dims]
    flat = x.reshape(*lead, math.prod(size))      # (not -1: an empty batch leaves it open)
    index = indices.reshape(*lead, math.prod(size)).to(x.backend.default_int)
    with ember.no_grad():
        spread = ember.scatter(ember.zeros((*lead, plane), dtype=x.dtype, backend=x.backend),
                               -1, index, flat.detach())
    spread = run(_Spread(), (spread, flat, index), spread.shape, spread.dtype)
    return spread.reshape(*lead, *out)


class _Spread(ember.Op):
    """The values scattered to their indices (computed before), joined to the input: each
    input's gradient is the output's at its index, every input's (an element that won
    two overlapping windows is written twice, and both copies get its gradient, as
    PyTorch's; scatter's own backward gives only the last write one)."""

    __slots__ = ()

    def forward(self, spread, flat, index):
        return spread

    def backward(self, g, spread, flat, index):
        return None, ember.take_along_axis(g, index, -1), None


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """max_pool1d's partial inverse on (N, C, L) or (C, L), as torch's."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """max_pool2d's partial inverse on (N, C, H, W) or (C, H, W), as torch's (SegNet's
    decoder)."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """max_pool3d's partial inverse on (N, C, D, H, W) or (C, D, H, W), as torch's."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


def _lp_pool(op, dims, x, norm_type, kernel_size, stride, ceil_mode):
    """(sum of x^p over each window)^(1 / p) as PyTorch computes it: the average pool of
    x^p, sign(a) relu(|a|) times the window's size, to the power 1 / p."""
    kernel = _ints(kernel_size, "kernel_size", op, dims)
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: volumetric.avg_pool3d}[dims]
    stride = kernel if stride is None else stride
    average = pool(x ** norm_type, kernel if dims > 1 else kernel[0], stride, 0, ceil_mode)
    size = math.prod(kernel)
    return (ember.sign(average) * ember.relu(average.abs()) * size) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """The ``norm_type``-norm of each window of (N, C, L) or (C, L), as torch's."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """The ``norm_type``-norm of each window of (N, C, H, W) or (C, H, W), as torch's."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """The ``norm_type``-norm of each window of (N, C, D, H, W) or (C, D, H, W)."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _intervals(samples, size, out, pool, dtype):
    """PyTorch's window starts of fractional max pooling along one axis, per plane: for
    a sample u, floor((i + u) a) - floor(u a), a = (size - pool) / (out - 1), in the
    input's float type as PyTorch computes it, and the last window at the end."""
    starts = np.empty((len(samples), out), np.int64)
    if out > 1:
        alpha = dtype(size - pool) / dtype(out - 1)
        i = np.arange(out - 1, dtype=dtype)
        u = samples.astype(dtype)
        starts[:, :-1] = ((i[None, :] + u[:, None]) * alpha).astype(np.int64) - \
            (u * alpha).astype(np.int64)[:, None]
    starts[:, -1] = size - pool
    return starts


def _fractional_max_pool(op, dims, x, kernel_size, output_size, output_ratio, return_indices,
                         samples):
    """Max pooling over windows of ``kernel_size`` whose starts step by a random
    fractional amount (Graham, 2014), one draw per plane and axis (``samples`` (N, C,
    dims) in [0, 1): PyTorch's _random_samples, its axis order W, H in 2-D and T, H, W
    in 3-D). The gradient goes to each window's first largest value."""
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{op}: input must be (N, C, {dims} axes) or (C, {dims} axes), got "
                         f"shape {x.shape}")
    unbatch = x.ndim == dims + 1
    x = x.unsqueeze(0) if unbatch else x
    size = x.shape[2:]
    kernel = _ints(kernel_size, "kernel_size", op, dims)
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"{op}: give output_size or output_ratio (one of them)")
    if output_size is not None:
        out = _ints(output_size, "output_size", op, dims)
    else:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * dims
        if len(ratio) != dims or not all(0 < r < 1 for r in ratio):
            raise ValueError(f"{op}: output_ratio must be {dims} numbers in (0, 1), got "
                             f"{output_ratio!r}")
        out = tuple(int(s * r) for s, r in zip(size, ratio))
    for s, k, o in zip(size, kernel, out):
        if o < 1 or o + k - 1 > s:
            raise ShapeError(f"{op}: an output of {out} windows of {kernel} does not fit the "
                             f"input's {size} (each axis needs output + kernel - 1 <= input)")
    n, c = x.shape[:2]
    if samples is None:
        samples = ember.rand(n, c, dims, dtype=x.dtype if x.dtype.is_float else None,
                             backend=x.backend)
    drawn = samples.numpy() if isinstance(samples, ember.Tensor) else np.asarray(samples)
    if drawn.shape != (n, c, dims):
        raise ShapeError(f"{op}: _random_samples must be (N, C, {dims}) = {(n, c, dims)}, got "
                         f"{drawn.shape}")
    dtype = np.float64 if x.dtype is ember.float64 else np.float32
    axes = [1, 0] if dims == 2 else list(range(dims))       # PyTorch's sample per axis
    planes = drawn.reshape(n * c, dims)
    strides = [math.prod(size[a + 1:]) for a in range(dims)]
    index = np.zeros((n * c,) + out + kernel, np.int64)
    for a in range(dims):
        starts = _intervals(planes[:, axes[a]], size[a], out[a], kernel[a], dtype)
        shape = [n * c] + [1] * (2 * dims)
        shape[1 + a] = out[a]
        offsets = np.arange(kernel[a]).reshape([1] * (1 + dims + a) + [kernel[a]] +
                                                [1] * (dims - a - 1))
        index = index + (starts.reshape(shape) + offsets) * strides[a]
    windows = index.reshape(n * c, math.prod(out), math.prod(kernel))
    flat = ember.tensor(windows.reshape(n * c, -1), backend=x.backend)
    values = ember.take_along_axis(x.reshape(n * c, -1), flat, 1).reshape(windows.shape)
    best = ember.argmax(values, axis=-1, keepdims=True)
    result = ember.take_along_axis(values, best, -1).reshape((n, c) + out)
    picked = ember.take_along_axis(ember.tensor(windows, backend=x.backend), best, -1)
    picked = picked.reshape((n, c) + out)
    if unbatch:
        result, picked = result.squeeze(0), picked.squeeze(0)
    return (result, picked) if return_indices else result


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling of (N, C, H, W) or (C, H, W), as torch's."""
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size,
                                output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling of (N, C, T, H, W) or (C, T, H, W), as torch's."""
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size,
                                output_ratio, return_indices, _random_samples)
