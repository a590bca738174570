"""Byte-level text for language models: the running Python's standard-library source
(text every machine has) or any text file, split by whole files so validation is unseen
text, and cut into windows of byte ids with the byte that follows each."""

import glob
import os
import sysconfig

import numpy as np

from ember.errors import DataError

from .datasets import Dataset

SPLITS = ("train", "validation")


def text_corpus(path=None):
    """(train bytes, validation bytes, a description) as uint8 arrays. Without ``path``:
    the standard library's Lib/*.py in sorted order, every tenth file held out whole.
    With ``path``: that file, its last tenth held out."""
    if path is not None:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: not found. ember downloads nothing; pass the "
                                    f"path of an existing text file")
        with open(path, "rb") as f:
            data = f.read()
        cut = len(data) - len(data) // 10
        return (np.frombuffer(data[:cut], np.uint8), np.frombuffer(data[cut:], np.uint8),
                f"{path}: {len(data):,} bytes, the last tenth held out")
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    parts = ([], [])
    for i, name in enumerate(files):
        with open(name, "rb") as f:
            parts[i % 10 == 9].append(f.read())
    train, val = (np.frombuffer(b"".join(p), np.uint8) for p in parts)
    return train, val, (f"{len(files)} files of Lib/*.py: {train.size:,} bytes to train on, "
                        f"{val.size:,} held out in {len(parts[1])} files")


def _random_starts(data, rng, count, context):
    """``count`` offsets of windows that still have a next byte, drawn from ``rng``."""
    if data.size < context + 2:
        raise DataError(f"text of {data.size} bytes is too short for windows of {context} "
                        f"bytes and their next byte; give at least {context + 2} bytes or a "
                        f"shorter context")
    return rng.integers(0, data.size - context - 1, count)


def random_windows(data, rng, count, context):
    """``count`` windows at random offsets: ids (count, context) and the next byte of
    each, as int64."""
    starts = _random_starts(data, rng, count, context)
    return TextWindows(data, context, starts).take(np.arange(count))


class TextWindows(Dataset):
    """Windows of ``context`` bytes of ``data`` at ``starts``; item i is (ids, next ids),
    two int64 arrays of ``context``, the second the first shifted by one byte."""

    def __init__(self, data, context, starts):
        self.data, self.context = data, context
        self.starts = np.asarray(starts, dtype=np.int64)

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, index):
        x, y = self.take(np.array([index]))
        return x[0], y[0]

    def take(self, indices):
        """The windows at ``indices`` at once: ids and next ids, (len(indices), context)."""
        at = self.starts[indices][:, None] + np.arange(self.context + 1)
        windows = self.data[at].astype(np.int64)
        return windows[:, :-1], windows[:, 1:]

    def __repr__(self):
        return f"TextWindows({len(self)} windows of {self.context} bytes)"


def load_text_windows(path=None, context=128, split="train", windows=None, seed=0):
    """A split of :func:`text_corpus` as (ids, next ids) windows of ``context`` bytes:
    every window that does not overlap the next, or ``windows`` of them at random offsets
    fixed by ``seed`` (a validation set that is the same at every evaluation)."""
    if split not in SPLITS:
        raise DataError(f"text_windows: split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not isinstance(context, int) or isinstance(context, bool) or context < 1:
        raise DataError(f"text_windows: context must be a whole number >= 1, got {context!r}")
    train, val, described = text_corpus(path)
    data = train if split == "train" else val
    if data.size < context + 2:
        raise DataError(f"text_windows: the {split} split of {described.split(':')[0]} has "
                        f"{data.size} bytes, too few for one window of context {context} and "
                        f"its next byte; give a longer text or a shorter context")
    if windows is not None and (not isinstance(windows, int) or isinstance(windows, bool)
                                or windows < 1):
        raise DataError(f"text_windows: windows must be a whole number >= 1, got {windows!r}")
    if windows is None:
        starts = np.arange(0, data.size - context, context)
    else:
        starts = _random_starts(data, np.random.default_rng(seed), windows, context)
    return TextWindows(data, context, starts)
