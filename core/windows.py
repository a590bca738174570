"""Window functions for spectral analysis, torch.hann_window and its kin: the same
values, ``periodic`` default (a window of N + 1 points with the last dropped, for use
with an FFT) and keywords (``dtype``, and ember's ``backend`` for PyTorch's
``device``). Computed on the backend from an arange, in float64 where it has it and
rounded once."""

import math

from . import dtypes as dt
from .config import get_backend
from .creation import arange, ones, zeros
from .ops import cos, abs as abs_, cast, sqrt
from .ops.bessel import i0


def _points(name, window_length, periodic, dtype, backend):
    """(n / (N - 1) as a tensor in the widest float, the dtype, N) or a ready-made
    window when N is 0 or 1."""
    if isinstance(window_length, bool) or not isinstance(window_length, int) \
            or window_length < 0:
        raise ValueError(f"{name}: window_length must be a non-negative int, got "
                         f"{window_length!r}")
    dtype = dt.dtype(dtype or dt.default_float)
    if not dtype.is_float:
        raise TypeError(f"{name}: dtype must be a float dtype, got {dtype.name}")
    if window_length <= 1:
        make = ones if window_length == 1 else zeros
        return None, make((window_length,), dtype=dtype, backend=backend)
    b = get_backend(backend)
    wide = dt.float64 if dt.float64 in b.dtypes else dt.float32
    n = window_length + 1 if periodic else window_length
    t = arange(window_length, dtype=wide, backend=b) * (1.0 / (n - 1))
    return t, dtype


def _window(name, formula):
    def window(window_length, periodic=True, *, dtype=None, backend=None):
        t, dtype = _points(name, window_length, periodic, dtype, backend)
        return dtype if t is None else cast(formula(t), dtype)
    window.__name__ = window.__qualname__ = name
    return window


def _cosine_sum(*a):
    return lambda t: sum(c * cos(t * (2 * math.pi * k)) * (-1) ** k for k, c in enumerate(a))


hann_window = _window("hann_window", _cosine_sum(0.5, 0.5))
hann_window.__doc__ = "The Hann window, 1/2 - 1/2 cos(2 pi n / (N - 1)) (torch.hann_window)."
blackman_window = _window("blackman_window", _cosine_sum(0.42, 0.5, 0.08))
blackman_window.__doc__ = ("The Blackman window, 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 "
                           "cos(4 pi n / (N - 1)) (torch.blackman_window).")
bartlett_window = _window("bartlett_window", lambda t: 1.0 - abs_(t * 2.0 - 1.0))
bartlett_window.__doc__ = "The triangular Bartlett window (torch.bartlett_window)."


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   backend=None):
    """The Hamming window, alpha - beta cos(2 pi n / (N - 1)) (torch.hamming_window)."""
    return _window("hamming_window", lambda t: alpha - beta * cos(t * (2 * math.pi)))(
        window_length, periodic, dtype=dtype, backend=backend)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, backend=None):
    """The Kaiser window, I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta)
    (torch.kaiser_window)."""
    return _window("kaiser_window", lambda t: i0(sqrt(1.0 - (t * 2.0 - 1.0) ** 2) * beta)
                   / i0(t * 0.0 + beta))(window_length, periodic, dtype=dtype, backend=backend)


__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window",
           "kaiser_window"]
