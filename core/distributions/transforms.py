"""torch.distributions.transforms: invertible elementwise maps with the log of their
Jacobian's absolute determinant, and TransformedDistribution, a base distribution pushed
through them (a squashed Gaussian policy is Normal through TanhTransform).

Each log|dy/dx| is written where it keeps its precision: tanh's as 2 (log 2 - x -
softplus(-2x)), sigmoid's as -softplus(-x) - softplus(x), as PyTorch's are."""

import math

import numpy as np

from .. import ops
from ..ops._util import index_tensor
from ..creation import full_like, zeros_like
from ..errors import ShapeError
from ..tensor import Tensor
from .distribution import Distribution


def _softplus(x):
    """log(1 + e^x) without overflow."""
    return ops.maximum(x, 0.0) + ops.log1p(ops.exp(-ops.abs(x)))


class Transform:
    """y = self(x), x = self.inv(y), and log|dy/dx| at (x, y) (log_abs_det_jacobian).
    ``sign`` is +1 or -1 for a monotone map. ``domain_event_dim`` and
    ``codomain_event_dim`` are PyTorch's domain.event_dim and codomain.event_dim: how
    many trailing axes one point of x and of y spans (0 for elementwise maps; the
    log-determinant is summed over the domain's); forward_shape and inverse_shape map
    shapes across."""

    bijective = True
    sign = 1
    domain_event_dim = codomain_event_dim = 0

    def forward_shape(self, shape):
        return tuple(shape)

    def inverse_shape(self, shape):
        return tuple(shape)

    def __call__(self, x):
        return self._call(x)

    @property
    def inv(self):
        return _Inverse(self)

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__}._call")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__}._inverse")

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(f"{type(self).__name__}.log_abs_det_jacobian")

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Inverse(Transform):
    """A transform run backwards."""

    def __init__(self, transform):
        self._inv = transform

    @property
    def inv(self):
        return self._inv

    sign = property(lambda self: self._inv.sign)

    def _call(self, x):
        return self._inv._inverse(x)

    def _inverse(self, y):
        return self._inv(y)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def __repr__(self):
        return f"{self._inv!r}.inv"


class ExpTransform(Transform):
    """y = exp(x)."""

    def _call(self, x):
        return ops.exp(x)

    def _inverse(self, y):
        return ops.log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class AffineTransform(Transform):
    """y = loc + scale x (``event_dim`` trailing axes summed in the log-determinant)."""

    def __init__(self, loc, scale, event_dim=0):
        self.loc, self.scale, self.event_dim = loc, scale, event_dim
        self.domain_event_dim = self.codomain_event_dim = event_dim

    @property
    def sign(self):
        if isinstance(self.scale, Tensor):
            return ops.sign(self.scale)
        return 1 if self.scale > 0 else -1

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale if isinstance(self.scale, Tensor) else full_like(x, self.scale)
        out = ops.broadcast_to(ops.log(ops.abs(scale)), x.shape)
        return out.sum(tuple(range(-self.event_dim, 0))) if self.event_dim else out


class SigmoidTransform(Transform):
    """y = 1 / (1 + exp(-x)); its inverse clamps y inside (0, 1) by the dtype's eps."""

    def _call(self, x):
        return ops.sigmoid(x)

    def _inverse(self, y):
        from ..pytorch_names import finfo
        eps = finfo(y.dtype).eps
        y = ops.clip(y, eps, 1.0 - eps)
        return ops.log(y) - ops.log1p(-y)

    def log_abs_det_jacobian(self, x, y):
        return -_softplus(-x) - _softplus(x)


class TanhTransform(Transform):
    """y = tanh(x)."""

    def _call(self, x):
        return ops.tanh(x)

    def _inverse(self, y):
        return ops.atanh(y)

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - _softplus(-2.0 * x))


class SoftplusTransform(Transform):
    """y = log(1 + exp(x))."""

    def _call(self, x):
        return _softplus(x)

    def _inverse(self, y):
        return ops.log(-ops.expm1(-y)) + y

    def log_abs_det_jacobian(self, x, y):
        return -_softplus(-x)


class PowerTransform(Transform):
    """y = x^exponent (x > 0)."""

    def __init__(self, exponent):
        self.exponent = exponent

    @property
    def sign(self):
        return ops.sign(self.exponent) if isinstance(self.exponent, Tensor) else \
            (1 if self.exponent > 0 else -1)

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return y ** (1.0 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        """log|e| + (e - 1) log|x|: |e y / x| overflowed to inf (and to 0) for x past
        1e19 (or below 1e-19) in float32 with e = -1, InverseGamma's."""
        e = self.exponent
        return (ops.log(ops.abs(e)) if isinstance(e, Tensor) else math.log(abs(e))) + \
            (e - 1.0) * ops.log(ops.abs(x))


class AbsTransform(Transform):
    """y = |x| (not bijective: the inverse gives the positive root)."""

    bijective = False

    def _call(self, x):
        return ops.abs(x)

    def _inverse(self, y):
        return y


class ComposeTransform(Transform):
    """The transforms applied in order (their log-determinants summed)."""

    def __init__(self, parts):
        self.parts = list(parts)

    sign = property(lambda self: math.prod(p.sign for p in self.parts))

    @property
    def domain_event_dim(self):
        """The most trailing axes any part needs, carried back to x (PyTorch's rule)."""
        if not self.parts:
            return 0
        dim = self.parts[-1].codomain_event_dim
        for p in reversed(self.parts):
            dim = max(dim + p.domain_event_dim - p.codomain_event_dim, p.domain_event_dim)
        return dim

    @property
    def codomain_event_dim(self):
        if not self.parts:
            return 0
        dim = self.parts[0].domain_event_dim
        for p in self.parts:
            dim = max(dim + p.codomain_event_dim - p.domain_event_dim, p.codomain_event_dim)
        return dim

    def forward_shape(self, shape):
        for p in self.parts:
            shape = p.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape):
        for p in reversed(self.parts):
            shape = p.inverse_shape(shape)
        return tuple(shape)

    def _call(self, x):
        for p in self.parts:
            x = p(x)
        return x

    def _inverse(self, y):
        for p in reversed(self.parts):
            y = p.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        """Each part's, summed over the axes that are event axes of the whole but not of
        that part."""
        total, dim = 0.0, self.domain_event_dim
        for p in self.parts:
            nxt = p(x)
            total = total + sum_rightmost(p.log_abs_det_jacobian(x, nxt),
                                          dim - p.domain_event_dim)
            dim += p.codomain_event_dim - p.domain_event_dim
            x = nxt
        return total

    def __repr__(self):
        return f"ComposeTransform({', '.join(map(repr, self.parts))})"


identity_transform = ComposeTransform([])


def sum_rightmost(t, n):
    """t summed over its last n axes (t itself for n = 0 or a number)."""
    return t.sum(tuple(range(-n, 0))) if n > 0 and isinstance(t, Tensor) else t


class IndependentTransform(Transform):
    """``base_transform`` with its last ``reinterpreted_batch_ndims`` axes more read as one
    point: the same map, its log-determinant summed over them."""

    def __init__(self, base_transform, reinterpreted_batch_ndims):
        self.base_transform, self.reinterpreted_batch_ndims = (base_transform,
                                                               int(reinterpreted_batch_ndims))
        self.domain_event_dim = base_transform.domain_event_dim + self.reinterpreted_batch_ndims
        self.codomain_event_dim = (base_transform.codomain_event_dim
                                   + self.reinterpreted_batch_ndims)

    bijective = property(lambda self: self.base_transform.bijective)
    sign = property(lambda self: self.base_transform.sign)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y),
                             self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """The trailing ``in_shape`` reshaped to ``out_shape`` (as many elements): a unit
    Jacobian."""

    def __init__(self, in_shape, out_shape):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ShapeError(f"ReshapeTransform: in_shape {self.in_shape} and out_shape "
                             f"{self.out_shape} hold different numbers of elements")
        self.domain_event_dim, self.codomain_event_dim = len(self.in_shape), len(self.out_shape)

    def _swap(self, shape, old, new):
        shape = tuple(shape)
        if len(shape) < len(old) or shape[len(shape) - len(old):] != old:
            raise ShapeError(f"ReshapeTransform: shape {shape} does not end in {old}")
        return shape[:len(shape) - len(old)] + new

    def forward_shape(self, shape):
        return self._swap(shape, self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return self._swap(shape, self.out_shape, self.in_shape)

    def _call(self, x):
        return ops.reshape(x, self.forward_shape(x.shape))

    def _inverse(self, y):
        return ops.reshape(y, self.inverse_shape(y.shape))

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(zeros_like(x), len(self.in_shape))


class CumulativeDistributionTransform(Transform):
    """y = distribution.cdf(x), the inverse its icdf; log|dy/dx| is its log_prob (a
    Gaussian copula's building block)."""

    def __init__(self, distribution):
        self.distribution = distribution

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)


class CatTransform(Transform):
    """Each transform of ``tseq`` on its slice of ``lengths[i]`` along ``dim``, the results
    joined as torch.cat joins them."""

    def __init__(self, tseq, dim=0, lengths=None):
        self.transforms = list(tseq)
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.transforms)
        if len(self.lengths) != len(self.transforms):
            raise ShapeError(f"CatTransform: {len(self.lengths)} lengths for "
                             f"{len(self.transforms)} transforms; give one each")
        self.dim = dim
        self.domain_event_dim = self.codomain_event_dim = max(
            [t.domain_event_dim for t in self.transforms] or [0])

    def _pieces(self, x, fn):
        if x.shape[self.dim] != sum(self.lengths):
            raise ShapeError(f"CatTransform: axis {self.dim} of shape {x.shape} must be "
                             f"{sum(self.lengths)} long, the lengths' sum")
        out, start = [], 0
        for t, n in zip(self.transforms, self.lengths):
            out.append(fn(t, ops.narrow(x, self.dim, start, n), start, n))
            start += n
        return out

    def _call(self, x):
        return ops.concatenate(self._pieces(x, lambda t, p, *_: t(p)), self.dim)

    def _inverse(self, y):
        return ops.concatenate(self._pieces(y, lambda t, p, *_: t.inv(p)), self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = self._pieces(x, lambda t, p, start, n: t.log_abs_det_jacobian(
            p, ops.narrow(y, self.dim, start, n)))
        return ops.concatenate(terms, self.dim)


class StackTransform(Transform):
    """Each transform of ``tseq`` on its slice at index i along ``dim``, the results
    stacked as torch.stack stacks them."""

    def __init__(self, tseq, dim=0):
        self.transforms, self.dim = list(tseq), dim

    def _pieces(self, x, fn):
        if x.shape[self.dim] != len(self.transforms):
            raise ShapeError(f"StackTransform: axis {self.dim} of shape {x.shape} must hold "
                             f"one slice per transform, {len(self.transforms)}")
        return [fn(t, i) for i, t in enumerate(self.transforms)]

    def _slice(self, x, i):
        return ops.squeeze(ops.narrow(x, self.dim, i, 1), self.dim)

    def _call(self, x):
        return ops.stack(self._pieces(x, lambda t, i: t(self._slice(x, i))), self.dim)

    def _inverse(self, y):
        return ops.stack(self._pieces(y, lambda t, i: t.inv(self._slice(y, i))), self.dim)

    def log_abs_det_jacobian(self, x, y):
        return ops.stack(self._pieces(x, lambda t, i: t.log_abs_det_jacobian(
            self._slice(x, i), self._slice(y, i))), self.dim)


class PositiveDefiniteTransform(Transform):
    """A square matrix to a positive-definite one: L L^T for L = LowerCholeskyTransform of
    it (no log-determinant, as PyTorch's)."""

    domain_event_dim = codomain_event_dim = 2

    def _call(self, x):
        L = LowerCholeskyTransform()(x)
        return L @ L.mT

    def _inverse(self, y):
        from .. import linalg
        return LowerCholeskyTransform().inv(linalg.cholesky(y))


class StickBreakingTransform(Transform):
    """R^(K-1) onto the simplex of K: each of the first K - 1 components takes
    sigmoid(x_i - log(K - i)) of the stick left, the last the rest (x = 0 is the
    center). Computed in log space (log_sigmoid and its cumulative sum), so a component
    far below 1 keeps its relative precision; the inverse sums the rest of the stick
    from the end (1 - cumsum cancelled)."""

    domain_event_dim = codomain_event_dim = 1

    def forward_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] - 1,)

    @staticmethod
    def _offset(k, like):
        from ..creation import arange
        return ops.log(arange(k, 0, -1, dtype=like.dtype, backend=like.backend))

    def _log_parts(self, x):
        """(log y_i for i < K, log of the stick left after each)."""
        t = x - self._offset(x.shape[-1], x)
        left = ops.cumsum(-_softplus(t), -1)                  # sum_{j <= i} log sigmoid(-t_j)
        before = ops.pad(left[..., :-1], [(0, 0)] * (left.ndim - 1) + [(1, 0)])
        return -_softplus(-t) + before, left

    def _call(self, x):
        log_y, left = self._log_parts(x)
        return ops.exp(ops.concatenate([log_y, left[..., -1:]], -1))

    def _inverse(self, y):
        k = y.shape[-1] - 1
        rest = ops.flip(ops.cumsum(ops.flip(y, -1), -1), -1)[..., 1:]    # sum_{j > i} y_j
        return ops.log(y[..., :-1]) - ops.log(rest) + self._offset(k, y)

    def log_abs_det_jacobian(self, x, y):
        """sum_i log(dy_i / dx_i) = sum_i log y_i + log sigmoid(-t_i) (a triangular
        Jacobian)."""
        t = x - self._offset(x.shape[-1], x)
        log_y, _ = self._log_parts(x)
        return (log_y - _softplus(t)).sum(-1)


class SoftmaxTransform(Transform):
    """y = softmax(x) over the last axis (not bijective: the inverse is log y, one of the
    x that map there), as PyTorch's."""

    bijective = False
    domain_event_dim = codomain_event_dim = 1

    def _call(self, x):
        return ops.softmax(x, -1)

    def _inverse(self, y):
        return ops.log(y)


class LowerCholeskyTransform(Transform):
    """A square matrix to a lower-triangular one with a positive diagonal: the strict
    lower triangle kept, the diagonal exponentiated (no log-determinant, as PyTorch's)."""

    domain_event_dim = codomain_event_dim = 2

    def _call(self, x):
        return ops.tril(x, -1) + ops.diag_embed(ops.exp(ops.diagonal(x, 0, -2, -1)))

    def _inverse(self, y):
        return ops.tril(y, -1) + ops.diag_embed(ops.log(ops.diagonal(y, 0, -2, -1)))


class CorrCholeskyTransform(Transform):
    """A vector of D (D - 1) / 2 reals to the Cholesky factor of a D x D correlation
    matrix (Stan's): each entry tanh'd into (-1, 1), then each row stick-broken on
    squares so that it has unit length. The log-determinant is of x and the flattened
    strict lower triangle of y, as PyTorch's."""

    domain_event_dim, codomain_event_dim = 1, 2

    @staticmethod
    def _size(n):
        d = int(round((1 + math.sqrt(1 + 8 * n)) / 2))
        if d * (d - 1) // 2 != n:
            raise ShapeError(f"CorrCholeskyTransform: a vector of {n} is not D (D - 1) / 2 "
                             f"long for any D")
        return d

    def forward_shape(self, shape):
        d = self._size(shape[-1])
        return tuple(shape[:-1]) + (d, d)

    def inverse_shape(self, shape):
        d = shape[-1]
        return tuple(shape[:-2]) + (d * (d - 1) // 2,)

    @staticmethod
    def _to_matrix(v, d):
        """The vector laid row by row into the strict lower triangle of a d x d matrix
        (a gather from the vector with a 0 in front)."""
        rows, cols = np.tril_indices(d, -1)
        source = np.zeros(d * d, np.int64)
        source[rows * d + cols] = np.arange(1, len(rows) + 1)
        padded = ops.pad(v, [(0, 0)] * (v.ndim - 1) + [(1, 0)])
        return ops.reshape(_gather_last(padded, source), v.shape[:-1] + (d, d))

    def _call(self, x):
        from ..creation import eye
        from ..pytorch_names import finfo
        d = self._size(x.shape[-1])
        eps = finfo(x.dtype).eps
        r = self._to_matrix(ops.clip(ops.tanh(x), -1 + eps, 1 - eps), d)
        kept = ops.cumprod(ops.sqrt(1.0 - r * r), -1)
        shifted = ops.pad(kept[..., :-1], [(0, 0)] * (kept.ndim - 1) + [(1, 0)], value=1.0)
        return (r + eye(d, dtype=x.dtype, backend=x.backend)) * shifted

    def _inverse(self, y):
        left = 1.0 - ops.cumsum(y * y, -1)
        shifted = ops.pad(left[..., :-1], [(0, 0)] * (left.ndim - 1) + [(1, 0)], value=1.0)
        return ops.atanh(_lower(y, -1) / ops.sqrt(_lower(shifted, -1)))

    def log_abs_det_jacobian(self, x, y):
        stick = 0.5 * ops.log(_lower(1.0 - ops.cumsum(y * y, -1), -2)).sum(-1)
        return stick - 2.0 * (x + _softplus(-2.0 * x) - math.log(2.0)).sum(-1)


def _gather_last(x, positions):
    """x's last axis at host ``positions`` (the same for every leading index)."""
    index = index_tensor(positions, x._backend)
    return ops.take_along_axis(x, ops.broadcast_to(index, x.shape[:-1] + index.shape), -1)


def _lower(m, offset):
    """The entries of m's triangle below ``offset``, row by row, as a vector."""
    d = m.shape[-1]
    rows, cols = np.tril_indices(d, offset)
    return _gather_last(ops.reshape(m, m.shape[:-2] + (d * d,)), rows * d + cols)


class TransformedDistribution(Distribution):
    """``base_distribution`` pushed through ``transforms`` (one or a list): samples are
    the base's transformed; log_prob(y) = base.log_prob(x) - sum log|dy/dx| along the
    inverses. Elementwise transforms keep the base's batch and event shapes."""

    def __init__(self, base_distribution, transforms, validate_args=None):
        self.transforms = [transforms] if isinstance(transforms, Transform) else list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise ShapeError(f"TransformedDistribution: transforms must be Transforms, got "
                                 f"{type(t).__name__}")
        chain = ComposeTransform(self.transforms)
        base = base_distribution
        shape = base.batch_shape + base.event_shape
        if len(shape) < chain.domain_event_dim:
            raise ShapeError(f"TransformedDistribution: the transforms take points of "
                             f"{chain.domain_event_dim} axes, the base distribution's draws "
                             f"have shape {shape}")
        extra = chain.domain_event_dim - len(base.event_shape)
        if extra > 0:       # batch axes the transforms read as one point: event axes
            from .multivariate import Independent
            base = Independent(base, extra)
        self.base_dist = base
        out = chain.forward_shape(shape)
        event_dim = max(chain.codomain_event_dim, len(base.event_shape)
                        + chain.codomain_event_dim - chain.domain_event_dim)
        self.has_rsample = base.has_rsample
        super().__init__(out[:len(out) - event_dim], out[len(out) - event_dim:], validate_args)

    _params = ()

    def expand(self, batch_shape):
        if self._params:        # a named family (Weibull, Kumaraswamy): its own class again
            return super().expand(batch_shape)
        return TransformedDistribution(self.base_dist.expand(batch_shape), self.transforms,
                                       validate_args=False)

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def sample(self, sample_shape=()):
        x = self.base_dist.sample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        """The base's log_prob less each transform's log-determinant, each summed over
        the event axes that are not the transform's own (PyTorch's rule)."""
        y = value if isinstance(value, Tensor) else full_like(self.sample(), value)
        total, event_dim = 0.0, len(self.event_shape)
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain_event_dim - t.codomain_event_dim
            total = total - sum_rightmost(t.log_abs_det_jacobian(x, y),
                                          event_dim - t.domain_event_dim)
            y = x
        return total + sum_rightmost(self.base_dist.log_prob(y),
                                     event_dim - len(self.base_dist.event_shape))

    def _monotone(self):
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        return sign

    def _flipped(self, value):
        """value where the transforms increase, 1 - value where they decrease (sign *
        (value - 1/2) + 1/2 lost every small value where the sign was a tensor of 1s:
        Weibull's cdf(1e-10) was 0)."""
        sign = self._monotone()
        if isinstance(sign, int):
            return value if sign == 1 else 1.0 - value
        return ops.where(sign > 0, value, 1.0 - value)

    def cdf(self, value):
        for t in reversed(self.transforms):
            value = t.inv(value)
        return self._flipped(self.base_dist.cdf(value))

    def icdf(self, value):
        value = self.base_dist.icdf(self._flipped(value))
        for t in self.transforms:
            value = t(value)
        return value

    def __repr__(self):
        if self._params:        # a named family: by its parameters, as PyTorch's
            return super().__repr__()
        return f"TransformedDistribution({self.base_dist!r}, {self.transforms!r})"
