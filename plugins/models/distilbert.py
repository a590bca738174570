"""DistilBERT as transformers lays it out, so its checkpoints load (distilbert-base-uncased
and the sentiment, tagging and question-answering models fine-tuned from it): the bare
encoder and its masked-LM, sequence and token classification and question-answering
heads.

BERT's post-norm blocks, six of them by default, under other names (q_lin, sa_layer_norm,
ffn.lin1), with no token types and no pooler: its sequence classifier reads the first
token through a dense layer and a ReLU. Loading and saving are BERT's (bert._Pretrained).
"""

import dataclasses

import numpy as np

import ember
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, Parameter, init

from .bert import (BertEncoder, EncoderConfig, Family, _allowed, _family_config, _Head, _linear,
                   _Pretrained)
from .huggingface import ACTIVATIONS, normal_embedding

DISTILBERT = Family("DistilBert", "distilbert")


@dataclasses.dataclass
class DistilBertConfig(EncoderConfig):
    """The fields of transformers' DistilBertConfig that change the network, with its
    defaults; ``hidden_size``, ``num_hidden_layers`` and ``num_attention_heads`` read
    ``dim``, ``n_layers`` and ``n_heads``, as transformers' do."""

    vocab_size: int = 30522
    max_position_embeddings: int = 512
    sinusoidal_pos_embds: bool = False
    n_layers: int = 6
    n_heads: int = 12
    dim: int = 768
    hidden_dim: int = 3072
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation: str = "gelu"
    initializer_range: float = 0.02
    qa_dropout: float = 0.1
    seq_classif_dropout: float = 0.2
    pad_token_id: int = 0
    id2label: dict = None               # None: two labels, LABEL_0 and LABEL_1
    model_type: str = "distilbert"

    families = {"distilbert": DISTILBERT}
    title, width_field, heads_field, act_field = "DistilBERT", "dim", "n_heads", "activation"
    layer_norm_eps = 1e-12              # fixed in transformers' DistilBERT

    @property
    def hidden_size(self):
        return self.dim

    @property
    def num_hidden_layers(self):
        return self.n_layers

    @property
    def num_attention_heads(self):
        return self.n_heads


def sinusoids(count, width):
    """The fixed position table of ``sinusoidal_pos_embds``: sin at even features, cos at
    odd, position / 10000^(2 (j // 2) / width), in float64."""
    angle = np.arange(count)[:, None] / np.power(10000.0, 2 * (np.arange(width) // 2) / width)
    return np.where(np.arange(width) % 2 == 0, np.sin(angle), np.cos(angle))


class Embeddings(Module):
    """Word and position embeddings summed, normalized, dropped out (no token types)."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c, std = config, config.initializer_range
        self.word_embeddings = normal_embedding(c.vocab_size, c.dim, std, dtype, backend,
                                                padding_idx=c.pad_token_id)
        self.position_embeddings = normal_embedding(c.max_position_embeddings, c.dim, std,
                                                    dtype, backend)
        if c.sinusoidal_pos_embds:      # fixed, as transformers' (it gets no gradient)
            table = self.position_embeddings.weight
            self.position_embeddings.weight = Parameter(
                ember.tensor(sinusoids(*table.shape), dtype=table.dtype, backend=table.backend),
                requires_grad=False)
        self.LayerNorm = LayerNorm(c.dim, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
        self.dropout = Dropout(c.dropout)

    def forward(self, ids):
        positions = ember.arange(ids.shape[1], dtype=ids.dtype, backend=ids.backend)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class MultiHeadSelfAttention(Module):
    """out_lin(softmax(q k^T / sqrt(d)) v) over every head, where the mask allows."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (
            _linear(c.dim, c.dim, c, dtype, backend) for _ in range(4))
        self.heads, self.dropout_p = c.n_heads, c.attention_dropout

    def forward(self, x, allowed=None):
        batch, time, width = x.shape
        q, k, v = (proj(x).reshape(batch, time, self.heads, width // self.heads).permute(0, 2, 1, 3)
                   for proj in (self.q_lin, self.k_lin, self.v_lin))
        out = ember.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.dropout_p if self.training else 0.0)
        return self.out_lin(out.permute(0, 2, 1, 3).reshape(batch, time, width))


class FFN(Module):
    """dropout(lin2(act(lin1(x))))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.lin1 = _linear(c.dim, c.hidden_dim, c, dtype, backend)
        self.lin2 = _linear(c.hidden_dim, c.dim, c, dtype, backend)
        self.dropout = Dropout(c.dropout)
        object.__setattr__(self, "act", ACTIVATIONS[c.activation])

    def forward(self, x):
        return self.dropout(self.lin2(self.act(self.lin1(x))))


class TransformerBlock(Module):
    """A post-norm block: attention, then the feed-forward network, each added and
    normalized."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.attention = MultiHeadSelfAttention(c, dtype, backend)
        self.sa_layer_norm = LayerNorm(c.dim, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
        self.ffn = FFN(c, dtype, backend)
        self.output_layer_norm = LayerNorm(c.dim, eps=c.layer_norm_eps, dtype=dtype,
                                           backend=backend)

    def forward(self, x, allowed=None):
        x = self.sa_layer_norm(self.attention(x, allowed) + x)
        return self.output_layer_norm(self.ffn(x) + x)


class _DistilPretrained(_Pretrained):
    """BERT's loading and saving, for DistilBERT's names."""

    family = "distilbert"
    config_class = DistilBertConfig
    parts = ("embeddings.", "transformer.")
    tied = ("vocab_projector.weight",)

    def extra_repr(self):
        c = self.config
        return f"vocab_size={c.vocab_size}, dim={c.dim}, n_layers={c.n_layers}, n_heads={c.n_heads}"


class DistilBertModel(_DistilPretrained):
    """The DistilBERT encoder (transformers' DistilBertModel): ``model(ids)`` gives the
    last hidden states (batch, time, dim). ``attention_mask`` (batch, time), nonzero where
    a token is real, keeps padding out of every token's attention. Built from a
    DistilBertConfig or its fields: ``DistilBertModel(n_layers=2, dim=64, ...)``."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = _family_config(type(self), config, fields)
        object.__setattr__(self, "config", config)
        self.embeddings = Embeddings(config, dtype, backend)
        self.transformer = BertEncoder(config, dtype, backend, block=TransformerBlock)

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 11, "dim": 8, "n_layers": 2, "n_heads": 2,
                             "hidden_dim": 12, "max_position_embeddings": 10},
                            shape=(2, 5), integer_high=11, bad_shape=(2, 11),
                            random_in_train=True)

    def forward(self, ids, attention_mask=None):
        ids = self._check(ids, attention_mask=attention_mask)
        return self.transformer(self.embeddings(ids), _allowed(ids, attention_mask))


class _DistilHead(_DistilPretrained, _Head):
    @staticmethod
    def _encoder(config, dtype, backend, pooled):
        return DistilBertModel(config, dtype, backend)


class TiedProjection(Module):
    """A projection onto the vocabulary whose weight is the word embeddings' (passed in):
    only its bias is its own."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        self.bias = Parameter(init.zeros((config.vocab_size,), dtype, backend))

    def forward(self, x, table):
        return ember.matmul(x, table.T) + self.bias


class DistilBertForMaskedLM(_DistilHead):
    """DistilBERT with its masked-language-model head (transformers' DistilBertForMaskedLM):
    ``model(ids)`` gives logits over the vocabulary (batch, time, vocab_size), its
    projection tied to the word embeddings."""

    task = "ForMaskedLM"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.vocab_transform = _linear(c.dim, c.dim, c, dtype, backend)
        self.vocab_layer_norm = LayerNorm(c.dim, eps=c.layer_norm_eps, dtype=dtype,
                                          backend=backend)
        self.vocab_projector = TiedProjection(c, dtype, backend)

    def forward(self, ids, attention_mask=None):
        act = ACTIVATIONS[self.config.activation]
        x = self.vocab_layer_norm(act(self.vocab_transform(self.hidden(ids, attention_mask))))
        return self.vocab_projector(x, self.embeddings_weight())


class DistilBertForSequenceClassification(_DistilHead):
    """DistilBERT with a classifier over the whole sequence (transformers'
    DistilBertForSequenceClassification, as the SST-2 sentiment model is): classifier(
    dropout(relu(pre_classifier(the first token)))), (batch, num_labels) logits named by
    ``config.id2label``."""

    task = "ForSequenceClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.pre_classifier = _linear(c.dim, c.dim, c, dtype, backend)
        self.classifier = _linear(c.dim, c.num_labels, c, dtype, backend)
        self.dropout = Dropout(c.seq_classif_dropout)

    def forward(self, ids, attention_mask=None):
        first = self.hidden(ids, attention_mask)[:, 0]
        return self.classifier(self.dropout(ember.relu(self.pre_classifier(first))))


class DistilBertForTokenClassification(_DistilHead):
    """DistilBERT with a classifier for each token: (batch, time, num_labels) logits."""

    task = "ForTokenClassification"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.dropout = Dropout(c.dropout)
        self.classifier = _linear(c.dim, c.num_labels, c, dtype, backend)

    def forward(self, ids, attention_mask=None):
        return self.classifier(self.dropout(self.hidden(ids, attention_mask)))


class DistilBertForQuestionAnswering(_DistilHead):
    """DistilBERT for extractive question answering: ``model(ids)`` gives (start_logits,
    end_logits), each (batch, time)."""

    task = "ForQuestionAnswering"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__(config, dtype, backend, fields)
        c = self.config
        self.qa_outputs = _linear(c.dim, c.num_labels, c, dtype, backend)
        self.dropout = Dropout(c.qa_dropout)

    def forward(self, ids, attention_mask=None):
        logits = self.qa_outputs(self.dropout(self.hidden(ids, attention_mask)))
        start, end = ember.split(logits, 2, axis=-1)
        return start.squeeze(-1), end.squeeze(-1)


_DistilPretrained.architectures = {
    "DistilBert" + cls.task: cls
    for cls in (DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification,
                DistilBertForTokenClassification, DistilBertForQuestionAnswering)}
