"""Phi (Microsoft's phi-1, phi-1.5 and phi-2) as transformers' PhiForCausalLM lays it out,
so its checkpoints load.

Each layer normalizes once (input_layernorm) and adds attention and MLP of that one input
to the residual at once, as GPT-NeoX's parallel layers, with LayerNorms and projections
of biases; q, k and v are separate projections (``num_key_value_heads`` groups them), the
rotation covers the first ``partial_rotary_factor`` of each head's features, and
``qk_layernorm`` normalizes each head's queries and keys first. The output projection has
a bias of its own.
"""

import dataclasses

from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList

from . import rope
from .bert import _linear
from .causal import CausalLM, causal_attention
from .huggingface import (ACTIVATIONS, check_activation, known_fields, load_pretrained,
                          normal_embedding, save_pretrained)


@dataclasses.dataclass
class PhiConfig:
    """The fields of transformers' PhiConfig that change the network, with its defaults
    (phi-2's width; transformers 5 keeps rope_theta and partial_rotary_factor in
    rope_parameters, and both spellings load)."""

    vocab_size: int = 51200
    hidden_size: int = 2048
    intermediate_size: int = 8192
    num_hidden_layers: int = 24
    num_attention_heads: int = 32
    num_key_value_heads: int = None     # None: num_attention_heads
    hidden_act: str = "gelu_new"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    partial_rotary_factor: float = 0.5
    #: a scaled rotation, as LlamaConfig's (None: the plain one)
    rope_scaling: dict = None
    qk_layernorm: bool = False
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    attention_dropout: float = 0.0
    #: the special tokens, kept so that save_pretrained writes them back
    bos_token_id: int = 1
    eos_token_id: object = 2
    pad_token_id: int = None

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.hidden_size % self.num_attention_heads:
            raise ShapeError(f"Phi: num_attention_heads {self.num_attention_heads} does not "
                             f"divide hidden_size {self.hidden_size}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ShapeError(f"Phi: num_key_value_heads {self.num_key_value_heads} does not "
                             f"divide num_attention_heads {self.num_attention_heads}")
        rope.check("Phi", self.rope_scaling, self.head_dim, "partial_rotary_factor",
                   self.partial_rotary_factor, longrope=False)
        check_activation("Phi", "hidden_act", self.hidden_act)

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    @property
    def rotary_dim(self):
        """How many of each head's features rotate."""
        return int(self.head_dim * self.partial_rotary_factor)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses (transformers 5's rope_parameters, or the fields of
        transformers 4); refuse another model_type and a tied head."""
        if values.get("model_type", "phi") != "phi":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not phi")
        if values.get("tie_word_embeddings"):
            raise SerializationError(f"{source}: tie_word_embeddings=true is not supported; "
                                     f"ember's Phi has an lm_head of its own, as phi-1 to phi-2")
        parameters = values.get("rope_parameters") or values.get("rope_scaling") or {}
        return cls(**{**known_fields(cls, values), **rope.fields_from(parameters, values, source)})

    def to_dict(self):
        """transformers' config.json for this configuration."""
        values = dataclasses.asdict(self)
        parameters = rope.parameters_of(values.pop("rope_scaling"), self.rope_theta,
                                        self.partial_rotary_factor)
        return {"architectures": ["PhiForCausalLM"], "model_type": "phi",
                "tie_word_embeddings": False, **values, "rope_parameters": parameters}


class PhiAttention(Module):
    """Causal self-attention with biases, grouped key/value heads, per-head LayerNorms of
    queries and keys (qk_layernorm) and a partial rotation."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        d, heads, kv = c.head_dim, c.num_attention_heads, c.num_key_value_heads
        self.q_proj = _linear(c.hidden_size, heads * d, c, dtype, backend)
        self.k_proj = _linear(c.hidden_size, kv * d, c, dtype, backend)
        self.v_proj = _linear(c.hidden_size, kv * d, c, dtype, backend)
        self.dense = _linear(heads * d, c.hidden_size, c, dtype, backend)
        self.q_layernorm = self.k_layernorm = None
        if c.qk_layernorm:
            self.q_layernorm, self.k_layernorm = (
                LayerNorm(d, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
                for _ in range(2))
        self.heads, self.kv_heads, self.head_dim = heads, kv, d
        self.layer_idx, self.dropout = layer_idx, c.attention_dropout

    def forward(self, x, rotation, cache=None):
        batch, time, _ = x.shape
        q, k, v = (proj(x).reshape(batch, time, n, self.head_dim).permute(0, 2, 1, 3)
                   for proj, n in ((self.q_proj, self.heads), (self.k_proj, self.kv_heads),
                                   (self.v_proj, self.kv_heads)))
        if self.q_layernorm is not None:
            q, k = self.q_layernorm(q), self.k_layernorm(k)
        q, k = rope.rotate(q, *rotation), rope.rotate(k, *rotation)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = causal_attention(q, k, v, time, enable_gqa=self.kv_heads != self.heads,
                               dropout_p=self.dropout if self.training else 0.0)
        return self.dense(out.permute(0, 2, 1, 3).reshape(batch, time, self.heads * self.head_dim))


class PhiMLP(Module):
    """fc2(act(fc1(x)))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.fc1 = _linear(c.hidden_size, c.intermediate_size, c, dtype, backend)
        self.fc2 = _linear(c.intermediate_size, c.hidden_size, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class PhiDecoderLayer(Module):
    """x + dropout(attention(h)) + dropout(mlp(h)), h = input_layernorm(x)."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.self_attn = PhiAttention(c, layer_idx, dtype, backend)
        self.mlp = PhiMLP(c, dtype, backend)
        self.input_layernorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                         backend=backend)
        self.resid_dropout = Dropout(c.resid_pdrop)

    def forward(self, x, rotation, cache=None):
        h = self.input_layernorm(x)
        return x + self.resid_dropout(self.self_attn(h, rotation, cache)) + \
            self.resid_dropout(self.mlp(h))


class PhiModel(Module):
    """Token embedding, the layers and the final LayerNorm: hidden states out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.embed_tokens = normal_embedding(c.vocab_size, c.hidden_size, c.initializer_range,
                                             dtype, backend)
        self.embed_dropout = Dropout(c.embd_pdrop)
        self.layers = ModuleList([PhiDecoderLayer(c, i, dtype, backend)
                                  for i in range(c.num_hidden_layers)])
        self.final_layernorm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                         backend=backend)
        object.__setattr__(self, "config", c)
        object.__setattr__(self, "rotary", {})      # the (cos, sin) tables: not state

    def forward(self, ids, cache=None):
        """Hidden states of (batch, time) ids, continuing what ``cache`` holds."""
        c = self.config
        past = len(cache) if cache is not None else 0
        x = self.embed_dropout(self.embed_tokens(ids))
        rotation = rope.positions(self.rotary, c.rope_theta, c.rope_scaling, c.rotary_dim,
                                  c.max_position_embeddings, x, past, ids.shape[1])
        for layer in self.layers:
            x = layer(x, rotation, cache)
        return self.final_layernorm(x)


class Phi(CausalLM):
    """Phi with its language-model head (transformers' PhiForCausalLM): ``model(ids)``
    gives logits (batch, time, vocab_size); ``generate`` continues them.

    Built from a PhiConfig or its fields: ``Phi(num_hidden_layers=2, hidden_size=64, ...)``.
    """

    positions_field = "max_position_embeddings"
    #: the model_type it loads
    family = "phi"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        # (fields on a fresh config: num_key_value_heads follows their head count)
        config = PhiConfig(**fields) if config is None else dataclasses.replace(config, **fields)
        object.__setattr__(self, "config", config)
        self.model = PhiModel(config, dtype, backend)
        self.lm_head = _linear(config.hidden_size, config.vocab_size, config, dtype, backend)

    def forward(self, ids, cache=None):
        """Logits for each position; given a KeyValueCache, ids continue what it holds."""
        return self.lm_head(self.model(self.check_ids(ids, cache, "Phi"), cache))

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, hidden_size={c.hidden_size}, "
                f"num_hidden_layers={c.num_hidden_layers}, num_attention_heads="
                f"{c.num_attention_heads}, num_key_value_heads={c.num_key_value_heads}, "
                f"partial_rotary_factor={c.partial_rotary_factor}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "hidden_size": 16, "intermediate_size": 24,
                             "num_hidden_layers": 2, "num_attention_heads": 4,
                             "num_key_value_heads": 2, "max_position_embeddings": 8,
                             "qk_layernorm": True, "resid_pdrop": 0.1},
                            shape=(2, 5), integer_high=13, bad_shape=(2, 9),
                            random_in_train=True)

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers Phi directory (config.json and model.safetensors or its
        shards). ``overrides`` replace config fields, as in transformers. In eval mode."""
        return load_pretrained(cls, PhiConfig, directory, dtype, backend, overrides,
                               lambda k, _: None if k.endswith(".inv_freq") else k)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as transformers lays them out."""
        save_pretrained(self, directory)
