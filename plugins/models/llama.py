"""LLaMA as Hugging Face's ``LlamaForCausalLM`` lays it out, so its checkpoints load
(Llama 2 and 3, and the many models of the same shape: TinyLlama, SmolLM, ...).

RMSNorm before attention and MLP, rotary position embeddings on queries and keys
(Hugging Face's half rotation), grouped-query attention (``num_key_value_heads``),
a SwiGLU MLP, and a language-model head of its own or tied to the embedding. The module
tree and state-dict keys are Hugging Face's (``model.layers.0.self_attn.q_proj.weight``...).
"""

import dataclasses
import os

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import LayerExample, Module, ModuleList, RMSNorm
from ember.plugins.nn import functional as F

from .causal import (WEIGHTS_FILE, CausalLM, causal_attention, known_fields, load_weights,
                     normal_embedding, normal_linear, read_config, write_pretrained)
from .gpt2 import ACTIVATIONS


@dataclasses.dataclass
class LlamaConfig:
    """The fields of Hugging Face's LlamaConfig that change the network, with its defaults."""

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = None         # None: num_attention_heads (no grouping)
    head_dim: int = None                    # None: hidden_size / num_attention_heads
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    rope_theta: float = 10000.0
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ShapeError(f"Llama: num_attention_heads {self.num_attention_heads} does "
                                 f"not divide hidden_size {self.hidden_size}")
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ShapeError(f"Llama: num_key_value_heads {self.num_key_value_heads} does not "
                             f"divide num_attention_heads {self.num_attention_heads}")
        if self.head_dim % 2:
            raise ShapeError(f"Llama: head_dim {self.head_dim} must be even (rotary pairs)")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"Llama: hidden_act {self.hidden_act!r} is not one of "
                             f"{', '.join(ACTIVATIONS)}")

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses; refuse what would change the network silently."""
        if values.get("model_type", "llama") != "llama":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not llama")
        # transformers 5 writes rope_parameters; earlier ones rope_theta and rope_scaling
        rope = values.get("rope_parameters") or values.get("rope_scaling") or {}
        if rope.get("rope_type", rope.get("type")) not in (None, "default"):
            raise SerializationError(f"{source}: rotary scaling {rope!r} is not supported; "
                                     f"ember's Llama has the default rotary embedding")
        fields = known_fields(cls, values)
        if "rope_theta" in rope:
            fields["rope_theta"] = rope["rope_theta"]
        return cls(**fields)

    def to_dict(self):
        """Hugging Face's config.json for this configuration."""
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                **dataclasses.asdict(self),
                "rope_parameters": {"rope_type": "default", "rope_theta": self.rope_theta}}


def _linear(n_in, n_out, bias, config, dtype, backend):
    return normal_linear(n_in, n_out, config.initializer_range, bias, dtype, backend)


class LlamaAttention(Module):
    """Causal self-attention with rotary queries and keys; key/value heads shared by
    groups of query heads."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        heads, kv, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = _linear(c.hidden_size, heads * d, c.attention_bias, c, dtype, backend)
        self.k_proj = _linear(c.hidden_size, kv * d, c.attention_bias, c, dtype, backend)
        self.v_proj = _linear(c.hidden_size, kv * d, c.attention_bias, c, dtype, backend)
        self.o_proj = _linear(heads * d, c.hidden_size, c.attention_bias, c, dtype, backend)
        self.heads, self.kv_heads, self.head_dim = heads, kv, d
        self.layer_idx, self.dropout = layer_idx, c.attention_dropout

    def forward(self, x, cos, sin, cache=None):
        batch, time, _ = x.shape
        split = lambda t, n: t.reshape(batch, time, n, self.head_dim).permute(0, 2, 1, 3)  # noqa: E731
        q = F.apply_rotary(split(self.q_proj(x), self.heads), cos, sin)
        k = F.apply_rotary(split(self.k_proj(x), self.kv_heads), cos, sin)
        v = split(self.v_proj(x), self.kv_heads)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = causal_attention(q, k, v, time, enable_gqa=self.kv_heads != self.heads,
                               dropout_p=self.dropout if self.training else 0.0)
        return self.o_proj(out.permute(0, 2, 1, 3).reshape(batch, time, self.heads * self.head_dim))


class LlamaMLP(Module):
    """down(act(gate(x)) * up(x)): SwiGLU with SiLU."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.gate_proj = _linear(c.hidden_size, c.intermediate_size, c.mlp_bias, c, dtype, backend)
        self.up_proj = _linear(c.hidden_size, c.intermediate_size, c.mlp_bias, c, dtype, backend)
        self.down_proj = _linear(c.intermediate_size, c.hidden_size, c.mlp_bias, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(Module):
    """x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.self_attn = LlamaAttention(c, layer_idx, dtype, backend)
        self.mlp = LlamaMLP(c, dtype, backend)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps, dtype=dtype, backend=backend)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps, dtype=dtype,
                                                backend=backend)

    def forward(self, x, cos, sin, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(Module):
    """Token embedding, the decoder layers and the final norm: hidden states out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.embed_tokens = normal_embedding(c.vocab_size, c.hidden_size, c.initializer_range,
                                             dtype, backend)
        self.layers = ModuleList([LlamaDecoderLayer(c, i, dtype, backend)
                                  for i in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps, dtype=dtype, backend=backend)
        object.__setattr__(self, "config", c)
        object.__setattr__(self, "rotary", {})   # (backend, dtype) -> (cos, sin): not state

    def forward(self, ids, cache=None):
        """Hidden states of (batch, time) ids, continuing what ``cache`` holds."""
        past = len(cache) if cache is not None else 0
        x = self.embed_tokens(ids)
        key = (x.device, x.dtype)
        if key not in self.rotary:          # made once per backend and dtype the model meets
            c = self.config
            self.rotary[key] = F.rotary_embedding(c.max_position_embeddings, c.head_dim,
                                                  c.rope_theta, dtype=x.dtype, backend=x.device)
        cos, sin = (t[past:past + ids.shape[1]] for t in self.rotary[key])
        for layer in self.layers:
            x = layer(x, cos, sin, cache)
        return self.norm(x)


class Llama(CausalLM):
    """LLaMA with its language-model head (Hugging Face's LlamaForCausalLM):
    ``model(ids)`` gives logits of shape (batch, time, vocab_size).

    Built from a LlamaConfig or its fields: ``Llama(num_hidden_layers=2, hidden_size=64, ...)``.
    """

    positions_field = "max_position_embeddings"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or LlamaConfig(), **fields)
        object.__setattr__(self, "config", config)
        self.model = LlamaModel(config, dtype, backend)
        self.lm_head = None if config.tie_word_embeddings else \
            _linear(config.hidden_size, config.vocab_size, False, config, dtype, backend)

    def forward(self, ids, cache=None):
        """Logits for each position; given a KeyValueCache, ids continue what it holds."""
        ids = self.check_ids(ids, cache, "Llama")
        hidden = self.model(ids, cache)
        if self.lm_head is None:
            return ember.matmul(hidden, self.model.embed_tokens.weight.T)
        return self.lm_head(hidden)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, hidden_size={c.hidden_size}, "
                f"num_hidden_layers={c.num_hidden_layers}, num_attention_heads="
                f"{c.num_attention_heads}, num_key_value_heads={c.num_key_value_heads}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "hidden_size": 16, "intermediate_size": 24,
                             "num_hidden_layers": 2, "num_attention_heads": 4,
                             "num_key_value_heads": 2, "max_position_embeddings": 8},
                            shape=(2, 5), integer_high=13, bad_shape=(2, 9))

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a Hugging Face Llama directory: config.json and model.safetensors.
        ``overrides`` replace config fields, as in transformers. The model comes back in
        eval mode, as Hugging Face's does."""
        values, config_path = read_config(directory)
        model = cls(LlamaConfig.from_dict({**values, **overrides}, config_path), dtype=dtype,
                    backend=backend)
        weights = os.path.join(directory, WEIGHTS_FILE)
        target = model.model.embed_tokens.weight
        stored = ember.load(weights, backend=target.backend)
        state = {k: (v.to(target.dtype) if v.dtype.is_float else v) for k, v in stored.items()
                 if not (k == "lm_head.weight" and model.lm_head is None)
                 and not k.endswith("rotary_emb.inv_freq")}
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as Hugging Face lays them out."""
        write_pretrained(directory, {**self.config.to_dict(),
                                     "dtype": self.model.embed_tokens.weight.dtype.name},
                         self.state_dict())
