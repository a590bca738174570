"""Distributions over matrices, torch.distributions': Wishart (positive-definite matrices)
and LKJCholesky (Cholesky factors of correlation matrices), composed of ember's ops and
ember.linalg, so log_prob differentiates in every parameter.

Wishart's draws are reparameterized through Gamma's (implicitly differentiated)
chi-squared variates, as PyTorch's; LKJCholesky's are not, as PyTorch's."""

import math

from .. import dtypes as dt
from .. import linalg, ops
from ..creation import arange, randn
from ..errors import ShapeError
from ..ops.gamma import digamma, mvlgamma
from .continuous import Beta, Gamma
from . import constraints
from .distribution import Distribution, parameters
from .multivariate import scale_tril_of

_LOG_2 = math.log(2.0)


class Wishart(Distribution):
    """Wishart(df, covariance) over p x p positive-definite matrices, df > p - 1; give
    exactly one of covariance_matrix, precision_matrix and scale_tril. Draws by
    Bartlett's decomposition: L A A^T L^T with A lower triangular, A_ii^2 ~ chi2(df - i),
    A_ij ~ N(0, 1)."""

    has_rsample = True
    _params = ("df", "scale_tril")

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        matrix = next((m for m in (covariance_matrix, precision_matrix, scale_tril)
                       if m is not None), None)
        tril = scale_tril_of("Wishart", covariance_matrix, precision_matrix, scale_tril,
                             matrix.dtype if matrix is not None else dt.default_float)
        p = tril.shape[-1]
        (df,), _ = parameters(df)
        df = df.to(tril.dtype)
        batch = ops.broadcast_shapes(tuple(df.shape), tuple(tril.shape[:-2]))
        self.df = ops.broadcast_to(df, batch)
        self.scale_tril = ops.broadcast_to(tril, batch + (p, p))
        self.arg_constraints = {"df": constraints.greater_than(p - 1)}
        super().__init__(batch, (p, p), validate_args)

    def _param_event(self, name):
        return self.event_shape if name == "scale_tril" else ()

    support = constraints.positive_definite

    covariance_matrix = property(lambda self: self.scale_tril @ self.scale_tril.mT)
    precision_matrix = property(lambda self: linalg.inv(self.covariance_matrix))
    mean = property(lambda self: ops.unsqueeze(ops.unsqueeze(self.df, -1), -1)
                    * self.covariance_matrix)

    @property
    def mode(self):
        factor = self.df - (self.event_shape[-1] + 1)
        factor = ops.where(factor > 0, factor, math.nan)
        return ops.unsqueeze(ops.unsqueeze(factor, -1), -1) * self.covariance_matrix

    @property
    def variance(self):
        V = self.covariance_matrix
        d = ops.diagonal(V, 0, -2, -1)
        return ops.unsqueeze(ops.unsqueeze(self.df, -1), -1) * (
            V * V + ops.unsqueeze(d, -1) * ops.unsqueeze(d, -2))

    def _half_log_det(self):
        return ops.log(ops.diagonal(self.scale_tril, 0, -2, -1)).sum(-1)

    def rsample(self, sample_shape=()):
        p = self.event_shape[-1]
        shape = self._extended_shape(sample_shape)
        dtype, backend = self.df.dtype, self.df.backend
        dofs = ops.unsqueeze(self.df, -1) - arange(p, dtype=dtype, backend=backend)
        chi2 = Gamma(dofs * 0.5, 0.5, validate_args=False).rsample(sample_shape)
        noise = ops.tril(randn(*shape, dtype=dtype, backend=backend), -1)
        A = noise + ops.diag_embed(ops.sqrt(chi2))
        chol = self.scale_tril @ A
        return chol @ chol.mT

    def log_prob(self, value):
        value = self._value(value)
        nu, p = self.df, self.event_shape[-1]
        tril = self.scale_tril
        shape = ops.broadcast_shapes(tuple(value.shape[:-2]), self.batch_shape)
        z = linalg.solve_triangular(ops.broadcast_to(tril, shape + (p, p)),
                                    ops.broadcast_to(value, shape + (p, p)), upper=False)
        w = linalg.solve_triangular(ops.broadcast_to(tril, shape + (p, p)), z.mT, upper=False)
        trace = ops.diagonal(w, 0, -2, -1).sum(-1)      # tr(Sigma^-1 X)
        return (-nu * (p * _LOG_2 / 2 + self._half_log_det()) - mvlgamma(nu * 0.5, p)
                + (nu - p - 1) / 2 * linalg.slogdet(value).logabsdet - trace / 2)

    def entropy(self):
        nu, p = self.df, self.event_shape[-1]
        halves = ops.unsqueeze(nu * 0.5, -1) - arange(p, dtype=nu.dtype, backend=nu.backend) / 2
        return ((p + 1) * (p * _LOG_2 / 2 + self._half_log_det()) + mvlgamma(nu * 0.5, p)
                - (nu - p - 1) / 2 * digamma(halves).sum(-1) + nu * p / 2)


class LKJCholesky(Distribution):
    """The LKJ distribution over the lower Cholesky factors L of dim x dim correlation
    matrices, density proportional to det(L L^T)^(concentration - 1) (Lewandowski,
    Kurowicka and Joe, 2009). Draws by the onion method: row i (from 1) is sqrt(y) times
    a direction uniform on the sphere, y ~ Beta(i / 2, eta + (dim - 2) / 2 - (i - 1) / 2),
    its diagonal what makes the row of unit length. (PyTorch 2.13 draws y ~ Beta(i - 1/2,
    ...): from the third row on, its correlations are too spread, variance 0.187 where
    LKJ(2) in 4 dimensions has 1/7.)"""

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ShapeError(f"LKJCholesky: dim must be an integer of at least 2, got {dim!r}")
        (self.concentration,), shape = parameters(concentration)
        self.dim = dim
        self._params = ("concentration",)
        self.arg_constraints = {"concentration": constraints.positive}
        super().__init__(shape, (dim, dim), validate_args)

    support = constraints.corr_cholesky

    def expand(self, batch_shape):
        return LKJCholesky(self.dim, ops.broadcast_to(self.concentration, tuple(batch_shape)),
                           validate_args=False)

    def sample(self, sample_shape=()):
        dim, c = self.dim, self.concentration
        dtype, backend = c.dtype, c.backend
        offset = arange(dim - 1, dtype=dtype, backend=backend)
        offset = ops.concatenate([offset[:1] * 0.0, offset])
        marginal = ops.unsqueeze(c + 0.5 * (dim - 2), -1)
        y = ops.unsqueeze(Beta(0.5 * (offset + 1.0), marginal - 0.5 * offset,
                               validate_args=False).sample(sample_shape), -1)
        u = ops.tril(randn(*self._extended_shape(sample_shape), dtype=dtype, backend=backend),
                     -1)
        norm = ops.sqrt((u * u).sum(-1, keepdims=True))
        first = (arange(dim, backend=backend) == 0).to(dtype)       # row 0 has no entries
        u = u / ops.where(norm == 0, 1.0, norm) * ops.unsqueeze(1.0 - first, -1)
        w = ops.sqrt(y) * u
        diag = ops.sqrt(ops.clip(1.0 - (w * w).sum(-1), float(dt.finfo(dtype).tiny), None))
        return w + ops.diag_embed(diag)

    def log_prob(self, value):
        value = self._value(value)
        dim, c = self.dim, self.concentration
        diag = ops.diagonal(value, 0, -2, -1)[..., 1:]
        order = (2.0 * ops.unsqueeze(c - 1.0, -1) + dim
                 - arange(2, dim + 1, dtype=c.dtype, backend=c.backend))
        unnormalized = (order * ops.log(diag)).sum(-1)
        dm1 = dim - 1
        alpha = c + 0.5 * dm1
        normalizer = (0.5 * dm1 * math.log(math.pi) + mvlgamma(alpha - 0.5, dm1)
                      - ops.lgamma(alpha) * dm1)
        return unnormalized - normalizer
