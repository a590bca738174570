"""The continuous Bernoulli distribution (Loaiza-Ganem and Cunningham, 2019), as
torch.distributions.ContinuousBernoulli: on [0, 1], density proportional to
p^x (1 - p)^(1 - x), i.e. to e^(l x) with l the logit of p.

Its normalizer, moments and entropy are functions of u = l / 2 that cancel as written
near u = 0 (the uniform distribution), where PyTorch switches to a Taylor polynomial
inside ``lims``. Here each is written without cancellation at any u, through
eps(u) = sinh(u) / u - 1 (its series below u = 2) and the Langevin function
L(u) = coth(u) - 1/u (Gauss's continued fraction below u = 4):

    log_prob(x) = l x - u - log(1 + eps)          mean = (1 + L(u)) / 2
    variance = eps (eps + 2) / (4 u^2 (1 + eps)^2)  entropy = log(1 + eps) - u L(u)

and at large |u| by their asymptotic forms. ``lims`` is accepted for PyTorch's
signature and unused: nothing here needs it."""

import math

from .. import dtypes as dt
from .. import ops
from ..creation import rand
from ..ops.composed import polynomial, precision
from ..ops.deviance import log1p_excess
from .discrete import PARAM_SHAPE, _probs_or_logits
from .distribution import UNIT, Distribution

#: 1 / (2k + 1)!, k >= 1: sinh(u) / u - 1 = u^2 sum_k u^(2k - 2) / (2k + 1)!
_EPS_SERIES = [1.0 / math.factorial(2 * k + 1) for k in range(1, 14)]
#: past this |u|, sinh(u) and e^(2u) are left out of every form (e^-2u < 1e-34)
_FAR = 40.0


def _eps_over_u2(u):
    """(sinh(u) / u - 1) / u^2, even in u: the series below |u| = 2, else directly
    (sinh(u) / u is at least 1.8 there, so the subtraction loses under 2 bits)."""
    a = ops.clip(ops.abs(u), None, _FAR)
    near = polynomial(a * a, _EPS_SERIES)
    far_a = ops.where(a < 2.0, 2.0, a)
    far = (ops.sinh(far_a) / far_a - 1.0) / (far_a * far_a)
    return ops.where(a < 2.0, near, far)


def _langevin(u):
    """L(u) = coth(u) - 1/u, odd: u / (3 + u^2 / (5 + u^2 / (7 + ...))) below |u| = 4
    (a fixed depth per dtype), coth(u) - 1/u above (no cancellation: coth is near 1)."""
    depth = 16 if precision(u) is dt.float64 else 10
    a = ops.abs(u)
    near_a = ops.clip(a, None, 4.0)
    z = near_a * near_a
    d = z * 0.0 + (2 * depth + 3)
    for j in range(depth - 1, -1, -1):
        d = (2 * j + 3) + z / d
    far_a = ops.where(a < 4.0, 4.0, a)
    far = 1.0 / ops.tanh(far_a) - 1.0 / far_a
    return ops.sign(u) * ops.where(a < 4.0, near_a / d, far)


def _log_sinhc(u):
    """log(sinh(u) / u), even: log1p(eps) up to |u| = 40, |u| - log(2|u|) past it (the
    terms left out are below e^-80)."""
    a = ops.abs(u)
    near = ops.log1p(_eps_over_u2(u) * ops.clip(a, None, _FAR) ** 2)
    far_a = ops.where(a > _FAR, a, _FAR)
    return ops.where(a > _FAR, far_a - ops.log(2.0 * far_a), near)


def _langevin_slope(u):
    """L'(u) = 1/u^2 - 1/sinh(u)^2 (four times the variance), even: eps (eps + 2) /
    (u^2 (1 + eps)^2), products only; 1/u^2 past |u| = 40."""
    a = ops.abs(u)
    q = _eps_over_u2(u)
    eps = q * ops.clip(a, None, _FAR) ** 2
    near = q * (eps + 2.0) / (1.0 + eps) ** 2
    far_a = ops.where(a > _FAR, a, _FAR)
    return ops.where(a > _FAR, 1.0 / (far_a * far_a), near)


#: Gauss-Legendre's 8 nodes and weights on [0, 1]
_NODES = (0.019855071751231912, 0.10166676129318664, 0.2372337950418355, 0.4082826787521751,
          0.5917173212478248, 0.7627662049581645, 0.8983332387068134, 0.9801449282487681)
_WEIGHTS = (0.05061426814518853, 0.11119051722668721, 0.15685332293894344,
            0.18134189168918083, 0.18134189168918083, 0.15685332293894344,
            0.11119051722668721, 0.05061426814518853)


def kl_continuous_bernoulli(p_logits, q_logits):
    """KL(CB(p) || CB(q)) = S(v) - S(u) - (v - u) L(u), u and v half the logits, S =
    log(sinh(u)/u) and L = S' (a Bregman divergence of S). Where |v - u| <= 1, whose
    terms cancel to second order, as (v - u)^2 times the integral of (1 - s) L'(u + s (v -
    u)) over [0, 1] by 8-point Gauss-Legendre (L' is analytic within pi of the real line:
    the rule's error is below (1 / pi)^16). Where both are past 2 on one side, where S
    and (v - u) L are each about |v - u|, as t - log1p(t) at t = (|v| - |u|) / |u| less
    the exponentially small rest."""
    u, v = p_logits * 0.5, q_logits * 0.5
    d = v - u
    close = ops.abs(d) <= 1.0
    dc = ops.where(close, d, 0.0)
    integral = 0.0
    for s, w in zip(_NODES, _WEIGHTS):
        integral = integral + (w * (1.0 - s)) * _langevin_slope(u + s * dc)
    far = _log_sinhc(v) - _log_sinhc(u) - d * _langevin(u)
    tail = (u * v > 0) & (ops.minimum(ops.abs(u), ops.abs(v)) >= 2.0)
    a, b = (ops.where(tail, ops.abs(t), 2.0) for t in (u, v))
    side = (log1p_excess((b - a) / a) - 2.0 * (b - a) / ops.expm1(2.0 * a)
            + ops.log1p(-ops.exp(-2.0 * b)) - ops.log1p(-ops.exp(-2.0 * a)))
    return ops.where(close, dc * dc * integral, ops.where(tail, side, far))


class ContinuousBernoulli(Distribution):
    """On [0, 1], with density proportional to probs^x (1 - probs)^(1 - x); give probs
    or logits. Reparameterized: rsample is the icdf of a uniform draw."""

    has_rsample = True
    arg_constraints = {"probs": UNIT}
    support = UNIT
    _params = ("probs",)
    param_shape = PARAM_SHAPE

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        self.probs, self.logits, shape = _probs_or_logits("ContinuousBernoulli", probs, logits)
        self._lims = lims
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape):
        return ContinuousBernoulli(logits=ops.broadcast_to(self.logits, tuple(batch_shape)),
                                   validate_args=False)

    def _log_normalizer_excess(self):
        return _log_sinhc(self.logits * 0.5)

    @property
    def mean(self):
        """(1 + L(l / 2)) / 2; below l = -4, where 1 + L cancels toward 0, as
        -1/l - 1/expm1(-l)."""
        l = self.logits
        low = ops.where(l < -4.0, l, -4.0)
        return ops.where(l < -4.0, -1.0 / low - 1.0 / ops.expm1(-low),
                         0.5 + 0.5 * _langevin(l * 0.5))

    @property
    def variance(self):
        return 0.25 * _langevin_slope(self.logits * 0.5)

    def log_prob(self, value):
        value = self._value(value)
        l = self.logits
        return l * value - 0.5 * l - self._log_normalizer_excess()

    def entropy(self):
        """log(sinh(u)/u) - u L(u), both about |u| at large |u|: there 1 - log(2|u|) +
        log1p(-e^-2|u|) - 2|u| / (e^2|u| - 1) instead, which does not cancel."""
        u = self.logits * 0.5
        a = ops.abs(u)
        near = self._log_normalizer_excess() - u * _langevin(u)
        far_a = ops.where(a > 2.0, a, 2.0)
        far = (1.0 - ops.log(2.0 * far_a) + ops.log1p(-ops.exp(-2.0 * far_a))
               - 2.0 * far_a / ops.expm1(2.0 * far_a))
        return ops.where(a > 2.0, far, near)

    def cdf(self, value):
        """expm1(l x) / expm1(l), for l > 0 as e^(l (x - 1)) expm1(-l x) / expm1(-l) (no
        overflow); x itself at l = 0."""
        value = self._value(value)
        l = self.logits
        neg = ops.where(l < 0, l, -1.0)
        pos = ops.where(l > 0, l, 1.0)
        below = ops.expm1(neg * value) / ops.expm1(neg)
        above = ops.exp(pos * (value - 1.0)) * ops.expm1(-pos * value) / ops.expm1(-pos)
        return ops.where(l == 0, value, ops.where(l < 0, below, above))

    def icdf(self, value):
        """log1p(q expm1(l)) / l, or past l = 80 (where expm1 nears float32's overflow)
        1 + log(q + (1 - q) e^-l) / l; q itself at l = 0."""
        l = self.logits
        small = ops.where((l == 0) | (l > 80.0), 1.0, l)
        near = ops.log1p(value * ops.expm1(small)) / small
        large = ops.where(l > 80.0, l, 80.0)
        far = 1.0 + ops.log(value + (1.0 - value) * ops.exp(-large)) / large
        return ops.where(l == 0, value * (l * 0 + 1), ops.where(l > 80.0, far, near))

    def rsample(self, sample_shape=()):
        u = rand(*self._extended_shape(sample_shape), dtype=self.logits.dtype,
                 backend=self.logits.backend)
        return self.icdf(u)
