"""The Array API ``fft`` extension (``ember.array_api.fft``): ember.fft's transforms under
the standard's argument names (``axis`` and ``axes`` for PyTorch's ``dim``), on the
input's backend and differentiable, in its precision (float32 in, complex64 out)."""

from . import fft as _fft

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _one_axis(fn):
    def transform(x, /, *, n=None, axis=-1, norm="backward"):
        return fn(x, n, axis, norm)
    transform.__name__, transform.__doc__ = fn.__name__, fn.__doc__
    return transform


def _axes(fn):
    def transform(x, /, *, s=None, axes=None, norm="backward"):
        return fn(x, s, axes, norm)
    transform.__name__, transform.__doc__ = fn.__name__, fn.__doc__
    return transform


fft, ifft, rfft, irfft, hfft, ihfft = map(_one_axis, (_fft.fft, _fft.ifft, _fft.rfft, _fft.irfft,
                                                      _fft.hfft, _fft.ihfft))
fftn, ifftn, rfftn, irfftn = map(_axes, (_fft.fftn, _fft.ifftn, _fft.rfftn, _fft.irfftn))


def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _fft.fftfreq(n, d, dtype=dtype, device=device)


def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    return _fft.rfftfreq(n, d, dtype=dtype, device=device)


def fftshift(x, /, *, axes=None):
    return _fft.fftshift(x, axes)


def ifftshift(x, /, *, axes=None):
    return _fft.ifftshift(x, axes)
