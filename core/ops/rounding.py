"""Rounding to integral values: floor, ceil, trunc and round (halves to even), as
PyTorch's. A zero result keeps x's sign (ceil(-0.5) and round(-0.4) are -0), inf and
NaN pass through, an integer tensor comes back as it is, and the gradient is zero.

A backend has no rounding primitive; where it has no fast_rounding, each is composed
of the float-to-integer cast (which truncates toward zero on every backend),
comparisons and wheres. A float of magnitude 2**(p - 1) or more (p its significand's
bits) is an integer already and passes through, so the cast never saturates."""

import numbers

from .. import dtypes as dt
from ..autograd import Op, run
from ..errors import DTypeError
from ._util import as_tensor, zeros_like_grad
from .elementwise import check_ordered, mul

MODES = ("floor", "ceil", "trunc", "round")


def rounded(b, x, mode, dtype):
    """Buffer x (float ``dtype``) rounded by ``mode`` on backend b: its fast_rounding, or
    the composition of casts to int64 (float64) or int32."""
    if b.fast_rounding is not None:
        return b.fast_rounding(x, mode)
    index = dt.int64 if dtype is dt.float64 else dt.int32
    c = lambda v: b.full((), v, dtype)       # noqa: E731
    t = b.cast(b.cast(x, index), dtype)      # toward zero
    one = c(1.0)
    if mode == "floor":
        r = b.where(b.gt(t, x), b.sub(t, one), t)
    elif mode == "ceil":
        r = b.where(b.lt(t, x), b.add(t, one), t)
    elif mode == "round":
        d, half = b.sub(x, t), c(0.5)           # exact: |d| < 1
        h = b.mul(t, half)
        tie_up = b.ne(h, b.cast(b.cast(h, index), dtype))   # t is odd
        up = b.where(b.eq(d, half), tie_up, b.gt(d, half))
        down = b.where(b.eq(d, b.neg(half)), tie_up, b.lt(d, b.neg(half)))
        r = b.where(up, b.add(t, one), b.where(down, b.sub(t, one), t))
    else:
        r = t
    r = b.where(b.eq(r, c(0.0)), b.mul(x, c(0.0)), r)      # the sign of x's zero
    whole = c(2.0 ** (dt.finfo(dtype).nmant))
    return b.where(b.lt(b.abs(x), whole), r, x)


class Rounding(Op):
    """One of MODES on a float tensor; the gradient is zero, as PyTorch's."""

    __slots__ = ("mode", "dtype")

    def __init__(self, mode, dtype):
        self.mode, self.dtype = mode, dtype

    def forward(self, x):
        return rounded(self.backend, x, self.mode, self.dtype)

    def backward(self, g, x):
        return (zeros_like_grad(g),)


def _rounding(mode):
    def fn(x):
        x = as_tensor(x, mode)
        check_ordered(mode, x)
        if x.dtype is dt.bool_:
            raise DTypeError(f"{mode}: a bool tensor has nothing to round; cast it to a "
                             f"number first, e.g. x.to(ember.float32)")
        if not x.dtype.is_inexact:
            return x
        return run(Rounding(mode, x.dtype), (x,), x.shape, x.dtype)
    fn.__name__ = fn.__qualname__ = mode
    return fn


floor, ceil, trunc = _rounding("floor"), _rounding("ceil"), _rounding("trunc")
floor.__doc__ = "The largest integral value at most x, elementwise (floor(-0.5) is -1)."
ceil.__doc__ = "The smallest integral value at least x, elementwise (ceil(-0.5) is -0)."
trunc.__doc__ = "x rounded toward zero, elementwise (trunc(-0.5) is -0)."
_round = _rounding("round")


def round(x, decimals=0):  # noqa: A001  (torch.round)
    """x rounded to the nearest integral value, halves to even (round(2.5) is 2), as
    torch.round; with ``decimals``, as PyTorch does it: round(x * 10**decimals) /
    10**decimals (negative decimals: round(x / 10**-decimals) * 10**-decimals)."""
    if not isinstance(decimals, numbers.Integral) or isinstance(decimals, bool):
        raise ValueError(f"round: decimals must be an int, got {decimals!r}")
    if not decimals:
        return _round(x)
    x = as_tensor(x, "round")
    if decimals > 0:
        return _round(mul(x, 10.0 ** decimals)) / (10.0 ** decimals)
    return _round(x / (10.0 ** -decimals)) * (10.0 ** -decimals)
