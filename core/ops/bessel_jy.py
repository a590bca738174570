"""The Bessel functions of the first and second kind, PyTorch's bessel_j0, bessel_j1,
bessel_y0 and bessel_y1, composed of primitives, to the dtype's precision (float32 or
float64; 16-bit floats in float32) absolutely near their zeros and relatively elsewhere.

- Up to a switch point (18 in float64, 10 in float32), every one is a weighted sum of
  cos(x sin tau_j) or sin(x sin tau_j) over N equally spaced tau_j: the trapezoidal rule
  for J_n(x) = (1/pi) int_0^pi cos(n tau - x sin tau) d tau, whose integrand is periodic
  and entire, so the rule's error is J_(N-n)(x), below the dtype's eps for N = 128 (64)
  and the orders the series reach (2k + 1 <= 61, or 33);
  and for Y, Neumann's series Y_0 = (2/pi)(log(x/2) + gamma) J_0 - (4/pi) sum_k (-1)^k
  J_2k / k and its derivative for Y_1 = -Y_0', whose J_2k and J_(2k+-1) are sums over
  the same nodes, so each function's weights are folded into one set, computed here at
  import. The nodes' symmetry leaves N/4 + 1 distinct values of sin tau.
- Past it, Hankel's expansions J = sqrt(2 / pi x) (P cos chi - Q sin chi) and Y =
  sqrt(2 / pi x) (P sin chi + Q cos chi), chi = x - (nu/2 + 1/4) pi taken as cos x and sin
  x against the constant's cos and sin (x - pi/4 would round away x's low bits); the device's cos and sin decide there.

Near a zero the value is a difference of terms of the function's own size, so its
precision there is absolute (eps times the envelope sqrt(2 / pi x)), as in every libm past
the first zeros. Edges, as PyTorch's: J_0 even and J_1 odd (-0 stays -0), 1 and 0 at 0;
Y_0 and Y_1 -inf at 0, NaN below 0; at +-inf their limit 0 (PyTorch's NaN). Gradients: J_0' = -J_1, J_1' = J_0 - J_1 / x
(1/2 at 0), Y_0' = -Y_1, Y_1' = Y_0 - Y_1 / x.
"""

import math

from .. import dtypes as dt
from .bessel import hankel_coefficients
from .composed import if_taken, polynomial, precision, unary
from .elementwise import abs as abs_, cos, log, sin, sqrt, where
from .gamma import EULER_GAMMA

#: per dtype: the switch point, the nodes N, the Neumann series' terms, Hankel's terms
TERMS = {dt.float64: (18.0, 128, 30, 20), dt.float32: (10.0, 64, 16, 10)}


def _folded(n, terms):
    """(the distinct sin(tau_j), and the weights that make J_0, J_1, Y_0's series and
    Y_1's series sums of cos(x s) (J_0, Y_0) or sin(x s) (J_1, Y_1) over them)."""
    values, index = [], {}
    weights = {name: [] for name in ("j0", "j1", "y0", "y1")}
    for j in range(n):
        tau = 2 * math.pi * j / n
        s = math.sin(tau)
        key = round(abs(s), 15)
        if key not in index:
            index[key] = len(values)
            values.append(abs(s))
            for w in weights.values():
                w.append(0.0)
        at, odd = index[key], math.copysign(1.0, s) if s else 0.0
        # J_2k = (1/N) sum cos(2k tau) cos(x s); J_(2k+-1) = (1/N) sum sin((2k+-1) tau) sin(x s)
        neumann = sum((-1) ** k * math.cos(2 * k * tau) / k for k in range(1, terms + 1))
        slope = sum((-1) ** k * (math.sin((2 * k - 1) * tau) - math.sin((2 * k + 1) * tau))
                    / (2 * k) for k in range(1, terms + 1))
        weights["j0"][at] += 1.0 / n
        weights["j1"][at] += odd * s / n
        weights["y0"][at] += neumann / n
        weights["y1"][at] += odd * slope / n
    return values, weights


def _hankel(nu, count):
    """Hankel's a_k(nu) (ops.bessel's, there with (-1)^k) split into P's (even k) and
    Q's (odd k) coefficients in 1 / x^2, each alternating."""
    h = hankel_coefficients(nu, 2 * count)                  # (-1)^k a_k
    return ([(-1) ** k * h[2 * k] for k in range(count)],
            [(-1) ** (k + 1) * h[2 * k + 1] for k in range(count)])


TABLES = {d: (_folded(n, terms), _hankel(0, h), _hankel(1, h))
          for d, (_, n, terms, h) in TERMS.items()}


def _node_sum(x, which, kind):
    """sum_j w_j cos(x s_j) (kind "cos") or sin(x s_j), the weights ``which``."""
    (values, weights), _, _ = TABLES[precision(x)]
    fn = cos if kind == "cos" else sin
    total = None
    for s, w in zip(values, weights[which]):
        if w != 0.0 and (s or kind == "cos"):                # sin(0 x) adds nothing
            term = fn(x * s) * w
            total = term if total is None else total + term
    return total


def _asymptotic(nu, x):
    """(J_nu(x), Y_nu(x)) by Hankel's expansions (x past the switch point)."""
    _, p0q0, p1q1 = TABLES[precision(x)]
    p_, q_ = p0q0 if nu == 0 else p1q1
    inv = 1.0 / x
    inv2 = inv * inv
    p = polynomial(inv2, p_)
    q = inv * polynomial(inv2, q_)
    phase = (nu / 2 + 0.25) * math.pi
    c, s = cos(x), sin(x)
    cos_chi = c * math.cos(phase) + s * math.sin(phase)
    sin_chi = s * math.cos(phase) - c * math.sin(phase)
    root = math.sqrt(2 / math.pi) / sqrt(x)              # 1 / x is subnormal past 3e38
    return root * (p * cos_chi - q * sin_chi), root * (p * sin_chi + q * cos_chi)


def _j(nu):
    def compute(x):
        switch = TERMS[precision(x)][0]
        a = abs_(x)
        near = a <= switch
        xn = where(near, a, 0.0)
        far = where(near, switch * 2.0, a)
        value = where(near, if_taken(near, a, lambda: _node_sum(
            xn, "j0" if nu == 0 else "j1", "cos" if nu == 0 else "sin")),
            if_taken(~near, a, lambda: _asymptotic(nu, far)[0]))
        value = where(a == math.inf, 0.0, value)
        if nu == 0:
            return value
        return where(x == 0.0, x, where(x < 0.0, -value, value))       # -0 stays -0
    return compute


def _y(nu):
    def compute(x):
        switch = TERMS[precision(x)][0]
        near = x <= switch
        xn = where((x > 0.0) & near, x, 1.0)
        far = where(near, switch * 2.0, x)

        def series():
            j0 = _node_sum(xn, "j0", "cos")
            log_term = log(xn) - math.log(2.0) + EULER_GAMMA
            if nu == 0:
                return (2 / math.pi) * log_term * j0 - (4 / math.pi) * _node_sum(xn, "y0", "cos")
            return ((2 / math.pi) * (log_term * _node_sum(xn, "j1", "sin") - j0 / xn)
                    + (4 / math.pi) * _node_sum(xn, "y1", "sin"))
        value = where(near, if_taken(near, x, series),
                      if_taken(~near, x, lambda: _asymptotic(nu, far)[1]))
        value = where(x == math.inf, 0.0, value)
        return where(x == 0.0, -math.inf, where(x > 0.0, value, math.nan))      # NaN too
    return compute


def _j1_slope(x):
    safe = where(x == 0.0, 1.0, x)
    return where(x == 0.0, 0.5, j0(x) - j1(x) / safe)


j0 = unary("bessel_j0", _j(0), lambda x: -j1(x))
j0.__doc__ = "The Bessel function J_0(x): even, 1 at 0, 0 at +-inf (see the module)."
j1 = unary("bessel_j1", _j(1), _j1_slope)
j1.__doc__ = "The Bessel function J_1(x): odd, 0 at 0, 0 at +-inf (see the module)."
y0 = unary("bessel_y0", _y(0), lambda x: -y1(x))
y0.__doc__ = "The Bessel function Y_0(x): -inf at 0, NaN below, 0 at inf (see the module)."
y1 = unary("bessel_y1", _y(1), lambda x: y0(x) - y1(x) / x)
y1.__doc__ = "The Bessel function Y_1(x): -inf at 0, NaN below, 0 at inf (see the module)."

__all__ = ["j0", "j1", "y0", "y1"]
