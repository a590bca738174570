"""Constraints, torch.distributions.constraints': the sets a parameter or a value lives
in, each with check(value) (a bool tensor over the batch: the trailing ``event_dim``
axes are one point) and, through constraint_registry, the transforms that map the
real numbers onto it (biject_to, transform_to). Checks are ember ops, so they run on
the tensor's backend."""

from .. import dtypes as dt
from .. import linalg, ops
from ..creation import full

__all__ = ["Constraint", "boolean", "cat", "corr_cholesky", "dependent", "greater_than",
           "greater_than_eq", "half_open_interval", "independent", "integer_interval",
           "interval", "is_dependent", "less_than", "lower_cholesky", "lower_triangular",
           "nonnegative", "nonnegative_integer", "one_hot", "positive", "positive_definite",
           "positive_integer", "positive_semidefinite", "real", "real_vector", "simplex",
           "square", "stack", "symmetric", "unit_interval"]


class Constraint:
    """A set of values; ``event_dim`` trailing axes make one point, ``is_discrete`` says
    whether it is countable."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError(f"{type(self).__name__}.check")

    def __repr__(self):
        return f"{type(self).__name__[1:]}()"


def _all_trailing(ok, n):
    """ok reduced with all() over its last n axes."""
    for _ in range(n):
        ok = ok.all(-1)
    return ok


class _Dependent(Constraint):
    """A constraint that depends on other parameters: it cannot be checked alone."""

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint):
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def check(self, value):
        return value == value           # not NaN


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return value > self.lower_bound

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def check(self, value):
        return value >= self.lower_bound

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return value < self.upper_bound

    def __repr__(self):
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self):
        return f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, " \
               f"upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def check(self, value):
        return (value >= self.lower_bound) & (value < self.upper_bound)


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value):
        return super().check(value) & (value == ops.floor(value))


class _IntegerGreaterThan(_GreaterThanEq):
    is_discrete = True

    def check(self, value):
        return (value >= self.lower_bound) & (value == ops.floor(value))

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _Independent(Constraint):
    """``base_constraint`` with its last ``reinterpreted_batch_ndims`` axes more read as
    one point: all of them must satisfy it."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        self.is_discrete = base_constraint.is_discrete
        self.event_dim = base_constraint.event_dim + reinterpreted_batch_ndims

    def check(self, value):
        return _all_trailing(self.base_constraint.check(value), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, " \
               f"{self.reinterpreted_batch_ndims})"


class _Simplex(Constraint):
    """Nonnegative vectors summing to 1: within 1e-6, as PyTorch's, or 10 n eps of the
    dtype where that is wider (a float32 sum of 1000 probabilities rounds by more)."""

    event_dim = 1

    def check(self, value):
        tol = max(1e-6, 10.0 * value.shape[-1] * float(dt.finfo(value.dtype).eps))
        return (value >= 0).all(-1) & (ops.abs(value.sum(-1) - 1.0) < tol)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        return ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)


class _Square(Constraint):
    event_dim = 2

    def check(self, value):
        n, m = value.shape[-2:]
        return full(value.shape[:-2], n == m, dtype=dt.bool_, backend=value.backend)


class _Symmetric(_Square):
    def check(self, value):
        if value.shape[-1] != value.shape[-2]:
            return super().check(value)            # not square: False everywhere
        return ops.isclose(value, value.mT, atol=1e-6).all(-1).all(-1)


class _LowerTriangular(Constraint):
    event_dim = 2

    def check(self, value):
        return (ops.tril(value) == value).all(-1).all(-1)


class _LowerCholesky(_LowerTriangular):
    def check(self, value):
        return super().check(value) & (ops.diagonal(value, 0, -2, -1) > 0).all(-1)


class _CorrCholesky(_LowerCholesky):
    """Lower Cholesky factors whose rows have unit length (within 10 n eps, as
    PyTorch's)."""

    def check(self, value):
        tol = float(dt.finfo(value.dtype).eps) * value.shape[-1] * 10
        rows = ops.sqrt((value * value).sum(-1))
        return super().check(value) & (ops.abs(rows - 1.0) <= tol).all(-1)


class _PositiveDefinite(_Symmetric):
    def check(self, value):
        symmetric = super().check(value)
        if value.shape[-1] != value.shape[-2]:
            return symmetric
        return symmetric & (linalg.cholesky_ex(value).info == 0)


class _PositiveSemidefinite(_Symmetric):
    def check(self, value):
        symmetric = super().check(value)
        if value.shape[-1] != value.shape[-2]:
            return symmetric
        return symmetric & (linalg.eigvalsh(value) >= 0).all(-1)


class _Cat(Constraint):
    """Each constraint of ``cseq`` on its slice of ``lengths[i]`` along ``dim``."""

    def __init__(self, cseq, dim=0, lengths=None):
        self.cseq, self.dim = list(cseq), dim
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.cseq)
        self.event_dim = max([c.event_dim for c in self.cseq] or [0])
        self.is_discrete = any(c.is_discrete for c in self.cseq)

    def check(self, value):
        parts, start = [], 0
        for c, n in zip(self.cseq, self.lengths):
            parts.append(c.check(ops.narrow(value, self.dim, start, n)))
            start += n
        return ops.concatenate(parts, self.dim)


class _Stack(Constraint):
    """Each constraint of ``cseq`` on its slice at index i along ``dim``."""

    def __init__(self, cseq, dim=0):
        self.cseq, self.dim = list(cseq), dim
        self.event_dim = max([c.event_dim for c in self.cseq] or [0])
        self.is_discrete = any(c.is_discrete for c in self.cseq)

    def check(self, value):
        return ops.stack([c.check(ops.squeeze(ops.narrow(value, self.dim, i, 1), self.dim))
                          for i, c in enumerate(self.cseq)], self.dim)


dependent = _Dependent()
real = _Real()
real_vector = _Independent(real, 1)
boolean = _Boolean()
one_hot = _OneHot()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
square = _Square()
symmetric = _Symmetric()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
corr_cholesky = _CorrCholesky()
positive_definite = _PositiveDefinite()
positive_semidefinite = _PositiveSemidefinite()
greater_than, greater_than_eq, less_than = _GreaterThan, _GreaterThanEq, _LessThan
interval, half_open_interval, integer_interval = _Interval, _HalfOpenInterval, _IntegerInterval
independent, cat, stack = _Independent, _Cat, _Stack
