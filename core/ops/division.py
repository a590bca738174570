"""Division that rounds: fmod, remainder, floor_divide and div's rounding modes, on
every backend, exact at every value.

``fmod(x, y)`` is C's: x - trunc(x / y) y with x's sign, exact (the remainder is always
representable). ``remainder`` (``x % y``) and ``floor_divide`` (``x // y``) are
Python's: the remainder takes y's sign (a zero one too), the quotient is floored, and
a float's is Python's float ``//``, which is exact where floor(x / y) would round (1 //
0.1 is 9.0); where x or y is infinite it is floor(x / y), as the Array API standard
asks (inf // 2 is inf, -1 // inf is -0, where Python and PyTorch give NaN and -1).
Division by zero gives inf or NaN for floats and 0 for integers, on every backend
(NumPy's answer; PyTorch's CPU raises there). Integers wrap where the quotient
overflows (INT_MIN // -1 is INT_MIN), as their arithmetic does. 16-bit floats compute
in float32 and round once, as PyTorch's CPU kernels do.

A backend has no division primitive that rounds. It offers ``fast_remainder`` and
``fast_floor_divide`` (each in one pass), else ``fast_fmod`` (floats) and
``fast_trunc_div`` (integers), of which the core composes the rest; where it lacks
those too the core computes them on a host copy (exact, but a round trip, and not
compiled). Gradients are PyTorch's: fmod and remainder pass g to x and give y -g
times the truncated or floored quotient; floor_divide's gradient is zero (PyTorch has
none)."""

import numpy as np

from .. import dtypes as dt
from ..autograd import Op, run
from ..errors import DTypeError
from ._util import binary_operands, on_host, unbroadcast, zeros_like_grad
from .elementwise import cast, check_ordered, mul
from .rounding import rounded


def host_trunc_div(x, y):
    """Integer arrays' quotient rounded toward zero, 0 where y is 0 (C's /, wrapping)."""
    return np.floor_divide(x - np.fmod(x, y), y)     # an exact division: floor is trunc


def _fmod(b, x, y, dtype):
    if dtype.is_int:
        return _int_divmod(b, x, y, dtype)[1]
    return b.fast_fmod(x, y) if b.fast_fmod is not None else on_host(b, np.fmod, x, y)


def _int_divmod(b, x, y, dtype):
    """Integers' truncated quotient and remainder, both 0 where y is 0."""
    zero = b.full((), 0, dtype)
    q = _trunc_div(b, x, y)
    return q, b.where(b.eq(y, zero), zero, b.sub(x, b.mul(q, y)))


def _trunc_div(b, x, y):
    return b.fast_trunc_div(x, y) if b.fast_trunc_div is not None else \
        on_host(b, host_trunc_div, x, y)


def _crosses(b, r, y, zero):
    """Where the truncated remainder r is nonzero with y's opposite sign: there the
    floored quotient is one less and the floored remainder r + y."""
    nonzero = b.ne(r, zero)
    return b.where(nonzero, b.ne(b.lt(r, zero), b.lt(y, zero)), nonzero)


def _floor_div(b, x, y, dtype):
    zero, one = b.full((), 0, dtype), b.full((), 1, dtype)
    if dtype.is_int:
        q, r = _int_divmod(b, x, y, dtype)
        return b.where(_crosses(b, r, y, zero), b.sub(q, one), q)
    # Python's float //: (x - fmod) / y is within a rounding of an integer
    mod = _fmod(b, x, y, dtype)
    q = b.div(b.sub(x, mod), y)
    q = b.where(_crosses(b, mod, y, zero), b.sub(q, one), q)
    f = rounded(b, q, "floor", dtype)
    f = b.where(b.gt(b.sub(q, f), b.full((), 0.5, dtype)), b.add(f, one), f)
    ratio = b.div(x, y)
    f = b.where(b.eq(q, zero), b.mul(ratio, zero), f)       # a zero takes x / y's sign
    inf = b.full((), float("inf"), dtype)                   # floor(x / y) (the standard's)
    x_inf = b.eq(b.abs(x), inf)
    infinite = b.where(x_inf, x_inf, b.eq(b.abs(y), inf))
    f = b.where(infinite, rounded(b, ratio, "floor", dtype), f)
    return b.where(b.eq(y, zero), ratio, f)


def _remainder(b, x, y, dtype):
    zero = b.full((), 0, dtype)
    r = _fmod(b, x, y, dtype)
    r = b.where(_crosses(b, r, y, zero), b.add(r, y), r)
    if dtype.is_float:      # a zero takes y's sign
        r = b.where(b.eq(r, zero), b.where(b.lt(y, zero), b.full((), -0.0, dtype), zero), r)
    return r


class Division(Op):
    """One of fmod, remainder, floor_divide and trunc_divide of x and y."""

    __slots__ = ("kind", "dtype")

    def __init__(self, kind, dtype):
        self.kind, self.dtype = kind, dtype

    def forward(self, x, y):
        b = self.backend
        if self.kind == "fmod":
            return _fmod(b, x, y, self.dtype)
        if self.kind == "remainder":
            fast = b.fast_remainder
            return fast(x, y) if fast is not None else _remainder(b, x, y, self.dtype)
        if self.kind == "floor_divide":
            fast = b.fast_floor_divide
            return fast(x, y) if fast is not None else _floor_div(b, x, y, self.dtype)
        if self.dtype.is_int:
            return _trunc_div(b, x, y)
        return rounded(b, b.div(x, y), "trunc", self.dtype)

    def backward(self, g, x, y):
        if self.kind not in ("fmod", "remainder"):
            return zeros_like_grad(g), zeros_like_grad(g)
        gy = None
        if y.requires_grad:
            q = _divide("trunc_divide" if self.kind == "fmod" else "floor_divide", x, y)
            gy = unbroadcast(-mul(g, q), y.shape)
        return unbroadcast(g, x.shape) if x.requires_grad else None, gy


def _divide(kind, x, y):
    x, y, shape = binary_operands(kind, x, y)
    check_ordered(kind, x)
    if x.dtype is dt.bool_:
        raise DTypeError(f"{kind}: bool tensors have no {kind}; cast them to an integer "
                         f"dtype first, e.g. x.to(ember.int32)")
    if x.dtype in dt.HALF:
        out = run(Division(kind, dt.float32), (cast(x, dt.float32), cast(y, dt.float32)),
                  shape, dt.float32)
        return cast(out, x.dtype)
    return run(Division(kind, x.dtype), (x, y), shape, x.dtype)


def fmod(x, y):
    """C's fmod (torch.fmod): x - trunc(x / y) y, exactly, with x's sign; inf or NaN x,
    or y 0, give NaN; an integer % 0 gives 0."""
    return _divide("fmod", x, y)


def remainder(x, y):
    """Python's x % y (torch.remainder): x - floor(x / y) y, exactly, with y's sign (a
    zero too: -0.0 % 2 is 0.0, where PyTorch keeps -0.0); x % inf is x where their signs
    agree, else inf of y's sign."""
    return _divide("remainder", x, y)


def floor_divide(x, y):
    """Python's x // y (torch.floor_divide): the floored quotient, as Python computes it
    for floats (1 // 0.1 is 9.0, as PyTorch's); floor(x / y) where x or y is infinite
    (inf // 2 is inf, the Array API's; Python's and PyTorch's NaN); y 0 gives x / y for
    floats and 0 for integers. Its gradient is zero."""
    return _divide("floor_divide", x, y)


def divide_rounded(x, y, rounding_mode):
    """torch.div with rounding_mode "trunc" (floats: trunc(x / y); integers: C's /) or
    "floor" (floor_divide); either has a zero gradient, as PyTorch's."""
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    return _divide("floor_divide" if rounding_mode == "floor" else "trunc_divide", x, y)


def _integer_operands(name, a, b):
    a, b, _ = binary_operands(name, a, b)
    if not a.dtype.is_int:
        raise DTypeError(f"{name}: integer tensors only, got {a.dtype.name}; round and cast "
                         f"floats first, e.g. x.round().to(ember.int64)")
    return a, b


def gcd(a, b):
    """The greatest common divisor, elementwise, as torch.gcd: non-negative, gcd(x, 0) =
    |x|, gcd(0, 0) = 0 (the dtype's minimum, whose |x| wraps, stays itself, as in
    PyTorch). Euclid's steps, as many as the dtype's width needs (consecutive Fibonacci
    numbers are the worst case: 95 for 64 bits), so it runs and compiles on the device;
    eagerly it stops once every pair is done (checked every 8 steps, on the host)."""
    from .elementwise import abs as abs_, where
    a, b = _integer_operands("gcd", a, b)
    from ..compile import is_compiling
    # Euclid's steps hold for either sign (remainder keeps a representative of a mod b),
    # so the magnitude is taken once, at the end: |INT_MIN| wraps to itself, and taken
    # first it made gcd(1, INT_MIN) -1
    for step in range(int(a.dtype.itemsize * 8 * 1.4405) + 3):
        if step % 8 == 0 and not is_compiling() and not bool((b != 0).any()):
            break                        # eagerly, stop once every pair is done
        nonzero = b != 0
        r = remainder(a, where(nonzero, b, 1))
        a, b = where(nonzero, b, a), where(nonzero, r, 0)
    return abs_(a)


def lcm(a, b):
    """The least common multiple, elementwise, as torch.lcm: |a / gcd(a, b) * b|, 0 where
    either is 0; it wraps where it overflows the dtype, as PyTorch's."""
    from .elementwise import abs as abs_, where
    a, b = _integer_operands("lcm", a, b)
    g = gcd(a, b)
    zero = g == 0
    return abs_(where(zero, 0, floor_divide(a, where(zero, 1, g)) * b))
