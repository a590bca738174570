"""Wav2Vec2 for CTC speech recognition as transformers lays it out (Wav2Vec2ForCTC), so its
checkpoints load: facebook/wav2vec2-base-960h, -large-960h-lv60-self and the models
fine-tuned from wav2vec2 with a CTC head.

Raw 16 kHz audio passes a stack of strided 1-D convolutions with GELU (the first with a
GroupNorm over each channel, ``feat_extract_norm="group"``; or a LayerNorm after each,
"layer"), a LayerNorm and a projection to the model's width. A grouped convolution with
weight normalization over its kernel axis (``weight_norm(dim=2)``, PyTorch's keys, the
older weight_g/weight_v too) adds relative positions; then attention blocks: post-norm,
with the encoder's LayerNorm first (base), or pre-norm with it last
(``do_stable_layer_norm``, large); an attention_mask over the samples keeps each
example's padding frames out of attention. ``lm_head`` gives per-frame logits over the
characters, which ``ember.plugins.losses``' CTC loss trains and greedy CTC decoding
reads (``decode_ctc``).
"""

import dataclasses

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import (Conv1d, Dropout, GroupNorm, LayerExample, LayerNorm, Module,
                              ModuleList, Parameter, init)
from ember.plugins.nn.parametrize import weight_norm

from .huggingface import ACTIVATIONS, check_activation, known_fields, load_weights, \
    normal_linear, read_config, read_weights, write_pretrained
from .seq2seq import Attention, key_mask


@dataclasses.dataclass
class Wav2Vec2Config:
    """The fields of transformers' Wav2Vec2Config that change the network, with its
    defaults (wav2vec2-base)."""

    vocab_size: int = 32
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout: float = 0.1
    activation_dropout: float = 0.1
    attention_dropout: float = 0.1
    feat_proj_dropout: float = 0.0
    final_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    feat_extract_norm: str = "group"
    feat_extract_activation: str = "gelu"
    conv_dim: tuple = (512, 512, 512, 512, 512, 512, 512)
    conv_stride: tuple = (5, 2, 2, 2, 2, 2, 2)
    conv_kernel: tuple = (10, 3, 3, 3, 3, 2, 2)
    conv_bias: bool = False
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False
    pad_token_id: int = 0
    #: SpecAugment in training: spans of mask_time_length frames take masked_spec_embed
    #: (about mask_time_prob of them), spans of mask_feature_length channels become 0
    apply_spec_augment: bool = True
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_feature_prob: float = 0.0
    mask_feature_length: int = 10

    def __post_init__(self):
        self.conv_dim, self.conv_stride, self.conv_kernel = (
            tuple(self.conv_dim), tuple(self.conv_stride), tuple(self.conv_kernel))
        if not len(self.conv_dim) == len(self.conv_stride) == len(self.conv_kernel):
            raise ShapeError("Wav2Vec2: conv_dim, conv_stride and conv_kernel need one entry "
                             "per convolution")
        if self.feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"Wav2Vec2: feat_extract_norm must be 'group' or 'layer', got "
                             f"{self.feat_extract_norm!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ShapeError(f"Wav2Vec2: num_attention_heads {self.num_attention_heads} does "
                             f"not divide hidden_size {self.hidden_size}")
        for field in ("hidden_act", "feat_extract_activation"):
            check_activation("Wav2Vec2", field, getattr(self, field))

    @classmethod
    def from_dict(cls, values, source="config"):
        if values.get("model_type", "wav2vec2") != "wav2vec2":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not "
                                     f"wav2vec2")
        if values.get("add_adapter") or values.get("adapter_attn_dim"):
            raise SerializationError(f"{source}: adapters (add_adapter, adapter_attn_dim) are "
                                     f"not supported by ember's Wav2Vec2")
        return cls(**known_fields(cls, values))

    def to_dict(self):
        return {"architectures": ["Wav2Vec2ForCTC"], "model_type": "wav2vec2",
                **dataclasses.asdict(self)}

    def frames(self, samples):
        """How many frames the convolutions make of ``samples`` samples."""
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            samples = (samples - kernel) // stride + 1
        return samples


class _ConvLayer(Module):
    def __init__(self, c, i, dtype, backend):
        super().__init__()
        n_in = c.conv_dim[i - 1] if i else 1
        self.conv = Conv1d(n_in, c.conv_dim[i], c.conv_kernel[i], stride=c.conv_stride[i],
                           bias=c.conv_bias, dtype=dtype, backend=backend)
        if c.feat_extract_norm == "layer":
            self.layer_norm = LayerNorm(c.conv_dim[i], dtype=dtype, backend=backend)
        elif i == 0:
            self.layer_norm = GroupNorm(c.conv_dim[0], c.conv_dim[0], dtype=dtype,
                                        backend=backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.feat_extract_activation])
        object.__setattr__(self, "channels_last_norm", c.feat_extract_norm == "layer")

    def forward(self, x):
        x = self.conv(x)
        if "layer_norm" in self._modules:
            if self.channels_last_norm:
                x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
            else:
                x = self.layer_norm(x)
        return self.act(x)


class _FeatureEncoder(Module):
    def __init__(self, c, dtype, backend):
        super().__init__()
        self.conv_layers = ModuleList([_ConvLayer(c, i, dtype, backend)
                                       for i in range(len(c.conv_dim))])

    def forward(self, audio):
        x = audio[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class _FeatureProjection(Module):
    def __init__(self, c, dtype, backend):
        super().__init__()
        self.layer_norm = LayerNorm(c.conv_dim[-1], eps=c.layer_norm_eps, dtype=dtype,
                                    backend=backend)
        self.projection = normal_linear(c.conv_dim[-1], c.hidden_size, c.initializer_range,
                                        dtype=dtype, backend=backend)
        self.dropout = Dropout(c.feat_proj_dropout)

    def forward(self, x):
        return self.dropout(self.projection(self.layer_norm(x)))


class _PositionalConv(Module):
    """A grouped convolution over time, weight-normalized over its kernel axis, its last
    frame dropped for an even kernel (transformers' SamePad), then the activation."""

    def __init__(self, c, dtype, backend):
        super().__init__()
        self.conv = weight_norm(Conv1d(c.hidden_size, c.hidden_size, c.num_conv_pos_embeddings,
                                       padding=c.num_conv_pos_embeddings // 2,
                                       groups=c.num_conv_pos_embedding_groups, dtype=dtype,
                                       backend=backend), dim=2)
        object.__setattr__(self, "drop_last", c.num_conv_pos_embeddings % 2 == 0)
        object.__setattr__(self, "act", ACTIVATIONS[c.feat_extract_activation])

    def forward(self, x):
        y = self.conv(x.transpose(1, 2))
        if self.drop_last:
            y = y[:, :, :-1]
        return self.act(y).transpose(1, 2)


class _FeedForward(Module):
    def __init__(self, c, dtype, backend):
        super().__init__()
        std = c.initializer_range
        self.intermediate_dense = normal_linear(c.hidden_size, c.intermediate_size, std,
                                                dtype=dtype, backend=backend)
        self.output_dense = normal_linear(c.intermediate_size, c.hidden_size, std, dtype=dtype,
                                          backend=backend)
        self.intermediate_dropout = Dropout(c.activation_dropout)
        self.output_dropout = Dropout(c.hidden_dropout)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        x = self.intermediate_dropout(self.act(self.intermediate_dense(x)))
        return self.output_dropout(self.output_dense(x))


class _EncoderLayer(Module):
    def __init__(self, c, dtype, backend):
        super().__init__()
        self.attention = Attention(c.hidden_size, c.num_attention_heads, c.initializer_range,
                                   c.attention_dropout, dtype=dtype, backend=backend)
        self.dropout = Dropout(c.hidden_dropout)
        self.layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                    backend=backend)
        self.feed_forward = _FeedForward(c, dtype, backend)
        self.final_layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                          backend=backend)
        object.__setattr__(self, "stable", c.do_stable_layer_norm)

    def forward(self, x, mask=None):
        if self.stable:            # pre-norm
            x = x + self.dropout(self.attention(self.layer_norm(x), mask=mask))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.dropout(self.attention(x, mask=mask)))
        return self.final_layer_norm(x + self.feed_forward(x))


class _Encoder(Module):
    def __init__(self, c, dtype, backend):
        super().__init__()
        self.pos_conv_embed = _PositionalConv(c, dtype, backend)
        self.layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                    backend=backend)
        self.dropout = Dropout(c.hidden_dropout)
        self.layers = ModuleList([_EncoderLayer(c, dtype, backend)
                                  for _ in range(c.num_hidden_layers)])
        object.__setattr__(self, "stable", c.do_stable_layer_norm)

    def forward(self, x, frames=None):
        """``frames``: (batch, frames) 1 for real frames, 0 for padding: padding is zeroed
        first and no frame attends to it."""
        mask = None
        if frames is not None:
            x = ember.where(frames[:, :, None] != 0, x, 0.0)
            mask = key_mask(frames, x.backend)
        x = x + self.pos_conv_embed(x)
        x = self.dropout(x) if self.stable else self.dropout(self.layer_norm(x))
        for layer in self.layers:
            x = layer(x, mask)
        return self.layer_norm(x) if self.stable else x


class Wav2Vec2Model(Module):
    """The feature encoder, its projection and the transformer encoder: (batch, frames,
    hidden_size) states of (batch, samples) audio."""

    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        self.feature_extractor = _FeatureEncoder(c, dtype, backend)
        self.feature_projection = _FeatureProjection(c, dtype, backend)
        self.encoder = _Encoder(c, dtype, backend)
        # the vector that SpecAugment's masked frames take in training
        self.masked_spec_embed = Parameter(init.uniform((c.hidden_size,), 0.0, 1.0, dtype,
                                                        backend))
        object.__setattr__(self, "config", c)

    def forward(self, input_values, attention_mask=None):
        """States of (batch, samples) audio; ``attention_mask`` (batch, samples), 1 for
        samples and 0 for padding, marks each example's frames (as transformers': the
        frames of its leading samples)."""
        features = self.feature_extractor(input_values).transpose(1, 2)
        frames = None
        if attention_mask is not None:
            lengths = np.asarray(attention_mask.numpy() if isinstance(attention_mask, ember.Tensor)
                                 else attention_mask).sum(-1)
            lengths = self.config.frames(lengths)
            frames = ember.tensor(np.arange(features.shape[1])[None, :] < lengths[:, None],
                                  backend=features.backend)
        return self.encoder(self._spec_augment(self.feature_projection(features)), frames)

    def _spec_augment(self, x):
        """In training, SpecAugment's masks (transformers' apply_spec_augment): spans start
        at each frame (channel) with probability prob / length, drawn from ember's
        generator on the device, so a compiled step draws anew. transformers draws a
        fixed number of spans per example instead, at least mask_time_min_masks; the
        share of frames masked is alike."""
        c = self.config
        if not (self.training and c.apply_spec_augment):
            return x
        batch, frames, width = x.shape
        if c.mask_time_prob > 0 and frames >= c.mask_time_length:
            masked = _spans(batch, frames, c.mask_time_prob, c.mask_time_length, x.backend)
            x = ember.where(masked[:, :, None], self.masked_spec_embed.to(dtype=x.dtype), x)
        if c.mask_feature_prob > 0 and width >= c.mask_feature_length:
            masked = _spans(batch, width, c.mask_feature_prob, c.mask_feature_length, x.backend)
            x = ember.where(masked[:, None, :], 0.0, x)
        return x


class Wav2Vec2ForCTC(Module):
    """Wav2Vec2 with its CTC head: ``model(input_values)`` gives (batch, frames,
    vocab_size) logits of (batch, samples) 16 kHz audio (normalized to zero mean and unit
    variance, as its feature extractor does: ``normalize_audio``)."""

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or Wav2Vec2Config(), **fields)
        object.__setattr__(self, "config", config)
        self.wav2vec2 = Wav2Vec2Model(config, dtype, backend)
        self.dropout = Dropout(config.final_dropout)
        self.lm_head = normal_linear(config.hidden_size, config.vocab_size,
                                     config.initializer_range, dtype=dtype, backend=backend)

    def forward(self, input_values, attention_mask=None):
        if not isinstance(input_values, ember.Tensor):
            input_values = ember.tensor(input_values, backend=self.lm_head.weight.backend)
        if input_values.ndim != 2 or self.config.frames(input_values.shape[1]) < 1:
            raise ShapeError(f"Wav2Vec2: input_values must be (batch, samples) of at least "
                             f"{sum(self.config.conv_kernel)} samples, got shape "
                             f"{input_values.shape}")
        if attention_mask is not None and tuple(np.shape(attention_mask)) != input_values.shape:
            raise ShapeError(f"Wav2Vec2: attention_mask must have input_values' shape "
                             f"{input_values.shape}, got {tuple(np.shape(attention_mask))}")
        return self.lm_head(self.dropout(self.wav2vec2(input_values, attention_mask)))

    def extra_repr(self):
        c = self.config
        return (f"hidden_size={c.hidden_size}, num_hidden_layers={c.num_hidden_layers}, "
                f"vocab_size={c.vocab_size}, feat_extract_norm={c.feat_extract_norm!r}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 7, "hidden_size": 8, "num_hidden_layers": 1,
                             "num_attention_heads": 2, "intermediate_size": 16,
                             "conv_dim": (4, 4), "conv_stride": (3, 2), "conv_kernel": (4, 3),
                             "num_conv_pos_embeddings": 4, "num_conv_pos_embedding_groups": 2,
                             "mask_time_prob": 0.6, "mask_time_length": 2},
                            shape=(2, 40), bad_shape=(2, 5), random_in_train=True)

    # -- transformers' files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers Wav2Vec2ForCTC directory (config.json, model.safetensors);
        the positional convolution's older weight_g/weight_v keys load too. The model
        comes back in eval mode."""
        values, config_path = read_config(directory)
        model = cls(Wav2Vec2Config.from_dict({**values, **overrides}, config_path),
                    dtype=dtype, backend=backend)
        target = model.lm_head.weight
        stored, weights = read_weights(directory, values, target.backend)
        old = {"weight_g": "parametrizations.weight.original0",
               "weight_v": "parametrizations.weight.original1"}
        state = {}
        for key, value in stored.items():
            head, _, last = key.rpartition(".")
            if last in old and "pos_conv_embed" in head:
                key = f"{head}.{old[last]}"
            state[key] = value.to(target.dtype) if value.dtype.is_float else value
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        write_pretrained(directory, {**self.config.to_dict(),
                                     "dtype": self.lm_head.weight.dtype.name}, self.state_dict())


def _spans(batch, length, prob, span, backend):
    """(batch, length) bool: spans of ``span`` positions, each position starting one
    with probability prob / span."""
    starts = (ember.rand(batch, length, backend=backend) < prob / span).to(dtype=ember.float32)
    seen = ember.cumsum(starts, 1)
    before = ember.pad(seen, ((0, 0), (span, 0)))[:, :length]
    return (seen - before) > 0


def normalize_audio(audio):
    """Each waveform at zero mean and unit variance (Wav2Vec2FeatureExtractor's
    do_normalize: x - mean over sqrt(var + 1e-7)), as (batch, samples) float32."""
    batch = np.atleast_2d(np.asarray(audio.numpy() if isinstance(audio, ember.Tensor)
                                     else audio, dtype=np.float32))
    mean = batch.mean(axis=-1, keepdims=True)
    return (batch - mean) / np.sqrt(batch.var(axis=-1, keepdims=True) + 1e-7)


def decode_ctc(logits, blank=0):
    """Greedy CTC decoding: each frame's likeliest id, repeats merged, blanks dropped; a
    list of id lists, one per row."""
    best = np.asarray(logits.argmax(-1).numpy() if isinstance(logits, ember.Tensor)
                      else np.argmax(logits, -1))
    out = []
    for row in np.atleast_2d(best):
        kept = [int(t) for i, t in enumerate(row) if (i == 0 or t != row[i - 1]) and t != blank]
        out.append(kept)
    return out

