"""Functions whose value is composed of primitives (series, rational approximations,
reductions of the argument) and whose gradient is their derivative's formula: autograd
differentiates the formula, not the composition, which would cost as many backward
steps as the value took forward ones and follow its approximation's wiggles."""

from .. import dtypes as dt
from ..autograd import Op, no_grad, run
from .elementwise import _real_float_input, cast


class Known(Op):
    """A value computed without autograd, joined to its inputs by their derivatives
    ``slopes(*inputs)`` (differentiable again: tensor ops)."""

    __slots__ = ("slopes",)

    def __init__(self, slopes):
        self.slopes = slopes

    def forward(self, value, *inputs):
        return value

    def backward(self, g, value, *inputs):
        return (None,) + tuple(g * s if t.requires_grad else None
                               for s, t in zip(self.slopes(*inputs), inputs))


def with_slopes(value, inputs, slopes):
    """``value`` (computed without autograd) as a function of ``inputs``."""
    return run(Known(slopes), (value,) + tuple(inputs), value.shape, value.dtype)


def unary(name, compute, slope):
    """The elementwise function ``name``: compute(x) on real floats (16-bit ones in
    float32, rounded once; integers in the default float), its gradient slope(x)."""
    def fn(x):
        x = _real_float_input(name, x)
        wide = cast(x, dt.float32) if x.dtype in dt.HALF else x
        with no_grad():
            value = compute(wide.detach())
        value = cast(value, x.dtype) if value.dtype is not x.dtype else value
        return with_slopes(value, (x,), lambda x: (slope(x),))
    fn.__name__ = fn.__qualname__ = name
    return fn


def precision(x):
    """The dtype a composed function's series are sized for: float64 for float64
    tensors, float32 for the rest (16-bit floats compute in float32) and for numbers."""
    return dt.float64 if getattr(x, "dtype", None) is dt.float64 else dt.float32


def if_taken(taken, like, compute):
    """compute(), one form of a function composed of several, where some element takes
    that form (``taken``); else zeros like ``like``, without the form's ops. Read on the
    host, as the samplers' rounds are; while ember.compile traces, always computed (the
    graph keeps every form)."""
    from ..compile import is_compiling
    if is_compiling() or bool(taken.any().item()):
        return compute()
    return like * 0.0


def polynomial(z, coefficients):
    """sum_k c_k z^k over ``coefficients`` from the constant up (Horner), a tensor like z."""
    if len(coefficients) == 1:
        return z * 0.0 + coefficients[0]
    acc = z * coefficients[-1] + coefficients[-2]          # no inf * 0 at z = inf
    for c in reversed(coefficients[:-2]):
        acc = acc * z + c
    return acc
