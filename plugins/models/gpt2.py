"""GPT-2 as Hugging Face's ``GPT2LMHeadModel`` lays it out, so its checkpoints load.

The module tree and state-dict keys are Hugging Face's (``transformer.h.0.attn.c_attn.weight``...).
Its ``Conv1D`` layers are ember Linears here: Hugging Face stores their weights as
(in, out), so ``from_pretrained`` and ``save_pretrained`` transpose them at the file.
The language-model head is tied to the token embedding and has no key of its own.
"""

import dataclasses
import math

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import Dropout, LayerExample, LayerNorm, Module, ModuleList

from .causal import CausalLM, causal_attention
from .huggingface import (ACTIVATIONS, check_activation, known_fields, load_weights,
                          normal_embedding, normal_linear, read_config, read_weights,
                          write_pretrained)


@dataclasses.dataclass
class GPT2Config:
    """The fields of Hugging Face's GPT2Config that change the network, with its defaults."""

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int = None                     # None: 4 * n_embd
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ShapeError(f"GPT2: n_head {self.n_head} does not divide n_embd {self.n_embd}")
        check_activation("GPT2", "activation_function", self.activation_function)

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses; refuse what would change the network silently."""
        if values.get("model_type", "gpt2") != "gpt2":
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not gpt2")
        if values.get("add_cross_attention"):
            raise SerializationError(f"{source}: add_cross_attention is not supported by "
                                     f"ember's GPT2 (a decoder-only model)")
        if not values.get("tie_word_embeddings", True):
            raise SerializationError(f"{source}: tie_word_embeddings=false is not supported; "
                                     f"ember's GPT2 ties lm_head to wte")
        return cls(**known_fields(cls, values))

    def to_dict(self):
        """Hugging Face's config.json for this configuration."""
        return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
                "tie_word_embeddings": True, **dataclasses.asdict(self)}


class GPT2Attention(Module):
    """Causal self-attention: one projection to q, k and v, heads, one output projection."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        proj_std = c.initializer_range / math.sqrt(2 * c.n_layer)
        self.c_attn = normal_linear(c.n_embd, 3 * c.n_embd, c.initializer_range, dtype=dtype, backend=backend)
        self.c_proj = normal_linear(c.n_embd, c.n_embd, proj_std, dtype=dtype, backend=backend)
        self.resid_dropout = Dropout(c.resid_pdrop)
        self.n_head, self.attn_pdrop, self.layer_idx = c.n_head, c.attn_pdrop, layer_idx
        head_dim = c.n_embd // c.n_head
        self.scale = (1 / math.sqrt(head_dim) if c.scale_attn_weights else 1.0) \
            / (layer_idx + 1 if c.scale_attn_by_inverse_layer_idx else 1)

    def forward(self, x, cache=None):
        batch, time, embd = x.shape
        q, k, v = (t.reshape(batch, time, self.n_head, embd // self.n_head).permute(0, 2, 1, 3)
                   for t in ember.split(self.c_attn(x), 3, axis=-1))
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = causal_attention(q, k, v, time, scale=self.scale,
                               dropout_p=self.attn_pdrop if self.training else 0.0)
        out = out.permute(0, 2, 1, 3).reshape(batch, time, embd)
        return self.resid_dropout(self.c_proj(out))


class GPT2MLP(Module):
    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        inner = c.n_inner or 4 * c.n_embd
        self.c_fc = normal_linear(c.n_embd, inner, c.initializer_range, dtype=dtype, backend=backend)
        self.c_proj = normal_linear(inner, c.n_embd, c.initializer_range / math.sqrt(2 * c.n_layer),
                                    dtype=dtype, backend=backend)
        self.dropout = Dropout(c.resid_pdrop)
        object.__setattr__(self, "act", ACTIVATIONS[c.activation_function])

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(Module):
    """Pre-norm residual block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.ln_1 = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon, dtype=dtype, backend=backend)
        self.attn = GPT2Attention(c, layer_idx, dtype, backend)
        self.ln_2 = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon, dtype=dtype, backend=backend)
        self.mlp = GPT2MLP(c, dtype, backend)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(Module):
    """Token and position embeddings, the blocks and the final norm: hidden states out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.wte = normal_embedding(c.vocab_size, c.n_embd, c.initializer_range, dtype, backend)
        self.wpe = normal_embedding(c.n_positions, c.n_embd, c.initializer_range, dtype, backend)
        self.drop = Dropout(c.embd_pdrop)
        self.h = ModuleList([GPT2Block(c, i, dtype, backend) for i in range(c.n_layer)])
        self.ln_f = LayerNorm(c.n_embd, eps=c.layer_norm_epsilon, dtype=dtype, backend=backend)

    def forward(self, ids, cache=None):
        """Hidden states of (batch, time) ids, continuing what ``cache`` holds."""
        past = len(cache) if cache is not None else 0
        positions = ember.arange(past, past + ids.shape[1], dtype=ids.dtype, backend=ids.backend)
        x = self.drop(self.wte(ids) + self.wpe(positions))
        for block in self.h:
            x = block(x, cache)
        return self.ln_f(x)


class GPT2(CausalLM):
    """GPT-2 with its language-model head (Hugging Face's GPT2LMHeadModel):
    ``model(ids)`` gives logits of shape (batch, time, vocab_size).

    Built from a GPT2Config or its fields: ``GPT2(n_layer=2, n_embd=64, ...)``.
    """

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        config = dataclasses.replace(config or GPT2Config(), **fields)
        object.__setattr__(self, "config", config)
        self.transformer = GPT2Model(config, dtype, backend)

    positions_field = "n_positions"

    def forward(self, ids, cache=None):
        """Logits for each position; given a KeyValueCache, ids continue what it holds."""
        ids = self.check_ids(ids, cache, "GPT2")
        hidden = self.transformer(ids, cache)
        return ember.matmul(hidden, self.transformer.wte.weight.T)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, n_positions={c.n_positions}, n_embd={c.n_embd}, "
                f"n_layer={c.n_layer}, n_head={c.n_head}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 11, "n_positions": 8, "n_embd": 8, "n_layer": 2,
                             "n_head": 2}, shape=(2, 5), integer_high=11, bad_shape=(2, 9),
                            random_in_train=True)

    # -- Hugging Face's files -------------------------------------------------------------
    def _conv1d_names(self):
        """The Linears that Hugging Face keeps as Conv1D, weights stored (in, out)."""
        return {f"transformer.h.{i}.{part}.weight" for i in range(self.config.n_layer)
                for part in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a Hugging Face GPT-2 directory: config.json and model.safetensors
        (keys with or without the "transformer." prefix; lm_head tied to wte).
        ``overrides`` replace config fields (``attn_pdrop=0.0``), as in transformers.
        The model comes back in eval mode, as Hugging Face's does."""
        values, config_path = read_config(directory)
        model = cls(GPT2Config.from_dict({**values, **overrides}, config_path), dtype=dtype,
                    backend=backend)
        stored, weights = read_weights(directory, values, model.transformer.wte.weight.backend)
        transposed, target = model._conv1d_names(), model.transformer.wte.weight.dtype
        state = {}
        for key, value in stored.items():
            if key == "lm_head.weight" or key.endswith((".attn.bias", ".attn.masked_bias")):
                continue        # the tied head; old checkpoints' causal-mask buffers
            key = key if key.startswith("transformer.") else "transformer." + key
            if key in transposed and value.ndim == 2:
                value = value.T
            state[key] = value.to(target) if value.dtype.is_float else value
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as Hugging Face lays them out."""
        transposed = self._conv1d_names()
        state = {k: (v.T if k in transposed else v) for k, v in self.state_dict().items()}
        write_pretrained(directory, {**self.config.to_dict(),
                                     "dtype": self.transformer.wte.weight.dtype.name}, state)
