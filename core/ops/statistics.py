"""PyTorch's paired and matrix statistics over ember's reductions: aminmax, var_mean,
std_mean, cov and corrcoef. Composed of differentiable ops, so they run and
differentiate on every backend."""

import collections
import math

from ..errors import RangeError, ShapeError, refuses_none
from ._util import as_tensor
from .elementwise import _float_input, clip, sqrt
from .movement import diagonal, reshape, transpose
from .reduce import amax, amin, mean, std, sum as sum_, var

MinMax = collections.namedtuple("MinMax", "min max")


def aminmax(x, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (all axes when None), as torch.aminmax."""
    return MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def var_mean(x, dim=None, *, correction=1, keepdim=False):
    """(var, mean) over ``dim``, as torch.var_mean (``correction`` 1: unbiased)."""
    return var(x, dim, correction, keepdim), mean(x, dim, keepdim)


def std_mean(x, dim=None, *, correction=1, keepdim=False):
    """(std, mean) over ``dim``, as torch.std_mean."""
    return std(x, dim, correction, keepdim), mean(x, dim, keepdim)


def cov(x, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in x's rows over the observations in its
    columns (a 1-D x: one variable, its variance), as torch.cov and numpy.cov: integer
    frequency weights and float observation weights per column, the divisor the weights'
    sum less ``correction`` times sum(w aweights) / sum(w) (or ``correction`` alone)."""
    x = _float_input("cov", as_tensor(x, "cov"))
    if x.ndim > 2:
        raise ShapeError(f"cov: takes a 1-D or 2-D tensor, got shape {x.shape}")
    rows = reshape(x, (1, -1)) if x.ndim < 2 else x
    n = rows.shape[1]
    w = None
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is not None:
            weights = as_tensor(weights, "cov", like=x)
            if weights.shape != (n,):
                raise ShapeError(f"cov: {name} must have one entry per observation, shape "
                                 f"({n},), got {weights.shape}")
            weights = weights.to(x.dtype)
            w = weights if w is None else w * weights
    total = sum_(w) if w is not None else n
    average = sum_(rows * w, 1, True) / total if w is not None else mean(rows, 1, True)
    if w is None:
        divisor = n - correction
    elif aweights is None:
        divisor = total - correction
    else:
        a = as_tensor(aweights, "cov", like=x).to(x.dtype)
        divisor = total - correction * sum_(w * a) / total
    centered = rows - average
    weighted = centered * w if w is not None else centered
    out = (weighted @ transpose(centered)) / divisor
    return reshape(out, ()) if x.ndim < 2 else out


def corrcoef(x):
    """Pearson's correlation coefficients of the variables in x's rows, as torch.corrcoef:
    cov / sqrt(var_i var_j), clipped to [-1, 1] (a constant variable gives NaN)."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = sqrt(diagonal(c, 0, -2, -1))
    return clip(c / reshape(d, (-1, 1)) / reshape(d, (1, -1)), -1.0, 1.0)


Histogram = collections.namedtuple("Histogram", "hist bin_edges")


def _edges(lo, hi, bins, like):
    """bins + 1 evenly spaced edges from lo to hi (0-d tensors), as torch.linspace
    spaces them: from lo for the first half, back from hi for the rest."""
    from ..creation import arange
    from .elementwise import where
    i = arange(bins + 1, dtype=like.dtype, backend=like.backend)
    step = (hi - lo) / bins
    return where(i < (bins + 1) // 2, lo + step * i, hi - step * (bins - i))


def _binned(x, edges, weight):
    """Each element's bin among ``edges`` (the last one closed), and its weight, 0 for the
    elements outside the edges and NaN."""
    from ..creation import ones_like
    from .elementwise import logical_and, where
    from .sort import searchsorted
    bins = edges.shape[0] - 1
    flat = reshape(x, (-1,))
    at = searchsorted(edges, flat, side="right") - 1
    at = where(flat == edges[-1], bins - 1, at)
    inside = logical_and(flat >= edges[0], flat <= edges[-1])
    w = ones_like(flat) if weight is None else reshape(weight, (-1,))
    return where(inside, at, 0), where(inside, w, 0.0)   # (NaN and inf weigh nothing there)


def _given(value, like):
    """A bound given as a number, as a 0-d tensor of ``like``'s dtype and backend (the
    data's own values play no part: x.sum() * 0 + value was NaN where x held NaN or inf)."""
    from ..creation import full
    return full((), float(value), dtype=like.dtype, backend=like.backend)


def _spec_edges(op, spec, data, bounds, what):
    """The edges a bin specification gives: a tensor of them (1-D, at least 2), or a
    count of equal bins over ``bounds`` (lo, hi) or the data's extremes, widened by 1/2
    each way where they are equal."""
    from ..tensor import Tensor
    from .elementwise import where
    if isinstance(spec, Tensor):
        edges = as_tensor(spec, op).to(data.dtype)
        if edges.ndim != 1 or edges.shape[0] < 2:
            raise ShapeError(f"{op}: {what} must be 1-D with at least 2, got {edges.shape}")
        return edges
    if int(spec) <= 0:
        raise ValueError(f"{op}: bins must be positive, got {spec}")
    lo, hi = (_given(bounds[0], data), _given(bounds[1], data)) if bounds is not None else \
        _extremes(op, data)
    same = lo == hi
    return _edges(where(same, lo - 0.5, lo), where(same, hi + 0.5, hi), int(spec), data)


def _extremes(op, x):
    """The data's (min, max) as 0-d tensors, for a range not given: 0 and 1 for no data
    (PyTorch's); an infinite or NaN one is refused eagerly (its edges would all be NaN),
    as PyTorch refuses it."""
    from ..compile import is_compiling
    if not x.size:
        return _given(0.0, x), _given(1.0, x)
    lo, hi = amin(x), amax(x)
    if not is_compiling():
        low, high = float(lo.item()), float(hi.item())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RangeError(f"{op}: the data's range [{low}, {high}] is not finite; give "
                             f"range=(lo, hi) to count only what lies within it")
    return lo, hi


def _counts(at, w, bins, dtype, backend):
    from ..creation import zeros
    from .elementwise import cast
    from .scatter import scatter_add
    return scatter_add(zeros((bins,), dtype=dtype, backend=backend), 0, at, cast(w, dtype))


def histc(input, bins=100, min=0, max=0):  # noqa: A002  (PyTorch's names)
    """A histogram of ``bins`` equal bins from min to max (the data's own extremes when
    both are 0, widened by 1 each way when they are equal), as torch.histc: elements
    outside, and NaN, are not counted; counts in the input's float dtype."""
    from .elementwise import where
    x = _float_input("histc", input)
    if int(bins) <= 0:
        raise ValueError(f"histc: bins must be positive, got {bins}")
    if min == 0 and max == 0:
        numbers = where(x == x, x, 0.0) if x.size else x
        lo, hi = _extremes("histc", numbers) if x.size else (_given(0.0, x), _given(0.0, x))
    else:
        if min > max:
            raise ValueError(f"histc: max ({max}) must not be less than min ({min})")
        lo, hi = _given(min, x), _given(max, x)
    same = lo == hi
    lo, hi = where(same, lo - 1.0, lo), where(same, hi + 1.0, hi)
    at, w = _binned(x, _edges(lo, hi, int(bins), x), None)
    return _counts(at, w, int(bins), x.dtype, x.backend)


@refuses_none
def histogram(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """(hist, bin_edges), as torch.histogram: ``bins`` equal bins over ``range`` (the
    data's extremes by default, widened by 1/2 each way when they are equal), or the
    given increasing 1-D edges; each bin holds its left edge, the last both; ``weight``
    weighs each element; ``density`` divides by the total and the bin widths."""
    x = _float_input("histogram", input)
    edges = _spec_edges("histogram", bins, x, range, "bin edges")
    if weight is not None and as_tensor(weight, "histogram").shape != x.shape:
        raise ShapeError(f"histogram: weight {weight.shape} must have input's shape {x.shape}")
    at, w = _binned(x, edges, weight)
    hist = _counts(at, w, edges.shape[0] - 1, x.dtype, x.backend)
    if density:
        hist = hist / (sum_(hist) * (edges[1:] - edges[:-1]))
    return Histogram(hist, edges)


HistogramDD = collections.namedtuple("HistogramDD", "hist bin_edges")


@refuses_none
def histogramdd(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """(hist, bin_edges), as torch.histogramdd: the points are input's last axis (D
    coordinates; the other axes are points too); ``bins`` an int for every dimension,
    one int per dimension, or D tensors of increasing edges; ``range`` [lo0, hi0, lo1,
    hi1, ...] (each dimension's extremes by default, widened by 1/2 each way when
    equal); each bin holds its lower edges, the last ones both; ``weight`` one per
    point; ``density`` divides by the total weight and each bin's volume."""
    x = _float_input("histogramdd", input)
    if x.ndim < 1:
        raise ShapeError("histogramdd: input must have a last axis of coordinates, got a 0-d tensor")
    dims = x.shape[-1]
    points = reshape(x, (-1, dims))
    bins = list(bins) if isinstance(bins, (list, tuple)) else [bins] * dims
    if len(bins) != dims:
        raise ShapeError(f"histogramdd: {len(bins)} bin specifications for {dims} dimensions")
    if range is not None and len(range) != 2 * dims:
        raise ShapeError(f"histogramdd: range holds a (lo, hi) pair per dimension, "
                         f"{2 * dims} numbers, got {len(range)}")
    if weight is not None and as_tensor(weight, "histogramdd").shape != x.shape[:-1]:
        raise ShapeError(f"histogramdd: weight {weight.shape} must have one value per point, "
                         f"{x.shape[:-1]}")
    edges, flat, keep = [], None, None
    for d, spec in enumerate(bins):
        column = points[:, d]
        e = _spec_edges("histogramdd", spec, column,
                        None if range is None else range[2 * d:2 * d + 2],
                        f"dimension {d}'s edges")
        at, inside = _binned(column, e, None)
        edges.append(e)
        flat = at if flat is None else flat * (e.shape[0] - 1) + at
        keep = inside if keep is None else keep * inside
    shape = tuple(e.shape[0] - 1 for e in edges)
    w = keep if weight is None else keep * reshape(as_tensor(weight, "histogramdd"), (-1,))
    count = 1
    for n in shape:
        count *= n
    hist = reshape(_counts(flat, w, count, x.dtype, x.backend), shape)
    if density:
        volume = None
        for d, e in enumerate(edges):
            width = reshape(e[1:] - e[:-1], (1,) * d + (-1,) + (1,) * (dims - d - 1))
            volume = width if volume is None else volume * width
        hist = hist / (sum_(hist) * volume)
    return HistogramDD(hist, edges)
