"""The layers torchvision's models are built of, with its names, arguments and
state-dict keys: StochasticDepth, FrozenBatchNorm2d, SqueezeExcitation,
Conv2dNormActivation, MLP and Permute."""

import ember
from ember.plugins import nn
from ember.plugins.nn import LayerExample


def stochastic_depth(input, p, mode, training=True):  # noqa: A002  (torchvision's names)
    """Randomly drop whole residual branches (Huang et al. 2016): in training each row
    (mode "row") or the whole batch ("batch") is zeroed with probability p, the rest
    scaled by 1 / (1 - p); outside training the input as it is."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"stochastic_depth: p must be in [0, 1], got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"stochastic_depth: mode must be 'batch' or 'row', got {mode!r}")
    if not training or p == 0.0:
        return input
    survival = 1.0 - p
    shape = (input.shape[0],) + (1,) * (input.ndim - 1) if mode == "row" else (1,) * input.ndim
    noise = (ember.rand(*shape, backend=input.backend) < survival).to(input.dtype)
    return input * (noise / survival if survival > 0.0 else noise)


class StochasticDepth(nn.Module):
    """stochastic_depth as a layer (on in training mode)."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):  # noqa: A002
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"

    @classmethod
    def example(cls):
        return LayerExample({"p": 0.3, "mode": "row"}, shape=(4, 3, 5), random_in_train=True)


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with its statistics and affine parameters fixed (buffers weight,
    bias, running_mean and running_var): what detection backbones use with small
    batches. A checkpoint's num_batches_tracked is dropped when loading, as
    torchvision's."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        for name, fill in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0),
                           ("running_var", 1.0)):
            self.register_buffer(name, ember.full((num_features,), fill))
        self.register_load_state_dict_pre_hook(_drop_batch_count)

    def forward(self, x):
        scale = self.weight * ember.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    @classmethod
    def example(cls):
        return LayerExample({"num_features": 3, "eps": 1e-3}, shape=(2, 3, 4, 5),
                            bad_shape=(2, 4, 4, 5))


def _drop_batch_count(module, state, prefix, *rest):
    state.pop(prefix + "num_batches_tracked", None)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018), torchvision's: channel weights from
    scale_activation(fc2(activation(fc1(mean over H and W)))), fc1 and fc2 1 x 1
    convolutions; the input times them."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU,
                 scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation, self.scale_activation = activation(), scale_activation()

    def forward(self, input):  # noqa: A002
        scale = self.fc2(self.activation(self.fc1(self.avgpool(input))))
        return self.scale_activation(scale) * input

    @classmethod
    def example(cls):
        return LayerExample({"input_channels": 4, "squeeze_channels": 2}, shape=(2, 4, 5, 3),
                            bad_shape=(2, 3, 5, 3))


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, a norm layer and an activation in a Sequential (keys 0.*, 1.*), as
    torchvision's: padding (kernel_size - 1) // 2 * dilation by default, a bias only
    without a norm layer unless ``bias`` says."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups,
                            bias=norm_layer is None if bias is None else bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 3, "out_channels": 4, "stride": 2}, shape=(2, 3, 6, 5),
                            bad_shape=(2, 4, 6, 5), scale=3)


class MLP(nn.Sequential):
    """Linear layers of ``hidden_channels`` widths, each but the last followed by the
    norm layer (if any), the activation and Dropout, the last by Dropout alone (keys
    0.*, 1.*, ... as torchvision's)."""

    def __init__(self, in_channels, hidden_channels, norm_layer=None, activation_layer=nn.ReLU,
                 inplace=None, bias=True, dropout=0.0):
        layers, width = [], in_channels
        for hidden in hidden_channels[:-1]:
            layers.append(nn.Linear(width, hidden, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden))
            layers += [activation_layer(), nn.Dropout(dropout)]
            width = hidden
        layers += [nn.Linear(width, hidden_channels[-1], bias=bias), nn.Dropout(dropout)]
        super().__init__(*layers)

    @classmethod
    def example(cls):
        return LayerExample({"in_channels": 5, "hidden_channels": [6, 3],
                             "norm_layer": nn.LayerNorm}, shape=(4, 5), bad_shape=(4, 6))


class Permute(nn.Module):
    """The input's axes in the order ``dims`` (ConvNeXt's channels-last blocks)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return ember.permute(x, self.dims)

    @classmethod
    def example(cls):
        return LayerExample({"dims": [0, 2, 3, 1]}, shape=(2, 3, 4, 5))


def _deformable():
    from .deform import DeformConv2d
    return DeformConv2d


LAYERS = {"deform_conv2d": _deformable(), "stochastic_depth": StochasticDepth, "frozen_batch_norm2d": FrozenBatchNorm2d,
          "squeeze_excitation": SqueezeExcitation,
          "conv2d_norm_activation": Conv2dNormActivation, "mlp": MLP, "permute": Permute}
