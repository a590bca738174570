"""torch.distributions.transforms: invertible elementwise maps with the log of their
Jacobian's absolute determinant, and TransformedDistribution, a base distribution pushed
through them (a squashed Gaussian policy is Normal through TanhTransform).

Each log|dy/dx| is written where it keeps its precision: tanh's as 2 (log 2 - x -
softplus(-2x)), sigmoid's as -softplus(-x) - softplus(x), as PyTorch's are."""

import math

from .. import ops
from ..creation import full_like
from ..errors import ShapeError
from ..tensor import Tensor
from .distribution import Distribution


def _softplus(x):
    """log(1 + e^x) without overflow."""
    return ops.maximum(x, 0.0) + ops.log1p(ops.exp(-ops.abs(x)))


class Transform:
    """y = self(x), x = self.inv(y), and log|dy/dx| at (x, y) (log_abs_det_jacobian).
    ``sign`` is +1 or -1 for a monotone map."""

    bijective = True
    sign = 1

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

    def _call(self, x):
        for p in self.parts:
            x = p(x)
        return x

    def _inverse(self, y):
        for p in reversed(self.parts):
            y = p.inv(y)
        return y

    def log_abs_det_jacobian(self, x, y):
        total = 0.0
        for p in self.parts:
            nxt = p(x)
            total = total + p.log_abs_det_jacobian(x, nxt)
            x = nxt
        return total

    def __repr__(self):
        return f"ComposeTransform({', '.join(map(repr, self.parts))})"


identity_transform = ComposeTransform([])


class TransformedDistribution(Distribution):
    """``base_distribution`` pushed through ``transforms`` (one or a list): samples are
    the base's transformed; log_prob(y) = base.log_prob(x) - sum log|dy/dx| along the
    inverses. Elementwise transforms keep the base's batch and event shapes."""

    def __init__(self, base_distribution, transforms, validate_args=True):
        self.base_dist = base_distribution
        self.transforms = [transforms] if isinstance(transforms, Transform) else list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise ShapeError(f"TransformedDistribution: transforms must be Transforms, got "
                                 f"{type(t).__name__}")
        self.has_rsample = base_distribution.has_rsample
        super().__init__(base_distribution.batch_shape, base_distribution.event_shape,
                         validate_args)

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

    def _event_sum(self, term):
        n = len(self.event_shape)
        return term.sum(tuple(range(-n, 0))) if n and isinstance(term, Tensor) else term

    def log_prob(self, value):
        y = value if isinstance(value, Tensor) else full_like(
            self.base_dist.sample(), value)
        total = 0.0
        for t in reversed(self.transforms):
            x = t.inv(y)
            total = total - self._event_sum(t.log_abs_det_jacobian(x, y))
            y = x
        return total + self.base_dist.log_prob(y)

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
