"""DataLoader: batches of ember tensors, shuffled reproducibly, prepared ahead in a thread."""

import queue
import threading

import numpy as np

import ember

from .datasets import IterableDataset, default_collate
from .samplers import batched, host_generator


class _Default(int):
    """ember's default batch size, told apart from one the caller gave (batch_sampler
    takes none)."""


_DEFAULT_BATCH = _Default(32)


def get_worker_info():
    """None, as PyTorch's in the main process: ember's loader prepares batches in a
    thread of this process, never in worker processes."""
    return None


class DataLoader:
    """Iterate a dataset in batches of tensors on ``backend`` (default: the current one).

    shuffle: a new order each epoch, from ``seed`` (or ``generator``, or, without
    either, from ember's seeded host generator); sampler: torch's kind (an iterable of
    indices: RandomSampler, WeightedRandomSampler...) or ember's (``indices()`` and
    ``set_epoch(n)``: DistributedSampler); batch_sampler: an iterable of index lists,
    instead of batch_size, shuffle, sampler and drop_last; an IterableDataset is read in
    order. collate_fn (or collate): a list of samples to a batch (default_collate:
    tuples, dicts, strings and arrays as PyTorch batches them). prefetch: batches
    prepared ahead by a background thread (0 to prepare in the caller's thread;
    ``num_workers`` > 0 makes it prefetch_factor x num_workers, as many as PyTorch's
    workers keep ready); pin_memory changes nothing (host arrays are uploaded a batch at
    a time). Float columns become ``dtype`` (float32 by default); integer
    columns the backend's integer dtype (int64; int32 on wgpu).
    """

    def __init__(self, dataset, batch_size=_DEFAULT_BATCH, shuffle=False, seed=None, drop_last=False,
                 collate=None, prefetch=2, backend=None, dtype=None, sampler=None, *,
                 batch_sampler=None, collate_fn=None, generator=None, num_workers=0,
                 prefetch_factor=None, pin_memory=False):
        if batch_sampler is not None and (batch_size is not _DEFAULT_BATCH or shuffle or
                                          sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler gives the batches; give it without "
                             "batch_size, shuffle, sampler and drop_last (as PyTorch)")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be an int >= 1 (or None: each "
                             f"sample on its own, unbatched), got {batch_size!r}")
        self.iterable = isinstance(dataset, IterableDataset)
        if not self.iterable and not (hasattr(dataset, "__len__") and (
                hasattr(dataset, "__getitem__") or hasattr(dataset, "take"))):
            raise TypeError(f"DataLoader: the dataset must have a length and items by index "
                            f"or batches by take(indices) (a Dataset, a TensorDataset or a "
                            f"list), or be an IterableDataset, got {type(dataset).__name__}")
        if self.iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: an IterableDataset is read in its own order; give "
                             "it no shuffle, sampler or batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: give shuffle or a sampler, not both (the sampler "
                             "shuffles: RandomSampler, DistributedSampler(dataset, "
                             "shuffle=True))")
        if collate is not None and collate_fn is not None:
            raise ValueError("DataLoader: give collate_fn or collate (the same), not both")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers}")
        if num_workers:
            prefetch = (2 if prefetch_factor is None else prefetch_factor) * num_workers
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.drop_last, self.collate, self.prefetch = drop_last, collate or collate_fn, prefetch
        self.backend, self.dtype = backend, dtype or ember.float32
        self.epoch = 0

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        if self.iterable:
            raise TypeError("DataLoader: an IterableDataset has no length, so its loader "
                            "has none")
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)
            if callable(getattr(self.sampler, "indices", None)):
                return np.asarray(self.sampler.indices())
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = np.random.default_rng(self.seed + self.epoch) if self.seed is not None \
            else host_generator(self.generator)
        return rng.permutation(n)

    def _index_batches(self, order):
        if self.batch_size is None:                 # unbatched: one index at a time
            yield from order
            return
        if self.batch_sampler is not None:
            yield from (np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
            return
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield idx

    def _host_batches(self, order):
        collate = self.collate or default_collate
        if self.batch_size is None:                 # each sample as it is, as arrays
            collate = self.collate or _as_arrays
            samples = iter(self.dataset) if self.iterable else \
                (self.dataset[int(i)] for i in self._index_batches(order))
            yield from (collate(sample) for sample in samples)
            return
        if self.iterable:
            yield from (collate(batch) for batch in batched(self.dataset, self.batch_size,
                                                            self.drop_last))
            return
        for idx in self._index_batches(order):
            if self.collate is None and hasattr(self.dataset, "take"):
                yield self.dataset.take(idx)
            else:
                yield collate([self.dataset[int(i)] for i in idx])

    def _to_tensors(self, batch):
        """A collated batch's arrays as tensors, its tuples, dicts and lists kept."""
        if isinstance(batch, dict):
            return {k: self._to_tensors(v) for k, v in batch.items()}
        if isinstance(batch, ember.Tensor) or (isinstance(batch, (list, tuple)) and batch and
                                               isinstance(batch[0], (str, bytes))):
            return batch                                        # (strings stay strings)
        if isinstance(batch, tuple):
            return tuple(self._to_tensors(v) for v in batch)
        col = np.asarray(batch)
        if col.dtype.kind == "f":
            dtype = self.dtype
        elif col.dtype.kind in "iu":
            dtype = ember.get_backend(self.backend).default_int
        else:
            dtype = None
        return ember.tensor(col, dtype=dtype, backend=self.backend)

    def __iter__(self):
        order = None if self.iterable or self.batch_sampler is not None else self._order()
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


def _as_arrays(sample):
    """An unbatched sample with its numbers and arrays as arrays (PyTorch's
    default_convert), its tuples, dicts and strings kept."""
    if isinstance(sample, dict):
        return {k: _as_arrays(v) for k, v in sample.items()}
    if isinstance(sample, (tuple, list)) and not (sample and isinstance(sample[0], (str, bytes))):
        return tuple(_as_arrays(v) for v in sample)
    return sample if isinstance(sample, (str, bytes)) else np.asarray(
        sample.numpy() if isinstance(sample, ember.Tensor) else sample)
