"""Telling NaN and the infinities apart from the numbers, replacing them, and comparing
within a tolerance: PyTorch's isnan, isinf, isposinf, isneginf, isfinite, nan_to_num,
isclose and allclose. Integer and bool tensors hold no NaN or infinity."""

import math

from .. import dtypes as dt
from ..errors import DTypeError
from ._util import as_tensor, binary_operands, const
from .elementwise import (abs as abs_, cast, eq, imag, le, logical_and, logical_not, logical_or,
                          ne, real, where)
from .movement import broadcast_to


def _none_like(x, value):
    """A bool tensor of x's shape, all ``value``: the answer for integers."""
    return broadcast_to(const(value, dt.bool_, x._backend), x.shape)


def isnan(x):
    """True where x is NaN (for complex x, where either part is)."""
    x = as_tensor(x, "isnan")
    return ne(x, x) if x.dtype.is_inexact else _none_like(x, False)


def isinf(x):
    """True where x is +inf or -inf (for complex x, where either part is)."""
    x = as_tensor(x, "isinf")
    return eq(abs_(x), math.inf) if x.dtype.is_float else \
        logical_or(isinf(real(x)), isinf(imag(x))) if x.dtype.is_complex else _none_like(x, False)


def isposinf(x):
    x = as_tensor(x, "isposinf")
    return eq(x, math.inf) if x.dtype.is_float else _none_like(x, False)


def isneginf(x):
    x = as_tensor(x, "isneginf")
    return eq(x, -math.inf) if x.dtype.is_float else _none_like(x, False)


def isfinite(x):
    """True where x is neither NaN nor infinite (everywhere for integers)."""
    x = as_tensor(x, "isfinite")
    if not x.dtype.is_inexact:
        return _none_like(x, True)
    return logical_not(logical_or(isnan(x), isinf(x)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """x with NaN, +inf and -inf replaced: by ``nan``, and by the dtype's largest and
    lowest finite values unless ``posinf``/``neginf`` say otherwise (PyTorch's). The
    gradient is 1 at finite elements, 0 at replaced ones; integers come back as they are."""
    x = as_tensor(x, "nan_to_num")
    if not x.dtype.is_float:
        if x.dtype.is_complex:
            raise DTypeError("nan_to_num: complex tensors are not supported; replace the "
                             "real and imaginary parts apart")
        return x
    info = dt.finfo(x.dtype)
    big = float(info.max)
    out = where(isnan(x), nan, x)
    out = where(eq(x, math.inf), big if posinf is None else posinf, out)
    return where(eq(x, -math.inf), -big if neginf is None else neginf, out)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol |b| elementwise, PyTorch's test: equal infinities are close,
    an infinity is close to nothing else, and NaN only to NaN with ``equal_nan``."""
    a, b, _ = binary_operands("isclose", a, b)
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    if not a.dtype.is_inexact:
        a, b = cast(a, dt.default_float), cast(b, dt.default_float)
    close = logical_and(logical_and(isfinite(a), isfinite(b)),
                        le(abs_(a - b), atol + rtol * abs_(b)))
    close = logical_or(eq(a, b), close)
    return logical_or(close, logical_and(isnan(a), isnan(b))) if equal_nan else close


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of a is close to b's (isclose), as a Python bool."""
    return bool(isclose(a, b, rtol, atol, equal_nan).all().item())


def isreal(x):
    """Whether each element is real: a complex one with a zero imaginary part, any other
    (torch.isreal)."""
    x = as_tensor(x, "isreal")
    if x.dtype.is_complex:
        return eq(imag(x), 0)
    return broadcast_to(const(True, dt.bool_, x._backend), x.shape)


def equal(a, b):
    """Whether a and b have one shape and equal elements (NaN is equal to nothing), as a
    Python bool (torch.equal)."""
    a, b = as_tensor(a, "equal"), as_tensor(b, "equal", like=a)
    return a.shape == b.shape and bool(eq(a, b).all().item())
