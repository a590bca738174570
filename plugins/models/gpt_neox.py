"""GPT-NeoX as transformers' GPTNeoXForCausalLM lays it out, so its checkpoints load:
EleutherAI's Pythia suite (pythia-14m to -12b, the models interpretability research
studies), GPT-NeoX-20B, and the models trained in its layout (Dolly v2, RedPajama-INCITE,
StableLM-Alpha).

It differs from Llama's shape: LayerNorms with biases; one projection to every head's
query, key and value side by side (``query_key_value``: per head, q then k then v); the
rotation on the first ``rotary_pct`` of each head's features only; attention and MLP of
the same input added to the residual at once (``use_parallel_residual``, as every Pythia)
or in turn; biases on every projection; an output projection of its own (``embed_out``
in the Hub's checkpoints, ``lm_head`` in transformers 5's memory: both load).
"""

import dataclasses

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList

from . import rope
from .bert import _linear
from .causal import CausalLM, causal_attention
from .huggingface import (ACTIVATIONS, check_activation, known_fields, load_pretrained,
                          normal_embedding, save_pretrained)


@dataclasses.dataclass
class GPTNeoXConfig:
    """The fields of transformers' GPTNeoXConfig that change the network, with its defaults
    (GPT-NeoX-20B's). transformers 5 keeps rotary_pct and rotary_emb_base in
    rope_parameters (partial_rotary_factor, rope_theta); both spellings load."""

    vocab_size: int = 50432
    hidden_size: int = 6144
    num_hidden_layers: int = 44
    num_attention_heads: int = 64
    intermediate_size: int = 24576
    hidden_act: str = "gelu"
    rotary_pct: float = 0.25
    rotary_emb_base: float = 10000.0
    #: a scaled rotation, as LlamaConfig's (None: the plain one)
    rope_scaling: dict = None
    attention_dropout: float = 0.0
    hidden_dropout: float = 0.0
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-5
    tie_word_embeddings: bool = False
    use_parallel_residual: bool = True
    attention_bias: bool = True
    #: the special tokens, kept so that save_pretrained writes them back
    bos_token_id: int = 0
    eos_token_id: object = 2
    pad_token_id: int = None

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ShapeError(f"GPTNeoX: num_attention_heads {self.num_attention_heads} does "
                             f"not divide hidden_size {self.hidden_size}")
        rope.check("GPTNeoX", self.rope_scaling, self.head_size, "rotary_pct", self.rotary_pct,
                   longrope=False)
        check_activation("GPTNeoX", "hidden_act", self.hidden_act)

    @property
    def head_size(self):
        return self.hidden_size // self.num_attention_heads

    @property
    def rotary_dim(self):
        """How many of each head's features rotate."""
        return int(self.head_size * self.rotary_pct)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses (transformers 5's rope_parameters or transformers 4's
        rotary_pct, rotary_emb_base and rope_scaling); refuse another model_type."""
        if values.get("model_type", "gpt_neox") != "gpt_neox":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not "
                                     f"gpt_neox")
        parameters = values.get("rope_parameters") or values.get("rope_scaling") or {}
        return cls(**{**known_fields(cls, values), **rope.fields_from(
            parameters, values, source, theta="rotary_emb_base", share="rotary_pct")})

    def to_dict(self):
        """transformers' config.json: rope_parameters (transformers 5), and rotary_pct and
        rotary_emb_base for transformers 4."""
        values = dataclasses.asdict(self)
        parameters = rope.parameters_of(values.pop("rope_scaling"), self.rotary_emb_base,
                                        self.rotary_pct)
        return {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", **values,
                "rope_parameters": parameters}


class GPTNeoXAttention(Module):
    """Causal self-attention: query_key_value gives each head's q, k and v side by side;
    q and k rotate on their first rotary_dim features."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.query_key_value = _linear(c.hidden_size, 3 * c.hidden_size, c, dtype, backend,
                                       c.attention_bias)
        self.dense = _linear(c.hidden_size, c.hidden_size, c, dtype, backend, c.attention_bias)
        self.heads, self.head_size = c.num_attention_heads, c.head_size
        self.layer_idx, self.dropout = layer_idx, c.attention_dropout

    def forward(self, x, rotation, cache=None):
        batch, time, width = x.shape
        d = self.head_size
        qkv = self.query_key_value(x).reshape(batch, time, self.heads, 3 * d).permute(0, 2, 1, 3)
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        q, k = rope.rotate(q, *rotation), rope.rotate(k, *rotation)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = causal_attention(q, k, v, time, dropout_p=self.dropout if self.training else 0.0)
        return self.dense(out.permute(0, 2, 1, 3).reshape(batch, time, width))


class GPTNeoXMLP(Module):
    """dense_4h_to_h(act(dense_h_to_4h(x)))."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.dense_h_to_4h = _linear(c.hidden_size, c.intermediate_size, c, dtype, backend)
        self.dense_4h_to_h = _linear(c.intermediate_size, c.hidden_size, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.dense_4h_to_h(self.act(self.dense_h_to_4h(x)))


class GPTNeoXLayer(Module):
    """Parallel: x + attention(input_layernorm(x)) + mlp(post_attention_layernorm(x));
    else in turn, the MLP reading the attention's sum."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.input_layernorm, self.post_attention_layernorm = (
            LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype, backend=backend)
            for _ in range(2))
        self.attention = GPTNeoXAttention(c, layer_idx, dtype, backend)
        self.mlp = GPTNeoXMLP(c, dtype, backend)
        self.post_attention_dropout = Dropout(c.hidden_dropout)
        self.post_mlp_dropout = Dropout(c.hidden_dropout)
        self.parallel = c.use_parallel_residual

    def forward(self, x, rotation, cache=None):
        attended = self.post_attention_dropout(
            self.attention(self.input_layernorm(x), rotation, cache))
        if self.parallel:
            return x + attended + self.post_mlp_dropout(self.mlp(self.post_attention_layernorm(x)))
        x = x + attended
        return x + self.post_mlp_dropout(self.mlp(self.post_attention_layernorm(x)))


class GPTNeoXModel(Module):
    """Token embedding, the layers and the final LayerNorm: hidden states out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.embed_in = normal_embedding(c.vocab_size, c.hidden_size, c.initializer_range,
                                         dtype, backend)
        self.emb_dropout = Dropout(c.hidden_dropout)
        self.layers = ModuleList([GPTNeoXLayer(c, i, dtype, backend)
                                  for i in range(c.num_hidden_layers)])
        self.final_layer_norm = LayerNorm(c.hidden_size, eps=c.layer_norm_eps, dtype=dtype,
                                          backend=backend)
        object.__setattr__(self, "config", c)
        object.__setattr__(self, "rotary", {})      # the (cos, sin) tables: not state

    def forward(self, ids, cache=None):
        """Hidden states of (batch, time) ids, continuing what ``cache`` holds."""
        c = self.config
        past = len(cache) if cache is not None else 0
        x = self.emb_dropout(self.embed_in(ids))
        rotation = rope.positions(self.rotary, c.rotary_emb_base, c.rope_scaling, c.rotary_dim,
                                  c.max_position_embeddings, x, past, ids.shape[1])
        for layer in self.layers:
            x = layer(x, rotation, cache)
        return self.final_layer_norm(x)


class GPTNeoX(CausalLM):
    """GPT-NeoX with its language-model head (transformers' GPTNeoXForCausalLM):
    ``model(ids)`` gives logits (batch, time, vocab_size); ``generate`` continues them.

    Built from a GPTNeoXConfig or its fields: ``GPTNeoX(num_hidden_layers=2, ...)``.
    """

    positions_field = "max_position_embeddings"
    #: the model_type it loads
    family = "gpt_neox"

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or GPTNeoXConfig(), **fields)
        object.__setattr__(self, "config", config)
        self.gpt_neox = GPTNeoXModel(config, dtype, backend)
        self.embed_out = None if config.tie_word_embeddings else \
            _linear(config.hidden_size, config.vocab_size, config, dtype, backend, bias=False)

    def forward(self, ids, cache=None):
        """Logits for each position; given a KeyValueCache, ids continue what it holds."""
        ids = self.check_ids(ids, cache, "GPTNeoX")
        hidden = self.gpt_neox(ids, cache)
        if self.embed_out is None:
            return ember.matmul(hidden, self.gpt_neox.embed_in.weight.T)
        return self.embed_out(hidden)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, hidden_size={c.hidden_size}, "
                f"num_hidden_layers={c.num_hidden_layers}, num_attention_heads="
                f"{c.num_attention_heads}, rotary_pct={c.rotary_pct}, "
                f"use_parallel_residual={c.use_parallel_residual}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "hidden_size": 16, "intermediate_size": 24,
                             "num_hidden_layers": 2, "num_attention_heads": 2,
                             "rotary_pct": 0.5, "max_position_embeddings": 8,
                             "hidden_dropout": 0.1},
                            shape=(2, 5), integer_high=13, bad_shape=(2, 9),
                            random_in_train=True)

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a transformers GPT-NeoX directory (config.json and model.safetensors or
        its shards): the Hub's keys, or transformers 5's (lm_head); older checkpoints'
        mask and rotation buffers are left out. ``overrides`` replace config fields, as
        in transformers. In eval mode."""
        def key(name, model):
            name = "embed_out." + name[len("lm_head."):] if name.startswith("lm_head.") else name
            if name.endswith((".attention.bias", ".attention.masked_bias", ".inv_freq")) or (
                    model.embed_out is None and name.startswith("embed_out.")):
                return None
            return name
        return load_pretrained(cls, GPTNeoXConfig, directory, dtype, backend, overrides, key)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors with the Hub's keys."""
        save_pretrained(self, directory)
