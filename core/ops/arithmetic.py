"""Elementwise arithmetic composed of the primitives, each arranged to stay exact where
its textbook formula is not: PyTorch's square, rsqrt, reciprocal, lerp, logaddexp and
hypot. Integer inputs of rsqrt and reciprocal give the default float, as PyTorch's."""

import math

from ._util import as_tensor, binary_operands
from .elementwise import (_float_input, abs as abs_, eq, exp, log1p, logical_or, lt, maximum,
                          minimum, sqrt, where)


def square(x):
    """x * x (integers stay integers and wrap, as PyTorch's)."""
    x = as_tensor(x, "square")
    return x * x


def rsqrt(x):
    """1 / sqrt(x): inf at +0, -inf at -0 (1 / -0), 0 at inf, NaN below 0."""
    return 1.0 / sqrt(_float_input("rsqrt", x))


def reciprocal(x):
    """1 / x: inf at +0 and -inf at -0."""
    return 1.0 / _float_input("reciprocal", x)


def lerp(start, end, weight):
    """start + weight (end - start), PyTorch's: from the nearer end, so that weight 0
    gives start and weight 1 gives end exactly."""
    start, end, _ = binary_operands("lerp", start, end)
    diff = end - start
    return where(lt(abs_(as_tensor(weight, "lerp", like=start)), 0.5), start + weight * diff,
                 end - diff * (1.0 - weight))


def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)) = max + log1p(exp(-|x1 - x2|)), without overflow; equal
    arguments (equal infinities too, whose difference is NaN) give x1 + log(2), each
    taking half of the gradient, as PyTorch's."""
    x1, x2, _ = binary_operands("logaddexp", x1, x2)
    x1, x2 = _float_input("logaddexp", x1), _float_input("logaddexp", x2)
    same = eq(x1, x2)
    gap = abs_(where(same, 0.0, x1 - x2))
    return maximum(x1, x2) + log1p(exp(-gap))


def hypot(x1, x2):
    """sqrt(x1^2 + x2^2) as big * sqrt(1 + (small / big)^2): no overflow or underflow
    in the squares; inf when either is infinite (even beside NaN), as C's hypot."""
    x1, x2, _ = binary_operands("hypot", x1, x2)
    a, b = abs_(_float_input("hypot", x1)), abs_(_float_input("hypot", x2))
    big, small = maximum(a, b), minimum(a, b)
    ratio = small / where(eq(big, 0), 1.0, big)
    out = big * sqrt(ratio * ratio + 1.0)
    out = where(eq(big, 0), small, out)
    return where(logical_or(eq(a, math.inf), eq(b, math.inf)), math.inf, out)
