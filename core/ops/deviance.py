"""The deviance x log(x / m) + m - x and its special case t - log1p(t), each by its series
where the plain difference cancels: the saddle-point forms of the distributions'
log-densities and the incomplete gamma functions' exp(-a (lambda - 1 - log lambda)) are
built on them (a relative error of the deviance D is one of e^-D times D)."""

from .. import dtypes as dt
from .arithmetic import xlogy
from .composed import polynomial, precision
from .elementwise import abs as abs_, log1p, where

#: the deviance's series past its first term: 1/3, 1/5, 1/7, ... of v^2's powers; |v| <
#: 0.1 makes each 100x smaller, so 4 leave 1e-10 of the sum (float32) and 8 1e-18
DEVIANCE_SERIES = [1.0 / (2 * j + 1) for j in range(1, 9)]
DEVIANCE_TERMS = {dt.float32: 4, dt.float64: 8}


def deviance(x, m, gap=None):
    """x log(x / m) + m - x (>= 0; m where x = 0): near m, its series in v = (x - m) /
    (x + m), (x - m) v + 2 x v^3 (1/3 + v^2/5 + v^4/7 + ...), keeps the precision the
    plain form cancels away. ``gap`` is x - m where the caller has it more exactly than x
    and m (1 - p and 1 - q: their gap is q - p)."""
    d = x - m if gap is None else gap
    near = abs_(d) < 0.1 * (x + m)
    v = where(near, d / where(near, x + m, 1.0), 0.0)
    v2 = v * v
    terms = DEVIANCE_TERMS[precision(v)]
    series = d * v + 2.0 * x * v * v2 * polynomial(v2, DEVIANCE_SERIES[:terms])
    # each form on inputs it is finite at where the other is taken: a gradient through
    # where() multiplies the other's by 0, and 0 * NaN is NaN (the far form's log1p at a
    # near point below m / 2 was)
    x_, m_, d_ = where(near, 1.0, x), where(near, 1.0, m), where(near, 0.0, d)
    ratio = x_ / m_
    up = ratio >= 0.5
    # log(x / m) as log1p(d / m) from x = m / 2 up: x / m's rounding would cost x ULP
    log_ratio = where(up, log1p(where(up, d_, 0.0) / m_), 0.0)
    far = where(up, x_ * log_ratio, xlogy(x_, where(up, 1.0, ratio))) - d_
    return where(near, series, far)


def log1p_excess(t):
    """t - log1p(t) >= 0 (t > -1), that is r - 1 - log r at r = 1 + t: near 0, with v =
    t / (2 + t), as t v - 2 v^3 (1/3 + v^2/5 + ...) (log1p(t) = 2 atanh v), where the plain
    difference cancels; the deviance(1, 1 + t) in fewer ops, for the KLs of scales and rates."""
    v = t / (2.0 + t)
    near = abs_(v) < 0.1
    v2 = v * v
    terms = DEVIANCE_TERMS[precision(v)]
    series = t * v - 2.0 * v * v2 * polynomial(v2, DEVIANCE_SERIES[:terms])
    return where(near, series, t - log1p(t))


__all__ = ["deviance", "log1p_excess"]
