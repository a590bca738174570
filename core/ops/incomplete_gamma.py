"""The regularized incomplete gamma functions P(a, x) = gamma(a, x) / Gamma(a) and Q(a, x)
= 1 - P(a, x), PyTorch's igamma and igammac (torch.special.gammainc and gammaincc), to
the relative precision of the dtype (float32 or float64; 16-bit floats in float32) times
the problem's condition number, composed of primitives with a fixed number of terms per
dtype (so they run on every backend and compile).

Each point takes the form in which the smaller of P and Q comes out without
cancellation; the other is 1 less it:

- a >= 20 and 1/2 <= x / a <= 5/4: Temme's uniform expansion (DLMF 8.12.3 to 8.12.10),
  Q = e^-aD (erfcx(eta sqrt(a/2)) / 2 + sum_k C_k(eta) a^-k / sqrt(2 pi a)) for x > a and
  P the same with -eta and -sum below, where D = lambda - 1 - log lambda (lambda = x / a)
  and eta = sign(lambda - 1) sqrt(2D). Each C_k is a Taylor polynomial in eta whose
  coefficients are derived here, exactly, on first use: from lambda(eta)'s series
  (eta (1 + mu) = mu mu', mu = lambda - 1) and Stirling's coefficients of Gamma*.
  Without it, the series and the fraction below need about sqrt(a) terms near x = a.
- x < 1.1 where Q < 1/2 (a below about 1.4): Q = -expm1(r) - a e^r sum_{n>=1} (-x)^n /
  (n! (a + n)), r = a log x - lgamma(1 + a), with lgamma(1 + a) taken from a itself (1 + a
  would round a small a away, and Q is about a E1(x) there).
- x < a + 1: P by its series, x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n)).
- otherwise: Q = a x^a e^-x / Gamma(a + 1) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)),
  Legendre's continued fraction evaluated backward from a fixed depth, its tail started
  at the fixed point of its recurrence.

The factor x^a e^-x / Gamma(a + 1) is exp(-aD - S(a)) / sqrt(2 pi a) from a = 10 (S is
Stirling's series; aD = x - a - a log(x / a) by its deviance form near x = a), where a log x
- x - lgamma(a + 1) would cancel. The terms per dtype were measured against mpmath at 40
digits for a from 1e-3 to 1e5 and x / a from 1e-3 to 30 (tests/test_special.py).

Edges, as PyTorch's: NaN where a < 0, x < 0 or either is NaN; at a = 0, P = 1 and Q = 0
for x > 0 and NaN at x = 0; at x = 0, P = 0 and Q = 1; at x = inf, P = 1 and Q = 0; at a
= inf, P = 0 and Q = 1, NaN where x is inf too. Gradients: dP/dx = x^(a-1) e^-x / Gamma(a)
= -dQ/dx (inf at x = 0 for a < 1); a backward pass that needs the derivative in a is
an AutogradError, as in PyTorch.
"""

import functools
import math
from fractions import Fraction

from .. import dtypes as dt
from ..autograd import no_grad
from ..errors import AutogradError
from ._util import binary_operands
from .arithmetic import xlogy
from .composed import if_taken, polynomial, precision, with_slopes
from .deviance import deviance
from .elementwise import (_real_float_input, cast, exp, expm1, log, log1p, logical_and,
                          logical_or, pow as pow_, sign, sqrt, where)
from .gamma import (BERNOULLI, LGAMMA_BASE, STIRLING_FROM, TERMS as GAMMA_TERMS, lgamma,
                    stirling_tail)
from .movement import broadcast_to
from .nonfinite import isnan
from .special import erfcx

#: Temme's expansion from this a, for x / a in this band; below SMALL_X the small-x
#: series gives Q where Q < 1/2
TEMME_FROM = 20.0
TEMME_BAND = (0.5, 1.25)
SMALL_X = 1.1
#: per dtype: terms of P's series, depth of Q's fraction, terms of the small-x series,
#: and of each C_k's Taylor polynomial (k = 0, 1, ...)
TERMS = {dt.float64: {"series": 48, "fraction": 72, "small": 18,
                      "temme": (18, 16, 15, 13, 11, 9, 7, 5, 5, 4)},
         dt.float32: {"series": 32, "fraction": 20, "small": 12, "temme": (7, 5, 3, 1)}}
#: how far from 0 an exponent may go with its exp staying a normal number
EXP_LIMIT = {dt.float64: 700.0, dt.float32: 80.0}


def _series_inverse(p, n):
    """1 / p as a power series, n terms (p[0] != 0)."""
    out = [1 / p[0]]
    for k in range(1, n):
        out.append(-sum(p[j] * out[k - j] for j in range(1, min(k, len(p) - 1) + 1)) / p[0])
    return out


@functools.cache
def temme_coefficients(rows):
    """C_k(eta)'s Taylor coefficients, ``rows[k]`` of them for each k, as exact fractions
    rounded once: mu(eta) = lambda - 1 from eta (1 + mu) = mu mu' (mu = eta + eta^2/3 +
    eta^3/36 - ...), C_0 = 1/mu - 1/eta, C_k = (C_(k-1)' + (-1)^k g_k / mu) / eta with g_k
    Stirling's coefficients of Gamma*(a) (DLMF 5.11.3, 8.12.9, 8.12.10)."""
    count = len(rows)
    n = max(rows) + 2 * count
    mu = [Fraction(0), Fraction(1)]
    for m in range(2, n + 2):
        mu.append((mu[m - 1] - sum(j * mu[j] * mu[m + 1 - j] for j in range(2, m))) / (m + 1))
    inverse = _series_inverse(mu[1:], n + 1)                   # eta / mu
    # Gamma*(a) = exp(sum_j B_2j / (2j (2j - 1)) a^(1 - 2j)) as a series in 1 / a
    log_series = [Fraction(0)] * count
    for j in range(1, count // 2 + 1):
        log_series[2 * j - 1] = BERNOULLI[2 * j] / (2 * j * (2 * j - 1))
    g, term = [Fraction(1)] + [Fraction(0)] * (count - 1), [Fraction(1)] + [Fraction(0)] * (count - 1)
    for m in range(1, count):
        term = [sum(term[i] * log_series[k - i] for i in range(k + 1)) / m for k in range(count)]
        g = [u + v for u, v in zip(g, term)]
    c, out = inverse[1:], []
    for k in range(count):
        if k:
            sign_g = (-1) ** k * g[k]                          # c[1] + sign_g * inverse[0] == 0
            c = [(j + 2) * c[j + 2] + sign_g * inverse[j + 1] for j in range(len(c) - 2)]
        out.append(tuple(float(v) for v in c[:rows[k]]))
    return tuple(out)


def _terms(x):
    return TERMS[precision(x)]


def _lgamma_1p(a, base_terms):
    """lgamma(1 + a) for a >= 0 from a itself: lgamma(2 + z) = z (its Taylor series about
    2) at z = a less log1p(a) below 1/2, at z = a - 1 (exact) below 3/2, lgamma above."""
    low, mid = a < 0.5, a < 1.5
    z = where(low, a, where(mid, a - 1.0, 0.0))     # (finite where lgamma is taken: its
    near = z * polynomial(z, LGAMMA_BASE[:base_terms])   # gradient there is 0 * this one's)
    return where(low, near - log1p(a), where(mid, near, lgamma(where(mid, 2.0, a) + 1.0)))


def _power_over_gamma(a, x):
    """(x^a e^-x / Gamma(a + 1), aD = x - a - a log(x / a)) for a, x > 0. Below x = a/2
    by pow, whose rounding costs a ULP times a (the condition number there) where exp(a
    log x) would cost a |log x| (100 ULP at P(2.5, 1e-30)): pow(x, a) e^(-x - lgamma(a +
    1)) below a = 10, pow(x / a, a) e^(a - x - S(a)) / sqrt(2 pi a) above while both
    factors stay normal; elsewhere exp(-aD - S(a)) / sqrt(2 pi a) from a = 10 (S is
    Stirling's series, aD the deviance, exact near x = a) and exp(a log x - x - lgamma(a
    + 1)) below."""
    limit = EXP_LIMIT[x.dtype]
    ad = deviance(a, x, a - x)
    large = a >= STIRLING_FROM
    big = where(large, a, STIRLING_FROM)
    tail, root = stirling_tail(big), sqrt(big * (2 * math.pi))
    small = where(large, 1.0, a)
    lg = lgamma(small + 1.0)
    ratio = x / a
    low = ratio < 0.5
    log_ratio = log(where(low, ratio, 0.5))
    fits = where(large, logical_and(a * log_ratio > -limit, a - x < limit), x + lg < limit)
    by_pow = logical_and(low, fits)
    base, gap = where(by_pow, where(large, ratio, x), 1.0), where(by_pow, a - x, 0.0)
    powered = pow_(base, a) * where(large, exp(gap - tail) / root, exp(-x - lg))
    by_log = where(large, exp(-ad - tail) / root, exp(xlogy(small, x) - x - lg))
    return where(by_pow, powered, by_log), ad


def _temme(a, x, ad, rows):
    """Temme's expansion: P where x <= a, Q where x > a."""
    eta = sign(x - a) * sqrt(2.0 * ad / a)
    coefficients = temme_coefficients(rows)
    inverse = 1.0 / a
    total = polynomial(eta, coefficients[-1])
    for row in reversed(coefficients[:-1]):
        total = total * inverse + polynomial(eta, row)
    y = eta * sqrt(0.5 * a)
    share = total / sqrt(a * (2 * math.pi))
    above = x > a
    half = 0.5 * erfcx(where(above, y, -y))
    return exp(-ad) * where(above, half + share, half - share)


def _small_x(a, x, terms):
    """Q for x < SMALL_X: -expm1(r) - a e^r sum_{n>=1} (-x)^n / (n! (a + n))."""
    r = xlogy(a, x) - _lgamma_1p(a, GAMMA_TERMS[precision(x)]["base"])
    term = -x
    total = term / (a + 1.0)
    for n in range(2, terms + 1):
        term = term * (x * (-1.0 / n))
        total = total + term / (a + float(n))
    return -expm1(r) - a * exp(r) * total


def _series(a, x, terms):
    """sum_n x^n / ((a + 1) ... (a + n)), P's series less its factor."""
    term = x / (a + 1.0)
    total = term + 1.0
    for n in range(2, terms + 1):
        term = term * (x / (a + float(n)))
        total = total + term
    return total


def _fraction(a, x, depth):
    """Legendre's continued fraction for Q less its factor a x^a e^-x / Gamma(a + 1):
    1 / (b - 1 (1 - a) / (b + 2 - 2 (2 - a) / (b + 4 - ...))), b = x + 1 - a, from the
    depth up, the tail past it at its recurrence's fixed point t = m (m - a) / (b + 2m - t)."""
    b = x + 1.0 - a
    m = float(depth + 1)
    top = b + 2.0 * m
    t = 0.5 * (top - sqrt(top * top - 4.0 * m * (m - a)))
    for k in range(depth, 0, -1):
        t = (k - a) * float(k) / ((b + 2.0 * k) - t)
    return 1.0 / (b - t)


def _lower_and_upper(a, x):
    """(P, Q) of a and x (same shape and float dtype, no autograd)."""
    terms = _terms(x)
    inside = logical_and(logical_and(a > 0.0, x > 0.0),
                         logical_and(a < math.inf, x < math.inf))
    a_, x_ = where(inside, a, 1.0), where(inside, x, 1.0)
    factor, ad = _power_over_gamma(a_, x_)
    ratio = x_ / a_
    temme = logical_and(a_ >= TEMME_FROM,
                        logical_and(ratio >= TEMME_BAND[0], ratio <= TEMME_BAND[1]))
    by_temme = if_taken(temme, x_, lambda: _temme(
        where(temme, a_, TEMME_FROM), where(temme, x_, TEMME_FROM), where(temme, ad, 0.0),
        terms["temme"]))
    small_x = x_ < SMALL_X
    by_small = if_taken(small_x, x_, lambda: _small_x(a_, where(small_x, x_, 1.0),
                                                       terms["small"]))
    small_x = logical_and(logical_and(small_x, by_small < 0.5), ~temme)
    series = logical_and(x_ < a_ + 1.0, ~logical_or(temme, small_x))
    by_series = if_taken(series, x_, lambda: factor * _series(
        a_, where(series, x_, 0.0), terms["series"]))
    fraction = ~logical_or(logical_or(temme, small_x), series)
    by_fraction = if_taken(fraction, x_, lambda: a_ * factor * _fraction(
        a_, where(fraction, x_, a_ + 2.0), terms["fraction"]))
    # which of P and Q each form gave
    gave_q = logical_or(logical_or(small_x, fraction), logical_and(temme, x_ > a_))
    given = where(temme, by_temme, where(small_x, by_small,
                                         where(series, by_series, by_fraction)))
    p, q = where(gave_q, 1.0 - given, given), where(gave_q, given, 1.0 - given)
    # the edges
    undefined = logical_or(logical_or(logical_or(a < 0.0, x < 0.0), logical_or(isnan(a), isnan(x))),
                           logical_or(logical_and(a == 0.0, x == 0.0),
                                      logical_and(a == math.inf, x == math.inf)))
    one = logical_or(a == 0.0, x == math.inf)
    zero = logical_or(x == 0.0, a == math.inf)
    p = where(undefined, math.nan, where(one, 1.0, where(zero, 0.0, p)))
    q = where(undefined, math.nan, where(one, 0.0, where(zero, 1.0, q)))
    return p, q


def lower_gamma_density(a, x):
    """dP/dx = x^(a-1) e^-x / Gamma(a) = a / x times x^a e^-x / Gamma(a + 1); at x = 0,
    inf for a < 1, 1 at a = 1, 0 above."""
    inside = logical_and(a > 0.0, x > 0.0)
    a_, x_ = where(inside, a, 1.0), where(inside, x, 1.0)
    factor, _ = _power_over_gamma(a_, x_)
    at_zero = where(a < 1.0, math.inf, where(a == 1.0, 1.0, 0.0))
    return where(inside, factor * a_ / x_, where(x == 0.0, at_zero, math.nan))


def lower_gamma_slope(a, x):
    """dP(a, x)/da for a, x > 0 (same shape and float dtype), by differentiating the form
    each point takes (its series, fraction or uniform expansion, truncated where the
    value is converged, so their derivatives are too): what implicit reparameterization
    needs (dx/da of a gamma draw is -dP/da over the density), not a differentiable op.
    At x = a exactly, Temme's eta = sign(x - a) sqrt(2D / a) has a derivative of 0 / 0 as
    written, so the point is moved by one part in the dtype's resolution."""
    from ..autograd import enable_grad, grad
    wide = dt.float32 if x.dtype in dt.HALF else x.dtype
    a, x = cast(a.detach(), wide), cast(x.detach(), wide)
    x = where(x == a, x * (1.0 + float(dt.finfo(wide).eps)), x)
    with enable_grad():
        a = a.requires_grad_()
        (slope,) = grad(_lower_and_upper(a, x)[0].sum(), [a])
    return slope


def _incomplete(name, upper, a, x):
    a, x, shape = binary_operands(name, a, x)
    a, x = _real_float_input(name, a), _real_float_input(name, x)
    a, x = broadcast_to(a, shape), broadcast_to(x, shape)
    wide = dt.float32 if x.dtype in dt.HALF else x.dtype
    with no_grad():
        value = _lower_and_upper(cast(a.detach(), wide), cast(x.detach(), wide))[upper]
    value = cast(value, x.dtype)
    sign_ = -1.0 if upper else 1.0

    def slopes(a, x):
        if a.requires_grad:
            raise AutogradError(f"{name}: the derivative in a (the first argument) is not "
                                "implemented, as in PyTorch; detach a, or differentiate in "
                                "x only")
        return None, sign_ * cast(lower_gamma_density(cast(a, wide), cast(x, wide)), x.dtype)
    return with_slopes(value, (a, x), slopes)


def igamma(input, other):  # noqa: A002  (PyTorch's names)
    """P(a, x), the regularized lower incomplete gamma function of a = ``input`` at x =
    ``other`` (torch.igamma, torch.special.gammainc); see the module for its edges."""
    return _incomplete("igamma", 0, input, other)


def igammac(input, other):  # noqa: A002
    """Q(a, x) = 1 - P(a, x), the regularized upper incomplete gamma function, kept to
    its own relative precision where it is tiny (torch.igammac, torch.special.gammaincc)."""
    return _incomplete("igammac", 1, input, other)


__all__ = ["igamma", "igammac"]
