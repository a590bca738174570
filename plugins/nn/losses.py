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


class PoissonNLLLoss(_Loss):
    fn = staticmethod(F.poisson_nll_loss)

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(log_input=log_input, full=full, size_average=size_average, eps=eps,
                         reduce=reduce, reduction=reduction)


class GaussianNLLLoss(_Loss):
    """Called as loss(input, target, var)."""

    fn = staticmethod(F.gaussian_nll_loss)

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(full=full, eps=eps, reduction=reduction)

    def forward(self, input, target, var):  # noqa: A002
        return F.gaussian_nll_loss(input, target, var, **self.options)


class HingeEmbeddingLoss(_Loss):
    fn = staticmethod(F.hinge_embedding_loss)

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(margin=margin, size_average=size_average, reduce=reduce,
                         reduction=reduction)


class SoftMarginLoss(_Loss):
    fn = staticmethod(F.soft_margin_loss)

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)


class MultiLabelSoftMarginLoss(_Loss):
    fn = staticmethod(F.multilabel_soft_margin_loss)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__({"weight": weight}, size_average=size_average, reduce=reduce,
                         reduction=reduction)


class MultiLabelMarginLoss(_Loss):
    fn = staticmethod(F.multilabel_margin_loss)

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)


class MultiMarginLoss(_Loss):
    fn = staticmethod(F.multi_margin_loss)

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__({"weight": weight}, p=p, margin=margin, size_average=size_average,
                         reduce=reduce, reduction=reduction)


class _PairLoss(_Loss):
    """A loss of two inputs and a target: loss(input1, input2, target)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(margin=margin, size_average=size_average, reduce=reduce,
                         reduction=reduction)

    def forward(self, input1, input2, target):
        return type(self).fn(input1, input2, target, **self.options)


class MarginRankingLoss(_PairLoss):
    fn = staticmethod(F.margin_ranking_loss)


class CosineEmbeddingLoss(_PairLoss):
    fn = staticmethod(F.cosine_embedding_loss)


class TripletMarginLoss(_Loss):
    """Called as loss(anchor, positive, negative)."""

    fn = staticmethod(F.triplet_margin_loss)

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(margin=margin, p=p, eps=eps, swap=swap, size_average=size_average,
                         reduce=reduce, reduction=reduction)

    def forward(self, anchor, positive, negative):
        return type(self).fn(anchor, positive, negative, **self.options)


class TripletMarginWithDistanceLoss(TripletMarginLoss):
    """Called as loss(anchor, positive, negative); ``distance_function`` is any function
    of two tensors (a Module too), F.pairwise_distance by default."""

    fn = staticmethod(F.triplet_margin_with_distance_loss)

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        _Loss.__init__(self, distance_function=distance_function, margin=margin, swap=swap,
                       reduction=reduction)


class CTCLoss(_Loss):
    """Called as loss(log_probs, targets, input_lengths, target_lengths)."""

    fn = staticmethod(F.ctc_loss)

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(blank=blank, reduction=reduction, zero_infinity=zero_infinity)

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, **self.options)
