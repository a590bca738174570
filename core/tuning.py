"""Kernel choices searched once per device and kept on disk, as CLBlast's tuner and
tinygrad's BEAM search do: tile sizes and work-group shapes that are fastest on one CPU
or GPU are slow on another, so a backend hands ``tuned`` the candidates for a problem
and a way to try one, and the fastest is remembered in ``tuning.json`` under
``$EMBER_CACHE_DIR`` (default ``~/.cache/ember``). ``EMBER_TUNING=0`` skips the search:
the first candidate, the backend's default, is used."""

import json
import math
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from .io import atomic_write

_lock = threading.Lock()
_entries = None          # the cache file's entries, read once per process


class TuningWarning(UserWarning):
    """The tuning cache could not be read or written; choices are searched again."""


def cache_path():
    """Where the chosen candidates are kept."""
    root = os.environ.get("EMBER_CACHE_DIR")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ember"
    return Path(root) / "tuning.json"


def enabled():
    """False when EMBER_TUNING is 0, off, no or false."""
    return os.environ.get("EMBER_TUNING", "1").strip().lower() not in ("0", "off", "no", "false")


def _read():
    """The cache file's {key: candidate}; {} (with a TuningWarning) when it is unreadable."""
    path = cache_path()
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):      # nothing kept yet
        return {}
    except (OSError, ValueError) as exc:
        warnings.warn(f"ignoring the tuning cache {path} ({exc}); delete it to stop this "
                      f"warning, kernels are tuned again", TuningWarning, stacklevel=4)
        return {}
    if not isinstance(data, dict):
        warnings.warn(f"ignoring the tuning cache {path}: not a JSON object", TuningWarning,
                      stacklevel=4)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list)}


def _write(key, choice):
    """Add ``key`` to the file, merged with what other processes wrote since, atomically
    (ember.io.atomic_write: a reader never sees half a file)."""
    path = cache_path()
    entries = _read()
    entries[key] = list(choice)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(entries, indent=1, sort_keys=True).encode())
    except OSError as exc:
        warnings.warn(f"cannot write the tuning cache {path} ({exc}); set EMBER_CACHE_DIR "
                      f"to a writable folder to keep tuned kernels", TuningWarning, stacklevel=4)
    return entries


def _loaded():
    """The remembered choices, read from the file on first use (the caller holds _lock)."""
    global _entries
    if _entries is None:
        _entries = _read()
    return _entries


def entries():
    """The remembered choices, {key: candidate}."""
    with _lock:
        return dict(_loaded())


def tuned(key, candidates, trial, repeat=3):
    """The candidate to use for ``key`` (a string naming the device, the kernel and the
    problem's class): the remembered one, else the fastest found now. ``trial(candidate)``
    runs it once and returns its result as a NumPy array (the first call of each
    candidate also builds it, so it is not timed). A candidate that fails, or whose result
    differs from the first candidate's, is dropped; so trials should use inputs whose
    answer is exact (small integers), and the first candidate must work."""
    global _entries
    candidates = [tuple(c) for c in candidates]
    if not enabled() or len(candidates) == 1:
        return candidates[0]
    with _lock:
        found = _loaded().get(key)
        if found is not None and tuple(found) in candidates:
            return tuple(found)
        best, best_time, reference = candidates[0], math.inf, None
        for candidate in candidates:
            try:
                result = trial(candidate)
                if reference is None:
                    reference = result
                elif not np.array_equal(result, reference, equal_nan=True):
                    continue
                took = math.inf
                for _ in range(repeat):
                    start = time.perf_counter()
                    trial(candidate)
                    took = min(took, time.perf_counter() - start)
            except Exception:
                if reference is None:
                    raise
                continue
            if took < best_time:
                best, best_time = candidate, took
        _entries = _write(key, best)
        return best
