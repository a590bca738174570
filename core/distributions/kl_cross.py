"""KL divergences between different families, torch.distributions.kl's closed forms: most
are -H(p) less p's expectation of log q, from p's moments; inf where p puts mass where q
has none (a Normal against anything on a half-line, a Gamma against a Beta). Registered
on import, as kl.py's pairs are."""

import math

from .. import ops
from ..creation import full_like
from ..ops.gamma import digamma, lgamma
from ..ops.special import erf
from .continuous import Beta, Exponential, Gamma, Laplace, Normal, Uniform
from .continuous_bernoulli import ContinuousBernoulli
from .derived import EULER_GAMMA, Gumbel, Pareto
from .discrete import Bernoulli, Binomial, Poisson
from .kl import register_kl

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _inf_like(t):
    return full_like(t, math.inf)


def _x_log_x(x):
    return ops.xlogy(x, x)


def _cb_log_norm(q):
    """log C(q), ContinuousBernoulli's normalizer: log_prob(x) = x l - softplus(l) + log C."""
    return -q._log_normalizer_excess() - 0.5 * q.logits + ops.softplus(q.logits)


def _infinite(*pairs):
    """Register KL = inf for these (p type, q type) pairs: p reaches where q has no mass."""
    def kl(p, q):
        return _inf_like(getattr(p, p._params[0]) * 1.0)
    for pair in pairs:
        register_kl(*pair)(kl)


_infinite((Beta, Pareto), (ContinuousBernoulli, Pareto),
          *[(p, q) for p in (Exponential, Gamma) for q in (Beta, ContinuousBernoulli, Pareto,
                                                            Uniform)],
          *[(p, q) for p in (Gumbel, Laplace, Normal)
            for q in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto, Uniform)],
          (Pareto, Beta), (Pareto, ContinuousBernoulli), (Pareto, Uniform),
          (Poisson, Bernoulli), (Poisson, Binomial))


@register_kl(Bernoulli, Poisson)
def _bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * ops.log(q.rate) - q.rate)


@register_kl(Beta, ContinuousBernoulli)
@register_kl(Uniform, ContinuousBernoulli)
def _to_continuous_bernoulli(p, q):
    kl = -p.entropy() - p.mean * q.logits - _cb_log_norm(q) + ops.softplus(q.logits)
    if isinstance(p, Uniform):      # p's support must lie inside [0, 1] (PyTorch's edges
        return ops.where((p.high > 1.0) | (p.low < 0.0), math.inf, kl)   # count as outside)
    return kl


@register_kl(Beta, Exponential)
def _beta_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(Beta, Gamma)
def _beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    return (-p.entropy() + lgamma(q.concentration) - q.concentration * ops.log(q.rate)
            - (q.concentration - 1.0) * (digamma(a) - digamma(a + b)) + q.rate * p.mean)


@register_kl(Beta, Normal)
def _beta_normal(p, q):
    mean, var = p.mean, q.scale ** 2
    second = p.variance + mean * mean
    return (-p.entropy() + 0.5 * ops.log(var * (2 * math.pi))
            + (0.5 * second - q.loc * mean + 0.5 * q.loc ** 2) / var)


@register_kl(Beta, Uniform)
@register_kl(ContinuousBernoulli, Uniform)
def _unit_to_uniform(p, q):
    kl = -p.entropy() + ops.log(q.high - q.low)
    return ops.where((q.low > 0.0) | (q.high < 1.0), math.inf, kl)


@register_kl(ContinuousBernoulli, Exponential)
def _cb_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _cb_normal(p, q):
    return (-p.entropy() + _HALF_LOG_2PI + 0.5 * (q.loc / q.scale) ** 2 + ops.log(q.scale)
            + (p.variance + p.mean ** 2 - 2.0 * q.loc * p.mean) / (2.0 * q.scale ** 2))


@register_kl(Exponential, Gamma)
def _exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ops.log(ratio) + ratio + lgamma(q.concentration)
            + q.concentration * EULER_GAMMA - (1.0 + EULER_GAMMA))


@register_kl(Exponential, Gumbel)
def _exponential_gumbel(p, q):
    product = p.rate * q.scale
    shift = q.loc / q.scale
    return (ops.log(product) - 1.0 - shift + ops.exp(shift) * product / (product + 1.0)
            + 1.0 / product)


@register_kl(Exponential, Normal)
def _exponential_normal(p, q):
    var, rate2 = q.scale ** 2, p.rate ** 2
    return (0.5 * ops.log(rate2 * var * (2 * math.pi)) - 1.0
            + (1.0 / rate2 - q.loc / p.rate + 0.5 * q.loc ** 2) / var)


@register_kl(Gamma, Exponential)
def _gamma_exponential(p, q):
    return -p.entropy() - ops.log(q.rate) + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _gamma_gumbel(p, q):
    a = p.concentration
    product = p.rate * q.scale
    shift = q.loc / q.scale
    return ((a - 1.0) * digamma(a) - lgamma(a) - a + ops.log(product) + a / product
            + ops.exp(shift) * (1.0 + 1.0 / product) ** (-a) - shift)


@register_kl(Gamma, Normal)
def _gamma_normal(p, q):
    a, var, rate2 = p.concentration, q.scale ** 2, p.rate ** 2
    return (0.5 * ops.log(rate2 * var * (2 * math.pi)) - a - lgamma(a)
            + (a - 1.0) * digamma(a)
            + (0.5 * (a * a + a) / rate2 - q.loc * a / p.rate + 0.5 * q.loc ** 2) / var)


@register_kl(Gumbel, Normal)
def _gumbel_normal(p, q):
    ratio = p.scale / q.scale
    return (-ops.log(ratio / math.sqrt(2 * math.pi)) + (math.pi * ratio * 0.5) ** 2 / 3.0
            + 0.5 * ((p.loc + p.scale * EULER_GAMMA - q.loc) / q.scale) ** 2
            - (EULER_GAMMA + 1.0))


@register_kl(Laplace, Normal)
def _laplace_normal(p, q):
    var = q.scale ** 2
    ratio = p.scale ** 2 / var
    return (-0.5 * ops.log(2.0 * ratio / math.pi) + ratio
            + (0.5 * p.loc ** 2 - p.loc * q.loc + 0.5 * q.loc ** 2) / var - 1.0)


@register_kl(Normal, Gumbel)
def _normal_gumbel(p, q):
    mean_ratio = p.loc / q.scale
    var_ratio = (p.scale / q.scale) ** 2
    shift = q.loc / q.scale
    return (-0.5 * ops.log(var_ratio) + mean_ratio - shift
            + ops.exp(-mean_ratio + 0.5 * var_ratio + shift) - 0.5 * (1.0 + math.log(2 * math.pi)))


@register_kl(Normal, Laplace)
def _normal_laplace(p, q):
    gap = p.loc - q.loc
    z = gap / p.scale
    return (-ops.log(p.scale / q.scale)
            + (math.sqrt(2 / math.pi) * p.scale * ops.exp(-0.5 * z * z)
               + gap * erf(math.sqrt(0.5) * z)) / q.scale
            - 0.5 * (1.0 + math.log(0.5 * math.pi)))


@register_kl(Pareto, Exponential)
def _pareto_exponential(p, q):
    product = p.scale * q.rate
    a = ops.where(p.alpha > 1.0, p.alpha, 2.0)
    kl = ops.log(a / product) - 1.0 / a + a * product / (a - 1.0) - 1.0
    return ops.where(p.alpha > 1.0, kl, math.inf)


@register_kl(Pareto, Gamma)
def _pareto_gamma(p, q):
    a = ops.where(p.alpha > 1.0, p.alpha, 2.0)
    common = ops.log(p.scale) + 1.0 / a
    kl = (ops.log(a) - common + lgamma(q.concentration) - q.concentration * ops.log(q.rate)
          + (1.0 - q.concentration) * common + q.rate * a * p.scale / (a - 1.0) - 1.0)
    return ops.where(p.alpha > 1.0, kl, math.inf)


@register_kl(Pareto, Normal)
def _pareto_normal(p, q):
    a = ops.where(p.alpha > 2.0, p.alpha, 3.0)
    var2 = 2.0 * q.scale ** 2
    common = p.scale / (a - 1.0)
    kl = (ops.log(math.sqrt(2 * math.pi) * q.scale * a / p.scale) - 1.0 / a
          + (a * common ** 2 / (a - 2.0) + (a * common - q.loc) ** 2) / var2 - 1.0)
    return ops.where(p.alpha > 2.0, kl, math.inf)


@register_kl(Uniform, Beta)
def _uniform_beta(p, q):
    width = p.high - p.low
    kl = ((q.concentration0 - 1.0) * (_x_log_x(1.0 - p.high) - _x_log_x(1.0 - p.low) + width)
          / width
          + lgamma(q.concentration1) + lgamma(q.concentration0)
          - lgamma(q.concentration1 + q.concentration0) - ops.log(width)
          - (q.concentration1 - 1.0) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width)
    return ops.where((p.high > 1.0) | (p.low < 0.0), math.inf, kl)


@register_kl(Uniform, Exponential)
def _uniform_exponential(p, q):
    kl = q.rate * (p.high + p.low) / 2.0 - ops.log((p.high - p.low) * q.rate)
    return ops.where(p.low < 0.0, math.inf, kl)


@register_kl(Uniform, Gamma)
def _uniform_gamma(p, q):
    width = p.high - p.low
    kl = (-ops.log(width) + lgamma(q.concentration) - q.concentration * ops.log(q.rate)
          + (1.0 - q.concentration) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
          + q.rate * (p.high + p.low) / 2.0)
    return ops.where(p.low < 0.0, math.inf, kl)


@register_kl(Uniform, Gumbel)
def _uniform_gumbel(p, q):
    common = q.scale / (p.high - p.low)
    high, low = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
    return (ops.log(common) + 0.5 * (high + low)
            - common * (ops.exp(-high) - ops.exp(-low)))


@register_kl(Uniform, Normal)
def _uniform_normal(p, q):
    width = p.high - p.low
    return (ops.log(math.sqrt(2 * math.pi) * q.scale / width)
            + 0.5 * (width ** 2 / 12.0 + ((p.high + p.low - 2.0 * q.loc) / 2.0) ** 2)
            / q.scale ** 2)


@register_kl(Uniform, Pareto)
def _uniform_pareto(p, q):
    width = p.high - p.low
    kl = ((_x_log_x(p.high) - _x_log_x(p.low) - width) / width * (q.alpha + 1.0)
          - ops.log(q.alpha * q.scale ** q.alpha * width))
    return ops.where(p.low < q.scale, math.inf, kl)
