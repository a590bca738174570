"""Distributions over vectors, torch.distributions': MultivariateNormal (through its
Cholesky factor: solves and log-determinants from ember.linalg, so log_prob and
rsample differentiate in every parameter), Dirichlet, and Independent, which turns
batch axes into event axes."""

import math

from .. import linalg, ops
from ..errors import ShapeError
from ..ops.gamma import digamma, lgamma
from ..creation import randn
from .continuous import log_standard_gamma, rsample_log_standard_gamma
from . import constraints
from .distribution import POSITIVE, Distribution, parameters


def scale_tril_of(name, covariance_matrix, precision_matrix, scale_tril, dtype, n=None,
                  why=""):
    """The lower Cholesky factor of a covariance given by exactly one of its three forms
    (square matrices, n x n where n is given), in ``dtype``; a LinAlgError names a matrix
    that is not positive-definite."""
    given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
    if len(given) != 1:
        raise ValueError(f"{name}: give exactly one of covariance_matrix, precision_matrix or "
                         f"scale_tril")
    matrix = given[0].to(dtype)
    p = matrix.shape[-1] if n is None else n
    if matrix.ndim < 2 or tuple(matrix.shape[-2:]) != (p, p):
        raise ShapeError(f"{name}: the matrix must end in ({p}, {p}){' ' + why if why else ''}, "
                         f"got {tuple(matrix.shape)}")
    if scale_tril is not None:
        return matrix
    if covariance_matrix is not None:
        return linalg.cholesky(matrix)
    return linalg.cholesky(linalg.inv(matrix))


class MultivariateNormal(Distribution):
    """N(loc, covariance) over vectors of loc's last axis; give exactly one of
    covariance_matrix, precision_matrix and scale_tril (lower-triangular, positive
    diagonal)."""

    has_rsample = True
    _params = ("loc", "scale_tril")

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        (loc,), _ = parameters(loc)
        if loc.ndim < 1:
            raise ShapeError("MultivariateNormal: loc needs at least one axis, the event's")
        n = loc.shape[-1]
        tril = scale_tril_of("MultivariateNormal", covariance_matrix, precision_matrix,
                             scale_tril, loc.dtype, n, f"for loc of shape {tuple(loc.shape)}")
        batch = ops.broadcast_shapes(tuple(loc.shape[:-1]), tuple(tril.shape[:-2]))
        self.loc = ops.broadcast_to(loc, batch + (n,))
        self.scale_tril = ops.broadcast_to(tril, batch + (n, n))
        super().__init__(batch, (n,), validate_args)

    def _param_event(self, name):
        return self.event_shape + ((self.event_shape[0],) if name == "scale_tril" else ())

    covariance_matrix = property(lambda self: self.scale_tril @ self.scale_tril.mT)
    precision_matrix = property(lambda self: linalg.inv(self.covariance_matrix))
    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    variance = property(lambda self: (self.scale_tril ** 2).sum(-1))

    def rsample(self, sample_shape=()):
        eps = randn(*self._extended_shape(sample_shape), dtype=self.loc.dtype,
                    backend=self.loc.backend)
        return self.loc + (self.scale_tril @ ops.unsqueeze(eps, -1))[..., 0]

    def _half_log_det(self):
        return ops.log(ops.diagonal(self.scale_tril, 0, -2, -1)).sum(-1)

    def log_prob(self, value):
        value = self._value(value)
        diff = value - self.loc
        shape = ops.broadcast_shapes(tuple(diff.shape[:-1]), self.batch_shape)
        n = self.event_shape[0]
        tril = ops.broadcast_to(self.scale_tril, shape + (n, n))
        z = linalg.solve_triangular(tril, ops.unsqueeze(ops.broadcast_to(diff, shape + (n,)),
                                                        -1), upper=False)[..., 0]
        return -0.5 * (z * z).sum(-1) - 0.5 * n * math.log(2 * math.pi) - self._half_log_det()

    def entropy(self):
        n = self.event_shape[0]
        return 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()


class LowRankMultivariateNormal(Distribution):
    """N(loc, W W^T + diag(D)) over vectors of loc's last axis, W = cov_factor (n x m)
    and D = cov_diag > 0: log_prob and entropy through the m x m capacitance matrix
    I + W^T D^-1 W (Woodbury's identity and the matrix determinant lemma), so nothing
    n x n is factored; rsample is loc + W e1 + sqrt(D) e2."""

    has_rsample = True
    arg_constraints = {"cov_diag": POSITIVE}
    _params = ("loc", "cov_factor", "cov_diag")

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        (loc,), _ = parameters(loc)
        if loc.ndim < 1:
            raise ShapeError("LowRankMultivariateNormal: loc needs at least one axis, the "
                             "event's")
        n = loc.shape[-1]
        W, D = cov_factor.to(loc.dtype), cov_diag.to(loc.dtype)
        if W.ndim < 2 or W.shape[-2] != n:
            raise ShapeError(f"LowRankMultivariateNormal: cov_factor must be (..., {n}, rank) "
                             f"for loc of shape {tuple(loc.shape)}, got {tuple(W.shape)}")
        if D.ndim < 1 or D.shape[-1] != n:
            raise ShapeError(f"LowRankMultivariateNormal: cov_diag must be (..., {n}) for loc "
                             f"of shape {tuple(loc.shape)}, got {tuple(D.shape)}")
        m = W.shape[-1]
        batch = ops.broadcast_shapes(tuple(loc.shape[:-1]), tuple(W.shape[:-2]),
                                     tuple(D.shape[:-1]))
        self.loc = ops.broadcast_to(loc, batch + (n,))
        self.cov_factor = ops.broadcast_to(W, batch + (n, m))
        self.cov_diag = ops.broadcast_to(D, batch + (n,))
        super().__init__(batch, (n,), validate_args)

    def _param_event(self, name):
        return self.event_shape + ((self.cov_factor.shape[-1],) if name == "cov_factor" else ())

    mean = property(lambda self: self.loc)
    mode = property(lambda self: self.loc)
    variance = property(lambda self: (self.cov_factor ** 2).sum(-1) + self.cov_diag)

    @property
    def covariance_matrix(self):
        W = self.cov_factor
        return W @ W.mT + ops.diag_embed(self.cov_diag)

    @property
    def precision_matrix(self):
        """D^-1 - D^-1 W K^-1 W^T D^-1 (Woodbury), K the capacitance matrix."""
        Wd = self.cov_factor / ops.unsqueeze(self.cov_diag, -1)
        A = linalg.solve_triangular(self._capacitance_tril(), Wd.mT, upper=False)
        return ops.diag_embed(1.0 / self.cov_diag) - A.mT @ A

    @property
    def scale_tril(self):
        return linalg.cholesky(self.covariance_matrix)

    def _capacitance_tril(self):
        W = self.cov_factor
        m = W.shape[-1]
        from ..creation import eye
        K = eye(m, dtype=W.dtype, backend=W.backend) + (W / ops.unsqueeze(self.cov_diag, -1)).mT @ W
        return linalg.cholesky(K)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        m = self.cov_factor.shape[-1]
        e1 = randn(*(shape[:-1] + (m,)), dtype=self.loc.dtype, backend=self.loc.backend)
        e2 = randn(*shape, dtype=self.loc.dtype, backend=self.loc.backend)
        return (self.loc + (self.cov_factor @ ops.unsqueeze(e1, -1))[..., 0]
                + ops.sqrt(self.cov_diag) * e2)

    def _half_log_det(self):
        return 0.5 * self._log_det(self._capacitance_tril())

    def _log_det(self, tril):
        """log det(W W^T + D) = log det K + sum log D."""
        return (2.0 * ops.log(ops.diagonal(tril, 0, -2, -1)).sum(-1)
                + ops.log(self.cov_diag).sum(-1))

    def log_prob(self, value):
        value = self._value(value)
        diff = value - self.loc
        shape = ops.broadcast_shapes(tuple(diff.shape[:-1]), self.batch_shape)
        n, m = self.event_shape[0], self.cov_factor.shape[-1]
        diff = ops.broadcast_to(diff, shape + (n,))
        W = ops.broadcast_to(self.cov_factor, shape + (n, m))
        scaled = diff / self.cov_diag
        tril = self._capacitance_tril()
        z = linalg.solve_triangular(ops.broadcast_to(tril, shape + (m, m)),
                                    ops.unsqueeze((W * ops.unsqueeze(scaled, -1)).sum(-2), -1),
                                    upper=False)[..., 0]
        mahalanobis = (diff * scaled).sum(-1) - (z * z).sum(-1)
        return -0.5 * (n * math.log(2 * math.pi) + self._log_det(tril) + mahalanobis)

    def entropy(self):
        n = self.event_shape[0]
        return 0.5 * (n * (1.0 + math.log(2 * math.pi)) + self._log_det(self._capacitance_tril()))


class Dirichlet(Distribution):
    """Dirichlet(concentration) over the simplex of concentration's last axis."""

    has_rsample = True
    support = constraints.simplex
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    _params = ("concentration",)

    def __init__(self, concentration, validate_args=None):
        (self.concentration,), shape = parameters(concentration)
        if not shape:
            raise ShapeError("Dirichlet: concentration needs at least one axis, the event's")
        super().__init__(shape[:-1], shape[-1:], validate_args)

    def _param_event(self, name):
        return self.event_shape

    mean = property(lambda self: self.concentration / self.concentration.sum(-1, keepdims=True))

    @property
    def mode(self):
        return simplex_mode(self.concentration)

    @property
    def variance(self):
        a = self.concentration
        total = a.sum(-1, keepdims=True)
        return a * (total - a) / (total ** 2 * (total + 1.0))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return ops.softmax(log_standard_gamma(ops.broadcast_to(self.concentration, shape)), -1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return ops.softmax(rsample_log_standard_gamma(
            ops.broadcast_to(self.concentration, shape)), -1)

    def log_prob(self, value):
        value = self._value(value)
        a = self.concentration
        return (ops.xlogy(a - 1.0, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1))

    def entropy(self):
        a = self.concentration
        k, total = a.shape[-1], a.sum(-1)
        return (lgamma(a).sum(-1) - lgamma(total) - (k - total) * digamma(total)
                - ((a - 1.0) * digamma(a)).sum(-1))


def simplex_mode(a):
    """The Dirichlet mode as PyTorch gives it: (a - 1) clipped at 0, normalized; where
    every concentration is below 1, the corner of the largest."""
    above = ops.clip(a - 1.0, 0.0, None)
    mode = above / above.sum(-1, keepdims=True)
    corner = (a == ops.amax(a, -1, keepdims=True)).to(a.dtype)
    return ops.where((a < 1.0).all(-1, keepdims=True), corner, mode)


class Independent(Distribution):
    """``base_distribution`` with its last ``reinterpreted_batch_ndims`` batch axes read
    as event axes: log_prob and entropy sum over them."""

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        base, n = base_distribution, int(reinterpreted_batch_ndims)
        if n > len(base.batch_shape):
            raise ShapeError(f"Independent: reinterpreted_batch_ndims {n} exceeds the base's "
                             f"batch shape {base.batch_shape}")
        self.base_dist, self.reinterpreted_batch_ndims = base, n
        cut = len(base.batch_shape) - n
        self._params = ()
        super().__init__(base.batch_shape[:cut], base.batch_shape[cut:] + base.event_shape,
                         False)
        self.has_rsample = base.has_rsample

    def expand(self, batch_shape):
        shape = tuple(batch_shape) + self.base_dist.batch_shape[
            len(self.base_dist.batch_shape) - self.reinterpreted_batch_ndims:]
        return Independent(self.base_dist.expand(shape), self.reinterpreted_batch_ndims)

    mean = property(lambda self: self.base_dist.mean)
    mode = property(lambda self: self.base_dist.mode)
    variance = property(lambda self: self.base_dist.variance)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def _sum(self, t):
        for _ in range(self.reinterpreted_batch_ndims):
            t = t.sum(-1)
        return t

    def log_prob(self, value):
        return self._sum(self.base_dist.log_prob(value))

    def entropy(self):
        return self._sum(self.base_dist.entropy())

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
