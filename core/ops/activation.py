"""Activations and normalizers: a backend fast path when offered, else a
fallback composed of primitives; backward always in tensor ops."""

import math

from .. import dtypes as dt
from ..autograd import Op, run
from ..shapes import normalize_axis
from ..tensor import Tensor
from ._util import rounds_once
from .elementwise import (_float_input, _real_float_input, _real_float32_input, abs as abs_, exp,
                          float_unary, log1p, maximum, minimum, tanh)
from .reduce import sum as sum_


class Relu(Op):
    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b = self.backend
        if b.fast_relu is not None:
            return b.fast_relu(x)
        return b.maximum(x, b.full((), 0, self.dtype))

    def backward(self, g, x):
        return (relu_grad(g, x),)


class ReluGrad(Op):
    """relu's backward, g where x > 0 else 0 (a select, as PyTorch's: an infinite or NaN
    g at x <= 0 gives 0, not inf * 0): one op, so that a backend can make it one pass."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, g, x):
        b = self.backend
        if b.fast_relu_grad is not None:
            return b.fast_relu_grad(g, x)
        zero = b.full((), 0, self.dtype)
        return b.where(b.gt(x, zero), g, zero)

    def backward(self, gg, g, x):
        return (relu_grad(gg, x), None)


def relu_grad(g, x):
    return run(ReluGrad(g.dtype), (g, x), g.shape, g.dtype)


class Sigmoid(Op):
    __slots__ = ("dtype",)
    saves_output = True

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b = self.backend
        if b.fast_sigmoid is not None:
            return b.fast_sigmoid(x)
        # e = exp(-|x|) never overflows, and e / (1 + e) keeps the negative tail's
        # relative precision (0.5 * tanh(x / 2) + 0.5 loses it below x = -9)
        one = b.full((), 1, self.dtype)
        e = b.exp(b.neg(b.abs(x)))
        return b.div(b.where(b.ge(x, b.full((), 0, self.dtype)), one, e), b.add(one, e))

    def backward(self, g, x):
        y = self.out
        return (g * y * (1.0 - y),)


GELU_C, GELU_A = math.sqrt(2.0 / math.pi), 0.044715
#: where the tanh of GELU is exactly +-1 in float32 and float64; the gradient's x terms
#: are computed on x clipped to it, so 0 * inf never gives NaN at huge |x|
GELU_CLIP = 100.0


class GeluTanh(Op):
    """GELU's tanh form, 0.5 x (1 + tanh(u)) with u = c (x + a x^3), as one op (composed
    it is eight passes, and as many in the backward). It is computed as x / (1 + e),
    e = exp(-2u), the same value without 1 + tanh(u)'s cancellation in the negative tail
    (PyTorch's float32 loses 1e-5 of the value at x = -3 there)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b = self.backend
        if b.fast_gelu_tanh is not None:
            return b.fast_gelu_tanh(x)
        return _in_float32(b, self.dtype, lambda x, d: b.div(x, b.add(_gelu_e(b, x, d),
                                                                       b.full((), 1, d))), x)

    def backward(self, g, x):
        return (run(GeluTanhGrad(g.dtype), (g, x), g.shape, g.dtype),)


def _in_float32(b, dtype, fn, *bufs):
    """``fn(*bufs, dtype)``, a composed fallback of several rounding steps; on 16-bit floats
    it runs in float32 and rounds once, as GPUs' and PyTorch's kernels do (rounded to
    bfloat16 at each step, GELU's left tail is 5 ULP off)."""
    if dtype in dt.HALF and dt.float32 in b.dtypes:
        return b.cast(fn(*(b.cast(x, dt.float32) for x in bufs), dt.float32), dtype)
    return fn(*bufs, dtype)


def _gelu_e(b, x, dtype):
    """exp(-2u) of GELU's tanh form, in primitives."""
    k = lambda v: b.full((), v, dtype)      # noqa: E731
    return b.exp(b.mul(b.add(x, b.mul(b.mul(b.mul(x, x), x), k(GELU_A))), k(-2 * GELU_C)))


class GeluTanhGrad(Op):
    """g * gelu'(x) for the tanh form, s + 2 x u' s (1 - s) with s = 1 / (1 + exp(-2u)),
    as one op; x is clipped where it multiplies s (1 - s), which is 0 there, so huge |x|
    gives 0 or 1, never 0 * inf. Its own backward is tensor ops (create_graph goes on)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, g, x):
        b = self.backend
        if b.fast_gelu_tanh_grad is not None:
            return b.fast_gelu_tanh_grad(g, x)

        def composed(g, x, dtype):
            k = lambda v: b.full((), v, dtype)      # noqa: E731
            s = b.div(k(1), b.add(_gelu_e(b, x, dtype), k(1)))
            xc = b.maximum(b.minimum(x, k(GELU_CLIP)), k(-GELU_CLIP))
            du = b.mul(b.add(b.mul(b.mul(xc, xc), k(3 * GELU_A)), k(1)), k(2 * GELU_C))
            slope = b.mul(b.mul(b.mul(xc, du), s), b.sub(k(1), s))
            return b.mul(g, b.add(slope, s))
        return _in_float32(b, self.dtype, composed, g, x)

    def backward(self, gg, g, x):
        # d/dg is gelu'(x) itself: this op again, on gg
        xc = x.clip(-GELU_CLIP, GELU_CLIP)
        du = (xc * xc * (3 * GELU_A) + 1.0) * GELU_C
        t = tanh(GELU_C * (x + GELU_A * x * x * x))
        s = 1.0 - t * t
        second = s * (du - xc * t * du * du + (3 * GELU_A * GELU_C) * xc * xc)
        return run(GeluTanhGrad(gg.dtype), (gg, x), gg.shape, gg.dtype), gg * g * second


class Softmax(Op):
    __slots__ = ("axis",)
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        b = self.backend
        if b.fast_softmax is not None:
            return b.fast_softmax(x, self.axis)
        axes = (self.axis,)
        e = b.exp(b.sub(x, b.max(x, axes, True)))
        return b.div(e, b.sum(e, axes, True))

    def backward(self, g, x):
        y = self.out
        return (y * (g - sum_(g * y, self.axis, keepdims=True)),)


class LogSoftmax(Op):
    __slots__ = ("axis",)
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        b = self.backend
        if b.fast_log_softmax is not None:
            return b.fast_log_softmax(x, self.axis)
        axes = (self.axis,)
        s = b.sub(x, b.max(x, axes, True))
        return b.sub(s, b.log(b.sum(b.exp(s), axes, True)))

    def backward(self, g, x):
        return (g - exp(self.out) * sum_(g, self.axis, keepdims=True),)


def relu(x):
    """max(x, 0); the gradient at 0 is 0. An integer tensor stays one (as torch.relu)."""
    if isinstance(x, Tensor) and x.dtype.is_int:
        return maximum(x, 0)
    return float_unary(Relu, "relu", x, _real_float_input)


def sigmoid(x):
    """1 / (1 + exp(-x)), within a few ULP everywhere and never overflowing."""
    return float_unary(Sigmoid, "sigmoid", x, _real_float_input)


@rounds_once
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, as torch.nn.functional.softplus: x itself where
    beta x > threshold; computed as max(x, 0) + log1p(exp(-|x|)), which neither
    overflows nor loses the tiny values of the negative tail."""
    x = _float_input("softplus", x)
    if beta <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    bx = x * beta if beta != 1 else x
    y = maximum(bx, 0.0) + log1p(exp(-abs_(bx)))
    y = y / beta if beta != 1 else y
    from .elementwise import where
    return where(bx > threshold, x, y)


@rounds_once
def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): exact in both tails (x itself
    far left, -exp(-x) far right), where log(sigmoid(x)) gives -inf or 0."""
    x = _float_input("log_sigmoid", x)
    return minimum(x, 0.0) - log1p(exp(-abs_(x)))


def gelu_tanh(x):
    """GELU's tanh approximation (torch.nn.functional.gelu(x, approximate="tanh")).
    Edges: +-0 -> +-0, subnormals -> x / 2, +inf -> +inf, -inf -> NaN as in PyTorch
    (-inf * 0); huge -x -> -0. Its gradient is 0 far left and 1 far right, where
    PyTorch's float32 gradient is NaN past |x| ~ 1e13."""
    return float_unary(GeluTanh, "gelu", x)


@rounds_once
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum for stability."""
    x = _real_float32_input("softmax", x)
    axis = normalize_axis("softmax", axis, x.ndim, x.shape)
    if x.size == 0:         # nothing to normalize (the backends' max of an empty axis fails)
        return x + 0.0
    return run(Softmax(axis), (x,), x.shape, x.dtype)


@rounds_once
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large inputs."""
    x = _real_float32_input("log_softmax", x)
    axis = normalize_axis("log_softmax", axis, x.ndim, x.shape)
    if x.size == 0:
        return x + 0.0
    return run(LogSoftmax(axis), (x,), x.shape, x.dtype)
