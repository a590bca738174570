"""The classical orthogonal polynomials of torch.special: Chebyshev's T, U, V and W and
their shifted forms on [0, 1], Hermite's H (physicists') and He (probabilists'),
Laguerre's L and Legendre's P, each of a tensor x and a degree n (a Python int or a
tensor, truncated to an integer), by its three-term recurrence composed of primitives,
so they run on every backend and differentiate in x.

As PyTorch's: a degree below 0 gives 0, and the values at x = +-1 (1 and 0 for the
shifted forms; 0 for Laguerre's) are the closed ones, which the recurrences reach
exactly. Where the recurrence overflows (inf - inf) beyond the last zero, the value is
+-inf with the leading term's sign (PyTorch's is NaN there). PyTorch takes cos(n acos x) and its kin past degree 6 for |x| < 1; the
recurrence is one algorithm for every x, and its error grows like n ULP as theirs does.
A tensor degree runs the recurrence to the largest degree (read on the host once);
under ember.compile the degree must be a Python int. Integer inputs compute in the
default float, 16-bit floats in float32 (rounded once).
"""

import math

from .. import dtypes as dt
from ..compile import is_compiling
from ..errors import DTypeError
from ._util import as_tensor
from .division import remainder
from .elementwise import (_real_float_input, abs as abs_, cast, eq, logical_and, logical_or,
                          sign, sqrt, where)
from .movement import broadcast_to
from .nonfinite import isnan
from .rounding import trunc


def _first(kind):
    """(p_1 of x, p_(k+1) from k, x, p_k, p_(k-1)) of each family."""
    two = lambda x: x + x                                                  # noqa: E731
    chebyshev = lambda k, x, p, q: two(x) * p - q                         # noqa: E731
    return {
        "chebyshev_t": (lambda x: x, chebyshev),
        "chebyshev_u": (two, chebyshev),
        "chebyshev_v": (lambda x: two(x) - 1.0, chebyshev),
        "chebyshev_w": (lambda x: two(x) + 1.0, chebyshev),
        "hermite_h": (two, lambda k, x, p, q: two(x) * p - (2.0 * k) * q),
        "hermite_he": (lambda x: x, lambda k, x, p, q: x * p - float(k) * q),
        "laguerre_l": (lambda x: 1.0 - x,
                       lambda k, x, p, q: (((2.0 * k + 1.0) - x) * p - float(k) * q) / (k + 1.0)),
        "legendre_p": (lambda x: x,
                       lambda k, x, p, q: ((2.0 * k + 1.0) * x * p - float(k) * q) / (k + 1.0)),
    }[kind]


def _degree(name, n, like):
    """(the degree as a Python int or a tensor of whole numbers, the largest degree)."""
    if isinstance(n, bool):
        raise DTypeError(f"{name}: n is a bool; it takes an int or a tensor of degrees")
    if isinstance(n, int):
        return n, n
    n = as_tensor(n, name, like=like)
    if n.dtype.is_complex or n.dtype is dt.bool_:
        raise DTypeError(f"{name}: n is {n.dtype.name}; it takes an int or a real tensor "
                         f"of degrees")
    if is_compiling():
        raise DTypeError(f"{name}: under ember.compile the degree n must be a Python int "
                         f"(a tensor's largest degree would be read on the host)")
    n = trunc(cast(n, like.dtype)) if n.dtype.is_float else cast(n, like.dtype)
    top = int(n.max().item()) if n.size else 0
    return n, top


def _polynomial(kind, name, x, n, shift=False):
    x = _real_float_input(name, x)
    dtype = x.dtype
    wide = cast(x, dt.float32) if dtype in dt.HALF else x
    degree, top = _degree(name, n, wide)
    if not isinstance(degree, int):
        from ..shapes import broadcast_shapes
        shape = broadcast_shapes(name, wide.shape, degree.shape)
        wide, degree = broadcast_to(wide, shape), broadcast_to(degree, shape)
    t = wide + wide - 1.0 if shift else wide
    from ..creation import ones_like, zeros_like
    first, step = _first(kind)
    before, now = ones_like(t), first(t)     # p_0 is 1 at every x, inf and NaN too (t * 0 + 1
    if isinstance(degree, int):               # was NaN there), as PyTorch's
        if degree < 0:
            out = zeros_like(t)
        elif degree == 0:
            out = before
        else:
            for k in range(1, degree):
                before, now = now, step(k, t, now, before)
            out = now
    else:
        out = where(eq(degree, 0.0), before, where(eq(degree, 1.0), now, 0.0))
        for k in range(1, top):
            before, now = now, step(k, t, now, before)
            out = where(eq(degree, k + 1.0), now, out)
        out = where(logical_and(degree >= 0.0, degree <= top), out, 0.0)
    out = _overflowed(kind, t, degree, out)
    return cast(out, dtype) if out.dtype is not dtype else out


def _overflowed(kind, t, degree, out):
    """+-inf, the leading term's sign, where the recurrence overflowed (inf - inf gave
    NaN) beyond the polynomial's last zero, where that term decides the sign: |t| >= 1
    for Chebyshev's and Legendre's, sqrt(2n + 1) and sqrt(4n + 2) for Hermite's H and He,
    t <= 0 or t >= 4n + 2 for Laguerre's (leading sign (-1)^n). PyTorch gives NaN there."""
    if kind == "laguerre_l":
        beyond = logical_or(t <= 0.0, t >= degree * 4.0 + 2.0)
        base = -t
    else:
        scale = {"hermite_h": 2.0, "hermite_he": 4.0}.get(kind)          # sqrt(s n + s / 2)
        if scale is None:
            reach = 1.0
        elif isinstance(degree, int):
            reach = math.sqrt(max(degree, 0) * scale + scale / 2)
        else:
            reach = sqrt(abs_(degree) * scale + scale / 2)
        beyond = abs_(t) >= reach
        base = t
    side = sign(base.detach())                       # a constant: no gradient through inf
    if isinstance(degree, int):
        infinite = (side if degree % 2 else side * side) * math.inf
    else:
        infinite = where(eq(remainder(degree, 2.0), 1.0), side, 1.0) * math.inf
    return where(logical_and(logical_and(isnan(out), ~isnan(t)), beyond), infinite, out)


def _make(kind, shift=False):
    name = ("shifted_" if shift else "") + kind.replace("_", "_polynomial_", 1)

    def fn(input, n):  # noqa: A002  (PyTorch's names)
        return _polynomial(kind, name, input, n, shift)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"torch.special.{name}(input, n): the degree-n polynomial at input by "
                  f"its recurrence (see the module); 0 for n < 0.")
    return fn


chebyshev_polynomial_t = _make("chebyshev_t")
chebyshev_polynomial_u = _make("chebyshev_u")
chebyshev_polynomial_v = _make("chebyshev_v")
chebyshev_polynomial_w = _make("chebyshev_w")
shifted_chebyshev_polynomial_t = _make("chebyshev_t", True)
shifted_chebyshev_polynomial_u = _make("chebyshev_u", True)
shifted_chebyshev_polynomial_v = _make("chebyshev_v", True)
shifted_chebyshev_polynomial_w = _make("chebyshev_w", True)
hermite_polynomial_h = _make("hermite_h")
hermite_polynomial_he = _make("hermite_he")
laguerre_polynomial_l = _make("laguerre_l")
legendre_polynomial_p = _make("legendre_p")

__all__ = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w"]
