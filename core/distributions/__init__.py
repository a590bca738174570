"""``ember.distributions``: torch.distributions' classes and kl_divergence, composed of
ember's ops, so that they run on every backend and differentiate: log_prob, entropy
and the reparameterized samples (rsample) carry gradients to the parameters."""

from . import transforms
from .circular import VonMises
from .continuous_bernoulli import ContinuousBernoulli
from .continuous import (Beta, Cauchy, Chi2, Exponential, Gamma, GeneralizedPareto, Laplace,
                         LogNormal, Normal, StudentT, Uniform)
from .derived import (FisherSnedecor, Gumbel, HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy,
                      MixtureSameFamily, Pareto, Weibull)
from .discrete import (Bernoulli, Binomial, Categorical, Geometric, Multinomial,
                       NegativeBinomial, OneHotCategorical, OneHotCategoricalStraightThrough,
                       Poisson)
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .matrices import LKJCholesky, Wishart
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli,
                      RelaxedOneHotCategorical)
from .multivariate import Dirichlet, Independent, LowRankMultivariateNormal, MultivariateNormal
from .transforms import TransformedDistribution

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ContinuousBernoulli",
           "Dirichlet",
           "Distribution", "ExpRelaxedCategorical", "Exponential", "FisherSnedecor", "Gamma", "GeneralizedPareto",
           "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "InverseGamma",
           "Kumaraswamy", "LKJCholesky", "Laplace",
           "LogitRelaxedBernoulli", "LogNormal", "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial",
           "MultivariateNormal", "NegativeBinomial", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Pareto",
           "Poisson", "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT",
           "TransformedDistribution", "Uniform", "VonMises", "Weibull", "Wishart", "kl_divergence",
           "register_kl", "transforms"]
