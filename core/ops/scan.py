"""Prefix sums and products (cumsum, cumprod), products (prod), running extremes
(cummax, cummin) and log-sum-exps (logcumsumexp) along an axis, differentiable. Where a
backend has no fast path they are composed of slices, pads, adds and multiplies: trees of
ceil(log2 n) levels (Hillis and Steele's scan, pairwise products), so their rounding grows
with log n, not with n as a running sum's; and a product's gradient is the tree's own, a
product of the other factors, exact where some are 0 (no division by them)."""

import math

import numpy as np

from .. import dtypes as dt
from ..autograd import Op, run
from ..shapes import normalize_axes, normalize_axis
from ._util import as_tensor
from .elementwise import cast, check_ordered, logical_and, where
from .movement import broadcast_to, flip, pad, permute, reshape


def _along(x, axis, start, stop):
    """x[start:stop] along ``axis``."""
    return x[(slice(None),) * axis + (slice(start, stop),)]


def _widths(ndim, axis, before, after):
    return tuple((before, after) if a == axis else (0, 0) for a in range(ndim))


def _summed(x, dtype, op, products=False):
    """x in the dtype its sums are kept in: ``dtype`` if given; else integers and bools in
    the backend's default integer (as sum), float16 and bfloat16 in float32 (their sums
    overflow and lose small terms first; the result returns to x's dtype). ``products``
    keep every float narrower than float64 in float64 where the backend holds it (as
    PyTorch's CPU products accumulate in double): a tree's partial products then neither
    overflow nor underflow where a running product of the float32 values would not."""
    x = as_tensor(x, op)
    if dtype is not None:
        return cast(x, dtype), dtype
    if not x.dtype.is_inexact and x.dtype not in (x._backend.default_int, dt.uint64):
        return cast(x, x._backend.default_int), x._backend.default_int
    if products and x.dtype.is_float and x.dtype is not dt.float64 \
            and dt.float64 in x._backend.dtypes:
        return cast(x, dt.float64), x.dtype
    if x.dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        return cast(x, dt.float32), x.dtype
    return x, x.dtype


class CumSum(Op):
    """A backend's fast_cumsum; the gradient is the reversed cumsum of g."""

    __slots__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return self.backend.fast_cumsum(x, self.axis)

    def backward(self, g, x):
        return (flip(cumsum(flip(g, self.axis), self.axis), self.axis),)


def cumsum(x, axis, dtype=None):
    """Sums of x along ``axis`` up to each position, as torch.cumsum: integers and bools
    sum in the backend's default integer, float16 and bfloat16 in float32; an empty axis
    gives an empty result. NaN and inf spread to every later position."""
    wide, dtype = _summed(x, dtype, "cumsum")
    axis = normalize_axis("cumsum", axis, max(wide.ndim, 1), wide.shape)   # 0-d: axis 0 or -1
    if wide.ndim and wide.shape[axis] > 1 and wide._backend.fast_cumsum is not None:
        y = run(CumSum(axis), (wide,), wide.shape, wide.dtype)
    else:
        y = _scan(wide, axis, lambda a, b: a + b, 0)
    return y if y.dtype is dtype else cast(y, dtype)


def cumprod(x, axis, dtype=None):
    """Products of x along ``axis`` up to each position, as torch.cumprod, in sum's dtypes
    (floats in float64 where the backend holds it, as PyTorch's CPU cumprod); the scan's
    own multiplies give the gradient, exact where factors are 0. On a backend without
    float64 (wgpu) a float32 partial product of the scan can overflow or underflow where
    the running product would not (1e-30, 1e-30, 1e30, 1e30 gives NaN last, not 1)."""
    wide, dtype = _summed(x, dtype, "cumprod", products=True)
    axis = normalize_axis("cumprod", axis, max(wide.ndim, 1), wide.shape)
    multiply = lambda a, b: a * b     # noqa: E731
    if not wide.dtype.is_float:
        y = _scan(wide, axis, multiply, 1)
    else:
        # the zeros apart (q: 1 until the first, then their signed zero), so that a zero
        # times a later partial product that overflowed (p) is 0, as in exact arithmetic,
        # and NaN only where an inf or NaN was among the factors (f)
        zero, finite = wide == 0, (wide - wide) == 0
        p = _scan(where(zero, 1.0, wide), axis, multiply, 1)
        q = _scan(where(zero, wide, 1.0), axis, multiply, 1)
        f = _scan(where(finite, 1.0, wide), axis, multiply, 1)
        y = where(logical_and(q == 0, (p - p) != 0), q * f, p * q)
    return y if y.dtype is dtype else cast(y, dtype)


def _scan(y, axis, combine, identity):
    """Hillis and Steele's inclusive scan: ceil(log2 n) rounds, each position combined
    with the partial result ending ``step`` before it (``identity`` before the start)."""
    n, step = (y.shape[axis] if y.ndim else 1), 1
    while step < n:
        y = combine(y, pad(_along(y, axis, 0, n - step), _widths(y.ndim, axis, step, 0), identity))
        step *= 2
    return y


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis`` (an int, a tuple, or None for all), as torch.prod, in
    sum's dtypes (integers in the default integer, 16-bit floats in float32); an empty
    axis gives 1. Computed as a tree of pairwise products, so overflow happens where a
    partial product overflows, as in any order."""
    wide, dtype = _summed(x, dtype, "prod", products=True)
    axes = normalize_axes("prod", axis, wide.ndim, wide.shape)
    rest = tuple(a for a in range(wide.ndim) if a not in axes)
    kept = tuple(wide.shape[a] for a in rest)
    y = reshape(permute(wide, rest + axes), kept + (math.prod(wide.shape[a] for a in axes),))
    if y.shape[-1] == 0:
        y = pad(y, _widths(y.ndim, y.ndim - 1, 0, 1), 1)
    while y.shape[-1] > 1:
        n = y.shape[-1]
        if n % 2:
            y = pad(y, _widths(y.ndim, y.ndim - 1, 0, 1), 1)
            n += 1
        y = _along(y, y.ndim - 1, 0, n // 2) * _along(y, y.ndim - 1, n // 2, n)
    shape = tuple(1 if a in axes else d for a, d in enumerate(wide.shape)) if keepdims else kept
    y = reshape(y, shape)
    return y if y.dtype is dtype else cast(y, dtype)


def _running_extreme(op, x, axis, later_wins):
    """(values, indices) of the running maximum or minimum along ``axis``: the index of
    the latest of equal extremes, and of the latest NaN once one is met (NaN ranks above
    every value), as PyTorch's cummax and cummin; values gathered from x at the indices,
    so the gradient goes to them."""
    from ..autograd import no_grad
    from ..creation import arange
    from .elementwise import logical_not, logical_or
    from .indexing import take_along_axis
    from .nonfinite import isnan
    from .sort import Ranked
    x = as_tensor(x, op)
    check_ordered(op, x)
    axis = normalize_axis(op, axis, max(x.ndim, 1), x.shape)
    flat = reshape(x, (1,)) if not x.ndim else x
    n = flat.shape[axis]
    shape = [1] * flat.ndim
    shape[axis] = n
    index = broadcast_to(arange(n, dtype=x._backend.default_int,
                                backend=x._backend).reshape(shape), flat.shape)
    if flat.dtype.is_inexact:
        edge = math.inf if op == "cummin" else -math.inf
    else:
        info = np.iinfo(flat.dtype.np)
        edge = info.max if op == "cummin" else info.min
    v, i, step = flat, index, 1
    with no_grad():
        while step < n:
            ev = pad(_along(v, axis, 0, n - step), _widths(v.ndim, axis, step, 0), edge)
            ei = pad(_along(i, axis, 0, n - step), _widths(v.ndim, axis, step, 0), 0)
            keep = later_wins(v, ev)
            if v.dtype.is_inexact:
                keep = logical_or(isnan(v), logical_and(logical_not(isnan(ev)), keep))
            v, i = where(keep, v, ev), where(keep, i, ei)
            step *= 2
    values = take_along_axis(flat, i, axis)
    if not x.ndim:
        return Ranked(reshape(values, ()), reshape(i, ()))
    return Ranked(values, i)


def cummax(x, axis):
    """(values, indices) of the running maximum along ``axis``, as torch.cummax: of
    equal maxima the latest index; NaN, once met, stays (at the latest NaN's index)."""
    return _running_extreme("cummax", x, axis, lambda later, earlier: later >= earlier)


def cummin(x, axis):
    """(values, indices) of the running minimum along ``axis``, as torch.cummin."""
    return _running_extreme("cummin", x, axis, lambda later, earlier: later <= earlier)


def logcumsumexp(x, axis):
    """log(cumsum(exp(x))) along ``axis`` without overflow, as torch.logcumsumexp: a scan
    of logaddexp (rounding grows with log n); -inf terms add nothing, inf gives inf, NaN
    spreads. Integers give the default float; float16 and bfloat16 run in float32."""
    from .arithmetic import logaddexp
    from .elementwise import _float_input
    x = _float_input("logcumsumexp", x)
    dtype = x.dtype
    if dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        x = cast(x, dt.float32)
    axis = normalize_axis("logcumsumexp", axis, max(x.ndim, 1), x.shape)
    y = _scan(x, axis, logaddexp, -math.inf)
    return y if y.dtype is dtype else cast(y, dtype)


def _trapezoids(op, y, x, dx, dim):
    """The areas (y_i + y_{i+1}) / 2 (x_{i+1} - x_i) of y's consecutive pairs along ``dim``
    (spacing ``dx``, or the sample points ``x``: 1-D along dim, or y's shape)."""
    y = as_tensor(y, op)
    axis = normalize_axis(op, dim, y.ndim, y.shape)
    n = y.shape[axis]

    def part(t, start, stop):
        key = [slice(None)] * t.ndim
        key[axis if t.ndim == y.ndim else 0] = slice(start, stop)
        return t[tuple(key)]
    mid = (part(y, 1, n) + part(y, 0, n - 1)) * 0.5
    if x is None:
        return mid * dx
    x = as_tensor(x, op, like=y)
    if x.ndim == 1:
        if x.shape[0] != n:
            from ..errors import ShapeError
            raise ShapeError(f"{op}: x has {x.shape[0]} points, y {n} along axis {dim}")
        widths = reshape(part(x, 1, n) - part(x, 0, n - 1), (n - 1,) + (1,) * (y.ndim - axis - 1))
    else:
        widths = part(x, 1, n) - part(x, 0, n - 1)
    return mid * widths


def trapezoid(y, x=None, *, dx=1.0, dim=-1):
    """The trapezoidal rule's integral of y along ``dim`` (torch.trapezoid, trapz): 0 for
    fewer than two samples."""
    areas = _trapezoids("trapezoid", y, x, dx, dim)
    axis = normalize_axis("trapezoid", dim, areas.ndim, areas.shape)
    return areas.sum(axis=axis)


def cumulative_trapezoid(y, x=None, *, dx=1.0, dim=-1):
    """The running trapezoidal integrals along ``dim``, one fewer than y's samples
    (torch.cumulative_trapezoid)."""
    areas = _trapezoids("cumulative_trapezoid", y, x, dx, dim)
    return cumsum(areas, normalize_axis("cumulative_trapezoid", dim, areas.ndim, areas.shape))
