"""``ember.distributions``: torch.distributions' classes and kl_divergence, composed of
ember's ops, so that they run on every backend and differentiate: log_prob, entropy
and the reparameterized samples (rsample) carry gradients to the parameters."""

from . import constraint_registry, constraints, transforms
from .constraint_registry import biject_to, transform_to
from .circular import VonMises
from .continuous_bernoulli import ContinuousBernoulli
from .continuous import (Beta, Cauchy, Chi2, Exponential, Gamma, GeneralizedPareto, Laplace,
                         LogNormal, Normal, StudentT, Uniform)
from .derived import (FisherSnedecor, Gumbel, HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy,
                      LogisticNormal, MixtureSameFamily, Pareto, Weibull)
from .discrete import (Bernoulli, Binomial, Categorical, Geometric, Multinomial,
                       NegativeBinomial, OneHotCategorical, OneHotCategoricalStraightThrough,
                       Poisson)
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from . import kl_cross  # noqa: F401  (registers the pairs of different families)
from .matrices import LKJCholesky, Wishart
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli,
                      RelaxedOneHotCategorical)
from .multivariate import Dirichlet, Independent, LowRankMultivariateNormal, MultivariateNormal
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                         CorrCholeskyTransform, CumulativeDistributionTransform, ExpTransform,
                         IndependentTransform, LowerCholeskyTransform, PositiveDefiniteTransform,
                         PowerTransform, ReshapeTransform, SigmoidTransform, SoftmaxTransform,
                         SoftplusTransform, StackTransform, StickBreakingTransform,
                         TanhTransform, Transform, TransformedDistribution, identity_transform)

__all__ = ["AbsTransform", "AffineTransform", "CatTransform", "CumulativeDistributionTransform",
           "IndependentTransform", "PositiveDefiniteTransform", "ReshapeTransform",
           "StackTransform", "Bernoulli", "Beta", "Binomial", "Categorical",
           "Cauchy", "Chi2", "ComposeTransform", "ContinuousBernoulli",
           "CorrCholeskyTransform", "Dirichlet", "Distribution", "Exponential",
           "ExpRelaxedCategorical", "ExpTransform", "FisherSnedecor", "Gamma",
           "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal",
           "Independent", "InverseGamma", "Kumaraswamy", "Laplace", "LKJCholesky",
           "LogisticNormal", "LogitRelaxedBernoulli", "LogNormal", "LowerCholeskyTransform",
           "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial",
           "MultivariateNormal", "NegativeBinomial", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Pareto", "Poisson", "PowerTransform",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "SigmoidTransform",
           "SoftmaxTransform", "SoftplusTransform", "StickBreakingTransform", "StudentT",
           "TanhTransform", "Transform", "TransformedDistribution", "Uniform", "VonMises",
           "Weibull", "Wishart", "biject_to", "constraint_registry", "constraints",
           "identity_transform", "kl_divergence", "register_kl", "transform_to", "transforms"]
