"""kl_divergence(p, q) and register_kl, torch.distributions.kl's: closed forms per pair
of types, looked up along both classes' method resolution orders (the most specific
registered pair wins)."""

import math

from .. import linalg, ops
from ..tensor import Tensor
from ..ops.composed import polynomial
from ..ops.deviance import deviance, log1p_excess
from ..ops.gamma import lgamma
from .continuous import Beta, Cauchy, Exponential, Gamma, Laplace, Normal, Uniform
from .continuous_bernoulli import ContinuousBernoulli, kl_continuous_bernoulli
from .derived import EULER_GAMMA, Gumbel, HalfNormal, Pareto
from .discrete import Bernoulli, Binomial, Categorical, Geometric, Poisson
from .saddle_point import lgamma_remainder
from .multivariate import Dirichlet, Independent, LowRankMultivariateNormal, MultivariateNormal
from .transforms import Transform, TransformedDistribution

_KL = {}


def register_kl(type_p, type_q):
    """Decorator: fn(p, q) is KL(p || q) for p of type_p and q of type_q."""
    def register(fn):
        _KL[type_p, type_q] = fn
        return fn
    return register


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p - log q], over the batch."""
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            fn = _KL.get((tp, tq))
            if fn is not None:
                return fn(p, q)
    raise NotImplementedError(f"kl_divergence: no closed form registered for "
                              f"{type(p).__name__} and {type(q).__name__}; register one with "
                              f"ember.distributions.register_kl")


@register_kl(Normal, Normal)
def _normal(p, q):
    """(t^2 + z^2) / 2 + r - 1 - log r, r = 1 + t the ratio of scales, z the locs' gap in
    q's scale; r - 1 - log r by log1p_excess, so that close distributions keep their small
    KL (r^2 - 1 - log r^2 + z^2 cancelled: 0 for a gap of 1e-4 in float32)."""
    t = (p.scale - q.scale) / q.scale
    z = (p.loc - q.loc) / q.scale
    return 0.5 * (t * t + z * z) + log1p_excess(t)


@register_kl(Bernoulli, Bernoulli)
def _bernoulli(p, q):
    """deviance(p, q) + deviance(1 - p, 1 - q): the two terms >= 0, each exact where p is
    near q (p's and 1 - p's log-ratio terms cancelled: 60% off at 0.3 against 0.3001)."""
    gap = p.probs - q.probs
    return (deviance(p.probs, q.probs, gap)
            + deviance(ops.sigmoid(-p.logits), ops.sigmoid(-q.logits), -gap))


#: 1/2, -1/6, 1/24, ...: (e^-z - 1 + z) / z^2's Taylor coefficients for |z| < 1/2, as
#: many as a dtype needs (the next term below 2e-9 of the sum for float32, 1e-18 float64)
_EXPM1_REST = [(-1) ** n / math.factorial(n) for n in range(2, 18)]
_EXPM1_TERMS = {"float32": 8, "float64": 16}


@register_kl(Binomial, Binomial)
def _binomial(p, q):
    """n times the Bernoullis' (deviance forms) for equal counts; inf where p's count
    exceeds q's (p reaches counts q cannot). A smaller count for p has no closed form:
    refused, as by PyTorch."""
    from ..compile import is_compiling
    if not is_compiling() and bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("kl_divergence: KL between Binomials where q.total_count > "
                                  "p.total_count has no closed form")
    kl = p.total_count * _bernoulli(p, q)
    return ops.where(p.total_count > q.total_count, math.inf, kl)


@register_kl(Geometric, Geometric)
def _geometric(p, q):
    """The Bernoullis' KL over p's probability of success: log(p/q) + (1 - p) / p
    log((1 - p) / (1 - q)), each term a deviance, so close ones keep their digits."""
    return _bernoulli(p, q) / p.probs


@register_kl(Cauchy, Cauchy)
def _cauchy(p, q):
    """log(((s + t)^2 + d^2) / (4 s t)) (Chyzak and Nielsen, 2019) as log1p(((s - t)^2 +
    d^2) / (4 s t)): the ratio is 1 plus that, which would round away for close ones."""
    gap = p.scale - q.scale
    d = p.loc - q.loc
    return ops.log1p((gap * gap + d * d) / (4.0 * p.scale * q.scale))


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _continuous_bernoulli(p, q):
    return kl_continuous_bernoulli(p.logits, q.logits)


@register_kl(Categorical, Categorical)
def _categorical(p, q):
    """sum p (log p - log q). Where p and q are close (no zero probability, and every
    log-ratio d within 1/2 of its mean c under p): log1p(sum p g(d - c)), g(z) = e^-z - 1 +
    z >= 0 by its series. That is the same value (sum q = 1 makes it invariant to a shift
    of d), so d is taken from the logits as given, whose difference normalizing would
    round; the plain sum of terms of order d carried that rounding into a KL of order d^2
    (PyTorch's is 1e5 eps off at logits 1e-3 apart, in float32)."""
    d = ops.where(p.probs == 0, 0.0, p.logits - q.logits)
    t = p.probs * d
    t = ops.where(ops.logical_and(q.probs == 0, p.probs > 0), math.inf, t)
    plain = t.sum(-1)
    given = p._given_logits - q._given_logits
    e = given - ops.unsqueeze((p.probs * ops.where(ops.isfinite(given), given, 0.0)).sum(-1), -1)
    inside = (ops.abs(e) < 0.5) & (p.probs > 0) & (q.probs > 0)
    near = ops.where(inside, e, 0.0)
    terms = _EXPM1_TERMS["float64" if near.dtype.name == "float64" else "float32"]
    close = ops.log1p((p.probs * near * near * polynomial(near, _EXPM1_REST[:terms])).sum(-1))
    return ops.where(ops.all(inside, -1), close, plain)


@register_kl(Uniform, Uniform)
def _uniform(p, q):
    inside = ops.logical_and(q.low <= p.low, p.high <= q.high)
    return ops.where(inside, ops.log((q.high - q.low) / (p.high - p.low)), math.inf)


@register_kl(Exponential, Exponential)
def _exponential(p, q):
    """u - 1 - log u, u the ratio of rates, by log1p_excess (it cancelled near u = 1)."""
    return log1p_excess((q.rate - p.rate) / p.rate)


@register_kl(Laplace, Laplace)
def _laplace(p, q):
    """r - 1 - log r for the ratio r of scales, by log1p_excess, and the locs' gap's terms
    gap / q.scale + r expm1(-gap / p.scale): 0 at no gap (the sum cancelled near r = 1)."""
    ratio = p.scale / q.scale
    gap = ops.abs(p.loc - q.loc)
    return (log1p_excess((p.scale - q.scale) / q.scale) + gap / q.scale
            + ratio * ops.expm1(-gap / p.scale))


@register_kl(Gamma, Gamma)
def _gamma(p, q):
    """L(a, c - a) + a (r - 1 - log r) - (c - a) log r, r = d / b, L the lgamma step's
    remainder and r - 1 - log r by log1p_excess: (a - c) digamma(a) - lgamma(a) +
    lgamma(c) and the rates' terms cancelled between close distributions."""
    a, b, c, d = p.concentration, p.rate, q.concentration, q.rate
    t = (d - b) / b                           # r - 1 from the rates' exact gap
    return lgamma_remainder(a, c - a) + a * log1p_excess(t) - (c - a) * ops.log1p(t)


@register_kl(Beta, Beta)
def _beta(p, q):
    """L(a1, a2 - a1) + L(b1, b2 - b1) - L(a1 + b1, (a2 + b2) - (a1 + b1)), L the lgamma
    step's remainder: the lgammas and digammas cancelled between close distributions."""
    a1, b1, a2, b2 = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    return (lgamma_remainder(a1, a2 - a1) + lgamma_remainder(b1, b2 - b1)
            - lgamma_remainder(a1 + b1, (a2 - a1) + (b2 - b1)))


@register_kl(Dirichlet, Dirichlet)
def _dirichlet(p, q):
    """sum L(a_i, b_i - a_i) - L(sum a, sum (b - a)), L the lgamma step's remainder, as
    Beta's."""
    a, b = p.concentration, q.concentration
    return lgamma_remainder(a, b - a).sum(-1) - lgamma_remainder(a.sum(-1), (b - a).sum(-1))


@register_kl(Poisson, Poisson)
def _poisson(p, q):
    """The deviance of the rates: a log(a / b) + b - a, exact where they are close."""
    return deviance(p.rate, q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _mvn(p, q):
    n = p.event_shape[0]
    shape = ops.broadcast_shapes(p.batch_shape, q.batch_shape)
    lp = ops.broadcast_to(p.scale_tril, shape + (n, n))
    lq = ops.broadcast_to(q.scale_tril, shape + (n, n))
    m = linalg.solve_triangular(lq, lp, upper=False)                    # Lq^-1 Lp
    diff = ops.unsqueeze(ops.broadcast_to(q.loc - p.loc, shape + (n,)), -1)
    z = linalg.solve_triangular(lq, diff, upper=False)[..., 0]
    return (q._half_log_det() - p._half_log_det()
            + 0.5 * ((m ** 2).sum((-2, -1)) + (z * z).sum(-1) - n))


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _low_rank_mvn(p, q):
    """MultivariateNormal's, through each low-rank one's Cholesky factor (n x n: exact,
    though the rank's savings are not kept)."""
    return _mvn(p, q)


@register_kl(Independent, Independent)
def _independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions of different "
                                  "reinterpreted_batch_ndims")
    return p._sum(kl_divergence(p.base_dist, q.base_dist))


@register_kl(Gumbel, Gumbel)
def _gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    return (-ops.log(ratio) + shift + ratio * EULER_GAMMA
            + ops.exp(-shift + lgamma(1.0 + ratio)) - (1.0 + EULER_GAMMA))


@register_kl(HalfNormal, HalfNormal)
def _half_normal(p, q):
    return _normal(p.base_dist, q.base_dist)


@register_kl(Pareto, Pareto)
def _pareto(p, q):
    kl = q.alpha * ops.log(p.scale / q.scale) + log1p_excess((q.alpha - p.alpha) / p.alpha)
    return ops.where(p.scale < q.scale, math.inf, kl)       # p's support reaches below q's


def _same_transform(a, b):
    """Equal transforms: one type, equal settings (tensors compared by value)."""
    if type(a) is not type(b) or vars(a).keys() != vars(b).keys():
        return False
    for k, x in vars(a).items():
        y = vars(b)[k]
        if isinstance(x, Tensor) or isinstance(y, Tensor):
            if not (isinstance(x, Tensor) and isinstance(y, Tensor) and ops.equal(x, y)):
                return False
        elif isinstance(x, Transform):
            if not _same_transform(x, y):
                return False
        elif x != y:
            return False
    return True


@register_kl(TransformedDistribution, TransformedDistribution)
def _transformed(p, q):
    """With the same transforms, KL is the bases' (an invertible map keeps it)."""
    if len(p.transforms) != len(q.transforms) or not all(
            _same_transform(a, b) for a, b in zip(p.transforms, q.transforms)):
        raise NotImplementedError("kl_divergence: two TransformedDistributions need equal "
                                  "transforms for the closed form (the KL of their bases)")
    return kl_divergence(p.base_dist, q.base_dist)
