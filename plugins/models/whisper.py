"""Whisper as transformers lays it out (WhisperForConditionalGeneration), so its checkpoints
load (openai/whisper-tiny ... large-v3, distil-whisper): speech recognition and
translation from log-mel features (audio.WhisperFeatureExtractor).

The encoder turns (batch, mel bins, 2 max_source_positions) features into states: two
1-D convolutions with GELU (the second halving the time), fixed sinusoidal positions,
pre-norm self-attention blocks and a final norm. The decoder embeds tokens and learned
positions, and each block attends causally to the tokens so far, then to the encoder's
states, then applies its MLP; the logits reuse the token embedding (``proj_out`` is tied
to it and has no key of its own). Queries are scaled before the product, keys have no
bias, as transformers' WhisperAttention. ``generate`` decodes greedily, or samples,
keeping the self-attention keys and values of earlier steps and the cross-attention
keys and values of the audio from the first.
"""

import dataclasses
import math

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Conv1d, Dropout, LayerExample, LayerNorm, Module, ModuleList
from ember.plugins.nn import functional as F

from .huggingface import (check_activation, known_fields, load_weights, normal_embedding,
                          read_config, read_weights, write_pretrained)
from .seq2seq import DecoderLayer, EncoderLayer, Seq2SeqLM, cross_keys_values


@dataclasses.dataclass
class WhisperConfig:
    """The fields of transformers' WhisperConfig that change the network, with its
    defaults (whisper-tiny's shape but 4 + 4 layers of 384). ``scale_embedding`` is kept
    for the file's sake: transformers' Whisper never applies it, and nor does ember."""

    vocab_size: int = 51865
    num_mel_bins: int = 80
    d_model: int = 384
    encoder_layers: int = 4
    encoder_attention_heads: int = 6
    encoder_ffn_dim: int = 1536
    decoder_layers: int = 4
    decoder_attention_heads: int = 6
    decoder_ffn_dim: int = 1536
    max_source_positions: int = 1500
    max_target_positions: int = 448
    activation_function: str = "gelu"
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    init_std: float = 0.02
    scale_embedding: bool = False
    pad_token_id: int = 50256
    decoder_start_token_id: int = 50257
    eos_token_id: int = 50256
    #: ids generate never chooses, and not first (older checkpoints keep them here; newer
    #: ones in generation_config.json, whose values generate() takes as arguments)
    suppress_tokens: list = None
    begin_suppress_tokens: list = (220, 50256)

    def __post_init__(self):
        for side in ("encoder", "decoder"):
            heads = getattr(self, f"{side}_attention_heads")
            if self.d_model % heads:
                raise ShapeError(f"Whisper: {side}_attention_heads {heads} does not divide "
                                 f"d_model {self.d_model}")
        check_activation("Whisper", "activation_function", self.activation_function)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses; refuse what would change the network silently."""
        if values.get("model_type", "whisper") != "whisper":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not "
                                     f"whisper")
        if not values.get("tie_word_embeddings", True):
            raise SerializationError(f"{source}: tie_word_embeddings=false is not supported; "
                                     f"ember's Whisper ties proj_out to the token embedding")
        return cls(**known_fields(cls, values))

    def to_dict(self):
        return {"architectures": ["WhisperForConditionalGeneration"], "model_type": "whisper",
                "tie_word_embeddings": True, **dataclasses.asdict(self)}


def sinusoids(length, channels, max_timescale=10000.0):
    """The encoder's fixed positions: sines then cosines of geometric timescales."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inverse = np.exp(-increment * np.arange(channels // 2))
    scaled = np.arange(length)[:, None] * inverse[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1)


class _FixedPositions(Module):
    """The encoder's sinusoidal positions: not trained (transformers freezes them), kept
    under the checkpoint's key embed_positions.weight."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("weight", table)


class WhisperEncoder(Module):
    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        self.conv1 = Conv1d(c.num_mel_bins, c.d_model, 3, padding=1, dtype=dtype, backend=backend)
        self.conv2 = Conv1d(c.d_model, c.d_model, 3, stride=2, padding=1, dtype=dtype,
                            backend=backend)
        self.embed_positions = _FixedPositions(ember.tensor(
            sinusoids(c.max_source_positions, c.d_model), dtype=self.conv1.weight.dtype,
            backend=backend))
        self.layers = ModuleList([EncoderLayer(c, True, False, dtype, backend)
                                  for _ in range(c.encoder_layers)])
        self.layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self.drop = Dropout(c.dropout)
        object.__setattr__(self, "config", c)

    def forward(self, features):
        c = self.config
        frames = 2 * c.max_source_positions
        if features.ndim != 3 or features.shape[1:] != (c.num_mel_bins, frames):
            raise ShapeError(f"Whisper: input_features must be (batch, {c.num_mel_bins}, "
                             f"{frames}) log-mel frames (WhisperFeatureExtractor pads audio to "
                             f"that), got shape {features.shape}")
        x = F.gelu(self.conv2(F.gelu(self.conv1(features)))).permute(0, 2, 1)
        x = self.drop(x + self.embed_positions.weight)
        for layer in self.layers:
            x = layer(x)
        return self.layer_norm(x)


class WhisperDecoder(Module):
    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        self.embed_tokens = normal_embedding(c.vocab_size, c.d_model, c.init_std, dtype, backend,
                                             padding_idx=c.pad_token_id)
        self.embed_positions = normal_embedding(c.max_target_positions, c.d_model, c.init_std,
                                                dtype, backend)
        self.layers = ModuleList([DecoderLayer(c, i, True, False, dtype, backend)
                                  for i in range(c.decoder_layers)])
        self.layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self.drop = Dropout(c.dropout)

    def sources(self, states):
        """Each layer's cross-attention keys and values of the encoder's states."""
        return cross_keys_values(self.layers, states)

    def forward(self, ids, sources, cache=None):
        past = len(cache) if cache is not None else 0
        x = self.embed_tokens(ids) + self.embed_positions.weight[past:past + ids.shape[1]]
        x = self.drop(x)
        for layer, source in zip(self.layers, sources):
            x = layer(x, source, cache)
        return self.layer_norm(x)


class WhisperModel(Module):
    """The encoder and the decoder (transformers' WhisperModel): decoder states out."""

    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        self.encoder = WhisperEncoder(c, dtype, backend)
        self.decoder = WhisperDecoder(c, dtype, backend)


class WhisperForConditionalGeneration(Seq2SeqLM):
    """Whisper with its language-model head: ``model(input_features, decoder_input_ids)``
    gives (batch, tokens, vocab_size) logits.

    Built from a WhisperConfig or its fields: ``WhisperForConditionalGeneration(d_model=64,
    ...)``; ``from_pretrained(directory)`` loads a transformers checkpoint."""

    positions_field = "max_target_positions"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or WhisperConfig(), **fields)
        object.__setattr__(self, "config", config)
        self.model = WhisperModel(config, dtype, backend)

    @property
    def embedding(self):
        return self.model.decoder.embed_tokens

    def forward(self, input_features, decoder_input_ids):
        """Logits of each decoder position, the whole audio seen by every one."""
        return self.decode(decoder_input_ids, self.sources(self.encode(input_features)))

    def encode(self, input_features, attention_mask=None):
        """The encoder's states of (batch, mel bins, frames) features; Whisper reads the
        whole window, so it takes no attention_mask (transformers ignores one)."""
        if attention_mask is not None:
            raise ValueError("Whisper: the encoder reads all 30 s (padded with silence) and "
                             "takes no attention_mask; leave it out")
        return self.model.encoder(input_features)

    def sources(self, states):
        return self.model.decoder.sources(states)

    def decode(self, ids, sources, attention_mask=None, cache=None):
        """Logits of decoder ids continuing ``cache``, attending to the audio."""
        ids = self._ids(ids, "decoder_input_ids")
        past = len(cache) if cache is not None else 0
        if past + ids.shape[1] > self.config.max_target_positions:
            raise ShapeError(f"Whisper: {past + ids.shape[1]} decoder tokens are more than "
                             f"max_target_positions {self.config.max_target_positions}")
        return self.logits(self.model.decoder(ids, sources, cache))

    def logits(self, hidden):
        return ember.matmul(hidden, self.model.decoder.embed_tokens.weight.T)

    def generate(self, input_features, decoder_input_ids=None, max_new_tokens=20, **sampling):
        """The tokens that continue ``decoder_input_ids`` (default: the start token, for
        each example; a prompt such as <|startoftranscript|><|en|><|transcribe|>
        <|notimestamps|> picks the task) for the audio, as Seq2SeqLM.generate (greedy at
        temperature 0), suppressing the config's suppress_tokens and
        begin_suppress_tokens unless given."""
        sampling.setdefault("suppress_tokens", self.config.suppress_tokens)
        sampling.setdefault("begin_suppress_tokens", self.config.begin_suppress_tokens)
        return super().generate(input_features, max_new_tokens,
                                decoder_input_ids=decoder_input_ids, **sampling)

    def extra_repr(self):
        c = self.config
        return (f"d_model={c.d_model}, encoder_layers={c.encoder_layers}, decoder_layers="
                f"{c.decoder_layers}, vocab_size={c.vocab_size}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "num_mel_bins": 4, "d_model": 8,
                             "encoder_layers": 1, "encoder_attention_heads": 2,
                             "encoder_ffn_dim": 16, "decoder_layers": 1,
                             "decoder_attention_heads": 2, "decoder_ffn_dim": 16,
                             "max_source_positions": 3, "max_target_positions": 6,
                             "pad_token_id": 0, "decoder_start_token_id": 1,
                             "eos_token_id": 2}, shape=(2, 4, 6), bad_shape=(2, 4, 5),
                            call=_example_call)

    # -- transformers' files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers Whisper directory (config.json, model.safetensors); the
        model comes back in eval mode."""
        values, config_path = read_config(directory)
        model = cls(WhisperConfig.from_dict({**values, **overrides}, config_path), dtype=dtype,
                    backend=backend)
        embed = model.model.decoder.embed_tokens.weight
        stored, weights = read_weights(directory, values, embed.backend)
        state = {k: (v.to(embed.dtype) if v.dtype.is_float else v)
                 for k, v in stored.items() if k != "proj_out.weight"}     # tied
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """config.json and model.safetensors as transformers lays them out."""
        write_pretrained(directory, {**self.config.to_dict(), "dtype":
                                     self.model.decoder.embed_tokens.weight.dtype.name},
                         self.state_dict())


def _example_call(model, features):
    """The conformance suite's call: the features and a fixed batch of decoder ids."""
    ids = ember.tensor([[1, 5, 7], [1, 3, 12]], dtype=features.backend.default_int,
                       backend=features.backend)
    return model(features, ids)

