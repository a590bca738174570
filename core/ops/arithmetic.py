"""Elementwise arithmetic composed of the primitives, each arranged to stay exact where
its textbook formula is not: PyTorch's square, rsqrt, reciprocal, lerp, logaddexp,
logaddexp2, hypot, logit, xlogy, xlog1py, entr, deg2rad, rad2deg, frac, sgn, heaviside,
sinc, exp2, log2, log10, tan, sinh, cosh, fmax, fmin, addcmul, addcdiv and diff. Integer inputs of
the float functions give the default float, as PyTorch's."""

import math

from ._util import as_tensor, binary_operands, rounds_once
from .composed import polynomial, unary
from .elementwise import (_float_input, abs as abs_, cos, eq, exp, expm1, log, log1p, logical_and,
                          logical_or, lt, maximum, minimum, sin, sqrt, where)
from .nonfinite import isnan


def square(x):
    """x * x (integers stay integers and wrap, as PyTorch's)."""
    x = as_tensor(x, "square")
    return x * x


def rsqrt(x):
    """1 / sqrt(x): inf at +0, -inf at -0 (1 / -0), 0 at inf, NaN below 0."""
    return 1.0 / sqrt(_float_input("rsqrt", x))


def reciprocal(x):
    """1 / x: inf at +0 and -inf at -0."""
    return 1.0 / _float_input("reciprocal", x)


@rounds_once
def lerp(start, end, weight):
    """start + weight (end - start), PyTorch's: from the nearer end, so that weight 0
    gives start and weight 1 gives end exactly."""
    start, end, _ = binary_operands("lerp", start, end)
    diff = end - start
    return where(lt(abs_(as_tensor(weight, "lerp", like=start)), 0.5), start + weight * diff,
                 end - diff * (1.0 - weight))


@rounds_once
def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)) = max + log1p(exp(-|x1 - x2|)), without overflow; equal
    arguments (equal infinities too, whose difference is NaN) give x1 + log(2), each
    taking half of the gradient, as PyTorch's."""
    x1, x2, _ = binary_operands("logaddexp", x1, x2)
    x1, x2 = _float_input("logaddexp", x1), _float_input("logaddexp", x2)
    same = eq(x1, x2)
    gap = abs_(where(same, 0.0, x1 - x2))
    return maximum(x1, x2) + log1p(exp(-gap))


@rounds_once
def logaddexp2(x1, x2):
    """log2(2^x1 + 2^x2), logaddexp's in base 2 (no overflow; equal infinities give
    themselves). 2^-gap is exp2's, not exp(-gap ln 2): the product's rounding would cost
    gap ln 2 / 2 ULPs where the larger operand is near 0 (50 at a gap of 104)."""
    x1, x2, _ = binary_operands("logaddexp2", x1, x2)
    x1, x2 = _float_input("logaddexp2", x1), _float_input("logaddexp2", x2)
    same = eq(x1, x2)
    gap = abs_(where(same, 0.0, x1 - x2))
    return maximum(x1, x2) + log1p(exp2(-gap)) * (1.0 / math.log(2.0))


def exp2(x):
    """2^x, as pow(2, x): exact at integers (a product by ln 2 first would not be)."""
    x = _float_input("exp2", x)
    return as_tensor(2.0, "exp2", like=x) ** x


@rounds_once
def log2(x):
    """log(x) / log(2): -inf at +-0, NaN below 0, inf at inf."""
    return log(_float_input("log2", x)) * (1.0 / math.log(2.0))


@rounds_once
def log10(x):
    """log(x) / log(10): -inf at +-0, NaN below 0, inf at inf."""
    return log(_float_input("log10", x)) * (1.0 / math.log(10.0))


@rounds_once
def tan(x):
    """sin(x) / cos(x); odd, so -0 stays -0."""
    x = _float_input("tan", x)
    return sin(x) / cos(x)


@rounds_once
def sinh(x):
    """(expm1(x) - expm1(-x)) / 2 where |x| < 1 (no cancellation near 0, -0 kept), else
    sign(x) (h (h / 2) - 1 / (2 h h)) with h = exp(|x| / 2): finite up to log(2 max), where
    exp(x) / 2 has already overflowed."""
    x = _float_input("sinh", x)
    a = abs_(x)
    near = where(lt(a, 1.0), x, 0.0)     # the branch where's other side never overflows
    small = (expm1(near) - expm1(-near)) * 0.5
    h = exp(a * 0.5)
    large = h * (h * 0.5) - (1.0 / h) / (h * 2.0)
    return where(lt(a, 1.0), small, where(lt(x, 0.0), -large, large))


@rounds_once
def cosh(x):
    """h (h / 2) + 1 / (2 h h) with h = exp(|x| / 2): even, finite up to log(2 max)."""
    h = exp(abs_(_float_input("cosh", x)) * 0.5)
    return h * (h * 0.5) + (1.0 / h) / (h * 2.0)


def fmax(x1, x2):
    """The larger of each pair, NaN only where both are NaN (C's fmax, torch.fmax; maximum
    propagates NaN instead)."""
    x1, x2, _ = binary_operands("fmax", x1, x2)
    return where(isnan(x1), x2, where(isnan(x2), x1, maximum(x1, x2)))


def fmin(x1, x2):
    """The smaller of each pair, NaN only where both are NaN (torch.fmin)."""
    x1, x2, _ = binary_operands("fmin", x1, x2)
    return where(isnan(x1), x2, where(isnan(x2), x1, minimum(x1, x2)))


def ldexp(x, other):
    """x * 2^other (torch.ldexp): exact where the product is representable."""
    x, other, _ = binary_operands("ldexp", x, other)
    x = _float_input("ldexp", x)
    return x * exp2(other.to(x.dtype))


def addcmul(input, tensor1, tensor2, *, value=1):  # noqa: A002  (PyTorch's names)
    """input + value * tensor1 * tensor2 (torch.addcmul)."""
    product = tensor1 * tensor2
    return input + (product if value == 1 else product * value)


def addcdiv(input, tensor1, tensor2, *, value=1):  # noqa: A002
    """input + value * tensor1 / tensor2 (torch.addcdiv); integer operands are refused, as
    PyTorch refuses them (their division would truncate)."""
    t1, t2 = as_tensor(tensor1, "addcdiv"), as_tensor(tensor2, "addcdiv")
    if not (t1.dtype.is_inexact or t2.dtype.is_inexact):
        from ..errors import DTypeError
        raise DTypeError(f"addcdiv: integer tensors ({t1.dtype.name} / {t2.dtype.name}) are "
                         f"refused, as PyTorch refuses them; use floats")
    quotient = t1 / t2
    return input + (quotient if value == 1 else quotient * value)


@rounds_once
def hypot(x1, x2):
    """sqrt(x1^2 + x2^2) as big * sqrt(1 + (small / big)^2): no overflow or underflow
    in the squares; inf when either is infinite (even beside NaN), as C's hypot."""
    x1, x2, _ = binary_operands("hypot", x1, x2)
    a, b = abs_(_float_input("hypot", x1)), abs_(_float_input("hypot", x2))
    big, small = maximum(a, b), minimum(a, b)
    ratio = small / where(eq(big, 0), 1.0, big)
    out = big * sqrt(ratio * ratio + 1.0)
    out = where(eq(big, 0), small, out)
    return where(logical_or(eq(a, math.inf), eq(b, math.inf)), math.inf, out)


@rounds_once
def logit(x, eps=None):
    """log(x / (1 - x)) as log(x) - log1p(-x), exact near 1/2 where the quotient loses
    digits: -inf at 0, inf at 1, NaN outside [0, 1]. ``eps`` first clamps x to [eps,
    1 - eps], as PyTorch's."""
    from .elementwise import clip, log
    x = _float_input("logit", x)
    if eps is not None:
        x = clip(x, eps, 1.0 - eps)
    return log(x) - log1p(-x)


@rounds_once
def xlogy(x, y):
    """x * log(y), and 0 where x is 0 and y is not NaN (0 log 0 = 0, as in entropies),
    as PyTorch's."""
    from .elementwise import log, logical_not
    from .nonfinite import isnan
    x, y, _ = binary_operands("xlogy", x, y)
    x, y = _float_input("xlogy", x), _float_input("xlogy", y)
    zero = logical_and(eq(x, 0), logical_not(isnan(y)))
    return where(zero, 0.0, x * log(where(zero, 1.0, y)))


def xlog1py(x, y):
    """x * log1p(y), and 0 where x is 0 and y is not NaN, as torch.special.xlog1py."""
    from .elementwise import logical_not
    x, y, _ = binary_operands("xlog1py", x, y)
    x, y = _float_input("xlog1py", x), _float_input("xlog1py", y)
    zero = logical_and(eq(x, 0), logical_not(isnan(y)))
    return where(zero, 0.0, x * log1p(where(zero, 0.0, y)))


def entr(x):
    """-x log(x), torch.special.entr's elementwise entropy: 0 at 0, -inf below 0 and at
    inf, NaN at NaN."""
    x = _float_input("entr", x)
    positive = x > 0
    value = -x * log(where(positive, x, 1.0))
    return where(positive, value, where(eq(x, 0), 0.0, where(isnan(x), x, -math.inf)))


def deg2rad(x):
    """x degrees in radians (integers give the default float)."""
    return _float_input("deg2rad", x) * (math.pi / 180)


def rad2deg(x):
    """x radians in degrees (integers give the default float)."""
    return _float_input("rad2deg", x) * (180 / math.pi)


def frac(x):
    """x minus its integer part, keeping x's sign (frac(-1.5) = -0.5), as PyTorch's; NaN
    at +-inf."""
    from .rounding import trunc
    x = as_tensor(x, "frac")
    return x - trunc(x)


def sgn(x):
    """The sign of x: sign(x) for reals; x / |x| for complex x (0 at 0), as PyTorch's."""
    from .elementwise import sign
    x = as_tensor(x, "sgn")
    if not x.dtype.is_complex:
        return sign(x)
    size = abs_(x)
    zero = eq(size, 0)
    return where(zero, 0.0, x / where(zero, 1.0, size))


def heaviside(x, values):
    """0 where x < 0, 1 where x > 0, ``values`` where x is 0 (and NaN where x is NaN),
    in x's and values' promoted dtype, as PyTorch's."""
    from .elementwise import cast, gt
    from .nonfinite import isnan
    x, values, _ = binary_operands("heaviside", x, values)
    out = where(eq(x, 0), values, cast(gt(x, 0), x.dtype))
    return where(isnan(x), x, out) if x.dtype.is_inexact else out


@rounds_once
def sinc(x):
    """sin(pi x) / (pi x), 1 at 0 (gradient 0 there), as PyTorch's; sin(pi x) taken as
    +-sin(pi (x - n)) for the nearest integer n, so that sinc is exactly 0 at every
    nonzero integer (every float32 past 2^24 is one) and exact near them, where sin of
    the rounded pi x is not. float16 and bfloat16 compute in float32."""
    from .. import dtypes as dt
    from .division import remainder
    from .elementwise import cast, sin
    from .rounding import round as round_
    x = _float_input("sinc", x)
    dtype = x.dtype
    if dtype in dt.HALF and dt.float32 in x._backend.dtypes:
        x = cast(x, dt.float32)
    n = round_(x)
    odd = eq(remainder(n, 2.0), 1.0)
    zero = eq(x, 0)
    scaled = where(zero, 1.0, x * math.pi)
    sine = sin((x - n) * math.pi)
    out = where(zero, 1.0, where(odd, -sine, sine) / scaled)
    return out if out.dtype is dtype else cast(out, dtype)


#: sin(x) / x - 1 = x^2 sum_k (-1)^(k+1) x^(2k) / (2k + 3)!: below |x| = 1/2, 8 terms
SPHERICAL_J0_SERIES = [(-1) ** (k + 1) / math.factorial(2 * k + 3) for k in range(8)]
#: its derivative's, x sum_k (-1)^k 2k x^(2k - 2) / (2k + 1)! from k = 1
SPHERICAL_J0_SLOPE = [(-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 10)]


def _spherical_j0(x):
    """1 + x^2 (its series) below |x| = 1/2, where sin(x) / x rounds twice; sin(x) / x
    above; 0 at +-inf."""
    near = lt(abs_(x), 0.5)
    s = where(near, x, 0.0)
    s2 = s * s
    series = 1.0 + s2 * polynomial(s2, SPHERICAL_J0_SERIES)
    f = where(near, 1.0, x)
    return where(near, series, where(eq(abs_(x), math.inf), 0.0, sin(f) / f))


def _spherical_j0_slope(x):
    """(cos x - sin(x) / x) / x, by its Taylor series below |x| = 1/2, where the
    difference cancels (-x/3 there)."""
    near = lt(abs_(x), 0.5)
    s = where(near, x, 0.5)
    series = s * polynomial(s * s, SPHERICAL_J0_SLOPE)
    f = where(near, 1.0, x)
    far = (cos(f) - spherical_bessel_j0(f)) / f
    return where(eq(abs_(x), math.inf), 0.0, where(near, series, far))


spherical_bessel_j0 = unary("spherical_bessel_j0", _spherical_j0, _spherical_j0_slope)
spherical_bessel_j0.__doc__ = """The spherical Bessel function j_0(x) = sin(x) / x
(torch.special's): 1 at 0, 0 at +-inf, even; its gradient (cos x - j_0(x)) / x, by its
series near 0."""


def diff(x, n=1, axis=-1, prepend=None, append=None):
    """The n-th differences along ``axis``, as numpy.diff and torch.diff: out[i] =
    x[i + 1] - x[i], ``prepend`` and ``append`` joined first; bools give x[i + 1] !=
    x[i]. Each difference shortens the axis by one (an axis shorter than n gives an
    empty one)."""
    from ..shapes import normalize_axis
    from .elementwise import logical_xor
    from .movement import broadcast_to, concatenate
    x = as_tensor(x, "diff")
    if not x.ndim:
        from ..errors import ShapeError
        raise ShapeError("diff: x must have at least one axis, got a 0-d tensor")
    axis = normalize_axis("diff", axis, x.ndim, x.shape)
    parts = []
    for extra in (prepend, x, append):
        if extra is None:
            continue
        extra = as_tensor(extra, "diff", like=x)
        if extra.ndim == 0:      # a number: one slice of it
            extra = broadcast_to(extra, x.shape[:axis] + (1,) + x.shape[axis + 1:])
        parts.append(extra)
    if len(parts) > 1:
        x = concatenate(parts, axis)
    take = lambda start, stop: x[(slice(None),) * axis + (slice(start, stop),)]  # noqa: E731
    for _ in range(n):
        first, rest = take(0, -1), take(1, None)
        x = logical_xor(rest, first) if x.dtype.name == "bool" else rest - first
    return x
