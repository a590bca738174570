"""Discrete Fourier transforms over any set of axes, differentiable as PyTorch's.

Every backend computes these through Backend.fft: NumPy's pocketfft on a host copy by
default, CuPy's cuFFT on the device (one step of a compiled graph, as Backend.lapack),
in the input's precision: float32 and complex64 in single, float64 and complex128 in
double. The gradients are transforms again (the adjoint of a DFT is the opposite DFT
with the dual normalization), so they differentiate twice and compile.

Four kinds, each over ``axes`` with NumPy's and PyTorch's ``norm`` ("backward": the
inverse scaled by 1/n; "forward": the forward; "ortho": both by 1/sqrt(n)):
- ``fft``, ``ifft``: complex to complex, the shape kept;
- ``rfft``: real to the half spectrum, the last axis n -> n // 2 + 1;
- ``irfft``: the half spectrum of a Hermitian signal to the real signal of ``last``
  points along the last axis (the imaginary parts of the zero and, for even ``last``,
  Nyquist terms are ignored, as everywhere).

At the edges: NaN or inf anywhere along a transformed axis spreads NaN (or inf) to every
output of that line, as in NumPy and PyTorch; an empty batch gives an empty result; a
transformed axis of no points is refused by the callers (ember.fft).
"""

import numpy as np

from .. import dtypes as dt
from ..autograd import Op, run

#: the normalization whose transform is the adjoint's: DFT^H = n * IDFT
DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def transform(kind, axes, norm, last, x, xp=np):
    """The ``kind`` transform of array ``x`` of module ``xp`` (NumPy's pocketfft, CuPy's
    cuFFT) over ``axes`` in its own precision."""
    single = x.dtype in (np.float32, np.complex64)
    real, cplx = (np.float32, np.complex64) if single else (np.float64, np.complex128)
    if x.size == 0:     # cuFFT plans no empty batch
        shape = list(x.shape)
        if kind in ("rfft", "irfft"):
            shape[axes[-1]] = last if kind == "irfft" else shape[axes[-1]] // 2 + 1
        return xp.zeros(shape, real if kind == "irfft" else cplx)
    if kind == "irfft":
        sizes = [x.shape[a] for a in axes[:-1]] + [last]
        out = xp.fft.irfftn(x, s=sizes, axes=axes, norm=norm)
        return xp.ascontiguousarray(out, dtype=real)
    fn = {"fft": xp.fft.fftn, "ifft": xp.fft.ifftn, "rfft": xp.fft.rfftn}[kind]
    out = fn(x, axes=axes, norm=norm)
    return xp.ascontiguousarray(out, dtype=cplx)


class FFT(Op):
    """One ``kind`` transform over ``axes`` through the backend's ``fft`` host routine;
    its gradient is the adjoint transform."""

    __slots__ = ("kind", "axes", "norm", "last")
    complex_grad = True

    def __init__(self, kind, axes, norm, last):
        self.kind, self.axes, self.norm, self.last = kind, axes, norm, last

    def forward(self, x):
        return self.backend.fft(self.kind, self.axes, self.norm, self.last, x)

    def backward(self, g, x):
        kind, axes, dual = self.kind, self.axes, DUAL[self.norm]
        if kind in ("fft", "ifft"):
            return (dft("ifft" if kind == "fft" else "fft", g, axes, dual),)
        axis, n = axes[-1], x.shape[axes[-1]] if kind == "rfft" else self.last
        # the terms that stand for themselves and their mirror image: all but the zero and
        # (for even n) Nyquist ones
        paired = np.ones(n // 2 + 1)
        paired[1:(n + 1) // 2] = 2.0
        if kind == "rfft":
            # real(the inverse of g zero-padded to n) is irfft of g with the paired terms
            # halved: half the work of a complex transform of n points
            return (dft("irfft", g * _along(1.0 / paired, axis, x), axes, dual, n),)
        return (dft("rfft", g, axes, dual) * _along(paired, axis, x),)

    def __repr__(self):
        return f"FFT({self.kind}, axes={self.axes})"


def _along(values, axis, like):
    """Host ``values`` as a tensor along ``axis`` of ``like`` (broadcasting over the rest),
    in the complex dtype of like's precision."""
    from .. import creation
    shape = [1] * like.ndim
    shape[axis] = len(values)
    return creation.tensor(values.reshape(shape), dtype=dt.complex_of(like.dtype),
                           backend=like._backend)


def dft(kind, x, axes, norm, last=None):
    """The ``kind`` transform of checked ``x`` (complex for fft, ifft and irfft, real for
    rfft, each axis already of its final length) over distinct ``axes``, the last of them
    the half spectrum's (rfft, irfft)."""
    shape = list(x.shape)
    if kind == "rfft":
        shape[axes[-1]] = shape[axes[-1]] // 2 + 1
    elif kind == "irfft":
        shape[axes[-1]] = last
    dtype = dt.real_of(x.dtype) if kind == "irfft" else dt.complex_of(x.dtype)
    return run(FFT(kind, tuple(axes), norm, last), (x,), tuple(shape), dtype)
