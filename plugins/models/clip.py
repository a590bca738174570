"""CLIP as transformers lays it out, so its checkpoints load (openai/clip-vit-base-patch32
and the CLIP models trained since in its layout): a text tower and an image tower, each
projected into one space, and their similarity.

Both towers are pre-norm transformers of the same block (layer_norm1, self_attn,
layer_norm2, mlp). The text tower attends causally and takes, as the sentence's
summary, the hidden state at the end-of-text token; the image tower is a ViT with
a LayerNorm before its blocks whose summary is its class token's. ``CLIPModel``
normalizes both summaries' projections and scales their cosine similarity by
exp(logit_scale): the logits of zero-shot image classification.
"""

import dataclasses

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Conv2d, LayerExample, LayerNorm, Module, ModuleList, Parameter, init

from .huggingface import (ACTIVATIONS, check_activation, check_ids, known_fields, load_weights,
                          normal_embedding, normal_linear, read_config, read_weights,
                          write_pretrained)
from .vit import PatchGrid, check_pixels, patch_tokens, positions_for


def _check_tower(config, title):
    if config.hidden_size % config.num_attention_heads:
        raise ShapeError(f"{title}: num_attention_heads {config.num_attention_heads} does not "
                         f"divide hidden_size {config.hidden_size}")
    check_activation(title, "hidden_act", config.hidden_act)


@dataclasses.dataclass
class CLIPTextConfig:
    """The fields of transformers' CLIPTextConfig that change the network, with its
    defaults (the text tower of openai/clip-vit-base-patch32)."""

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 77
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    pad_token_id: int = 1
    bos_token_id: int = 49406
    eos_token_id: int = 49407           # 2 in checkpoints older than transformers 4.31: then
    model_type: str = "clip_text_model"  # the summary is at the largest token id instead

    tower = "text_model"                # where the whole model keeps this tower

    def __post_init__(self):
        _check_tower(self, "CLIP text")


@dataclasses.dataclass
class CLIPVisionConfig(PatchGrid):
    """The fields of transformers' CLIPVisionConfig that change the network, with its
    defaults (ViT-B/32 at 224 x 224)."""

    hidden_size: int = 768
    intermediate_size: int = 3072
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    model_type: str = "clip_vision_model"

    tower = "vision_model"

    def __post_init__(self):
        _check_tower(self, "CLIP vision")
        self.check_grid("CLIP vision")


@dataclasses.dataclass
class CLIPConfig:
    """transformers' CLIPConfig: the two towers' configs (given as configs or dicts) and
    the shared projection width."""

    text_config: CLIPTextConfig = None
    vision_config: CLIPVisionConfig = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    model_type: str = "clip"

    def __post_init__(self):
        build_towers(self, CLIPTextConfig, CLIPVisionConfig)


def build_towers(config, text_class, vision_class):
    """A whole model's config's text_config and vision_config as their classes, from the
    dicts of a config.json (the fields the class has) or their defaults (None)."""
    for name, cls in (("text_config", text_class), ("vision_config", vision_class)):
        value = getattr(config, name)
        if value is None or isinstance(value, dict):
            setattr(config, name, cls(**known_fields(cls, value or {})))


#: model_type -> the config class that reads it
CONFIGS = {"clip": CLIPConfig, "clip_text_model": CLIPTextConfig,
           "clip_vision_model": CLIPVisionConfig}


class CLIPAttention(Module):
    """out_proj(softmax(q k^T / sqrt(d)) v) over every head, where ``allowed`` says."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            normal_linear(c.hidden_size, c.hidden_size, c.initializer_range, dtype=dtype,
                          backend=backend) for _ in range(4))
        self.heads, self.dropout_p = c.num_attention_heads, c.attention_dropout

    def forward(self, x, allowed=None):
        batch, time, width = x.shape
        q, k, v = (proj(x).reshape(batch, time, self.heads, width // self.heads).permute(0, 2, 1, 3)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        out = ember.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout_p if self.training else 0.0)
        return self.out_proj(out.permute(0, 2, 1, 3).reshape(batch, time, width))


class CLIPMLP(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.fc1 = normal_linear(c.hidden_size, c.intermediate_size, c.initializer_range,
                                 dtype=dtype, backend=backend)
        self.fc2 = normal_linear(c.intermediate_size, c.hidden_size, c.initializer_range,
                                 dtype=dtype, backend=backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(Module):
    """A pre-norm block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.self_attn = CLIPAttention(c, dtype, backend)
        self.layer_norm1, self.layer_norm2 = (
            LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
            for _ in range(2))
        self.mlp = CLIPMLP(c, dtype, backend)

    def forward(self, x, allowed=None):
        x = x + self.self_attn(self.layer_norm1(x), allowed)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.layers = ModuleList([CLIPEncoderLayer(config, dtype, backend)
                                  for _ in range(config.num_hidden_layers)])

    def forward(self, x, allowed=None):
        for layer in self.layers:
            x = layer(x, allowed)
        return x


class CLIPTextEmbeddings(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c, std = config, config.initializer_range
        self.token_embedding = normal_embedding(c.vocab_size, c.hidden_size, std, dtype, backend)
        self.position_embedding = normal_embedding(c.max_position_embeddings, c.hidden_size,
                                                   std, dtype, backend)

    def forward(self, ids):
        positions = ember.arange(ids.shape[1], dtype=ids.dtype, backend=ids.backend)
        return self.token_embedding(ids) + self.position_embedding(positions)


class CLIPVisionEmbeddings(Module):
    """The class embedding, then the patches (a strided convolution without bias), plus
    learned positions (resized bicubically with ``interpolate_pos_encoding``)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c, std = config, config.initializer_range
        object.__setattr__(self, "config", c)
        self.class_embedding = Parameter(init.normal((c.hidden_size,), 0.0, std, dtype, backend))
        self.patch_embedding = Conv2d(c.num_channels, c.hidden_size, c.patch_size,
                                      stride=c.patch_size, bias=False, dtype=dtype,
                                      backend=backend)
        self.patch_embedding.weight = Parameter(init.normal(
            self.patch_embedding.weight.shape, 0.0, std, dtype, backend))
        self.position_embedding = normal_embedding(c.num_patches + 1, c.hidden_size, std,
                                                   dtype, backend)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        batch, _, height, width = pixel_values.shape
        x = patch_tokens(self.patch_embedding(pixel_values))
        cls = ember.broadcast_to(self.class_embedding, (batch, 1, x.shape[-1]))
        table = self.position_embedding.weight
        if interpolate_pos_encoding:
            table = positions_for(table, self.config, height, width)
        return ember.concat([cls, x], axis=1) + table


class _CLIP(Module):
    """Loading and saving transformers' CLIP directories for any of the classes: each
    reads its tower out of a whole CLIP checkpoint or a tower's own (its keys bare, as
    transformers 5 writes them, or under ``text_model.``/``vision_model.``, as 4 did)."""

    #: the config class this model is built from (a tower's names the tower)
    config_class = CLIPConfig
    #: whether this class's state-dict keys are the tower's bare ones (CLIPTextModel)
    bare = False
    #: the family's model_types (the whole model's first) -> their configs, which
    #: ember.plugins.models.from_pretrained reads too; its architectures (set below)
    configs, architectures = CONFIGS, {}

    @classmethod
    def model_types(cls):
        return tuple(cls.configs)

    @classmethod
    def tower(cls):
        """Where the whole model keeps this class's tower ("text_model"); None for the
        whole model."""
        return getattr(cls.config_class, "tower", None)

    @classmethod
    def for_architecture(cls, name):
        """The class that transformers' architecture ``name`` (a config's first
        "architectures" entry: "CLIPVisionModel") loads as; this class for any other."""
        return cls.architectures.get(name, cls)

    @classmethod
    def _config(cls, values, path, overrides):
        """This class's config out of a config.json's values: the tower's own, or the
        tower's part of a whole model's config."""
        kind, whole = values.get("model_type"), next(iter(cls.configs))
        if kind not in cls.configs:
            raise SerializationError(f"{path}: model_type {kind!r} is not one of "
                                     f"{', '.join(cls.configs)}")
        if cls.config_class is not cls.configs[whole] and kind == whole:
            values = values.get(cls.tower().replace("_model", "_config")) or {}
        elif cls.configs[kind] is not cls.config_class:
            raise SerializationError(f"{path}: a {kind} checkpoint holds no {cls.__name__}; "
                                     f"load it with ember.plugins.models.from_pretrained")
        try:
            return cls.config_class(**known_fields(cls.config_class, {**values, **overrides}))
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"{path}: {exc}") from None

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers CLIP directory (config.json, model.safetensors or shards):
        a whole CLIP model's, or this tower's. ``overrides`` replace config fields. In
        eval mode."""
        values, path = read_config(directory)
        model = cls(cls._config(values, path, overrides), dtype=dtype, backend=backend)
        own = model.state_dict()
        stored, weights = read_weights(directory, values, next(iter(own.values())).backend)
        tower = getattr(cls.configs[values["model_type"]], "tower", None)
        full = {}
        for key, value in stored.items():   # keyed as the whole model's
            if key.endswith("position_ids"):
                continue
            if tower and not key.startswith(("text_model.", "vision_model.", "text_projection.",
                                             "visual_projection.")):
                key = f"{tower}.{key}"
            full[key] = value
        target = next(iter(own.values())).dtype
        state = {k: full[model._full(k)] for k in own if model._full(k) in full}
        state = {k: v.to(target) if v.dtype.is_float else v for k, v in state.items()}
        return load_weights(model, state, weights, path)

    def _full(self, key):
        """``key`` of this model's state dict as CLIPModel's."""
        return f"{self.tower()}.{key}" if self.bare else key

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as transformers lays them out."""
        state = self.state_dict()
        write_pretrained(directory, {"architectures": [type(self).__name__],
                                     **dataclasses.asdict(self.config),
                                     "dtype": next(iter(state.values())).dtype.name}, state)


def _causal_allowed(ids, attention_mask):
    """Where each query may attend, (batch or 1, 1, time, time): itself and before, and
    (with an attention mask nonzero at real tokens) never at padding."""
    time = ids.shape[1]
    allowed = ember.tril(ember.ones((time, time), dtype=ember.bool_, backend=ids.backend))
    if attention_mask is None:
        return allowed.reshape(1, 1, time, time)
    real = ember.asarray(attention_mask, backend=ids.backend) != 0
    return allowed.reshape(1, 1, time, time) & real.reshape(ids.shape[0], 1, 1, time)


class CLIPTextModel(_CLIP):
    """CLIP's text tower (transformers' CLIPTextModel): ``model(ids, attention_mask)``
    gives (last_hidden_state (batch, time, hidden_size), pooled (batch, hidden_size)), the
    pooled summary being the hidden state at each row's end-of-text token."""

    config_class, bare = CLIPTextConfig, True

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(self.config_class, config, fields)
        object.__setattr__(self, "config", c)
        self.embeddings = CLIPTextEmbeddings(c, dtype, backend)
        self.encoder = CLIPEncoder(c, dtype, backend)
        self.final_layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                          backend=backend)

    def forward(self, ids, attention_mask=None):
        c = self.config
        ids = check_ids(type(self).__name__, ids, self.final_layer_norm.weight.backend,
                        c.max_position_embeddings, attention_mask=attention_mask)
        hidden = self.final_layer_norm(self.encoder(self.embeddings(ids),
                                                    _causal_allowed(ids, attention_mask)))
        ends = ids.argmax(-1) if c.eos_token_id == 2 else \
            (ids == c.eos_token_id).to(ember.int32).argmax(-1)
        rows = ember.arange(ids.shape[0], dtype=ends.dtype, backend=ids.backend)
        return hidden, hidden[rows, ends]


class CLIPVisionModel(_CLIP):
    """CLIP's image tower (transformers' CLIPVisionModel): ``model(pixel_values)`` gives
    (last_hidden_state (batch, 1 + patches, hidden_size), pooled (batch, hidden_size)),
    the pooled summary being the class token's, normalized."""

    config_class, bare = CLIPVisionConfig, True

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(CLIPVisionConfig, config, fields)
        object.__setattr__(self, "config", c)
        self.embeddings = CLIPVisionEmbeddings(c, dtype, backend)
        self.pre_layrnorm, self.post_layernorm = (     # (transformers' spelling)
            LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
            for _ in range(2))
        self.encoder = CLIPEncoder(c, dtype, backend)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        x = check_pixels(type(self).__name__, self.config, pixel_values,
                         interpolate_pos_encoding, self.post_layernorm.weight)
        x = self.pre_layrnorm(self.embeddings(x, interpolate_pos_encoding))
        hidden = self.encoder(x)
        return hidden, self.post_layernorm(hidden[:, 0])


def _with(cls, config, fields):
    """``config`` with ``fields`` replaced, or a new ``cls`` of ``fields``."""
    if config is None:
        return cls(**fields)
    return dataclasses.replace(config, **fields) if fields else config


def _projection(n_in, n_out, config, dtype, backend):
    return normal_linear(n_in, n_out, config.initializer_range, bias=False, dtype=dtype,
                         backend=backend)


class CLIPTextModelWithProjection(_CLIP):
    """The text tower and its projection (transformers' CLIPTextModelWithProjection):
    ``model(ids, attention_mask)`` gives (text_embeds (batch, projection_dim),
    last_hidden_state)."""

    config_class = CLIPTextConfig

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(CLIPTextConfig, config, fields)
        object.__setattr__(self, "config", c)
        self.text_model = CLIPTextModel(c, dtype, backend)
        self.text_projection = _projection(c.hidden_size, c.projection_dim, c, dtype, backend)

    def forward(self, ids, attention_mask=None):
        hidden, pooled = self.text_model(ids, attention_mask)
        return self.text_projection(pooled), hidden


class CLIPVisionModelWithProjection(_CLIP):
    """The image tower and its projection (transformers' CLIPVisionModelWithProjection):
    ``model(pixel_values)`` gives (image_embeds (batch, projection_dim),
    last_hidden_state)."""

    config_class = CLIPVisionConfig

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(CLIPVisionConfig, config, fields)
        object.__setattr__(self, "config", c)
        self.vision_model = CLIPVisionModel(c, dtype, backend)
        self.visual_projection = _projection(c.hidden_size, c.projection_dim, c, dtype,
                                             backend)

    def forward(self, pixel_values, interpolate_pos_encoding=False):
        hidden, pooled = self.vision_model(pixel_values, interpolate_pos_encoding)
        return self.visual_projection(pooled), hidden


class CLIPModel(_CLIP):
    """CLIP (transformers' CLIPModel): ``model(ids, pixel_values, attention_mask)`` gives
    (logits_per_image (images, texts), logits_per_text, text_embeds, image_embeds), the
    embeddings normalized and the logits their cosine similarity times
    exp(logit_scale). ``get_text_features`` and ``get_image_features`` give the
    projected summaries alone, unnormalized."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        c = _with(CLIPConfig, config, fields)
        object.__setattr__(self, "config", c)
        t, v = c.text_config, c.vision_config
        self.text_model = CLIPTextModel(t, dtype, backend)
        self.vision_model = CLIPVisionModel(v, dtype, backend)
        self.visual_projection = _projection(v.hidden_size, c.projection_dim, v, dtype, backend)
        self.text_projection = _projection(t.hidden_size, c.projection_dim, t, dtype, backend)
        self.logit_scale = Parameter(ember.full((), c.logit_scale_init_value, dtype=dtype,
                                                backend=backend))

    @classmethod
    def example(cls):
        return LayerExample({"text_config": {**EXAMPLE_TEXT, "eos_token_id": 10},
                             "vision_config": EXAMPLE_VISION, "projection_dim": 6},
                            shape=(2, 5), integer_high=11, random_in_train=True,
                            call=example_call)

    def get_text_features(self, ids, attention_mask=None):
        return self.text_projection(self.text_model(ids, attention_mask)[1])

    def get_image_features(self, pixel_values, interpolate_pos_encoding=False):
        return self.visual_projection(self.vision_model(pixel_values, interpolate_pos_encoding)[1])

    def forward(self, ids, pixel_values, attention_mask=None, interpolate_pos_encoding=False):
        text = self.get_text_features(ids, attention_mask)
        image = self.get_image_features(pixel_values, interpolate_pos_encoding)
        text = text / ember.norm(text, dim=-1, keepdim=True)
        image = image / ember.norm(image, dim=-1, keepdim=True)
        per_text = ember.matmul(text, image.T) * ember.exp(self.logit_scale)
        return per_text.T, per_text, text, image


#: the towers of the conformance suite's CLIP and SigLIP (ids below 11, 8 x 8 images)
EXAMPLE_TEXT = {"vocab_size": 11, "hidden_size": 8, "intermediate_size": 12,
                "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 6,
                "attention_dropout": 0.2}
EXAMPLE_VISION = {"hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2,
                  "num_attention_heads": 2, "num_channels": 2, "image_size": 8, "patch_size": 4,
                  "attention_dropout": 0.2}


def example_call(model, ids):
    """The conformance suite's call of CLIPModel and SiglipModel: its ids and a fixed
    batch of two 8 x 8 images of two channels."""
    pixels = ember.linspace(-1.0, 1.0, 2 * 2 * 8 * 8, dtype=model.logit_scale.dtype,
                            backend=ids.backend).reshape(2, 2, 8, 8)
    return model(ids, pixels)[0]


_CLIP.architectures = {cls.__name__: cls for cls in (
    CLIPModel, CLIPTextModel, CLIPTextModelWithProjection, CLIPVisionModel,
    CLIPVisionModelWithProjection)}
