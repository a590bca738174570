"""Reductions over any axes, with keepdims."""

import numpy as np

from .. import amp
from .. import dtypes as dt
from ..autograd import Op, is_grad_enabled, run
from ..errors import ShapeError
from ..shapes import normalize_axes, normalize_axis
from ..tensor import wrap
from ._util import as_tensor, const, fast_path, primitive, rounds_once
from .elementwise import (_float_input, _real_float_input, cast, check_ordered, eq, exp, log,
                          logical_or, sqrt, where)


def _reduced(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _kept(g, shape, axes, keepdims):
    """``g`` reshaped so that it broadcasts back against the input shape."""
    from .movement import reshape
    if keepdims or not axes:
        return g
    return reshape(g, _reduced(shape, axes, True))


class Sum(Op):
    __slots__ = ("axes", "keepdims")
    complex_grad = True

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        return self.backend.sum(x, self.axes, self.keepdims)

    def backward(self, g, x):
        from .movement import broadcast_to
        return (broadcast_to(_kept(g, x.shape, self.axes, self.keepdims), x.shape),)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all); ints and bools sum to the
    backend's integer dtype (int64 where it has one), uint64 to uint64."""
    x = amp.widen(as_tensor(x, "sum"))     # under autocast, in float32
    axes = normalize_axes("sum", axis, x.ndim, x.shape)
    if not x.dtype.is_inexact and x.dtype not in (x._backend.default_int, dt.uint64):
        x = cast(x, x._backend.default_int)
    if x.dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        # accumulated in float32, as PyTorch does: a float16 running sum overflows (and
        # a 16-bit one loses the small terms) long before the result does
        wide = cast(x, dt.float32)
        return cast(run(Sum(axes, keepdims), (wide,), _reduced(x.shape, axes, keepdims),
                        dt.float32), x.dtype)
    return run(Sum(axes, keepdims), (x,), _reduced(x.shape, axes, keepdims), x.dtype)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; integer inputs give the default float."""
    x = as_tensor(x, "mean")
    axes = normalize_axes("mean", axis, x.ndim, x.shape)
    if not x.dtype.is_inexact:
        x = cast(x, dt.default_float)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if x.dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        # the float32 sum is divided before it returns to 16 bits: a float16 sum of
        # representable values can overflow where their mean does not
        return cast(sum(cast(x, dt.float32), axes, keepdims) * (1.0 / n if n else float("nan")),
                    x.dtype)
    return sum(x, axes, keepdims) * (1.0 / n if n else float("nan"))


def _spread(x, op, axis, correction, keepdims):
    """(m, scales) with variance m * s1 * s1 * s0 * s0 (multiplied in that order, so that
    no partial product overflows where the result does not). Rows whose largest magnitude
    s0 is so large that their sum, or a value less the mean, could overflow are divided by
    it first (var of [1e38, 3e38, 1e38] in float32 was NaN, torch's float32 inf, the true
    8.9e75 inf and its std 9.4e37 finite); the deviations are then divided by their own
    largest magnitude s1 before squaring, so that neither tiny values (1e-30 ** 2
    underflows float32) nor huge ones lose the variance. Both scales are constants to
    autograd (the identity holds for any), so the gradient is the plain formula's.
    float16 and bfloat16 work in float32, as PyTorch's."""
    x = as_tensor(x, op)
    axes = normalize_axes(op, axis, x.ndim, x.shape)
    if not x.dtype.is_float:
        x = cast(x, dt.default_float)
    if x.dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        m, scales = _spread(cast(x, dt.float32), op, axes, correction, keepdims)
        return cast(m, x.dtype), [cast(s, x.dtype) for s in scales]
    n = 1
    for a in axes:
        n *= x.shape[a]
    denom = n - correction
    scale = 1.0 / denom if denom > 0 else float("nan")
    if n == 0:
        d = x - mean(x, axes, keepdims=True)
        return sum(d * d, axes, keepdims) * scale, []
    one = const(1, x.dtype, x._backend)
    big = amax(x.detach().abs(), axes, keepdims=True)
    s0 = where(big > float(dt.finfo(x.dtype).max) / (n + 2), big, one)
    y = x / s0
    d = y - mean(y, axes, keepdims=True)
    s1 = amax(d.detach().abs(), axes, keepdims=True)
    s1 = where(eq(s1, 0), one, s1)
    q = d / s1
    m = sum(q * q, axes, keepdims) * scale
    return m, [s if keepdims else s.reshape(m.shape) for s in (s1, s0)]


@rounds_once
def var(x, axis=None, correction=1, keepdims=False):
    """Variance with Bessel's correction by default, as torch.var does."""
    m, scales = _spread(x, "var", axis, correction, keepdims)
    for s in scales:
        m = m * s * s
    return m


class SafeRoot(Op):
    """sqrt of a sum of squares (a variance, a norm) whose gradient is 0 where it is 0, as
    PyTorch's std and norm backward mask it (sqrt's own would be g / 0, and inf * 0 NaN)."""

    __slots__ = ()
    saves_output = True

    def forward(self, v):
        return self.backend.sqrt(v)

    def backward(self, g, v):
        y = self.out
        zero = const(0, g.dtype, g._backend)
        return (where(eq(y, 0), zero, g / (y * 2.0)),)


def safe_root(m):
    """sqrt of ``m`` (>= 0) with gradient 0 at 0."""
    return run(SafeRoot(), (m,), m.shape, m.dtype)


def by_largest(x, axis):
    """(x / s, s), s the largest magnitude over ``axis`` (kept; a constant to autograd, 1
    where it is 0 or inf): a norm or a direction computed from x / s neither overflows
    nor underflows (vector_norm, F.normalize, F.cosine_similarity)."""
    if x.size == 0:
        return x, 1.0
    big = amax(x.detach().abs(), axis, keepdims=True)
    s = where(logical_or(eq(big, 0), eq(big, float("inf"))), 1.0, big)
    return x / s, s


def vector_norm(x, ord=2, axis=None, keepdims=False):
    """(sum |x|^ord)^(1 / ord) over ``axis`` (all when None); ord inf and -inf the largest
    and smallest magnitude, 0 the count of nonzeros. Scaled by the largest magnitude, so
    that |x|^ord neither overflows (a float32 norm of 1e30s, where PyTorch's is inf) nor
    underflows; an infinite element gives inf, NaN gives NaN; a zero vector's gradient is
    0, not NaN; an empty one's norm 0. Integers give the default float."""
    x = _float_input("vector_norm", x)
    a = x.abs()
    if ord == float("inf"):
        return amax(a, axis, keepdims) if a.size else sum(a, axis, keepdims)
    if ord == -float("inf"):
        return amin(a, axis, keepdims)
    if ord == 0:
        return sum(cast(x != 0, a.dtype), axis, keepdims)
    if ord == 1:
        return sum(a, axis, keepdims)
    if x.size == 0:
        return sum(a, axis, keepdims)
    r, scale = by_largest(a, axis)
    if ord == 2:
        norm = safe_root(sum(r * r, axis, keepdims))
    else:
        total = sum(r ** ord, axis, keepdims)
        if ord > 0:     # the root's slope is inf at 0: a zero vector's gradient 0, not NaN
            zero = eq(total, 0)
            norm = where(zero, 0.0, where(zero, 1.0, total) ** (1.0 / ord))
        else:
            norm = total ** (1.0 / ord)
    if not keepdims:
        from .movement import reshape
        scale = reshape(scale, norm.shape)
    return norm * scale


def norm(x, p=2, dim=None, keepdim=False):
    """PyTorch's torch.norm and Tensor.norm for vectors: vector_norm of order ``p`` ("fro"
    is 2) over ``dim`` (all axes when None)."""
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}; matrix norms are in "
                         f"ember.array_api.linalg")
    return vector_norm(x, p, dim, keepdim)


@rounds_once
def std(x, axis=None, correction=1, keepdims=False):
    """Standard deviation; its gradient at a constant input is 0, as PyTorch's."""
    m, scales = _spread(x, "std", axis, correction, keepdims)
    root = safe_root(m)
    for s in scales:
        root = root * s
    return root


class Standardize(Op):
    """(x - mean) / sqrt(var + eps) over ``axes``, the variance without correction: layer
    norm's core as one op, so that a backend runs it in a few passes over x (NumPy: fwd +
    bwd of a GPT's (16, 128, 128) LayerNorm 3.7 ms as twenty primitives, 0.3 in PyTorch).
    Saves its output and rstd = 1 / sqrt(var + eps); backward is
    rstd (g - mean(g) - y mean(g y))."""

    __slots__ = ("axes", "eps", "n", "dtype", "rstd")
    saves_output = True

    def __init__(self, axes, eps, n, dtype):
        self.axes, self.eps, self.n, self.dtype = axes, eps, n, dtype

    def forward(self, x):
        b = self.backend
        if b.fast_standardize is not None:
            found = b.fast_standardize(x, self.axes, self.eps)
            if found is not None:      # None: a backend's fast path leaves the edges here
                y, self.rstd = found
                return y
        # rows whose largest magnitude s0 is so large that their sum or a deviation could
        # overflow are divided by it first (eps by s0^2); the deviations from the mean less
        # their own mean (the mean's rounding: 1e4 + N(0, 1) in float32 was 1e-3 off
        # without it, PyTorch's 4e-4), divided by their largest magnitude s before
        # squaring (as _spread): r = 1 / (s sqrt(var / s^2 + eps / s^2)) in the scaled
        # units, rstd = r / s0. Where eps / s^2 overflows, var is far below eps (and s0 is
        # 1): rstd = 1 / sqrt(eps). Where eps / s0^2 underflows on a constant row, r is
        # inf: y is 0 and rstd 1 / sqrt(eps) (without eps, NaN and inf, as the formula).
        axes, inv_n, eps = self.axes, 1 / self.n, self.eps
        k = lambda v: b.full((), v, self.dtype)      # noqa: E731
        big = b.max(b.abs(x), axes, True)
        s0 = b.where(b.gt(big, k(float(dt.finfo(self.dtype).max) / (self.n + 2))), big, k(1))
        x = b.div(x, s0)
        d = b.sub(x, b.mul(b.sum(x, axes, True), k(inv_n)))
        d = b.sub(d, b.mul(b.sum(d, axes, True), k(inv_n)))
        s = b.max(b.abs(d), axes, True)
        s = b.where(b.eq(s, k(0)), k(1), s)
        q = b.div(d, s)
        var = b.mul(b.sum(b.mul(q, q), axes, True), k(inv_n))
        e = b.div(b.div(b.div(b.div(k(eps), s0), s0), s), s)
        r = b.div(k(1), b.mul(s, b.sqrt(b.add(var, e))))
        if eps <= 0:
            self.rstd = b.div(r, s0)
            return b.mul(d, r)
        r = b.where(b.eq(r, k(0)), k(eps ** -0.5), r)
        unbounded = b.eq(r, k(float("inf")))
        self.rstd = b.where(unbounded, k(eps ** -0.5), b.div(r, s0))
        return b.mul(d, b.where(unbounded, k(0), r))

    def backward(self, g, x):
        axes = self.axes
        if is_grad_enabled():    # a gradient's own graph: y and rstd again in tensor ops
            d = x - mean(x, axes, keepdims=True)
            rstd = 1.0 / sqrt(mean(d * d, axes, keepdims=True) + self.eps)
            y = d * rstd
        else:
            rstd = wrap(self.rstd, g._backend, _reduced(x.shape, axes, True), g.dtype)
            y = self.out
            if g._backend.fast_standardize_grad is not None:
                return (fast_path("fast_standardize_grad", g, g, y, rstd, axes),)
        return ((g - mean(g, axes, keepdims=True) - y * mean(g * y, axes, keepdims=True))
                * rstd,)


def standardize(x, axis=-1, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over ``axis`` (an int or a tuple), the variance
    without correction, as layer norm normalizes before its affine step. Exact for
    spreads as tiny as 1e-30 and as huge as 1e30 in float32; a constant input gives 0
    (a NaN or an infinity, NaN); 16-bit floats compute in float32, ints in the default
    float, complex ones are refused; an empty input gives an empty output, and no axes
    give 0 (each value is its own mean)."""
    x = as_tensor(x, "standardize")
    axes = normalize_axes("standardize", axis, x.ndim, x.shape)
    x = _real_float_input("standardize", x)
    if x.dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        return cast(standardize(cast(x, dt.float32), axes, eps), x.dtype)
    if x.size == 0 or not axes:        # each value its own mean: 0 (NaN for inf and NaN)
        return x - x
    n = 1
    for a in axes:
        n *= x.shape[a]
    return run(Standardize(axes, float(eps), n, x.dtype), (x,), x.shape, x.dtype)


class Extreme(Op):
    """max or min; the gradient is shared equally between tied extremes."""

    __slots__ = ("kind", "axes", "keepdims")
    saves_output = True

    def __init__(self, kind, axes, keepdims):
        self.kind, self.axes, self.keepdims = kind, axes, keepdims

    def forward(self, x):
        return getattr(self.backend, self.kind)(x, self.axes, self.keepdims)

    def backward(self, g, x):
        out = _kept(self.out.detach(), x.shape, self.axes, self.keepdims)
        hit = cast(eq(x, out), g.dtype)
        count = sum(hit, self.axes, keepdims=True)
        return (_kept(g, x.shape, self.axes, self.keepdims) * hit / count,)


def _refuse_empty(kind, x, axes):
    for a in axes:
        if x.shape[a] == 0:
            raise ShapeError(f"{kind}: cannot reduce axis {a} of size 0 (shape {x.shape}); "
                             f"an empty reduction has no {kind}imum")


def _extreme(kind, x, axis, keepdims):
    x = as_tensor(x, kind)
    check_ordered(kind, x)
    axes = normalize_axes(kind, axis, x.ndim, x.shape)
    _refuse_empty(kind, x, axes)
    return run(Extreme(kind, axes, keepdims), (x,), _reduced(x.shape, axes, keepdims), x.dtype)


def max(x, *args, axis=None, keepdims=None, dim=None, keepdim=None):  # noqa: A001
    """The largest value, as torch.max and numpy.amax give it, the arguments saying which:
    ``max(x)`` over all elements; ``max(x, dim)``, ``max(x, dim, keepdim)`` or
    ``max(x, dim=1, keepdim=True)`` (one axis, an int) PyTorch's (values, indices), the
    first largest (NaN before all), its gradient going to that index; ``max(x, y)`` (a
    tensor) the elementwise maximum; ``max(x, axis=..., keepdims=...)`` or a tuple of
    axes NumPy's amax, ties sharing the gradient."""
    return _max_min("max", argmax, x, args, axis, keepdims, dim, keepdim)


def min(x, *args, axis=None, keepdims=None, dim=None, keepdim=None):  # noqa: A001
    """The smallest value: torch.min's and numpy.amin's forms, as ``max`` reads them."""
    return _max_min("min", argmin, x, args, axis, keepdims, dim, keepdim)


def _max_min(kind, arg, x, args, axis, keepdims, dim, keepdim):
    from ..tensor import Tensor
    if len(args) > 2:
        raise TypeError(f"{kind}: takes x and at most an axis and keepdim, got {len(args) + 1} "
                        f"arguments")
    first = args[0] if args else None
    if isinstance(first, Tensor):
        if len(args) > 1 or (axis, keepdims, dim, keepdim) != (None,) * 4:
            raise TypeError(f"{kind}(x, y) is the elementwise {kind}imum and takes no axes")
        from .elementwise import maximum, minimum
        return (maximum if kind == "max" else minimum)(x, first)
    torch_form = dim is not None or keepdim is not None or (
        isinstance(first, (int, np.integer)) and not isinstance(first, bool))
    if torch_form:
        if axis is not None or keepdims is not None or (dim is not None and args) or (
                keepdim is not None and len(args) > 1):
            raise TypeError(f"{kind}: give axis and keepdims (NumPy's amax) or dim and keepdim "
                            f"(PyTorch's values and indices), not both")
        dim = first if dim is None else dim
        if dim is None:
            raise TypeError(f"{kind}: keepdim needs dim, the axis to reduce")
        return _with_index(kind, arg, x, dim, keepdim if keepdim is not None else (
            args[1] if len(args) > 1 else False))
    if args and axis is not None or len(args) > 1 and keepdims is not None:
        raise TypeError(f"{kind}: axis or keepdims given twice")
    return _extreme(kind, x, first if args else axis,
                    args[1] if len(args) > 1 else bool(keepdims))


def _with_index(kind, arg, x, dim, keepdim):
    from .indexing import take_along_axis
    from .movement import squeeze
    from .sort import Ranked
    x = as_tensor(x, kind)
    check_ordered(kind, x)
    dim = normalize_axis(kind, dim, x.ndim, x.shape)
    _refuse_empty(kind, x, (dim,))
    index = arg(x, dim, keepdims=True)
    values = take_along_axis(x, index, dim)
    if not keepdim:
        values, index = squeeze(values, dim), squeeze(index, dim)
    return Ranked(values, index)


def amax(x, axis=None, keepdims=False):
    """Largest value over ``axis`` (all axes when None), ties sharing the gradient
    (torch.amax: the values only)."""
    return _extreme("max", x, axis, keepdims)


def amin(x, axis=None, keepdims=False):
    """Smallest value over ``axis`` (torch.amin)."""
    return _extreme("min", x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the first largest value along one axis (None: of the flattened tensor)."""
    return _arg("argmax", as_tensor(x, "argmax"), axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the first smallest value along one axis (None: of the flattened tensor)."""
    x = as_tensor(x, "argmin").detach()
    if x.dtype is dt.bool_:
        x = cast(x, dt.int32)
    if x.dtype.is_int:    # order-reversing without overflow: -x wraps at int8's -128 and at 0 - 1 unsigned
        flipped = (int(np.iinfo(x.dtype.np).max) if x.dtype.is_unsigned else -1) - x
    else:
        flipped = -x
    return _arg("argmin", flipped, axis, keepdims)


def _arg(name, x, axis, keepdims):
    from .movement import reshape
    check_ordered(name, x)
    if axis is None:
        if keepdims:
            out = _arg(name, reshape(x, (-1,)), 0, False)
            return reshape(out, (1,) * x.ndim)
        x, axis = reshape(x, (-1,)), 0
    if x.ndim == 0:
        x = reshape(x, (1,))
    axis = normalize_axis(name, axis, x.ndim, x.shape)
    if x.shape[axis] == 0:
        raise ShapeError(f"{name}: axis {axis} of shape {x.shape} is empty")
    return primitive("argmax", (x,), _reduced(x.shape, (axis,), keepdims), x._backend.default_int,
                     axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably by shifting with the (detached) maximum."""
    x = amp.widen(as_tensor(x, "logsumexp"))
    if not x.dtype.is_float:
        x = cast(x, dt.default_float)
    axes = normalize_axes("logsumexp", axis, x.ndim, x.shape)
    if 0 in (x.shape[a] for a in axes):   # log(0): the empty sum, as NumPy and PyTorch
        from ..creation import full
        return full(_reduced(x.shape, axes, keepdims), float("-inf"), x.dtype, x._backend)
    m = amax(x, axes, keepdims=True).detach()
    m = where(m.abs() < float("inf"), m, const(0.0, x.dtype, x._backend))
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    if not keepdims:
        from .movement import reshape
        out = reshape(out, _reduced(x.shape, axes, False))
    return out


def any(x, axis=None, keepdims=False):  # noqa: A001
    """True where any value along ``axis`` is nonzero."""
    x = as_tensor(x, "any")
    if x.dtype is not dt.bool_:
        x = x != 0
    if x.size == 0:
        return _empty_logical(x, axis, keepdims, False)
    return _extreme("max", x, axis, keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    """True where every value along ``axis`` is nonzero."""
    x = as_tensor(x, "all")
    if x.dtype is not dt.bool_:
        x = x != 0
    if x.size == 0:
        return _empty_logical(x, axis, keepdims, True)
    return _extreme("min", x, axis, keepdims)


def _empty_logical(x, axis, keepdims, value):
    from ..creation import full
    axes = normalize_axes("any", axis, x.ndim, x.shape)
    return full(_reduced(x.shape, axes, keepdims), value, dtype=dt.bool_, backend=x._backend)


def count_nonzero(x, axis=None, keepdims=False):
    """How many of x's elements over ``axis`` are not 0 (NaN counts: it is not 0), in
    the backend's integer dtype, as torch.count_nonzero and numpy.count_nonzero."""
    from .elementwise import ne
    x = as_tensor(x, "count_nonzero")
    return sum(ne(x, 0), axis, keepdims)


def nansum(x, axis=None, keepdims=False):
    """The sum over ``axis`` with NaNs taken as 0 (all NaN: 0), as torch.nansum; infinities
    still add up (inf + -inf is NaN)."""
    from .nonfinite import isnan
    x = as_tensor(x, "nansum")
    return sum(where(isnan(x), 0, x) if x.dtype.is_inexact else x, axis, keepdims)


def nanmean(x, axis=None, keepdims=False):
    """The mean over ``axis`` of the values that are not NaN (all NaN: NaN, 0 / 0), as
    torch.nanmean."""
    from .elementwise import logical_not
    from .nonfinite import isnan
    x = as_tensor(x, "nanmean")
    if not x.dtype.is_inexact:
        return mean(x, axis, keepdims)
    kept = logical_not(isnan(x))
    return nansum(x, axis, keepdims) / cast(sum(kept, axis, keepdims), x.dtype)


def dist(x, y, p=2):
    """The p-norm of x - y over all elements (torch.dist), as vector_norm computes it."""
    return vector_norm(as_tensor(x, "dist") - y, p)


def renorm(x, p, dim, maxnorm):
    """x with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to it
    (torch.renorm: the scale maxnorm / (norm + 1e-7))."""
    x = as_tensor(x, "renorm")
    axis = normalize_axis("renorm", dim, x.ndim, x.shape)
    others = tuple(a for a in range(x.ndim) if a != axis)
    norms = vector_norm(x, p, others, True)
    return x * where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
