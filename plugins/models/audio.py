"""A speech checkpoint's feature extractor (its preprocessor_config.json), as transformers'
WhisperFeatureExtractor computes it: waveforms become the log-mel spectrograms the model
was trained on, with ember.stft on the tensor's backend.

Each step is transformers': pad or cut the waveform to chunk_length seconds, take the
power spectrum of Hann-windowed frames (n_fft points every hop_length, centred by
reflection, the last frame dropped), project it onto Slaney's triangular mel filters,
take log10 (floored at 1e-10), clip each example to 8 below its largest value, and
scale as (x + 4) / 4.
"""

import dataclasses
import json
import os

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.io import atomic_write

from .huggingface import read_config

PROCESSOR_FILE = "preprocessor_config.json"


def _slaney_mel(hz):
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz >= 1000.0, log_part, 3.0 * hz / 200.0)


def _slaney_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp(np.log(6.4) * (mel - 15.0) / 27.0),
                    200.0 * mel / 3.0)


def mel_filter_bank(frequency_bins, mel_filters, min_frequency, max_frequency, sampling_rate):
    """(frequency_bins, mel_filters) triangular filters on Slaney's mel scale with Slaney's
    area normalization, as transformers' mel_filter_bank(norm="slaney",
    mel_scale="slaney") and librosa's filters.mel."""
    edges = _slaney_hz(np.linspace(_slaney_mel(min_frequency), _slaney_mel(max_frequency),
                                   mel_filters + 2))
    fft_freqs = np.linspace(0, sampling_rate // 2, frequency_bins)
    gaps = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    down, up = -slopes[:, :-2] / gaps[:-1], slopes[:, 2:] / gaps[1:]
    bank = np.maximum(0.0, np.minimum(down, up))
    return bank * (2.0 / (edges[2:] - edges[:-2]))


@dataclasses.dataclass
class WhisperFeatureExtractor:
    """The fields of transformers' WhisperFeatureExtractor, with its defaults (80 mel bins
    of 16 kHz audio in 30-second chunks: (batch, 80, 3000) features)."""

    feature_size: int = 80
    sampling_rate: int = 16000
    hop_length: int = 160
    chunk_length: int = 30
    n_fft: int = 400
    padding_value: float = 0.0

    def __post_init__(self):
        self.n_samples = self.chunk_length * self.sampling_rate
        self.mel_filters = mel_filter_bank(1 + self.n_fft // 2, self.feature_size, 0.0, 8000.0,
                                           self.sampling_rate)

    def __call__(self, raw_speech, sampling_rate=None, dtype=None, backend=None):
        """{"input_features": (batch, feature_size, frames)} of a waveform (samples,) or a
        list or batch of them, each padded with padding_value or cut to chunk_length."""
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"WhisperFeatureExtractor: the audio is sampled at {sampling_rate} "
                             f"Hz, the model at {self.sampling_rate}; resample it first")
        batch = [raw_speech] if _one_waveform(raw_speech) else list(raw_speech)
        fitted = np.full((len(batch), self.n_samples), self.padding_value, dtype=np.float32)
        for row, wave in zip(fitted, batch):
            wave = wave.numpy() if isinstance(wave, ember.Tensor) else np.asarray(wave)
            if wave.ndim != 1:
                raise ShapeError(f"WhisperFeatureExtractor: each waveform must be (samples,), "
                                 f"mono, got shape {wave.shape}")
            row[:min(len(wave), self.n_samples)] = wave[:self.n_samples]
        waves = ember.tensor(fitted, dtype=dtype or ember.float32, backend=backend)
        return {"input_features": self.log_mel_spectrogram(waves)}

    def log_mel_spectrogram(self, waves):
        """Whisper's log-mel features of (batch, samples) waveforms, differentiable."""
        window = ember.hann_window(self.n_fft, dtype=waves.dtype, backend=waves.backend)
        spectrum = ember.stft(waves, self.n_fft, self.hop_length, window=window,
                              return_complex=True)[..., :-1]
        power = ember.real(spectrum) ** 2 + ember.imag(spectrum) ** 2
        filters = ember.tensor(self.mel_filters.T, dtype=waves.dtype, backend=waves.backend)
        log_spec = ember.log10(ember.clip(ember.matmul(filters, power), min=1e-10))
        peak = ember.amax(log_spec, axis=(-2, -1), keepdims=True)
        return (ember.maximum(log_spec, peak - 8.0) + 4.0) / 4.0

    @classmethod
    def from_pretrained(cls, directory):
        """The extractor of a checkpoint directory's preprocessor_config.json."""
        values, path = read_config(directory, PROCESSOR_FILE)
        kind = values.get("feature_extractor_type", "WhisperFeatureExtractor")
        if kind != "WhisperFeatureExtractor":
            raise SerializationError(f"{path}: feature_extractor_type {kind!r} is not "
                                     f"WhisperFeatureExtractor")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def save_pretrained(self, directory):
        """preprocessor_config.json as transformers writes it (atomically)."""
        os.makedirs(directory, exist_ok=True)
        values = {"feature_extractor_type": "WhisperFeatureExtractor", **dataclasses.asdict(self)}
        atomic_write(os.path.join(directory, PROCESSOR_FILE),
                     (json.dumps(values, indent=2) + "\n").encode())


def _one_waveform(x):
    if isinstance(x, ember.Tensor):
        return x.ndim == 1
    if isinstance(x, np.ndarray):
        return x.ndim == 1
    return bool(len(x)) and np.isscalar(x[0])
