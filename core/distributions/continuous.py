"""Univariate continuous distributions, torch.distributions': Normal, LogNormal, Uniform,
Exponential, Laplace, Cauchy, Gamma, Chi2, Beta, StudentT. Location-scale ones sample by
reparameterization (rsample differentiates in the parameters); Gamma and Beta draw by
Marsaglia and Tsang's rejection method on the device, in a fixed number of rounds and in
logs (see log_standard_gamma)."""

import math

from .. import dtypes as dt
from .. import ops
from ..autograd import no_grad
from ..compile import is_compiling
from ..creation import full_like, rand, randn
from ..ops.composed import with_slopes
from ..ops.gamma import digamma, lgamma
from ..ops.special import ndtr, ndtri
from .saddle_point import SADDLE_FROM, log1p_square, log_poisson, log_student_t
from .saddle_point import beta_entropy, digamma_step, gamma_entropy, log_beta, log_binomial
from . import constraints
from .distribution import (HALF_LOG_2PI, NONNEGATIVE, POSITIVE, REAL, UNIT, Distribution,
                           parameters)

#: Marsaglia-Tsang proposals per draw: each is accepted with probability above 0.95
#: (concentration >= 1), so all 12 fail with probability below 1e-15; that draw then
#: keeps the last proposal
GAMMA_ROUNDS = 12


def _draws(like, shape, fn):
    return fn(*shape, dtype=like.dtype, backend=like.backend)


class _LocScale(Distribution):
    """A location-scale family: loc anywhere, scale positive, reparameterized."""

    has_rsample = True
    arg_constraints = {"loc": REAL, "scale": POSITIVE}
    support = REAL
    _params = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self._scalar_parameters(validate_args, loc=loc, scale=scale)

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)


class Normal(_LocScale):
    """N(loc, scale^2)."""

    variance = property(lambda self: self.scale ** 2)
    stddev = property(lambda self: self.scale)

    def rsample(self, sample_shape=()):
        eps = _draws(self.loc, self._extended_shape(sample_shape), randn)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = self._value(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - ops.log(self.scale) - HALF_LOG_2PI

    def cdf(self, value):
        return ndtr((self._value(value) - self.loc) / self.scale)

    def icdf(self, value):
        """loc + scale ndtri(p): erfinv(2p - 1) lost p below 2^-25 (icdf(1e-10) was -inf)."""
        return self.loc + self.scale * ndtri(value)

    def entropy(self):
        return 0.5 + HALF_LOG_2PI + ops.log(self.scale)


class LogNormal(_LocScale):
    """exp of N(loc, scale^2)."""

    support = POSITIVE

    def __init__(self, loc, scale, validate_args=None):
        super().__init__(loc, scale, validate_args)
        self.base_dist = Normal(self.loc, self.scale, validate_args=False)

    mean = property(lambda self: ops.exp(self.loc + self.scale ** 2 * 0.5))
    mode = property(lambda self: ops.exp(self.loc - self.scale ** 2))
    variance = property(lambda self: ops.expm1(self.scale ** 2) * ops.exp(
        self.loc * 2.0 + self.scale ** 2))

    def rsample(self, sample_shape=()):
        return ops.exp(self.base_dist.rsample(sample_shape))

    def log_prob(self, value):
        value = self._value(value)
        y = ops.log(value)
        return self.base_dist.log_prob(y) - y

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def cdf(self, value):
        """Normal's cdf at log x (0 at x = 0), as PyTorch's transformed one."""
        return self.base_dist.cdf(ops.log(self._value(value)))

    def icdf(self, value):
        return ops.exp(self.base_dist.icdf(value))


class Uniform(Distribution):
    """Uniform on [low, high)."""

    has_rsample = True
    arg_constraints = {"low": REAL, "high": REAL}
    _params = ("low", "high")

    def __init__(self, low, high, validate_args=None):
        self._scalar_parameters(validate_args, low=low, high=high)
        if self._validate and not is_compiling() and not bool((self.low < self.high).all()):
            raise ValueError(f"Uniform: low must be below high everywhere, got {self!r}")

    mean = property(lambda self: (self.high + self.low) * 0.5)
    mode = property(lambda self: self.high * math.nan)
    variance = property(lambda self: (self.high - self.low) ** 2 / 12.0)

    def rsample(self, sample_shape=()):
        u = _draws(self.low, self._extended_shape(sample_shape), rand)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = self._value(value)
        inside = ops.logical_and(self.low <= value, value < self.high)
        return ops.where(inside, -ops.log(self.high - self.low), -math.inf)

    def cdf(self, value):
        return ops.clip((self._value(value) - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    def entropy(self):
        return ops.log(self.high - self.low)


class Exponential(Distribution):
    """rate exp(-rate x) on x >= 0."""

    has_rsample = True
    arg_constraints = {"rate": POSITIVE}
    support = NONNEGATIVE
    _params = ("rate",)

    def __init__(self, rate, validate_args=None):
        self._scalar_parameters(validate_args, rate=rate)

    mean = property(lambda self: 1.0 / self.rate)
    mode = property(lambda self: full_like(self.rate, 0.0))
    variance = property(lambda self: self.rate ** -2)

    def rsample(self, sample_shape=()):
        u = _draws(self.rate, self._extended_shape(sample_shape), rand)
        return -ops.log1p(-u) / self.rate

    def log_prob(self, value):
        value = self._value(value)
        return ops.log(self.rate) - self.rate * value

    def cdf(self, value):
        return -ops.expm1(-self.rate * self._value(value))

    def icdf(self, value):
        return -ops.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - ops.log(self.rate)


def _log1p_ratio(t):
    """log1p(t) / t, 1 at t = 0 (and wherever log1p(t) rounds to t, subnormals too)."""
    zero = t == 0
    safe = ops.where(zero, 1.0, t)
    return ops.where(zero, 1.0, ops.log1p(safe) / safe)


def _expm1_ratio(t):
    """expm1(t) / t, 1 at t = 0."""
    zero = t == 0
    safe = ops.where(zero, 1.0, t)
    return ops.where(zero, 1.0, ops.expm1(safe) / safe)


class GeneralizedPareto(Distribution):
    """(1 + xi z)^(-1/xi - 1) / scale with z = (x - loc) / scale and xi = concentration,
    on x >= loc (and x <= loc - scale / xi for xi < 0): Exponential at xi = 0, Uniform at
    -1, Pareto-tailed above 0. Each form is written through log1p(t) / t and
    expm1(t) / t of t = xi z, so it passes continuously through xi = 0 (PyTorch treats
    |xi| < 1e-8 as 0: its float64 log_prob at xi = 1e-8, z = 1000 is 5e-3 off). Where
    the mean or variance diverges it is inf, where it does not exist NaN (as StudentT's;
    PyTorch's GeneralizedPareto gives NaN for both)."""

    has_rsample = True
    arg_constraints = {"loc": REAL, "scale": POSITIVE, "concentration": REAL}
    _params = ("loc", "scale", "concentration")

    def __init__(self, loc, scale, concentration, validate_args=None):
        self._scalar_parameters(validate_args, loc=loc, scale=scale, concentration=concentration)

    @property
    def _upper(self):
        xi = self.concentration
        return ops.where(xi < 0, self.loc - self.scale / ops.where(xi < 0, xi, -1.0), math.inf)

    @property
    def support(self):
        return constraints.interval(self.loc, self._upper)

    def _z(self, value):
        return (value - self.loc) / self.scale

    def rsample(self, sample_shape=()):
        u = _draws(self.loc, self._extended_shape(sample_shape), rand)
        return self.icdf(u)

    def log_prob(self, value):
        """-log(scale) - (1 + xi) z log1p(xi z) / (xi z)."""
        z = self._z(self._value(value))
        xi = self.concentration
        return -ops.log(self.scale) - (1.0 + xi) * z * _log1p_ratio(xi * z)

    def log_survival_function(self, value):
        z = self._z(self._value(value))
        return -z * _log1p_ratio(self.concentration * z)

    def cdf(self, value):
        return -ops.expm1(self.log_survival_function(value))

    def log_cdf(self, value):
        return ops.log(self.cdf(value))

    def icdf(self, value):
        """loc + scale (-log1p(-q)) expm1(-xi log1p(-q)) / (-xi log1p(-q)); the support's
        upper end at q = 1."""
        top = value == 1
        e = -ops.log1p(-ops.where(top, 0.0, value))
        inside = self.loc + self.scale * e * _expm1_ratio(self.concentration * e)
        return ops.where(top, self._upper, inside)

    @property
    def mean(self):
        xi = self.concentration
        finite = self.loc + self.scale / (1.0 - ops.where(xi < 1, xi, 0.0))
        return ops.where(xi < 1, finite, math.inf)

    @property
    def variance(self):
        xi = self.concentration
        ok = ops.where(xi < 0.5, xi, 0.0)
        finite = self.scale ** 2 / ((1.0 - ok) ** 2 * (1.0 - 2.0 * ok))
        return ops.where(xi < 0.5, finite, ops.where(xi < 1, math.inf, math.nan))

    mode = property(lambda self: self.loc)

    def entropy(self):
        return ops.log(self.scale) + self.concentration + 1.0


class Laplace(_LocScale):
    """exp(-|x - loc| / scale) / (2 scale)."""

    variance = property(lambda self: self.scale ** 2 * 2.0)

    def rsample(self, sample_shape=()):
        u = _draws(self.loc, self._extended_shape(sample_shape), rand) * 2.0 - 1.0
        u = ops.clip(u, float(dt.finfo(u.dtype).eps) - 1.0, None)      # as PyTorch's
        return self.loc - self.scale * ops.sign(u) * ops.log1p(-ops.abs(u))

    def log_prob(self, value):
        value = self._value(value)
        return -ops.log(self.scale * 2.0) - ops.abs(value - self.loc) / self.scale

    def cdf(self, value):
        """e^z / 2 below the loc, 1 - e^-z / 2 above (0.5 + 0.5 expm1(z) lost the left
        tail: cdf(-30) was 0)."""
        z = (self._value(value) - self.loc) / self.scale
        half = 0.5 * ops.exp(-ops.abs(z))
        return ops.where(z < 0, half, 1.0 - half)

    def icdf(self, value):
        """loc + scale log(2p) below 1/2, loc - scale log(2 - 2p) above (p - 1/2 lost p's
        low bits: icdf(1e-10) was -inf)."""
        below = value < 0.5
        return self.loc + self.scale * ops.where(
            below, ops.log(2.0 * value), -ops.log(2.0 - 2.0 * value))

    def entropy(self):
        return 1.0 + ops.log(self.scale * 2.0)


class Cauchy(_LocScale):
    """scale / (pi (scale^2 + (x - loc)^2)); mean and variance undefined (NaN, inf)."""

    mean = property(lambda self: self.loc * math.nan)
    variance = property(lambda self: self.loc * 0.0 + math.inf)

    def rsample(self, sample_shape=()):
        u = _draws(self.loc, self._extended_shape(sample_shape), rand)
        return self.loc + self.scale * ops.tan((u - 0.5) * math.pi)

    def log_prob(self, value):
        z = (self._value(value) - self.loc) / self.scale
        return -math.log(math.pi) - ops.log(self.scale) - log1p_square(z)

    def cdf(self, value):
        """1/2 + atan(z) / pi as atan2(1, -z) / pi: the left tail keeps its relative
        precision (1/2 + atan(z) / pi cancelled to 0 below z = -1e7)."""
        return ops.atan2(1.0, -(self._value(value) - self.loc) / self.scale) / math.pi

    def icdf(self, value):
        """tan(pi (p - 1/2)) in the middle; in the tails -1 / tan(pi p) and 1 / tan(pi (1 -
        p)), where p - 1/2 would lose p's low bits."""
        middle = ops.tan((value - 0.5) * math.pi)
        tails = ops.where(value < 0.5, -1.0 / ops.tan(value * math.pi),
                          1.0 / ops.tan((1.0 - value) * math.pi))
        return self.loc + self.scale * ops.where(ops.abs(value - 0.5) < 0.25, middle, tails)

    def entropy(self):
        return math.log(4 * math.pi) + ops.log(self.scale)


def settled(done):
    """Whether every draw of a rejection sampler has been accepted: read on the host
    when running eagerly, so that the rounds stop early; never while ember.compile
    traces (the graph keeps them all)."""
    return not is_compiling() and bool(done.all().item())


def log_standard_gamma(alpha):
    """The logs of Gamma(alpha, 1) draws of alpha's shape, on the device: Marsaglia and
    Tsang's method for alpha + 1 where alpha < 1, plus log(U) / alpha, GAMMA_ROUNDS
    proposals each, the first accepted kept (eagerly, the rounds stop once every draw has
    one). In logs, a small alpha's draws keep their values: at alpha = 1e-3, nine in ten
    are below float32's smallest normal, and Beta's and Dirichlet's ratios of them were
    0 / 0 (NaN in 81% of Beta(1e-3, 1e-3)'s draws). Not differentiable."""
    with no_grad():
        small = alpha < 1.0
        a = ops.where(small, alpha + 1.0, alpha)
        d = a - 1.0 / 3.0
        c = 1.0 / ops.sqrt(d * 9.0)
        shape = tuple(alpha.shape)
        out, done = d * 1.0, alpha < 0.0                         # nothing accepted yet
        for _ in range(GAMMA_ROUNDS):
            x = _draws(alpha, shape, randn)
            u = _draws(alpha, shape, rand)
            v = (1.0 + c * x) ** 3
            positive = v > 0
            safe_v = ops.where(positive, v, 1.0)
            accept = ops.logical_and(positive, ops.log1p(-u) < x * x * 0.5 + d - d * safe_v
                                     + d * ops.log(safe_v))
            take = ops.logical_and(accept, ops.logical_not(done))
            out = ops.where(take, d * safe_v, out)
            done = ops.logical_or(done, accept)
            if settled(done):
                break
        boost = ops.log1p(-_draws(alpha, shape, rand)) / ops.where(small, alpha, 1.0)
        return ops.log(out) + ops.where(small, boost, 0.0)


def rsample_log_standard_gamma(alpha):
    """log_standard_gamma's draws, differentiable in alpha by implicit reparameterization
    (Figurnov et al., 2018): a draw x = F^-1(u; alpha) moves by dx/dalpha = -(dP/dalpha) /
    P'(x) as alpha does, P the regularized incomplete gamma function, whose derivative in
    alpha is its form's (ops.incomplete_gamma.lower_gamma_slope: to the dtype's precision
    times the condition number, where PyTorch's is a rational fit). Below x = eps, where P
    is x^alpha / Gamma(alpha + 1) to the last bit and x may underflow, d(log x)/dalpha =
    (digamma(alpha + 1) - log x) / alpha."""
    from ..ops.incomplete_gamma import lower_gamma_density, lower_gamma_slope
    log_x = log_standard_gamma(alpha.detach())

    def slopes(a):
        with no_grad():
            a = a.detach()
            tiny = log_x < math.log(float(dt.finfo(a.dtype).eps))
            x = ops.exp(ops.where(tiny, 0.0, log_x))
            general = -lower_gamma_slope(a, x) / (lower_gamma_density(a, x) * x)
            return (ops.where(tiny, (digamma(a + 1.0) - log_x) / a, general),)
    return with_slopes(log_x, (alpha,), slopes)


def standard_gamma(alpha):
    """Gamma(alpha, 1) draws of alpha's shape (log_standard_gamma's, exponentiated), at
    least the dtype's smallest normal number, as PyTorch's: a draw that underflows would
    make log_prob infinite."""
    tiny = float(dt.finfo(alpha.dtype).tiny)
    return ops.maximum(ops.exp(log_standard_gamma(alpha)), tiny)


class Gamma(Distribution):
    """Gamma(concentration, rate): x^(a - 1) exp(-rate x) rate^a / Gamma(a), x > 0."""

    has_rsample = True

    arg_constraints = {"concentration": POSITIVE, "rate": POSITIVE}
    support = NONNEGATIVE
    _params = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        self._scalar_parameters(validate_args, concentration=concentration, rate=rate)

    mean = property(lambda self: self.concentration / self.rate)
    mode = property(lambda self: ops.clip((self.concentration - 1.0) / self.rate, 0.0, None))
    variance = property(lambda self: self.concentration / self.rate ** 2)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return standard_gamma(ops.broadcast_to(self.concentration, shape)) / self.rate

    def rsample(self, sample_shape=()):
        """Draws differentiable in both parameters (rsample_log_standard_gamma's), at
        least the smallest normal number, as sample's."""
        shape = self._extended_shape(sample_shape)
        log_x = rsample_log_standard_gamma(ops.broadcast_to(self.concentration, shape))
        return ops.maximum(ops.exp(log_x), float(dt.finfo(log_x.dtype).tiny)) / self.rate

    def log_prob(self, value):
        """a log b + (a - 1) log x - b x - lgamma(a); from a = SADDLE_FROM + 1, where
        those terms cancel, log b + log Poisson(a - 1; b x) in its saddle-point form."""
        value = self._value(value)
        a, b = self.concentration, self.rate
        plain = ops.xlogy(a, b) + ops.xlogy(a - 1.0, value) - b * value - lgamma(a)
        large = (a >= SADDLE_FROM + 1.0) & (value > 0)
        a_, x_ = ops.where(large, a, SADDLE_FROM + 1.0), ops.where(large, value, 1.0)
        saddle = ops.log(b) + log_poisson(a_ - 1.0, b * x_)
        return ops.where(large, saddle, plain)

    def cdf(self, value):
        """P(a, rate x), the regularized incomplete gamma function (ops.igamma)."""
        return ops.igamma(self.concentration, self.rate * self._value(value))

    def entropy(self):
        """a + lgamma(a) + (1 - a) digamma(a) - log rate; from a = SADDLE_FROM, where those
        cancel, saddle_point.gamma_entropy."""
        a = self.concentration
        large = a >= SADDLE_FROM
        a_ = ops.where(large, a, SADDLE_FROM)
        plain = a + lgamma(a) + (1.0 - a) * digamma(a)
        return ops.where(large, gamma_entropy(a_), plain) - ops.log(self.rate)


class Chi2(Gamma):
    """Gamma(df / 2, 1 / 2)."""

    arg_constraints = {"df": POSITIVE}
    _params = ("df",)

    def __init__(self, df, validate_args=None):
        (self.df,), _ = parameters(df)
        super().__init__(self.df * 0.5, full_like(self.df, 0.5), validate_args)

    def expand(self, batch_shape):
        return Chi2(ops.broadcast_to(self.df, tuple(batch_shape)), validate_args=False)


class Beta(Distribution):
    """Beta(concentration1, concentration0) on [0, 1]."""

    has_rsample = True

    arg_constraints = {"concentration1": POSITIVE, "concentration0": POSITIVE}
    support = UNIT
    _params = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        self._scalar_parameters(validate_args, concentration1=concentration1,
                                concentration0=concentration0)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        from .multivariate import simplex_mode
        pair = ops.stack([self.concentration1, self.concentration0], -1)
        return simplex_mode(pair)[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1.0))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = log_standard_gamma(ops.broadcast_to(self.concentration1, shape))
        y = log_standard_gamma(ops.broadcast_to(self.concentration0, shape))
        return ops.sigmoid(x - y)                          # x / (x + y), from the logs

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = rsample_log_standard_gamma(ops.broadcast_to(self.concentration1, shape))
        y = rsample_log_standard_gamma(ops.broadcast_to(self.concentration0, shape))
        return ops.sigmoid(x - y)

    def log_prob(self, value):
        """(a - 1) log x + (b - 1) log(1 - x) - log B(a, b) (saddle_point.log_beta); where a
        and b are both past 2 and a + b from SADDLE_FROM, where those terms cancel, log(a +
        b - 1) + log Binomial(a - 1; a + b - 2, x) in its saddle-point form (R's dbeta)."""
        value = self._value(value)
        a, b = self.concentration1, self.concentration0
        rest = ops.where(b == 1.0, 0.0, (b - 1.0) * ops.log1p(-value))   # log1p: x near 0
        plain = ops.xlogy(a - 1.0, value) + rest - log_beta(a, b)
        large = (a > 2.0) & (b > 2.0) & (a + b >= SADDLE_FROM) & (value > 0) & (value < 1)
        a_, b_ = ops.where(large, a, 5.0), ops.where(large, b, 5.0)
        x_ = ops.where(large, value, 0.5)
        saddle = ops.log(a_ + b_ - 1.0) + log_binomial(a_ - 1.0, b_ - 1.0, x_, 1.0 - x_)
        return ops.where(large, saddle, plain)

    def entropy(self):
        """log B(a, b) + (a - 1)(digamma(n) - digamma(a)) + (b - 1)(digamma(n) -
        digamma(b)), n = a + b, each difference whole (saddle_point.digamma_step; the
        digammas times a and b cancelled); with a and b both from SADDLE_FROM, where the
        log B term cancels the rest, saddle_point.beta_entropy."""
        a, b = self.concentration1, self.concentration0
        plain = (log_beta(a, b) + (a - 1.0) * digamma_step(a, b)
                 + (b - 1.0) * digamma_step(b, a))
        large = (a >= SADDLE_FROM) & (b >= SADDLE_FROM)
        a_, b_ = ops.where(large, a, SADDLE_FROM), ops.where(large, b, SADDLE_FROM)
        return ops.where(large, beta_entropy(a_, b_), plain)


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, location and scale."""

    has_rsample = True

    arg_constraints = {"df": POSITIVE, "loc": REAL, "scale": POSITIVE}
    _params = ("df", "loc", "scale")

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self._scalar_parameters(validate_args, df=df, loc=loc, scale=scale)

    @property
    def mean(self):
        return ops.where(self.df > 1.0, self.loc, math.nan)

    mode = property(lambda self: self.loc)

    @property
    def variance(self):
        df = self.df
        finite = self.scale ** 2 * df / ops.where(df > 2.0, df - 2.0, 1.0)
        return ops.where(df > 2.0, finite, ops.where(df > 1.0, math.inf, math.nan))

    def rsample(self, sample_shape=()):
        """Normal draws over the square root of Chi2's over df (Gamma's rsample)."""
        x = _draws(self.loc, self._extended_shape(sample_shape), randn)
        z = Chi2(self.df, validate_args=False).rsample(sample_shape)
        return self.loc + self.scale * x * ops.rsqrt(z / self.df)

    def log_prob(self, value):
        """lgamma((df + 1) / 2) - lgamma(df / 2) - log(df pi) / 2 - (df + 1) / 2 log(1 +
        y^2 / df) - log scale; from df = 2 SADDLE_FROM, where the lgammas cancel (df = 1e6
        gave -1.0 at 0, for -0.9189), its saddle-point form (R's dt)."""
        y = (self._value(value) - self.loc) / self.scale
        df = self.df
        z = (0.5 * ops.log(df) + 0.5 * math.log(math.pi)
             + lgamma(0.5 * df) - lgamma(0.5 * (df + 1.0)))
        plain = -0.5 * (df + 1.0) * log1p_square(y * ops.rsqrt(df)) - z
        large = df >= 2.0 * SADDLE_FROM      # df / 2 where Stirling's series holds
        saddle = log_student_t(y, ops.where(large, df, 2.0 * SADDLE_FROM))
        return ops.where(large, saddle, plain) - ops.log(self.scale)

    def entropy(self):
        """(df + 1)/2 (digamma((df + 1)/2) - digamma(df/2)) + log(sqrt(df) B(df/2, 1/2)) +
        log scale, the digamma difference whole and log B from its series at large df
        (saddle_point; at df = 1e6 the plain form was 0.034 off in float32)."""
        half = 0.5 * self.df
        return (ops.log(self.scale) + (half + 0.5) * digamma_step(half, 0.5)
                + 0.5 * ops.log(self.df) + log_beta(half, full_like(half, 0.5)))
