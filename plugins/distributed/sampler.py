"""DistributedSampler: each rank's disjoint share of a dataset, reshuffled every epoch."""

import numpy as np

import ember.distributed as dist


class DistributedSampler:
    """Indices for this rank: a permutation from ``seed + epoch`` (the same on every rank),
    padded by wrapping around to a multiple of the world size, then every
    ``num_replicas``-th index from ``rank`` on, so shares are disjoint and equal.
    With ``drop_last`` the tail is dropped instead of padded.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        self.n = len(dataset)
        self.num_replicas = num_replicas if num_replicas is not None else dist.world_size()
        self.rank = rank if rank is not None else dist.rank()
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is outside 0..{self.num_replicas - 1}")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        per = self.n // self.num_replicas if drop_last else -(-self.n // self.num_replicas)
        self.num_samples, self.total = per, per * self.num_replicas

    def set_epoch(self, epoch):
        """Choose the epoch's permutation (the DataLoader calls this each epoch)."""
        self.epoch = epoch

    def indices(self):
        order = (np.random.default_rng(self.seed + self.epoch).permutation(self.n)
                 if self.shuffle else np.arange(self.n))
        if self.total > self.n:
            order = np.concatenate([order, order[:self.total - self.n]])
        return order[:self.total][self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples
