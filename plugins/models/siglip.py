"""SigLIP as transformers lays it out, so its checkpoints load (google/siglip-base-patch16-224
and the SigLIP image towers that vision-language models carry): CLIP's two towers of the
same blocks, trained with a sigmoid loss.

Where it differs from CLIP: the text tower attends both ways and sums a sentence up at its
last position, through a dense ``head``; the image tower has no class token (its
positions are the patches') and sums the image up by attention pooling: a learned probe
attends over the patches (torch.nn.MultiheadAttention), then an MLP. The logits are the
cosine similarity times exp(logit_scale) plus logit_bias. Loading and saving are CLIP's.
"""

import dataclasses

import ember
from ember.plugins.nn import (Conv2d, LayerExample, LayerNorm, Module, MultiheadAttention,
                              Parameter, init)

from .bert import _allowed
from .clip import (_CLIP, CLIPEncoder, CLIPMLP, CLIPTextModel, EXAMPLE_TEXT, EXAMPLE_VISION,
                   _check_tower, _with, build_towers, example_call)
from .huggingface import check_ids, normal_embedding, normal_linear
from .vit import PatchGrid, check_pixels, patch_tokens, positions_for


@dataclasses.dataclass
class SiglipTextConfig:
    """The fields of transformers' SiglipTextConfig that change the network, with its
    defaults; ``projection_size`` None is hidden_size."""

    vocab_size: int = 32000
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    max_position_embeddings: int = 64
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6
    attention_dropout: float = 0.0
    projection_size: int = None
    pad_token_id: int = 1
    bos_token_id: int = 49406
    eos_token_id: int = 49407
    model_type: str = "siglip_text_model"

    tower = "text_model"
    initializer_range = 0.02            # (transformers' SigLIP configs hold none)

    def __post_init__(self):
        _check_tower(self, "SigLIP text")


@dataclasses.dataclass
class SiglipVisionConfig(PatchGrid):
    """The fields of transformers' SiglipVisionConfig that change the network, with its
    defaults (ViT-B/16 at 224 x 224, with the attention-pooling head)."""

    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 16
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6
    attention_dropout: float = 0.0
    vision_use_head: bool = True
    model_type: str = "siglip_vision_model"

    tower = "vision_model"
    initializer_range = 0.02

    def __post_init__(self):
        _check_tower(self, "SigLIP vision")
        self.check_grid("SigLIP vision")


@dataclasses.dataclass
class SiglipConfig:
    """transformers' SiglipConfig: the two towers' configs (given as configs or dicts)."""

    text_config: SiglipTextConfig = None
    vision_config: SiglipVisionConfig = None
    model_type: str = "siglip"

    def __post_init__(self):
        build_towers(self, SiglipTextConfig, SiglipVisionConfig)


class SiglipVisionEmbeddings(Module):
    """The patches (a strided convolution) plus learned positions, one per patch (no
    class token), resized bicubically with ``interpolate_pos_encoding``."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        object.__setattr__(self, "config", c)
        self.patch_embedding = Conv2d(c.num_channels, c.hidden_size, c.patch_size,
                                      stride=c.patch_size, dtype=dtype, backend=backend)
        self.position_embedding = normal_embedding(c.num_patches, c.hidden_size,
                                                   c.initializer_range, dtype, backend)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        _, _, height, width = pixel_values.shape
        table = self.position_embedding.weight
        if interpolate_pos_encoding:
            table = positions_for(table, self.config, height, width, leading=0)
        return patch_tokens(self.patch_embedding(pixel_values)) + table


class SiglipMultiheadAttentionPoolingHead(Module):
    """A learned probe attends over the patches; then x + MLP(LayerNorm(x)) of its
    result: the image's summary."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.probe = Parameter(init.normal((1, 1, c.hidden_size), 0.0, 1.0, dtype, backend))
        self.attention = MultiheadAttention(c.hidden_size, c.num_attention_heads,
                                            batch_first=True, dtype=dtype, backend=backend)
        self.layernorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                   backend=backend)
        self.mlp = CLIPMLP(c, dtype, backend)

    def forward(self, hidden):
        probe = ember.broadcast_to(self.probe, (hidden.shape[0], 1, hidden.shape[-1]))
        x = self.attention(probe, hidden, hidden)[0]
        return (x + self.mlp(self.layernorm(x)))[:, 0]


class _Siglip(_CLIP):
    """Loading and saving SigLIP's directories: CLIP's, with SigLIP's model_types."""

    configs = {"siglip": SiglipConfig, "siglip_text_model": SiglipTextConfig,
               "siglip_vision_model": SiglipVisionConfig}


class SiglipTextModel(_Siglip, CLIPTextModel):
    """SigLIP's text tower (transformers' SiglipTextModel): ``model(ids, attention_mask)``
    gives (last_hidden_state, pooled): head(the last position's hidden state), padding or
    not, as transformers takes it (SigLIP pads to max_length)."""

    config_class = SiglipTextConfig

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, **fields)      # CLIP's text tower
        c = self.config
        self.head = normal_linear(c.hidden_size, c.projection_size or c.hidden_size,
                                  c.initializer_range, dtype=dtype, backend=backend)

    def forward(self, ids, attention_mask=None):
        c = self.config
        ids = check_ids(type(self).__name__, ids, self.head.weight.backend,
                        c.max_position_embeddings, attention_mask=attention_mask)
        hidden = self.final_layer_norm(self.encoder(self.embeddings(ids),
                                                    _allowed(ids, attention_mask)))
        return hidden, self.head(hidden[:, -1])


class SiglipVisionModel(_Siglip):
    """SigLIP's image tower (transformers' SiglipVisionModel): ``model(pixel_values)``
    gives (last_hidden_state (batch, patches, hidden_size), pooled by the attention
    head, or None without ``vision_use_head``)."""

    config_class, bare = SiglipVisionConfig, True

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(SiglipVisionConfig, config, fields)
        object.__setattr__(self, "config", c)
        self.embeddings = SiglipVisionEmbeddings(c, dtype, backend)
        self.encoder = CLIPEncoder(c, dtype, backend)
        self.post_layernorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                        backend=backend)
        self.head = SiglipMultiheadAttentionPoolingHead(c, dtype, backend) \
            if c.vision_use_head else None

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        x = check_pixels(type(self).__name__, self.config, pixel_values,
                         interpolate_pos_encoding, self.post_layernorm.weight)
        hidden = self.post_layernorm(self.encoder(self.embeddings(x, interpolate_pos_encoding)))
        return hidden, None if self.head is None else self.head(hidden)


class SiglipModel(_Siglip):
    """SigLIP (transformers' SiglipModel): ``model(ids, pixel_values, attention_mask)``
    gives (logits_per_image, logits_per_text, text_embeds, image_embeds), the embeddings
    normalized and the logits their cosine similarity times exp(logit_scale) plus
    logit_bias: sigmoid(logits) is each pair's probability of matching.
    ``get_text_features`` and ``get_image_features`` give the pooled summaries alone."""

    config_class = SiglipConfig

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(SiglipConfig, config, fields)
        object.__setattr__(self, "config", c)
        self.text_model = SiglipTextModel(c.text_config, dtype, backend)
        self.vision_model = SiglipVisionModel(c.vision_config, dtype, backend)
        self.logit_scale = Parameter(init.zeros((1,), dtype, backend))
        self.logit_bias = Parameter(init.zeros((1,), dtype, backend))

    @classmethod
    def example(cls):
        return LayerExample({"text_config": EXAMPLE_TEXT, "vision_config": EXAMPLE_VISION},
                            shape=(2, 5), integer_high=11, random_in_train=True,
                            call=example_call)

    def get_text_features(self, ids, attention_mask=None):
        return self.text_model(ids, attention_mask)[1]

    def get_image_features(self, pixel_values, interpolate_pos_encoding=False):
        return self.vision_model(pixel_values, interpolate_pos_encoding)[1]

    def forward(self, ids, pixel_values, attention_mask=None, interpolate_pos_encoding=False):
        text = self.get_text_features(ids, attention_mask)
        image = self.get_image_features(pixel_values, interpolate_pos_encoding)
        text = text / ember.norm(text, dim=-1, keepdim=True)
        image = image / ember.norm(image, dim=-1, keepdim=True)
        per_text = ember.matmul(text, image.T) * ember.exp(self.logit_scale) + self.logit_bias
        return per_text.T, per_text, text, image


_Siglip.architectures = {c.__name__: c for c in (SiglipModel, SiglipTextModel,
                                                 SiglipVisionModel)}
