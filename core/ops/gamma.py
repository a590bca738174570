"""The gamma family, PyTorch's lgamma, digamma, polygamma, mvlgamma and the Hurwitz zeta,
to the relative precision of x's dtype (float32 or float64; 16-bit floats in float32)
on every backend, composed of primitives.

- Base interval [1.5, 2.5), z = x - 2: lgamma(2 + z) = (1 - gamma) z + sum_{k>=2}
  (-1)^k (zeta(k) - 1) / k z^k, and digamma's derivative series (both converge for
  |z| < 2: a term is a quarter of the one before). It holds lgamma's zero at 2.
- Below 10, the recurrences Gamma(x + 1) = x Gamma(x) and psi(x + 1) = psi(x) + 1 / x
  reach that interval: down at most 8 steps (every factor >= 1.5, so no cancellation),
  up 1 or 2 (lgamma's zero at 1 then cancels only 2.4 to 1). From 10: Stirling's series.
- x <= -1/2: reflection, Gamma(x) Gamma(1 - x) = pi / sin(pi x) and psi(1 - x) - psi(x)
  = pi cot(pi x), through x's distance to the nearest integer (exact), so a large x
  loses nothing to pi x. lgamma has roots below -2 where only absolute precision holds
  (as in every libm).
- digamma's positive zero x0 = 1.4616...: within 1/4 of it, its Taylor series about x0
  (coefficients (-1)^(k+1) zeta(k + 1, x0)), from x - x0 in two parts (x0's rounding
  would be the whole answer next to it).
- polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x), and zeta(s, q) is N terms of its sum
  and the Euler-Maclaurin tail. Below x = 0 polygamma reflects: d^n/dx^n cot(pi x) is
  pi^n P_n(cot(pi x)), P_0(c) = c, P_(k+1) = -(1 + c^2) P_k'.

Each series' coefficients are exact sums computed here at import (Bernoulli numbers as
fractions, zeta by Euler-Maclaurin in float64). Gradients are the derivatives' formulas:
lgamma' = digamma, digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1),
zeta(s, q)' = -s zeta(s + 1, q) in q (s is not differentiated, as in PyTorch).
"""

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np

from .. import dtypes as dt
from ..autograd import no_grad
from ._util import binary_operands
from .composed import polynomial, precision, unary, with_slopes
from .elementwise import (_real_float_input, abs as abs_, cast, log, logical_and,
                          logical_or, maximum, minimum, sin, where)
from .movement import broadcast_to
from .rounding import floor, round as round_

EULER_GAMMA = 0.57721566490153286060651209008240243
LOG_PI = math.log(math.pi)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: digamma's positive zero: its float64, and what float64 leaves of it
DIGAMMA_ROOT_DIGITS = "1.4616321449683623412626595423257213284681962040064"
DIGAMMA_ROOT = float(DIGAMMA_ROOT_DIGITS)
DIGAMMA_ROOT_REST = float(Decimal(DIGAMMA_ROOT_DIGITS) - Decimal(DIGAMMA_ROOT))
#: where Stirling's series takes over, and how far the root's Taylor series reaches
STIRLING_FROM = 10.0
ROOT_REACH = 0.25
#: terms per dtype: the base series, Stirling's, the root's, and zeta's direct sum and
#: Euler-Maclaurin tail
TERMS = {dt.float64: {"base": 26, "stirling": 8, "root": 22, "shift": 10, "tail": 10},
         dt.float32: {"base": 12, "stirling": 4, "root": 10, "shift": 6, "tail": 6}}


def _bernoulli(n):
    """B_0 .. B_n as Fractions (Akiyama-Tanigawa; B_1 comes out +1/2, unused here)."""
    a, out = [Fraction(0)] * (n + 1), []
    for m in range(n + 1):
        a[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        out.append(a[0])
    return out


BERNOULLI = _bernoulli(2 * 12)
#: B_2j / (2j)!, the Euler-Maclaurin tail's coefficients
EM = [float(BERNOULLI[2 * j] / math.factorial(2 * j)) for j in range(1, 13)]


def hurwitz_zeta(s, q, shift, tail):
    """zeta(s, q) = sum_{k>=0} (q + k)^-s: ``shift`` terms of the sum, then Euler-Maclaurin
    from a = q + shift, ``tail`` Bernoulli terms, smallest first. Numbers or tensors."""
    a = q + shift
    b = a ** -s
    total = a ** (1.0 - s) / (s - 1.0) + 0.5 * b
    f = s * b / a                                     # s (s+1)...(s+2j-2) a^(-s-2j+1)
    terms = []
    for j in range(1, tail + 1):
        terms.append(f * EM[j - 1])
        f = f * (s + (2 * j - 1)) * (s + 2 * j) / (a * a)
    for t in reversed(terms):
        total = total + t
    for k in reversed(range(shift)):
        total = total + (q + k) ** -s
    return total


def _zeta_number(s, q):
    return hurwitz_zeta(float(s), float(q), 20, 12)


#: (1 - gamma, then (-1)^k (zeta(k) - 1) / k): lgamma(2 + z) / z's Taylor coefficients
LGAMMA_BASE = [1.0 - EULER_GAMMA] + [(-1) ** k * _zeta_number(k, 2) / k for k in range(2, 30)]
#: 1 - gamma, then (-1)^(k+1) (zeta(k + 1) - 1): digamma(2 + z)'s
DIGAMMA_BASE = [1.0 - EULER_GAMMA] + [(-1) ** (k + 1) * _zeta_number(k + 1, 2)
                                       for k in range(1, 30)]
#: (-1)^(k+1) zeta(k + 1, x0) for k >= 1: digamma(x0 + w) / w's
DIGAMMA_ROOT_SERIES = [(-1) ** (k + 1) * _zeta_number(k + 1, DIGAMMA_ROOT) for k in range(1, 25)]
#: Stirling: lgamma(u) - ((u - 1/2) log u - u + log(2 pi) / 2) = sum B_2j / (2j (2j-1) u^(2j-1)),
#: digamma(u) - (log u - 1 / (2u)) = -sum B_2j / (2j u^2j)
STIRLING_LGAMMA = [float(BERNOULLI[2 * j] / (2 * j * (2 * j - 1))) for j in range(1, 9)]
STIRLING_DIGAMMA = [float(BERNOULLI[2 * j] / (2 * j)) for j in range(1, 9)]


def _terms(x):
    return TERMS[precision(x)]


def _from_root(x):
    """x - x0, digamma's zero split into x's dtype and the rest, so that the difference
    keeps x's precision next to it (x - high is exact there)."""
    high = float(np.asarray(DIGAMMA_ROOT, dtype=x.dtype.np))
    return (x - high) - ((DIGAMMA_ROOT - high) + DIGAMMA_ROOT_REST)


class _Reduced:
    """u > -1/2 reduced for the series: ``z`` in [-1/2, 1/2) about 2, reached from ``v``
    (u, or 2 where ``large``: Stirling's series serves there) down ``steps`` whole steps
    (at most 8) or up one (``up1``) or two (``up2``)."""

    def __init__(self, u):
        self.large = u >= STIRLING_FROM
        self.v = v = where(self.large, 2.0, u)
        self.up1, self.up2 = v < 1.5, v < 0.5
        self.steps = maximum(minimum(floor(v - 1.5), 8.0), 0.0)
        self.z = where(self.up1, where(self.up2, v, v - 1.0), (v - self.steps) - 2.0)   # exact

    def down(self, fn, unused):
        """fn of each factor passed going down, ``unused`` past the steps taken."""
        return [where(k <= self.steps, fn(self.v - k), unused) for k in range(1, 9)]


def stirling_tail(u):
    """lgamma(u) - ((u - 1/2) log u - u + log(2 pi) / 2) for u >= STIRLING_FROM: Stirling's
    series, as many terms as u's dtype needs (it is also Stirling's error of (u - 1)!,
    which distributions.saddle_point builds on)."""
    inv = 1.0 / u
    return inv * polynomial(inv * inv, STIRLING_LGAMMA[:_terms(u)["stirling"]])


def digamma_tail(u):
    """log u - 1 / (2u) - digamma(u) for u >= STIRLING_FROM: its Stirling series."""
    inv2 = 1.0 / (u * u)
    return inv2 * polynomial(inv2, STIRLING_DIGAMMA[:_terms(u)["stirling"]])


def _stirling_argument(r, u):
    return where(r.large, u, STIRLING_FROM)


def _lgamma_positive(u, n):
    """lgamma(u), u > -1/2."""
    r = _Reduced(u)
    factors = r.down(lambda f: f, 1.0)
    down = factors[0]
    for f in factors[1:]:
        down = down * f
    up = where(r.up1, abs_(where(r.up2, r.v * (r.v + 1.0), r.v)), 1.0)
    near = r.z * polynomial(r.z, LGAMMA_BASE[:n["base"]]) + (log(down) - log(up))
    big = _stirling_argument(r, u)
    far = (big - 0.5) * (log(big) - 1.0) + (HALF_LOG_2PI - 0.5) + stirling_tail(big)  # inf at inf
    return where(r.large, far, near)


def _digamma_positive(u, n):
    """digamma(u), u > -1/2."""
    r = _Reduced(u)
    down = r.down(lambda f: 1.0 / f, 0.0)
    steps = down[0]
    for f in down[1:]:
        steps = steps + f
    up = where(r.up1, 1.0 / r.v + where(r.up2, 1.0 / (r.v + 1.0), 0.0), 0.0)
    near = polynomial(r.z, DIGAMMA_BASE[:n["base"]]) + steps - up
    w = _from_root(where(r.large, DIGAMMA_ROOT, u))
    root = w * polynomial(w, DIGAMMA_ROOT_SERIES[:n["root"]])
    big = _stirling_argument(r, u)
    far = log(big) - 0.5 / big - digamma_tail(big)
    return where(r.large, far, where(abs_(w) < ROOT_REACH, root, near))


def _sin_cos_pi(x, reflect):
    """sin(pi x) and cos(pi x) where ``reflect``, from x's distance r to the nearest
    integer (exact), cos as sin(pi (1/2 - |r|)): exactly 0 at the half-integers, where
    cot(pi x) is."""
    r = where(reflect, x - round_(where(reflect, x, 0.0)), 0.25)
    return sin(r * math.pi), sin((0.5 - abs_(r)) * math.pi)


def _reflected(x):
    """(x <= -1/2, 1 - x there else x, sin(pi x) and cos(pi x) there)."""
    reflect = x <= -0.5
    return (reflect, where(reflect, 1.0 - x, x)) + _sin_cos_pi(x, reflect)


def _lgamma(x):
    reflect, u, s, _ = _reflected(x)
    value = _lgamma_positive(u, _terms(x))
    out = where(reflect, (LOG_PI - log(abs_(s))) - value, value)
    return where(logical_or(logical_and(reflect, s == 0.0), x == -math.inf), math.inf, out)


def _digamma(x):
    reflect, u, s, c = _reflected(x)
    value = _digamma_positive(u, _terms(x))
    pole = logical_and(reflect, s == 0.0)
    out = where(reflect, value - math.pi * c / s, value)
    return where(logical_or(pole, x == -math.inf), math.nan, out)


def _cot_derivative(n):
    """P_n's coefficients, constant first: d^n/dx^n cot(x) = P_n(cot x)."""
    p = [0, 1]
    for _ in range(n):
        q = [0] * (len(p) + 1)                   # -(1 + c^2) P'
        for k in range(1, len(p)):
            q[k - 1] -= k * p[k]
            q[k + 1] -= k * p[k]
        p = q
    return p


def _polygamma(n, x):
    terms = _terms(x)
    reflect = x <= 0.0
    u = where(reflect, 1.0 - x, x)
    sign = -1.0 if n % 2 == 0 else 1.0
    value = sign * math.factorial(n) * hurwitz_zeta(float(n + 1), u, terms["shift"], terms["tail"])
    s, c = _sin_cos_pi(x, reflect)
    reflection = (-1.0) ** n * value - math.pi ** (n + 1) * polynomial(c / s, _cot_derivative(n))
    pole = logical_and(reflect, s == 0.0)
    value = where(u == math.inf, 0.0, value)
    return where(pole, sign * math.inf, where(reflect, reflection, value))


lgamma = unary("lgamma", _lgamma, lambda x: digamma(x))
lgamma.__doc__ = """log |Gamma(x)|: +inf at 0 and the negative integers and at +-inf, NaN at
NaN; relative precision of x's dtype except next to its roots below -2 (see the module)."""
digamma = unary("digamma", _digamma, lambda x: polygamma(1, x))
digamma.__doc__ = """psi(x) = Gamma'(x) / Gamma(x): -inf at +0, +inf at -0, NaN at the
negative integers and -inf (as PyTorch), +inf at +inf; relative precision of x's dtype,
its zero at 1.4616... included (see the module)."""


def polygamma(n, x):
    """The n-th derivative of digamma: (-1)^(n+1) n! zeta(n + 1, x). At 0 and the negative
    integers (poles) (-1)^(n+1) inf; 0 at +inf (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        from ..errors import DTypeError
        raise DTypeError(f"polygamma: n must be a non-negative Python int, got {n!r}")
    if n == 0:
        return digamma(x)
    fn = unary("polygamma", lambda x: _polygamma(n, x), lambda x: polygamma(n + 1, x))
    return fn(x)


def mvlgamma(x, p):
    """The multivariate log-gamma function of dimension p, as torch.mvlgamma:
    p (p - 1) / 4 log(pi) + sum_{j<p} lgamma(x - j / 2). Defined for x > (p - 1) / 2;
    NaN below (PyTorch raises there: that check would read the values on the host)."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        from ..errors import DTypeError
        raise DTypeError(f"mvlgamma: p must be a positive Python int, got {p!r}")
    x = _real_float_input("mvlgamma", x)
    wide = cast(x, dt.float32) if x.dtype in dt.HALF else x     # x - j/2 exact
    total = lgamma(wide)
    for j in range(1, p):
        total = total + lgamma(wide - j / 2)
    total = where(wide > (p - 1) / 2, total, math.nan)
    return cast(total + p * (p - 1) / 4 * LOG_PI, x.dtype)


def _zeta(s, q):
    terms = _terms(q)
    value = hurwitz_zeta(s, where(q > 0.0, q, 1.0), terms["shift"], terms["tail"])
    pole = logical_and(q <= 0.0, q == floor(q))
    # at s = inf the series is its first term's limit: inf below q = 1, 1 at it, 0 above
    value = where(s == math.inf, where(q < 1.0, math.inf, where(q == 1.0, 1.0, 0.0)), value)
    value = where(pole, math.inf, where(q > 0.0, value, math.nan))
    return where(s == 1.0, math.inf, where(s < 1.0, math.nan, value))   # Cephes' order


def zeta(x, q):
    """The Hurwitz zeta function sum_{k>=0} (q + k)^-x, torch.special.zeta's: inf at
    x = 1, else NaN for x < 1, else inf where q is 0 or a negative integer. For a negative q that is
    not an integer, NaN (PyTorch sums the series there for integer x: use polygamma).
    Differentiable in q (-x zeta(x + 1, q)); x is not differentiated, as in PyTorch."""
    x, q, shape = binary_operands("zeta", x, q)
    x, q = _real_float_input("zeta", x), _real_float_input("zeta", q)
    x, q = broadcast_to(x, shape), broadcast_to(q, shape)
    wide = dt.float32 if q.dtype in dt.HALF else q.dtype
    with no_grad():
        value = _zeta(cast(x.detach(), wide), cast(q.detach(), wide))
    value = cast(value, q.dtype)
    return with_slopes(value, (q,), lambda q: (-x.detach() * zeta(x.detach() + 1.0, q),))


__all__ = ["digamma", "lgamma", "mvlgamma", "polygamma", "zeta"]
