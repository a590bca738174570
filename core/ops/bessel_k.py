"""The modified Bessel functions of the second kind, PyTorch's modified_bessel_k0 and
modified_bessel_k1 and their scaled forms exp(x) K_nu(x), to the relative precision of
x's dtype (float32 or float64; 16-bit floats in float32), composed of primitives.

- Below x = 1, the series about 0 (DLMF 10.31.1-2): K_0 = -(log(x/2) + gamma) I_0(x) +
  sum_k H_k y^k / k!^2 and K_1 = 1/x + log(x/2) I_1(x) - x/4 sum_k (psi(k + 1) + psi(k + 2))
  y^k / (k! (k + 1)!), y = x^2 / 4. Up to x = 2 e^-gamma = 1.12, K_0's two parts have one
  sign, so nothing cancels.
- From 1, the integral e^x K_nu(x) = int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt by the
  trapezoidal rule in u = t sqrt(x), on fixed nodes: the integrand is analytic in a strip
  and decays like exp(-u^2 / 2), so the rule's error falls as exp(-pi^2 / h) at x = 1
  and faster above (h = 1/4 and 37 nodes in float64, 1/2 and 14 in float32); cosh t - 1
  is expm1(t)^2 / (2 (1 + expm1(t))), exact for small t. The scaled forms are the sum
  itself, so they hold from x = 1 to inf without overflow.

Edges, as PyTorch's: inf at 0, NaN below 0 and at NaN, 0 at inf (the scaled forms too).
Gradients: K_0' = -K_1, K_1' = -K_0 - K_1 / x, and the scaled forms' plus themselves,
(e^x K_0)' = -e^x (K_1 - K_0) and (e^x K_1)' = e^x (K_1 - K_0) - e^x K_1 / x with the
difference as its own integral.
"""

import math

from .. import dtypes as dt
from .bessel import i0, i1
from .composed import if_taken, polynomial, precision, unary
from .elementwise import exp, expm1, log, sqrt, where
from .gamma import EULER_GAMMA

#: per dtype: the series' terms, and the trapezoidal rule's step and nodes
TERMS = {dt.float64: (12, 0.25, 37), dt.float32: (7, 0.5, 14)}


def _harmonic(k):
    return sum(1.0 / j for j in range(1, k + 1))


def _series_coefficients(n):
    """K_0's H_k / k!^2 (k >= 1, from y^1) and K_1's (psi(k + 1) + psi(k + 2)) / (k! (k +
    1)!) (k >= 0)."""
    k0 = [_harmonic(k) / math.factorial(k) ** 2 for k in range(1, n + 1)]
    k1 = [(_harmonic(k) + _harmonic(k + 1) - 2 * EULER_GAMMA)
          / (math.factorial(k) * math.factorial(k + 1)) for k in range(n)]
    return k0, k1


COEFFICIENTS = {d: _series_coefficients(n) for d, (n, _, _) in TERMS.items()}


def _terms(x):
    key = precision(x)
    return TERMS[key], COEFFICIENTS[key]


def _near(nu, x):
    """K_nu(x) by its series (0 < x < 1)."""
    _, (k0, k1) = _terms(x)
    y = x * x * 0.25
    log_half = log(x) - math.log(2.0)                      # x / 2 would flush a subnormal
    if nu == 0:
        return y * polynomial(y, k0) - (log_half + EULER_GAMMA) * i0(x)
    return 1.0 / x + log_half * i1(x) - x * 0.25 * polynomial(y, k1)


def _scaled_far(weight, x):
    """int_0^inf exp(-x (cosh t - 1)) weight(cosh t - 1) dt by the trapezoidal rule in u
    = t sqrt(x) (x >= 1): exp(x) K_0 for weight 1, exp(x) K_1 for 1 + rise, and their
    difference for rise, summed without cancelling."""
    (_, h, nodes), _ = _terms(x)
    r = 1.0 / sqrt(x)
    total = weight(0.0 * x) * 0.5                            # the node at u = 0
    for j in range(1, nodes):
        em = expm1(r * (j * h))
        rise = em * em / (2.0 * (1.0 + em))                  # cosh t - 1
        total = total + exp(rise * -x) * weight(rise)
    return total * (h * r)


WEIGHTS = (lambda rise: 1.0 + rise * 0.0, lambda rise: 1.0 + rise)


def _k(nu, scaled):
    def compute(x):
        far = x >= 1.0
        xf, xn = where(far, x, 1.0), where(far, 0.5, x)

        def series():
            value = _near(nu, where(x > 0.0, xn, 0.5))
            return value * exp(xn) if scaled else value

        def rule():
            value = _scaled_far(WEIGHTS[nu], xf)
            return value if scaled else value * exp(-xf)
        value = where(far, if_taken(far, x, rule), if_taken(~far, x, series))
        value = where(x == math.inf, 0.0, value)
        return where(x == 0.0, math.inf, where(x >= 0.0, value, math.nan))    # NaN too
    return compute


def _k1_slope(x):
    return -k0(x) - k1(x) / x


k0 = unary("modified_bessel_k0", _k(0, False), lambda x: -k1(x))
k0.__doc__ = "The modified Bessel function K_0(x): inf at 0, NaN below, 0 at inf."
k1 = unary("modified_bessel_k1", _k(1, False), _k1_slope)
k1.__doc__ = "The modified Bessel function K_1(x): inf at 0, NaN below, 0 at inf."
def _scaled_gap(x):
    """exp(x) (K_1(x) - K_0(x)) >= 0: from x = 1 the integral of exp(-x (cosh t - 1))
    (cosh t - 1), which the difference of the two sums would cancel (to 1 / 2x of them:
    60x at x = 30)."""
    far = x >= 1.0
    rule = _scaled_far(lambda rise: rise, where(far, x, 1.0))
    near = where(far, 0.5, x)
    return where(far, rule, k1e(near) - k0e(near))


k0e = unary("scaled_modified_bessel_k0", _k(0, True), lambda x: -_scaled_gap(x))
k0e.__doc__ = "exp(x) K_0(x): finite from 0+ to inf (0 at inf)."
k1e = unary("scaled_modified_bessel_k1", _k(1, True),
            lambda x: _scaled_gap(x) - k1e(x) / x)
k1e.__doc__ = "exp(x) K_1(x): finite from 0+ to inf (0 at inf)."

__all__ = ["k0", "k0e", "k1", "k1e"]
