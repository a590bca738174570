"""DataLoader: batches of ember tensors, shuffled reproducibly, prepared ahead in a thread."""

import queue
import threading

import numpy as np

import ember
from ember import random as ember_random

from .datasets import default_collate


class DataLoader:
    """Iterate a dataset in batches of tensors on ``backend`` (default: the current one).

    shuffle: a new order each epoch, from ``seed`` (or, without one, from ember's
    seeded host generator); sampler: an object whose ``indices()`` gives the epoch's
    order and ``set_epoch(n)`` picks the epoch (DistributedSampler); prefetch: batches prepared ahead by a background
    thread (0 to prepare in the caller's thread). Float columns become
    ``dtype`` (float32 by default); integer columns the backend's integer dtype
    (int64; int32 on wgpu).
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, seed=None, drop_last=False,
                 collate=None, prefetch=2, backend=None, dtype=None, sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        if not (hasattr(dataset, "__len__") and (hasattr(dataset, "__getitem__")
                                                 or hasattr(dataset, "take"))):
            raise TypeError(f"DataLoader: the dataset must have a length and items by index "
                            f"or batches by take(indices) (a Dataset, a TensorDataset or a "
                            f"list), got {type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: give shuffle or a sampler, not both (the sampler "
                             "shuffles: DistributedSampler(dataset, shuffle=True))")
        self.sampler = sampler
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.drop_last, self.collate, self.prefetch = drop_last, collate, prefetch
        self.backend, self.dtype = backend, dtype or ember.float32
        self.epoch = 0

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
            return np.asarray(self.sampler.indices())
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = np.random.default_rng(self.seed + self.epoch) if self.seed is not None \
            else ember_random.generator()
        return rng.permutation(n)

    def _host_batches(self, order):
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if self.collate is None and hasattr(self.dataset, "take"):
                yield self.dataset.take(idx)
            else:
                yield (self.collate or default_collate)([self.dataset[int(i)] for i in idx])

    def _to_tensors(self, columns):
        out = []
        for col in columns:
            col = np.asarray(col)
            if col.dtype.kind == "f":
                dtype = self.dtype
            elif col.dtype.kind in "iu":
                dtype = ember.get_backend(self.backend).default_int
            else:
                dtype = None
            out.append(ember.tensor(col, dtype=dtype, backend=self.backend))
        return tuple(out)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        if not self.prefetch:
            for columns in self._host_batches(order):
                yield self._to_tensors(columns)
            return
        q = queue.Queue(maxsize=self.prefetch)
        done = object()
        stop = threading.Event()

        def produce():
            try:
                for columns in self._host_batches(order):
                    while not stop.is_set():
                        try:
                            q.put(columns, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(done)
            except BaseException as exc:  # hand the error to the consumer
                q.put(exc)

        worker = threading.Thread(target=produce, name="ember-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield self._to_tensors(item)
        finally:
            stop.set()
            worker.join(timeout=5)
