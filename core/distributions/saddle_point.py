"""Log-densities that keep their relative precision at large parameters: Loader's
saddle-point forms (C. Loader, "Fast and accurate computation of binomial
probabilities", 2000; R's dpois_raw, dbinom_raw, dt).

Written the plain way, log Poisson(100000; 100000) is a difference of terms near 1e6:
in float32 it came out -6.75 where it is -6.6754, and Gamma, Beta and Student's t with
large parameters lost as much (t with 1e6 degrees of freedom gave -1.0 at 0 for
-0.9189). Here those terms are taken apart into Stirling's error of each factorial,
small and known to full precision, and the deviance x log(x / M) + M - x, whose series
in (x - M) / (x + M) holds its precision where x is near M. The distributions use these
forms from SADDLE_FROM up and keep their plain formulas below it, where nothing cancels.

Every branch gets safe inputs (the where of the other branch only hides a value, not its
NaN gradient)."""

import math

from .. import ops
from ..creation import tensor
from ..ops.composed import polynomial
from ..ops.deviance import deviance
from ..ops.gamma import (STIRLING_FROM, STIRLING_LGAMMA, digamma, digamma_tail, lgamma,
                         stirling_tail)

#: the parameter (count, shape) from which the saddle-point forms are used: where
#: Stirling's series holds (ops.gamma's STIRLING_FROM)
SADDLE_FROM = STIRLING_FROM
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: Stirling's error at 0 .. 9 (at 0 taken as 0: the callers never use it there)
WHOLE_ERRORS = [0.0] + [math.lgamma(n + 1.0) - (n + 0.5) * math.log(n) + n - HALF_LOG_2PI
                        for n in range(1, 10)]
#: (1 + u)^-p - 1 + p u = sum_k C(p - 1 + k, k) (-u)^k from k = 2, for p = 1, 3, .., 9 (the
#: powers of Stirling's series) and |u| <= 1/8: 16 terms leave 8^-16 of the first
_POWER_REST = [[math.comb(p - 1 + k, k) * (-1) ** k for k in range(2, 18)]
               for p in range(1, 10, 2)]


def log1p_square(z):
    """log(1 + z^2) without z^2's overflow: 2 log|z| + log1p(1 / z^2) past |z| = 1 (Cauchy's
    and Student's t's log-density was -inf past |z| = 1.8e19 in float32)."""
    big = ops.abs(z) > 1.0
    inverse = 1.0 / ops.where(big, z, 1.0)
    return ops.where(big, 2.0 * ops.log(ops.abs(z)) + ops.log1p(inverse * inverse),
                     ops.log1p(z * z))


def stirling_error(n):
    """log(n!) - log(sqrt(2 pi n) (n / e)^n) for n >= 0 (lgamma(n) less Stirling's
    formula, so ops.gamma.stirling_tail from 10 up), the exact value at whole n below 10
    (a table), lgamma's difference between them (an absolute error of a few eps). Callers
    whose arguments are at least SADDLE_FROM take stirling_tail itself, without the
    lgamma that the branch below it costs."""
    small = n < SADDLE_FROM
    series = stirling_tail(ops.where(small, SADDLE_FROM, n))     # lgamma's, at n + 1's error
    whole = small & (n == ops.floor(n))
    table = tensor(WHOLE_ERRORS, dtype=n.dtype, backend=n.backend)
    exact = ops.take(table, ops.where(whole, n, 0.0).to(n.backend.default_int))
    k = ops.where(small & ~whole & (n > 0), n, 1.0)
    direct = lgamma(k + 1.0) - (k + 0.5) * ops.log(k) + k - HALF_LOG_2PI
    return ops.where(small, ops.where(whole, exact, direct), series)


def digamma_step(y, h):
    """digamma(y + h) - digamma(y) for h >= 0, from SADDLE_FROM by the series, log1p(h /
    y) + h / (2 y (y + h)) plus the tails' difference (the two digammas cancelled)."""
    large = y >= SADDLE_FROM
    y_ = ops.where(large, y, SADDLE_FROM)
    series = (ops.log1p(h / y_) + h / (2.0 * y_ * (y_ + h))
              - digamma_tail(y_ + h) + digamma_tail(y_))
    small = ops.where(large, 1.0, y)
    return ops.where(large, series, digamma(small + h) - digamma(small))


def gamma_entropy(a):
    """The entropy of Gamma(a, 1) from a = SADDLE_FROM: log(2 pi a) / 2 + 1/2 - 1/2a +
    stirling_error(a) + (a - 1) tail(a), where a + lgamma(a) + (1 - a) digamma(a)
    cancelled (to 1e-3 relative at a = 1e4 in float32)."""
    return (0.5 * ops.log(a) + HALF_LOG_2PI + 0.5 - 0.5 / a + stirling_tail(a)
            + (a - 1.0) * digamma_tail(a))


def beta_entropy(a, b):
    """The entropy of Beta(a, b), both from SADDLE_FROM: Stirling's and digamma's series
    with the log terms gathered into (log(a/n) + log(b/n) - log n) / 2, n = a + b."""
    n = a + b
    return (HALF_LOG_2PI + 0.5 * (ops.log(a / n) + ops.log(b / n) - ops.log(n))
            + 0.5 - 0.5 / a - 0.5 / b + 1.0 / n
            + stirling_tail(a) + stirling_tail(b) - stirling_tail(n)
            + (a - 1.0) * digamma_tail(a) + (b - 1.0) * digamma_tail(b)
            - (n - 2.0) * digamma_tail(n))


def lgamma_remainder(x, h):
    """lgamma(x + h) - lgamma(x) - h digamma(x) (x, x + h > 0), the part of lgamma's step
    past its slope, order h^2 / 2x, without the cancellation of the three terms (the KL
    divergences of Gamma, Beta and Dirichlet are sums of these). It is sum over m of u -
    log1p(u), u = h / (x + m): ten terms by that, and from y = x + 10 on, where Stirling's
    series holds, deviances and Stirling's own remainder S(y + h) - S(y) - h S'(y), by the
    binomial series of each power where |h| <= y / 8, else as the difference itself."""
    total = 0.0
    for m in range(10):
        u = h / (x + m)
        total = total + deviance(1.0, 1.0 + u, -u)            # u - log1p(u)
    y = x + 10.0
    main = deviance(y + h, y, h) + 0.5 * deviance(y, y + h, -h) / y
    small = ops.abs(h) <= 0.125 * y
    u = ops.where(small, h / y, 0.0)
    series, inv, inv2 = 0.0, 1.0 / y, 1.0 / (y * y)
    power = inv
    for c, coefficients in zip(STIRLING_LGAMMA, _POWER_REST):
        series = series + c * power * (u * u) * polynomial(u, coefficients)
        power = power * inv2
    yh = ops.where(small, y + 1.0, y + h)
    direct = stirling_tail(yh) - stirling_tail(y) + h * digamma_tail(y)
    return total + main + ops.where(small, series, direct)


def log_poisson(x, rate):
    """log(rate^x e^-rate / x!) for x >= SADDLE_FROM and rate > 0: -stirling_error(x) -
    deviance(x, rate) - log(2 pi x) / 2 (x need not be whole: Gamma's density is one)."""
    return -stirling_tail(x) - deviance(x, rate) - 0.5 * ops.log(x) - HALF_LOG_2PI


def log_beta(a, b):
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b) without the cancellation of
    the large lgammas (R's lbeta): with the smaller p and the larger q both from
    SADDLE_FROM, Stirling's errors and logs of ratios; with only q there, lgamma(p) and
    the same for the rest; below, the lgammas themselves."""
    p, q = ops.minimum(a, b), ops.maximum(a, b)
    both = p >= SADDLE_FROM
    one = (q >= SADDLE_FROM) & ~both
    p_ = ops.where(both | one, p, 1.0)
    q_ = ops.where(both | one, q, SADDLE_FROM)
    share = p_ / (p_ + q_)
    tail = (q_ - 0.5) * ops.log1p(-share)
    corr_q = stirling_tail(q_) - stirling_tail(p_ + q_)
    large = (corr_q + stirling_tail(ops.where(both, p_, SADDLE_FROM)) - 0.5 * ops.log(q_)
             + HALF_LOG_2PI + (p_ - 0.5) * ops.log(share) + q_ * ops.log1p(-share))
    medium = lgamma(p_) + corr_q + p_ - p_ * ops.log(p_ + q_) + tail
    plain = lgamma(a) + lgamma(b) - lgamma(a + b)
    return ops.where(both, large, ops.where(one, medium, plain))


def log_binomial(x, rest, p, q):
    """log(C(n, x) p^x q^rest), n = x + rest, for x, rest > 0 (need not be whole: Beta's
    density is one); p + q = 1 and x + rest = n given apart so that none loses precision
    (log(1 - x / n) lost it where x is near n)."""
    n = x + rest
    lc = (stirling_error(n) - stirling_error(x) - stirling_error(rest)
          - deviance(x, n * p) - deviance(rest, n * q))
    return lc - 0.5 * (math.log(2 * math.pi) + ops.log(x) + ops.log(rest) - ops.log(n))


def log_student_t(z, df):
    """log of Student's t density at a standardized z: the constant as Stirling's
    errors and a deviance of df / 2 and (df + 1) / 2, the kernel -(df + 1)/2 log(1 +
    z^2/df) as -deviance(df/2, (df + z^2)/2) + z^2/2 - log(1 + z^2/df)/2 where z^2 < df/5
    (R's dt)."""
    half = 0.5 * df
    constant = (stirling_tail(half + 0.5) - stirling_tail(half)
                - deviance(half, half + 0.5))
    z2 = z * z
    close = z2 < 0.2 * df
    zc = ops.where(close, z, 0.0)
    zc2 = zc * zc
    log_root = 0.5 * ops.log1p(zc2 / df)                 # log sqrt(1 + z^2 / df)
    kernel = -deviance(half, half + 0.5 * zc2) + 0.5 * zc2
    far_root = 0.5 * log1p_square(ops.where(close, 1.0, z) / ops.sqrt(df))
    u = ops.where(close, kernel, df * far_root)
    return constant - u - ops.where(close, log_root, far_root) - HALF_LOG_2PI
