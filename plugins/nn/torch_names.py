"""torch.nn.functional's activations and losses under its names and signatures, so code
written against ``F`` runs unchanged: ``F.softmax(x, dim=-1)``, ``F.cross_entropy(logits,
y, weight, ignore_index=-100)``. Each calls ember's own op or loss (ember.softmax,
ember.plugins.losses), which the suite checks; only the arguments are PyTorch's here.
PyTorch's deprecated ``size_average`` and ``reduce`` are refused unless left None."""

import ember
from ember.plugins import losses


def _dim(name, dim):
    if dim is None:
        raise ValueError(f"{name}: give dim (PyTorch's implicit choice of it is deprecated)")
    return dim


def _reduction(name, size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        raise ValueError(f"{name}: size_average and reduce are PyTorch's deprecated "
                         f"arguments; pass reduction='mean', 'sum' or 'none'")
    return reduction


def softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002  (PyTorch's names)
    x = input.to(dtype) if dtype is not None else input
    return ember.softmax(x, _dim("softmax", dim))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    x = input.to(dtype) if dtype is not None else input
    return ember.log_softmax(x, _dim("log_softmax", dim))


def relu(input, inplace=False):  # noqa: A002
    return ember.relu(input)


def sigmoid(input):  # noqa: A002
    return ember.sigmoid(input)


def tanh(input):  # noqa: A002
    return ember.tanh(input)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    return ember.softplus(input, beta, threshold)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """PyTorch's default ignore_index (-100) concerns class indices: with probability
    targets (soft labels, distillation) it is not passed on; another is refused."""
    if ignore_index == -100 and isinstance(target, ember.Tensor) and target.dtype.is_float:
        ignore_index = None
    return losses.cross_entropy(input, target, _reduction("cross_entropy", size_average,
                                                          reduce, reduction),
                                label_smoothing, weight, ignore_index)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    return losses.nll_loss(input, target, weight, ignore_index,
                           _reduction("nll_loss", size_average, reduce, reduction))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    return losses.mse_loss(input, target, _reduction("mse_loss", size_average, reduce, reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    return losses.l1_loss(input, target, _reduction("l1_loss", size_average, reduce, reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    return losses.smooth_l1_loss(input, target, _reduction("smooth_l1_loss", size_average,
                                                           reduce, reduction), beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    if weight is not None:
        raise ValueError("huber_loss: weight is not supported; weigh the loss taken with "
                         "reduction='none' instead")
    return losses.huber_loss(input, target, reduction, delta)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    return losses.kl_div(input, target, _reduction("kl_div", size_average, reduce, reduction),
                         log_target)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    return losses.binary_cross_entropy(input, target, weight, _reduction(
        "binary_cross_entropy", size_average, reduce, reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    return losses.binary_cross_entropy_with_logits(input, target, weight, _reduction(
        "binary_cross_entropy_with_logits", size_average, reduce, reduction), pos_weight)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None,  # noqa: A002
                     eps=1e-8, reduce=None, reduction="mean"):
    return losses.poisson_nll_loss(input, target, log_input, full, eps, _reduction(
        "poisson_nll_loss", size_average, reduce, reduction))


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):  # noqa: A002
    return losses.gaussian_nll_loss(input, target, var, full, eps, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    return losses.margin_ranking_loss(input1, input2, target, margin, _reduction(
        "margin_ranking_loss", size_average, reduce, reduction))


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    return losses.hinge_embedding_loss(input, target, margin, _reduction(
        "hinge_embedding_loss", size_average, reduce, reduction))


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    return losses.soft_margin_loss(input, target, _reduction("soft_margin_loss", size_average,
                                                             reduce, reduction))


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None,  # noqa: A002
                                reduce=None, reduction="mean"):
    return losses.multilabel_soft_margin_loss(input, target, weight, _reduction(
        "multilabel_soft_margin_loss", size_average, reduce, reduction))


def multilabel_margin_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                           reduction="mean"):
    return losses.multilabel_margin_loss(input, target, _reduction(
        "multilabel_margin_loss", size_average, reduce, reduction))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,  # noqa: A002
                      reduce=None, reduction="mean"):
    return losses.multi_margin_loss(input, target, p, margin, weight, _reduction(
        "multi_margin_loss", size_average, reduce, reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    return losses.cosine_embedding_loss(input1, input2, target, margin, _reduction(
        "cosine_embedding_loss", size_average, reduce, reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    return losses.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                      _reduction("triplet_margin_loss", size_average, reduce,
                                                 reduction))


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    return losses.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                    distance_function, margin, swap, reduction)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    return losses.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                           zero_infinity)

