"""Weight initializers, drawn from ember's seeded host generator.

Each returns a new tensor of ``shape``; the same seed gives bit-identical
values on every backend. Fans follow PyTorch: for a weight of shape
(out, in, *kernel), fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
"""

import math
import statistics
import warnings

import numpy as np

import ember
from ember.errors import ShapeError

_GAINS = {"linear": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
          "selu": 0.75}


def fans(shape):
    if len(shape) < 2:
        raise ShapeError(f"initializer: fan in and fan out need a shape of at least 2 "
                         f"dimensions, got {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; known: "
                         + ", ".join(sorted(_GAINS) + ["leaky_relu"]))
    return _GAINS[nonlinearity]


def uniform(shape, low=0.0, high=1.0, dtype=None, backend=None):
    return ember.uniform(low, high, tuple(shape), dtype=dtype, backend=backend)


def normal(shape, mean=0.0, std=1.0, dtype=None, backend=None):
    return ember.normal(mean, std, tuple(shape), dtype=dtype, backend=backend)


def zeros(shape, dtype=None, backend=None):
    return ember.zeros(tuple(shape), dtype=dtype, backend=backend)


def ones(shape, dtype=None, backend=None):
    return ember.ones(tuple(shape), dtype=dtype, backend=backend)


def _empty(shape, dtype, backend):
    """The tensor of a zero-element ``shape`` (whose fans may be 0: no scale to draw
    with), with PyTorch's warning."""
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return zeros(shape, dtype, backend)


def xavier_uniform(shape, gain=1.0, dtype=None, backend=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    if not math.prod(shape):
        return _empty(shape, dtype, backend)
    fan_in, fan_out = fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -a, a, dtype, backend)


def xavier_normal(shape, gain=1.0, dtype=None, backend=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    if not math.prod(shape):
        return _empty(shape, dtype, backend)
    fan_in, fan_out = fans(shape)
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), dtype, backend)


def _kaiming_std(shape, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", dtype=None,
                    backend=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    if not math.prod(shape):
        return _empty(shape, dtype, backend)
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(shape, -bound, bound, dtype, backend)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", dtype=None,
                   backend=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if not math.prod(shape):
        return _empty(shape, dtype, backend)
    return normal(shape, 0.0, _kaiming_std(shape, a, mode, nonlinearity), dtype, backend)


def trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0, dtype=None, backend=None):
    """N(mean, std^2) kept to [a, b] (as torch.nn.init.trunc_normal_, the bounds are
    values, not standard deviations): draws outside are drawn again, from ember's seeded
    generator; after 64 rounds (an interval far in a tail) the few left come from the
    normal's inverse CDF over the interval."""
    if not a < b or std <= 0:
        raise ValueError(f"trunc_normal: needs a < b and std > 0, got a={a}, b={b}, std={std}")
    rng = ember.random.generator()
    values = rng.normal(mean, std, tuple(shape))
    for _ in range(64):
        outside = (values < a) | (values > b)
        if not outside.any():
            break
        values[outside] = rng.normal(mean, std, int(outside.sum()))
    else:
        dist = statistics.NormalDist(mean, std)
        lo, hi = dist.cdf(a), dist.cdf(b)
        outside = (values < a) | (values > b)
        values[outside] = [dist.inv_cdf(lo + (hi - lo) * u) for u in rng.uniform(
            0, 1, int(outside.sum()))]
    return ember.tensor(values.clip(a, b), dtype=dtype or ember.default_float, backend=backend)


def _matrix_shape(op, shape, least=2):
    shape = tuple(shape)
    if len(shape) < least:
        raise ShapeError(f"{op}: needs a tensor of {least} or more dimensions, got shape {shape}")
    return shape


def orthogonal(shape, gain=1.0, dtype=None, backend=None):
    """A (semi-)orthogonal matrix of shape (rows, prod(rest)), reshaped: the Q of a QR
    of standard normal draws, its columns' signs made R's diagonal's (so Q is uniform
    over the orthogonal group; Saxe et al. 2013), times gain, as PyTorch's."""
    shape = _matrix_shape("orthogonal", shape)
    rows, cols = shape[0], math.prod(shape[1:])
    flat = ember.random.generator().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return ember.tensor(q.reshape(shape) * gain, dtype=dtype or ember.default_float,
                        backend=backend)


def eye(shape, dtype=None, backend=None):
    """The identity matrix of a 2-D shape (ones on the diagonal)."""
    shape = _matrix_shape("eye", shape)
    if len(shape) != 2:
        raise ShapeError(f"eye: needs a 2-D tensor, got shape {shape}")
    return ember.tensor(np.eye(*shape), dtype=dtype or ember.default_float, backend=backend)


def dirac(shape, groups=1, dtype=None, backend=None):
    """A convolution kernel (3-D to 5-D) that passes each of the first input channels
    through to its output channel, per group: the identity convolution."""
    shape = _matrix_shape("dirac", shape, 3)
    if len(shape) > 5 or shape[0] % groups:
        raise ShapeError(f"dirac: needs a 3-D to 5-D tensor whose first dimension divides "
                         f"into {groups} groups, got shape {shape}")
    values = np.zeros(shape)
    per_group = shape[0] // groups
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            values[(g * per_group + d, d) + centre] = 1.0
    return ember.tensor(values, dtype=dtype or ember.default_float, backend=backend)


def sparse(shape, sparsity, std=0.01, dtype=None, backend=None):
    """N(0, std^2) values with ceil(sparsity * rows) of each column's set to zero, at
    random rows (Martens 2010), as PyTorch's."""
    shape = _matrix_shape("sparse", shape)
    if len(shape) != 2:
        raise ShapeError(f"sparse: needs a 2-D tensor, got shape {shape}")
    rng = ember.random.generator()
    rows, cols = shape
    values = rng.normal(0.0, std, shape)
    zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        values[rng.permutation(rows)[:zeros], c] = 0.0
    return ember.tensor(values, dtype=dtype or ember.default_float, backend=backend)


INITIALIZERS = {
    "xavier_uniform": xavier_uniform, "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal, "glorot_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform, "he_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal, "he_normal": kaiming_normal,
    "zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform,
    "trunc_normal": trunc_normal, "orthogonal": orthogonal,
}


# -- PyTorch's in-place forms: fill an existing tensor (a layer's weight) --------------
def _fill(tensor, make, *args):
    """``tensor`` given the values ``make(tensor.shape, *args, dtype, backend)`` draws,
    in place and outside autograd (as torch.nn.init's functions), and returned."""
    with ember.no_grad():
        return tensor.copy_(make(tensor.shape, *args, dtype=tensor.dtype,
                                 backend=tensor.backend))


def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, uniform, a, b)


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, normal, mean, std)


def constant_(tensor, val):
    with ember.no_grad():
        return tensor.copy_(val)


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    return _fill(tensor, xavier_uniform, gain)


def xavier_normal_(tensor, gain=1.0):
    return _fill(tensor, xavier_normal, gain)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _fill(tensor, kaiming_uniform, a, mode, nonlinearity)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return _fill(tensor, kaiming_normal, a, mode, nonlinearity)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    return _fill(tensor, trunc_normal, mean, std, a, b)


def orthogonal_(tensor, gain=1.0):
    return _fill(tensor, orthogonal, gain)


def eye_(tensor):
    return _fill(tensor, eye)


def dirac_(tensor, groups=1):
    return _fill(tensor, dirac, groups)


def sparse_(tensor, sparsity, std=0.01):
    return _fill(tensor, sparse, sparsity, std)
