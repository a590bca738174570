"""Losses: functions of (prediction, target) and Module-style classes around them.

Every loss reduces with ``reduction`` = "mean" (default), "sum" or "none".
Class-index targets are checked once per call (one small read of their range).
cross_entropy picks each target's logit with one gather (IndexCrossEntropy); the
other losses turn them into one-hot rows on the device.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

import ember
from ember.autograd import run
from ember.errors import BackendError, DTypeError, ShapeError
from ember.plugins.nn.functional import one_hot_mask

REDUCTIONS = ("mean", "sum", "none")


def _float32(loss):
    """Under autocast the loss runs in float32 (as in PyTorch): its prediction is widened."""
    @functools.wraps(loss)
    def run(pred, target, *args, **kwargs):
        return loss(ember.amp.widen(pred), target, *args, **kwargs)
    return run


def _check_reduction(reduction, op):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}, "
                         f"got {reduction!r}")


def _reduce(loss, reduction, op):
    _check_reduction(reduction, op)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _as_target(op, pred, target):
    """``target`` as a tensor on the prediction's backend; one on another backend is
    refused here, before a helper made for it on the prediction's backend fails."""
    if not isinstance(target, ember.Tensor):
        return ember.tensor(target, backend=pred.backend)
    if target.backend is not pred.backend:
        raise BackendError(f"{op}: prediction and target are on different backends "
                           f"({pred.backend.device} and {target.backend.device}); move one with "
                           f".to({pred.backend.device!r})")
    return target


def _same_shape(op, pred, target):
    target = _as_target(op, pred, target)
    if target.shape != pred.shape:
        raise ShapeError(f"{op}: prediction {pred.shape} and target {target.shape} differ; "
                         f"they need one shape")
    return target.to(pred.dtype) if target.dtype is not pred.dtype else target


@_float32
def mse_loss(pred, target, reduction="mean"):
    """(pred - target)^2."""
    d = pred - _same_shape("mse_loss", pred, target)
    return _reduce(d * d, reduction, "mse_loss")


@_float32
def l1_loss(pred, target, reduction="mean"):
    """|pred - target|."""
    return _reduce((pred - _same_shape("l1_loss", pred, target)).abs(), reduction, "l1_loss")


@_float32
def huber_loss(pred, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)."""
    d = (pred - _same_shape("huber_loss", pred, target)).abs()
    near = ember.clip(d, max=delta)      # squared only where small: inf * 0 is no slope
    loss = ember.where(d < delta, 0.5 * near * near, delta * (d - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


@_float32
def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2, as PyTorch (Fast R-CNN's box
    loss); beta 0 is the L1 loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = (pred - _same_shape("smooth_l1_loss", pred, target)).abs()
    if beta == 0:
        loss = d
    else:
        near = ember.clip(d, max=beta)   # squared only where small: inf * 0 is no slope
        loss = ember.where(d < beta, 0.5 * near * near / beta, d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


@_float32
def kl_div(log_pred, target, reduction="mean", log_target=False):
    """KL(target || pred) pointwise with ``log_pred`` holding log-probabilities, as
    PyTorch's: t log t - t log_pred, 0 where t is 0 (0 log 0 = 0); with ``log_target``,
    exp(t) (t - log_pred). reduction "batchmean" divides the sum by the batch size, the
    divergence per sample; "mean" divides it by every element, as PyTorch."""
    t = _same_shape("kl_div", log_pred, target)
    if log_target:
        loss = ember.exp(t) * (t - log_pred)
    else:
        zero = t == 0
        loss = ember.where(zero, 0.0, t * ember.log(ember.where(zero, 1.0, t))) - t * log_pred
    if reduction == "batchmean":
        return loss.sum() / (loss.shape[0] if loss.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


def _broadcast_weight(op, name, pred, weight):
    """A per-element weight that broadcasts to the prediction's shape, in its dtype."""
    weight = _as_target(op, pred, weight)
    try:
        np.broadcast_shapes(weight.shape, pred.shape)
    except ValueError:
        raise ShapeError(f"{op}: {name} of shape {weight.shape} does not broadcast to the "
                         f"prediction's {pred.shape}") from None
    return weight.to(pred.dtype)


#: PyTorch's EPSILON under p (1 - p) in BCE's slope: 1e-12 as a float32 number
_BCE_FLOOR = float(np.float32(1e-12))


class _BinaryCrossEntropy(ember.autograd.Function):
    """-(t log p + (1 - t) log(1 - p)) with each log clamped at -100, and PyTorch's slope
    (p - t) / max(p (1 - p), 1e-12): finite where p is 0 or 1 (a saturated sigmoid), where
    the clamped logs' own slope is 0 * inf = NaN. log(1 - p) is log1p(-p) (1 - 1e-30 is 1
    in float32: the loss of p = 1e-30 at t = 0 was 0, not 1e-30)."""

    @staticmethod
    def forward(ctx, p, t):
        log_p = ember.clip(ember.log(p), -100.0, None)
        log_q = ember.clip(ember.log1p(-p), -100.0, None)
        ctx.save_for_backward(p, t, log_p, log_q)
        return -(t * log_p + (1.0 - t) * log_q)

    @staticmethod
    def backward(ctx, g):
        p, t, log_p, log_q = ctx.saved_tensors
        dp = None if not ctx.needs_input_grad[0] else \
            g * (p - t) / ember.clip((1.0 - p) * p, _BCE_FLOOR, None)
        dt = g * (log_q - log_p) if ctx.needs_input_grad[1] else None
        return dp, dt


@_float32
def binary_cross_entropy(prob, target, weight=None, reduction="mean"):
    """-w (t log p + (1 - t) log(1 - p)) as PyTorch's, its slope too (_BinaryCrossEntropy);
    ``weight`` broadcasts to the prediction (a weight per element or per class)."""
    t = _same_shape("binary_cross_entropy", prob, target)
    loss = _BinaryCrossEntropy.apply(prob, t)
    if weight is not None:
        loss = loss * _broadcast_weight("binary_cross_entropy", "weight", prob, weight)
    return _reduce(loss, reduction, "binary_cross_entropy")


@_float32
def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """BCE on sigmoid(logits): (1 - t) x + c softplus(-x), c = 1 + (pw - 1) t (PyTorch's;
    ``pos_weight`` pw, broadcast along the last axes, one per class, scales the positive
    term; 1 without it), taken from the side where no term cancels:
    - x > 0: (1 - t) x + c softplus(-x), 1 - t exact for t near 1;
    - x <= 0: c softplus(x) - pw t x, both terms >= 0.
    relu(x) - x t + log1p(exp(-|x|)) lost up to 7% with t a float32 ULP from 1 (x = 30),
    and its slope at x = 0 was -t, not sigmoid(0) - t. A zero coefficient times an infinite x is
    0 (the loss at x = inf, t = 1). ``weight`` scales each element's loss."""
    op = "binary_cross_entropy_with_logits"
    t = _same_shape(op, logits, target)
    x = logits
    pw = 1.0 if pos_weight is None else _broadcast_weight(op, "pos_weight", logits, pos_weight)
    c = 1.0 if pos_weight is None else 1.0 + (pw - 1.0) * t
    positive = x > 0
    slope = ember.where(positive, 1.0 - t, -t * pw)
    x_or_0 = ember.where(ember.isinf(x) & (slope == 0), 0.0, x)
    loss = slope * x_or_0 + c * ember.where(positive, ember.softplus(-x), ember.softplus(x))
    if weight is not None:
        loss = loss * _broadcast_weight(op, "weight", logits, weight)
    return _reduce(loss, reduction, op)


def _class_targets(op, scores, target):
    """One-hot rows for class indices (N, d...) against scores (N, C, d...)."""
    target, classes = _checked_targets(op, scores, target)
    if target.dtype.is_float:
        return target.to(scores.dtype)
    return one_hot_mask(target, classes, axis=1 if scores.ndim > 1 else 0, dtype=scores.dtype)


def _checked_targets(op, scores, target, ignore_index=None):
    """(target, number of classes): probabilities of the scores' shape, or class indices
    (N, d...) in range for scores (N, C, d...), or equal to ``ignore_index``."""
    target = _as_target(op, scores, target)
    if scores.ndim < 1:
        raise ShapeError(f"{op}: scores need a class axis, got shape {scores.shape}")
    classes = scores.shape[1] if scores.ndim > 1 else scores.shape[0]
    if target.dtype.is_float:
        if target.shape != scores.shape:
            raise ShapeError(f"{op}: probability targets {target.shape} must match scores "
                             f"{scores.shape}")
        return target, classes
    if target.dtype is ember.bool_:
        raise DTypeError(f"{op}: targets must be class indices (integers) or probabilities "
                         f"(floats), got bool")
    want = scores.shape[:1] + scores.shape[2:] if scores.ndim > 1 else ()
    if target.shape != want:
        raise ShapeError(f"{op}: class-index targets {target.shape} do not fit scores "
                         f"{scores.shape}; expected targets of shape {want}")
    if target.size and not ember.is_compiling():   # one small host read, eager only: a
        # compiled replay reads nothing back (check targets before a compiled call)
        host = target.numpy()
        if host.min() < 0 or host.max() >= classes:    # the masks only then (4 -> 2 us)
            out_of_range = ((host < 0) | (host >= classes)) & (host != ignore_index)
            if out_of_range.any():
                bad = host[out_of_range].flat[0]
                hint = (f"; pass ignore_index={bad} to skip such targets, as PyTorch's "
                        f"default ignore_index=-100 does" if bad < 0 and ignore_index is None
                        else "")
                raise ShapeError(f"{op}: target class {bad} is out of range for {classes} "
                                 f"classes{hint}")
    return target, classes


@_float32
def nll_loss(log_probs, target, weight=None, ignore_index=None, reduction="mean"):
    """-log_probs[target class], for log-probabilities of shape (N, C, ...). ``weight``
    and ``ignore_index`` are PyTorch's, as in cross_entropy (ignore_index defaults to
    None there too)."""
    if weight is not None or ignore_index is not None:
        target, classes = _checked_targets("nll_loss", log_probs, target, ignore_index)
        return _weighted_nll("nll_loss", log_probs, target, 1 if log_probs.ndim > 1 else 0,
                             classes, weight, ignore_index, reduction, 0.0)
    q = _class_targets("nll_loss", log_probs, target)
    axis = 1 if log_probs.ndim > 1 else 0
    picked = ember.where(q == 0, 0.0, q * log_probs)   # 0 * -inf is NaN: skip non-targets
    return _reduce(-picked.sum(axis=axis), reduction, "nll_loss")


class SoftmaxCrossEntropy(ember.Op):
    """-sum(q * log_softmax(x)) along the class axis as one op: the forward uses the
    backend's fused log-softmax when it has one; the backward is (softmax(x) - q) g,
    in tensor ops (so it differentiates again)."""

    __slots__ = ("axis", "dtype")

    def __init__(self, axis, dtype):
        self.axis, self.dtype = axis, dtype

    def forward(self, x, q):
        b, axes = self.backend, (self.axis,)
        if b.fast_log_softmax is not None:
            log_p = b.fast_log_softmax(x, self.axis)
        else:
            s = b.sub(x, b.max(x, axes, True))
            log_p = b.sub(s, b.log(b.sum(b.exp(s), axes, True)))
        # a class with no target weight adds nothing, even where its log-probability is
        # -inf (a masked logit): 0 * -inf would be NaN
        zero = b.full((), 0, self.dtype)
        terms = b.where(b.eq(q, zero), zero, b.mul(log_p, q))
        return b.neg(b.sum(terms, axes, False))

    def backward(self, g, x, q):
        return (ember.softmax(x, self.axis) - q) * g.unsqueeze(self.axis), None


@_float32
def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, weight=None,
                  ignore_index=None):
    """-sum(q * log_softmax(logits)) over the class axis (1), where q is the one-hot
    target (or the given probabilities), smoothed toward uniform by label_smoothing.
    ``weight`` (C,) and ``ignore_index`` are PyTorch's: each target's loss is scaled by
    its class's weight and the mean divides by the targets' summed weights; targets equal
    to ``ignore_index`` add nothing and count nothing. Unlike PyTorch's, ignore_index
    defaults to None, so a -100 target is an error until it is asked for."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if not logits.dtype.is_float:
        raise DTypeError(f"cross_entropy: logits must be floating, got {logits.dtype.name}")
    target, classes = _checked_targets("cross_entropy", logits, target, ignore_index)
    axis = 1 if logits.ndim > 1 else 0
    if weight is not None or ignore_index is not None:
        return _weighted_nll("cross_entropy", ember.log_softmax(logits, axis), target, axis,
                             classes, weight, ignore_index, reduction, label_smoothing)
    if not target.dtype.is_float and not label_smoothing:
        return _index_cross_entropy(logits, target, axis, reduction)
    q = _class_targets("cross_entropy", logits, target)
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / logits.shape[axis]
    shape = logits.shape[:axis] + logits.shape[axis + 1:]
    loss = run(SoftmaxCrossEntropy(axis, logits.dtype), (logits, q.detach()), shape,
               logits.dtype)
    return _reduce(loss, reduction, "cross_entropy")


def _weighted_nll(op, log_p, target, axis, classes, weight, ignore_index, reduction,
                  label_smoothing):
    """nll_loss (and cross_entropy, from its log_softmax) with class weights or ignored
    targets, in tensor ops, as PyTorch's (aten's cross_entropy_loss_label_smoothing):
    (1 - e) nll + e / C smooth, both summed over the targets that count and, for the
    mean, divided by their weights' sum (for probability targets, by the count of
    positions)."""
    _check_reduction(reduction, op)
    if weight is None:
        weight = ember.ones(classes, dtype=log_p.dtype, backend=log_p.backend)
    else:
        weight = _as_target(op, log_p, weight)
        if weight.shape != (classes,):
            raise ShapeError(f"{op}: weight must have one entry per class, shape "
                             f"({classes},), got {weight.shape}")
        weight = weight.to(log_p.dtype)
    per_class = weight.reshape((classes,) + (1,) * (log_p.ndim - axis - 1))

    def weighted_sum(q):         # -sum_c w_c q_c log p_c, 0 * -inf (a masked logit) as 0
        return -ember.where(q == 0, 0.0, q * per_class * log_p).sum(axis=axis)
    if target.dtype.is_float:
        if ignore_index is not None:
            raise ValueError(f"{op}: ignore_index applies to class-index targets, not to "
                             f"probabilities")
        q = target.to(log_p.dtype)
        if label_smoothing:
            q = q * (1.0 - label_smoothing) + label_smoothing / classes
        return _reduce(weighted_sum(q), reduction, op)
    counts = target != ignore_index if ignore_index is not None else ember.ones(
        target.shape, dtype=ember.bool_, backend=target.backend)
    safe = ember.where(counts, target, 0)
    kept = ember.where(counts, weight[safe], 0.0)          # each target's weight, 0 if ignored
    hot = one_hot_mask(safe, classes, axis=axis, dtype=log_p.dtype)
    nll = ember.where(counts, weighted_sum(hot), 0.0)
    smooth = ember.where(counts, weighted_sum(ember.ones_like(log_p)), 0.0)
    if reduction == "mean":
        total = kept.sum()
        nll, smooth = nll.sum() / total, smooth.sum() / total
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1.0 - label_smoothing) * nll + (label_smoothing / classes) * smooth \
        if label_smoothing else nll


@_float32
def token_cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, weight=None,
                        ignore_index=None):
    """cross_entropy with the classes on the last axis: next-token logits (..., vocab)
    against ids (...), each position one example (a language model's loss, as
    transformers computes it from (batch, time, vocab) logits; its padding takes
    ignore_index=-100)."""
    target = _as_target("token_cross_entropy", logits, target)
    if logits.ndim < 2:
        raise ShapeError(f"token_cross_entropy: logits need (..., vocab), got shape {logits.shape}")
    if target.shape not in (logits.shape[:-1], logits.shape):
        raise ShapeError(f"token_cross_entropy: targets of shape {target.shape} do not fit "
                         f"logits {logits.shape}: give ids of shape {logits.shape[:-1]} (or "
                         f"probabilities of the logits' shape)")
    vocab = logits.shape[-1]
    flat = target.reshape(-1, vocab) if target.shape == logits.shape else target.reshape(-1)
    loss = cross_entropy(logits.reshape(-1, vocab), flat, reduction, label_smoothing, weight,
                         ignore_index)
    return loss.reshape(logits.shape[:-1]) if reduction == "none" else loss


class IndexCrossEntropy(ember.Op):
    """cross_entropy against class indices as one op, as most training steps call it:
    each position's log-sum-exp minus its target's logit, picked by one gather at flat
    indices (no one-hot), then reduced. Its backward, (softmax - one-hot) g, reuses the
    forward's exponentials (IndexCrossEntropyGrad), or is written in tensor ops when the
    gradient's own graph is wanted (create_graph), so it differentiates again."""

    __slots__ = ("axis", "reduction", "target", "logits", "saved")

    def __init__(self, axis, reduction, target, logits):
        self.axis, self.reduction, self.target = axis, reduction, target
        self.logits = logits.shape, logits.dtype

    def forward(self, x, flat):
        b, axes, shape = self.backend, (self.axis,), self.target.shape
        s = b.sub(x, b.max(x, axes, True))
        e = b.exp(s)
        total = b.sum(e, axes, True)
        self.saved = e, total
        picked = b.gather(b.reshape(s, (math.prod(self.logits[0]),)), 0, flat)
        loss = b.sub(b.reshape(b.log(total), shape), picked)
        if self.reduction == "none":
            return loss
        loss = b.sum(loss, tuple(range(len(shape))), False)
        return loss if self.reduction == "sum" else b.mul(loss, self._scale(b))

    def _scale(self, b):
        """1 / the number of positions (NaN for none, as PyTorch's mean of nothing)."""
        n = self.target.size
        return b.full((), 1.0 / n if n else float("nan"), self.logits[1])

    def backward(self, g, x, flat):
        if self.reduction == "none":
            g = g.unsqueeze(self.axis)
        if ember.is_grad_enabled():
            q = one_hot_mask(self.target, x.shape[self.axis], axis=self.axis, dtype=x.dtype)
            scale = 1.0 / self.target.size if self.reduction == "mean" else 1.0
            return (ember.softmax(x, self.axis) - q) * (g * scale), None
        return run(IndexCrossEntropyGrad(self), (g, flat), x.shape, x.dtype), None


class IndexCrossEntropyGrad(ember.Op):
    """(softmax - one-hot) g from IndexCrossEntropy's saved exponentials and its flat
    target indices: the backward when no gradient of it is wanted."""

    __slots__ = ("fwd",)

    def __init__(self, fwd):
        self.fwd = fwd

    def forward(self, g, flat):
        f, b = self.fwd, self.backend
        (shape, dtype), (e, total) = f.logits, f.saved
        if f.reduction == "mean":
            g = b.mul(g, f._scale(b))
        hits = b.scatter_add((math.prod(shape),), 0, flat,
                             b.full(f.target.shape, 1, dtype))
        return b.mul(b.sub(b.div(e, total), b.reshape(hits, shape)), g)


_OFFSETS = {}


def _index_cross_entropy(logits, target, axis, reduction):
    """IndexCrossEntropy, its flat indices target * D + (n C D + d) for logits (N, C, D...)
    (the offsets uploaded once per shape, as one-hot's class range)."""
    _check_reduction(reduction, "cross_entropy")
    shape = logits.shape
    inner = math.prod(shape[axis + 1:])
    key = (logits.backend.device, shape, target.dtype.name)
    offsets = _OFFSETS.get(key)
    if offsets is None:
        if len(_OFFSETS) > 64:
            _OFFSETS.clear()
        classes = shape[axis]
        base = np.arange(math.prod(shape[:axis]))[:, None] * classes * inner
        offsets = _OFFSETS[key] = ember.tensor(
            (base + np.arange(inner)).reshape(target.shape), dtype=target.dtype,
            backend=logits.backend)
    flat = offsets + (target * inner if inner != 1 else target)
    out_shape = target.shape if reduction == "none" else ()
    return run(IndexCrossEntropy(axis, reduction, target, logits), (logits, flat),
               out_shape, logits.dtype)


# -- PyTorch's other losses ----------------------------------------------------------
@_float32
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Negative log-likelihood of ``target`` counts under Poisson(rate): with
    ``log_input`` the input is log(rate), exp(x) - t x; else rate - t log(rate + eps);
    ``full`` adds Stirling's t log t - t + log(2 pi t) / 2 where t > 1, as PyTorch."""
    t = _same_shape("poisson_nll_loss", input, target).to(input.dtype)
    loss = ember.exp(input) - t * input if log_input else input - t * ember.log(input + eps)
    if full:
        big = t > 1
        safe = ember.where(big, t, 2.0)
        loss = loss + ember.where(big, safe * ember.log(safe) - safe +
                                  0.5 * ember.log(2 * math.pi * safe), 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


@_float32
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(v) + (x - t)^2 / v) / 2 (+ log(2 pi) / 2 with ``full``), v the variance
    clamped at ``eps`` with its gradient passed through, as PyTorch; ``var`` has the
    input's shape, or one fewer trailing axis or a last axis of 1 (one per sample)."""
    op = "gaussian_nll_loss"
    t = _same_shape(op, input, target)
    var = _as_target(op, input, var).to(input.dtype)
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (var.shape[:-1] == input.shape[:-1] and var.shape[-1:] == (1,)):
            raise ShapeError(f"{op}: var of shape {var.shape} fits neither the input's "
                             f"{input.shape} nor one variance per sample")
    if not ember.is_compiling() and var.size and bool((var < 0).any().item()):
        raise ValueError(f"{op}: var has negative entries")
    var = var + (ember.maximum(var, eps) - var).detach()
    loss = 0.5 * (ember.log(var) + (input - t) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, op)


def _signs(op, x, y):
    """The target y of +-1 entries, on x's backend and in its dtype, of x's shape."""
    y = _as_target(op, x, y)
    if y.shape != x.shape:
        raise ShapeError(f"{op}: input {x.shape} and target {y.shape} differ; they need one "
                         f"shape")
    return y.to(x.dtype)


def _hinge(x):
    """max(x, 0) whose slope at 0 is 1, as PyTorch's clamp_min(x, 0) in its margin
    losses (relu's is 0 there, so a pair exactly at the margin learned nothing)."""
    return ember.clip(x, min=0.0)


@_float32
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, -y (x1 - x2) + margin): y = 1 says x1 should rank above x2, -1 below."""
    y = _signs("margin_ranking_loss", input1, target)
    if input2.shape != input1.shape:
        raise ShapeError(f"margin_ranking_loss: inputs {input1.shape} and {input2.shape} differ")
    return _reduce(_hinge(-y * (input1 - input2) + margin), reduction, "margin_ranking_loss")


@_float32
def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1 (input a distance), as PyTorch."""
    y = _signs("hinge_embedding_loss", input, target)
    loss = ember.where(y != 1, _hinge(margin - input), 0.0) + ember.where(y != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


@_float32
def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(-y x)) = -log sigmoid(y x), exact in both tails (softplus's threshold
    would cut it off past 20), y = +-1."""
    y = _signs("soft_margin_loss", input, target)
    return _reduce(-ember.log_sigmoid(y * input), reduction, "soft_margin_loss")


@_float32
def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """-mean over classes of w (y log sigmoid(x) + (1 - y) log sigmoid(-x)), per sample
    (N, C), y in {0, 1}, as PyTorch."""
    op = "multilabel_soft_margin_loss"
    y = _same_shape(op, input, target).to(input.dtype)
    loss = -(y * ember.log_sigmoid(input) + (1.0 - y) * ember.log_sigmoid(-input))
    if weight is not None:
        loss = loss * _broadcast_weight(op, "weight", input, weight)
    return _reduce(loss.mean(axis=-1), reduction, op)


@_float32
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1, the cosine along
    the last axis of (N, D) or (D,) inputs with PyTorch's 1e-12 under each squared norm."""
    op = "cosine_embedding_loss"
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ShapeError(f"{op}: inputs must be two (N, D) or (D,) tensors of one shape, got "
                         f"{input1.shape} and {input2.shape}")
    y = _as_target(op, input1, target)
    if y.shape != input1.shape[:-1]:
        raise ShapeError(f"{op}: target {y.shape} must have one entry per pair, shape "
                         f"{input1.shape[:-1]}")
    # each divided by its largest magnitude s first (the 1e-12 by s * s): squares of
    # 1e20 overflow float32, where PyTorch's cosine is NaN
    from ember.ops.reduce import by_largest
    (a, s1), (b, s2) = by_largest(input1, -1), by_largest(input2, -1)
    dot = (a * b).sum(axis=-1, keepdims=True)
    cos = (dot / ember.sqrt((a * a).sum(axis=-1, keepdims=True) + 1e-12 / (s1 * s1))
           / ember.sqrt((b * b).sum(axis=-1, keepdims=True) + 1e-12 / (s2 * s2)))
    cos = cos.reshape(y.shape)
    y = y.to(input1.dtype)
    loss = ember.where(y == 1, 1.0 - cos, 0.0) + ember.where(y == -1, _hinge(cos - margin), 0.0)
    return _reduce(loss, reduction, op)


@_float32
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance (F.pairwise_distance);
    ``swap`` takes min(d(a, n), d(p, n)) for the negative, as PyTorch."""
    from ember.plugins.nn.functional import pairwise_distance
    if not anchor.shape == positive.shape == negative.shape or anchor.ndim not in (1, 2):
        raise ShapeError(f"triplet_margin_loss: anchor, positive and negative must be (N, D) "
                         f"or (D,) of one shape, got {anchor.shape}, {positive.shape} and "
                         f"{negative.shape}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ember.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(_hinge(d_pos - d_neg + margin), reduction, "triplet_margin_loss")


@_float32
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Multi-class hinge: sum over classes i != y of w_y max(0, margin - x_y + x_i)^p / C
    for scores (N, C) or (C,) and class indices, as PyTorch (p is 1 or 2)."""
    op = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{op}: p must be 1 or 2, got {p!r}")
    if input.ndim not in (1, 2):
        raise ShapeError(f"{op}: scores must be (N, C) or (C,), got {input.shape}")
    q = _class_targets(op, input, target)
    if q.shape != input.shape:
        raise ShapeError(f"{op}: takes class indices, not probabilities")
    picked = ember.where(q == 1, input, 0.0).sum(axis=-1, keepdims=True)   # inf * 0 is NaN
    hinge = ember.where(q == 1, 0.0, ember.relu(margin - picked + input)) ** p
    if weight is not None:
        classes = input.shape[-1]
        weight = _as_target(op, input, weight)
        if weight.shape != (classes,):
            raise ShapeError(f"{op}: weight must have one entry per class, shape ({classes},), "
                             f"got {weight.shape}")
        hinge = hinge * (q * weight.to(input.dtype)).sum(axis=-1, keepdims=True)
    return _reduce(hinge.sum(axis=-1) / input.shape[-1], reduction, op)


@_float32
def multilabel_margin_loss(input, target, reduction="mean"):
    """Multi-label hinge: sum over target classes j and non-target classes i of
    max(0, 1 - (x_j - x_i)) / C, for scores (N, C) or (C,); each target row lists its
    classes first, ended by the first -1 (the rest is ignored), as PyTorch."""
    op = "multilabel_margin_loss"
    if input.ndim not in (1, 2):
        raise ShapeError(f"{op}: scores must be (N, C) or (C,), got {input.shape}")
    target = _as_target(op, input, target)
    if target.shape != input.shape or not target.dtype.is_int:
        raise ShapeError(f"{op}: target must be class indices (integers) of the scores' shape "
                         f"{input.shape}, padded with -1; got {target.dtype.name}{target.shape}")
    classes = input.shape[-1]
    if target.size and not ember.is_compiling():
        host = target.numpy()
        if host.min() < -1 or host.max() >= classes:
            raise ShapeError(f"{op}: target holds {host.min() if host.min() < -1 else host.max()}, "
                             f"outside -1 (the end of a row's classes) to {classes - 1}")
    listed = ember.cumprod((target >= 0).to(input.dtype), -1)      # before the first -1
    hot = one_hot_mask(ember.maximum(target, 0), classes, dtype=input.dtype) * listed.unsqueeze(-1)
    is_target = ember.amax(hot, axis=-2) if classes else listed   # (N, C): a target class
    x_target = ember.take_along_axis(input, ember.maximum(target, 0), -1)   # (N, J)
    hinge = ember.relu(1.0 - x_target.unsqueeze(-1) + input.unsqueeze(-2))  # (N, J, C)
    loss = (hinge * listed.unsqueeze(-1) * (1.0 - is_target).unsqueeze(-2)).sum(axis=(-2, -1))
    return _reduce(loss / max(classes, 1), reduction, op)


@_float32
def triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) for any ``distance_function`` of two tensors
    (default F.pairwise_distance); ``swap`` takes min(d(a, n), d(p, n)), as PyTorch."""
    from ember.plugins.nn.functional import pairwise_distance
    op = "triplet_margin_with_distance_loss"
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    if not anchor.shape == positive.shape == negative.shape:
        raise ShapeError(f"{op}: anchor, positive and negative must have one shape, got "
                         f"{anchor.shape}, {positive.shape} and {negative.shape}")
    d = distance_function or pairwise_distance
    d_pos, d_neg = d(anchor, positive), d(anchor, negative)
    if swap:
        d_neg = ember.minimum(d_neg, d(positive, negative))
    return _reduce(ember.relu(d_pos - d_neg + margin), reduction, op)


# -- classes and their conformance examples -------------------------------------------
@dataclass
class LossExample:
    """How the conformance suite exercises a loss class."""

    kwargs: dict
    shape: tuple                  # prediction shape
    target: str                   # "same" (floats), "binary" (0/1 floats), "sign" (+-1
    #                               floats), "index", "prob",
    #                               "index_last" (class indices against the last axis)
    reference: object             # NumPy float64 (pred, target) -> unreduced loss
    low: float = -2.0
    high: float = 2.0


class Loss:
    """Base of loss classes: holds the reduction and options, calls the function."""

    fn = None

    def __init__(self, reduction="mean", **options):
        _check_reduction(reduction, type(self).__name__)
        self.reduction, self.options = reduction, options

    def __call__(self, pred, target):
        return type(self).fn(pred, target, reduction=self.reduction, **self.options)

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(reduction={self.reduction!r}{opts})"

    @classmethod
    def example(cls):
        raise NotImplementedError(f"{cls.__name__} declares no conformance example")


def _given(**options):
    """The options that are not None (a loss class passes on only those set)."""
    return {k: v for k, v in options.items() if v is not None}


def _np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_onehot(t, classes):
    return np.moveaxis(np.eye(classes)[t], -1, 1)


class MSELoss(Loss):
    fn = staticmethod(mse_loss)

    @classmethod
    def example(cls):
        return LossExample({}, (4, 3), "same", lambda p, t: (p - t) ** 2)


class L1Loss(Loss):
    fn = staticmethod(l1_loss)

    @classmethod
    def example(cls):
        return LossExample({}, (4, 3), "same", lambda p, t: np.abs(p - t))


class HuberLoss(Loss):
    fn = staticmethod(huber_loss)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction, delta=delta)

    @classmethod
    def example(cls):
        def ref(p, t, delta=0.7):
            d = np.abs(p - t)
            return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
        return LossExample({"delta": 0.7}, (5, 3), "same", ref)


class SmoothL1Loss(Loss):
    fn = staticmethod(smooth_l1_loss)

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction, beta=beta)

    @classmethod
    def example(cls):
        def ref(p, t, beta=0.7):
            d = np.abs(p - t)
            return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
        return LossExample({"beta": 0.7}, (5, 3), "same", ref)


class KLDivLoss(Loss):
    fn = staticmethod(kl_div)

    def __init__(self, reduction="mean", log_target=False):
        if reduction == "batchmean":      # the one reduction of its own
            self.reduction, self.options = reduction, {"log_target": log_target}
        else:
            super().__init__(reduction, log_target=log_target)

    @classmethod
    def example(cls):
        return LossExample({}, (4, 5), "prob", lambda lp, t: t * (np.log(t) - lp), low=-3, high=0)


class BCELoss(Loss):
    fn = staticmethod(binary_cross_entropy)

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction, **_given(weight=weight))

    @classmethod
    def example(cls):
        return LossExample({}, (6,), "binary",
                           lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
                           low=0.05, high=0.95)


class BCEWithLogitsLoss(Loss):
    fn = staticmethod(binary_cross_entropy_with_logits)

    def __init__(self, reduction="mean", weight=None, pos_weight=None):
        super().__init__(reduction, **_given(weight=weight, pos_weight=pos_weight))

    @classmethod
    def example(cls):
        def ref(x, t):
            p = 1 / (1 + np.exp(-x))
            return -(t * np.log(p) + (1 - t) * np.log(1 - p))
        return LossExample({}, (3, 4), "binary", ref, low=-4, high=4)


class NLLLoss(Loss):
    fn = staticmethod(nll_loss)

    def __init__(self, reduction="mean", weight=None, ignore_index=None):
        super().__init__(reduction, **_given(weight=weight, ignore_index=ignore_index))

    @classmethod
    def example(cls):
        return LossExample({}, (5, 4), "index",
                           lambda lp, t: -(lp * _np_onehot(t, lp.shape[1])).sum(axis=1))


class CrossEntropyLoss(Loss):
    fn = staticmethod(cross_entropy)

    def __init__(self, reduction="mean", label_smoothing=0.0, weight=None, ignore_index=None):
        super().__init__(reduction, label_smoothing=label_smoothing,
                         **_given(weight=weight, ignore_index=ignore_index))

    @classmethod
    def example(cls):
        def ref(x, t, eps=0.1):
            q = _np_onehot(t, x.shape[1]) if t.dtype.kind == "i" else t
            q = q * (1 - eps) + eps / x.shape[1]
            return -(q * _np_log_softmax(x, 1)).sum(axis=1)
        return LossExample({"label_smoothing": 0.1}, (4, 5, 2), "index", ref, low=-4, high=4)


class TokenCrossEntropyLoss(CrossEntropyLoss):
    fn = staticmethod(token_cross_entropy)

    @classmethod
    def example(cls):
        def ref(x, t):
            return -np.take_along_axis(_np_log_softmax(x, -1), t[..., None], -1)[..., 0]
        return LossExample({}, (2, 3, 5), "index_last", ref, low=-4, high=4)


class PoissonNLLLoss(Loss):
    fn = staticmethod(poisson_nll_loss)

    def __init__(self, reduction="mean", log_input=True, full=False, eps=1e-8):
        super().__init__(reduction, log_input=log_input, full=full, eps=eps)

    @classmethod
    def example(cls):
        def ref(x, t):
            stirling = np.where(t > 1, t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t), 0.0)
            return np.exp(x) - t * x + stirling
        return LossExample({"full": True}, (4, 3), "same", ref, low=0.1, high=3.0)


class HingeEmbeddingLoss(Loss):
    fn = staticmethod(hinge_embedding_loss)

    def __init__(self, reduction="mean", margin=1.0):
        super().__init__(reduction, margin=margin)

    @classmethod
    def example(cls):
        return LossExample({"margin": 1.5}, (4, 3), "sign",
                           lambda x, y: np.where(y == 1, x, np.maximum(0, 1.5 - x)), low=0, high=3)


class SoftMarginLoss(Loss):
    fn = staticmethod(soft_margin_loss)

    @classmethod
    def example(cls):
        return LossExample({}, (4, 3), "sign", lambda x, y: np.log1p(np.exp(-y * x)), low=-3,
                           high=3)


class MultiLabelSoftMarginLoss(Loss):
    fn = staticmethod(multilabel_soft_margin_loss)

    def __init__(self, reduction="mean", weight=None):
        super().__init__(reduction, **_given(weight=weight))

    @classmethod
    def example(cls):
        def ref(x, y):
            p = 1 / (1 + np.exp(-x))
            return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1)
        return LossExample({}, (4, 5), "binary", ref, low=-3, high=3)


class MultiMarginLoss(Loss):
    fn = staticmethod(multi_margin_loss)

    def __init__(self, reduction="mean", p=1, margin=1.0, weight=None):
        super().__init__(reduction, p=p, margin=margin, **_given(weight=weight))

    @classmethod
    def example(cls):
        def ref(x, t, margin=0.5):
            picked = np.take_along_axis(x, t[:, None], 1)
            hinge = np.maximum(0, margin - picked + x) ** 2
            hinge[np.arange(len(t)), t] = 0
            return hinge.sum(axis=1) / x.shape[1]
        return LossExample({"p": 2, "margin": 0.5}, (5, 4), "index", ref)


class _ThreeInputLoss(Loss):
    """A loss of three tensors (two inputs and a target, or a triplet)."""

    def __call__(self, a, b, c):
        return type(self).fn(a, b, c, reduction=self.reduction, **self.options)


class GaussianNLLLoss(_ThreeInputLoss):
    """Called as loss(input, target, var)."""

    fn = staticmethod(gaussian_nll_loss)

    def __init__(self, reduction="mean", full=False, eps=1e-6):
        super().__init__(reduction, full=full, eps=eps)


class MarginRankingLoss(_ThreeInputLoss):
    """Called as loss(input1, input2, target)."""

    fn = staticmethod(margin_ranking_loss)

    def __init__(self, reduction="mean", margin=0.0):
        super().__init__(reduction, margin=margin)


class CosineEmbeddingLoss(MarginRankingLoss):
    """Called as loss(input1, input2, target)."""

    fn = staticmethod(cosine_embedding_loss)


class TripletMarginLoss(_ThreeInputLoss):
    """Called as loss(anchor, positive, negative)."""

    fn = staticmethod(triplet_margin_loss)

    def __init__(self, reduction="mean", margin=1.0, p=2.0, eps=1e-6, swap=False):
        super().__init__(reduction, margin=margin, p=p, eps=eps, swap=swap)


LOSSES = {
    "mse": MSELoss, "l1": L1Loss, "huber": HuberLoss, "smooth_l1": SmoothL1Loss,
    "kl_div": KLDivLoss, "bce": BCELoss,
    "bce_with_logits": BCEWithLogitsLoss, "nll": NLLLoss, "cross_entropy": CrossEntropyLoss,
    "token_cross_entropy": TokenCrossEntropyLoss, "poisson_nll": PoissonNLLLoss,
    "hinge_embedding": HingeEmbeddingLoss, "soft_margin": SoftMarginLoss,
    "multilabel_soft_margin": MultiLabelSoftMarginLoss, "multi_margin": MultiMarginLoss,
}
