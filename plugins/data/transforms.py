"""Transforms on host arrays, applied to whole columns (``TensorDataset.map``)."""

import numpy as np

from .datasets import Subset


def scale(x, max_value=None):
    """Scale to [0, 1] by ``max_value`` (default: the largest value present)."""
    x = np.asarray(x, dtype=np.float32)
    top = float(x.max()) if max_value is None else float(max_value)
    return x / top if top else x


def normalize(x, mean=None, std=None, axis=0):
    """(x - mean) / std, with statistics from the data when not given (zero std stays 1)."""
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=axis, keepdims=True) if mean is None else np.asarray(mean, np.float32)
    std = x.std(axis=axis, keepdims=True) if std is None else np.asarray(std, np.float32)
    return (x - mean) / np.where(std == 0, 1, std)


def one_hot(labels, num_classes=None):
    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"one_hot: labels must lie in [0, {n}), got {labels.min()}..{labels.max()}")
    return np.eye(n, dtype=np.float32)[labels]


def train_val_split(dataset, val_fraction=0.2, seed=0):
    """Two Subsets, shuffled with ``seed``: (train, validation)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    n_val = int(round(len(dataset) * val_fraction))
    return Subset(dataset, order[n_val:]), Subset(dataset, order[:n_val])
