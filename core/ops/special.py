"""The error function family: erf and the exact GELU, x Phi(x) (a backend's fast path
where it has one: one pass, float64 inside), erfc, erfcx, erfinv, and the normal
distribution's ndtr, log_ndtr and ndtri, composed of primitives (ember.compile fuses
them), each to its dtype's relative precision in its tails too.

- erf is its Taylor series where |x| < 3/4, else 1 - erfc; Phi(x) = erfc(-x / sqrt 2) / 2,
  where 1 + erf(x / sqrt 2) cancels (4% off at GELU(-5), 0 at -7: PyTorch's float32 too).
- erfc(u) = erfcx(u) exp(-u^2), its exp exact in the square (_exp_square). erfcx in
  float32 is Numerical Recipes' erfcc without its exp (within 1.2e-7 relative); in
  float64 exp(u^2) (1 - erf(u)) below 3/4, a Taylor series about 1.875 to 3, Laplace's
  continued fraction past it (within 4 ULP measured).
- log_ndtr's lower tail is log erfcx - u^2 (no underflow); erfinv and ndtri take Halley
  steps from Winitzki's approximation, on erf near 0 and on log erfc in the tails.
- 16-bit floats compute in float32 and round once; integers and bools compute in the
  default float; complex tensors are refused.
"""
import math
from decimal import Decimal, localcontext

from .. import dtypes as dt
from ..autograd import Op, is_grad_enabled, run
from ._util import fast_path
from .composed import polynomial, unary
from .elementwise import (_real_float_input, abs as abs_, cast, exp, expm1, log, log1p,
                          logical_or, minimum,
                          sign, sqrt, where)

#: Numerical Recipes' erfcc (Press et al., 2nd ed., 6.2): t exp(-a^2 + poly(t)),
#: t = 1 / (1 + a / 2), within 1.2e-7 of erfc(a) relative, for every a >= 0
ERFCC = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
         0.09678418, 0.37409196, 1.00002368, -1.26551223)
#: erf's Taylor series x sum c_n x^(2n), c_n = 2 / sqrt(pi) (-1)^n / (n! (2n + 1)), to
#: n = 9: within 1e-9 of it relative where |x| < 3/4
ERF_TAYLOR = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                   for n in reversed(range(10)))
#: the same to n = 17, within float64's precision there
ERF_TAYLOR64 = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                     for n in reversed(range(18)))
#: float64's erfcx(u) = exp(u^2) erfc(u) from 3/4 to 3: its Taylor series about 1.875
#: (within 3e-16 relative over that span at 30 terms). erfcx(1.875) to 45 digits
#: (mpmath); the other coefficients follow exactly from erfcx' = 2 u erfcx - 2 / sqrt(pi):
#: a_(k+1) = (2 c a_k + 2 a_(k-1)) / (k + 1), computed in Decimal
ERFCX_CENTER = 1.875
ERFCX_AT_CENTER = "0.269429985164670451746050437228595267254334364"
PI_DIGITS = "3.1415926535897932384626433832795028841971693993751"


def _erfcx_taylor(terms):
    with localcontext() as context:
        context.prec = 50
        c, a0 = Decimal(ERFCX_CENTER), Decimal(ERFCX_AT_CENTER)
        a = [a0, 2 * c * a0 - 2 / Decimal(PI_DIGITS).sqrt()]
        for k in range(1, terms - 1):
            a.append((2 * c * a[k] + 2 * a[k - 1]) / (k + 1))
        return [float(v) for v in a]


ERFCX_TAYLOR = _erfcx_taylor(30)
#: from 3 on, float64's erfcx is Laplace's continued fraction 1 / (sqrt(pi) (u + (1/2) /
#: (u + 1 / (u + (3/2) / (u + ...))))) to this depth (within 2e-16 relative)
ERFCX_FRACTION_FROM, ERFCX_FRACTION = 3.0, 30
#: a (1.5 * 2^15, 1.5 * 2^31) added and taken away rounds a to a multiple of 2^-8 (2^-21),
#: whose square float32 (float64) holds exactly below 16 (32)
SQUARE_SPLIT = (49152.0, 3221225472.0)
#: where erfc(u) is 0 past doubt, in float32 and float64 (it underflows at 10.06, 27.2)
ERFC_ZERO = (10.5, 27.5)
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


def _wide(x):
    return x.dtype is dt.float64


def _erfcx_of_abs(u):
    """erfcx(u) = exp(u^2) erfc(u) for u >= 0, without its exp: ERFCC (within 1.2e-7) in
    float32; in float64 exp(u^2) (1 - erf(u)) below 3/4, the Taylor series about 1.875
    to 3, the continued fraction past it (0 at inf)."""
    if not _wide(u):
        t = 1.0 / (1.0 + 0.5 * u)
        return t * exp(horner(t, ERFCC))
    near, mid = u < ERF_SWITCH, u < ERFCX_FRACTION_FROM
    un = where(near, u, 0.0)
    below = _exp_square(un, 1.0) * (1.0 - un * horner(un * un, ERF_TAYLOR64))
    between = polynomial(where(mid, u, ERFCX_CENTER) - ERFCX_CENTER, ERFCX_TAYLOR)
    uf = where(mid, ERFCX_FRACTION_FROM, u)
    acc = uf
    for k in range(ERFCX_FRACTION, 0, -1):
        acc = uf + (k / 2) / acc
    return where(near, below, where(mid, between, (1 / math.sqrt(math.pi)) / acc))


def _erfc_of_abs(a, square=1.0):
    """erfc(u) for u = a sqrt(square) >= 0 (NaN stays NaN): erfcx(u) exp(-u^2), the
    exp(-u^2) exact in its square (_exp_square; square is 1 or 1/2): u^2 rounded, or u
    rounded before it, costs u^2 ULP (4% at GELU(-5) with the old formula). 0 past
    u = 10.06 (float32) and 27.2 (float64)."""
    a = minimum(a, ERFC_ZERO[_wide(a)] / math.sqrt(square))
    return _erfcx_of_abs(a * math.sqrt(square)) * _exp_square(a, -square)


def _exp_square(a, scale):
    """exp(scale a^2) as exp(scale z^2) exp(scale (a - z)(a + z)), z = a to a multiple
    of 2^-8 (float32) or 2^-21 (float64), so that scale z^2 is exact (scale is +-1 or
    +-1/2): a^2 rounded would cost a^2 ULP."""
    split = SQUARE_SPLIT[_wide(a)]
    z = (a + split) - split
    return exp((z * z) * scale) * exp(((a - z) * (a + z)) * scale)


def _log_erfc_of_abs(a, square=1.0):
    """log erfc(u) for u = a sqrt(square) >= 0, log erfcx(u) - u^2: never underflows
    (-inf only at inf); u^2's rounding costs one ULP here."""
    return log(_erfcx_of_abs(a * math.sqrt(square))) - (a * a) * square


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
        taylor = ERF_TAYLOR64 if _wide(x) else ERF_TAYLOR    # neither gives the other NaN
        near0 = xs * horner(xs * xs, taylor)                 # gradients
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


# -- erfc and the inverses -------------------------------------------------------------
#: Winitzki's constant: erfinv(x) ~ sqrt(sqrt(b^2 - w / A) - b), b = 2 / (pi A) + w / 2,
#: w = log(1 - x^2), within 2e-3 relative: the start of the Halley steps
WINITZKI = 0.147
SQRT_PI_2 = math.sqrt(math.pi) / 2


def _erfc(x):
    """erfc(x): 1 - erf(x) where |x| < 3/4 (erf's fast path there, if any: float64's
    precision), else ERFCC (2 - it below 0)."""
    small = abs_(x) < ERF_SWITCH
    far = _erfc_of_abs(where(small, 1.0, abs_(x)))
    return where(small, 1.0 - erf(where(small, x, 0.0)), where(x < 0, 2.0 - far, far))


def _erfcx(x):
    """exp(x^2) erfc(x): _erfcx_of_abs for x >= 0 (no overflow, no underflow: ~ 1 / (x
    sqrt(pi)) far out), 2 exp(x^2) - erfcx(-x) below."""
    a = abs_(x)
    positive = _erfcx_of_abs(a)
    negative = 2.0 * _exp_square(where(a > 1e10, 0.0, a), 1.0) - positive
    return where(x < 0, where(a > 1e10, math.inf, negative), positive)


def _ndtr(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2, the tail erfc(|x| / sqrt 2) / 2 below 0 (exact
    scaling: _erfc_of_abs's square = 1/2)."""
    tail = 0.5 * _erfc_of_abs(abs_(x), square=0.5)
    return where(x < 0, tail, 1.0 - tail)


def _log_ndtr(x):
    """log Phi(x): the tail in log space below 0 (-x^2 / 2 far out, no underflow),
    log1p(-tail) above (-tail far out)."""
    a = abs_(x)
    return where(x < 0, _log_erfc_of_abs(a, square=0.5) - math.log(2.0),
                 log1p(-0.5 * _erfc_of_abs(a, square=0.5)))


def _inverse(a, q, steps):
    """y >= 0 with erf(y) = a, that is erfc(y) = q = 1 - a (each given where it is
    exact): Winitzki's start, then Halley steps y - d / (1 + y d), d = f / f', on
    erf(y) - a where a <= 1/2, else on erfc(y) - q in log space (q may be 1e-300).
    0 at a = 0 (q = 1), inf at q = 0, NaN outside [0, 1]."""
    central = a <= 0.5
    ac, qt = where(central, a, 0.0), where(central, 1.0, q)
    w = where(central, log1p(-ac * ac), log(qt) + log1p(where(central, 0.0, a)))
    b = (2.0 / (math.pi * WINITZKI)) + 0.5 * w
    y = sqrt(sqrt(b * b - w * (1.0 / WINITZKI)) - b)
    log_q = log(qt)
    for _ in range(steps):
        yc, yt = where(central, y, 0.0), where(central, 1.0, y)
        d_central = (erf(yc) - ac) * SQRT_PI_2 * exp(yc * yc)
        d_tail = -expm1(_log_erfc_of_abs(yt) - log_q) * SQRT_PI_2 * exp(log_q + yt * yt)
        d = where(central, d_central, d_tail)
        y = y - d / (1.0 + y * d)
    y = where(q == 0.0, math.inf, y)
    return where(logical_or(q < 0.0, q > 1.0), math.nan, y)


def _steps(x):
    """Halley steps from Winitzki's start: its error grows into the far tails, where
    float64's last digits take the fourth."""
    return 4 if _wide(x) else 2


def _erfinv(x):
    a = abs_(x)
    y = _inverse(a, 1.0 - a, _steps(x))
    return where(x == 0, x, where(x < 0, -y, y))


def _ndtri(p):
    """sqrt 2 erfcinv(2p): from the nearer end, so that 2p (or 2 (1 - p)) is exact."""
    lower = p < 0.5
    q = where(lower, 2.0 * p, 2.0 * (1.0 - p))
    y = _inverse(1.0 - q, q, _steps(p)) * math.sqrt(2.0)
    y = where(lower, -y, y)
    return where(logical_or(p < 0.0, p > 1.0), math.nan, y)


_GAUSS = 2.0 / math.sqrt(math.pi)
erfc = unary("erfc", _erfc, lambda x: exp(x * x * -1.0) * -_GAUSS)
erfc.__doc__ = """1 - erf(x) without its cancellation: 2 at -inf, 0 at inf (and past
10.06), within 3 ULP of float32 (float64 inputs: float64's precision where |x| < 3/4
on a backend with a fast erf, else float32's, as erf)."""
erfcx = unary("erfcx", _erfcx, lambda x: 2.0 * x * erfcx(x) - _GAUSS)
erfcx.__doc__ = """exp(x^2) erfc(x), the scaled complementary error function: finite
and ~ 1 / (x sqrt(pi)) as x grows, inf below about -9.4 (float32)."""
erfinv = unary("erfinv", _erfinv, lambda x: exp(erfinv(x) ** 2) * SQRT_PI_2)
erfinv.__doc__ = """The inverse of erf on (-1, 1): +-inf at +-1, NaN past them, -0 at -0;
float32's precision (see _inverse)."""
ndtr = unary("ndtr", _ndtr, lambda x: exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi)))
ndtr.__doc__ = """The standard normal CDF Phi(x), its lower tail without cancellation."""
def _log_ndtr_slope(x):
    """phi(x) / Phi(x): sqrt(2 / pi) / erfcx(-x / sqrt 2) below 0, where exp(-x^2 / 2 -
    log_ndtr(x)) would cancel (-450 + 450 at -30), and that quotient above."""
    lower = where(x < 0, x, 0.0)
    upper = where(x < 0, 0.0, x)
    return where(x < 0, math.sqrt(2 / math.pi) / erfcx(lower * -math.sqrt(0.5)),
                 exp(upper * upper * -0.5) * (1 / math.sqrt(2 * math.pi)) / ndtr(upper))


log_ndtr = unary("log_ndtr", _log_ndtr, _log_ndtr_slope)
log_ndtr.__doc__ = """log Phi(x): finite far into the lower tail (-x^2 / 2 - log(-x sqrt(2 pi))
there), -0 far into the upper one, -inf at -inf."""
ndtri = unary("ndtri", _ndtri, lambda p: exp(ndtri(p) ** 2 * 0.5) * math.sqrt(2 * math.pi))
ndtri.__doc__ = """The standard normal quantile, Phi's inverse on [0, 1]: -inf at 0, inf
at 1, NaN outside; from the nearer tail, so a p of 1e-30 keeps its digits."""
