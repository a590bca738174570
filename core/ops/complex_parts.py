"""Complex tensors to and from real ones, as PyTorch's: complex, polar, angle,
view_as_real and view_as_complex. Each is composed of differentiable ops (casts, products
with i, real and imag), so gradients follow PyTorch's convention (dL/dx + i dL/dy).

ember's tensors are values, so view_as_real and view_as_complex give new tensors, not
views sharing memory: writing into one leaves the other as it was."""

import builtins
import math

from .. import dtypes as dt
from ..errors import DTypeError, ShapeError
from ._util import as_tensor, binary_operands, const
from .elementwise import cast, cos, imag, real, sin, where
from .movement import narrow, squeeze, stack
from .nonfinite import isfinite


def _parts_dtype(name, a, b):
    a, b, _ = binary_operands(name, a, b)
    if not a.dtype.is_float:
        raise DTypeError(f"{name}: the parts must be floating-point tensors of one dtype, got "
                         f"{a.dtype.name}; convert them first, e.g. x.to(ember.float32)")
    if a.dtype in dt.HALF:
        a, b = cast(a, dt.float32), cast(b, dt.float32)
    return a, b, dt.complex_of(a.dtype)


def complex(real, imag):  # noqa: A001  (torch.complex)
    """The complex tensor real + i imag (16-bit parts give complex64). Infinite and NaN
    parts stay where they are; a part's negative zero may come out positive (the tensor
    is built arithmetically)."""
    re, im, dtype = _parts_dtype("complex", real, imag)
    # i * im is exact for a finite im; an infinite or NaN one would make its real part
    # inf * 0 = NaN, so those add the constant i inf, -i inf or i NaN instead
    finite = isfinite(im)
    i_im = cast(where(finite, im, 0.0), dtype) * const(1j, dtype, re._backend)
    def i_times(v): return const(builtins.complex(0.0, v), dtype, re._backend)
    nonfinite = where(im != im, i_times(math.nan),
                      where(im > 0, i_times(math.inf), i_times(-math.inf)))
    return cast(re, dtype) + where(finite, i_im, nonfinite)


def polar(abs, angle):  # noqa: A002  (torch.polar's argument names)
    """The complex tensor abs * (cos(angle) + i sin(angle))."""
    r, theta, _ = _parts_dtype("polar", abs, angle)
    return complex(r * cos(theta), r * sin(theta))


def angle(x):
    """The argument of each element in (-pi, pi]; of a real tensor, pi below 0, else 0
    (NaN stays NaN), whose gradient is 0."""
    from .inverse import atan2
    x = as_tensor(x, "angle")
    if x.dtype.is_complex:
        return atan2(imag(x), real(x))
    if not x.dtype.is_float:
        x = cast(x, dt.default_float)
    return where(x < 0, math.pi, where(x != x, x, 0.0))


def view_as_real(x):
    """A complex tensor's parts as a last axis of two: (..., 2), real then imaginary."""
    x = as_tensor(x, "view_as_real")
    if not x.dtype.is_complex:
        raise DTypeError(f"view_as_real: needs a complex tensor, got {x.dtype.name}")
    return stack([real(x), imag(x)], -1)


def view_as_complex(x):
    """The complex tensor whose parts are the last axis of ``x`` (of size 2)."""
    x = as_tensor(x, "view_as_complex")
    if not x.dtype.is_float:
        raise DTypeError(f"view_as_complex: needs a floating-point tensor, got {x.dtype.name}")
    if x.ndim == 0 or x.shape[-1] != 2:
        raise ShapeError(f"view_as_complex: the last axis must have size 2 (real, imaginary), "
                         f"got shape {x.shape}")
    return complex(squeeze(narrow(x, -1, 0, 1), -1), squeeze(narrow(x, -1, 1, 1), -1))
