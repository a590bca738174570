"""A sparse mixture of experts (Mixtral's and Qwen-MoE's): each token goes to the
``top_k`` experts whose router probabilities are highest.

The router is a softmax over ``gate(x)`` in float32 (as Hugging Face computes it); the
chosen probabilities, renormalized to sum to 1 where ``normalize`` (Mixtral always,
Qwen-MoE by its norm_topk_prob), weight the experts' outputs. Run eagerly, each expert
computes only its own tokens (gathered, then summed back in: the choice is read on the
host once a layer). Under ember.compile, whose graph cannot depend on the choice, every
expert runs on every token and the ones not chosen get weight 0: the same sums, at
E / top_k times the experts' arithmetic. Both are differentiable through the router."""

import numpy as np

import ember
from ember.ops.movement import scatter_add
from ember.plugins.nn import Module, ModuleList


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
        count = len(self.experts)
        chosen = top.indices[..., None] == ember.arange(count, dtype=top.indices.dtype,
                                                        backend=x.device)
        dense = (weight[..., None] * chosen.to(ember.float32)).sum(axis=1).to(x.dtype)
        if ember.is_compiling():
            out = None
            for e, expert in enumerate(self.experts):
                part = dense[:, e:e + 1] * expert(flat)
                out = part if out is None else out + part
            return out.reshape(x.shape)
        picked = top.indices.numpy()
        out = ember.zeros(*flat.shape, dtype=x.dtype, backend=x.device)
        for e, expert in enumerate(self.experts):
            rows = np.flatnonzero((picked == e).any(axis=1))
            if rows.size:
                at = ember.tensor(rows, dtype=top.indices.dtype, backend=x.device)
                part = dense[:, e][at][:, None] * expert(flat[at])
                out = out + scatter_add(flat.shape, 0, at, part)
        return out.reshape(x.shape)

    def extra_repr(self):
        return f"experts={len(self.experts)}, top_k={self.top_k}, normalize={self.normalize}"
