"""Activations and normalizers: a backend fast path when offered, else a
fallback composed of primitives; backward always in tensor ops."""

from ..autograd import Op, run
from ..shapes import normalize_axis
from .elementwise import _float_input, abs as abs_, exp, float_unary, log1p, maximum, minimum
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
    """relu's backward, g where x > 0 else 0: one op, so that a backend can make it one
    pass (composed, it is a comparison, a cast and a product)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, g, x):
        b = self.backend
        if b.fast_relu_grad is not None:
            return b.fast_relu_grad(g, x)
        return b.mul(g, b.cast(b.gt(x, b.full((), 0, self.dtype)), self.dtype))

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
    """max(x, 0); the gradient at 0 is 0."""
    return float_unary(Relu, "relu", x)


def sigmoid(x):
    """1 / (1 + exp(-x)), within a few ULP everywhere and never overflowing."""
    return float_unary(Sigmoid, "sigmoid", x)


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


def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): exact in both tails (x itself
    far left, -exp(-x) far right), where log(sigmoid(x)) gives -inf or 0."""
    x = _float_input("log_sigmoid", x)
    return minimum(x, 0.0) - log1p(exp(-abs_(x)))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum for stability."""
    x = _float_input("softmax", x)
    axis = normalize_axis("softmax", axis, x.ndim, x.shape)
    return run(Softmax(axis), (x,), x.shape, x.dtype)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large inputs."""
    x = _float_input("log_softmax", x)
    axis = normalize_axis("log_softmax", axis, x.ndim, x.shape)
    return run(LogSoftmax(axis), (x,), x.shape, x.dtype)
