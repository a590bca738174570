"""T5 as transformers lays it out (T5ForConditionalGeneration), so its checkpoints load:
t5-small ... t5-11b, T5 v1.1, Flan-T5 and mT5 (the same network with a larger vocabulary).

Both stacks are pre-norm blocks with T5's norm (an RMS norm: no mean, no bias). Attention
has no biases and no 1/sqrt(d) scaling; instead each stack's first block learns a bias
per head for buckets of relative position (exact up to half the buckets, logarithmic up
to ``relative_attention_max_distance``, both ways in the encoder, backwards only in the
decoder), which every block of the stack adds to its scores. The feed-forward network is
ReLU (T5) or a GELU-gated pair (v1.1, Flan: ``feed_forward_proj="gated-gelu"``). The token
embedding ``shared`` feeds both stacks; the head is tied to it and scales the decoder's
output by d_model^-1/2 (T5), or is a separate ``lm_head`` when the checkpoint has one
(v1.1, Flan: ``tie_word_embeddings=false``, no scaling).
"""

import dataclasses
import math

import numpy as np

import ember
from ember.errors import SerializationError
from ember.plugins.nn import Dropout, LayerExample, Module, ModuleList, Parameter, init

from .huggingface import (ACTIVATIONS, known_fields, load_weights, normal_embedding,
                          normal_linear, read_config, read_weights, write_pretrained)
from .seq2seq import Seq2SeqLM, key_mask


@dataclasses.dataclass
class T5Config:
    """The fields of transformers' T5Config that change the network, with its defaults
    (t5-small); ``num_decoder_layers`` None is num_layers, ``tie_word_embeddings`` False
    is v1.1's and Flan's untied, unscaled head."""

    vocab_size: int = 32128
    d_model: int = 512
    d_kv: int = 64
    d_ff: int = 2048
    num_layers: int = 6
    num_decoder_layers: int = None
    num_heads: int = 8
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    dropout_rate: float = 0.1
    layer_norm_epsilon: float = 1e-6
    initializer_factor: float = 1.0
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    #: the tied head's d_model^-1/2 scaling of the decoder's output (original T5's); None
    #: follows tie_word_embeddings, as transformers 4 did (transformers 5 writes it)
    scale_decoder_outputs: bool = None
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0
    #: the longest decoding generate allows (T5's positions are relative: any is computed)
    n_positions: int = 512

    def __post_init__(self):
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        if self.scale_decoder_outputs is None:
            self.scale_decoder_outputs = self.tie_word_embeddings
        parts = self.feed_forward_proj.split("-")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise ValueError(f"T5: feed_forward_proj must be 'ACT' or 'gated-ACT', got "
                             f"{self.feed_forward_proj!r}")
        act = "gelu_new" if self.feed_forward_proj == "gated-gelu" else parts[-1]
        if act not in ACTIVATIONS:
            raise ValueError(f"T5: the activation {act!r} of feed_forward_proj is not one of "
                             f"{', '.join(ACTIVATIONS)}")
        self.act, self.gated = act, len(parts) == 2

    @classmethod
    def from_dict(cls, values, source="config"):
        if values.get("model_type", "t5") not in ("t5", "mt5"):
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not "
                                     f"t5 or mt5")
        return cls(**known_fields(cls, values))

    def to_dict(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5", **values}


class T5LayerNorm(Module):
    """x / rms(x) * weight, the mean square taken in float32 (T5's: no mean, no bias)."""

    def __init__(self, width, eps=1e-6, dtype=None, backend=None):
        super().__init__()
        self.weight = Parameter(init.ones((width,), dtype, backend))
        self.eps = eps

    def forward(self, x):
        wide = x.to(dtype=ember.float32) if x.dtype in (ember.float16, ember.bfloat16) else x
        scale = ember.rsqrt((wide * wide).mean(axis=-1, keepdims=True) + self.eps)
        return (wide * scale).to(dtype=self.weight.dtype) * self.weight


def relative_buckets(relative, bidirectional, buckets, max_distance):
    """T5's bucket of each (key - query) distance (host integers): exact below half the
    buckets (of each direction), then logarithmic up to max_distance."""
    out = np.zeros_like(relative)
    if bidirectional:
        buckets //= 2
        out += (relative > 0) * buckets
        relative = np.abs(relative)
    else:
        relative = -np.minimum(relative, 0)
    exact = buckets // 2
    with np.errstate(divide="ignore"):
        far = exact + (np.log(np.maximum(relative, 1) / exact) / math.log(max_distance / exact)
                       * (buckets - exact)).astype(relative.dtype)
    return out + np.where(relative < exact, relative, np.minimum(far, buckets - 1))


class T5Attention(Module):
    def __init__(self, c, bias_table, decoder, dtype=None, backend=None):
        super().__init__()
        inner, std = c.num_heads * c.d_kv, c.initializer_factor
        linear = lambda n_in, n_out, s: _normal_linear(n_in, n_out, s, dtype, backend)  # noqa: E731
        self.q = linear(c.d_model, inner, std * (c.d_model * c.d_kv) ** -0.5)
        self.k = linear(c.d_model, inner, std * c.d_model ** -0.5)
        self.v = linear(c.d_model, inner, std * c.d_model ** -0.5)
        self.o = linear(inner, c.d_model, std * inner ** -0.5)
        if bias_table:
            self.relative_attention_bias = normal_embedding(
                c.relative_attention_num_buckets, c.num_heads, std * c.d_model ** -0.5, dtype,
                backend)
        self.heads, self.d_kv, self.decoder = c.num_heads, c.d_kv, decoder
        self.buckets, self.max_distance = c.relative_attention_num_buckets, \
            c.relative_attention_max_distance
        self.dropout = c.dropout_rate

    def split(self, x):
        batch, time, _ = x.shape
        return x.reshape(batch, time, self.heads, self.d_kv).permute(0, 2, 1, 3)

    def keys_values(self, x):
        return self.split(self.k(x)), self.split(self.v(x))

    def position_bias(self, queries, keys, past):
        """(1, heads, queries, keys): the learned bias of each relative position."""
        relative = np.arange(keys)[None, :] - (np.arange(queries)[:, None] + past)
        index = relative_buckets(relative, not self.decoder, self.buckets, self.max_distance)
        table = self.relative_attention_bias.weight
        index = ember.tensor(index, dtype=table.backend.default_int, backend=table.backend)
        return table[index].permute(2, 0, 1)[None]

    def forward(self, x, bias, source=None, cache=None, layer=None):
        """Attention with the additive ``bias`` (positions and masks); ``source``: the
        cross-attention keys and values."""
        batch, time, _ = x.shape
        q = self.split(self.q(x))
        k, v = source if source is not None else self.keys_values(x)
        if cache is not None and source is None:
            k, v = cache.update(layer, k, v)
        out = ember.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(dtype=q.dtype), scale=1.0,
            dropout_p=self.dropout if self.training else 0.0)
        return self.o(out.permute(0, 2, 1, 3).reshape(batch, time, self.heads * self.d_kv))


def _normal_linear(n_in, n_out, std, dtype, backend):
    """transformers' T5 init of a projection, which has no bias: N(0, std)."""
    return normal_linear(n_in, n_out, std, bias=False, dtype=dtype, backend=backend)


class T5DenseActDense(Module):
    """wo(act(wi(x))), or wo(act(wi_0(x)) * wi_1(x)) when gated."""

    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        f = c.initializer_factor
        if c.gated:
            self.wi_0 = _normal_linear(c.d_model, c.d_ff, f * c.d_model ** -0.5, dtype, backend)
            self.wi_1 = _normal_linear(c.d_model, c.d_ff, f * c.d_model ** -0.5, dtype, backend)
        else:
            self.wi = _normal_linear(c.d_model, c.d_ff, f * c.d_model ** -0.5, dtype, backend)
        self.wo = _normal_linear(c.d_ff, c.d_model, f * c.d_ff ** -0.5, dtype, backend)
        self.dropout = Dropout(c.dropout_rate)
        object.__setattr__(self, "act", ACTIVATIONS[c.act])
        object.__setattr__(self, "gated", c.gated)

    def forward(self, x):
        h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        return self.wo(self.dropout(h))


class _Sublayer(Module):
    """x + dropout(f(layer_norm(x))): each of a block's attentions and its MLP."""

    def __init__(self, c, name, inner, dtype, backend):
        super().__init__()
        setattr(self, name, inner)
        self.layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon, dtype, backend)
        self.dropout = Dropout(c.dropout_rate)
        object.__setattr__(self, "inner", inner)

    def forward(self, x, *args, **kwargs):
        return x + self.dropout(self.inner(self.layer_norm(x), *args, **kwargs))


class T5Block(Module):
    def __init__(self, c, index, decoder, dtype=None, backend=None):
        super().__init__()
        parts = [_Sublayer(c, "SelfAttention", T5Attention(c, index == 0, decoder, dtype, backend),
                           dtype, backend)]
        if decoder:
            parts.append(_Sublayer(c, "EncDecAttention",
                                   T5Attention(c, False, decoder, dtype, backend), dtype, backend))
        parts.append(_Sublayer(c, "DenseReluDense", T5DenseActDense(c, dtype, backend), dtype,
                               backend))
        self.layer = ModuleList(parts)
        self.index = index

    def forward(self, x, bias, cross_bias=None, source=None, cache=None):
        x = self.layer[0](x, bias, cache=cache, layer=self.index)
        if source is not None:
            x = self.layer[1](x, cross_bias, source=source)
        return self.layer[-1](x)


class T5Stack(Module):
    def __init__(self, c, decoder, dtype=None, backend=None):
        super().__init__()
        count = c.num_decoder_layers if decoder else c.num_layers
        self.block = ModuleList([T5Block(c, i, decoder, dtype, backend) for i in range(count)])
        self.final_layer_norm = T5LayerNorm(c.d_model, c.layer_norm_epsilon, dtype, backend)
        self.dropout = Dropout(c.dropout_rate)

    def forward(self, x, bias, cross_bias=None, sources=None, cache=None):
        x = self.dropout(x)
        for i, block in enumerate(self.block):
            x = block(x, bias, cross_bias, None if sources is None else sources[i], cache)
        return self.dropout(self.final_layer_norm(x))


class T5ForConditionalGeneration(Seq2SeqLM):
    """T5 with its language-model head: ``model(input_ids, decoder_input_ids,
    attention_mask=None)`` gives (batch, target tokens, vocab_size) logits."""

    positions_field = "n_positions"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or T5Config(), **fields)
        object.__setattr__(self, "config", config)
        self.shared = normal_embedding(config.vocab_size, config.d_model,
                                       config.initializer_factor, dtype, backend)
        self.encoder = T5Stack(config, False, dtype, backend)
        self.decoder = T5Stack(config, True, dtype, backend)
        if not config.tie_word_embeddings:
            self.lm_head = _normal_linear(config.d_model, config.vocab_size,
                                          config.initializer_factor, dtype, backend)

    @property
    def embedding(self):
        return self.shared

    def encode(self, input_ids, attention_mask=None):
        """The encoder's states (batch, tokens, d_model); masked tokens are not attended to."""
        ids = self._ids(input_ids, "input_ids")
        mask = self._mask(attention_mask, ids)
        attention = self.encoder.block[0].layer[0].SelfAttention
        bias = attention.position_bias(ids.shape[1], ids.shape[1], 0)
        return self.encoder(self.shared(ids), bias if mask is None else bias + mask)

    def sources(self, states):
        """Each decoder block's cross-attention keys and values of the encoder's states."""
        return [block.layer[1].EncDecAttention.keys_values(states) for block in self.decoder.block]

    def decode(self, ids, sources, attention_mask=None, cache=None):
        """Logits of decoder ids continuing ``cache``, attending to the encoded input."""
        ids = self._ids(ids, "decoder_input_ids")
        past = len(cache) if cache is not None else 0
        time = ids.shape[1]
        attention = self.decoder.block[0].layer[0].SelfAttention
        bias = attention.position_bias(time, past + time, past)
        ahead = np.arange(past + time)[None, :] > (past + np.arange(time))[:, None]
        causal = np.where(ahead, float(np.finfo(np.float32).min), 0.0).astype(np.float32)
        bias = bias + ember.tensor(causal, dtype=bias.dtype, backend=ids.backend)
        cross = key_mask(attention_mask, ids.backend)
        if cross is None:
            cross = ember.zeros((1, 1, 1, 1), dtype=bias.dtype, backend=ids.backend)
        hidden = self.decoder(self.shared(ids), bias, cross, sources, cache)
        if self.config.scale_decoder_outputs:
            hidden = hidden * self.config.d_model ** -0.5
        if self.config.tie_word_embeddings:
            return ember.matmul(hidden, self.shared.weight.T)
        return self.lm_head(hidden)

    def extra_repr(self):
        c = self.config
        return (f"d_model={c.d_model}, num_layers={c.num_layers}, num_decoder_layers="
                f"{c.num_decoder_layers}, vocab_size={c.vocab_size}, feed_forward_proj="
                f"{c.feed_forward_proj!r}")

    @classmethod
    def model_types(cls):
        return ("t5", "mt5")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "d_model": 8, "d_kv": 4, "d_ff": 16,
                             "num_layers": 2, "num_decoder_layers": 1, "num_heads": 2,
                             "relative_attention_num_buckets": 8,
                             "relative_attention_max_distance": 16,
                             "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
                            shape=(2, 5), integer_high=13, call=_example_call,
                            random_in_train=True)

    # -- transformers' files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers T5 directory (config.json, model.safetensors); the model
        comes back in eval mode. A checkpoint with its own lm_head.weight keeps it (v1.1,
        Flan); the stacks' embed_tokens copies of ``shared`` are dropped."""
        values, config_path = read_config(directory)
        model = cls(T5Config.from_dict({**values, **overrides}, config_path), dtype=dtype,
                    backend=backend)
        stored, weights = read_weights(directory, values, model.shared.weight.backend)
        target, tied = model.shared.weight.dtype, model.config.tie_word_embeddings
        state = {k: (v.to(target) if v.dtype.is_float else v) for k, v in stored.items()
                 if not k.endswith("embed_tokens.weight")      # copies of shared
                 and not (tied and k == "lm_head.weight")}
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """config.json and model.safetensors as transformers lays them out."""
        write_pretrained(directory, {**self.config.to_dict(),
                                     "dtype": self.shared.weight.dtype.name}, self.state_dict())


def _example_call(model, ids):
    """The conformance suite's call: the ids as input, and a fixed decoder prompt."""
    target = ember.tensor([[0, 4, 7], [0, 2, 9]], dtype=ids.dtype, backend=ids.backend)
    return model(ids, target)
