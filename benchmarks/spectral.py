"""Fourier transforms: ember.fft and ember.stft (and Whisper's log-mel features) on each
backend against NumPy's pocketfft and PyTorch on the CPU, timed side by side.

    python benchmarks/spectral.py [--backends numpy,opencl,wgpu]

Each row is one workload in float32; the columns are milliseconds per call, the ratio to
NumPy in brackets (NumPy: the transform alone, on a host array)."""

import numpy as np

import ember
from timing import host_table

try:
    import torch
except ImportError:
    torch = None


def _workloads():
    rng = np.random.default_rng(0)
    lines = rng.standard_normal((64, 16000)).astype(np.float32)
    images = rng.standard_normal((16, 256, 256)).astype(np.float32)
    audio = rng.standard_normal((4, 160000)).astype(np.float32)
    hann = np.hanning(401)[:-1].astype(np.float32)

    def np_stft(a):
        padded = np.pad(a, ((0, 0), (200, 200)), mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(padded, 400, axis=-1)[:, ::160]
        return np.fft.rfft(frames * hann, axis=-1)

    def ember_rfft_grad(x):
        x = x.detach().requires_grad_()
        ember.abs(ember.fft.rfft(x)).sum().backward()
        return x.grad

    def torch_rfft_grad(x):
        x = x.detach().requires_grad_()
        torch.fft.rfft(x).abs().sum().backward()
        return x.grad

    return [
        ("rfft 64 x 16000", lines, lambda a: np.fft.rfft(a), lambda x: ember.fft.rfft(x),
         lambda t: torch.fft.rfft(t)),
        ("fft2 16 x 256 x 256", images, lambda a: np.fft.fft2(a), lambda x: ember.fft.fft2(x),
         lambda t: torch.fft.fft2(t)),
        ("rfft + abs, backward", lines, lambda a: np.abs(np.fft.rfft(a)), ember_rfft_grad,
         torch_rfft_grad),
        ("stft 4 x 10 s, n_fft 400", audio, np_stft,
         lambda x: ember.stft(x, 400, 160, window=ember.hann_window(400, backend=x.backend),
                              return_complex=True),
         lambda t: torch.stft(t, 400, 160, window=torch.hann_window(400), return_complex=True)),
    ]


def main(argv=None):
    host_table(__doc__.splitlines()[0], "numpy",
               [(name, (array,), *fns) for name, array, *fns in _workloads()], argv)


if __name__ == "__main__":
    main()
