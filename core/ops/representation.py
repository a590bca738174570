"""A float's exponent and its neighbours, torch.frexp and torch.nextafter, composed of
arithmetic that is exact (products by powers of two, one rounded sum), so they run and
compile on every backend without reading bits."""

import collections

import numpy as np

from .. import dtypes as dt
from ._util import as_tensor, binary_operands
from .arithmetic import exp2, log2
from .elementwise import abs as abs_, cast, logical_and, logical_or, maximum, sign, where
from .nonfinite import isinf, isnan
from .rounding import floor

Frexp = collections.namedtuple("Frexp", "mantissa exponent")
#: the float's precision p: x + |x| 2^-p (1 + 2^-(p-1)) is x's upper neighbour (the step
#: lies strictly between half an ULP and one, so rounding cannot tie)
PRECISION = {dt.float16: 11, dt.bfloat16: 8, dt.float32: 24, dt.float64: 53}


def _float(name, x):
    if not x.dtype.is_float:
        from ..errors import DTypeError
        raise DTypeError(f"{name}: float tensors only, got {x.dtype.name}; cast first, e.g. "
                         f"x.to(ember.float32)")
    return x


def frexp(x):
    """(mantissa, exponent) with x = mantissa 2^exponent, |mantissa| in [1/2, 1), the
    exponent int32, as torch.frexp; 0, inf and NaN give themselves and exponent 0 (-0
    keeps its sign). Subnormals (and the smallest normals) are scaled up first; log2
    guesses the exponent and one exact halving or doubling corrects it; no intermediate
    is subnormal, so a backend that flushes them (wgpu) gives the same."""
    x = _float("frexp", as_tensor(x, "frexp"))
    lift = -PRECISION[x.dtype]                   # 2^-lift lifts a subnormal to normal
    a = abs_(x)
    ordinary = logical_and(a > 0, a < np.inf)
    small = a < float(dt.finfo(x.dtype).tiny) * 64.0
    a = where(ordinary, where(small, a * 2.0 ** -lift, a), 1.0)
    e = floor(log2(a)) + 1.0
    m = (a * 0.25) * exp2(2.0 - e)       # both factors normal: a flushing backend keeps them
    up, down = m >= 1.0, m < 0.5
    m = where(up, m * 0.5, where(down, m * 2.0, m))
    e = e + where(up, 1.0, where(down, -1.0, 0.0)) + where(small, float(lift), 0.0)
    mantissa = where(ordinary, where(x < 0, -m, m), x)
    return Frexp(mantissa, cast(where(ordinary, e, 0.0), dt.int32))


def nextafter(x, y):
    """The float next to x towards y, as torch.nextafter: y where x == y, NaN if either
    is, +-the smallest subnormal from 0, +-inf past the largest finite value and the
    largest finite from +-inf. x +- |x| 2^-p (1 + 2^-(p-1)) rounds to the neighbour
    (halfway is impossible); the smallest subnormal where that step is smaller."""
    x, y, _ = binary_operands("nextafter", x, y)
    x = _float("nextafter", x)
    p, info = PRECISION[x.dtype], dt.finfo(x.dtype)
    smallest, largest = float(info.smallest_subnormal), float(info.max)
    finite = where(isinf(x), 0.0, x)
    step = maximum(abs_(finite) * (2.0 ** -p * (1 + 2.0 ** (1 - p))), smallest)
    moved = where(y > x, finite + step, finite - step)
    moved = where(isinf(x), sign(x) * largest, where(moved == 0, x * 0.0, moved))
    out = where(x == y, y, moved)
    return where(logical_or(isnan(x), isnan(y)), np.nan, out)
