"""Sparse mixtures of experts: each token goes to the ``top_k`` experts its router
scores highest, and their outputs are summed weighted by the router.

Mixtral's and Qwen-MoE's router (SparseMoE) is a softmax over ``gate(x)`` in float32 (as
Hugging Face computes it), the chosen probabilities renormalized to sum to 1 where
``normalize`` (Mixtral always, Qwen-MoE by its norm_topk_prob); gpt-oss's (GptOssMLP) a
softmax over the top_k logits of a biased router, its experts stacked weights.

Run eagerly, each expert computes only its own tokens (gathered, then summed back in:
the choice is read on the host once a layer). Under ember.compile, whose graph cannot
depend on the choice, every expert runs on every token and the ones not chosen get
weight 0: the same sums, at E / top_k times the experts' arithmetic. Both are
differentiable through the router."""

import numpy as np

import ember
from ember.plugins.nn import Module, ModuleList, Parameter, init


def routed(flat, indices, weights, count, expert):
    """Per token (row of ``flat``), the sum over its chosen experts ``indices`` (tokens,
    top_k) of ``weights`` times ``expert(e, rows)``."""
    chosen = indices[..., None] == ember.arange(count, dtype=indices.dtype, backend=flat.device)
    dense = (weights[..., None] * chosen.to(weights.dtype)).sum(axis=1).to(flat.dtype)
    if ember.is_compiling():
        out = None
        for e in range(count):
            part = dense[:, e:e + 1] * expert(e, flat)
            out = part if out is None else out + part
        return out
    picked = indices.numpy()
    out = ember.zeros(*flat.shape, dtype=flat.dtype, backend=flat.device)
    for e in range(count):
        rows = np.flatnonzero((picked == e).any(axis=1))
        if rows.size:
            at = ember.tensor(rows, dtype=indices.dtype, backend=flat.device)
            out = out.index_add(0, at, dense[:, e][at][:, None] * expert(e, flat[at]))
    return out


class SparseMoE(Module):
    """``sum over the top_k experts e of weight_e(x) * experts[e](x)``, per token."""

    def __init__(self, gate, experts, top_k, normalize):
        super().__init__()
        self.gate = gate
        self.experts = ModuleList(experts)
        self.top_k, self.normalize = top_k, normalize

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        probs = ember.softmax(self.gate(flat).to(ember.float32), -1)
        top = ember.topk(probs, self.top_k, axis=-1)
        weight = top.values / top.values.sum(axis=-1, keepdims=True) if self.normalize \
            else top.values
        out = routed(flat, top.indices, weight, len(self.experts),
                     lambda e, rows: self.experts[e](rows))
        return out.reshape(x.shape)

    def extra_repr(self):
        return f"experts={len(self.experts)}, top_k={self.top_k}, normalize={self.normalize}"


class GptOssExperts(Module):
    """gpt-oss's ``count`` experts as stacked weights (Hugging Face's keys): gate and up
    interleaved in gate_up_proj (hidden, 2 size) per expert, gate clamped above and up
    on both sides to ``limit``, then gate sigmoid(alpha gate) (up + 1) through down_proj."""

    def __init__(self, count, hidden, size, alpha, limit, std, dtype=None, backend=None):
        super().__init__()
        self.gate_up_proj = Parameter(init.normal((count, hidden, 2 * size), 0.0, std, dtype,
                                                  backend))
        self.gate_up_proj_bias = Parameter(init.zeros((count, 2 * size), dtype, backend))
        self.down_proj = Parameter(init.normal((count, size, hidden), 0.0, std, dtype, backend))
        self.down_proj_bias = Parameter(init.zeros((count, hidden), dtype, backend))
        self.alpha, self.limit = alpha, limit

    def expert(self, e, x):
        """Expert ``e`` on the rows of x."""
        both = ember.matmul(x, self.gate_up_proj[e]) + self.gate_up_proj_bias[e]
        gate = ember.clip(both[..., ::2], max=self.limit)
        up = ember.clip(both[..., 1::2], -self.limit, self.limit)
        glu = gate * ember.sigmoid(gate * self.alpha)
        return ember.matmul((up + 1.0) * glu, self.down_proj[e]) + self.down_proj_bias[e]

    def extra_repr(self):
        count, hidden, both = self.gate_up_proj.shape
        return f"experts={count}, hidden={hidden}, size={both // 2}, limit={self.limit}"


class GptOssMLP(Module):
    """gpt-oss's MLP: a biased router whose top_k logits, softmaxed, weight the experts."""

    def __init__(self, router, experts, top_k):
        super().__init__()
        self.router, self.experts, self.top_k = router, experts, top_k

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        top = ember.topk(self.router(flat), self.top_k, axis=-1)
        out = routed(flat, top.indices, ember.softmax(top.values, -1),
                     self.experts.gate_up_proj.shape[0], self.experts.expert)
        return out.reshape(x.shape)
