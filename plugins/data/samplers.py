"""torch.utils.data's samplers: iterables of dataset indices that a DataLoader takes
as ``sampler=`` (one index at a time) or ``batch_sampler=`` (a list per batch). Their
random draws come from ``generator`` (a seed, or a numpy Generator) or else from
ember's host generator, so ember.manual_seed makes them repeat."""

import numpy as np

from ember import random as ember_random


def host_generator(generator):
    """The numpy Generator that ``generator`` (None, a seed or a Generator) stands for."""
    if generator is None:
        return ember_random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator: give a seed (int) or a numpy.random.Generator, got "
                    f"{type(generator).__name__} (ember's draws come from the host, "
                    f"not from a torch.Generator)")


class Sampler:
    """Base: ``__iter__`` yields dataset indices; ``__len__`` counts them."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each time it is iterated, or with
    ``replacement`` ``num_samples`` indices drawn uniformly (num_samples may exceed the
    dataset without replacement: whole permutations, then part of one, as PyTorch)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"RandomSampler: num_samples must be a positive int, got "
                             f"{self.num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, rng = len(self.data_source), host_generator(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        whole, part = divmod(self.num_samples, n)
        pieces = [rng.permutation(n) for _ in range(whole)] + [rng.permutation(n)[:part]]
        return iter(np.concatenate(pieces).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each time."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        order = host_generator(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in order])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (one
    per index), with replacement unless told otherwise (then at most len(weights))."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        weights = np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights,
                             dtype=np.float64)
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int, got "
                             f"{num_samples!r}")
        if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0) \
                or not weights.sum() > 0:
            raise ValueError("WeightedRandomSampler: weights must be a 1-D sequence of finite, "
                             "non-negative numbers, not all 0")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(f"WeightedRandomSampler: {num_samples} samples without "
                             f"replacement from {np.count_nonzero(weights)} nonzero weights")
        self.weights, self.num_samples = weights, num_samples
        self.replacement, self.generator = replacement, generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        return iter(host_generator(self.generator).choice(len(p), self.num_samples,
                                                replace=self.replacement, p=p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        return batched(self.sampler, self.batch_size, self.drop_last)

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def batched(items, size, drop_last):
    """Lists of ``size`` consecutive items (the last one shorter unless ``drop_last``)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch and not drop_last:
        yield batch
