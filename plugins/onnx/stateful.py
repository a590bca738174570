"""ONNX's ops that carry a state from one call to the next: CausalConvWithState (a
depthwise causal convolution, as Mamba's), LinearAttention (a recurrent key-value state,
with the gated and delta rules of Gated DeltaNet) and TensorScatter (a key/value cache's
write), as ONNX's reference computes them, on the model's backend: the convolution is
F.conv1d, the recurrence one step of tensor ops per position in float32, the write a
take_along_axis and a where."""

import math

import ember
from ember.plugins.nn import functional as F

from .ops import op


@op("CausalConvWithState")
def causal_conv_with_state(c, a, x, weight, bias=None, past_state=None):
    """conv1d of the past state (zeros at first) followed by x, one group per channel;
    the last k - 1 positions are the next call's state."""
    x, weight = c.tensor(x), c.tensor(weight)
    activation = a.get("activation", "none")
    if activation not in ("none", "silu", "swish"):
        c.refuse(f"activation {activation!r} is not one of none, silu, swish")
    if x.ndim != 3 or weight.ndim != 3:
        c.refuse(f"input (batch, channels, length) and weight (channels, 1, k) expected, got "
                 f"{x.shape} and {weight.shape}")
    n, channels, _ = x.shape
    k = weight.shape[2]
    past = ember.zeros((n, channels, k - 1), dtype=x.dtype, backend=x.device) \
        if past_state is None else c.tensor(past_state)
    padded = ember.cat([past, x], axis=2)
    out = F.conv1d(padded, weight, None if bias is None else c.tensor(bias), groups=channels)
    if activation != "none":
        out = F.silu(out.to(ember.float32)).to(x.dtype)
    return out, padded[:, :, padded.shape[2] - (k - 1):]


def _heads(x, heads):
    """(batch, time, heads * d) -> (batch, heads, time, d), in float32."""
    b, t, width = x.shape
    return x.reshape(b, t, heads, width // heads).permute(0, 2, 1, 3).to(ember.float32)


@op("LinearAttention")
def linear_attention(c, a, query, key, value, past_state=None, decay=None, beta=None):
    """S = exp(g) S (gated), v = beta (v - S^T k) (delta), S = S + k v^T, out = scale q^T S,
    position by position; key/value heads shared by groups of query heads."""
    rule = a.get("update_rule", "gated_delta")
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        c.refuse(f"update_rule {rule!r} is not one of linear, gated, delta, gated_delta")
    gated, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    for needed, given, name in ((gated, decay, "decay"), (delta, beta, "beta")):
        if needed != (given is not None):
            c.refuse(f"update_rule {rule!r} {'needs' if needed else 'takes no'} a {name} input")
    heads, kv_heads = a.get("q_num_heads"), a.get("kv_num_heads")
    if not heads or not kv_heads or heads % kv_heads:
        c.refuse(f"q_num_heads {heads} must be a positive multiple of kv_num_heads {kv_heads}")
    query, key, value = c.tensor(query), c.tensor(key), c.tensor(value)
    b, t, _ = query.shape
    q, k, v = _heads(query, heads), _heads(key, kv_heads), _heads(value, kv_heads)
    d_k, d_v = q.shape[-1], v.shape[-1]
    if gated:
        decay = c.tensor(decay)
        g = ember.exp(_heads(decay, kv_heads) if decay.shape[-1] != kv_heads else
                      decay.reshape(b, t, kv_heads, 1).permute(0, 2, 1, 3).to(ember.float32))
    if delta:
        beta = c.tensor(beta)
        beta = beta.reshape(b, t, beta.shape[-1], 1).permute(0, 2, 1, 3).to(ember.float32)
    if past_state is None:
        state, state_dtype = ember.zeros((b, kv_heads, d_k, d_v), dtype=ember.float32,
                                         backend=query.device), query.dtype
    else:
        past_state = c.tensor(past_state)
        state, state_dtype = past_state.to(ember.float32), past_state.dtype
    scale = a.get("scale") or 1.0 / math.sqrt(d_k)
    outputs = []
    for i in range(t):
        k_t, v_t = k[:, :, i], v[:, :, i]
        if gated:
            state = state * g[:, :, i].unsqueeze(-1)
        if delta:
            retrieved = (state * k_t.unsqueeze(-1)).sum(axis=2)
            v_t = beta[:, :, i] * (v_t - retrieved)
        state = state + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
        read = state if heads == kv_heads else \
            ember.broadcast_to(state.unsqueeze(2), (b, kv_heads, heads // kv_heads, d_k, d_v)) \
            .reshape(b, heads, d_k, d_v)
        outputs.append((ember.matmul(q[:, :, i].unsqueeze(-2), read) * scale).squeeze(-2))
    out = ember.stack(outputs, axis=2) if outputs else \
        ember.zeros((b, heads, 0, d_v), dtype=ember.float32, backend=query.device)
    out = out.permute(0, 2, 1, 3).reshape(b, t, heads * d_v)
    return out.to(query.dtype), state.to(state_dtype)


@op("TensorScatter")
def tensor_scatter(c, a, cache, update, write_indices=None):
    """A key/value cache with ``update`` written along ``axis`` from each batch row's
    write index (``mode`` circular: wrapping round the cache's length)."""
    cache, update = c.tensor(cache), c.tensor(update)
    mode = a.get("mode", "linear")
    if mode not in ("linear", "circular"):
        c.refuse(f"mode {mode!r} is not linear or circular")
    axis = a.get("axis", -2) % cache.ndim
    length, count = cache.shape[axis], update.shape[axis]
    along = [1] * cache.ndim
    along[axis] = length
    index = ember.tensor(range(length), backend=cache.device).reshape(along)
    if write_indices is not None:
        index = index - c.tensor(write_indices).to(index.dtype).reshape(
            (-1,) + (1,) * (cache.ndim - 1))
    if mode == "circular":
        index = ember.where(index < 0, index + length, index)
    written = (index >= 0) & (index < count)
    shape = list(cache.shape[:axis + 1]) + [1] * (cache.ndim - axis - 1)
    picked = ember.take_along_axis(update, ember.broadcast_to(ember.clip(index, 0, count - 1),
                                                              shape), axis)
    return ember.where(written, picked, cache)
