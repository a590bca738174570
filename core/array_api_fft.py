"""The Array API ``fft`` extension (``ember.array_api.fft``): NumPy's pocketfft on a
host copy, the result handed back on the input's backend in the input's precision
(float32 in, complex64 out)."""

import numpy as np

from . import dtypes as dt
from .array_api import _result, on_host
from .config import get_backend

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _precise(np_fn, complex_out):
    """np_fn on the host, its result in the input's precision (NumPy's may widen)."""
    def fn(x, /, *args, **kwargs):
        single = x.dtype in (dt.float32, dt.complex64, dt.float16, dt.bfloat16)
        out = np_fn(x.numpy(), *args, **kwargs)
        if complex_out:
            out = out.astype(np.complex64 if single else np.complex128)
        else:
            out = out.real.astype(np.float32 if single else np.float64)
        return _result(out, x.backend)
    fn.__name__ = np_fn.__name__
    fn.__doc__ = f"numpy.fft.{np_fn.__name__} on the host."
    return fn


def _norm(np_fn, complex_out, axes_name):
    raw = _precise(np_fn, complex_out)

    def fn(x, /, *, n=None, axis=-1, norm="backward"):
        return raw(x, n, axis, norm)

    def fn_n(x, /, *, s=None, axes=None, norm="backward"):
        return raw(x, s, axes, norm)
    out = fn_n if axes_name else fn
    out.__name__, out.__doc__ = raw.__name__, raw.__doc__
    return out


fft, ifft = _norm(np.fft.fft, True, False), _norm(np.fft.ifft, True, False)
fftn, ifftn = _norm(np.fft.fftn, True, True), _norm(np.fft.ifftn, True, True)
rfft, irfft = _norm(np.fft.rfft, True, False), _norm(np.fft.irfft, False, False)
rfftn, irfftn = _norm(np.fft.rfftn, True, True), _norm(np.fft.irfftn, False, True)
hfft, ihfft = _norm(np.fft.hfft, False, False), _norm(np.fft.ihfft, True, False)


def _freq(np_fn, n, d, dtype, device):
    dtype = dt.dtype(dtype) if dtype is not None else dt.default_float
    return _result(np_fn(n, d).astype(dtype.np), get_backend(device))


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _freq(np.fft.fftfreq, n, d, dtype, device)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _freq(np.fft.rfftfreq, n, d, dtype, device)


def fftshift(x, /, *, axes=None):
    return on_host(lambda a: np.fft.fftshift(a, axes), x)


def ifftshift(x, /, *, axes=None):
    return on_host(lambda a: np.fft.ifftshift(a, axes), x)


