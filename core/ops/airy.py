"""The Airy function Ai (torch.special.airy_ai) and its derivative Ai', composed of
primitives, to the dtype's precision (float32 or float64; 16-bit floats in float32),
relative where Ai decays and against its envelope where it oscillates.

- For |x| up to a switch point (9.5 in float64, 6 in float32), Taylor's series about the
  nearest integer x0: Ai'' = x Ai makes its coefficients c_(n+2) = (x0 c_n + c_(n-1)) /
  ((n + 2)(n + 1)) from c_0 = Ai(x0) and c_1 = Ai'(x0), |x - x0| <= 1/2. The values at
  the integers are computed here at import, stepping the same series in 60-digit decimals
  out from 0, where Ai(0) = 3^(-2/3) / Gamma(2/3) and Ai'(0) = -3^(-1/3) / Gamma(1/3)
  are the published constants (DLMF 9.2.3); each node's coefficients form one row of a
  table the elements gather from.
- Past it, the asymptotic expansions (DLMF 9.7.5-9.7.10), in zeta = 2/3 |x|^(3/2):
  Ai(x) = e^-zeta / (2 sqrt(pi) x^(1/4)) sum (-1)^k u_k zeta^-k for x > 0, and for
  x = -z < 0 the oscillating Ai(-z) = (cos(zeta - pi/4) P + sin(zeta - pi/4) Q) /
  (sqrt(pi) z^(1/4)); Ai' likewise with v_k = -(6k + 1) / (6k - 1) u_k. The switch is
  where their smallest term falls below the dtype's eps.

Near a zero of the oscillation the value is a difference of terms of the envelope's size
z^(-1/4) / sqrt(pi), so its precision there is absolute; far out, zeta's own rounding moves
the phase by eps zeta, as Ai's condition number (x Ai' / Ai, about zeta) says any method
in the dtype's precision must, and past zeta = 1 / eps (|x| > 5.4e4 in float32, 3.6e10 in
float64) no digit of the phase is left: the value there is 0, within the envelope. Edges:
Ai(+-inf) and Ai'(+-inf) are their limits, 0 (PyTorch's Ai(-inf) is NaN); NaN stays NaN.
Gradients: Ai' and then Ai'' = x Ai, so it differentiates any number of times (PyTorch's
airy_ai has no gradient).
"""

import math
from decimal import Decimal, localcontext

from .. import dtypes as dt
from .composed import if_taken, polynomial, precision, unary
from .elementwise import abs as abs_, cos, exp, sin, sqrt, where
from .indexing import take
from .rounding import floor

#: per dtype: the switch point |x|, Taylor's terms about the integers, asymptotic terms
TERMS = {dt.float64: (9.5, 28, 30), dt.float32: (6.0, 15, 12)}
#: Ai(0) and Ai'(0) to 45 digits (DLMF 9.2.3): the decimals' start
AI_0 = "0.355028053887817239260063186004183176397979174"
AI_PRIME_0 = "-0.258819403792806798405183560189203963479091138"


def _taylor(x0, c0, c1, count):
    """c_0 .. c_(count-1) of Ai's Taylor series about x0 from Ai(x0) and Ai'(x0)."""
    c = [c0, c1, x0 * c0 / 2]
    while len(c) < count:
        n = len(c) - 2
        c.append((x0 * c[n] + c[n - 1]) / ((n + 2) * (n + 1)))
    return c[:count]


def _nodes(last):
    """{x0: (Ai(x0), Ai'(x0))} at the integers -last..last, as floats: 60-digit steps of
    one out from 0 (on the growing side the decimals keep Ai's digits under Bi's e^2zeta)."""
    nodes = {}
    with localcontext() as context:
        context.prec = 60
        for direction in (1, -1):
            value, slope = Decimal(AI_0), Decimal(AI_PRIME_0)
            for k in range(last + 1):
                nodes[direction * k] = (float(value), float(slope))
                c = _taylor(Decimal(direction * k), value, slope, 110)
                value = sum(c[n] * direction ** n for n in range(len(c)))
                slope = sum(n * c[n] * direction ** (n - 1) for n in range(1, len(c)))
    return nodes


def _asymptotic_coefficients(count):
    """u_k and v_k, k < count (DLMF 9.7.2)."""
    u = [1.0]
    for k in range(1, count):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    return u, [-(6 * k + 1) / (6 * k - 1) * u[k] for k in range(count)]


def _tables(switch, terms, far_terms):
    """(the last node, Taylor's coefficients term by term across the nodes -last..last,
    flattened, and the asymptotic u_k, v_k)."""
    last = math.ceil(switch)
    nodes = _nodes(last)
    rows = [_taylor(float(x0), *nodes[x0], terms) for x0 in range(-last, last + 1)]
    return last, [row[j] for j in range(terms) for row in rows], \
        _asymptotic_coefficients(far_terms)


TABLES = {d: _tables(*t) for d, t in TERMS.items()}


def _near(x, derivative):
    """Ai(x) or Ai'(x) by Taylor's series about the nearest integer (|x| <= the switch)."""
    from ..creation import tensor
    last, flat, _ = TABLES[precision(x)]
    x0 = floor(x + 0.5)
    h = x - x0
    node = (x0 + last).to(dt.int64 if dt.int64 in x.backend.dtypes else dt.int32)
    width = 2 * last + 1
    table = tensor(flat, dtype=x.dtype, backend=x.backend)
    count = len(flat) // width

    def coefficient(j):
        return take(table, node + j * width)
    if derivative:              # sum n c_n h^(n-1), Horner from the top
        acc = coefficient(count - 1) * (count - 1)
        for n in range(count - 2, 0, -1):
            acc = acc * h + coefficient(n) * n
        return acc
    acc = coefficient(count - 1)
    for n in range(count - 2, -1, -1):
        acc = acc * h + coefficient(n)
    return acc


def _far(x, derivative):
    """Ai(x) or Ai'(x) by the asymptotic expansions (|x| past the switch)."""
    _, _, (u, v) = TABLES[precision(x)]
    w = v if derivative else u
    z = abs_(x)
    root = sqrt(z)
    quarter = sqrt(root)
    zeta = (2.0 / 3.0) * z * root
    inv = 1.0 / zeta
    alternating = [(-1) ** k * c for k, c in enumerate(w)]
    # x > 0: e^-zeta / (2 sqrt(pi)) times x^(-1/4) (Ai) or -x^(1/4) (Ai'), the series
    scale = quarter if derivative else 1.0 / quarter
    decaying = (-1.0 if derivative else 1.0) * exp(-zeta) * scale / (2 * math.sqrt(math.pi)) \
        * polynomial(inv, alternating)
    # x = -z < 0: P (even k) and Q (odd k) in 1 / zeta^2, against cos and sin of zeta - pi/4
    inv2 = inv * inv
    p = polynomial(inv2, [(-1) ** k * w[2 * k] for k in range(len(w) // 2)])
    q = inv * polynomial(inv2, [(-1) ** k * w[2 * k + 1] for k in range(len(w) // 2)])
    c, s = cos(zeta), sin(zeta)
    cos_phase, sin_phase = (c + s) * math.sqrt(0.5), (s - c) * math.sqrt(0.5)
    if derivative:      # Ai'(-z) sqrt(pi) = z^(1/4) (sin(zeta - pi/4) P - cos(zeta - pi/4) Q)
        wave = quarter * (sin_phase * p - cos_phase * q)
    else:
        wave = (cos_phase * p + sin_phase * q) / quarter
    # past zeta = 1 / eps, zeta's rounding moves the phase by more than a radian: no digit
    # of it survives, and 0 (inside the envelope, as at -inf) is all a value can say
    lost = zeta * float(dt.finfo(precision(x)).eps) > 1.0
    return where(x > 0.0, decaying, where(lost, 0.0, wave / math.sqrt(math.pi)))


def _airy(derivative):
    def compute(x):
        switch = TERMS[precision(x)][0]
        near = abs_(x) <= switch
        xn = where(near, x, 0.0)
        xf = where(near, 2.0 * switch, x)
        value = where(near, if_taken(near, x, lambda: _near(xn, derivative)),
                      if_taken(~near, x, lambda: _far(xf, derivative)))
        return where(abs_(x) == math.inf, 0.0, value)
    return compute


ai_prime = unary("airy_ai_prime", _airy(True), lambda x: x * ai(x))
ai_prime.__doc__ = "The Airy function's derivative Ai'(x); 0 at +-inf (see the module)."
ai = unary("airy_ai", _airy(False), ai_prime)
ai.__doc__ = ("The Airy function Ai(x), torch.special.airy_ai: 0 at +-inf, differentiable "
              "(see the module).")

__all__ = ["ai", "ai_prime"]
