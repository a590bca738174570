"""More of torch.distributions: StudentT, NegativeBinomial, Multinomial, and the
relaxed (Gumbel-softmax, Concrete) ones, RelaxedBernoulli and RelaxedOneHotCategorical
with their log-space forms. Formulas as PyTorch writes them.

StudentT draws through Gamma's sampler, which has no reparameterization in ember, so
StudentT has sample but no rsample (PyTorch's differentiates in df too)."""

import math

from .. import ops
from ..creation import arange, rand, randn
from ..ops.gamma import digamma, lgamma
from .continuous import Chi2, Gamma, _draws
from .discrete import Categorical, Poisson, _probs_or_logits
from .distribution import NONNEGATIVE_INTEGER, POSITIVE, REAL, Distribution, parameters
from .transforms import ExpTransform, SigmoidTransform, TransformedDistribution


def _clamp_probs(p):
    """p kept inside (0, 1) by the dtype's eps, as PyTorch's clamp_probs."""
    from ..pytorch_names import finfo
    eps = finfo(p.dtype).eps
    return ops.clip(p, eps, 1.0 - eps)


def _log_sigmoid(x):
    return -(ops.maximum(-x, 0.0) + ops.log1p(ops.exp(-ops.abs(x))))


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, location and scale."""

    arg_constraints = {"df": POSITIVE, "loc": REAL, "scale": POSITIVE}
    _params = ("df", "loc", "scale")

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=True):
        (self.df, self.loc, self.scale), shape = parameters(df, loc, scale)
        super().__init__(shape, (), validate_args)

    @property
    def mean(self):
        return ops.where(self.df > 1.0, self.loc, math.nan)

    mode = property(lambda self: self.loc)

    @property
    def variance(self):
        df = self.df
        finite = self.scale ** 2 * df / ops.where(df > 2.0, df - 2.0, 1.0)
        return ops.where(df > 2.0, finite, ops.where(df > 1.0, math.inf, math.nan))

    def sample(self, sample_shape=()):
        x = _draws(self.loc, self._extended_shape(sample_shape), randn)
        z = Chi2(self.df, validate_args=False).sample(sample_shape)
        return self.loc + self.scale * x * ops.rsqrt(z / self.df)

    def log_prob(self, value):
        y = (self._value(value) - self.loc) / self.scale
        z = (ops.log(self.scale) + 0.5 * ops.log(self.df) + 0.5 * math.log(math.pi)
             + lgamma(0.5 * self.df) - lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * ops.log1p(y * y / self.df) - z

    def entropy(self):
        lbeta = lgamma(0.5 * self.df) + math.lgamma(0.5) - lgamma(0.5 * (self.df + 1.0))
        return (ops.log(self.scale) + 0.5 * (self.df + 1.0) * (
            digamma(0.5 * (self.df + 1.0)) - digamma(0.5 * self.df))
            + 0.5 * ops.log(self.df) + lbeta)


class NegativeBinomial(Distribution):
    """The number of successes before ``total_count`` failures, each trial a success
    with probability ``probs`` (PyTorch's convention)."""

    arg_constraints = {"total_count": (lambda v: v >= 0, "GreaterThanEq(lower_bound=0.0)")}
    support = NONNEGATIVE_INTEGER
    _params = ("total_count", "logits")

    def __init__(self, total_count, probs=None, logits=None, validate_args=True):
        _, logits_, _ = _probs_or_logits("NegativeBinomial", probs, logits, True)
        (self.total_count, self.logits), shape = parameters(total_count, logits_)
        self.probs = ops.sigmoid(self.logits)
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape):
        shape = tuple(batch_shape)
        return NegativeBinomial(ops.broadcast_to(self.total_count, shape),
                                logits=ops.broadcast_to(self.logits, shape), validate_args=False)

    mean = property(lambda self: self.total_count * ops.exp(self.logits))
    mode = property(lambda self: ops.maximum(
        ops.floor((self.total_count - 1.0) * ops.exp(self.logits)), 0.0))
    variance = property(lambda self: self.mean / ops.sigmoid(-self.logits))

    def log_prob(self, value):
        value = self._value(value)
        unnormalized = self.total_count * _log_sigmoid(-self.logits) + value * _log_sigmoid(
            self.logits)
        norm = -lgamma(self.total_count + value) + lgamma(1.0 + value) + lgamma(self.total_count)
        return unnormalized - ops.where(self.total_count + value == 0.0, 0.0, norm)

    def sample(self, sample_shape=()):
        rate = Gamma(self.total_count, ops.exp(-self.logits),
                     validate_args=False).sample(sample_shape)
        return Poisson(rate, validate_args=False).sample()


class Multinomial(Distribution):
    """Counts of ``total_count`` draws (a Python int) over the categories of the last
    axis of probs or logits."""

    _params = ("probs",)

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=True):
        if not isinstance(total_count, int) or total_count < 0:
            raise ValueError(f"Multinomial: total_count must be a non-negative int, got "
                             f"{total_count!r}")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self.probs, self.logits = self._categorical.probs, self._categorical.logits
        super().__init__(self._categorical.batch_shape, self.probs.shape[-1:], validate_args)

    mean = property(lambda self: self.probs * float(self.total_count))
    variance = property(lambda self: self.probs * (1.0 - self.probs) * float(self.total_count))

    def entropy(self):
        """n H(categorical) - log n! + sum_k E[log x_k!], x_k binomial (PyTorch's sum over
        the support 1..n)."""
        n, p = float(self.total_count), self.probs
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1.0)
        if not self.total_count:
            return term1
        s = arange(1, self.total_count + 1, dtype=p.dtype, backend=p.backend).reshape(
            (self.total_count,) + (1,) * p.ndim)
        log_binomial = (math.lgamma(n + 1.0) - lgamma(s + 1.0) - lgamma(n - s + 1.0)
                        + ops.xlogy(s, p) + ops.xlogy(n - s, 1.0 - p))
        return term1 + (ops.exp(log_binomial) * lgamma(s + 1.0)).sum((0, -1))

    def expand(self, batch_shape):
        return Multinomial(self.total_count, logits=ops.broadcast_to(
            self.logits, tuple(batch_shape) + self.event_shape), validate_args=False)

    def sample(self, sample_shape=()):
        shape = tuple((sample_shape,) if isinstance(sample_shape, int) else sample_shape)
        picks = self._categorical.sample((self.total_count,) + shape)
        k = self.probs.shape[-1]
        counts = (ops.unsqueeze(picks, -1) == arange(k, backend=picks.backend)).to(
            self.probs.dtype)
        return counts.sum(0)

    def log_prob(self, value):
        value = self._value(value)
        logits = ops.where(ops.logical_and(value == 0, self.logits == -math.inf), 0.0,
                           self.logits)
        return (lgamma(value.sum(-1) + 1.0) - lgamma(value + 1.0).sum(-1)
                + (logits * value).sum(-1))


class LogitRelaxedBernoulli(Distribution):
    """The logit of a RelaxedBernoulli: (logit(u) + logits) / temperature."""

    has_rsample = True
    _params = ("logits",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        _, logits_, _ = _probs_or_logits(type(self).__name__, probs, logits, True)
        (self.temperature, self.logits), shape = parameters(temperature, logits_)
        self.probs = ops.sigmoid(self.logits)
        super().__init__(shape, (), validate_args)

    def _fixed(self):
        return {"temperature": self.temperature}

    def expand(self, batch_shape):
        shape = tuple(batch_shape)
        return type(self)(ops.broadcast_to(self.temperature, shape),
                          logits=ops.broadcast_to(self.logits, shape), validate_args=False)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = _clamp_probs(ops.broadcast_to(self.probs, shape))
        u = _clamp_probs(rand(*shape, dtype=self.logits.dtype, backend=self.logits.backend))
        return (ops.log(u) - ops.log1p(-u) + ops.log(p) - ops.log1p(-p)) / self.temperature

    def log_prob(self, value):
        diff = self.logits - value * self.temperature
        return ops.log(self.temperature) + diff - 2.0 * ops.log1p(ops.exp(diff))


class RelaxedBernoulli(TransformedDistribution):
    """The Concrete relaxation of a Bernoulli on (0, 1) (Maddison et al. 2017): the
    sigmoid of a LogitRelaxedBernoulli; low temperatures approach 0 and 1."""

    _params = ("logits",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args)
        self.temperature, self.logits, self.probs = base.temperature, base.logits, base.probs
        super().__init__(base, SigmoidTransform(), validate_args)

    def expand(self, batch_shape):
        shape = tuple(batch_shape)
        return RelaxedBernoulli(ops.broadcast_to(self.temperature, shape),
                                logits=ops.broadcast_to(self.logits, shape), validate_args=False)


class ExpRelaxedCategorical(Distribution):
    """The log of a RelaxedOneHotCategorical: log_softmax((logits + Gumbel) / T)."""

    has_rsample = True
    _params = ("logits",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self.probs, self.logits = self._categorical.probs, self._categorical.logits
        (self.temperature,), _ = parameters(temperature)
        super().__init__(self._categorical.batch_shape, self.logits.shape[-1:], validate_args)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = _clamp_probs(rand(*shape, dtype=self.logits.dtype, backend=self.logits.backend))
        scores = (self.logits - ops.log(-ops.log(u))) / self.temperature
        return scores - ops.logsumexp(scores, -1, keepdims=True)

    def log_prob(self, value):
        k = self.logits.shape[-1]
        log_scale = math.lgamma(k) + ops.log(self.temperature) * (k - 1.0)
        score = self.logits - value * self.temperature
        score = (score - ops.logsumexp(score, -1, keepdims=True)).sum(-1)
        return score + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """The Gumbel-softmax (Concrete) relaxation of a one-hot categorical on the
    simplex (Jang et al. 2017; Maddison et al. 2017), reparameterized."""

    _params = ("logits",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args)
        self.temperature, self.logits, self.probs = base.temperature, base.logits, base.probs
        super().__init__(base, ExpTransform(), validate_args)
