"""The short-time Fourier transform and its inverse, as torch.stft and torch.istft: the
frames are gathered (their gradient sums back over overlaps), windowed and transformed
by ember.fft; istft overlap-adds the inverse transforms and divides by the window's
squared overlap-add, refusing a window whose squares do not overlap (NOLA)."""

from . import dtypes as dt
from . import fft as _fft
from . import ops
from .compile import is_compiling
from .creation import arange, ones
from .errors import DTypeError, ShapeError
from .ops._util import as_tensor
from .ops.movement import scatter_add


def _window(name, window, n_fft, win_length, like):
    """The window (ones by default) as a tensor on ``like``'s backend, centred in n_fft
    points by zero padding, and checked."""
    win_length = n_fft if win_length is None else win_length
    if not 0 < win_length <= n_fft:
        raise ShapeError(f"{name}: win_length {win_length} must be in 1..n_fft ({n_fft})")
    if window is None:
        window = ones((win_length,), dtype=dt.real_of(like.dtype), backend=like._backend)
    window = as_tensor(window, name, like=like)
    if window.shape != (win_length,):
        raise ShapeError(f"{name}: the window has shape {window.shape}; it needs "
                         f"({win_length},), one value per point of win_length")
    left = (n_fft - win_length) // 2
    return ops.pad(window, ((left, n_fft - win_length - left),))


def _check(name, n_fft, hop_length):
    hop_length = n_fft // 4 if hop_length is None else hop_length
    if n_fft < 1 or hop_length < 1:
        raise ShapeError(f"{name}: n_fft ({n_fft}) and hop_length ({hop_length}) must be "
                         f"positive")
    return hop_length


def _edge_pad(x, p, mode):
    """x padded by p on both ends of its last axis as torch.nn.functional.pad's ``mode``."""
    n = x.shape[-1]
    if mode == "constant":
        return ops.pad(x, ((0, 0),) * (x.ndim - 1) + ((p, p),))
    if mode == "reflect":
        if p >= n:
            raise ShapeError(f"stft: reflect padding of {p} needs more than {p} samples, "
                             f"got {n}; use pad_mode='constant' or center=False")
        left, right = ops.narrow(x, -1, 1, p), ops.narrow(x, -1, n - 1 - p, p)
        left, right = ops.flip(left, -1), ops.flip(right, -1)
    elif mode == "replicate":
        left = ops.broadcast_to(ops.narrow(x, -1, 0, 1), x.shape[:-1] + (p,))
        right = ops.broadcast_to(ops.narrow(x, -1, n - 1, 1), x.shape[:-1] + (p,))
    elif mode == "circular":
        if p > n:
            raise ShapeError(f"stft: circular padding of {p} needs at least {p} samples, got {n}")
        left, right = ops.narrow(x, -1, n - p, p), ops.narrow(x, -1, 0, p)
    else:
        raise ValueError(f"stft: pad_mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    return ops.concatenate([left, x, right], -1)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None):
    """The spectra of windowed frames of a signal (L,) or a batch of them (B, L):
    (B?, n_fft // 2 + 1 or n_fft, frames), complex (``return_complex=False``: its parts
    as a last axis of two)."""
    x = as_tensor(input, "stft")
    if x.ndim not in (1, 2):
        raise ShapeError(f"stft: expects a signal (L,) or a batch of them (B, L), got shape "
                         f"{x.shape}")
    complex_in = x.dtype.is_complex or (window is not None and as_tensor(
        window, "stft", like=x).dtype.is_complex)
    if return_complex is None:
        if not complex_in:
            raise ValueError("stft: give return_complex for real inputs (as PyTorch asks): "
                             "return_complex=True gives a complex tensor")
        return_complex = True
    if onesided is None:
        onesided = not complex_in
    elif onesided and complex_in:
        raise ValueError("stft: onesided=True needs a real input and window; a complex "
                         "signal's spectrum has no symmetry to drop")
    if not x.dtype.is_inexact:
        x = ops.cast(x, dt.default_float)
    hop_length = _check("stft", n_fft, hop_length)
    w = _window("stft", window, n_fft, win_length, x)
    if center:
        x = _edge_pad(x, n_fft // 2, pad_mode)
    if not 0 < n_fft <= x.shape[-1]:
        raise ShapeError(f"stft: n_fft {n_fft} is longer than the (padded) signal of "
                         f"{x.shape[-1]} samples")
    frames = x.unfold(-1, n_fft, hop_length) * w           # (B?, frames, n_fft)
    norm = "ortho" if normalized else "backward"
    spectrum = (_fft.rfft if onesided else _fft.fft)(frames, dim=-1, norm=norm)
    spectrum = ops.swapaxes(spectrum, -1, -2)
    return spectrum if return_complex else ops.view_as_real(spectrum)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """The signal whose stft (with the same arguments) is ``input``: each frame's inverse
    transform, windowed, overlap-added and divided by the overlap-added squared window."""
    z = as_tensor(input, "istft")
    if not z.dtype.is_complex:
        raise DTypeError(f"istft: expects a complex spectrum (B?, freq, frames), got "
                         f"{z.dtype.name}; ember.view_as_complex turns (..., 2) parts into one")
    if z.ndim not in (2, 3):
        raise ShapeError(f"istft: expects a spectrum (freq, frames) or a batch of them, got "
                         f"shape {z.shape}")
    hop_length = _check("istft", n_fft, hop_length)
    bins = z.shape[-2]
    onesided = bins != n_fft if onesided is None else onesided
    if return_complex and onesided:
        raise ValueError("istft: return_complex=True needs onesided=False (a one-sided "
                         "spectrum stands for a real signal)")
    if bins != (n_fft // 2 + 1 if onesided else n_fft):
        raise ShapeError(f"istft: {bins} frequencies for n_fft {n_fft}; a "
                         f"{'one-sided' if onesided else 'full'} spectrum has "
                         f"{n_fft // 2 + 1 if onesided else n_fft}")
    count = z.shape[-1]
    if count < 1:
        raise ShapeError("istft: the spectrum has no frames")
    w = _window("istft", window, n_fft, win_length, ops.real(z))
    frames = ops.swapaxes(z, -1, -2)                        # (B?, frames, freq)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        frames = _fft.ifft(frames, dim=-1, norm=norm)
    else:
        frames = _fft.irfft(ops.narrow(frames, -1, 0, n_fft // 2 + 1), n=n_fft, dim=-1,
                            norm=norm)
    total = n_fft + hop_length * (count - 1)
    starts = arange(count, backend=z._backend).reshape(-1, 1) * hop_length
    index = (starts + arange(n_fft, backend=z._backend).reshape(1, -1)).reshape(-1)
    frames = frames * ops.cast(w, frames.dtype)
    signal = scatter_add(frames.shape[:-2] + (total,), frames.ndim - 2, index,
                         frames.reshape(frames.shape[:-2] + (-1,)))
    envelope = scatter_add((total,), 0, index, ops.broadcast_to(w * w, (count, n_fft)).reshape(-1))
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else total - start if center else total
    end_kept = min(end, total)
    envelope = ops.narrow(envelope, 0, start, end_kept - start)
    if not is_compiling() and ops.any(ops.abs(envelope) < 1e-11).item():
        raise ValueError("istft: the window's squares overlap-add to zero somewhere "
                         "(the NOLA condition fails); use a window and hop_length whose "
                         "frames overlap, e.g. hann_window(n_fft) with hop_length <= n_fft // 2")
    signal = ops.narrow(signal, -1, start, end_kept - start) / ops.cast(envelope, signal.dtype)
    if end > end_kept:
        signal = ops.pad(signal, ((0, 0),) * (signal.ndim - 1) + ((0, end - end_kept),))
    return signal
