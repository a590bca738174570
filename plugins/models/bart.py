"""BART, mBART and Marian as transformers lays them out (BartForConditionalGeneration,
MBartForConditionalGeneration, MarianMTModel), so their checkpoints load: facebook/bart-base
and -large, bart-large-cnn and -xsum (summarization), mBART-50 and the models fine-tuned
from them, and the opus-mt translation models (Helsinki-NLP/opus-mt-*).

Tokens (times sqrt(d_model) where ``scale_embedding``) and positions pass to layers of
seq2seq.py: post-norm in BART and Marian, pre-norm in mBART, whose stacks end in one more
LayerNorm. BART's and mBART's positions are learned (offset by two rows, as fairseq left
them) and followed by a LayerNorm; Marian's are fixed sinusoids (sines in the first half
of the features, cosines in the second), not kept in its files. The head is the shared
token embedding (``lm_head`` is tied to it) plus ``final_logits_bias``. ``generate``
decodes from decoder_start_token_id (or a prompt) with the cache, greedily or sampling.
"""

import dataclasses
import math

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList

from .huggingface import (check_activation, known_fields, load_weights, normal_embedding,
                          read_config, read_weights, write_pretrained)
from .seq2seq import DecoderLayer, EncoderLayer, Seq2SeqLM, cross_keys_values, key_mask

#: the two rows transformers' BART and mBART keep before position 0 (fairseq's padding)
OFFSET = 2
#: the model types, and the defaults of transformers' configs that differ from BART's
KINDS = {"bart": {}, "mbart": {},
         "marian": dict(vocab_size=58101, pad_token_id=58100, eos_token_id=0,
                        decoder_start_token_id=58100)}


@dataclasses.dataclass
class BartConfig:
    """The fields of transformers' BartConfig (and MBartConfig and MarianConfig, by
    ``model_type``) that change the network, with BART-large's defaults (Marian's own
    token ids where its file leaves them out)."""

    vocab_size: int = 50265
    max_position_embeddings: int = 1024
    d_model: int = 1024
    encoder_layers: int = 12
    encoder_attention_heads: int = 16
    encoder_ffn_dim: int = 4096
    decoder_layers: int = 12
    decoder_attention_heads: int = 16
    decoder_ffn_dim: int = 4096
    activation_function: str = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    init_std: float = 0.02
    scale_embedding: bool = False
    pad_token_id: int = 1
    bos_token_id: int = 0
    eos_token_id: int = 2
    decoder_start_token_id: int = 2
    model_type: str = "bart"

    def __post_init__(self):
        if self.model_type not in KINDS:
            raise ValueError(f"BART: model_type must be one of {', '.join(KINDS)}, got "
                             f"{self.model_type!r}")
        for side in ("encoder", "decoder"):
            heads = getattr(self, f"{side}_attention_heads")
            if self.d_model % heads:
                raise ShapeError(f"BART: {side}_attention_heads {heads} does not divide "
                                 f"d_model {self.d_model}")
        check_activation("BART", "activation_function", self.activation_function)

    @property
    def pre_norm(self):
        return self.model_type == "mbart"

    @property
    def sinusoidal(self):
        return self.model_type == "marian"

    @classmethod
    def from_dict(cls, values, source="config"):
        kind = values.get("model_type", "bart")
        if kind not in KINDS:
            raise SerializationError(f"{source}: model_type {kind!r} is not one of "
                                     f"{', '.join(KINDS)}")
        if values.get("tie_word_embeddings") is False:
            raise SerializationError(f"{source}: tie_word_embeddings=false is not supported; "
                                     f"ember's BART ties lm_head to the shared embedding")
        if values.get("share_encoder_decoder_embeddings") is False or \
                values.get("decoder_vocab_size") not in (None, values.get("vocab_size")):
            raise SerializationError(f"{source}: separate encoder and decoder vocabularies "
                                     f"(share_encoder_decoder_embeddings=false) are not supported")
        return cls(**{**KINDS[kind], **known_fields(cls, values)})

    def to_dict(self):
        head = {"bart": "BartForConditionalGeneration", "mbart": "MBartForConditionalGeneration",
                "marian": "MarianMTModel"}[self.model_type]
        return {"architectures": [head], "tie_word_embeddings": True, **dataclasses.asdict(self)}


class BartStack(Module):
    """One side: positions, the embedding norm, the layers (and mBART's final norm)."""

    def __init__(self, c, decoder, dtype=None, backend=None):
        super().__init__()
        if c.sinusoidal:        # fixed and not in the files: made per backend and dtype
            object.__setattr__(self, "sinusoids", {})
        else:
            self.embed_positions = normal_embedding(c.max_position_embeddings + OFFSET,
                                                    c.d_model, c.init_std, dtype, backend)
            self.layernorm_embedding = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        count = c.decoder_layers if decoder else c.encoder_layers
        self.layers = ModuleList([
            DecoderLayer(c, i, c.pre_norm, dtype=dtype, backend=backend) if decoder else
            EncoderLayer(c, c.pre_norm, dtype=dtype, backend=backend) for i in range(count)])
        if c.pre_norm:
            self.layer_norm = LayerNorm(c.d_model, dtype=dtype, backend=backend)
        self.drop = Dropout(c.dropout)
        object.__setattr__(self, "embed_scale", math.sqrt(c.d_model) if c.scale_embedding else 1.0)
        object.__setattr__(self, "max_positions", c.max_position_embeddings)

    def embed(self, tokens, past=0):
        """The embedded tokens (from the shared table) with their positions, normed."""
        time = tokens.shape[1]
        if past + time > self.max_positions:
            raise ShapeError(f"BART: {past + time} tokens are more than max_position_embeddings "
                             f"{self.max_positions}; truncate the input")
        if "embed_positions" not in self._modules:
            key = (tokens.backend.name, tokens.dtype)
            if key not in self.sinusoids:
                self.sinusoids[key] = ember.tensor(_sinusoids(self.max_positions,
                                                              tokens.shape[-1]),
                                                   dtype=tokens.dtype, backend=tokens.backend)
            return self.drop(tokens * self.embed_scale + self.sinusoids[key][past:past + time])
        positions = self.embed_positions.weight[past + OFFSET:past + OFFSET + time]
        return self.drop(self.layernorm_embedding(tokens * self.embed_scale + positions))

    def finish(self, x):
        return self.layer_norm(x) if "layer_norm" in self._modules else x


class BartModel(Module):
    """The shared token embedding and the two stacks (transformers' BartModel)."""

    def __init__(self, c, dtype=None, backend=None):
        super().__init__()
        self.shared = normal_embedding(c.vocab_size, c.d_model, c.init_std, dtype, backend,
                                       padding_idx=c.pad_token_id)
        self.encoder = BartStack(c, False, dtype, backend)
        self.decoder = BartStack(c, True, dtype, backend)


class BartForConditionalGeneration(Seq2SeqLM):
    """BART or mBART with its head: ``model(input_ids, decoder_input_ids,
    attention_mask=None)`` gives (batch, target tokens, vocab_size) logits."""

    positions_field = "max_position_embeddings"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or BartConfig(), **fields)
        object.__setattr__(self, "config", config)
        self.model = BartModel(config, dtype, backend)
        self.register_buffer("final_logits_bias", ember.zeros(
            (1, config.vocab_size), dtype=self.model.shared.weight.dtype, backend=backend))

    @property
    def embedding(self):
        return self.model.shared

    def encode(self, input_ids, attention_mask=None):
        """The encoder's states; tokens where attention_mask is 0 are not attended to."""
        ids = self._ids(input_ids, "input_ids")
        mask = self._mask(attention_mask, ids)
        encoder = self.model.encoder
        x = encoder.embed(self.model.shared(ids))
        for layer in encoder.layers:
            x = layer(x, mask)
        return encoder.finish(x)

    def decode(self, ids, sources, attention_mask=None, cache=None):
        """Logits of decoder ids continuing ``cache``, attending to the encoded input."""
        ids = self._ids(ids, "decoder_input_ids")
        decoder = self.model.decoder
        x = decoder.embed(self.model.shared(ids), len(cache) if cache is not None else 0)
        mask = key_mask(attention_mask, ids.backend)
        for layer, source in zip(decoder.layers, sources):
            x = layer(x, source, cache, mask)
        logits = ember.matmul(decoder.finish(x), self.model.shared.weight.T)
        return logits + self.final_logits_bias

    def sources(self, states):
        return cross_keys_values(self.model.decoder.layers, states)

    def extra_repr(self):
        c = self.config
        return (f"model_type={c.model_type!r}, d_model={c.d_model}, encoder_layers="
                f"{c.encoder_layers}, decoder_layers={c.decoder_layers}, vocab_size="
                f"{c.vocab_size}")

    @classmethod
    def model_types(cls):
        return tuple(KINDS)

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "max_position_embeddings": 8, "d_model": 8,
                             "encoder_layers": 1, "encoder_attention_heads": 2,
                             "encoder_ffn_dim": 16, "decoder_layers": 1,
                             "decoder_attention_heads": 2, "decoder_ffn_dim": 16},
                            shape=(2, 5), integer_high=13, call=_example_call,
                            random_in_train=True)

    # -- transformers' files ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers BART or mBART directory (config.json, model.safetensors);
        the model comes back in eval mode. The tied copies (lm_head, the stacks'
        embed_tokens) are dropped; a missing final_logits_bias stays zeros."""
        values, config_path = read_config(directory)
        model = cls(BartConfig.from_dict({**values, **overrides}, config_path), dtype=dtype,
                    backend=backend)
        shared = model.model.shared.weight
        stored, weights = read_weights(directory, values, shared.backend)
        fixed = model.config.sinusoidal       # older Marian files keep the sinusoids too
        state = {k: (v.to(shared.dtype) if v.dtype.is_float else v) for k, v in stored.items()
                 if k != "lm_head.weight" and not k.endswith("embed_tokens.weight")
                 and not (fixed and k.endswith("embed_positions.weight"))}
        state.setdefault("final_logits_bias", model.final_logits_bias)
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """config.json and model.safetensors as transformers lays them out."""
        write_pretrained(directory, {**self.config.to_dict(),
                                     "dtype": self.model.shared.weight.dtype.name},
                         self.state_dict())


def _sinusoids(positions, width):
    """Marian's fixed positions: pos / 10000^(2 (j // 2) / width), sines of the even j in
    the first half of the features, cosines of the odd j in the second."""
    angles = np.arange(positions)[:, None] / np.power(10000.0, 2 * (np.arange(width) // 2)
                                                      / width)[None, :]
    return np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1)


def _example_call(model, ids):
    """The conformance suite's call: the ids as input, and a fixed decoder prompt."""
    target = ember.tensor([[2, 4, 7], [2, 5, 9]], dtype=ids.dtype, backend=ids.backend)
    return model(ids, target)
