"""The blocks of transformers' BART-style encoder-decoders (BART, mBART, Whisper): their
attention and their encoder and decoder layers, with the key names those checkpoints
share (self_attn, encoder_attn, fc1, fc2, and a LayerNorm beside each).

The layers are pre-norm (x + f(norm(x)): mBART, Whisper) or post-norm (norm(x + f(x)):
BART); the attention scales its queries before the product and may have no key bias
(Whisper). A decoder layer attends causally to its own tokens (keeping their keys and
values in a KeyValueCache), then to ``source``: the encoder states' keys and values,
computed once per input by ``DecoderLayer.cross_keys_values``."""

import numpy as np

import ember
from ember.errors import ShapeError
from ember.plugins.nn import Dropout, LayerNorm, Module

from .causal import Decoding, causal_attention
from .huggingface import ACTIVATIONS, normal_linear


def key_mask(attention_mask, backend):
    """An attention_mask (batch, keys) of 1s and 0s as an additive float32 bias (batch, 1,
    1, keys): float32's lowest value where 0, as transformers; None stays None."""
    if attention_mask is None:
        return None
    keep = ember.tensor(attention_mask, backend=backend) != 0
    low = float(ember.dtypes.finfo(ember.float32).min)
    return ember.where(keep, 0.0, low).to(dtype=ember.float32)[:, None, None, :]


class Attention(Module):
    """Multi-head attention with q_proj, k_proj (``key_bias``), v_proj and out_proj;
    self-attention (causal in a decoder) or, given a source's keys and values, cross."""

    def __init__(self, d_model, heads, std, dropout, key_bias=True, dtype=None, backend=None):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.scaling = (d_model // heads) ** -0.5
        self.k_proj = normal_linear(d_model, d_model, std, bias=key_bias, dtype=dtype,
                                    backend=backend)
        self.v_proj = normal_linear(d_model, d_model, std, dtype=dtype, backend=backend)
        self.q_proj = normal_linear(d_model, d_model, std, dtype=dtype, backend=backend)
        self.out_proj = normal_linear(d_model, d_model, std, dtype=dtype, backend=backend)

    def split(self, x):
        batch, time, width = x.shape
        return x.reshape(batch, time, self.heads, width // self.heads).permute(0, 2, 1, 3)

    def keys_values(self, x):
        """The (batch, heads, time, head_dim) keys and values of states ``x``."""
        return self.split(self.k_proj(x)), self.split(self.v_proj(x))

    def forward(self, x, source=None, cache=None, layer=None, causal=False, mask=None):
        """``mask``: an additive bias over the keys (key_mask), for padding."""
        batch, time, width = x.shape
        q = self.split(self.q_proj(x) * self.scaling)
        k, v = source if source is not None else self.keys_values(x)
        if cache is not None and source is None:
            k, v = cache.update(layer, k, v)
        p = self.dropout if self.training else 0.0
        if causal:
            out = causal_attention(q, k, v, time, scale=1.0, dropout_p=p)
        else:
            mask = None if mask is None else mask.to(dtype=q.dtype)
            out = ember.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0,
                                                     dropout_p=p)
        return self.out_proj(out.permute(0, 2, 1, 3).reshape(batch, time, width))


class _Layer(Module):
    """What both sides' layers share: the residual branches around a norm, and the MLP."""

    def _init(self, c, ffn, pre_norm, dtype, backend):
        self.fc1 = normal_linear(c.d_model, ffn, c.init_std, dtype=dtype, backend=backend)
        self.fc2 = normal_linear(ffn, c.d_model, c.init_std, dtype=dtype, backend=backend)
        self.final_layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self.drop, self.act_drop = Dropout(c.dropout), Dropout(c.activation_dropout)
        object.__setattr__(self, "act", ACTIVATIONS[c.activation_function])
        object.__setattr__(self, "pre_norm", pre_norm)

    def _branch(self, x, norm, fn):
        if self.pre_norm:
            return x + self.drop(fn(norm(x)))
        return norm(x + self.drop(fn(x)))

    def _mlp(self, x):
        return self._branch(x, self.final_layer_norm,
                            lambda h: self.fc2(self.act_drop(self.act(self.fc1(h)))))

    def _attention(self, c, heads, key_bias, dtype, backend):
        return Attention(c.d_model, heads, c.init_std, c.attention_dropout, key_bias, dtype,
                         backend)


class EncoderLayer(_Layer):
    def __init__(self, c, pre_norm, key_bias=True, dtype=None, backend=None):
        super().__init__()
        self.self_attn = self._attention(c, c.encoder_attention_heads, key_bias, dtype, backend)
        self.self_attn_layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self._init(c, c.encoder_ffn_dim, pre_norm, dtype, backend)

    def forward(self, x, mask=None):
        x = self._branch(x, self.self_attn_layer_norm, lambda h: self.self_attn(h, mask=mask))
        return self._mlp(x)


class DecoderLayer(_Layer):
    def __init__(self, c, layer, pre_norm, key_bias=True, dtype=None, backend=None):
        super().__init__()
        heads = c.decoder_attention_heads
        self.self_attn = self._attention(c, heads, key_bias, dtype, backend)
        self.self_attn_layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self.encoder_attn = self._attention(c, heads, key_bias, dtype, backend)
        self.encoder_attn_layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self._init(c, c.decoder_ffn_dim, pre_norm, dtype, backend)
        self.layer = layer

    def forward(self, x, source, cache=None, source_mask=None):
        """``source``: this layer's cross-attention keys and values of the encoder's states
        (``source_mask``: their padding, as key_mask)."""
        x = self._branch(x, self.self_attn_layer_norm, lambda h: self.self_attn(
            h, cache=cache, layer=self.layer, causal=True))
        x = self._branch(x, self.encoder_attn_layer_norm, lambda h: self.encoder_attn(
            h, source=source, mask=source_mask))
        return self._mlp(x)


def cross_keys_values(layers, states):
    """Each decoder layer's cross-attention keys and values of the encoder's states."""
    return [layer.encoder_attn.keys_values(states) for layer in layers]


class Seq2SeqLM(Module):
    """What the encoder-decoders (BART, T5, Whisper) share around their ``encode``,
    ``sources`` and ``decode``: the forward pass, checked ids, and a cached ``generate``. A subclass
    names its config's ``positions_field`` (the longest decoding) and its ``embedding``."""

    positions_field = None

    def _ids(self, ids, what):
        """ids as a (batch, tokens) integer tensor on the model's backend."""
        if not isinstance(ids, ember.Tensor):
            ids = ember.tensor(ids, backend=self.embedding.weight.backend)
        if ids.ndim != 2 or ids.dtype.is_float:
            raise ShapeError(f"{type(self).__name__}: {what} must be (batch, tokens) integers, "
                             f"got {ids.dtype} of shape {ids.shape}")
        return ids

    def _mask(self, attention_mask, ids):
        """attention_mask (of ids' shape) as an additive bias over the keys (key_mask)."""
        if attention_mask is not None and tuple(np.shape(attention_mask)) != ids.shape:
            raise ShapeError(f"{type(self).__name__}: attention_mask must have input_ids' "
                             f"shape {ids.shape}, got {tuple(np.shape(attention_mask))}")
        return key_mask(attention_mask, ids.backend)

    def forward(self, input_ids, decoder_input_ids, attention_mask=None):
        """(batch, target tokens, vocab) logits; input tokens where attention_mask is 0
        are not attended to."""
        states = self.encode(input_ids, attention_mask)
        return self.decode(decoder_input_ids, self.sources(states), attention_mask)

    def generate(self, input_ids, max_new_tokens=20, attention_mask=None,
                 decoder_input_ids=None, temperature=0.0, eos_token_id=None, **sampling):
        """The decoder's tokens for ``input_ids``, each row starting with
        decoder_start_token_id unless ``decoder_input_ids`` is given (mBART's target
        language code, for one), greedily at ``temperature`` 0, stopping at
        ``eos_token_id`` (the config's by default); as CausalLM.generate. The input is
        encoded once, and its cross-attention keys and values computed once."""
        c = self.config
        with ember.no_grad():
            sources = self.sources(self.encode(input_ids, attention_mask))
        start = decoder_input_ids if decoder_input_ids is not None else \
            np.full((len(input_ids), 1), c.decoder_start_token_id)
        decoding = Decoding(c, self.positions_field, self.embedding.weight.backend,
                            lambda ids, cache: self.decode(ids, sources, attention_mask, cache))
        return decoding.generate(self._ids(start, "decoder_input_ids"), max_new_tokens,
                                 temperature=temperature, eos_token_id=c.eos_token_id
                                 if eos_token_id is None else eos_token_id, **sampling)
