"""Elementwise ops: unary, binary with broadcasting, comparisons, where, cast, clip."""

from .. import amp, dispatch
from .. import dtypes as dt
from ..autograd import Op, run
from ..errors import DTypeError
from ..shapes import broadcast_shapes
from ..tensor import Tensor, wrap
from ._util import (as_tensor, binary_operands, check_dtype, const, primitive, same_backend,
                    unbroadcast, zeros_like_grad)

#: the dtypes with an order (maximum, clip, comparisons); complex numbers have none
REAL = dt.INTS + dt.FLOATS
NUMERIC = REAL + dt.COMPLEX


# -- cast ---------------------------------------------------------------------
class Cast(Op):
    __slots__ = ("dtype",)
    moves = True

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return self.backend.cast(x, self.dtype)

    def backward(self, g, x):
        if not x.dtype.is_inexact:
            return (None,)
        return (cast(real(g) if g.dtype.is_complex and not x.dtype.is_complex else g, x.dtype),)


def cast(x, dtype):
    """``x`` converted to ``dtype`` (differentiable between float dtypes)."""
    dtype = dt.dtype(dtype)
    if x.dtype is dtype:
        return x
    if dtype not in x._backend.dtypes:
        from ..creation import unsupported
        raise unsupported("cast", dtype, x._backend)
    return run(Cast(dtype), (x,), x.shape, dtype)


def to_backend(x, spec):
    """``x`` copied to another backend; gradients flow back across the move."""
    from ..config import get_backend
    target = get_backend(spec)
    if target is x._backend:
        return x
    if x.dtype not in target.dtypes:
        from ..creation import unsupported
        raise unsupported("to", x.dtype, target)
    out = wrap(dispatch.primitives(target).from_numpy(x.numpy()), target, x.shape, x.dtype)
    from ..autograd import is_grad_enabled, link
    if x.requires_grad and is_grad_enabled():
        op = Transfer()
        op.backend = target
        link(out, op, (x,))
    return out


class Transfer(Op):
    __slots__ = ()
    moves = True

    def backward(self, g, x):
        return (to_backend(g, x._backend),)


# -- unary ---------------------------------------------------------------------
def _float_input(name, x):
    """Float ops on integer or bool tensors compute in the default float; complex
    tensors stay complex."""
    if not isinstance(x, Tensor):
        x = as_tensor(x, name)
    return x if x.dtype.is_inexact else cast(x, dt.default_float)


def _real_float_input(name, x):
    """As _float_input, for ops defined on the reals only: complex tensors are refused."""
    x = _float_input(name, x)
    if x.dtype.is_complex:
        raise DTypeError(f"{name}: complex tensors are not supported, got {x.dtype.name}")
    return x


def _float32_input(name, x):
    """As _float_input; under autocast, 16-bit floats compute in float32 (exp, log...)."""
    return amp.widen(_float_input(name, x))


def _real_float32_input(name, x):
    """As _float32_input, for ops defined on the reals only (softmax): complex refused."""
    return amp.widen(_real_float_input(name, x))


def _numeric_input(name, x, allowed=NUMERIC):
    if not isinstance(x, Tensor):
        x = as_tensor(x, name)
    check_dtype(name, x, allowed)
    return x


def _real_input(name, x):
    """Ops of ordered values (clip): complex numbers are refused by name."""
    return _numeric_input(name, x, REAL)


def check_ordered(name, t):
    if t.dtype.is_complex:
        raise DTypeError(f"{name}: complex numbers have no order; compare ember.abs(x) or "
                         f"ember.real(x) instead")


def _conj(t):
    """conj(t) for a complex t: backward formulas use the conjugate of f'(z)."""
    return conj(t) if t.dtype.is_complex else t


class Neg(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x): return self.backend.neg(x)
    def backward(self, g, x): return (-g,)


class Abs(Op):
    __slots__ = ()
    def forward(self, x): return self.backend.abs(x)
    def backward(self, g, x): return (g * sign(x),)


class Sign(Op):
    __slots__ = ()
    def forward(self, x): return self.backend.sign(x)
    def backward(self, g, x):   # PyTorch's zeros, whatever g holds
        return (zeros_like_grad(g),)


class Exp(Op):
    __slots__ = ()
    saves_output = True
    complex_grad = True
    def forward(self, x): return self.backend.exp(x)
    def backward(self, g, x): return (g * _conj(self.out),)


class Log(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x): return self.backend.log(x)
    def backward(self, g, x): return (g / _conj(x),)


class Sqrt(Op):
    __slots__ = ()
    saves_output = True
    complex_grad = True
    def forward(self, x): return self.backend.sqrt(x)
    def backward(self, g, x): return (g / (_conj(self.out) * 2.0),)


class Sin(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x): return self.backend.sin(x)
    def backward(self, g, x): return (g * _conj(cos(x)),)


class Cos(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x): return self.backend.cos(x)
    def backward(self, g, x): return (-(g * _conj(sin(x))),)


class Tanh(Op):
    __slots__ = ()
    saves_output = True
    complex_grad = True
    def forward(self, x): return self.backend.tanh(x)

    def backward(self, g, x):
        y = _conj(self.out)
        return (g * (1.0 - y * y),)


class Log1p(Op):
    """log(1 + x) accurate near 0, composed from primitives (Goldberg's trick): with
    u = 1 + x rounded, log(u) * x / (u - 1) cancels u's rounding error."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b, dtype = self.backend, self.dtype
        if b.fast_log1p is not None:
            return b.fast_log1p(x)
        one, zero = b.full((), 1, dtype), b.full((), 0, dtype)
        u = b.add(one, x)
        d = b.sub(u, one)
        exact = b.eq(d, zero)                      # x below u's rounding: log1p(x) = x (keeps -0)
        r = b.mul(b.log(u), b.div(x, b.where(exact, one, d)))
        r = b.where(exact, x, r)
        return b.where(b.eq(u, b.full((), float("inf"), dtype)), u, r)   # inf / inf is NaN

    def backward(self, g, x):
        return (g / (x + 1.0),)


class Expm1(Op):
    """exp(x) - 1 accurate near 0, composed from primitives (Kahan's trick): with
    u = exp(x) rounded, (u - 1) * x / log(u)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        b, dtype = self.backend, self.dtype
        if b.fast_expm1 is not None:
            return b.fast_expm1(x)
        one = b.full((), 1, dtype)
        u = b.exp(x)
        um1 = b.sub(u, one)
        lu = b.log(u)
        exact = b.eq(u, one)                       # tiny x: expm1(x) = x (keeps -0)
        r = b.mul(um1, b.div(x, b.where(exact, one, lu)))
        r = b.where(exact, x, r)
        r = b.where(b.eq(um1, b.full((), -1, dtype)), um1, r)          # exp underflowed
        return b.where(b.eq(u, b.full((), float("inf"), dtype)), u, r)  # inf / inf is NaN

    def backward(self, g, x):
        # exp(x), not expm1(x) + 1: in the left tail that sum is -1 + tiny rounded, so
        # elu's gradient at x = -100 was 0 where exp(-100) is 3.7e-44
        return (g * exp(x),)


def _unary(op_cls, name, prepare):
    def fn(x):
        x = prepare(name, x)
        return run(op_cls(), (x,), x.shape, x.dtype)
    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name}."
    return fn


neg = _unary(Neg, "neg", _numeric_input)
_abs = _unary(Abs, "abs", _numeric_input)
sign = _unary(Sign, "sign", _numeric_input)


class Modulus(Op):
    """|z| of a complex z; its gradient g * z / |z| is 0 at z = 0, as PyTorch's sgn."""

    __slots__ = ()
    complex_grad = True
    def forward(self, z): return self.backend.abs(z)

    def backward(self, g, z):
        from .arithmetic import sgn
        return (cast(g, z.dtype) * sgn(z),)


class Real(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, z): return self.backend.real(z)
    def backward(self, g, z): return (cast(g, z.dtype),)


class Imag(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, z): return self.backend.imag(z)
    def backward(self, g, z): return (cast(g, z.dtype) * const(1j, z.dtype, z._backend),)


class Conj(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, z): return self.backend.conj(z)
    def backward(self, g, z): return (conj(g),)


def abs(x):  # noqa: A001  (ember.abs mirrors numpy.abs)
    """Elementwise abs; of a complex tensor, the modulus in the real dtype of its parts."""
    x = _numeric_input("abs", x)
    if x.dtype.is_complex:
        return run(Modulus(), (x,), x.shape, dt.real_of(x.dtype))
    return _abs(x)


def _complex_part(name, x, part):
    x = as_tensor(x, name)
    if x.dtype.is_complex:
        op = {"real": Real, "imag": Imag, "conj": Conj}[name]()
        return run(op, (x,), x.shape, dt.real_of(x.dtype) if part else x.dtype)
    return None


def real(x):
    """The real part (of a real tensor: itself)."""
    out = _complex_part("real", x, True)
    return x if out is None else out


def imag(x):
    """The imaginary part (of a real tensor: zeros, even where it is inf or NaN)."""
    out = _complex_part("imag", x, True)
    if out is None:
        from ..creation import full
        return full(x.shape, 0, x.dtype, x._backend)
    return out


def conj(x):
    """The complex conjugate (of a real tensor: itself)."""
    out = _complex_part("conj", x, False)
    return x if out is None else out
exp = _unary(Exp, "exp", _float32_input)
log = _unary(Log, "log", _float32_input)
sqrt = _unary(Sqrt, "sqrt", _float_input)
sin = _unary(Sin, "sin", _float_input)
cos = _unary(Cos, "cos", _float_input)
tanh = _unary(Tanh, "tanh", _float_input)


def float_unary(op_cls, name, x, prepare=_float_input):
    """Run the unary float op ``op_cls(dtype)`` on ``x`` (integers computed as floats)."""
    x = prepare(name, x)
    return run(op_cls(x.dtype), (x,), x.shape, x.dtype)


def log1p(x):
    """log(1 + x), accurate for x near 0 (within a few ULP everywhere)."""
    return float_unary(Log1p, "log1p", x, _float32_input)


def expm1(x):
    """exp(x) - 1, accurate for x near 0 (within a few ULP everywhere)."""
    return float_unary(Expm1, "expm1", x, _float32_input)


# -- binary --------------------------------------------------------------------
class Add(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x, y): return self.backend.add(x, y)
    def backward(self, g, x, y): return unbroadcast(g, x.shape), unbroadcast(g, y.shape)


class Sub(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x, y): return self.backend.sub(x, y)
    def backward(self, g, x, y): return unbroadcast(g, x.shape), unbroadcast(-g, y.shape)


class Mul(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x, y): return self.backend.mul(x, y)

    def backward(self, g, x, y):
        return (unbroadcast(g * _conj(y), x.shape) if x.requires_grad else None,
                unbroadcast(g * _conj(x), y.shape) if y.requires_grad else None)


class Div(Op):
    __slots__ = ()
    complex_grad = True
    def forward(self, x, y): return self.backend.div(x, y)

    def backward(self, g, x, y):
        cx, cy = _conj(x), _conj(y)
        gx = g / cy
        return (unbroadcast(gx, x.shape) if x.requires_grad else None,
                unbroadcast(-(gx * cx / cy), y.shape) if y.requires_grad else None)


class Pow(Op):
    __slots__ = ()
    saves_output = True
    complex_grad = True
    def forward(self, x, y): return self.backend.pow(x, y)

    def backward(self, g, x, y):
        # PyTorch's values where the formulas divide by zero: d/dx is 0 where y == 0
        # (0 * x ** -1 would be NaN at x = 0), d/dy is 0 at x == 0 for y >= 0 (0 * log 0)
        zero = const(0, g.dtype, g._backend)
        gx = gy = None
        if x.requires_grad:
            gx = unbroadcast(where(eq(y, 0), zero, g * _conj(y * x ** (y - 1.0))), x.shape)
        if y.requires_grad:
            at_zero = logical_and(eq(x, 0), ge(real(y), 0))
            gy = unbroadcast(where(at_zero, zero, g * _conj(self.out * log(x))), y.shape)
        return gx, gy


class Maximum(Op):
    __slots__ = ()
    def forward(self, x, y): return self.backend.maximum(x, y)

    def backward(self, g, x, y):
        # ties share the gradient equally, as PyTorch does
        share = cast(gt(x, y), g.dtype) + cast(eq(x, y), g.dtype) * 0.5
        return unbroadcast(g * share, x.shape), unbroadcast(g * (1.0 - share), y.shape)


class Minimum(Op):
    __slots__ = ()
    def forward(self, x, y): return self.backend.minimum(x, y)

    def backward(self, g, x, y):
        share = cast(lt(x, y), g.dtype) + cast(eq(x, y), g.dtype) * 0.5
        return unbroadcast(g * share, x.shape), unbroadcast(g * (1.0 - share), y.shape)


def add(a, b):
    """a + b with broadcasting."""
    a, b, shape = binary_operands("add", a, b)
    return run(Add(), (a, b), shape, a.dtype)


def sub(a, b):
    """a - b with broadcasting."""
    a, b, shape = binary_operands("sub", a, b)
    if a.dtype is dt.bool_:
        raise DTypeError("sub: subtracting bool tensors is not supported; "
                         "use logical_xor, or cast to an integer dtype first")
    return run(Sub(), (a, b), shape, a.dtype)


def mul(a, b):
    """a * b with broadcasting."""
    a, b, shape = binary_operands("mul", a, b)
    return run(Mul(), (a, b), shape, a.dtype)


def div(a, b, rounding_mode=None):
    """True division: integer operands give the default float. With ``rounding_mode``
    "trunc" or "floor", the quotient rounded so, as torch.div's (ember.ops.division)."""
    if rounding_mode is not None:
        from .division import divide_rounded
        return divide_rounded(a, b, rounding_mode)
    a, b, shape = binary_operands("div", a, b)
    if not a.dtype.is_inexact:
        a, b = cast(a, dt.default_float), cast(b, dt.default_float)
    return run(Div(), (a, b), shape, a.dtype)


def pow(a, b):  # noqa: A001
    """a ** b with broadcasting. Integer tensors to negative integer tensor powers are 0,
    but 1 ** -n = 1 and (-1) ** -n = +-1 (C's and PyTorch's); to a negative Python int
    exponent they are refused, as PyTorch does."""
    if (isinstance(a, Tensor) and a.dtype.is_int and isinstance(b, int)
            and not isinstance(b, bool) and b < 0):
        raise DTypeError(f"pow: integers to negative integer powers are not allowed (the "
                         f"exponent is {b}); make the base a float tensor first, "
                         f"x.to(ember.float32) ** {b}")
    a, b, shape = binary_operands("pow", a, b)
    if a.dtype is dt.bool_:
        raise DTypeError("pow: bool tensors are not supported; cast to an integer or float dtype")
    a, b = amp.widen(a, b)
    return run(Pow(), (a, b), shape, a.dtype)


def maximum(a, b):
    """Elementwise larger value; ties split the gradient."""
    a, b, shape = binary_operands("maximum", a, b)
    check_ordered("maximum", a)
    return run(Maximum(), (a, b), shape, a.dtype)


def minimum(a, b):
    """Elementwise smaller value; ties split the gradient."""
    a, b, shape = binary_operands("minimum", a, b)
    check_ordered("minimum", a)
    return run(Minimum(), (a, b), shape, a.dtype)


# -- comparisons and logic ------------------------------------------------------
def _compare(name):
    def fn(a, b):
        a, b, shape = binary_operands(name, a, b)
        if name not in ("eq", "ne"):
            check_ordered(name, a)
        return primitive(name, (a, b), shape, dt.bool_)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} comparison, giving a bool tensor."
    return fn


eq, ne, lt, le, gt, ge = (_compare(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))


def _truth(x):
    """A tensor's truth values as PyTorch's logical ops read them: nonzero is True (NaN
    included)."""
    return x if x.dtype is dt.bool_ else ne(x, 0)


def logical_and(a, b):
    a, b, shape = binary_operands("logical_and", a, b)
    return primitive("mul", (_truth(a), _truth(b)), shape, dt.bool_)


def logical_or(a, b):
    a, b, shape = binary_operands("logical_or", a, b)
    return primitive("maximum", (_truth(a), _truth(b)), shape, dt.bool_)


def logical_xor(a, b):
    a, b, shape = binary_operands("logical_xor", a, b)
    return primitive("ne", (_truth(a), _truth(b)), shape, dt.bool_)


def logical_not(a):
    a = as_tensor(a, "logical_not")
    return eq(_truth(a), False)


# -- where, clip -------------------------------------------------------------------
class Where(Op):
    __slots__ = ()
    moves = True
    def forward(self, c, x, y): return self.backend.where(c, x, y)

    def backward(self, g, c, x, y):
        zero = const(0, g.dtype, g._backend)
        return (None,
                unbroadcast(where(c, g, zero), x.shape) if x.requires_grad else None,
                unbroadcast(where(c, zero, g), y.shape) if y.requires_grad else None)


def where(cond, a, b):
    """a where cond is true, else b; all three broadcast."""
    cond = as_tensor(cond, "where")
    if cond.dtype is not dt.bool_:
        raise DTypeError(f"where: the condition must be a bool tensor, got {cond.dtype.name}; "
                         f"compare first, as in where(x > 0, x, 0)")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a, "where", like=cond)
    a, b, _ = binary_operands("where", a, b)
    same_backend("where", (cond, a))
    shape = broadcast_shapes("where", cond.shape, a.shape, b.shape)
    return run(Where(), (cond, a, b), shape, a.dtype)


class Clip(Op):
    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        b = self.backend
        if self.lo is not None:
            x = b.maximum(x, dispatch.read(self.lo))
        if self.hi is not None:
            x = b.minimum(x, dispatch.read(self.hi))
        return x

    def backward(self, g, x):
        inside = None
        if self.lo is not None:
            inside = ge(x, self.lo)
        if self.hi is not None:
            upper = le(x, self.hi)
            inside = upper if inside is None else logical_and(inside, upper)
        return (g * cast(inside, g.dtype),)


def clip(x, min=None, max=None):  # noqa: A002  (names as in numpy.clip)
    """Limit values to [min, max], as torch.clamp: the bounds are numbers or tensors that
    broadcast against x, and the result has the dtype x + bound would have (an integer
    tensor clipped at 1.5 becomes a float one; a bound is never truncated). Where
    min > max the result is max; a NaN in x or in a bound gives NaN. The gradient reaches
    x inside [min, max] (its ends included) and each bound where it was taken."""
    x = _real_input("clip", x)
    if min is None and max is None:
        raise ValueError("clip: give min, max or both")
    bounds = [None if b is None else binary_operands("clip", x, b)[1] for b in (min, max)]
    dtype = x.dtype
    for b in bounds:
        if b is not None:
            check_ordered("clip", b)
            dtype = dt.promote(dtype, b.dtype)
    x = cast(x, dtype) if x.dtype is not dtype else x
    lo, hi = (None if b is None else cast(b, dtype) if b.dtype is not dtype else b
              for b in bounds)
    if any(b is not None and (b.shape or b.requires_grad) for b in (lo, hi)):
        return _clip_to_tensors(x, lo, hi)
    return run(Clip(lo, hi), (x,), x.shape, x.dtype)


def _clip_to_tensors(x, lo, hi):
    """clip with bounds that vary or learn, composed of where: x's gradient reaches the
    elements inside [lo, hi] (as in PyTorch, not a NaN x), each bound's where it was
    taken."""
    from .nonfinite import isnan
    inside = take_hi = take_lo = None
    if hi is not None:
        inside = le(x, hi)
        take_hi = gt(x, hi) | isnan(hi)
    if lo is not None:
        inside = ge(x, lo) if inside is None else inside & ge(x, lo)
        take_lo = lt(x, lo)
        if hi is not None:
            take_hi = take_hi | gt(lo, hi)
            take_lo = take_lo & ~take_hi
        take_lo = take_lo | isnan(lo)
    out = x.detach()  # a NaN x, where neither bound is taken
    if hi is not None:
        out = where(take_hi, hi, out)
    if lo is not None:
        out = where(take_lo, lo, out)
    return where(inside, x, out)
