"""DINOv2 (Meta's self-supervised Vision Transformer) as transformers lays it out, so its
checkpoints load (facebook/dinov2-small to -giant, and facebook/dinov2-with-registers-*):
the bare encoder and its image classifier.

ViT's blocks (vit.py), each residual branch scaled per channel by a learned vector (layer
scale) and, in training, dropped per sample (stochastic depth); the giant models' feed-
forward network is SwiGLU. The learned positions are resized to any image size
(bicubically; antialiased with registers). With registers, a few learned tokens follow
[CLS] and take up the attention that would otherwise pile on background patches. The
classifier reads [CLS] beside the mean of the patch tokens.
"""

import dataclasses
import re

import numpy as np

import ember
from ember.errors import ShapeError
from ember.plugins.nn import (Dropout, LayerExample, LayerNorm, Linear, Module, ModuleList,
                              Parameter, init)
from ember.plugins.nn import functional as F

from .bert import EncoderConfig, Family, _family_config, _Head
from .huggingface import ACTIVATIONS
from .vit import PatchGrid, ViTAttention, ViTPatchEmbeddings, _ViT, check_pixels, positions_for

DINOV2 = Family("Dinov2", "dinov2")
REGISTERS = Family("Dinov2WithRegisters", "dinov2_with_registers",
                   defaults=dict(num_register_tokens=4))

#: transformers 5's in-memory names of a block's attention -> the Hub checkpoints' names
_RENAMED = [(re.compile(r"\.attention\.([qkv])_proj\."),
             lambda m: ".attention.attention." + {"q": "query", "k": "key", "v": "value"}[m[1]]
             + "."),
            (re.compile(r"\.attention\.o_proj\."), ".attention.output.dense.")]


@dataclasses.dataclass
class Dinov2Config(PatchGrid, EncoderConfig):
    """The fields of transformers' Dinov2Config and Dinov2WithRegistersConfig (told apart
    by ``model_type``) that change the network, with their defaults (DINOv2-Base: 224 x
    224 images in 14 x 14 patches). ``id2label`` names the classifier's outputs."""

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    mlp_ratio: float = 4
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-6
    image_size: int = 224
    patch_size: int = 14
    num_channels: int = 3
    qkv_bias: bool = True
    layerscale_value: float = 1.0
    drop_path_rate: float = 0.0
    use_swiglu_ffn: bool = False
    use_mask_token: bool = True         # (the registers' checkpoints always hold one)
    num_register_tokens: int = 0        # dinov2_with_registers: 4 by default
    id2label: dict = None               # None: two labels, LABEL_0 and LABEL_1
    model_type: str = "dinov2"

    families = {"dinov2": DINOV2, "dinov2_with_registers": REGISTERS}
    title = "DINOv2"
    written = {}

    def __post_init__(self):
        super().__post_init__()
        self.check_grid(self.title)
        if self.registers and self.num_register_tokens < 0:
            raise ValueError(f"{self.title}: num_register_tokens must be >= 0, got "
                             f"{self.num_register_tokens}")
        if not self.registers and self.num_register_tokens:
            raise ValueError(f"{self.title}: num_register_tokens is a field of model_type "
                             f"dinov2_with_registers, not {self.model_type}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"{self.title}: drop_path_rate must be in [0, 1), got "
                             f"{self.drop_path_rate}")

    @property
    def registers(self):
        """Whether this is DINOv2 with registers (an always-present mask token, register
        tokens, antialiased position resizing)."""
        return self.model_type == "dinov2_with_registers"

    def to_dict(self, architecture):
        values = super().to_dict(architecture)
        values.pop("use_mask_token" if self.registers else "num_register_tokens")
        return values

    @property
    def ffn_size(self):
        """The feed-forward network's width: mlp_ratio x hidden_size, or for SwiGLU two
        thirds of it rounded up to a multiple of 8 (transformers' rule)."""
        size = int(self.hidden_size * self.mlp_ratio)
        return (int(size * 2 / 3) + 7) // 8 * 8 if self.use_swiglu_ffn else size


def drop_path(x, p, training):
    """Stochastic depth: in training, each sample's whole branch zeroed with probability p
    and the rest scaled by 1 / (1 - p) (as transformers' Dinov2DropPath)."""
    if not training or p == 0.0:
        return x
    keep = ember.rand(x.shape[0], dtype=ember.float32, backend=x.backend) >= p
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - p))).reshape((-1,) + (1,) * (x.ndim - 1))


def _linear(n_in, n_out, config, dtype, backend):
    """transformers' init of DINOv2's projections: weight truncated N(0, std), bias 0."""
    layer = Linear(n_in, n_out, dtype=dtype, backend=backend)
    layer.weight = Parameter(init.trunc_normal((n_out, n_in), 0.0, config.initializer_range,
                                               dtype=dtype, backend=backend))
    layer.bias = Parameter(init.zeros((n_out,), dtype, backend))
    return layer


class Dinov2Embeddings(Module):
    """[CLS] token, the register tokens (with registers), then the patches, positions
    added (all but the registers'), resized to the image's patch grid when it differs;
    ``bool_masked_pos`` (batch, patches) swaps masked patches for the mask token."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        object.__setattr__(self, "config", c)
        std = c.initializer_range
        self.cls_token = Parameter(init.trunc_normal((1, 1, c.hidden_size), 0.0, std,
                                                     dtype=dtype, backend=backend))
        self.mask_token = Parameter(init.zeros((1, c.hidden_size), dtype, backend)) \
            if c.use_mask_token or c.registers else None
        self.patch_embeddings = ViTPatchEmbeddings(c, dtype, backend)
        self.position_embeddings = Parameter(init.trunc_normal(
            (1, c.num_patches + 1, c.hidden_size), 0.0, std, dtype=dtype, backend=backend))
        self.register_tokens = Parameter(init.zeros(
            (1, c.num_register_tokens, c.hidden_size), dtype, backend)) if c.registers else None
        self.dropout = Dropout(c.hidden_dropout_prob)

    def forward(self, pixel_values, bool_masked_pos=None):
        c = self.config
        batch, _, height, width = pixel_values.shape
        x = self.patch_embeddings(pixel_values)
        if bool_masked_pos is not None:
            masked = ember.asarray(bool_masked_pos, backend=x.backend)
            if masked.shape != x.shape[:2] or masked.dtype is not ember.bool_:
                raise ShapeError(f"DINOv2: bool_masked_pos must be (batch, patches) = "
                                 f"{x.shape[:2]} booleans, got {masked.dtype} of shape "
                                 f"{masked.shape}")
            if self.mask_token is None:
                raise ValueError("DINOv2: bool_masked_pos needs the mask token; this config "
                                 "has use_mask_token=False")
            x = ember.where(masked.unsqueeze(-1), self.mask_token[None], x)
        cls = ember.broadcast_to(self.cls_token, (batch, 1, x.shape[-1]))
        table = positions_for(self.position_embeddings[0], c, height, width,
                              antialias=c.registers)
        x = ember.concat([cls, x], axis=1) + table[None]
        if c.registers:
            registers = ember.broadcast_to(self.register_tokens,
                                           (batch, c.num_register_tokens, x.shape[-1]))
            x = ember.concat([x[:, :1], registers, x[:, 1:]], axis=1)
        return self.dropout(x)


class Dinov2LayerScale(Module):
    """x times a learned per-channel scale (lambda1, layerscale_value at first)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.lambda1 = Parameter(init.ones((config.hidden_size,), dtype, backend)
                                 * config.layerscale_value)

    def forward(self, x):
        return x * self.lambda1


class Dinov2MLP(Module):
    """fc2(act(fc1(x))), mlp_ratio x hidden_size wide."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.fc1 = _linear(c.hidden_size, c.ffn_size, c, dtype, backend)
        self.fc2 = _linear(c.ffn_size, c.hidden_size, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Dinov2SwiGLUFFN(Module):
    """weights_out(silu(a) * b), a and b the two halves of weights_in(x): the giant
    models' feed-forward network, as the Hub's checkpoints hold it."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.weights_in = _linear(c.hidden_size, 2 * c.ffn_size, c, dtype, backend)
        self.weights_out = _linear(c.ffn_size, c.hidden_size, c, dtype, backend)

    def forward(self, x):
        gate, up = ember.chunk(self.weights_in(x), 2, dim=-1)
        return self.weights_out(F.silu(gate) * up)


class Dinov2Layer(Module):
    """A pre-norm block: x + drop_path(layer_scale1(attention(norm1(x)))), then the same
    with norm2, the feed-forward network and layer_scale2."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.norm1, self.norm2 = (LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                            backend=backend) for _ in range(2))
        self.attention = ViTAttention(c, dtype, backend)
        self.layer_scale1 = Dinov2LayerScale(c, dtype, backend)
        self.mlp = (Dinov2SwiGLUFFN if c.use_swiglu_ffn else Dinov2MLP)(c, dtype, backend)
        self.layer_scale2 = Dinov2LayerScale(c, dtype, backend)
        self.drop_path_rate = c.drop_path_rate

    def forward(self, x):
        p = self.drop_path_rate
        x = x + drop_path(self.layer_scale1(self.attention(self.norm1(x))), p, self.training)
        return x + drop_path(self.layer_scale2(self.mlp(self.norm2(x))), p, self.training)


class Dinov2Encoder(Module):
    """num_hidden_layers Dinov2Layers in turn."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.layer = ModuleList([Dinov2Layer(config, dtype, backend)
                                 for _ in range(config.num_hidden_layers)])

    def forward(self, x):
        for layer in self.layer:
            x = layer(x)
        return x


class _Dinov2(_ViT):
    """Loading and saving DINOv2 checkpoints: ViT's, with DINOv2's parts and names, and a
    SwiGLU network's two input projections in transformers 5's memory (gate_proj,
    up_proj) read as the Hub's one weights_in."""

    family = "dinov2"
    config_class = Dinov2Config
    parts = ("embeddings.", "encoder.", "layernorm.")
    renamed = _RENAMED

    def _own_keys(self, stored, own):
        stored = dict(stored)
        for key in [k for k in stored if ".mlp.gate_proj." in k]:
            up = key.replace(".mlp.gate_proj.", ".mlp.up_proj.")
            stored[key.replace(".mlp.gate_proj.", ".mlp.weights_in.")] = ember.concat(
                [stored.pop(key), stored.pop(up)], axis=0)
        return super()._own_keys({k.replace(".mlp.down_proj.", ".mlp.weights_out."): v
                                  for k, v in stored.items()}, own)

    def _check(self, pixel_values):
        return check_pixels(type(self).__name__, self.config, pixel_values, True,
                            self.embeddings_weight())

    def extra_repr(self):
        return f"model_type={self.config.model_type}, " + super().extra_repr()


def _masked_call(model, x):
    """The conformance example's call: patches 1 and 4 of the first image masked (so the
    mask token has a gradient)."""
    masked = np.zeros((2, 6), bool)
    masked[0, [1, 4]] = True
    return model(x, bool_masked_pos=masked)


class Dinov2Model(_Dinov2):
    """The DINOv2 encoder (transformers' Dinov2Model and Dinov2WithRegistersModel):
    ``model(pixel_values)`` gives the last hidden states (batch, 1 + registers + patches,
    hidden_size), [CLS] first (its row is transformers' pooler_output), then the register
    tokens. Any image of at least one patch: the positions are resized to its grid.
    ``bool_masked_pos`` (batch, patches) replaces masked patches by the mask token."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = _family_config(type(self), config, fields)
        object.__setattr__(self, "config", config)
        self.embeddings = Dinov2Embeddings(config, dtype, backend)
        self.encoder = Dinov2Encoder(config, dtype, backend)
        self.layernorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps, dtype=dtype,
                                   backend=backend)

    @classmethod
    def example(cls):
        return LayerExample({"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                             "mlp_ratio": 1.5, "image_size": 8, "patch_size": 4,
                             "num_channels": 2, "drop_path_rate": 0.2, "layerscale_value": 0.5},
                            shape=(2, 2, 8, 12), bad_shape=(2, 3, 8, 8), random_in_train=True,
                            call=_masked_call)

    def forward(self, pixel_values, bool_masked_pos=None):
        x = self._check(pixel_values)
        return self.layernorm(self.encoder(self.embeddings(x, bool_masked_pos)))


class Dinov2ForImageClassification(_Head, _Dinov2):
    """DINOv2 with a linear classifier over [CLS] beside the mean of the patch tokens
    (transformers' Dinov2ForImageClassification and its registers' twin): ``model(pixel_values)``
    gives (batch, num_labels) logits; ``config.id2label`` names them."""

    task = "ForImageClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.classifier = _linear(2 * c.hidden_size, c.num_labels, c, dtype, backend)

    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return Dinov2Model(config, dtype, backend)

    def forward(self, pixel_values):
        hidden = self.hidden(pixel_values)
        patches = hidden[:, 1 + self.config.num_register_tokens:]
        return self.classifier(ember.concat([hidden[:, 0], patches.mean(axis=1)], axis=-1))


class Dinov2WithRegistersModel(Dinov2Model):
    """Dinov2Model whose config defaults to DINOv2 with registers (4 register tokens)."""

    family = "dinov2_with_registers"


class Dinov2WithRegistersForImageClassification(Dinov2ForImageClassification):
    """Dinov2ForImageClassification whose config defaults to DINOv2 with registers."""

    family = "dinov2_with_registers"

    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return Dinov2WithRegistersModel(config, dtype, backend)


_Dinov2.architectures = {cls.traits().names + cls.task: cls for cls in (
    Dinov2Model, Dinov2ForImageClassification, Dinov2WithRegistersModel,
    Dinov2WithRegistersForImageClassification)}
