"""erf and the exact GELU, x Phi(x): a backend's fast path where it has one (one pass,
float64 inside), else tensor ops (some thirty primitives; ember.compile fuses them).

Both hold float32's relative precision in their tails: erf is its Taylor series where
|x| < 3/4, else 1 - erfc; Phi(x) = erfc(-x / sqrt 2) / 2, where 1 + erf(x / sqrt 2)
cancels (4% off at GELU(-5), 0 at -7: PyTorch's float32 too). erfc is Numerical Recipes'
erfcc, within 1.2e-7 relative everywhere. float64 inputs get float64's precision from
the NumPy and OpenCL fast paths (their libm's erf and erfc), float32's from the tensor
ops; 16-bit floats compute in float32 and round once; integers and bools compute in the
default float; complex tensors are refused.
"""

import math

from .. import dtypes as dt
from ..autograd import Op, is_grad_enabled, run
from ._util import fast_path
from .elementwise import _real_float_input, abs as abs_, cast, exp, minimum, sign, where

#: Numerical Recipes' erfcc (Press et al., 2nd ed., 6.2): t exp(-a^2 + poly(t)),
#: t = 1 / (1 + a / 2), within 1.2e-7 of erfc(a) relative, for every a >= 0
ERFCC = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
         0.09678418, 0.37409196, 1.00002368, -1.26551223)
#: erf's Taylor series x sum c_n x^(2n), c_n = 2 / sqrt(pi) (-1)^n / (n! (2n + 1)), to
#: n = 9: within 1e-9 of it relative where |x| < 3/4
ERF_TAYLOR = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                   for n in reversed(range(10)))
#: where erf switches from its Taylor series to 1 - erfc
ERF_SWITCH = 0.75
#: |x| past which x's factor in GELU's slope is held (its phi(x) is 0 there): inf * 0
#: never gives NaN
GELU_SLOPE_CLIP = 100.0


def _in_float32(fn, x):
    """fn(x), on a 16-bit float x in float32 and rounded once: erfc's exact split
    (_erfc_of_abs) needs float32's precision."""
    if x.dtype in dt.HALF:
        return cast(fn(cast(x, dt.float32)), x.dtype)
    return fn(x)


def horner(x, coefficients):
    """sum c x^k over ``coefficients`` from the highest power down (tensor or number)."""
    acc = x * coefficients[0] + coefficients[1]
    for c in coefficients[2:]:
        acc = acc * x + c
    return acc


def _erfc_of_abs(a, square=1.0):
    """erfc(u) for u = a sqrt(square) >= 0 (NaN stays NaN), as ERFCC. Its exp(-u^2) is
    exp(-square z^2) exp(square (z^2 - a^2)) with z = a to a multiple of 2^-8, so that
    square z^2 is exact in float32 (square is 1 or 1/2): u^2 rounded, or u rounded
    before it, costs u^2 ULP (4% at GELU(-5) with the old formula). 0 past u = 10.06."""
    a = minimum(a, 10.5 / math.sqrt(square))              # erfc(10.5) is 0 in float32
    z = (a + 49152.0) - 49152.0                             # 1.5 * 2^15: its ULP is 2^-8
    t = 1.0 / (1.0 + (0.5 * math.sqrt(square)) * a)
    return t * exp((z * z) * -square) * exp(((z - a) * (z + a)) * square + horner(t, ERFCC))


class Erf(Op):
    """erf through the backend's fast_erf; backward 2 / sqrt(pi) exp(-x^2) in tensor ops."""

    __slots__ = ()

    def forward(self, x):
        return self.backend.fast_erf(x)

    def backward(self, g, x):
        return (g * exp(x * x * -1.0) * (2 / math.sqrt(math.pi)),)


class Gelu(Op):
    """x Phi(x) through the backend's fast_gelu; backward its fast_gelu_grad, g (Phi(x) +
    x phi(x)), or, for a gradient's own graph, that slope in tensor ops."""

    __slots__ = ()

    def forward(self, x):
        return self.backend.fast_gelu(x)

    def backward(self, g, x):
        if is_grad_enabled():
            return (g * gelu_slope(x),)
        return (fast_path("fast_gelu_grad", g, g, x),)


def erf(x):
    """The error function, within 3 ULP of float32 everywhere (see the module)."""
    x = _real_float_input("erf", x)

    def compute(x):
        if x._backend.fast_erf is not None:
            return run(Erf(), (x,), x.shape, x.dtype)
        small = abs_(x) < ERF_SWITCH
        xs = where(small, x, 0.0)             # each branch sees only its own inputs, so
        near0 = xs * horner(xs * xs, ERF_TAYLOR)    # neither gives the other NaN gradients
        far = sign(x) * (1.0 - _erfc_of_abs(where(small, 1.0, abs_(x))))
        return where(small, near0, far)
    return _in_float32(compute, x)


def gelu(x):
    """GELU, x Phi(x), within 8 ULP of float32 everywhere (see the module); +inf -> inf,
    -inf -> NaN (as PyTorch: -inf * 0)."""
    x = _real_float_input("gelu", x)

    def compute(x):
        if x._backend.fast_gelu is not None:
            return run(Gelu(), (x,), x.shape, x.dtype)
        e = _erfc_of_abs(abs_(x), square=0.5)
        return 0.5 * x * where(x < 0, e, 2.0 - e)
    return _in_float32(compute, x)


def gelu_slope(x):
    """GELU's derivative Phi(x) + x phi(x) in tensor ops (differentiable again)."""
    e = _erfc_of_abs(abs_(x), square=0.5)
    held = minimum(abs_(x), GELU_SLOPE_CLIP) * sign(x)
    return 0.5 * where(x < 0, e, 2.0 - e) + held * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
