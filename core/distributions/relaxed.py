"""The relaxed (Concrete, Gumbel-softmax) distributions of torch.distributions:
RelaxedBernoulli and RelaxedOneHotCategorical, continuous stand-ins for a Bernoulli and a
one-hot categorical whose draws differentiate in the logits (Maddison et al. 2017; Jang
et al. 2017), and their log-space bases. Formulas as PyTorch writes them."""

import math

from .. import ops
from ..creation import rand
from .discrete import Categorical, _probs_or_logits
from .distribution import Distribution, parameters
from .transforms import ExpTransform, SigmoidTransform, TransformedDistribution


def _clamp_probs(p):
    """p kept inside (0, 1) by the dtype's eps, as PyTorch's clamp_probs."""
    from ..pytorch_names import finfo
    eps = finfo(p.dtype).eps
    return ops.clip(p, eps, 1.0 - eps)


class LogitRelaxedBernoulli(Distribution):
    """The logit of a RelaxedBernoulli: (logit(u) + logits) / temperature."""

    has_rsample = True
    _params = ("logits",)

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        _, logits_, _ = _probs_or_logits(type(self).__name__, probs, logits)
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

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
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

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
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

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args)
        self.temperature, self.logits, self.probs = base.temperature, base.logits, base.probs
        super().__init__(base, ExpTransform(), validate_args)
