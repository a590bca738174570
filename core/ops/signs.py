"""The sign bit: copysign and signbit, as PyTorch's, on every backend. They read the bit
itself, so -0 and NaN's sign count (signbit(-0.0) is True), which comparisons cannot
see. A backend offers ``fast_copysign`` (one builtin or a bit operation in its kernel
language); where one lacks it the core computes it on a host copy."""

import numpy as np

from .. import dtypes as dt
from ..autograd import Op, run
from ..creation import full_like
from ._util import as_tensor, binary_operands, const, on_host, unbroadcast
from .elementwise import cast, check_ordered, div, eq, lt, where


def _copysign(b, x, y):
    return b.fast_copysign(x, y) if b.fast_copysign is not None else \
        on_host(b, np.copysign, x, y)


class Copysign(Op):
    """|x| with y's sign bit; x's gradient is g times the sign it took (0 where x is 0,
    as PyTorch's), y's none."""

    __slots__ = ()
    saves_output = True

    def forward(self, x, y):
        return _copysign(self.backend, x, y)

    def backward(self, g, x, y):
        zero = const(0, g.dtype, g._backend)
        return unbroadcast(where(eq(x, 0), zero, g * div(self.out, x)), x.shape), None


def _float_operands(name, x, y):
    x, y, shape = binary_operands(name, x, y)
    check_ordered(name, x)
    if not x.dtype.is_float:            # integers and bools as the default float (PyTorch's)
        x, y = cast(x, dt.default_float), cast(y, dt.default_float)
    return x, y, shape


def copysign(x, y):
    """|x| with the sign bit of y (torch.copysign): copysign(1, -0.0) is -1, and NaN's sign
    counts too; integers compute in the default float."""
    x, y, shape = _float_operands("copysign", x, y)
    if x.dtype in dt.HALF:
        out = run(Copysign(), (cast(x, dt.float32), cast(y, dt.float32)), shape, dt.float32)
        return cast(out, x.dtype)
    return run(Copysign(), (x, y), shape, x.dtype)


def signbit(x):
    """Whether x's sign bit is set (torch.signbit): True for -0.0 and for a NaN with its
    sign bit; x < 0 for integers, False for bools and unsigned integers."""
    x = as_tensor(x, "signbit")
    check_ordered("signbit", x)
    if x.dtype is dt.bool_ or x.dtype.is_unsigned:
        return full_like(x, False, dtype=dt.bool_)
    if not x.dtype.is_float:
        return lt(x, 0)
    return lt(copysign(1.0, x), 0)
