"""Datasets hold host NumPy arrays; a DataLoader uploads one batch at a time."""

import numpy as np

import ember
from ember.errors import ShapeError


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
    """A list of per-item tuples -> a tuple of stacked arrays."""
    out = []
    for k, column in enumerate(zip(*items)):
        arrays = [np.asarray(col) for col in column]
        shapes = [a.shape for a in arrays]
        other = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
        if other is not None:
            raise ShapeError(f"collate: field {k} of a batch's samples differs in shape: "
                             f"{shapes[0]} at sample 0, {shapes[other]} at sample {other}; "
                             f"give the samples one shape (pad or crop them) or pass "
                             f"DataLoader(collate=)")
        out.append(np.stack(arrays))
    return tuple(out)
