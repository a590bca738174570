"""The modified Bessel functions of the first kind, PyTorch's i0, i1 and their scaled
forms i0e = exp(-|x|) i0, i1e = exp(-|x|) i1, to the relative precision of x's dtype
(float32 or float64; 16-bit floats in float32), composed of primitives.

Below a switch point (12 in float32, 20 in float64) the power series I_nu(x) =
(x/2)^nu sum_k (x^2/4)^k / (k! (k + nu)!), every term positive; from it, Hankel's
asymptotic series I_nu(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k with a_k(nu)
= prod_{j<=k} (4 nu^2 - (2j - 1)^2) / (k! 8^k), its e^x applied as e^(x/2) twice so that
i0 stays finite up to where it truly overflows (x ~ 91.9 in float32, not 88.7). i0 is
even and i1 odd (-0 stays -0); at +-inf i0 is inf, i1 +-inf, i0e and i1e +-0 (PyTorch's
i0 gives NaN at inf). Gradients: i0' = i1, i1' = i0 - i1 / x (1/2 at 0), and the scaled
forms' with -sign(x) times themselves.
"""

import math

from .. import dtypes as dt
from .composed import polynomial, precision, unary
from .elementwise import abs as abs_, exp, sign, sqrt, where

#: per dtype: the switch point, the power series' terms and Hankel's
TERMS = {dt.float64: (20.0, 36, 22), dt.float32: (12.0, 20, 9)}


def _power_coefficients(nu, n):
    """1 / (k! (k + nu)!) for k < n."""
    return [1.0 / (math.factorial(k) * math.factorial(k + nu)) for k in range(n)]


def hankel_coefficients(nu, n):
    """(-1)^k a_k(nu) for k < n, Hankel's (ops.bessel_jy's expansions take them too)."""
    out, a = [], 1.0
    for k in range(n):
        out.append((-1) ** k * a)
        a *= (4 * nu * nu - (2 * k + 1) ** 2) / ((k + 1) * 8)
    return out


COEFFICIENTS = {d: {nu: (_power_coefficients(nu, n), hankel_coefficients(nu, m))
                    for nu in (0, 1)} for d, (_, n, m) in TERMS.items()}


def _bessel(nu, scaled, x):
    """I_nu(|x|), or exp(-|x|) I_nu(|x|) when ``scaled``."""
    key = precision(x)
    switch = TERMS[key][0]
    power, hankel = COEFFICIENTS[key][nu]
    a = abs_(x)
    near = a < switch
    s = where(near, a, 0.0)
    series = polynomial(s * s * 0.25, power) * (s * 0.5 if nu else 1.0)
    series = series * exp(-s) if scaled else series
    f = where(near, switch, a)
    tail = polynomial(1.0 / f, hankel) / (sqrt(f) * math.sqrt(2 * math.pi))
    if not scaled:
        half = exp(f * 0.5)
        tail = where(half == math.inf, math.inf, half * tail * half)
    return where(near, series, tail)


def _odd(fn):
    def compute(x):
        v = fn(x)
        return where(x == 0, x, where(x < 0, -v, v))
    return compute


def _i1_slope(x):
    safe = where(x == 0, 1.0, x)
    return where(x == 0, 0.5, i0(x) - i1(x) / safe)


def _i1e_slope(x):
    safe = where(x == 0, 1.0, x)
    return where(x == 0, 0.5, i0e(x) - i1e(x) * (sign(x) + 1.0 / safe))


i0 = unary("i0", lambda x: _bessel(0, False, x), lambda x: i1(x))
i0.__doc__ = "The modified Bessel function I_0(x), even; inf at +-inf (see the module)."
i0e = unary("i0e", lambda x: _bessel(0, True, x), lambda x: i1e(x) - sign(x) * i0e(x))
i0e.__doc__ = "exp(-|x|) I_0(x): finite everywhere, 0 at +-inf (see the module)."
i1 = unary("i1", _odd(lambda x: _bessel(1, False, x)), _i1_slope)
i1.__doc__ = "The modified Bessel function I_1(x), odd; +-inf at +-inf (see the module)."
i1e = unary("i1e", _odd(lambda x: _bessel(1, True, x)), _i1e_slope)
i1e.__doc__ = "exp(-|x|) I_1(x): finite everywhere, +-0 at +-inf (see the module)."


def i0e_minus_i1e(x):
    """exp(-x) (I_0(x) - I_1(x)) for x >= 0, without Hankel's cancellation: past the
    switch point the difference of the two series, whose first terms cancel exactly, so
    that 1 - I_1 / I_0 (the von Mises distribution's circular variance, 1 / 2x for large
    x) keeps its relative precision; below it the difference itself (at most 40 ULP
    there). Not differentiable (a tensor function of x's value)."""
    key = precision(x)
    switch = TERMS[key][0]
    gap = [a - b for a, b in zip(COEFFICIENTS[key][0][1], COEFFICIENTS[key][1][1])]
    far = where(x < switch, switch, x)
    tail = polynomial(1.0 / far, gap) / (sqrt(far) * math.sqrt(2 * math.pi))
    return where(x < switch, i0e(x) - i1e(x), tail)
