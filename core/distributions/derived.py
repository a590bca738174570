"""Distributions PyTorch defines as others transformed or mixed: HalfNormal, HalfCauchy
(|x| of a centred one), Gumbel, Weibull, Pareto, Kumaraswamy, InverseGamma,
FisherSnedecor (a ratio of Gammas), LogisticNormal (a Normal stick-broken onto the
simplex), and MixtureSameFamily. Their
formulas (moments, entropies, log-densities where PyTorch writes them out) are
PyTorch's."""

import math

from .. import ops
from ..creation import ones_like, rand, zeros_like
from ..dtypes import finfo
from ..ops.gamma import digamma, lgamma
from ..ops.special import erf, erfinv
from .continuous import Cauchy, Exponential, Gamma, Normal, Uniform, _LocScale
from . import constraints
from .distribution import NONNEGATIVE, POSITIVE, REAL, UNIT, Distribution, parameters
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform, \
    StickBreakingTransform, TransformedDistribution

EULER_GAMMA = 0.57721566490153286061


class LogisticNormal(TransformedDistribution):
    """Normal(loc, scale) over R^(K-1) through StickBreakingTransform onto the simplex of K
    (its event): loc's last axis is the K - 1 (a number: K = 2)."""

    arg_constraints = {"loc": REAL, "scale": POSITIVE}
    support = constraints.simplex
    _params = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        (self.loc, self.scale), shape = parameters(loc, scale)
        base = Normal(self.loc, self.scale, validate_args=False)
        if not shape:
            base = base.expand((1,))
        super().__init__(base, StickBreakingTransform(), validate_args)

    def expand(self, batch_shape):
        shape = tuple(batch_shape) + self.loc.shape[-1:]
        return LogisticNormal(ops.broadcast_to(self.loc, shape),
                              ops.broadcast_to(self.scale, shape), validate_args=False)


class _Folded(TransformedDistribution):
    """|X| for X centred and symmetric with the given scale: twice its density on x >= 0."""

    arg_constraints = {"scale": POSITIVE}
    support = NONNEGATIVE
    _params = ("scale",)
    base = None

    def __init__(self, scale, validate_args=None):
        (self.scale,), _ = parameters(scale)
        super().__init__(self.base(self.scale * 0.0, self.scale, validate_args=False),
                         AbsTransform(), validate_args)

    def log_prob(self, value):
        value = self._value(value)
        inside = self.base_dist.log_prob(value) + math.log(2.0)
        return ops.where(value >= 0, inside, -math.inf)

    def cdf(self, value):
        return 2.0 * self.base_dist.cdf(self._value(value)) - 1.0

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1.0) / 2.0)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2.0)


class HalfNormal(_Folded):
    """|N(0, scale^2)|: cdf erf(x / (scale sqrt 2)) and icdf its inverse, written out
    (2 Phi(x) - 1 cancelled to 0 below x = 1e-8 scale)."""

    base = Normal

    def cdf(self, value):
        return erf(self._value(value) / (self.scale * math.sqrt(2.0)))

    def icdf(self, prob):
        return self.scale * math.sqrt(2.0) * erfinv(prob)

    mean = property(lambda self: self.scale * math.sqrt(2 / math.pi))
    mode = property(lambda self: zeros_like(self.scale))
    variance = property(lambda self: self.scale ** 2 * (1 - 2 / math.pi))


class HalfCauchy(_Folded):
    """|Cauchy(0, scale)|: no mean or variance (inf); cdf 2 atan(x / scale) / pi and icdf
    scale tan(pi p / 2), written out (2 F(x) - 1 cancelled to 0 below x = 1e-8 scale)."""

    base = Cauchy

    def cdf(self, value):
        return ops.atan(self._value(value) / self.scale) * (2.0 / math.pi)

    def icdf(self, prob):
        """scale tan(pi p / 2), as 1 / tan(pi (1 - p) / 2) above 1/2 (1 - p exact there)."""
        upper = 1.0 / ops.tan((1.0 - prob) * (math.pi / 2.0))
        return self.scale * ops.where(prob > 0.5, upper, ops.tan(prob * (math.pi / 2.0)))

    mean = property(lambda self: self.scale * math.inf)
    mode = property(lambda self: zeros_like(self.scale))
    variance = property(lambda self: self.scale * math.inf)


class Gumbel(_LocScale):
    """The Gumbel (type-I extreme value) distribution: loc - scale log(-log U)."""

    mean = property(lambda self: self.loc + self.scale * EULER_GAMMA)
    mode = property(lambda self: self.loc)
    stddev = property(lambda self: self.scale * (math.pi / math.sqrt(6)))
    variance = property(lambda self: self.stddev ** 2)

    def rsample(self, sample_shape=()):
        from ..pytorch_names import finfo
        info = finfo(self.loc.dtype)
        u = rand(*self._extended_shape(sample_shape), dtype=self.loc.dtype,
                 backend=self.loc.backend)
        u = ops.clip(u, info.tiny, 1.0 - info.eps)          # PyTorch's base: (tiny, 1 - eps)
        return self.loc - self.scale * ops.log(-ops.log(u))

    def log_prob(self, value):
        z = (self.loc - self._value(value)) / self.scale
        return (z - ops.exp(z)) - ops.log(self.scale)

    def cdf(self, value):
        return ops.exp(-ops.exp((self.loc - self._value(value)) / self.scale))

    def icdf(self, prob):
        return self.loc - self.scale * ops.log(-ops.log(prob))

    def entropy(self):
        return ops.log(self.scale) + (1.0 + EULER_GAMMA)


class Weibull(TransformedDistribution):
    """scale E^(1 / concentration) for E ~ Exponential(1)."""

    arg_constraints = {"scale": POSITIVE, "concentration": POSITIVE}
    support = NONNEGATIVE
    _params = ("scale", "concentration")

    def __init__(self, scale, concentration, validate_args=None):
        (self.scale, self.concentration), _ = parameters(scale, concentration)
        super().__init__(Exponential(ones_like(self.scale), validate_args=False),
                         [PowerTransform(1.0 / self.concentration),
                          AffineTransform(0.0, self.scale)], validate_args)

    mean = property(lambda self: self.scale * ops.exp(lgamma(1.0 + 1.0 / self.concentration)))
    mode = property(lambda self: self.scale * ((self.concentration - 1.0) / self.concentration)
                    ** (1.0 / self.concentration))
    variance = property(lambda self: self.scale ** 2 * (
        ops.exp(lgamma(1.0 + 2.0 / self.concentration))
        - ops.exp(2.0 * lgamma(1.0 + 1.0 / self.concentration))))

    def log_prob(self, value):
        return super().log_prob(self._value(value))

    def entropy(self):
        return EULER_GAMMA * (1.0 - 1.0 / self.concentration) + \
            ops.log(self.scale / self.concentration) + 1.0


class Pareto(TransformedDistribution):
    """scale e^E for E ~ Exponential(alpha), on x >= scale."""

    arg_constraints = {"scale": POSITIVE, "alpha": POSITIVE}
    _params = ("scale", "alpha")

    def __init__(self, scale, alpha, validate_args=None):
        (self.scale, self.alpha), _ = parameters(scale, alpha)
        super().__init__(Exponential(self.alpha, validate_args=False),
                         [ExpTransform(), AffineTransform(0.0, self.scale)], validate_args)

    @property
    def mean(self):
        a = ops.maximum(self.alpha, 1.0)
        return a * self.scale / (a - 1.0)

    mode = property(lambda self: self.scale)

    @property
    def variance(self):
        a = ops.maximum(self.alpha, 2.0)
        return self.scale ** 2 * a / ((a - 1.0) ** 2 * (a - 2.0))

    def log_prob(self, value):
        value = self._value(value)
        inside = super().log_prob(value)
        return ops.where(value >= self.scale, inside, -math.inf)

    def entropy(self):
        return ops.log(self.scale / self.alpha) + (1.0 + 1.0 / self.alpha)


class Kumaraswamy(TransformedDistribution):
    """(1 - U^(1 / concentration0))^(1 / concentration1) for U ~ Uniform(0, 1): a
    density on (0, 1) like Beta's whose cdf has a closed form."""

    arg_constraints = {"concentration1": POSITIVE, "concentration0": POSITIVE}
    support = UNIT
    _params = ("concentration1", "concentration0")

    def __init__(self, concentration1, concentration0, validate_args=None):
        (self.concentration1, self.concentration0), _ = parameters(concentration1,
                                                                   concentration0)
        zero = self.concentration1 * 0.0
        super().__init__(Uniform(zero, zero + 1.0, validate_args=False),
                         [PowerTransform(1.0 / self.concentration0), AffineTransform(1.0, -1.0),
                          PowerTransform(1.0 / self.concentration1)], validate_args)

    def _moment(self, n):
        """E[X^n] = b B(1 + n / a, b)."""
        a, b = self.concentration1, self.concentration0
        return b * ops.exp(lgamma(1.0 + n / a) + lgamma(b) - lgamma(1.0 + n / a + b))

    mean = property(lambda self: self._moment(1))
    variance = property(lambda self: self._moment(2) - self._moment(1) ** 2)

    @property
    def mode(self):
        """((a - 1) / (ab - 1))^(1 / a) where a, b >= 1 (with a = b = 1 the density is flat:
        NaN, as elsewhere where there is no interior mode)."""
        a, b = self.concentration1, self.concentration0
        inside = ops.exp((ops.log(a - 1.0) - ops.log(a * b - 1.0)) / a)
        return ops.where((a >= 1.0) & (b >= 1.0), inside, math.nan)

    def log_prob(self, value):
        """log(a b) + (a - 1) log x + (b - 1) log(1 - x^a), written out with 1 - x^a =
        -expm1(a log x) (the transforms' 1 - x^a was 1 below x = 1e-4 at a = 2, where
        Uniform's support ends: -inf)."""
        x = self._value(value)
        a, b = self.concentration1, self.concentration0
        t = a * ops.log(x)
        log_rest = ops.where(t < -math.log(2.0), ops.log1p(-ops.exp(t)), ops.log(-ops.expm1(t)))
        inside = (ops.log(a) + ops.log(b) + ops.xlogy(a - 1.0, x)
                  + ops.where(b == 1.0, 0.0, (b - 1.0) * log_rest))
        return ops.where((x >= 0) & (x <= 1), inside, -math.inf)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic = digamma(b + 1.0) + EULER_GAMMA
        return (1.0 - 1.0 / b) + (1.0 - 1.0 / a) * harmonic - ops.log(a) - ops.log(b)


class InverseGamma(TransformedDistribution):
    """1 / X for X ~ Gamma(concentration, rate)."""

    arg_constraints = {"concentration": POSITIVE, "rate": POSITIVE}
    support = POSITIVE
    _params = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=None):
        (self.concentration, self.rate), _ = parameters(concentration, rate)
        super().__init__(Gamma(self.concentration, self.rate, validate_args=False),
                         PowerTransform(-1.0), validate_args)

    @property
    def mean(self):
        a = self.concentration
        return ops.where(a > 1.0, self.rate / (a - 1.0), math.inf)

    mode = property(lambda self: self.rate / (self.concentration + 1.0))

    @property
    def variance(self):
        a = self.concentration
        return ops.where(a > 2.0, self.rate ** 2 / ((a - 1.0) ** 2 * (a - 2.0)), math.inf)

    def log_prob(self, value):
        return super().log_prob(self._value(value))

    def entropy(self):
        a = self.concentration
        return a + ops.log(self.rate) + lgamma(a) - (1.0 + a) * digamma(a)


class FisherSnedecor(Distribution):
    """(X1 / df1) / (X2 / df2) for chi-squared X1, X2 of df1 and df2 degrees of freedom."""

    has_rsample = True
    arg_constraints = {"df1": POSITIVE, "df2": POSITIVE}
    support = POSITIVE
    _params = ("df1", "df2")

    def __init__(self, df1, df2, validate_args=None):
        self._scalar_parameters(validate_args, df1=df1, df2=df2)

    @property
    def mean(self):
        return ops.where(self.df2 > 2.0, self.df2 / (self.df2 - 2.0), math.nan)

    @property
    def mode(self):
        m = (self.df1 - 2.0) / self.df1 * self.df2 / (self.df2 + 2.0)
        return ops.where(self.df1 > 2.0, m, math.nan)

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        v = 2.0 * d2 ** 2 * (d1 + d2 - 2.0) / (d1 * (d2 - 2.0) ** 2 * (d2 - 4.0))
        return ops.where(d2 > 4.0, v, math.nan)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = float(finfo(self.df1.dtype).tiny)      # as PyTorch: no 0 in the ratio
        x1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False).rsample(sample_shape)
        x2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False).rsample(sample_shape)
        return ops.maximum(x1.reshape(shape) / ops.maximum(x2.reshape(shape), tiny), tiny)

    def log_prob(self, value):
        value = self._value(value)
        h1, h2, ratio = self.df1 * 0.5, self.df2 * 0.5, self.df1 / self.df2
        return (lgamma(h1 + h2) - lgamma(h1) - lgamma(h2) + h1 * ops.log(ratio)
                + (h1 - 1.0) * ops.log(value) - (h1 + h2) * ops.log1p(ratio * value))


class MixtureSameFamily(Distribution):
    """A mixture of the components along the last batch axis of
    ``component_distribution``, weighted by ``mixture_distribution`` (a Categorical
    over them): log p(x) = logsumexp_k (log w_k + log p_k(x))."""

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        from ..errors import ShapeError
        from .discrete import Categorical
        if not isinstance(mixture_distribution, Categorical):
            raise ShapeError("MixtureSameFamily: mixture_distribution must be a Categorical")
        k = mixture_distribution.logits.shape[-1]
        comp = component_distribution
        if not comp.batch_shape or comp.batch_shape[-1] != k:
            raise ShapeError(f"MixtureSameFamily: the component distribution's last batch "
                             f"axis ({comp.batch_shape}) must have the mixture's {k} "
                             f"components")
        self.mixture_distribution, self.component_distribution = mixture_distribution, comp
        super().__init__(comp.batch_shape[:-1], comp.event_shape, validate_args)

    _params = ()

    def _pad(self, x):
        """x with an axis for the components before its event axes."""
        return ops.unsqueeze(x, -1 - len(self.event_shape))

    def _weights(self):
        probs = self.mixture_distribution.probs
        for _ in self.event_shape:
            probs = ops.unsqueeze(probs, -1)
        return probs

    @property
    def mean(self):
        axis = -1 - len(self.event_shape)
        return (self._weights() * self.component_distribution.mean).sum(axis)

    @property
    def variance(self):
        axis = -1 - len(self.event_shape)
        w, comp = self._weights(), self.component_distribution
        within = (w * comp.variance).sum(axis)
        between = (w * (comp.mean - self._pad(self.mean)) ** 2).sum(axis)
        return within + between

    def log_prob(self, value):
        lp = self.component_distribution.log_prob(self._pad(value))
        log_w = ops.log_softmax(self.mixture_distribution.logits, -1)
        return ops.logsumexp(lp + log_w, -1)

    def cdf(self, value):
        cdf = self.component_distribution.cdf(self._pad(value))
        return (cdf * self.mixture_distribution.probs).sum(-1)

    def sample(self, sample_shape=()):
        from ..autograd import no_grad
        with no_grad():
            pick = self.mixture_distribution.sample(sample_shape)       # (S, B)
            draws = self.component_distribution.sample(sample_shape)    # (S, B, K, *event)
            index = pick
            for _ in range(len(self.event_shape) + 1):
                index = ops.unsqueeze(index, -1)
            shape = tuple(draws.shape[:-1 - len(self.event_shape)]) + (1,) + self.event_shape
            index = ops.broadcast_to(index, shape)
            out = ops.take_along_axis(draws, index, -1 - len(self.event_shape))
            return ops.squeeze(out, -1 - len(self.event_shape))

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self.mixture_distribution!r},\n  "
                f"{self.component_distribution!r})")
