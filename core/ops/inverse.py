"""The inverse trigonometric and hyperbolic functions (atan, atan2, asin, acos, asinh,
acosh, atanh), as C99's and PyTorch's at their edges: odd ones keep -0, atan2 follows
the signs of zeros and infinities, a point outside the domain gives NaN.

A backend has no primitive for them: each value is composed of primitives in x's dtype
(16-bit floats in float32), within a few ULP of float64 everywhere: atan is Cephes'
(Moshier's) rational approximation after reducing |x| below 0.66; atan2, asin and acos
go through atan; the hyperbolic ones through log1p in forms that neither cancel nor
overflow. Their gradients are the derivatives' formulas (in tensor ops, so
differentiable again), not the compositions' own."""

import math

from .. import dtypes as dt
from ..autograd import no_grad
from .elementwise import (_real_float_input, abs as abs_, cast, log, log1p, logical_and,
                          logical_or, maximum, sqrt, where)
from ..creation import full_like
from ._util import binary_operands
from .composed import unary as _unary, with_slopes as _with_slopes
from .movement import broadcast_to

#: Cephes atan.c: atan(t) = t + t z P(z) / Q(z), z = t^2, for |t| <= 0.66 (Q monic)
ATAN_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
          -1.228866684490136173410e2, -6.485021904942025371773e1)
ATAN_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
          4.853903996359136964868e2, 1.945506571482613964425e2)
#: tan(3 pi / 8), past which atan(x) = pi / 2 - atan(1 / x)
T3P8 = 2.41421356237309504880
#: past this magnitude asinh(x) = log(2 |x|) and acosh(x) = log(2 x) to the last bit
LARGE = 2.0 ** 28


def _atan(x):
    """atan(x): |x| reduced to t <= 0.66 (past tan(3 pi / 8): -1 / |x| and pi / 2; past
    0.66: (|x| - 1) / (|x| + 1) and pi / 4); a small x as it is; zeros keep their sign."""
    a = abs_(x)
    big, mid = a > T3P8, a > 0.66
    t = where(big, -1.0 / where(big, a, 1.0), where(mid, (a - 1.0) / (a + 1.0), x))
    z = t * t
    p = ATAN_P[0]
    for c in ATAN_P[1:]:
        p = p * z + c
    q = z + ATAN_Q[0]
    for c in ATAN_Q[1:]:
        q = q * z + c
    core = t * (z * p / q) + t
    reduced = where(big, core + math.pi / 2, core + math.pi / 4)
    return where(mid, where(x < 0, -reduced, reduced), where(x == 0, x, core))


def _negative(v):
    """v < 0, -0 included (its reciprocal is -inf)."""
    return logical_or(v < 0, logical_and(v == 0, 1.0 / v < 0))


def _signed(negative, magnitude, like):
    """-magnitude where ``negative``, else magnitude, in ``like``'s dtype and backend."""
    m = full_like(like, magnitude)
    return where(negative, -m, m)


def _atan2(y, x):
    """atan2(y, x), C99's: atan(y / x), then +-pi where x is negative (or -0); +-pi/2 on the
    y axis; the quadrant's diagonal where both are infinite; zeros keep y's sign."""
    both_inf = logical_and(abs_(y) == math.inf, abs_(x) == math.inf)
    diagonal = _signed(y * x < 0, 1.0, y)
    ratio = where(both_inf, diagonal, y / x)
    angle = _atan(where(x == 0, 0.0, ratio))                    # 0 / 0 and inf / inf aside
    y_negative = _negative(y)
    angle = where(x == 0, where(y == 0, y, _signed(y_negative, math.pi / 2, y)), angle)
    turn = _signed(y_negative, math.pi, y)
    flipped = where(y == 0, turn, angle + turn)                  # x < 0: opposite half
    angle = where(_negative(x), where(logical_and(x == 0, y != 0), angle, flipped), angle)
    return where(y != y, y, angle)                               # NaN on the y axis too


def atan2(y, x):
    """The angle of (x, y) in (-pi, pi], C99's (and PyTorch's) atan2 at zeros and
    infinities; differentiable: (x dy - y dx) / (x^2 + y^2)."""
    y, x, _ = binary_operands("atan2", y, x)
    y, x = _real_float_input("atan2", y), _real_float_input("atan2", x)
    wy, wx = (cast(v, dt.float32) if v.dtype in dt.HALF else v for v in (y, x))
    with no_grad():
        value = _atan2(wy.detach(), wx.detach())
    value = cast(value, y.dtype) if value.dtype is not y.dtype else value

    def slopes(y, x):
        s = maximum(abs_(x), abs_(y))        # scaled: x^2 + y^2 neither overflows nor underflows
        xs, ys = x / s, y / s
        r = (xs * xs + ys * ys) * s
        return xs / r, -ys / r
    return _with_slopes(value, (broadcast_to(y, value.shape), broadcast_to(x, value.shape)),
                        slopes)


def _one_minus_square(x):
    """1 - x^2 as (1 - x)(1 + x): exact factors near |x| = 1."""
    return (1.0 - x) * (1.0 + x)


atan = _unary("atan", _atan, lambda x: 1.0 / (1.0 + x * x))
asin = _unary("asin", lambda x: _atan2(x, sqrt(_one_minus_square(x))),
              lambda x: 1.0 / sqrt(_one_minus_square(x)))
acos = _unary("acos", lambda x: _atan2(sqrt(_one_minus_square(x)), x),
              lambda x: -1.0 / sqrt(_one_minus_square(x)))


def _asinh(x):
    a = abs_(x)
    big = a > LARGE
    small = where(big, 0.0, a)
    r = where(big, log(a) + math.log(2),
              log1p(small + small * small / (1.0 + sqrt(1.0 + small * small))))
    return where(x == 0, x, where(x < 0, -r, r))


def _acosh(x):
    big = x > LARGE
    t = where(big, 0.0, x - 1.0)
    r = where(big, log(x) + math.log(2), log1p(t + sqrt(t * (t + 2.0))))
    return where(x < 1.0, full_like(x, math.nan), r)


def _atanh(x):
    """glibc's: on |x|, log1p(2a + 2a^2 / (1 - a)) / 2 below 1/2, log1p(2a / (1 - a)) / 2
    above (1 - a exact there); the sign restored, zeros keeping theirs."""
    a = abs_(x)
    r = 0.5 * where(a < 0.5, log1p(2.0 * a + 2.0 * a * a / (1.0 - a)), log1p(2.0 * a / (1.0 - a)))
    return where(x == 0, x, where(x < 0, -r, r))


asinh = _unary("asinh", _asinh, lambda x: 1.0 / sqrt(1.0 + x * x))
acosh = _unary("acosh", _acosh, lambda x: 1.0 / sqrt((x - 1.0) * (x + 1.0)))
atanh = _unary("atanh", _atanh, lambda x: 1.0 / _one_minus_square(x))
for _f, _doc in ((atan, "atan(x), in [-pi/2, pi/2]"), (asin, "asin(x), NaN outside [-1, 1]"),
                 (acos, "acos(x), NaN outside [-1, 1]"), (asinh, "asinh(x)"),
                 (acosh, "acosh(x), NaN below 1"), (atanh, "atanh(x), +-inf at +-1, NaN past")):
    _f.__doc__ = f"Elementwise {_doc}, within a few ULP (see the module)."
