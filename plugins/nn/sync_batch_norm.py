"""nn.SyncBatchNorm, as PyTorch's: batch normalization whose training statistics are the
whole global batch's, over the ranks of ember.distributed's world, so that data-parallel
training of a network with small per-rank batches normalizes as one process would.

The mean and then the variance (the squared deviations from that global mean: no
cancellation) are each an all_reduce of per-rank sums. Those all_reduces are
differentiable, their backward an all_reduce of the gradients, since every rank's loss
depends on every rank's inputs. Outside a world, or in eval mode, it is BatchNorm.
"""

import math

import ember
import ember.distributed as dist
from ember.autograd import run
from ember.errors import ShapeError
from . import functional as F
from .layers import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm
from .module import LayerExample


class _Summed(ember.Op):
    """Every rank's tensors summed (computed before), joined to this rank's: the gradient
    of this rank's is the gradients summed over the ranks."""

    __slots__ = ()

    def forward(self, total, mine):
        return total

    def backward(self, g, total, mine):
        return None, dist.all_reduce(g, "sum")


def all_reduce_sum(t):
    """The sum of ``t`` over the ranks, differentiable (each rank's gradient is the sum
    of the ranks' gradients of the total)."""
    with ember.no_grad():
        total = dist.all_reduce(t.detach(), "sum")
    return run(_Summed(), (total, t), total.shape, total.dtype)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, ...) input by the statistics of the batch across
    every rank (torch.nn.SyncBatchNorm, its arguments and state-dict keys), the running
    ones moved toward them on every rank alike. ``process_group`` must be None: the
    world is ember.distributed's one."""

    dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, dtype=None, backend=None):
        if process_group is not None:
            raise ValueError("SyncBatchNorm: process_group must be None; ember.distributed "
                             "has one world, which it synchronizes over")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         backend)

    def forward(self, x):
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            raise ShapeError(f"SyncBatchNorm: expects (N, C, ...) input with "
                             f"{self.num_features} channels on axis 1, got {x.shape}")
        batch = self._batch_statistics()
        if not batch or dist.world_size() == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                self.bias, batch, self.momentum, self.eps)
        axes = (0,) + tuple(range(2, x.ndim))
        local = x.shape[0] * math.prod(x.shape[2:])
        count = int(dist.all_reduce(ember.tensor([local], backend=x.backend)).item())
        if count < 2:
            raise ShapeError(f"SyncBatchNorm: training needs more than one value per channel "
                             f"across the ranks, got {count}")
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        mean = all_reduce_sum(x.sum(axis=axes)) / count
        centered = x - mean.reshape(shape)
        var = all_reduce_sum((centered * centered).sum(axis=axes)) / count
        if self.running_mean is not None:
            F._follow(self.running_mean, self.running_var, mean.detach(),
                      var.detach() * (count / (count - 1)), self.momentum)
        out = centered / ember.sqrt(var + self.eps).reshape(shape)
        return F._channel_affine(out, self.weight, self.bias)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d/3d in it replaced by a SyncBatchNorm holding
        its parameters, buffers and mode (torch.nn.SyncBatchNorm.convert_sync_batchnorm)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            sync = cls(module.num_features, module.eps, module.momentum,
                       module.weight is not None, module.running_mean is not None,
                       process_group)
            sync.load_state_dict(module.state_dict())
            if module.weight is not None:   # the same parameters: an optimizer holds them
                sync.weight, sync.bias = module.weight, module.bias
            return sync.train(module.training)
        for name, child in list(module._modules.items()):
            if child is not None:
                setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3}, shape=(2, 3, 3, 2), bad_shape=(2, 4, 3, 2))
