"""torch.nn.utils' names: gradient clipping (ember.plugins.optim's), a model's
parameters as one flat vector and back, parametrizations (weight_norm, spectral_norm;
see parametrize.py) and padding a list of sequences into a batch (rnn.pad_sequence)."""

import ember
from ember.errors import ShapeError
from ember.plugins.optim.clip import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                      get_total_norm)

from . import packed, parametrize
from .parametrize import legacy_weight_norm as weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
           "get_total_norm", "parameters_to_vector", "parametrizations",
           "parametrize", "remove_weight_norm", "rnn", "vector_to_parameters", "weight_norm"]


class parametrizations:                      # noqa: N801  (torch.nn.utils.parametrizations)
    """torch.nn.utils.parametrizations' namespace."""
    weight_norm = staticmethod(parametrize.weight_norm)
    spectral_norm = staticmethod(parametrize.spectral_norm)


def remove_weight_norm(module, name="weight"):
    """Undo the older weight_norm: ``name`` a plain parameter again, holding its value."""
    from .module import Parameter
    with ember.no_grad():
        value = getattr(module, name).detach()
    delattr(module, f"{name}_g")
    delattr(module, f"{name}_v")
    delattr(type(module), name)
    object.__setattr__(module, "__class__", type(module)._parametrized_base)
    setattr(module, name, Parameter(value))
    return module


class rnn:                                   # noqa: N801  (torch.nn.utils.rnn)
    """torch.nn.utils.rnn: pad_sequence, and PackedSequence with its functions."""

    PackedSequence = packed.PackedSequence
    pack_padded_sequence = staticmethod(packed.pack_padded_sequence)
    pad_packed_sequence = staticmethod(packed.pad_packed_sequence)
    pack_sequence = staticmethod(packed.pack_sequence)
    unpack_sequence = staticmethod(packed.unpack_sequence)

    @staticmethod
    def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
        """Tensors of shape (L_i, *) stacked into (L_max, B, *) (or (B, L_max, *) with
        batch_first), each padded with ``padding_value`` on ``padding_side``."""
        if padding_side not in ("right", "left"):
            raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                             f"{padding_side!r}")
        sequences = list(sequences)
        if not sequences:
            raise ShapeError("pad_sequence: needs at least one sequence")
        tail = tuple(sequences[0].shape[1:])
        for k, t in enumerate(sequences):
            if t.ndim < 1 or tuple(t.shape[1:]) != tail:
                raise ShapeError(f"pad_sequence: sequence {k} has shape {tuple(t.shape)}; every "
                                 f"one must be (L, {', '.join(map(str, tail)) or ''}) with "
                                 f"the first's trailing shape")
        longest = max(t.shape[0] for t in sequences)
        rows = []
        for t in sequences:
            gap = longest - t.shape[0]
            widths = [(0, gap) if padding_side == "right" else (gap, 0)] + [(0, 0)] * (t.ndim - 1)
            rows.append(ember.pad(t, widths, value=padding_value) if gap else t)
        return ember.stack(rows, 0 if batch_first else 1)


def parameters_to_vector(parameters):
    """Every parameter flattened and joined, in order, into one 1-D tensor."""
    return ember.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into ``parameters`` (outside autograd), as
    parameters_to_vector laid them out."""
    parameters = list(parameters)
    total = sum(p.size for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ShapeError(f"vector_to_parameters: a vector of {total} values fits these "
                         f"parameters, got shape {vec.shape}")
    with ember.no_grad():
        start = 0
        for p in parameters:
            p.copy_(vec[start:start + p.size].reshape(p.shape))
            start += p.size


# -- folding an eval-mode batch norm into the layer before it (torch.nn.utils.fusion) --
def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The weight and bias of a convolution followed by an eval-mode batch norm, as one
    convolution's Parameters: w * g / sqrt(v + eps) per output channel (per input
    channel of a transposed one's weight), (b - m) g / sqrt(v + eps) + beta."""
    from .module import Parameter
    with ember.no_grad():
        conv_b = ember.zeros_like(bn_rm) if conv_b is None else conv_b
        bn_w = ember.ones_like(bn_rm) if bn_w is None else bn_w
        bn_b = ember.zeros_like(bn_rm) if bn_b is None else bn_b
        rsqrt = ember.rsqrt(bn_rv + bn_eps)
        shape = ((1, -1) if transpose else (-1, 1)) + (1,) * (conv_w.ndim - 2)
        w = (conv_w * (bn_w * rsqrt).reshape(shape)).to(conv_w.dtype)
        b = ((conv_b - bn_rm) * rsqrt * bn_w + bn_b).to(conv_b.dtype)
    return Parameter(w, conv_w.requires_grad), Parameter(b, conv_b.requires_grad)


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The same for a Linear layer followed by an eval-mode BatchNorm1d."""
    from .module import Parameter
    with ember.no_grad():
        linear_b = ember.zeros_like(bn_rm) if linear_b is None else linear_b
        scale = bn_w * ember.rsqrt(bn_rv + bn_eps)
        w = linear_w * scale.unsqueeze(-1)
        b = (linear_b - bn_rm) * scale + bn_b
    return Parameter(w, linear_w.requires_grad), Parameter(b, linear_b.requires_grad)


def _eval_pair(op, layer, bn):
    if layer.training or bn.training:
        raise ValueError(f"{op}: fusion folds a batch norm's running statistics, so both "
                         f"modules must be in eval mode (call .eval() first)")
    if bn.running_mean is None:
        raise ValueError(f"{op}: the batch norm keeps no running statistics "
                         f"(track_running_stats=False), so there is nothing to fold")


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` whose output equals bn(conv(x)) in eval mode."""
    import copy
    _eval_pair("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean,
                                                    bn.running_var, bn.eps, bn.weight, bn.bias,
                                                    transpose)
    return fused


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` whose output equals bn(linear(x)) in eval mode."""
    import copy
    _eval_pair("fuse_linear_bn_eval", linear, bn)
    if bn.num_features not in (linear.out_features, 1):
        raise ShapeError(f"fuse_linear_bn_eval: the batch norm has {bn.num_features} "
                         f"features, the Linear layer {linear.out_features} outputs")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias,
                                                      bn.running_mean, bn.running_var, bn.eps,
                                                      bn.weight, bn.bias)
    return fused
