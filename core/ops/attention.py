"""Scaled dot-product attention as one differentiable op, with PyTorch's semantics.

softmax(q k^T * scale + mask) v over the last two axes of any batch. The forward
is the backend's fast path where it has one (``fast_attention``), else three
primitives deep: a batched GEMM, a softmax that keeps fully masked rows at zero,
and a second GEMM. The backward reuses the forward's probabilities; when a
gradient's own graph is wanted (create_graph) it recomputes them in tensor ops,
so attention differentiates to any order.
"""

import math

from .. import amp
from .. import dtypes as dt
from ..autograd import Op, is_grad_enabled, run
from ..errors import DTypeError, ShapeError
from ..shapes import broadcast_shapes
from ..tensor import wrap
from ._util import as_tensor, fast_path, same_backend, unbroadcast
from .activation import softmax
from .elementwise import cast, eq, where
from .linalg import matmul
from .movement import repeat_interleave, transpose


class Attention(Op):
    """Inputs (q, k, v[, mask][, keep]): ``mask`` bool (True attends) or float (added);
    ``keep`` the dropout mask, already scaled by 1 / (1 - p)."""

    __slots__ = ("scale", "mask", "dropout", "causal", "scores", "dtype", "k_axes", "saved")

    def __init__(self, scale, mask, dropout, causal, scores, dtype, k_ndim):
        self.scale, self.mask, self.dropout = scale, mask, dropout   # mask: None/bool/float
        self.causal, self.scores, self.dtype = causal, scores, dtype  # (..., L, S), compute dtype
        self.k_axes = tuple(range(k_ndim - 2)) + (k_ndim - 1, k_ndim - 2)

    def _extras(self, rest):
        return (rest[0] if self.mask else None), (rest[-1] if self.dropout else None)

    def forward(self, q, k, v, *rest):
        b = self.backend
        mask, keep = self._extras(rest)
        if b.fast_attention is not None:
            state, out = b.fast_attention(q, k, v, mask, keep, self.scale, self.causal)
            self.saved = ("state", state, out)
            return out
        dtype, last = self.dtype, len(self.scores) - 1
        s = b.mul(b.matmul(q, b.permute(k, self.k_axes)), b.full((), self.scale, dtype))
        ninf, zero = b.full((), -math.inf, dtype), b.full((), 0, dtype)
        if self.mask == "bool":
            s = b.where(mask, s, ninf)
        elif self.mask == "float":
            s = b.add(s, mask)
        top = b.max(s, (last,), True)
        top = b.where(b.eq(top, ninf), zero, top)   # a fully masked row: exp(-inf) = 0
        e = b.exp(b.sub(s, top))
        total = b.sum(e, (last,), True)
        p = b.div(e, b.where(b.eq(total, zero), b.full((), 1, dtype), total))
        self.saved = ("probabilities", p)
        return b.matmul(p if keep is None else b.mul(p, keep), v)

    def backward(self, g, q, k, v, *rest):
        mask, keep = self._extras(rest)
        mask_grad = self.mask == "float" and mask.requires_grad
        tail = (None,) * len(rest)
        if self.saved[0] == "state" and not is_grad_enabled() and not mask_grad:
            out = wrap(self.saved[2], g._backend, g.shape, g.dtype)
            shapes = (self.scores[:-1] + q.shape[-1:], self.scores[:-2] + k.shape[-2:],
                      self.scores[:-2] + v.shape[-2:])
            grads = fast_path("fast_attention_grad", g, g, q, k, v, mask, keep, self.scale,
                              self.causal, self.saved[1], out, shapes=shapes)
            return tuple(unbroadcast(d, t.shape) if t.requires_grad else None
                         for d, t in zip(grads, (q, k, v))) + tail
        if is_grad_enabled() or self.saved[0] != "probabilities":
            p = probabilities(q, k, mask, self.scale)   # differentiates again (create_graph)
        else:
            p = wrap(self.saved[1], g._backend, self.scores, g.dtype)
        dropped = p if keep is None else p * keep
        gv = unbroadcast(matmul(transpose(dropped), g), v.shape) if v.requires_grad else None
        dp = matmul(g, transpose(v))
        if keep is not None:
            dp = dp * keep
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))   # 0 on fully masked rows
        gq = unbroadcast(matmul(ds, k) * self.scale, q.shape) if q.requires_grad else None
        gk = unbroadcast(matmul(transpose(ds), q) * self.scale, k.shape) \
            if k.requires_grad else None
        if mask_grad:
            tail = (unbroadcast(ds, mask.shape),) + tail[1:]
        return (gq, gk, gv) + tail


def probabilities(q, k, mask, scale):
    """softmax(q k^T scale + mask) in tensor ops, fully masked rows all zero (PyTorch's
    safe softmax): the reference the fused paths are held to."""
    s = matmul(q, transpose(k)) * scale
    if mask is not None:
        s = where(mask, s, -math.inf) if mask.dtype is dt.bool_ else s + mask
    dead = eq(s.max(axis=-1, keepdims=True), -math.inf)
    return where(dead, 0.0, softmax(where(dead, 0.0, s), -1))


_CAUSAL = {}


def _causal_mask(backend, length, source):
    """The (L, S) lower-triangular bool mask of is_causal (top-left aligned, as PyTorch),
    uploaded once per size."""
    key = (backend.device, length, source)
    if key not in _CAUSAL:
        if len(_CAUSAL) > 32:
            _CAUSAL.clear()
        import numpy as np
        from ..creation import tensor
        _CAUSAL[key] = tensor(np.tri(length, source, dtype=bool), backend=backend)
    return _CAUSAL[key]


def _repeat_heads(x, heads, name, query_heads):
    """Grouped-query attention: each of ``x``'s heads serves query_heads / heads query
    heads in a row (PyTorch's repeat_interleave along axis -3)."""
    if query_heads % heads:
        raise ShapeError(f"scaled_dot_product_attention: {query_heads} query heads cannot be "
                         f"shared among {heads} {name} heads; the query heads must be a "
                         f"multiple of the {name} heads")
    return repeat_interleave(x, query_heads // heads, -3)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value, as torch.nn.functional's.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev), batch axes
    broadcast. ``attn_mask`` is bool (True may attend) or float (added), broadcastable
    to (..., L, S); ``is_causal`` masks the upper triangle instead. ``scale`` defaults
    to 1 / sqrt(E). ``enable_gqa`` lets key and value have fewer heads (axis -3) than
    query. A row that may attend nowhere gives zeros (and zero gradients), not NaN.
    Dropout draws from ember's host generator, so a seed gives the same mask on every
    backend.
    """
    op = "scaled_dot_product_attention"
    q = as_tensor(query, op)
    k, v = as_tensor(key, op, like=q), as_tensor(value, op, like=q)
    backend = same_backend(op, (q, k, v))
    q, k, v = amp.lower(q, k, v)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not t.dtype.is_float:
            raise DTypeError(f"{op}: {name} must be floating, got {t.dtype.name}")
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} needs at least 2 axes (..., length, features), "
                             f"got shape {t.shape}")
    if not (q.dtype is k.dtype is v.dtype):
        raise DTypeError(f"{op}: query, key and value must share a dtype, got "
                         f"{q.dtype.name}, {k.dtype.name} and {v.dtype.name}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{op}: query has {q.shape[-1]} features per position but key has "
                         f"{k.shape[-1]}; they must match")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{op}: key has {k.shape[-2]} positions but value has "
                         f"{v.shape[-2]}; they must match")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give attn_mask or is_causal=True, not both (fold the causal "
                         f"mask into attn_mask)")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        k = _repeat_heads(k, k.shape[-3], "key", q.shape[-3])
        v = _repeat_heads(v, v.shape[-3], "value", q.shape[-3])
    batch = broadcast_shapes(op, q.shape[:-2], k.shape[:-2], v.shape[:-2])
    length, source = q.shape[-2], k.shape[-2]
    scores = batch + (length, source)
    # E = 0: every score is an empty sum, 0 at any scale (PyTorch: each row's mean of v)
    scale = 1.0 / math.sqrt(q.shape[-1] or 1) if scale is None else float(scale)

    inputs, kind = [q, k, v], None
    if is_causal:
        attn_mask = _causal_mask(backend, length, source)
    if attn_mask is not None:
        mask = as_tensor(attn_mask, op, like=q)
        same_backend(op, (q, mask))
        if mask.dtype is dt.bool_:
            kind = "bool"
        elif mask.dtype.is_float:
            kind, mask = "float", cast(mask, q.dtype)
        else:
            raise DTypeError(f"{op}: attn_mask must be bool (True attends) or floating "
                             f"(added to the scores), got {mask.dtype.name}")
        try:
            fits = broadcast_shapes(op, mask.shape, scores) == scores
        except ShapeError:
            fits = False
        if not fits:
            raise ShapeError(f"{op}: attn_mask of shape {mask.shape} does not broadcast to the "
                             f"scores' shape {scores} (batch..., {length} queries, {source} keys)")
        inputs.append(mask)
    if dropout_p > 0.0:
        from ..creation import rand
        keep = rand(*scores, backend=backend) >= dropout_p
        inputs.append(cast(keep, q.dtype) * (1.0 / (1.0 - dropout_p) if dropout_p < 1 else 0.0))

    half = q.dtype if q.dtype in dt.HALF and dt.float32 in backend.dtypes else None
    if half and backend.fast_attention_16 and backend.fast_attention is not None and source \
            and q.shape[-1] and not (kind == "float" and mask.requires_grad):
        half = None     # the backend's fused op computes in float32 itself
    if half:        # the softmax in float32
        inputs = [cast(t, dt.float32) if t.dtype is half else t for t in inputs]
    dtype = inputs[0].dtype
    if source == 0:      # nothing to attend to: zeros, still linked to q, k and v
        out = matmul(matmul(inputs[0], transpose(inputs[1])), inputs[2])
    elif q.shape[-1] == 0:
        # no features: every score is an empty sum, 0; the fused kernels need E > 0
        p = probabilities(inputs[0], inputs[1], inputs[3] if kind else None, scale)
        out = matmul(p * inputs[-1] if dropout_p > 0.0 else p, inputs[2])
    else:
        out = run(Attention(scale, kind, dropout_p > 0.0, is_causal, scores, dtype, k.ndim),
                  tuple(inputs), batch + (length, v.shape[-1]), dtype)
    return cast(out, half) if half else out
