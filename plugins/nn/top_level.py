"""PyTorch's top-level names for functions this plugin holds (torch.conv2d,
torch.layer_norm, torch.dropout, torch.embedding...), registered as the "functions"
kind, so ``ember.conv2d`` resolves as ``torch.conv2d`` does without the core importing
a plugin. Each takes torch.*'s own arguments, which differ from F's for some: the
norms' trailing cudnn flag, dropout's ``train``, embedding's (weight, indices) order,
batch_norm's and instance_norm's (weight, bias) before the statistics, max pooling's
``stride=[]``, and adaptive_max_pool1d returning its indices."""

from . import functional as F


def _stride(stride):
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else stride


def _pool(fn, with_indices=False):
    def pool(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):  # noqa: A002
        return fn(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                  return_indices=with_indices)
    pool.__name__ = pool.__qualname__ = fn.__name__ + ("_with_indices" if with_indices else "")
    return pool


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                        count_include_pad)


def adaptive_max_pool1d(input, output_size):  # noqa: A002
    """(values, indices), as torch.adaptive_max_pool1d returns them."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5,  # noqa: A002
               cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5,  # noqa: A002
               cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum,  # noqa: A002
               eps, cudnn_enabled=True):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats,  # noqa: A002
                  momentum, eps, cudnn_enabled=True):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """The rows of ``weight`` at ``indices`` (torch.embedding: weight first; padding_idx
    -1 is none)."""
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def _dropping(fn):
    def drop(input, p, train):  # noqa: A002  (torch's names: train, not training)
        return fn(input, p, train)
    drop.__name__ = drop.__qualname__ = fn.__name__
    return drop


def constant_pad_nd(input, pad, value=0):  # noqa: A002
    return F.pad(input, pad, "constant", value)


FUNCTIONS = {
    **{name: getattr(F, name) for name in (
        "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
        "conv_transpose3d", "adaptive_avg_pool1d", "rms_norm", "bilinear", "celu", "selu",
        "rrelu", "threshold", "hardshrink", "prelu", "pixel_shuffle", "pixel_unshuffle",
        "channel_shuffle", "cosine_similarity", "pairwise_distance", "celu_", "selu_",
        "rrelu_", "threshold_")},
    "native_channel_shuffle": F.channel_shuffle,
    "max_pool1d": _pool(F.max_pool1d), "max_pool2d": _pool(F.max_pool2d),
    "max_pool3d": _pool(F.max_pool3d),
    "max_pool1d_with_indices": _pool(F.max_pool1d, with_indices=True),
    "avg_pool1d": avg_pool1d, "adaptive_max_pool1d": adaptive_max_pool1d,
    "layer_norm": layer_norm, "group_norm": group_norm, "batch_norm": batch_norm,
    "instance_norm": instance_norm, "embedding": embedding,
    "dropout": _dropping(F.dropout), "alpha_dropout": _dropping(F.alpha_dropout),
    "feature_alpha_dropout": _dropping(F.feature_alpha_dropout),
    "constant_pad_nd": constant_pad_nd,
}
