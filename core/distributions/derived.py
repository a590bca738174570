"""Distributions PyTorch defines as others transformed or mixed: HalfNormal, HalfCauchy
(|x| of a centred one), Gumbel, Weibull, Pareto, and MixtureSameFamily. Their
formulas (moments, entropies, log-densities where PyTorch writes them out) are
PyTorch's."""

import math

from .. import ops
from ..creation import ones_like, rand
from ..ops.gamma import lgamma
from .continuous import Cauchy, Exponential, Normal, _LocScale
from .distribution import NONNEGATIVE, POSITIVE, Distribution, parameters
from .transforms import AbsTransform, AffineTransform, ExpTransform, PowerTransform, \
    TransformedDistribution

EULER_GAMMA = 0.57721566490153286061


class _Folded(TransformedDistribution):
    """|X| for X centred and symmetric with the given scale: twice its density on x >= 0."""

    arg_constraints = {"scale": POSITIVE}
    support = NONNEGATIVE
    _params = ("scale",)
    base = None

    def __init__(self, scale, validate_args=True):
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
    """|N(0, scale^2)|."""

    base = Normal
    mean = property(lambda self: self.scale * math.sqrt(2 / math.pi))
    mode = property(lambda self: self.scale * 0.0)
    variance = property(lambda self: self.scale ** 2 * (1 - 2 / math.pi))


class HalfCauchy(_Folded):
    """|Cauchy(0, scale)|: no mean or variance (inf)."""

    base = Cauchy
    mean = property(lambda self: self.scale * math.inf)
    mode = property(lambda self: self.scale * 0.0)
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

    def __init__(self, scale, concentration, validate_args=True):
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

    def __init__(self, scale, alpha, validate_args=True):
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


class MixtureSameFamily(Distribution):
    """A mixture of the components along the last batch axis of
    ``component_distribution``, weighted by ``mixture_distribution`` (a Categorical
    over them): log p(x) = logsumexp_k (log w_k + log p_k(x))."""

    def __init__(self, mixture_distribution, component_distribution, validate_args=True):
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
