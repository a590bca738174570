"""ModernBERT as transformers lays it out, so its checkpoints load (answerdotai's
ModernBERT-base and -large, and the embedding and classification models fine-tuned
from them): the bare encoder and its masked-LM, sequence and token classification and
question-answering heads.

Pre-norm blocks without biases: rotary positions (no position table), a GeGLU
feed-forward network (Wi gives the input and the gate), LayerNorms without a bias, and
attention that alternates, every ``global_attn_every_n_layers``-th layer (the first
included) attending to the whole sequence with one rotary base, the rest to a band of
``local_attention // 2`` tokens either side with another. The first layer has no
attention norm (the embeddings' norm precedes it). Loading and saving are BERT's
(bert._Pretrained).
"""

import dataclasses

import ember
from ember.errors import SerializationError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList, Parameter, init
from ember.plugins.nn import functional as F

from .bert import EncoderConfig, Family, _family_config, _Head, _Pretrained
from .huggingface import ACTIVATIONS, check_activation, normal_embedding, normal_linear

MODERNBERT = Family("ModernBert", "model")
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclasses.dataclass
class ModernBertConfig(EncoderConfig):
    """The fields of transformers' ModernBertConfig that change the network, with its
    defaults. ``layer_types`` says which layers attend globally ("full_attention") and
    which in a band ("sliding_attention"); without it, every
    ``global_attn_every_n_layers``-th is global. transformers 5's ``rope_parameters`` and
    transformers 4's ``global_rope_theta``/``local_rope_theta`` both load."""

    vocab_size: int = 50368
    hidden_size: int = 768
    intermediate_size: int = 1152
    num_hidden_layers: int = 22
    num_attention_heads: int = 12
    hidden_activation: str = "gelu"
    max_position_embeddings: int = 8192
    initializer_range: float = 0.02
    norm_eps: float = 1e-5
    norm_bias: bool = False
    pad_token_id: int = 50283
    attention_bias: bool = False
    attention_dropout: float = 0.0
    global_attn_every_n_layers: int = 3
    layer_types: list = None
    global_rope_theta: float = 160000.0
    local_rope_theta: float = 10000.0
    local_attention: int = 128
    embedding_dropout: float = 0.0
    mlp_bias: bool = False
    mlp_dropout: float = 0.0
    decoder_bias: bool = True
    classifier_pooling: str = "cls"
    classifier_dropout: float = 0.0
    classifier_bias: bool = False
    classifier_activation: str = "gelu"
    id2label: dict = None               # None: two labels, LABEL_0 and LABEL_1
    model_type: str = "modernbert"

    families = {"modernbert": MODERNBERT}
    title, act_field = "ModernBERT", "hidden_activation"

    def __post_init__(self):
        super().__post_init__()
        check_activation(self.title, "classifier_activation", self.classifier_activation)
        if self.layer_types is None:
            self.layer_types = ["sliding_attention" if i % self.global_attn_every_n_layers
                                else "full_attention" for i in range(self.num_hidden_layers)]
        self.layer_types = list(self.layer_types)
        if len(self.layer_types) != self.num_hidden_layers or \
                not set(self.layer_types) <= set(LAYER_TYPES):
            raise ValueError(f"ModernBERT: layer_types must give each of the "
                             f"{self.num_hidden_layers} layers one of {LAYER_TYPES}, got "
                             f"{self.layer_types}")
        if self.classifier_pooling not in ("cls", "mean"):
            raise ValueError(f"ModernBERT: classifier_pooling must be 'cls' or 'mean', got "
                             f"{self.classifier_pooling!r}")

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values, source="config"):
        """transformers' config.json; its rope_parameters give the two bases."""
        values = dict(values)
        for kind, field in (("full_attention", "global_rope_theta"),
                            ("sliding_attention", "local_rope_theta")):
            rope = (values.get("rope_parameters") or {}).get(kind) or {}
            if rope.get("rope_type", "default") != "default":
                raise SerializationError(f"{source}: rope_type {rope['rope_type']!r} for "
                                         f"{kind} is not supported; ember's ModernBERT rotates "
                                         f"with the default rotation")
            if "rope_theta" in rope:
                values.setdefault(field, rope["rope_theta"])
        return super().from_dict(values, source)

    def to_dict(self, architecture):
        """transformers' config.json, with the bases written both ways (5's and 4's)."""
        return {**super().to_dict(architecture), "rope_parameters": {
            "full_attention": {"rope_type": "default", "rope_theta": self.global_rope_theta},
            "sliding_attention": {"rope_type": "default", "rope_theta": self.local_rope_theta}}}


def _norm(config, dtype, backend):
    return LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias,
                     dtype=dtype, backend=backend)


def _linear(n_in, n_out, config, bias, dtype, backend):
    return normal_linear(n_in, n_out, config.initializer_range, bias, dtype, backend)


class ModernBertEmbeddings(Module):
    """Token embeddings, normalized and dropped out (rotary positions come later)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.tok_embeddings = normal_embedding(c.vocab_size, c.hidden_size, c.initializer_range,
                                               dtype, backend, padding_idx=c.pad_token_id)
        self.norm = _norm(c, dtype, backend)
        self.drop = Dropout(c.embedding_dropout)

    def forward(self, ids):
        return self.drop(self.norm(self.tok_embeddings(ids)))


class ModernBertAttention(Module):
    """Wo(attention of the rotated q and k over v), q, k and v from one Wqkv."""

    def __init__(self, config, layer_type, dtype=None, backend=None):
        super().__init__()
        c = config
        self.Wqkv = _linear(c.hidden_size, 3 * c.hidden_size, c, c.attention_bias, dtype, backend)
        self.Wo = _linear(c.hidden_size, c.hidden_size, c, c.attention_bias, dtype, backend)
        self.heads, self.dropout_p = c.num_attention_heads, c.attention_dropout
        self.out_drop = Dropout(c.attention_dropout)
        self.layer_type = layer_type

    def forward(self, x, rotation, allowed):
        batch, time, width = x.shape
        qkv = self.Wqkv(x).reshape(batch, time, 3, self.heads, width // self.heads)
        q, k, v = (qkv[:, :, i].permute(0, 2, 1, 3) for i in range(3))
        cos, sin = rotation
        q, k = F.apply_rotary(q, cos, sin), F.apply_rotary(k, cos, sin)
        out = ember.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout_p if self.training else 0.0)
        return self.out_drop(self.Wo(out.permute(0, 2, 1, 3).reshape(batch, time, width)))


class ModernBertMLP(Module):
    """Wo(act(input) * gate), input and gate the halves of Wi(x) (GeGLU)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.Wi = _linear(c.hidden_size, 2 * c.intermediate_size, c, c.mlp_bias, dtype, backend)
        self.Wo = _linear(c.intermediate_size, c.hidden_size, c, c.mlp_bias, dtype, backend)
        self.drop = Dropout(c.mlp_dropout)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_activation])

    def forward(self, x):
        value, gate = ember.split(self.Wi(x), 2, axis=-1)
        return self.Wo(self.drop(self.act(value) * gate))


class ModernBertEncoderLayer(Module):
    """x + attention(attn_norm(x)), then + mlp(mlp_norm(.)); layer 0 has no attn_norm."""

    def __init__(self, config, index, dtype=None, backend=None):
        super().__init__()
        self.attn_norm = _norm(config, dtype, backend) if index else None
        self.attn = ModernBertAttention(config, config.layer_types[index], dtype, backend)
        self.mlp_norm = _norm(config, dtype, backend)
        self.mlp = ModernBertMLP(config, dtype, backend)

    def forward(self, x, rotation, allowed):
        h = self.attn_norm(x) if self.attn_norm is not None else x
        x = x + self.attn(h, rotation, allowed)
        return x + self.mlp(self.mlp_norm(x))


class _ModernPretrained(_Pretrained):
    """BERT's loading and saving, for ModernBERT's names."""

    family = "modernbert"
    config_class = ModernBertConfig
    parts = ("embeddings.", "layers.", "final_norm.")
    tied = ("decoder.weight",)

    def embeddings_weight(self):
        return self.encoder_module().embeddings.tok_embeddings.weight

    def _optional(self, key):
        """A head's weights may be missing from a checkpoint, the encoder's not."""
        return not key.startswith(self.encoder_prefix() + self.parts)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, hidden_size={c.hidden_size}, "
                f"num_hidden_layers={c.num_hidden_layers}, "
                f"num_attention_heads={c.num_attention_heads}, "
                f"local_attention={c.local_attention}")


class ModernBertModel(_ModernPretrained):
    """The ModernBERT encoder (transformers' ModernBertModel): ``model(ids)`` gives the
    last hidden states (batch, time, hidden_size). ``attention_mask`` (batch, time),
    nonzero where a token is real, keeps padding out of every token's attention. Built
    from a ModernBertConfig or its fields: ``ModernBertModel(num_hidden_layers=2, ...)``."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = _family_config(type(self), config, fields)
        object.__setattr__(self, "config", config)
        self.embeddings = ModernBertEmbeddings(config, dtype, backend)
        self.layers = ModuleList([ModernBertEncoderLayer(config, i, dtype, backend)
                                  for i in range(config.num_hidden_layers)])
        self.final_norm = _norm(config, dtype, backend)

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 3,
                             "num_attention_heads": 2, "intermediate_size": 12,
                             "max_position_embeddings": 10, "pad_token_id": 0,
                             "local_attention": 2, "embedding_dropout": 0.1},
                            shape=(2, 5), integer_high=11, bad_shape=(2, 11),
                            random_in_train=True)

    def forward(self, ids, attention_mask=None):
        ids = self._check(ids, attention_mask=attention_mask)
        c, time = self.config, ids.shape[1]
        x = self.embeddings(ids)
        padding = None if attention_mask is None else \
            (ember.asarray(attention_mask, backend=ids.backend) != 0).reshape(
                ids.shape[0], 1, 1, time)
        positions = ember.arange(time, backend=ids.backend)
        band = (positions.reshape(time, 1) - positions.reshape(1, time)).abs() \
            <= c.local_attention // 2
        masks = {"full_attention": padding,
                 "sliding_attention": band if padding is None else ember.logical_and(band, padding)}
        rotations = {kind: F.rotary_embedding(time, c.head_dim, base, dtype=x.dtype,
                                              backend=x.backend)
                     for kind, base in (("full_attention", c.global_rope_theta),
                                        ("sliding_attention", c.local_rope_theta))
                     if kind in c.layer_types}
        for layer in self.layers:
            kind = layer.attn.layer_type
            x = layer(x, rotations[kind], masks[kind])
        return self.final_norm(x)


class _ModernHead(_ModernPretrained, _Head):
    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return ModernBertModel(config, dtype, backend)


class ModernBertPredictionHead(Module):
    """norm(act(dense(x))), before every ModernBERT head."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.dense = _linear(c.hidden_size, c.hidden_size, c, c.classifier_bias, dtype, backend)
        self.norm = _norm(c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.classifier_activation])

    def forward(self, x):
        return self.norm(self.act(self.dense(x)))


class ModernBertForMaskedLM(_ModernHead):
    """ModernBERT with its masked-language-model head (transformers'
    ModernBertForMaskedLM): logits over the vocabulary (batch, time, vocab_size) from a
    decoder tied to the token embeddings."""

    task = "ForMaskedLM"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.head = ModernBertPredictionHead(c, dtype, backend)
        self.decoder = _TiedDecoder(c, dtype, backend)

    def forward(self, ids, attention_mask=None):
        return self.decoder(self.head(self.hidden(ids, attention_mask)), self.embeddings_weight())


class _TiedDecoder(Module):
    """The projection onto the vocabulary, its weight the token embeddings (passed in)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.bias = Parameter(init.zeros((config.vocab_size,), dtype, backend)) \
            if config.decoder_bias else None

    def forward(self, x, table):
        out = ember.matmul(x, table.T)
        return out + self.bias if self.bias is not None else out


class _Classifier(_ModernHead):
    """head, dropout and a classifier (with a bias) over what ``pool`` picks."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.head = ModernBertPredictionHead(c, dtype, backend)
        self.drop = Dropout(c.classifier_dropout)
        self.classifier = _linear(c.hidden_size, c.num_labels, c, True, dtype, backend)

    def logits(self, x):
        return self.classifier(self.drop(self.head(x)))


class ModernBertForSequenceClassification(_Classifier):
    """ModernBERT with a classifier over the sequence (transformers'
    ModernBertForSequenceClassification): the first token, or with
    ``classifier_pooling="mean"`` the mean over the real tokens; (batch, num_labels)."""

    task = "ForSequenceClassification"

    def forward(self, ids, attention_mask=None):
        hidden = self.hidden(ids, attention_mask)
        if self.config.classifier_pooling == "cls":
            return self.logits(hidden[:, 0])
        if attention_mask is None:
            return self.logits(hidden.mean(axis=1))
        keep = (ember.asarray(attention_mask, backend=hidden.backend) != 0).to(hidden.dtype)
        pooled = (hidden * keep.unsqueeze(-1)).sum(axis=1) / keep.sum(axis=1, keepdims=True)
        return self.logits(pooled)


class ModernBertForTokenClassification(_Classifier):
    """ModernBERT with a classifier for each token: (batch, time, num_labels) logits."""

    task = "ForTokenClassification"

    def forward(self, ids, attention_mask=None):
        return self.logits(self.hidden(ids, attention_mask))


class ModernBertForQuestionAnswering(_Classifier):
    """ModernBERT for extractive question answering: ``model(ids)`` gives (start_logits,
    end_logits), each (batch, time)."""

    task = "ForQuestionAnswering"

    def forward(self, ids, attention_mask=None):
        start, end = ember.split(self.logits(self.hidden(ids, attention_mask)), 2, axis=-1)
        return start.squeeze(-1), end.squeeze(-1)


_ModernPretrained.architectures = {
    "ModernBert" + cls.task: cls
    for cls in (ModernBertModel, ModernBertForMaskedLM, ModernBertForSequenceClassification,
                ModernBertForTokenClassification, ModernBertForQuestionAnswering)}
