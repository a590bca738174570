"""Attention and transformer layers with PyTorch's arguments, semantics and state-dict
keys, so PyTorch weights load unchanged: MultiheadAttention, TransformerEncoderLayer,
TransformerEncoder, TransformerDecoderLayer, TransformerDecoder and Transformer."""

import math
from collections import OrderedDict

import numpy as np

import ember
from ember.errors import DTypeError, ShapeError

from . import functional as F
from . import init
from .layers import Dropout, LayerNorm, Linear
from .module import LayerExample, Module, ModuleList, Parameter


def _to_additive(mask, name, dtype):
    """PyTorch's MultiheadAttention masks: bool True (or nonzero) means *may not*
    attend; float is added to the scores. Returned as an additive float mask."""
    if mask is None:
        return None
    if mask.dtype is ember.bool_:
        return ember.where(mask, -math.inf, 0.0).to(dtype)
    if not mask.dtype.is_float:
        raise DTypeError(f"MultiheadAttention: {name} must be bool (True = may not attend) or "
                         f"floating (added to the scores), got {mask.dtype.name}")
    return mask.to(dtype)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of ``embed_dim / num_heads`` features, as
    torch.nn.MultiheadAttention: projections ``in_proj_weight`` / ``in_proj_bias``
    (``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when kdim or vdim differ)
    and ``out_proj``. Init: xavier_uniform projections, zero biases."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False,
                 kdim=None, vdim=None, dtype=None, backend=None):
        super().__init__()
        if num_heads <= 0 or embed_dim % num_heads:
            raise ShapeError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}; each head needs embed_dim / num_heads "
                             f"features")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        xavier = lambda shape: init.xavier_uniform(shape, dtype=dtype, backend=backend)  # noqa: E731
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(xavier((3 * embed_dim, embed_dim)))
        else:
            self.q_proj_weight = Parameter(xavier((embed_dim, embed_dim)))
            self.k_proj_weight = Parameter(xavier((embed_dim, self.kdim)))
            self.v_proj_weight = Parameter(xavier((embed_dim, self.vdim)))
        self.in_proj_bias = Parameter(init.zeros((3 * embed_dim,), dtype, backend)) \
            if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, backend=backend)
        if bias:
            self.out_proj.bias = Parameter(init.zeros((embed_dim,), dtype, backend))

    def _projections(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """(attn_output, attn_weights): weights (N, L, S) averaged over heads, or
        (N, H, L, S) with average_attn_weights=False, or None when need_weights=False.
        Inputs are (L, N, E), (N, L, E) with batch_first, or unbatched (L, E)."""
        unbatched = query.ndim == 2
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"MultiheadAttention: query, key and value must all be 3-D "
                             f"(batched) or 2-D (unbatched), got {query.shape}, {key.shape} "
                             f"and {value.shape}")
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        length, batch, e = query.shape
        source = key.shape[0]
        if e != self.embed_dim:
            raise ShapeError(f"MultiheadAttention: query has {e} features but embed_dim is "
                             f"{self.embed_dim}")
        if key.shape[:2] != value.shape[:2] or key.shape[1] != batch:
            raise ShapeError(f"MultiheadAttention: key {key.shape} and value {value.shape} "
                             f"must share their length and batch with query {query.shape}")
        q, k, v = self._projections(query, key, value)
        h, d = self.num_heads, self.head_dim
        # (L, N, E) -> (N, H, L, d)
        q, k, v = (t.reshape(t.shape[0], batch, h, d).permute(1, 2, 0, 3) for t in (q, k, v))

        mask = _to_additive(attn_mask, "attn_mask", q.dtype)
        if mask is not None:
            if mask.shape == (length, source):
                pass
            elif mask.shape == (batch * h, length, source):
                mask = mask.reshape(batch, h, length, source)
            else:
                raise ShapeError(f"MultiheadAttention: attn_mask of shape {mask.shape} must be "
                                 f"({length}, {source}) or ({batch * h}, {length}, {source}) "
                                 f"(batch * num_heads, target length, source length)")
        if key_padding_mask is not None:
            if key_padding_mask.shape != (batch, source):
                raise ShapeError(f"MultiheadAttention: key_padding_mask of shape "
                                 f"{key_padding_mask.shape} must be ({batch}, {source}) "
                                 f"(batch, source length)")
            padding = _to_additive(key_padding_mask, "key_padding_mask", q.dtype)
            padding = padding.reshape(batch, 1, 1, source)
            mask = padding if mask is None else mask + padding
        causal = is_causal and mask is None
        dropout = self.dropout if self.training else 0.0

        if need_weights:      # the weights themselves: a plain softmax, as PyTorch's
            scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
            if causal:
                mask = ember.where(ember.tensor(np.tri(length, source, dtype=bool),
                                                backend=q.backend), 0.0, -math.inf)
            weights = ember.softmax(scores if mask is None else scores + mask, -1)
            out = F.dropout(weights, dropout, True) @ v
        else:
            weights = None
            out = ember.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout,
                                                     is_causal=causal)
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(length, batch, e))
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if unbatched:
                weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, " \
               f"dropout={self.dropout}, batch_first={self.batch_first}"

    @classmethod
    def example(cls):
        return LayerExample({"embed_dim": 8, "num_heads": 2, "dropout": 0.1}, shape=(5, 3, 8),
                            bad_shape=(5, 3, 6), random_in_train=True, scale=3,
                            call=lambda layer, x: layer(x, x, x)[0])


def _activation(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return ember.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"transformer layer: activation must be 'relu', 'gelu' or a callable, "
                     f"got {activation!r}")


class _TransformerLayer(Module):
    """What encoder and decoder layers share, built in PyTorch's order (so their
    state-dict keys are PyTorch's): the attention blocks named in ``attentions``, the
    feed-forward block, and a LayerNorm and a dropout after each of the blocks."""

    def __init__(self, attentions, d_model, nhead, dim_feedforward, dropout, activation,
                 layer_norm_eps, batch_first, norm_first, bias, dtype, backend):
        super().__init__()
        kw = {"dtype": dtype, "backend": backend}
        for name in attentions:
            setattr(self, name, MultiheadAttention(d_model, nhead, dropout, bias, batch_first,
                                                   **kw))
        self.linear1 = Linear(d_model, dim_feedforward, bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias, **kw)
        self.norm_first = norm_first
        blocks = len(attentions) + 1
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, layer_norm_eps, bias=bias, **kw))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)
        self._ff_dropout = f"dropout{blocks}"     # a name: a cloned layer finds its own

    def _sa_block(self, x, mask, padding, is_causal):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                                            need_weights=False, is_causal=is_causal)[0])

    def _ff_block(self, x):
        ff = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, self._ff_dropout)(ff)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block, each with a residual connection and
    LayerNorm (after each block, or before with norm_first), as PyTorch's."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=None, backend=None):
        super().__init__(("self_attn",), d_model, nhead, dim_feedforward, dropout, activation,
                         layer_norm_eps, batch_first, norm_first, bias, dtype, backend)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    @classmethod
    def example(cls):
        return LayerExample({"d_model": 4, "nhead": 2, "dim_feedforward": 8, "dropout": 0.1,
                             "batch_first": True}, shape=(3, 5, 4), bad_shape=(3, 5, 6),
                            random_in_train=True, scale=3)


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's ``memory``, and a feed-forward
    block, each with a residual connection and LayerNorm, as PyTorch's."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=None, backend=None):
        super().__init__(("self_attn", "multihead_attn"), d_model, nhead, dim_feedforward,
                         dropout, activation, layer_norm_eps, batch_first, norm_first, bias,
                         dtype, backend)

    def _mha_block(self, x, mem, mask, padding, is_causal):
        return self.dropout2(self.multihead_attn(x, mem, mem, attn_mask=mask,
                                                 key_padding_mask=padding, need_weights=False,
                                                 is_causal=is_causal)[0])

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    @classmethod
    def example(cls):
        return LayerExample({"d_model": 4, "nhead": 2, "dim_feedforward": 8, "dropout": 0.1},
                            shape=(5, 3, 4), bad_shape=(5, 3, 6), random_in_train=True, scale=3,
                            call=lambda layer, x: layer(x, x[:4] * 0.5))


def _clones(layer, n):
    """``n`` copies of ``layer``, each with its own parameters holding the same values
    (PyTorch deep-copies the layer it is given)."""
    return ModuleList([_clone(layer) for _ in range(n)])


def _clone(module):
    new = object.__new__(type(module))
    object.__setattr__(new, "_parameters", OrderedDict())
    object.__setattr__(new, "_buffers", OrderedDict())
    object.__setattr__(new, "_modules", OrderedDict())
    for name, value in module.__dict__.items():
        if name in ("_parameters", "_buffers", "_modules"):
            continue
        if name in module._parameters:
            setattr(new, name, Parameter(value.detach(), requires_grad=value.requires_grad))
        elif name in module._modules:
            setattr(new, name, _clone(value))
        elif name in module._buffers:
            new.register_buffer(name, value)    # tensors are values: sharing one is safe
        else:
            object.__setattr__(new, name, value)
    return new


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (keys ``layers.0.*``...), then ``norm``."""

    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(5, 3, 4), bad_shape=(5, 3, 6), random_in_train=True,
                            scale=3, build=lambda: cls(TransformerEncoderLayer(
                                4, 2, 4, 0.1, norm_first=True), 2, norm=LayerNorm(4)))


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (keys ``layers.0.*``...), then ``norm``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                      memory_key_padding_mask, tgt_is_causal, memory_is_causal)
        return self.norm(x) if self.norm is not None else x

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 5, 4), bad_shape=(3, 5, 6), random_in_train=True,
                            scale=3, call=lambda layer, x: layer(x, x[:, :4] * 0.5,
                                                                 tgt_is_causal=True),
                            build=lambda: cls(TransformerDecoderLayer(
                                4, 2, 4, 0.1, activation="gelu", batch_first=True), 1))


class Transformer(Module):
    """PyTorch's encoder-decoder Transformer (Vaswani et al. 2017): ``num_encoder_layers``
    encoder layers and ``num_decoder_layers`` decoder layers, each stack ending in a
    LayerNorm (keys ``encoder.layers.0.*``, ``encoder.norm.*``, ``decoder...``); its
    matrices are initialized xavier-uniform, as PyTorch's."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, dtype=None, backend=None):
        super().__init__()
        kw = {"dtype": dtype, "backend": backend}
        layer = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                 batch_first, norm_first, bias)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(*layer, **kw), num_encoder_layers,
            LayerNorm(d_model, layer_norm_eps, bias=bias, **kw))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(*layer, **kw), num_decoder_layers,
            LayerNorm(d_model, layer_norm_eps, bias=bias, **kw))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                with ember.no_grad():
                    p.copy_(init.xavier_uniform(p.shape, dtype=p.dtype, backend=p.backend))

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise ShapeError(f"Transformer: src {src.shape} and tgt {tgt.shape} hold batches "
                             f"of {src.shape[batch]} and {tgt.shape[batch]}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"Transformer: src {src.shape} and tgt {tgt.shape} must both end "
                             f"in d_model {self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=bool(src_is_causal))
        return self.decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                            memory_key_padding_mask, bool(tgt_is_causal), memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, dtype=None, backend=None):
        """(sz, sz) float mask: -inf above the diagonal (a position may not attend to later
        ones), 0 elsewhere, as PyTorch's."""
        causal = np.triu(np.full((sz, sz), -np.inf), 1)
        return ember.tensor(causal, dtype=dtype or ember.default_float, backend=backend)

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}"

    @classmethod
    def example(cls):
        return LayerExample({}, shape=(3, 5, 4), bad_shape=(3, 5, 6), random_in_train=True,
                            scale=3, call=lambda layer, x: layer(x, x[:, :4] * 0.5,
                                                                 tgt_is_causal=True),
                            build=lambda: cls(4, 2, 1, 1, 8, 0.1, batch_first=True))
