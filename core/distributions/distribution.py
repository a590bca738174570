"""The Distribution base class: torch.distributions' interface (batch and event shapes,
sample and rsample with a sample_shape, log_prob, entropy, mean, variance, stddev,
expand) and its parameter checks, which read the values on the host (as PyTorch's do)
unless ember.compile is tracing."""

import math

from .. import dtypes as dt
from .. import ops
from . import constraints
from ..autograd import no_grad
from ..compile import is_compiling
from ..creation import tensor
from ..errors import ShapeError
from ..tensor import Tensor


class Distribution:
    """A batch of probability distributions over events of ``event_shape``. Subclasses
    set their parameters as tensors broadcast to ``batch_shape`` and implement
    ``rsample`` (reparameterized: differentiable in the parameters) or ``sample``, and
    ``log_prob``; ``has_rsample`` says which."""

    has_rsample = False
    #: whether enumerate_support lists every value (the finite discrete families)
    has_enumerate_support = False
    #: parameter name -> (a predicate on the host values, the constraint's words)
    arg_constraints = {}
    #: the values log_prob accepts, as (predicate, words); None: every real
    support = None

    #: whether a distribution made without validate_args checks its parameters and values
    _validate_default = True

    @staticmethod
    def set_default_validate_args(value):
        """Whether distributions made from now on without ``validate_args`` check their
        parameters and log_prob's values (on by default; off saves the host reads)."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: takes True or False, got {value!r}")
        Distribution._validate_default = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self.batch_shape, self.event_shape = tuple(batch_shape), tuple(event_shape)
        self._validate = Distribution._validate_default if validate_args is None \
            else bool(validate_args)
        if self._validate and not is_compiling():
            for name, constraint in self.arg_constraints.items():
                value = getattr(self, name, None)
                if isinstance(value, Tensor) and not _holds(constraint, value):
                    raise ValueError(
                        f"Expected parameter {name} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{value}")

    def _scalar_parameters(self, validate_args, **named):
        """The constructor of a family of scalar events: each named parameter set, all
        broadcast together (``parameters``), and a batch of their shape."""
        tensors, shape = parameters(*named.values())
        for name, value in zip(named, tensors):
            setattr(self, name, value)
        Distribution.__init__(self, shape, (), validate_args)

    # -- shapes ---------------------------------------------------------------------------
    def _extended_shape(self, sample_shape=()):
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return tuple(sample_shape) + self.batch_shape + self.event_shape

    def expand(self, batch_shape):
        """The same distribution broadcast to a larger ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        params = {name: ops.broadcast_to(getattr(self, name), batch_shape + self._param_event(name))
                  for name in self._params}
        return type(self)(**params, validate_args=False, **self._fixed())

    def _param_event(self, name):
        """The trailing axes of a parameter beyond the batch (an event's, or a matrix's)."""
        return ()

    def _fixed(self):
        return {}

    # -- what subclasses give -------------------------------------------------------------
    def rsample(self, sample_shape=()):
        from ..errors import AutogradError
        raise AutogradError(f"{type(self).__name__} has no reparameterized sampler "
                            f"(rsample); sample() draws without gradients, for a "
                            f"score-function (REINFORCE) estimator use log_prob")

    def sample(self, sample_shape=()):
        """Draws of shape sample_shape + batch_shape + event_shape, without gradients."""
        with no_grad():
            return self.rsample(sample_shape).detach()

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__}.log_prob")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__}.entropy")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__}.icdf")

    def enumerate_support(self, expand=True):
        """Every value of the support along a new first axis, (n,) + batch_shape +
        event_shape, for the finite discrete families (has_enumerate_support); without
        ``expand``, batch axes of size 1 (broadcasting against the batch)."""
        raise NotImplementedError(f"{type(self).__name__} has no finite support to "
                                  f"enumerate")

    def _enumerated(self, values, expand):
        """values (n,) + event_shape laid out as enumerate_support's result."""
        shape = (values.shape[0],) + (1,) * len(self.batch_shape) + tuple(values.shape[1:])
        values = values.reshape(shape)
        if expand:
            values = ops.broadcast_to(values, (values.shape[0],) + self.batch_shape
                                      + self.event_shape)
        return values

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    def perplexity(self):
        return ops.exp(self.entropy())

    @property
    def stddev(self):
        return ops.sqrt(self.variance)

    # -- checks -----------------------------------------------------------------------------
    def _value(self, value):
        """``value`` as a tensor like the parameters, checked against the support (on the
        host, unless tracing) and against the event shape."""
        like = getattr(self, self._params[0])
        if not isinstance(value, Tensor):
            value = tensor(value, dtype=like.dtype, backend=like.backend)
        n = len(self.event_shape)
        if n and tuple(value.shape[value.ndim - n:]) != self.event_shape:
            raise ShapeError(f"{type(self).__name__}.log_prob: value of shape "
                             f"{tuple(value.shape)} must end in the event shape {self.event_shape}")
        if self._validate and self.support is not None and not is_compiling():
            if not _holds(self.support, value):
                raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                                 f"{tuple(value.shape)}) to be within the support "
                                 f"({self.support!r}) of the distribution {self!r}, but found "
                                 f"invalid values:\n{value}")
        return value

    def __repr__(self):
        parts = ", ".join(f"{name}: {_brief(getattr(self, name))}" for name in self._params
                          if isinstance(getattr(self, name, None), Tensor))
        return f"{type(self).__name__}({parts})"


def _brief(t):
    return str(t.item()) if t.size == 1 else f"Tensor of shape {tuple(t.shape)}"


def parameters(*values):
    """The parameters as float tensors on one backend, broadcast together: Python
    numbers and integer tensors take the first float tensor's dtype and backend (the
    default float without one)."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    floats = next((v for v in values if isinstance(v, Tensor) and v.dtype.is_float), None)
    dtype = floats.dtype if floats is not None else dt.default_float
    backend = like.backend if like is not None else None
    ts = [(v if v.dtype.is_float else v.to(dtype)) if isinstance(v, Tensor)
          else tensor(float(v), dtype=dtype, backend=backend) for v in values]
    shape = ops.broadcast_shapes(*[tuple(t.shape) for t in ts])
    return [ops.broadcast_to(t, shape) for t in ts], shape


def _holds(constraint, value):
    """Whether every element (every event) of ``value`` satisfies ``constraint``: one
    host read, as PyTorch's check."""
    return bool(constraint.check(value).all().item())


#: the constraints parameters and supports use most, by their old names here
POSITIVE, NONNEGATIVE, UNIT = constraints.positive, constraints.nonnegative, constraints.unit_interval
REAL, BOOLEAN = constraints.real, constraints.boolean
NONNEGATIVE_INTEGER = constraints.nonnegative_integer
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
