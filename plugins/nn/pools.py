"""The pools PyTorch composes of others, for 1, 2 and 3 spatial axes: max_unpool (max
pooling's partial inverse: each value written back at the index max pooling gave, zeros
elsewhere; one scatter) and lp_pool (the p-norm of each window, from average pooling of
the p-th powers, exactly as PyTorch's formula). F re-exports them."""

import math

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
    flat = x.reshape(*lead, -1)
    index = indices.reshape(*lead, -1).to(x.backend.default_int)
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
