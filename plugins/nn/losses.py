"""torch.nn's loss modules (``nn.CrossEntropyLoss()(logits, target)``): each a Module
over torch.nn.functional's function of the same name (torch_names.py, which calls
ember.plugins.losses), with PyTorch's constructor arguments and its class weights kept
as a buffer, as PyTorch keeps them (state-dict key ``weight``, ``pos_weight``)."""

from . import torch_names as F
from .module import Module


class _Loss(Module):
    fn = None

    def __init__(self, buffers=None, **options):
        super().__init__()
        object.__setattr__(self, "options", options)
        for name, value in (buffers or {}).items():
            self.register_buffer(name, value)

    def forward(self, input, target):  # noqa: A002  (PyTorch's names)
        return type(self).fn(input, target, **self.options, **self._buffers)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class CrossEntropyLoss(_Loss):
    fn = staticmethod(F.cross_entropy)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__({"weight": weight}, size_average=size_average,
                         ignore_index=ignore_index, reduce=reduce, reduction=reduction,
                         label_smoothing=label_smoothing)


class NLLLoss(_Loss):
    fn = staticmethod(F.nll_loss)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__({"weight": weight}, size_average=size_average,
                         ignore_index=ignore_index, reduce=reduce, reduction=reduction)


class BCELoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__({"weight": weight}, size_average=size_average, reduce=reduce,
                         reduction=reduction)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__({"weight": weight, "pos_weight": pos_weight},
                         size_average=size_average, reduce=reduce, reduction=reduction)


class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)


class L1Loss(_Loss):
    fn = staticmethod(F.l1_loss)

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)


class SmoothL1Loss(_Loss):
    fn = staticmethod(F.smooth_l1_loss)

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction,
                         beta=beta)


class HuberLoss(_Loss):
    fn = staticmethod(F.huber_loss)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction, delta=delta)


class KLDivLoss(_Loss):
    fn = staticmethod(F.kl_div)

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction,
                         log_target=log_target)
