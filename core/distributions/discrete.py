"""Discrete distributions, torch.distributions': Bernoulli, Categorical, OneHotCategorical,
Binomial, Geometric, Poisson, NegativeBinomial (a Gamma-Poisson mixture) and Multinomial. Bernoulli and the categoricals take ``probs`` or
``logits`` (either determines the other) and sample on the device: a uniform below the
probability, the Gumbel-max trick. Their log_probs are the logits' (no log of a rounded
probability)."""

import math

from .. import dtypes as dt
from .. import ops
from ..creation import arange, rand, zeros_like
from ..autograd import no_grad
from ..errors import ShapeError
from ..ops.deviance import deviance
from ..ops.gamma import lgamma, stirling_tail
from . import constraints
from .continuous import Gamma, settled
from .saddle_point import (HALF_LOG_2PI, SADDLE_FROM, log_binomial, log_poisson,
                           stirling_error)
from .distribution import (BOOLEAN, NONNEGATIVE, NONNEGATIVE_INTEGER, UNIT, Distribution,
                           parameters)


def _given(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: give either probs or logits, not both and not neither")
    return parameters(probs if logits is None else logits)


def _probs_or_logits(name, probs, logits):
    """(probs, logits, shape) of a two-outcome distribution, either from the other."""
    (given,), shape = _given(name, probs, logits)
    if logits is None:
        return given, ops.logit(given), shape
    return ops.sigmoid(given), given, shape


def _categories(name, probs, logits):
    """(probs, normalized logits, log-weights as given, shape) over the last axis: the
    given ones keep differences exact that normalizing rounds (kl_divergence uses them)."""
    (given,), shape = _given(name, probs, logits)
    if given.ndim == 0:
        raise ShapeError(f"{name}: {'probs' if logits is None else 'logits'} needs at least "
                         f"one axis, the categories")
    if logits is None:
        probs = given / given.sum(-1, keepdims=True)
        return probs, ops.log(probs), ops.log(given), shape
    logits = given - ops.logsumexp(given, -1, keepdims=True)
    return ops.exp(logits), logits, given, shape


#: torch's param_shape of the families given probs or logits: their shape
PARAM_SHAPE = property(lambda self: tuple(self.probs.shape))


class Bernoulli(Distribution):
    """1 with probability probs, else 0."""

    arg_constraints = {"probs": UNIT}
    support = BOOLEAN
    _params = ("probs",)
    param_shape = PARAM_SHAPE

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits, shape = _probs_or_logits("Bernoulli", probs, logits)
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape):
        return Bernoulli(logits=ops.broadcast_to(self.logits, tuple(batch_shape)),
                         validate_args=False)

    mean = property(lambda self: self.probs)
    mode = property(lambda self: ops.where(self.probs > 0.5, 1.0, 0.0) * (self.probs * 0 + 1))
    # p (1 - p) with 1 - p as sigmoid(-logits): 1.0 - probs was 0 past logits 17
    variance = property(lambda self: self.probs * ops.sigmoid(-self.logits))

    def sample(self, sample_shape=()):
        u = rand(*self._extended_shape(sample_shape), dtype=self.probs.dtype,
                 backend=self.probs.backend)
        return (u < self.probs).to(self.probs.dtype)

    has_enumerate_support = True

    def enumerate_support(self, expand=True):
        """0 and 1 along a new first axis."""
        return self._enumerated(arange(2, dtype=self.probs.dtype, backend=self.probs.backend),
                                expand)

    def log_prob(self, value):
        """-BCE(logits, value) from the side where nothing cancels (value logits -
        softplus(logits) was 0 for value 1 past logits 17, where it is -e^-logits):
        -((1 - v) l + softplus(-l)) for l > 0, -(softplus(l) - v l) else."""
        value = self._value(value)
        return -_binary_cross_entropy(self.logits, value)

    def entropy(self):
        """q softplus(l) + p softplus(-l), both terms >= 0 (softplus(l) - p l cancelled to
        0 past logits 17); an infinite logit's zero-probability term is 0."""
        finite = ops.clip(self.logits, -_largest(self.logits), _largest(self.logits))
        return (ops.sigmoid(-finite) * ops.softplus(finite)
                + ops.sigmoid(finite) * ops.softplus(-finite))


def _largest(x):
    return float(dt.finfo(x.dtype).max)


def _binary_cross_entropy(logits, value):
    """-log P(value) of a Bernoulli with these logits, as F.binary_cross_entropy_with_logits
    computes it: each term from the side where none cancels, and a zero coefficient of an
    infinite logit 0."""
    positive = logits > 0
    slope = ops.where(positive, 1.0 - value, -value)
    logits_or_0 = ops.where(ops.isinf(logits) & (slope == 0), 0.0, logits)
    return slope * logits_or_0 + ops.where(positive, ops.softplus(-logits),
                                           ops.softplus(logits))


class Categorical(Distribution):
    """One of K categories (the last axis of probs or logits), as an integer index."""

    arg_constraints = {"probs": constraints.simplex}
    _params = ("probs",)
    param_shape = PARAM_SHAPE

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits, self._given_logits, shape = _categories(
            type(self).__name__, probs, logits)
        self._num_events = shape[-1]
        self.support = self._support()
        super().__init__(shape[:-1], self._event(), validate_args)

    def _event(self):
        return ()

    def _support(self):
        top = self._num_events - 1
        return constraints.integer_interval(0, top)

    has_enumerate_support = True

    def enumerate_support(self, expand=True):
        """The categories 0 .. K-1 along a new first axis (one-hot rows for
        OneHotCategorical)."""
        index = arange(self._num_events, backend=self.probs.backend)
        return self._enumerated(self._as_event(index), expand)

    def _as_event(self, index):
        return index

    def expand(self, batch_shape):
        return type(self)(logits=ops.broadcast_to(
            self.logits, tuple(batch_shape) + (self._num_events,)), validate_args=False)

    mean = property(lambda self: self.probs[..., 0] * math.nan)
    mode = property(lambda self: self.probs.argmax(-1))
    variance = property(lambda self: self.probs[..., 0] * math.nan)

    def _gumbel_argmax(self, sample_shape):
        """argmax(logits + Gumbel noise): a draw of each category with its probability."""
        shape = Distribution._extended_shape(self, sample_shape)
        shape = shape[:len(shape) - len(self.event_shape)] + (self._num_events,)
        u = rand(*shape, dtype=self.logits.dtype, backend=self.logits.backend)
        gumbel = -ops.log(-ops.log(ops.clip(u, 1e-30, None)))
        return (self.logits + gumbel).argmax(-1)

    def sample(self, sample_shape=()):
        return self._gumbel_argmax(sample_shape)

    def log_prob(self, value):
        value = self._value(value)
        index = value.to(self.logits.backend.default_int)
        logits = ops.broadcast_to(self.logits, tuple(value.shape) + (self._num_events,))
        return ops.take_along_axis(logits, ops.unsqueeze(index, -1), -1)[..., 0]

    def entropy(self):
        finite = ops.where(self.logits == -math.inf, 0.0, self.logits)
        return -(finite * self.probs).sum(-1)


class OneHotCategorical(Categorical):
    """Categorical's draws as one-hot vectors (event shape (K,))."""

    def _event(self):
        return (self._num_events,)

    def _support(self):
        return None

    def _as_event(self, index):
        return _one_hot(index, self._num_events, self.probs)

    mean = property(lambda self: self.probs)
    variance = property(lambda self: self.probs * (1.0 - self.probs))

    mode = property(lambda self: _one_hot(self.probs.argmax(-1), self._num_events, self.probs))

    def sample(self, sample_shape=()):
        index = self._gumbel_argmax(sample_shape)
        return _one_hot(index, self._num_events, self.probs)

    def log_prob(self, value):
        value = self._value(value)
        return (value * ops.where(self.logits == -math.inf, 0.0, self.logits)).sum(-1)


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose rsample passes gradients straight through (Bengio et al.,
    2013): the one-hot draw forward, the gradient of probs backward."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        draw = self.sample(sample_shape)
        return draw + (self.probs - self.probs.detach())


def _one_hot(index, n, like):
    return (ops.unsqueeze(index, -1) == arange(n, backend=like.backend)).to(like.dtype)


class Binomial(Distribution):
    """The number of successes in total_count trials of probability probs."""

    arg_constraints = {"total_count": NONNEGATIVE_INTEGER, "probs": UNIT}
    support = NONNEGATIVE_INTEGER
    _params = ("total_count", "probs")
    param_shape = PARAM_SHAPE

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        probs_, logits_, _ = _probs_or_logits("Binomial", probs, logits)
        (self.total_count, self.probs, self.logits), shape = parameters(total_count, probs_,
                                                                        logits_)
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape):
        shape = tuple(batch_shape)
        return Binomial(ops.broadcast_to(self.total_count, shape),
                        logits=ops.broadcast_to(self.logits, shape), validate_args=False)

    mean = property(lambda self: self.total_count * self.probs)
    mode = property(lambda self: ops.minimum(ops.floor((self.total_count + 1.0) * self.probs),
                                             self.total_count))
    # n p (1 - p), 1 - p as sigmoid(-logits) (1.0 - probs was 0 past logits 17)
    variance = property(lambda self: self.total_count * self.probs * ops.sigmoid(-self.logits))

    def sample(self, sample_shape=()):
        """Draws on the device, in memory of the sample's size whatever total_count is
        (the sum of n Bernoulli draws took n uniforms per draw: Binomial(1e9, 0.3) asked
        for 73 TiB). Of p and 1 - p the smaller, p', is drawn (the count of the other
        outcome where p > 1/2): below n p' = 10, the geometric waiting times between
        successes counted while they fit in n (BINOMIAL_SUCCESSES of them: more has
        probability below 1e-11); from 10, Hoermann's transformed rejection (BTRS, as
        PyTorch's), its acceptance tested with the saddle-point log-probabilities, which
        keep their precision at any n, BINOMIAL_ROUNDS proposals each, the first accepted
        kept."""
        shape = self._extended_shape(sample_shape)
        n = ops.broadcast_to(self.total_count, shape)
        logits = ops.broadcast_to(self.logits, shape)
        with no_grad():
            flip = logits > 0.0
            p = ops.sigmoid(-ops.abs(logits))                     # min(p, 1 - p), exact
            q = ops.sigmoid(ops.abs(logits))
            mean = n * p
            small = mean < 10.0
            u = rand(*((BINOMIAL_SUCCESSES,) + shape), dtype=p.dtype, backend=p.backend)
            waits = ops.floor(ops.log1p(-u) / ops.log1p(-p)) + 1.0     # inf where p = 0
            counted = (ops.cumsum(waits, 0) <= n).to(p.dtype).sum(0)
            k = ops.where(small, counted, _btrs(ops.where(small, 100.0, n),
                                                ops.where(small, 0.5, p),
                                                ops.where(small, 0.5, q)))
            return ops.where(flip, n - k, k)

    has_enumerate_support = True

    def enumerate_support(self, expand=True):
        """0 .. total_count along a new first axis (one total_count for the batch)."""
        low, high = (float(ops.amin(self.total_count)), float(ops.amax(self.total_count))) \
            if self.total_count.size else (0.0, 0.0)
        if low != high:
            raise NotImplementedError(f"Binomial.enumerate_support: total_count differs across "
                                      f"the batch ({low:g} to {high:g}); it needs one count")
        return self._enumerated(arange(int(high) + 1, dtype=self.probs.dtype,
                                       backend=self.probs.backend), expand)

    def entropy(self):
        """-sum_k P(k) log P(k) over the support, as PyTorch's (one total_count for the
        batch); a term of probability 0 is 0."""
        log_p = self.log_prob(self.enumerate_support(expand=False))
        return ops.where(log_p == -math.inf, 0.0, -ops.exp(log_p) * log_p).sum(0)

    def log_prob(self, value):
        """log C(n, k) - k softplus(-logits) - (n - k) softplus(logits) (k logits - n
        softplus(logits) cancelled at k = n and large logits); from n = SADDLE_FROM, for 0
        < k < n, its saddle-point form, where the lgammas cancel."""
        value = self._value(value)
        n, k = self.total_count, value
        plain = (lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0)
                 - _times(k, ops.softplus(-self.logits))
                 - _times(n - k, ops.softplus(self.logits)))
        large = (n >= SADDLE_FROM) & (k > 0) & (k < n)
        n_, k_ = ops.where(large, n, SADDLE_FROM), ops.where(large, k, 1.0)
        saddle = log_binomial(k_, n_ - k_, ops.sigmoid(self.logits), ops.sigmoid(-self.logits))
        return ops.where(large, saddle, plain)


def _times(count, log_term):
    """count * log_term, 0 where the count is 0 (an infinite logit's term never drawn)."""
    return ops.where(count == 0, 0.0, count * log_term)


#: successes counted by waiting times below n p = 10, and BTRS's proposals from it: each
#: is rejected with probability below 0.3 (0.29 at n p = 10, 0.11 at n = 1e9), so all 30
#: with probability below 1e-15; that draw then keeps the mode
BINOMIAL_SUCCESSES, BINOMIAL_ROUNDS = 48, 30
#: Multinomial's draws counted one by one up to this total_count; Binomial's past it
MULTINOMIAL_PICKS = 64


def _log_binomial_mass(k, n, p, q):
    """log(C(n, k) p^k q^(n - k)) for whole 0 <= k <= n: the saddle-point form inside,
    n log q and n log p at the ends."""
    inside = (k > 0) & (k < n)
    k_ = ops.where(inside, k, 1.0)
    rest = ops.where(inside, n - k, 1.0)
    mass = log_binomial(k_, rest, p, q)
    return ops.where(inside, mass, ops.where(k == 0, n * ops.log(q), n * ops.log(p)))


def _btrs(n, p, q):
    """Binomial(n, p) draws for n p >= 10 and p <= 1/2 by Hoermann's BTRS ("The
    generation of binomial random variates", 1993): a proposal k from the transformed
    uniform U, accepted at once in the hat's inner part, else where log(V alpha / (a /
    us^2 + b)) <= log f(k) - log f(m), m the mode."""
    spq = ops.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    mode = ops.floor((n + 1.0) * p)
    mode_mass = _log_binomial_mass(mode, n, p, q)
    out, done = mode, n < 0.0
    for _ in range(BINOMIAL_ROUNDS):
        if settled(done):
            break
        u = rand(*n.shape, dtype=n.dtype, backend=n.backend) - 0.5
        v = rand(*n.shape, dtype=n.dtype, backend=n.backend)
        us = 0.5 - ops.abs(u)
        k = ops.floor((2.0 * a / us + b) * u + c)
        valid = (k >= 0.0) & (k <= n)
        k = ops.where(valid, k, 0.0)
        quick = (us >= 0.07) & (v <= v_r)
        slow = (ops.log(ops.clip(v, 1e-30, None) * alpha / (a / (us * us) + b))
                <= _log_binomial_mass(k, n, p, q) - mode_mass)
        accept = valid & (quick | slow)
        out = ops.where(accept & ~done, k, out)
        done = done | accept
    return out


class Geometric(Distribution):
    """The number of failures before the first success of probability probs."""

    arg_constraints = {"probs": UNIT}
    support = NONNEGATIVE_INTEGER
    _params = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        self.probs, self.logits, shape = _probs_or_logits("Geometric", probs, logits)
        super().__init__(shape, (), validate_args)

    # q / p = e^-logits and q / p^2: 1 / p - 1 cancelled (0 past logits 17 in float32)
    mean = property(lambda self: ops.exp(-self.logits))
    mode = property(lambda self: zeros_like(self.probs))
    variance = property(lambda self: ops.exp(-self.logits) / self.probs)

    def sample(self, sample_shape=()):
        u = rand(*self._extended_shape(sample_shape), dtype=self.probs.dtype,
                 backend=self.probs.backend)
        tiny = float(dt.finfo(self.probs.dtype).tiny)
        return ops.floor(ops.log(ops.clip(u, tiny, None)) / ops.log1p(-self.probs))

    def log_prob(self, value):
        """k log(1 - p) + log p from the logits: -k softplus(l) - softplus(-l) (log1p(-p)
        of a p rounded to 1 made log_prob -inf, and NaN at k = 0)."""
        value = self._value(value)
        return -_times(value, ops.softplus(self.logits)) - ops.softplus(-self.logits)

    def entropy(self):
        """(-q log q - p log p) / p = softplus(-l) + e^-l softplus(l), both terms >= 0
        (softplus(l) / p - l cancelled to 0 past logits 17); e^-l softplus(l) is log1p(r) /
        r with r = e^l below 0, 1 at l = -inf, and 0 at l = inf."""
        l = self.logits
        below = l < 0
        r = ops.exp(ops.where(below, l, 0.0))
        small = ops.where(r == 0, 1.0, ops.log1p(r) / ops.where(r == 0, 1.0, r))
        finite = ops.minimum(ops.where(below, 0.0, l), _largest(l))
        large = ops.exp(-finite) * ops.softplus(finite)
        return ops.softplus(-l) + ops.where(below, small, large)


#: arrivals counted below rate 10, and PTRS proposals from it
SMALL_ARRIVALS, POISSON_ROUNDS = 48, 16
#: log(k!) for k < 16, exact (Stirling's series past it)
LOG_FACTORIALS = [math.lgamma(k + 1.0) for k in range(16)]


def _log_factorial(k):
    """log(k!) for whole k >= 0: a table below 16, Stirling's formula and series
    (ops.gamma.stirling_tail) from it; a dozen primitives where lgamma takes sixty."""
    from ..creation import tensor
    table = tensor(LOG_FACTORIALS, dtype=k.dtype, backend=k.backend)
    small = k < 16
    exact = ops.take(table, ops.where(small, k, 0.0).to(k.backend.default_int))
    n = ops.where(small, 16.0, k) + 1.0
    far = (n - 0.5) * ops.log(n) - n + 0.5 * math.log(2 * math.pi) + stirling_tail(n)
    return ops.where(small, exact, far)


class Poisson(Distribution):
    """rate^k exp(-rate) / k!."""

    arg_constraints = {"rate": NONNEGATIVE}
    support = NONNEGATIVE_INTEGER
    _params = ("rate",)

    def __init__(self, rate, validate_args=None):
        self._scalar_parameters(validate_args, rate=rate)

    mean = property(lambda self: self.rate)
    mode = property(lambda self: ops.floor(self.rate))
    variance = property(lambda self: self.rate)

    def sample(self, sample_shape=()):
        """Draws on the device: below rate 10, the count of unit-rate exponential
        arrivals before ``rate`` (48 arrivals: more has probability below 1e-11);
        from 10, Hoermann's transformed rejection (PTRS, as NumPy's), POISSON_ROUNDS
        proposals each accepted with probability above 0.9, the first accepted kept."""
        shape = self._extended_shape(sample_shape)
        rate = ops.broadcast_to(self.rate, shape)
        with no_grad():
            small = rate < 10.0
            lam = ops.where(small, 10.0, rate)
            u = rand(*((SMALL_ARRIVALS,) + shape), dtype=rate.dtype, backend=rate.backend)
            arrivals = ops.cumsum(-ops.log1p(-u), 0)
            counted = (arrivals < ops.where(small, rate, 0.0)).to(rate.dtype).sum(0)
            slam, loglam = ops.sqrt(lam), ops.log(lam)
            b = slam * 2.53 + 0.931
            a = b * 0.02483 - 0.059
            log_invalpha = ops.log(1.1239 + 1.1328 / (b - 3.4))
            vr = 0.9277 - 3.6224 / (b - 2.0)
            out, done = lam * 0.0, small
            for _ in range(POISSON_ROUNDS):
                if settled(done):
                    break
                uu = rand(*shape, dtype=rate.dtype, backend=rate.backend) - 0.5
                v = rand(*shape, dtype=rate.dtype, backend=rate.backend)
                us = 0.5 - ops.abs(uu)
                k = ops.floor((a * 2.0 / us + b) * uu + lam + 0.43)
                quick = ops.logical_and(us >= 0.07, v <= vr)
                hopeless = ops.logical_or(k < 0, ops.logical_and(us < 0.013, v > us))
                kk = ops.where(k < 0, 0.0, k)
                slow = (ops.log(ops.clip(v, 1e-30, None)) + log_invalpha
                        - ops.log(a / (us * us) + b)) <= -lam + kk * loglam - _log_factorial(kk)
                accept = ops.logical_or(quick, ops.logical_and(ops.logical_not(hopeless), slow))
                out = ops.where(ops.logical_and(accept, ops.logical_not(done)), kk, out)
                done = ops.logical_or(done, accept)
            return ops.where(small, counted, out)

    def log_prob(self, value):
        """k log rate - rate - log k!; from k = SADDLE_FROM its saddle-point form, where
        those terms cancel (log Poisson(1e5; 1e5) was -6.75 in float32, for -6.6754)."""
        value = self._value(value)
        plain = ops.xlogy(value, self.rate) - self.rate - lgamma(value + 1.0)
        large = (value >= SADDLE_FROM) & (self.rate > 0)
        k_, rate_ = ops.where(large, value, SADDLE_FROM), ops.where(large, self.rate, 1.0)
        return ops.where(large, log_poisson(k_, rate_), plain)


__all__ = ["Bernoulli", "Binomial", "Categorical", "Geometric", "OneHotCategorical",
           "Poisson"]


def _log_sigmoid(x):
    return -(ops.maximum(-x, 0.0) + ops.log1p(ops.exp(-ops.abs(x))))


class NegativeBinomial(Distribution):
    """The number of successes before ``total_count`` failures, each trial a success
    with probability ``probs`` (PyTorch's convention)."""

    arg_constraints = {"total_count": NONNEGATIVE}
    support = NONNEGATIVE_INTEGER
    _params = ("total_count", "logits")
    param_shape = PARAM_SHAPE

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        _, logits_, _ = _probs_or_logits("NegativeBinomial", probs, logits)
        (self.total_count, self.logits), shape = parameters(total_count, logits_)
        self.probs = ops.sigmoid(self.logits)
        super().__init__(shape, (), validate_args)

    def expand(self, batch_shape):
        shape = tuple(batch_shape)
        return NegativeBinomial(ops.broadcast_to(self.total_count, shape),
                                logits=ops.broadcast_to(self.logits, shape), validate_args=False)

    mean = property(lambda self: self.total_count * ops.exp(self.logits))
    mode = property(lambda self: ops.maximum(
        ops.floor((self.total_count - 1.0) * ops.exp(self.logits)), 0.0))
    variance = property(lambda self: self.mean / ops.sigmoid(-self.logits))

    def log_prob(self, value):
        """log C(k + r - 1, k) + k log p + r log(1 - p); for k > 0, r / (r + k) times
        Binomial(r; r + k, 1 - p) in its saddle-point form (R's dnbinom), where the lgammas
        of k + r and k cancel (k = 7e4 of r = 1e4 was 0.05 off in float32)."""
        value = self._value(value)
        r = self.total_count
        unnormalized = r * _log_sigmoid(-self.logits) + value * _log_sigmoid(self.logits)
        norm = -lgamma(r + value) + lgamma(1.0 + value) + lgamma(r)
        plain = unnormalized - ops.where(r + value == 0.0, 0.0, norm)
        large = (value > 0) & (r > 0)
        k_, r_ = ops.where(large, value, 1.0), ops.where(large, r, 1.0)
        saddle = ops.log(r_ / (r_ + k_)) + log_binomial(r_, k_, ops.sigmoid(-self.logits),
                                                        ops.sigmoid(self.logits))
        return ops.where(large, saddle, plain)

    def sample(self, sample_shape=()):
        rate = Gamma(self.total_count, ops.exp(-self.logits),
                     validate_args=False).sample(sample_shape)
        return Poisson(rate, validate_args=False).sample()


class Multinomial(Distribution):
    """Counts of ``total_count`` draws (a Python int) over the categories of the last
    axis of probs or logits."""

    _params = ("probs",)
    param_shape = PARAM_SHAPE

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int) or total_count < 0:
            raise ValueError(f"Multinomial: total_count must be a non-negative int, got "
                             f"{total_count!r}")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self.probs, self.logits = self._categorical.probs, self._categorical.logits
        super().__init__(self._categorical.batch_shape, self.probs.shape[-1:], validate_args)

    mean = property(lambda self: self.probs * float(self.total_count))
    variance = property(lambda self: self.probs * (1.0 - self.probs) * float(self.total_count))

    def entropy(self):
        """n H(categorical) - log n! + sum_k E[log x_k!], x_k binomial (PyTorch's sum over
        the support 1..n)."""
        n, p = float(self.total_count), self.probs
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1.0)
        if not self.total_count:
            return term1
        s = arange(1, self.total_count + 1, dtype=p.dtype, backend=p.backend).reshape(
            (self.total_count,) + (1,) * p.ndim)
        log_binomial = (math.lgamma(n + 1.0) - lgamma(s + 1.0) - lgamma(n - s + 1.0)
                        + ops.xlogy(s, p) + ops.xlogy(n - s, 1.0 - p))
        return term1 + (ops.exp(log_binomial) * lgamma(s + 1.0)).sum((0, -1))

    def expand(self, batch_shape):
        return Multinomial(self.total_count, logits=ops.broadcast_to(
            self.logits, tuple(batch_shape) + self.event_shape), validate_args=False)

    def sample(self, sample_shape=()):
        """Up to MULTINOMIAL_PICKS draws, the categories picked, counted; past it, in
        memory of the sample's size whatever total_count is, each category's count a
        Binomial draw of the draws left at its share of the probability left, p_j / (p_j +
        ... + p_k) (the suffix sums add positive terms: no cancellation)."""
        shape = tuple((sample_shape,) if isinstance(sample_shape, int) else sample_shape)
        k = self.probs.shape[-1]
        if self.total_count <= MULTINOMIAL_PICKS:
            picks = self._categorical.sample((self.total_count,) + shape)
            counts = (ops.unsqueeze(picks, -1) == arange(k, backend=picks.backend)).to(
                self.probs.dtype)
            return counts.sum(0)
        p = ops.broadcast_to(self.probs, shape + tuple(self.probs.shape))
        tails = ops.flip(ops.cumsum(ops.flip(p, -1), -1), -1)
        left = p[..., 0] * 0.0 + float(self.total_count)
        counts = []
        for j in range(k - 1):
            share = ops.where(tails[..., j] > 0, p[..., j] / ops.where(tails[..., j] > 0,
                                                                     tails[..., j], 1.0), 0.0)
            count = Binomial(left, probs=ops.clip(share, 0.0, 1.0), validate_args=False).sample()
            counts.append(count)
            left = left - count
        return ops.stack(counts + [left], -1)

    def log_prob(self, value):
        """log n! - sum log k! + sum k log p, as Loader's saddle-point form for n >= 1:
        stirling_error(n) - sum stirling_error(k) - sum deviance(k, n p) + log(n) / 2 - sum
        log(2 pi k) / 2 + log(2 pi) / 2 over the counted categories (the lgammas cancelled:
        log P of 1e6 draws over 4 categories was 0.67 off in float32)."""
        value = self._value(value)
        logits = ops.where(ops.logical_and(value == 0, self.logits == -math.inf), 0.0,
                           self.logits)
        n = value.sum(-1)
        plain = lgamma(n + 1.0) - lgamma(value + 1.0).sum(-1) + (logits * value).sum(-1)
        counted = value > 0
        k_ = ops.where(counted, value, 1.0)
        expected = ops.unsqueeze(n, -1) * self.probs
        none = (value == 0) & (expected == 0)              # no draw where none is expected
        spread = ops.where(none, 0.0, deviance(value, ops.where(none, 1.0, expected)))
        n_ = ops.where(n >= 1, n, 1.0)
        saddle = (stirling_error(n_) - ops.where(counted, stirling_error(k_), 0.0).sum(-1)
                  - spread.sum(-1) + 0.5 * ops.log(n_)
                  - ops.where(counted, 0.5 * ops.log(k_) + HALF_LOG_2PI, 0.0).sum(-1)
                  + HALF_LOG_2PI)
        return ops.where(n >= 1, saddle, plain)
