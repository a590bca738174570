"""LLaMA and the models of its shape as Hugging Face lays them out, so their checkpoints
load: Llama 2 and 3 (TinyLlama, SmolLM...), Mistral, Qwen2 and 3, Gemma 1 to 3, Phi-3,
OLMo 2, SmolLM3, Granite and the mixtures of experts Mixtral, Qwen3-MoE and gpt-oss
(moe.py). FAMILIES, one Family per ``config.model_type``, says how each differs from
Llama: the layers read it, never the name.

Llama: RMSNorm before attention and MLP, rotary position embeddings on queries and keys
(Hugging Face's half rotation; scaled ones in rope.py), grouped-query attention
(``num_key_value_heads``), a SwiGLU MLP, and a language-model head of its own or tied
to the embedding. The module tree and state-dict keys are Hugging Face's
(``model.layers.0.self_attn.q_proj.weight``...).
"""

import dataclasses
import math

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import LayerExample, Module, ModuleList, Parameter, RMSNorm, init
from ember.plugins.nn import functional as F

from .causal import CausalLM, causal_attention
from .huggingface import (ACTIVATIONS, check_activation, known_fields, load_weights,
                          normal_embedding, normal_linear, read_config, read_weights,
                          save_pretrained, text_config, text_weights)
from . import rope
from .moe import GptOssExperts, GptOssMLP, SparseMoE


@dataclasses.dataclass(frozen=True)
class Family:
    """How one model_type of Llama's shape differs from Llama: the table below is the
    only place that names them."""

    #: Hugging Face's class of it
    architecture: str
    #: biased query, key and value projections whatever attention_bias says (Qwen2's)
    qkv_bias: bool = False
    #: queries, keys and values from one qkv_proj, gate and up from one gate_up_proj (Phi-3's)
    fused: bool = False
    #: RMSNorm on the queries and keys before the rotation: on each head's ("head": Qwen3's,
    #: Gemma 3's) or on the whole projection's ("projection": OLMo 2's); None: none
    qk_norms: str = None
    #: embeddings scaled by sqrt(hidden_size), norms whose weight is an offset from 1
    gemma: bool = False
    #: where the blocks normalize: before attention and the MLP ("pre"), after them too
    #: ("sandwich": Gemma 2's and 3's), or only after them ("post": OLMo 2's)
    norms: str = "pre"
    #: attention scores soft-capped by attn_logit_softcapping (Gemma 2's)
    softcap: bool = False
    #: a learned sink logit per head in each row's softmax (gpt-oss's)
    sinks: bool = False
    #: which layers slide a window where layer_types is not given: "all" (Mistral's),
    #: every layer but each n-th (an int n), or none (None; "never": nor by layer_types)
    sliding: object = None
    #: sliding layers rotate by base rope_local_base_freq, unscaled (Gemma 3's)
    local_rotation: bool = False
    #: the layers no_rope_layers marks 0 (by default each no_rope_layer_interval-th) do not
    #: rotate (SmolLM3's)
    nope: bool = False
    #: embeddings, attention scores, each block's output and the logits scaled by the
    #: config's embedding_multiplier, attention_multiplier, residual_multiplier and
    #: 1 / logits_scaling (Granite's)
    multipliers: bool = False
    #: the mixture of experts its MLPs are: "mixtral", "qwen3_moe", "gpt_oss" or None
    experts: str = None
    #: config fields only it has (config.json carries them for it alone)
    fields: tuple = ()
    #: transformers' defaults where they differ from Llama's: for a config.json that
    #: omits them, and for a model its class builds without a config
    defaults: dict = dataclasses.field(default_factory=dict)


_GEMMA2_FIELDS = ("query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping")
_GEMMA_DEFAULTS = dict(hidden_act="gelu_pytorch_tanh", tie_word_embeddings=True)
_EXPERTS = ("num_local_experts", "num_experts_per_tok")
#: model_type -> how it differs from Llama
FAMILIES = {
    "llama": Family("LlamaForCausalLM", sliding="never"),
    "mistral": Family("MistralForCausalLM", sliding="all"),
    "qwen2": Family("Qwen2ForCausalLM", qkv_bias=True),
    "qwen3": Family("Qwen3ForCausalLM", qk_norms="head"),
    "gemma": Family("GemmaForCausalLM", gemma=True, sliding="never", defaults=_GEMMA_DEFAULTS),
    "gemma2": Family("Gemma2ForCausalLM", gemma=True, norms="sandwich", softcap=True, sliding=2,
                     fields=_GEMMA2_FIELDS, defaults=dict(
                         _GEMMA_DEFAULTS, query_pre_attn_scalar=256, sliding_window=4096,
                         attn_logit_softcapping=50.0, final_logit_softcapping=30.0)),
    "gemma3_text": Family("Gemma3ForCausalLM", gemma=True, norms="sandwich", qk_norms="head",
                          sliding=6, local_rotation=True,
                          fields=_GEMMA2_FIELDS + ("rope_local_base_freq",), defaults=dict(
                              _GEMMA_DEFAULTS, query_pre_attn_scalar=256, sliding_window=4096,
                              rope_theta=1e6, rope_local_base_freq=1e4)),
    "phi3": Family("Phi3ForCausalLM", fused=True, sliding="all"),
    "mixtral": Family("MixtralForCausalLM", sliding="all", experts="mixtral", fields=_EXPERTS,
                      defaults=dict(num_local_experts=8)),
    "qwen3_moe": Family("Qwen3MoeForCausalLM", qk_norms="head", experts="qwen3_moe",
                        fields=_EXPERTS + ("moe_intermediate_size", "norm_topk_prob",
                                           "decoder_sparse_step", "mlp_only_layers"),
                        defaults=dict(num_local_experts=128)),
    "gpt_oss": Family("GptOssForCausalLM", sinks=True, sliding=2, experts="gpt_oss",
                      fields=_EXPERTS + ("swiglu_alpha", "swiglu_limit"), defaults=dict(
                          num_local_experts=128, attention_bias=True, sliding_window=128,
                          rms_norm_eps=1e-5, num_experts_per_tok=4, rope_scaling=dict(
                              rope_type="yarn", factor=32.0, beta_fast=32.0, beta_slow=1.0,
                              truncate=False, original_max_position_embeddings=4096))),
    "olmo2": Family("Olmo2ForCausalLM", norms="post", qk_norms="projection",
                    defaults=dict(rms_norm_eps=1e-5)),
    "smollm3": Family("SmolLM3ForCausalLM", nope=True, fields=("no_rope_layers",
                                                               "no_rope_layer_interval"),
                      defaults=dict(tie_word_embeddings=True)),
    "granite": Family("GraniteForCausalLM", multipliers=True, fields=(
        "embedding_multiplier", "attention_multiplier", "residual_multiplier", "logits_scaling")),
}
#: the Qwen models, whose config.json may name sliding layers by index (transformers 4)
QWEN = ("qwen2", "qwen3", "qwen3_moe")


@dataclasses.dataclass
class LlamaConfig:
    """The fields of Hugging Face's LlamaConfig (and MistralConfig, Qwen2Config,
    Qwen3Config, GemmaConfig, Gemma2Config, Gemma3TextConfig, Phi3Config, MixtralConfig,
    Qwen3MoeConfig, GptOssConfig, Olmo2Config, SmolLM3Config, GraniteConfig:
    ``model_type``) that change the network, with Llama's defaults."""

    model_type: str = "llama"
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
    #: a scaled rotation: rope_parameters without rope_theta and partial_rotary_factor, as
    #: {"rope_type": "llama3" | "linear" | "yarn" | "longrope", ...} (None: the plain one)
    rope_scaling: dict = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False
    #: keys a query sees, itself included (Mistral; Qwen's layers of "sliding_attention")
    sliding_window: int = None
    #: Qwen's per-layer "full_attention" or "sliding_attention" (None: Mistral's and
    #: Phi-3's rule, every layer sliding where sliding_window is set; Llama's, none)
    layer_types: list = None
    #: the share of each head's features that rotates (Phi-3's; the rest pass through)
    partial_rotary_factor: float = 1.0
    #: Phi-3's dropout on each block's output, in training
    resid_pdrop: float = 0.0
    #: the special tokens, kept so that save_pretrained writes them back (an int, or a
    #: list of ints for eos: Llama 3's)
    bos_token_id: int = None
    eos_token_id: object = None
    pad_token_id: int = None
    #: the mixtures of experts: how many (transformers 4's Qwen configs call it
    #: num_experts), how many each token goes to, Qwen-MoE's
    #: experts' width, whether the chosen probabilities are renormalized (Mixtral's always
    #: are), and Qwen-MoE's layers that stay dense (not a multiple of decoder_sparse_step,
    #: or in mlp_only_layers)
    num_local_experts: int = None
    num_experts_per_tok: int = 2
    moe_intermediate_size: int = None
    norm_topk_prob: bool = False
    decoder_sparse_step: int = 1
    mlp_only_layers: list = None
    #: Gemma 2's and 3's: scores scaled by query_pre_attn_scalar ** -0.5 (None: head_dim's),
    #: attention scores (Gemma 2's) and logits soft-capped to +-cap by cap tanh(x / cap)
    #: (None: not), and Gemma 3's rotation base on sliding layers (None: rope_theta)
    query_pre_attn_scalar: float = None
    attn_logit_softcapping: float = None
    final_logit_softcapping: float = None
    rope_local_base_freq: float = None
    #: gpt-oss's experts: gate sigmoid(swiglu_alpha gate) (up + 1), both clamped to
    #: swiglu_limit (the gate from above only)
    swiglu_alpha: float = 1.702
    swiglu_limit: float = 7.0
    #: SmolLM3's: 1 for each layer that rotates, 0 for one that does not (None: all but
    #: each no_rope_layer_interval-th)
    no_rope_layers: list = None
    no_rope_layer_interval: int = 4
    #: Granite's scales (see Family.multipliers)
    embedding_multiplier: float = 1.0
    attention_multiplier: float = 1.0
    residual_multiplier: float = 1.0
    logits_scaling: float = 1.0

    def __post_init__(self):
        if self.model_type not in FAMILIES:
            raise ValueError(f"Llama: model_type {self.model_type!r} is not one of "
                             f"{', '.join(FAMILIES)}")
        if self.layer_types is not None and len(self.layer_types) != self.num_hidden_layers:
            raise ShapeError(f"Llama: layer_types names {len(self.layer_types)} layers but "
                             f"num_hidden_layers is {self.num_hidden_layers}")
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
        rope.check("Llama", self.rope_scaling, self.head_dim, "partial_rotary_factor",
                   self.partial_rotary_factor)
        check_activation("Llama", "hidden_act", self.hidden_act)

    @property
    def traits(self):
        """How this model_type differs from Llama (a Family)."""
        return FAMILIES[self.model_type]

    @property
    def rotary_dim(self):
        """How many of each head's features rotate."""
        return int(self.head_dim * self.partial_rotary_factor)

    def window(self, layer):
        """The sliding window of layer ``layer``, or None (it sees every earlier key)."""
        rule = self.traits.sliding
        if rule == "never" or self.sliding_window is None:
            return None
        if self.layer_types is not None:
            slides = self.layer_types[layer] == "sliding_attention"
        else:
            slides = rule == "all" or (isinstance(rule, int) and (layer + 1) % rule != 0)
        return self.sliding_window if slides else None

    def experts(self, layer):
        """How many experts layer ``layer``'s sparse block has, or 0 where it is dense."""
        kind = self.traits.experts
        if kind is None or (kind == "qwen3_moe" and (
                layer in (self.mlp_only_layers or ()) or (layer + 1) % self.decoder_sparse_step)):
            return 0
        return self.num_local_experts or self.traits.defaults["num_local_experts"]

    @classmethod
    def from_dict(cls, values, source="config"):
        """Take the fields ember uses; refuse what would change the network silently."""
        values = dict(values)
        values.setdefault("model_type", "llama")
        if values["model_type"] not in FAMILIES:
            raise SerializationError(f"{source}: model_type {values['model_type']!r} is not "
                                     f"one of {', '.join(FAMILIES)}")
        for old, new in (("hidden_activation", "hidden_act"),
                         ("num_experts", "num_local_experts")):
            if old in values:                # transformers 4's names (Gemma's, Qwen-MoE's)
                values.setdefault(new, values[old])
        traits = FAMILIES[values["model_type"]]
        if isinstance(traits.sliding, int) and "sliding_window_pattern" in values \
                and "layer_types" not in values:       # (Gemma 3's, before layer_types)
            n, count = values["sliding_window_pattern"], values.get("num_hidden_layers", 32)
            values["layer_types"] = ["full_attention" if (i + 1) % n == 0
                                     else "sliding_attention" for i in range(count)]
        if values["model_type"] in QWEN and "layer_types" not in values:
            # transformers 4's Qwen: sliding from layer max_window_layers on, if at all
            count, first = values.get("num_hidden_layers", 32), values.get("max_window_layers", 28)
            values["layer_types"] = [
                "sliding_attention" if values.get("use_sliding_window") and i >= first
                else "full_attention" for i in range(count)]
        # transformers 5 writes rope_parameters; earlier ones rope_theta and rope_scaling
        parameters = values.get("rope_parameters") or values.get("rope_scaling") or {}
        if "full_attention" in parameters:       # Gemma 3's, one rotation per layer type
            parameters, local = parameters["full_attention"] or {}, \
                dict(parameters.get("sliding_attention") or {})
            if rope.scaling_from(local, values, source):
                raise SerializationError(f"{source}: a scaled rotation on sliding layers is not "
                                         f"supported ({local})")
            values = {**values, "rope_local_base_freq": local.get(
                "rope_theta", values.get("rope_local_base_freq"))}
        fields = {**known_fields(cls, values), **rope.fields_from(parameters, values, source)}
        return cls(**{**traits.defaults, **fields})

    def to_dict(self):
        """Hugging Face's config.json for this configuration (the experts' fields only
        where the family has them: MixtralConfig reads num_experts as num_local_experts)."""
        values = dataclasses.asdict(self)
        for name in {f for family in FAMILIES.values() for f in family.fields} - set(
                self.traits.fields):
            del values[name]
        if self.model_type in QWEN:
            values["use_sliding_window"] = "sliding_attention" in (self.layer_types or ())
        scaling = values.pop("rope_scaling") or {"rope_type": "default"}
        if "original_max_position_embeddings" in scaling:   # Phi3Config's own field wins
            values["original_max_position_embeddings"] = scaling["original_max_position_embeddings"]
        parameters = rope.parameters_of(scaling, self.rope_theta, self.partial_rotary_factor)
        if self.traits.local_rotation:
            parameters = {"full_attention": parameters, "sliding_attention": {
                "rope_type": "default", "rope_theta": values.pop("rope_local_base_freq")}}
        return {"architectures": [self.traits.architecture], **values,
                "rope_parameters": parameters}

    def rotation(self, layer):
        """(base, scaling) of layer ``layer``'s rotation: Gemma 3's sliding layers have a
        plain one of base rope_local_base_freq; None for SmolLM3's layers without one."""
        if self.traits.nope and not (self.no_rope_layers[layer] if self.no_rope_layers else
                                     (layer + 1) % self.no_rope_layer_interval):
            return None
        if self.traits.local_rotation and self.window(layer) is not None:
            return self.rope_local_base_freq or self.rope_theta, None
        return self.rope_theta, self.rope_scaling

    def long_rotation(self, length):
        """Whether a sequence of ``length`` positions rotates by longrope's long table."""
        return bool(self.rope_scaling) and self.rope_scaling["rope_type"] == "longrope" and \
            length > rope.original_context(self.rope_scaling, self.max_position_embeddings)


def _linear(n_in, n_out, bias, config, dtype, backend):
    return normal_linear(n_in, n_out, config.initializer_range, bias, dtype, backend)


class LlamaAttention(Module):
    """Causal self-attention with rotary queries and keys; key/value heads shared by
    groups of query heads."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        heads, kv, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        qkv_bias = c.attention_bias or c.traits.qkv_bias
        self.q_proj = self.k_proj = self.v_proj = self.qkv_proj = None
        if c.traits.fused:
            self.qkv_proj = _linear(c.hidden_size, (heads + 2 * kv) * d, qkv_bias, c, dtype,
                                    backend)
        else:
            self.q_proj = _linear(c.hidden_size, heads * d, qkv_bias, c, dtype, backend)
            self.k_proj = _linear(c.hidden_size, kv * d, qkv_bias, c, dtype, backend)
            self.v_proj = _linear(c.hidden_size, kv * d, qkv_bias, c, dtype, backend)
        self.o_proj = _linear(heads * d, c.hidden_size, c.attention_bias, c, dtype, backend)
        self.q_norm = self.k_norm = None
        if c.traits.qk_norms == "head":
            self.q_norm, self.k_norm = _norm(c, d, dtype, backend), _norm(c, d, dtype, backend)
        elif c.traits.qk_norms == "projection":
            self.q_norm = _norm(c, heads * d, dtype, backend)
            self.k_norm = _norm(c, kv * d, dtype, backend)
        self.qk_norms = c.traits.qk_norms
        self.heads, self.kv_heads, self.head_dim = heads, kv, d
        self.layer_idx, self.dropout = layer_idx, c.attention_dropout
        self.window = c.window(layer_idx)
        self.scale = c.query_pre_attn_scalar ** -0.5 if c.query_pre_attn_scalar else \
            c.attention_multiplier if c.traits.multipliers else None
        self.sinks = None           # gpt-oss's: a learned logit per head, attended to by none
        if c.traits.sinks:
            self.sinks = Parameter(init.normal((heads,), 0.0, c.initializer_range, dtype,
                                               backend))
        # (transformers' Gemma 3 takes attn_logit_softcapping but applies none)
        self.softcap = c.attn_logit_softcapping if c.traits.softcap else None

    def _project(self, x):
        if self.qkv_proj is None:
            return self.q_proj(x), self.k_proj(x), self.v_proj(x)
        qkv, q_end = self.qkv_proj(x), self.heads * self.head_dim
        k_end = q_end + self.kv_heads * self.head_dim
        return qkv[..., :q_end], qkv[..., q_end:k_end], qkv[..., k_end:]

    def forward(self, x, rotations, cache=None):
        batch, time, _ = x.shape
        split = lambda t, n: t.reshape(batch, time, n, self.head_dim)   # noqa: E731
        q, k, v = self._project(x)
        if self.qk_norms == "projection":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = split(q, self.heads), split(k, self.kv_heads)
        if self.qk_norms == "head":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = (t.permute(0, 2, 1, 3) for t in (q, k))
        if rotations[self.layer_idx] is not None:
            q, k = (rope.rotate(t, *rotations[self.layer_idx]) for t in (q, k))
        v = split(v, self.kv_heads).permute(0, 2, 1, 3)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = causal_attention(q, k, v, time, window=self.window, softcap=self.softcap,
                               sinks=self.sinks, scale=self.scale,
                               enable_gqa=self.kv_heads != self.heads,
                               dropout_p=self.dropout if self.training else 0.0)
        return self.o_proj(out.permute(0, 2, 1, 3).reshape(batch, time, self.heads * self.head_dim))


class LlamaMLP(Module):
    """down(act(gate(x)) * up(x)): SwiGLU with SiLU (Gemma's with GELU); Phi-3 projects
    gate and up as one. ``size``: its width, if not intermediate_size (Qwen-MoE's experts)."""

    def __init__(self, config, dtype=None, backend=None, size=None):
        super().__init__()
        c, n = config, size or config.intermediate_size
        self.gate_proj = self.up_proj = self.gate_up_proj = None
        if c.traits.fused:
            self.gate_up_proj = _linear(c.hidden_size, 2 * n, c.mlp_bias, c, dtype, backend)
        else:
            self.gate_proj = _linear(c.hidden_size, n, c.mlp_bias, c, dtype, backend)
            self.up_proj = _linear(c.hidden_size, n, c.mlp_bias, c, dtype, backend)
        self.down_proj = _linear(n, c.hidden_size, c.mlp_bias, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        if self.gate_up_proj is None:
            gate, up = self.gate_proj(x), self.up_proj(x)
        else:
            both, n = self.gate_up_proj(x), self.down_proj.in_features
            gate, up = both[..., :n], both[..., n:]
        return self.down_proj(self.act(gate) * up)


class MixtralExpert(Module):
    """One of Mixtral's experts: w2(act(w1(x)) * w3(x)), Hugging Face's names."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.w1 = _linear(c.hidden_size, c.intermediate_size, False, c, dtype, backend)
        self.w2 = _linear(c.intermediate_size, c.hidden_size, False, c, dtype, backend)
        self.w3 = _linear(c.hidden_size, c.intermediate_size, False, c, dtype, backend)
        object.__setattr__(self, "act", ACTIVATIONS[c.hidden_act])

    def forward(self, x):
        return self.w2(self.act(self.w1(x)) * self.w3(x))


def _sparse_moe(c, count, dtype, backend):
    """Mixtral's block_sparse_moe, Qwen-MoE's or gpt-oss's mlp: a router and ``count``
    experts."""
    if c.traits.experts == "gpt_oss":
        return GptOssMLP(_linear(c.hidden_size, count, True, c, dtype, backend),
                         GptOssExperts(count, c.hidden_size, c.intermediate_size, c.swiglu_alpha,
                                       c.swiglu_limit, c.initializer_range, dtype, backend),
                         c.num_experts_per_tok)
    mixtral = c.traits.experts == "mixtral"
    if mixtral:
        experts = [MixtralExpert(c, dtype, backend) for _ in range(count)]
    else:
        experts = [LlamaMLP(c, dtype, backend, c.moe_intermediate_size) for _ in range(count)]
    return SparseMoE(_linear(c.hidden_size, count, False, c, dtype, backend), experts,
                     c.num_experts_per_tok, c.norm_topk_prob or mixtral)


class OffsetRMSNorm(RMSNorm):
    """Gemma's RMSNorm: its weight is an offset from 1 (initialized 0)."""

    def __init__(self, size, eps, dtype=None, backend=None):
        super().__init__(size, eps, dtype=dtype, backend=backend)
        self.weight = Parameter(init.zeros((size,), dtype, backend))

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, eps=self.eps) * (1.0 + self.weight)


def _norm(config, size, dtype, backend):
    cls = OffsetRMSNorm if config.traits.gemma else RMSNorm
    return cls(size, config.rms_norm_eps, dtype=dtype, backend=backend)


class LlamaDecoderLayer(Module):
    """x + attn(norm(x)), then + mlp(norm(x)) (or a sparse mixture of experts: Mixtral's
    block_sparse_moe, Qwen-MoE's mlp); Gemma 2 and 3 normalize each output too (their
    post_attention_layernorm, post_feedforward_layernorm; pre_feedforward_layernorm
    before the MLP)."""

    def __init__(self, config, layer_idx, dtype=None, backend=None):
        super().__init__()
        c = config
        self.self_attn = LlamaAttention(c, layer_idx, dtype, backend)
        count = c.experts(layer_idx)
        self.mlp = self.block_sparse_moe = None
        if count and c.traits.experts == "mixtral":
            self.block_sparse_moe = _sparse_moe(c, count, dtype, backend)
        else:
            self.mlp = _sparse_moe(c, count, dtype, backend) if count else \
                LlamaMLP(c, dtype, backend)
        norm = lambda: _norm(c, c.hidden_size, dtype, backend)     # noqa: E731
        # Hugging Face's names: Llama's post_attention_layernorm is the MLP's input norm
        self.input_layernorm = norm() if c.traits.norms != "post" else None
        self.post_attention_layernorm = norm()
        self.pre_feedforward_layernorm = norm() if c.traits.norms == "sandwich" else None
        self.post_feedforward_layernorm = norm() if c.traits.norms != "pre" else None
        self.resid_pdrop = c.resid_pdrop
        self.residual = c.residual_multiplier if c.traits.multipliers else 1.0

    def forward(self, x, rotations, cache=None):
        feed = self.mlp if self.mlp is not None else self.block_sparse_moe
        if self.post_feedforward_layernorm is None:                 # Llama's
            x = x + self._scaled(self.self_attn(self.input_layernorm(x), rotations, cache))
            return x + self._scaled(feed(self.post_attention_layernorm(x)))
        into = x if self.input_layernorm is None else self.input_layernorm(x)   # (OLMo 2's)
        x = x + self.post_attention_layernorm(self.self_attn(into, rotations, cache))
        into = x if self.pre_feedforward_layernorm is None else self.pre_feedforward_layernorm(x)
        return x + self.post_feedforward_layernorm(feed(into))

    def _scaled(self, t):
        """A block's output as the residual adds it: Phi-3's dropout (in training),
        Granite's residual_multiplier."""
        t = F.dropout(t, self.resid_pdrop, self.training) if self.resid_pdrop else t
        return t * self.residual if self.residual != 1.0 else t


class LlamaModel(Module):
    """Token embedding, the decoder layers and the final norm: hidden states out."""

    def __init__(self, config, dtype=None, backend=None):
        super().__init__()
        c = config
        self.embed_tokens = normal_embedding(c.vocab_size, c.hidden_size, c.initializer_range,
                                             dtype, backend)
        self.layers = ModuleList([LlamaDecoderLayer(c, i, dtype, backend)
                                  for i in range(c.num_hidden_layers)])
        self.norm = _norm(c, c.hidden_size, dtype, backend)
        object.__setattr__(self, "config", c)
        # (rotation, backend, dtype) -> (cos, sin) tables: not state
        object.__setattr__(self, "rotary", {})

    def forward(self, ids, cache=None):
        """Hidden states of (batch, time) ids, continuing what ``cache`` holds."""
        past = len(cache) if cache is not None else 0
        c = self.config
        x = self.embed_tokens(ids)
        if c.traits.gemma:
            x = x * math.sqrt(c.hidden_size)
        elif c.traits.multipliers:
            x = x * c.embedding_multiplier
        long, sliced, rotations = c.long_rotation(past + ids.shape[1]), {}, []
        for i in range(c.num_hidden_layers):    # (cos, sin) of each layer, sliced once a rotation
            rotation = c.rotation(i)
            if rotation is not None:
                base, scaling = rotation
                key = (base, scaling is None)
                if key not in sliced:
                    sliced[key] = self._positions(base, scaling, long, x, past, ids.shape[1])
                rotation = sliced[key]
            rotations.append(rotation)
        for layer in self.layers:
            x = layer(x, rotations, cache)
        return self.norm(x)

    def _positions(self, base, scaling, long, x, past, time):
        c = self.config
        return rope.positions(self.rotary, base, scaling, c.rotary_dim,
                              c.max_position_embeddings, x, past, time, long)


class Llama(CausalLM):
    """LLaMA with its language-model head (Hugging Face's LlamaForCausalLM):
    ``model(ids)`` gives logits of shape (batch, time, vocab_size).

    Built from a LlamaConfig or its fields: ``Llama(num_hidden_layers=2, hidden_size=64, ...)``;
    the config's ``model_type`` makes it any of FAMILIES (their classes below differ only
    in that default).
    """

    positions_field = "max_position_embeddings"
    #: the model_type this class builds by default and loads
    family = "llama"
    #: what the suite's small example of the class sets besides Llama's (example())
    example_fields = {}

    def __init__(self, config=None, dtype=None, backend=None, **fields):
        super().__init__()
        if config is None:
            config = LlamaConfig(**{"model_type": self.family,
                                    **FAMILIES[self.family].defaults, **fields})
        elif fields:
            config = dataclasses.replace(config, **fields)
        object.__setattr__(self, "config", config)
        self.model = LlamaModel(config, dtype, backend)
        self.lm_head = None if config.tie_word_embeddings else \
            _linear(config.hidden_size, config.vocab_size, False, config, dtype, backend)

    def forward(self, ids, cache=None):
        """Logits for each position; given a KeyValueCache, ids continue what it holds."""
        ids = self.check_ids(ids, cache, "Llama")
        hidden = self.model(ids, cache)
        if self.lm_head is None:
            logits = ember.matmul(hidden, self.model.embed_tokens.weight.T)
        else:
            logits = self.lm_head(hidden)
        c = self.config
        if c.traits.multipliers:
            logits = logits / c.logits_scaling
        cap = c.final_logit_softcapping
        return logits if cap is None else ember.tanh(logits / cap) * cap

    def cache_expires(self, cached, length):
        """Past its original context, longrope rotates every position by its long table, so
        keys cached before the switch no longer fit (transformers' Phi-3 recomputes them)."""
        return self.config.long_rotation(length) != self.config.long_rotation(cached)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, hidden_size={c.hidden_size}, "
                f"num_hidden_layers={c.num_hidden_layers}, num_attention_heads="
                f"{c.num_attention_heads}, num_key_value_heads={c.num_key_value_heads}")

    @classmethod
    def example(cls):
        return LayerExample({"vocab_size": 13, "hidden_size": 16, "intermediate_size": 24,
                             "num_hidden_layers": 2, "num_attention_heads": 4,
                             "num_key_value_heads": 2, "max_position_embeddings": 8,
                             **cls.example_fields},
                            shape=(2, 5), integer_high=13, bad_shape=(2, 9))

    @classmethod
    def from_pretrained(cls, directory, dtype=None, backend=None, **overrides):
        """Load a Hugging Face directory of ``cls.family`` (Llama's loads any of the
        family, as the class its model_type names): config.json and model.safetensors.
        ``overrides`` replace config fields, as in transformers. The model comes back in
        eval mode, as Hugging Face's does. A multimodal checkpoint (Gemma 3's, LLaVA's: a
        text_config) loads as its language model."""
        values, config_path = read_config(directory)
        values = text_config(values)
        config = LlamaConfig.from_dict({**values, **overrides}, config_path)
        if cls is Llama:
            cls = FAMILY[config.model_type]
        elif config.model_type != cls.family:
            raise SerializationError(f"{config_path}: model_type {config.model_type!r} is not "
                                     f"{cls.family}; ember.plugins.models.from_pretrained "
                                     f"picks the class a directory needs")
        model = cls(config, dtype=dtype, backend=backend)
        target = model.model.embed_tokens.weight
        stored, weights = read_weights(directory, values, target.backend)
        state = {k: (v.to(target.dtype) if v.dtype.is_float else v)
                 for k, v in text_weights(stored).items()
                 if not (k == "lm_head.weight" and model.lm_head is None)
                 and not k.endswith("rotary_emb.inv_freq")}
        return load_weights(model, state, weights, config_path)

    def save_pretrained(self, directory):
        """Write config.json and model.safetensors as Hugging Face lays them out."""
        save_pretrained(self, directory)


class Mistral(Llama):
    """Mistral (MistralForCausalLM): Llama whose layers attend within a sliding window
    of ``sliding_window`` keys."""

    family = "mistral"
    example_fields = dict(sliding_window=3)     # shorter than the example's 5 tokens


class Qwen2(Llama):
    """Qwen2 and Qwen2.5 (Qwen2ForCausalLM): Llama with biased query, key and value
    projections; Qwen's layers of "sliding_attention" attend within a window."""

    family = "qwen2"
    example_fields = dict(sliding_window=2, layer_types=["full_attention", "sliding_attention"])


class Qwen3(Llama):
    """Qwen3 (Qwen3ForCausalLM): Llama with RMSNorm on each head's queries and keys
    before the rotation, and a head_dim of its own."""

    family = "qwen3"
    example_fields = dict(head_dim=6)


class Gemma(Llama):
    """Gemma (GemmaForCausalLM): Llama with embeddings scaled by sqrt(hidden_size), norms
    whose weight is an offset from 1, and GELU in the MLP."""

    family = "gemma"


class Gemma2(Llama):
    """Gemma 2 (Gemma2ForCausalLM): Gemma whose layers alternate sliding and full
    attention, normalize attention's and the MLP's outputs too, scale scores by
    query_pre_attn_scalar ** -0.5 and soft-cap them and the logits."""

    family = "gemma2"
    example_fields = dict(sliding_window=3, query_pre_attn_scalar=6,
                          attn_logit_softcapping=2.0, final_logit_softcapping=3.0)


class Gemma3(Llama):
    """Gemma 3's text models (Gemma3ForCausalLM; model_type gemma3_text, as Gemma 3 1B):
    Gemma 2 with per-head query and key norms, no cap on the scores, five sliding layers
    to a full one, and a rotation of base rope_local_base_freq on the sliding ones."""

    family = "gemma3_text"
    example_fields = dict(sliding_window=3, query_pre_attn_scalar=6, rope_local_base_freq=50.0,
                          layer_types=["sliding_attention", "full_attention"],
                          rope_scaling={"rope_type": "linear", "factor": 2.0})


class GptOss(Llama):
    """gpt-oss (GptOssForCausalLM): biased attention with a learned sink logit per head,
    sliding and full layers in turn, YaRN's rotation, and in every layer a mixture of
    num_local_experts stacked experts, num_experts_per_tok per token. Its MXFP4
    checkpoints load dequantized."""

    family = "gpt_oss"
    example_fields = dict(num_local_experts=4, num_experts_per_tok=2, sliding_window=3,
                          rope_scaling=dict(rope_type="yarn", factor=4.0, beta_fast=32.0,
                                            beta_slow=1.0, truncate=False,
                                            original_max_position_embeddings=4))


class Olmo2(Llama):
    """OLMo 2 (Olmo2ForCausalLM): Llama whose blocks normalize only their outputs, with
    RMSNorm on the whole query and key projections."""

    family = "olmo2"


class SmolLM3(Llama):
    """SmolLM3 (SmolLM3ForCausalLM): Llama whose every no_rope_layer_interval-th layer
    (or those no_rope_layers marks 0) attends without a rotation."""

    family = "smollm3"
    example_fields = dict(no_rope_layer_interval=2)


class Granite(Llama):
    """Granite 3 (GraniteForCausalLM): Llama with embedding_multiplier,
    attention_multiplier (the scores' scale), residual_multiplier and logits_scaling."""

    family = "granite"
    example_fields = dict(embedding_multiplier=3.0, attention_multiplier=0.3,
                          residual_multiplier=0.5, logits_scaling=2.0)


class Phi3(Llama):
    """Phi-3 and Phi-4-mini (Phi3ForCausalLM): Llama with fused qkv_proj and gate_up_proj,
    a rotation of the first partial_rotary_factor of each head, residual dropout."""

    family = "phi3"
    example_fields = dict(partial_rotary_factor=0.5, resid_pdrop=0.1)


class Mixtral(Llama):
    """Mixtral (MixtralForCausalLM): Mistral whose MLPs are sparse mixtures of
    num_local_experts experts, each token going to num_experts_per_tok of them."""

    family = "mixtral"
    example_fields = dict(num_local_experts=4, num_experts_per_tok=3)   # every expert gets a token


class Qwen3Moe(Llama):
    """Qwen3-MoE (Qwen3MoeForCausalLM): Qwen3 whose MLPs (in every decoder_sparse_step-th
    layer, but mlp_only_layers) are sparse mixtures of num_local_experts experts of width
    moe_intermediate_size."""

    family = "qwen3_moe"
    example_fields = dict(num_local_experts=4, num_experts_per_tok=2, moe_intermediate_size=8,
                          norm_topk_prob=True, mlp_only_layers=[1])


#: model_type -> the class that builds it
FAMILY = {"llama": Llama, "mistral": Mistral, "qwen2": Qwen2, "qwen3": Qwen3, "gemma": Gemma,
          "gemma2": Gemma2, "gemma3_text": Gemma3, "phi3": Phi3, "mixtral": Mixtral,
          "qwen3_moe": Qwen3Moe, "gpt_oss": GptOss, "olmo2": Olmo2, "smollm3": SmolLM3,
          "granite": Granite}
