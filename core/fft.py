"""``ember.fft``: torch.fft's names and arguments (``n``/``s``, ``dim``, ``norm``), so that
a port of PyTorch code keeps its calls. Every transform runs ember.ops.fft (NumPy's
pocketfft on a host copy), differentiates as PyTorch's and compiles.

As PyTorch: integers and bools transform as the default float; a real input to fft
becomes complex; rfft refuses a complex input; ``n`` or ``s`` trims or zero-pads each
axis first (``s`` -1 keeps the axis), and irfft's default length is 2 (m - 1). Unlike
PyTorch on the CPU, float16 and bfloat16 transform in float32 (complex64 out) rather
than being refused. A transform over an axis of no points is a ShapeError."""

import numbers

from . import dtypes as dt
from . import ops
from .creation import arange
from .errors import DTypeError, ShapeError
from .ops._util import as_tensor
from .ops.fft import DUAL, dft
from .shapes import normalize_axis

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _norm(name, norm):
    norm = "backward" if norm is None else norm
    if norm not in DUAL:
        raise ValueError(f"fft.{name}: norm must be 'backward', 'forward' or 'ortho' (or "
                         f"None, 'backward'), got {norm!r}")
    return norm


def _input(name, x, real):
    """x as the transform's float or complex input: integers as the default float, 16-bit
    floats as float32; ``real``: complex refused (rfft), else reals made complex."""
    x = as_tensor(x, f"fft.{name}")
    if real is True and x.dtype.is_complex:
        raise DTypeError(f"fft.{name}: expects a real input, got {x.dtype.name}; use "
                             f"fft.fft for complex input, or take ember.real(x) first")
    if not x.dtype.is_inexact:
        x = ops.cast(x, dt.default_float)
    if x.dtype in dt.HALF:
        x = ops.cast(x, dt.float32)
    if real is False and not x.dtype.is_complex:
        x = ops.cast(x, dt.complex_of(x.dtype))
    return x


def _sizes(name, s):
    """n or s as a list of ints (None stays None)."""
    if s is None:
        return None
    s = list(s) if isinstance(s, (tuple, list)) else [s]
    if not all(isinstance(n, numbers.Integral) for n in s):
        raise TypeError(f"fft.{name}: the sizes (n or s) must be ints, got {s!r}")
    return s


def _plan(name, x, s, dim):
    """(axes, sizes) from torch's ``s`` and ``dim``: ``dim`` None takes the last len(s)
    axes (all, without s); s None keeps the sizes."""
    if isinstance(dim, int):
        dim = (dim,)
    s = _sizes(name, s)
    if dim is None:
        count = len(s) if s is not None else x.ndim
        if count > x.ndim:
            raise ShapeError(f"fft.{name}: {count} axes to transform, but the input has shape "
                             f"{x.shape}")
        dim = tuple(range(x.ndim - count, x.ndim))
    axes = tuple(normalize_axis(f"fft.{name}", d, x.ndim, x.shape) for d in dim)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"fft.{name}: dim {tuple(dim)} names an axis twice")
    if s is None:
        s = [x.shape[a] for a in axes]
    elif len(s) != len(axes):
        raise ShapeError(f"fft.{name}: s has {len(s)} sizes for {len(axes)} dims; give one each")
    sizes = tuple(x.shape[a] if n == -1 else int(n) for a, n in zip(axes, s))
    for a, n in zip(axes, sizes):
        if n < 1:
            raise ShapeError(f"fft.{name}: {n} points along axis {a}; a transform needs at "
                             f"least one (give a positive n or s, or a non-empty axis)")
    return axes, sizes


def _resize(x, axes, sizes):
    """x trimmed or zero-padded to ``sizes`` along ``axes``."""
    for a, n in zip(axes, sizes):
        have = x.shape[a]
        if n < have:
            x = ops.narrow(x, a, 0, n)
        elif n > have:
            widths = [(0, 0)] * x.ndim
            widths[a] = (0, n - have)
            x = ops.pad(x, tuple(widths))
    return x


def _transform(kind, name, x, s, dim, norm):
    """fftn, ifftn, or rfftn (``kind`` "rfft": a real input) of x resized to s."""
    x = _input(name, x, kind == "rfft")
    axes, sizes = _plan(name, x, s, dim)
    return dft(kind, _resize(x, axes, sizes), axes, _norm(name, norm))


def _c2r(name, x, s, dim, norm, dual=False):
    """irfftn (``dual``: hfftn, the conjugate's irfftn under the dual norm): the output's
    last axis has s[-1] points, default 2 (m - 1) for m in."""
    x = _input(name, x, False)
    norm = _norm(name, norm)
    s = _sizes(name, s)
    last = None if s is None or s[-1] == -1 else s[-1]
    if s is not None:
        s[-1] = -1                  # the half spectrum's length follows from ``last``
    axes, sizes = _plan(name, x, s, dim)
    last = 2 * (x.shape[axes[-1]] - 1) if last is None else last
    if last < 1:
        raise ShapeError(f"fft.{name}: {last} output points along axis {axes[-1]} (the "
                         f"default is 2 (m - 1) for m = {x.shape[axes[-1]]} in); give n or s")
    x = _resize(x, axes, sizes[:-1] + (last // 2 + 1,))
    if dual:
        x, norm = ops.conj(x), DUAL[norm]
    return dft("irfft", x, axes, norm, last)


def fft(input, n=None, dim=-1, norm=None):
    """The 1-D discrete Fourier transform along ``dim``."""
    return _transform("fft", "fft", input, n, dim, norm)


def ifft(input, n=None, dim=-1, norm=None):
    """The inverse of fft along ``dim``."""
    return _transform("ifft", "ifft", input, n, dim, norm)


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("fft", "fft2", input, s, dim, norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("ifft", "ifft2", input, s, dim, norm)


def fftn(input, s=None, dim=None, norm=None):
    """The transform over ``dim`` (every axis, or the last len(s), when None)."""
    return _transform("fft", "fftn", input, s, dim, norm)


def ifftn(input, s=None, dim=None, norm=None):
    return _transform("ifft", "ifftn", input, s, dim, norm)


def rfft(input, n=None, dim=-1, norm=None):
    """The transform of a real signal: its n // 2 + 1 non-negative frequencies."""
    return _transform("rfft", "rfft", input, n, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("rfft", "rfft2", input, s, dim, norm)


def rfftn(input, s=None, dim=None, norm=None):
    return _transform("rfft", "rfftn", input, s, dim, norm)


def irfft(input, n=None, dim=-1, norm=None):
    """The real signal of n points (default 2 (m - 1)) whose half spectrum is ``input``."""
    return _c2r("irfft", input, n, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r("irfft2", input, s, dim, norm)


def irfftn(input, s=None, dim=None, norm=None):
    return _c2r("irfftn", input, s, dim, norm)


def hfft(input, n=None, dim=-1, norm=None):
    """The real spectrum of a signal whose first half is ``input`` (Hermitian symmetric)."""
    return _c2r("hfft", input, n, dim, norm, dual=True)


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r("hfft2", input, s, dim, norm, dual=True)


def hfftn(input, s=None, dim=None, norm=None):
    return _c2r("hfftn", input, s, dim, norm, dual=True)


def _ihfft(name, x, s, dim, norm):
    return ops.conj(_transform("rfft", name, x, s, dim, DUAL[_norm(name, norm)]))


def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of hfft: the half spectrum of a real signal's inverse transform."""
    return _ihfft("ihfft", input, n, dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return _ihfft("ihfft2", input, s, dim, norm)


def ihfftn(input, s=None, dim=None, norm=None):
    return _ihfft("ihfftn", input, s, dim, norm)


def fftfreq(n, d=1.0, *, dtype=None, backend=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point transform: [0, 1, ..., -1] / (d n)."""
    freq = _freq("fftfreq", n, d, dtype, backend or device)
    out = ops.where(freq >= (n + 1) // 2, freq - n, freq) / (d * n)
    return out.requires_grad_() if requires_grad else out


def rfftfreq(n, d=1.0, *, dtype=None, backend=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of rfft: [0, 1, ..., n // 2] / (d n)."""
    out = _freq("rfftfreq", n // 2 + 1, d, dtype, backend or device) / (d * n)
    return out.requires_grad_() if requires_grad else out


def _freq(name, count, d, dtype, backend):
    if count < 1 or d == 0:
        raise ValueError(f"fft.{name}: needs n >= 1 and a non-zero spacing d")
    dtype = dt.default_float if dtype is None else dt.dtype(dtype)
    return arange(count, dtype=dtype, backend=backend)


def fftshift(input, dim=None):
    """The zero frequency moved to the centre of each axis in ``dim`` (all by default)."""
    return _shift("fftshift", input, dim, lambda n: n // 2)


def ifftshift(input, dim=None):
    """The inverse of fftshift."""
    return _shift("ifftshift", input, dim, lambda n: -(n // 2))


def _shift(name, x, dim, by):
    x = as_tensor(x, f"fft.{name}")
    dims = tuple(range(x.ndim)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return x
    dims = tuple(normalize_axis(f"fft.{name}", d, x.ndim, x.shape) for d in dims)
    return ops.roll(x, [by(x.shape[d]) for d in dims], dims)

