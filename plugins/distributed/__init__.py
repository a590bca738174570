"""Data-parallel training: the MPI transport, DistributedDataParallel, DistributedSampler
and `ember launch`. The collectives themselves are ``ember.distributed``."""

from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = ["DistributedDataParallel", "DistributedSampler"]
