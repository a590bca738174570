"""Datasets hold host NumPy arrays; a DataLoader uploads one batch at a time."""

import numpy as np

import ember
from ember.errors import ShapeError

from .samplers import host_generator


class Dataset:
    """Anything with __len__ and __getitem__(i) -> a tuple of arrays or numbers."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _host(a):
    return a.numpy() if isinstance(a, ember.Tensor) else np.asarray(a)


class TensorDataset(Dataset):
    """Aligned arrays (features, labels, ...) indexed together along axis 0."""

    def __init__(self, *arrays, names=None):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(_host(a) for a in arrays)
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            raise ShapeError("TensorDataset: arrays differ in length: "
                             + ", ".join(str(a.shape) for a in self.arrays))
        self.names = names

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def take(self, indices):
        """A batch of rows at once (what DataLoader uses instead of item by item)."""
        return tuple(a[indices] for a in self.arrays)

    def map(self, fn, column=0):
        """A new dataset with ``fn`` applied to one column (all rows at once)."""
        arrays = list(self.arrays)
        arrays[column] = np.asarray(fn(arrays[column]))
        return TensorDataset(*arrays, names=self.names)

    def __repr__(self):
        cols = ", ".join(f"{a.dtype}{tuple(a.shape)}" for a in self.arrays)
        return f"TensorDataset({len(self)} rows: {cols})"


class Subset(Dataset):
    """The rows of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def take(self, indices):
        rows = self.indices[indices]
        if hasattr(self.dataset, "take"):
            return self.dataset.take(rows)
        return default_collate([self.dataset[int(i)] for i in rows])


def default_collate(items):
    """A batch from a list of samples, as torch's default_collate shapes it: samples that
    are tuples or lists give a tuple of batched fields, dicts a dict, strings a list,
    and arrays or numbers one stacked array (each field checked for one shape)."""
    return _collated(items, "")


def _collated(items, where):
    first = items[0]
    if isinstance(first, dict):
        return {k: _collated([item[k] for item in items], f"{where}[{k!r}]" if where else repr(k))
                for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(item) != len(first) for item in items):
            raise ShapeError(f"collate: the samples{where} hold different numbers of fields")
        return tuple(_collated(column, f"{where}[{k}]" if where else str(k))
                     for k, column in enumerate(zip(*items)))
    if isinstance(first, (str, bytes)):
        return items            # as PyTorch: the batch's own list (or a field's tuple)
    arrays = [_host(x) for x in items]
    shapes = [a.shape for a in arrays]
    other = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
    if other is not None:
        field = f"field {where} of " if where else ""
        raise ShapeError(f"collate: {field}a batch's samples differ in shape: {shapes[0]} at "
                         f"sample 0, {shapes[other]} at sample {other}; give the samples one "
                         f"shape (pad or crop them) or pass DataLoader(collate_fn=)")
    return np.stack(arrays)


class IterableDataset(Dataset):
    """A stream of samples (``__iter__``), read in order by a DataLoader: no length or
    indexing needed (text streams, generated data)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is iterable, not indexable")

    def __len__(self):
        raise TypeError(f"{type(self).__name__} is a stream without a length")


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d


class ConcatDataset(Dataset):
    """Several datasets as one: index i reads the dataset whose share holds it."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: give at least one dataset")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise TypeError("ConcatDataset: an IterableDataset has no indices; use "
                            "ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        index = index + n if index < 0 else index
        k = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        return self.datasets[k][index - (self.cumulative_sizes[k - 1] if k else 0)]


class StackDataset(Dataset):
    """Datasets of one length read together: ``StackDataset(a, b)`` gives (a[i], b[i]),
    ``StackDataset(x=a, y=b)`` {"x": a[i], "y": b[i]}."""

    def __init__(self, *args, **kwargs):
        if bool(args) == bool(kwargs):
            raise ValueError("StackDataset: give datasets as positional or as keyword "
                             "arguments, one of the two")
        self.datasets = args or kwargs
        lengths = {len(d) for d in (args or kwargs.values())}
        if len(lengths) != 1:
            raise ValueError(f"StackDataset: the datasets differ in length: {sorted(lengths)}")
        self._length = lengths.pop()

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)


def random_split(dataset, lengths, generator=None):
    """Disjoint random Subsets of the given lengths, or of fractions of the dataset (the
    floors, then one more to the first ones until all are used, as PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(0 <= f <= 1 for f in lengths) and abs(sum(lengths) - 1) < 1e-9 \
            and sum(lengths) != n:
        counts = [int(np.floor(n * f)) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(length < 0 for length in lengths):
        raise ValueError(f"random_split: the lengths {lengths} must add up to the dataset's "
                         f"{n} (or be fractions adding up to 1)")
    order = host_generator(generator).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds, bounds[1:])]
