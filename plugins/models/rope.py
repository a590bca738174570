"""The rotary embedding of the models in Hugging Face's layout (Llama's family, GPT-NeoX,
Phi): their config fields (``rope_parameters``) read and written, the (cos, sin) tables,
the rotation of a share of each head's features, and the scalings (rope_type) that
stretch a rotation past the context it was trained on: the inverse frequencies and the
factor on cos and sin, as transformers' modeling_rope_utils computes them (here in
float64). Llama 3.1 and 3.2 use "llama3", Qwen2.5's long-context checkpoints "yarn",
Phi-3's 128k ones "longrope", which switches tables past its original context."""

import math

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.plugins.nn import functional as F

#: rope_type -> the fields it needs (the rest have transformers' defaults)
REQUIRED = {"linear": ("factor",),
            "llama3": ("factor", "low_freq_factor", "high_freq_factor"),
            "yarn": ("factor",),
            "longrope": ("short_factor", "long_factor")}
#: fields of rope_parameters that are not the scaling's (LlamaConfig holds them itself)
OWN = ("rope_theta", "partial_rotary_factor")


def scaling_from(rope, values, source):
    """The scaling of a config's rope_parameters (or transformers 4's rope_scaling) as a
    dict with its rope_type, or None for the plain rotation; a top-level
    original_max_position_embeddings (Phi-3's field) wins, as in transformers."""
    scaling = {k: v for k, v in rope.items() if k not in OWN}
    kind = scaling.pop("type", None)
    kind = scaling.setdefault("rope_type", kind or "default")
    if kind == "default":
        return None
    if values.get("model_type") == "phi3" and kind in ("su", "yarn"):
        kind = scaling["rope_type"] = "longrope"        # Phi-3's older names for it
    if kind not in REQUIRED:
        raise SerializationError(f"{source}: rotary scaling {kind!r} is not supported; ember "
                                 f"has {', '.join(['default', *REQUIRED])}")
    missing = [k for k in REQUIRED[kind] if scaling.get(k) is None]
    if missing:
        raise SerializationError(f"{source}: rotary scaling {kind!r} needs {', '.join(missing)} "
                                 f"in rope_parameters")
    if "original_max_position_embeddings" in values:
        scaling["original_max_position_embeddings"] = values["original_max_position_embeddings"]
    return scaling


def check(title, scaling, head, share_name, share, longrope=True):
    """Refuse a rotation that does not fit a head of ``head`` features of which ``share``
    (the config's field ``share_name``) rotate: an odd or empty count, longrope factors
    of another length, longrope itself where the model has none (``longrope=False``)."""
    dim = int(head * share)
    if dim % 2 or not 0 < dim <= head:
        raise ShapeError(f"{title}: the rotated features, head_dim {head} times {share_name} "
                         f"{share}, must be an even number from 2 to head_dim (rotary pairs)")
    if scaling and scaling["rope_type"] == "longrope":
        if not longrope:
            raise ValueError(f"{title}: rotary scaling 'longrope' is Phi-3's (model_type "
                             f"phi3); {title} takes linear, llama3 or yarn")
        for name in ("short_factor", "long_factor"):
            if len(scaling[name]) != dim // 2:
                raise ShapeError(f"{title}: rope {name} has {len(scaling[name])} entries but "
                                 f"the rotation has {dim // 2} frequencies (head_dim times "
                                 f"{share_name}, halved)")


def fields_from(parameters, values, source, theta="rope_theta", share="partial_rotary_factor"):
    """The config fields that rope_parameters (transformers 5's; or transformers 4's
    rope_scaling) give: its base and rotating share under the config's own names
    ``theta`` and ``share`` where the config's top level lacks them, and the scaling."""
    fields = {ours: parameters[theirs] for ours, theirs in ((theta, "rope_theta"),
                                                            (share, "partial_rotary_factor"))
              if theirs in parameters and ours not in values}
    fields["rope_scaling"] = scaling_from(parameters, values, source) if parameters else None
    return fields


def parameters_of(scaling, theta, share):
    """transformers 5's rope_parameters of a rotation."""
    return {**(scaling or {"rope_type": "default"}), "rope_theta": theta,
            "partial_rotary_factor": share}


def original_context(scaling, positions):
    """The context the model was trained on, before the scaling stretched it."""
    return (scaling or {}).get("original_max_position_embeddings") or positions


def frequencies(scaling, base, dim, positions, long=False):
    """(inverse frequencies (dim / 2,), factor on cos and sin) of a rotation of ``dim``
    features with ``base``, under ``scaling`` (None: the plain base^(-2i / dim)), for a
    model of ``positions`` positions; ``long``: longrope's table for sequences past the
    original context."""
    inv = base ** -(np.arange(0, dim, 2, dtype=np.float64) / dim)
    kind = scaling["rope_type"] if scaling else "default"
    if kind == "default":
        return inv, 1.0
    if kind == "linear":
        return inv / scaling["factor"], 1.0
    original = original_context(scaling, positions)
    if kind == "llama3":
        # low frequencies slowed by factor, high ones kept, a smooth blend between
        factor, low, high = (scaling[k] for k in ("factor", "low_freq_factor", "high_freq_factor"))
        wavelength = 2 * math.pi / inv
        scaled = np.where(wavelength > original / low, inv / factor, inv)
        smooth = (original / wavelength - low) / (high - low)
        medium = (wavelength >= original / high) & (wavelength <= original / low)
        return np.where(medium, (1 - smooth) * scaled / factor + smooth * scaled, scaled), 1.0
    factor = scaling.get("factor") or positions / original
    if kind == "yarn":
        return _yarn(scaling, inv, factor, base, dim, original)
    attention = scaling.get("attention_factor")                   # longrope
    if attention is None:
        attention = math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1 else 1.0
    factors = np.asarray(scaling["long_factor" if long else "short_factor"], np.float64)
    return inv / factors, attention


def _yarn(scaling, inv, factor, base, dim, original):
    """YaRN: frequencies that turn fewer than beta_slow times over the original context
    are interpolated (divided by factor), those past beta_fast kept, a ramp between;
    cos and sin scaled by 0.1 ln(factor) + 1 (or the checkpoint's mscale ratio)."""
    def mscale(m=1.0):
        return 0.1 * m * math.log(factor) + 1.0 if factor > 1 else 1.0
    attention = scaling.get("attention_factor")
    if attention is None:
        m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
        attention = mscale(m) / mscale(m_all) if m and m_all else mscale()

    def correction(rotations):          # the feature index that turns ``rotations`` times
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))
    low = correction(scaling.get("beta_fast") or 32)
    high = correction(scaling.get("beta_slow") or 1)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    ramp = np.clip((np.arange(dim // 2) - low) / ((high - low) or 0.001), 0.0, 1.0)
    return inv / factor * ramp + inv * (1 - ramp), attention


def positions(tables, base, scaling, dim, context, x, past, time, long=False):
    """(cos, sin) of positions past .. past + time for a rotation of ``dim`` features
    with ``base`` and ``scaling``, from a table of the model's ``context`` positions made
    once per rotation, backend and dtype the model meets (kept in the dict ``tables``)."""
    key = (base, scaling is None, long, x.device, x.dtype)
    if key not in tables:
        inverse, scale = frequencies(scaling, base, dim, context, long)
        tables[key] = F.rotary_embedding(context, dim, dtype=x.dtype, backend=x.device,
                                         frequencies=inverse, scale=scale)
    return tuple(t[past:past + time] for t in tables[key])


def rotate(x, cos, sin):
    """The rotary embedding on the first cos.shape[-1] features of x (Phi's, GPT-NeoX's
    and Phi-3's rotate a share of each head; the rest pass through)."""
    r = cos.shape[-1]
    if r == x.shape[-1]:
        return F.apply_rotary(x, cos, sin)
    return ember.concatenate([F.apply_rotary(x[..., :r], cos, sin), x[..., r:]], axis=-1)
