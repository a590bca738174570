"""A language model's head and its loss in one: PyTorch 2.13's
``F.linear_cross_entropy`` and ``nn.LinearCrossEntropyLoss``.

By default the logits are made (``linear``) and handed to ``cross_entropy``. With
``options`` (a ``LinearCrossEntropyOptions``) the batch is taken in chunks of rows and
the (rows, classes) logits of one chunk at a time are reduced to their log-sum-exp and
the target's logit, then dropped; backward makes each chunk's logits again from the
saved input and weight. A 50257-word head over 8192 tokens then holds 64 rows of logits
at once instead of 8192 (1.6 GB in float32)."""

import dataclasses
import math

import ember
from ember.errors import DTypeError, ShapeError

from .layers import Linear
from .losses import _Loss
from .torch_names import cross_entropy

#: (acc_policy, chunking_method) that "auto" stands for, for 16-bit inputs and for the
#: others (PyTorch's picks for the CPU, whose 16-bit products run through float32)
_AUTO = {True: ("accurate", "aspect_ratio"), False: ("compact", "aspect_ratio:2")}


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """How the chunked path runs, with PyTorch's fields: ``batch_chunk_size`` rows per
    chunk, or ``chunking_method`` "aspect_ratio[:N]" (chunks whose logits are about the
    input's size, 1/N of that with ":N"; "auto" picks "aspect_ratio" for 16-bit inputs
    and "aspect_ratio:2" otherwise; None: batch_chunk_size, or one chunk); ``acc_dtype``
    the dtype logits and sums are made in (None: float32 for 16-bit inputs, else the
    input's). ember makes every chunk's logits and sums in ``acc_dtype`` whatever the
    ``acc_policy`` (PyTorch's "accurate"), and its backward makes the logits again from
    the saved inputs, so a second backward works whatever ``allow_retain_graph`` says."""

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in ("auto", "accurate", "balanced", "compact"):
            raise ValueError(f"LinearCrossEntropyOptions: acc_policy must be 'auto', "
                             f"'accurate', 'balanced' or 'compact', got {self.acc_policy!r}")
        if self.chunking_method not in (None, "auto"):
            name, _, factor = self.chunking_method.partition(":")
            if name != "aspect_ratio" or not (factor or "1").isdigit() or int(factor or 1) < 1:
                raise ValueError(f"LinearCrossEntropyOptions: chunking_method must be 'auto', "
                                 f"None, 'aspect_ratio' or 'aspect_ratio:N' (N >= 1), got "
                                 f"{self.chunking_method!r}")
        size = self.batch_chunk_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"LinearCrossEntropyOptions: batch_chunk_size must be a positive "
                             f"int or None, got {size!r}")
        if self.acc_dtype is not None and not ember.dtypes.dtype(self.acc_dtype).is_float:
            raise ValueError(f"LinearCrossEntropyOptions: acc_dtype must be a float dtype or "
                             f"None, got {self.acc_dtype!r}")

    def chunk_rows(self, rows, in_features, classes, dtype):
        """The rows per chunk for a batch of ``rows`` (PyTorch's arithmetic)."""
        method = self.chunking_method
        if method == "auto":
            method = None if self.batch_chunk_size is not None else \
                _AUTO[dtype.itemsize == 2][1]
        size = rows if self.batch_chunk_size is None else min(self.batch_chunk_size, rows)
        if method is not None:
            factor = int(method.partition(":")[2] or 1)
            target = -(-rows // -(-classes // in_features))
            picked = min((1 << (target - 1).bit_length()) // factor, rows)
            if self.batch_chunk_size is not None and self.batch_chunk_size != picked:
                raise ValueError(f"LinearCrossEntropyOptions: batch_chunk_size "
                                 f"{self.batch_chunk_size} and chunking_method {method!r} "
                                 f"({picked} rows) disagree; give one of them")
            size = picked
        return max(1, size)

    def accumulation(self, dtype):
        """The dtype logits are made in."""
        if self.acc_dtype is not None:
            return ember.dtypes.dtype(self.acc_dtype)
        return ember.float32 if dtype.itemsize == 2 and self.acc_policy == "auto" else dtype


def _logits(x, w, b, acc):
    out = x.to(acc) @ w.to(acc).T
    return out if b is None else out + b.to(acc)


class _Chunked(ember.autograd.Function):
    """The cross entropy of x w^T + b against class indices, chunk by chunk of rows:
    forward keeps each row's log-sum-exp; backward makes a chunk's logits again, turns
    them into softmax - one_hot(target), and multiplies back into the gradients of x,
    w and b. ``row_weight`` holds each row's class weight (0 where ignored)."""

    @staticmethod
    def forward(ctx, x, w, b, target, row_weight, rows, reduction, acc):
        lse, picked = [], []
        for start in range(0, x.shape[0], rows):
            logits = _logits(x[start:start + rows], w, b, acc)
            lse.append(ember.logsumexp(logits, axis=1))
            picked.append(ember.take_along_axis(logits, target[start:start + rows, None],
                                                1)[:, 0])
        lse = ember.concatenate(lse) if lse else ember.zeros(0, dtype=acc, backend=x.backend)
        loss = (lse - ember.concatenate(picked)) * row_weight if picked else lse
        ctx.save_for_backward(x, w, b, target, row_weight, lse)
        ctx.rows, ctx.reduction, ctx.acc = rows, reduction, acc
        if reduction == "none":
            return loss.to(x.dtype)
        total = loss.sum()
        return (total if reduction == "sum" else total / row_weight.sum()).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, w, b, target, row_weight, lse = ctx.saved_tensors
        rows, acc = ctx.rows, ctx.acc
        scale = row_weight * g.to(acc)
        if ctx.reduction == "mean":
            scale = scale / row_weight.sum()
        classes = ember.arange(w.shape[0], backend=x.backend)
        dx, dw, db = [], None, None
        for start in range(0, x.shape[0], rows):
            part = slice(start, start + rows)
            xs = x[part]
            p = ember.exp(_logits(xs, w, b, acc) - lse[part, None])
            p = (p - (classes == target[part, None]).to(acc)) * scale[part, None]
            dx.append(p @ w.to(acc))
            step = p.T @ xs.to(acc)
            dw = step if dw is None else dw + step
            if b is not None:
                db = p.sum(axis=0) if db is None else db + p.sum(axis=0)
        dx = ember.concatenate(dx).to(x.dtype) if dx else ember.zeros_like(x)
        dw = ember.zeros_like(w) if dw is None else dw.to(w.dtype)
        db = None if b is None else (ember.zeros_like(b) if db is None else db.to(b.dtype))
        return dx, dw, db, None, None, None, None, None


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None,  # noqa: A002
                         weight=None, reduction="mean", ignore_index=None,
                         label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...) as
    PyTorch's: input (N, in) or (in,); linear_weight (C, in), or (C, d1..dK, in) for a
    K-dimensional loss whose logits are (N, C, d1..dK); ``ignore_index`` None is -100
    for class-index targets. ``options`` chunks the batch (see the module's docstring)
    where it can: class-index targets, no label smoothing, a (C, in) weight; elsewhere
    it takes the plain path, as PyTorch's (which warns)."""
    op = "linear_cross_entropy"
    if linear_weight.ndim < 2:
        raise ShapeError(f"{op}: linear_weight must have at least 2 axes (classes, "
                         f"in_features), got shape {linear_weight.shape}")
    if input.ndim < 1 or input.shape[-1] != linear_weight.shape[-1]:
        raise ShapeError(f"{op}: input {input.shape} and linear_weight {linear_weight.shape} "
                         f"must end in the same in_features")
    classes, out_features = linear_weight.shape[0], linear_weight.shape[1:-1]
    if linear_bias is not None and linear_bias.shape != (classes, *out_features):
        raise ShapeError(f"{op}: linear_bias must have shape {(classes, *out_features)}, got "
                         f"{linear_bias.shape}")
    batch = input.shape[:-1]
    if out_features and not batch:
        raise ShapeError(f"{op}: a K-dimensional loss (linear_weight {linear_weight.shape}) "
                         f"needs a batch of inputs (N, {input.shape[-1]}), got {input.shape}")
    logits_shape = (*batch, classes, *out_features)
    probabilities = tuple(target.shape) == logits_shape and target.dtype.is_float
    if probabilities and ignore_index is not None:
        raise ValueError(f"{op}: ignore_index cannot be given with probability targets")
    ignore_index = -100 if ignore_index is None else ignore_index
    chunked = (options is not None and reduction in ("mean", "sum", "none") and
               not label_smoothing and not target.dtype.is_float and not out_features and
               input.ndim <= 2)
    if not chunked:
        w2 = linear_weight.reshape(classes * math.prod(out_features), input.shape[-1])
        b2 = None if linear_bias is None else linear_bias.reshape(-1)
        logits = ember.matmul(input, w2.T)
        logits = (logits if b2 is None else logits + b2).reshape(logits_shape)
        return cross_entropy(logits, target, weight, ignore_index=ignore_index,
                             reduction=reduction, label_smoothing=label_smoothing)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    x, t = (input, target) if input.ndim == 2 else (input[None], target.reshape(1))
    if t.shape != x.shape[:1]:
        raise ShapeError(f"{op}: class-index targets {target.shape} do not fit input "
                         f"{input.shape}; expected {input.shape[:-1]}")
    if not input.dtype.is_float:
        raise DTypeError(f"{op}: input must be floating, got {input.dtype.name}")
    keep = t != ignore_index
    if t.size and not ember.is_compiling():
        host = t.numpy()[keep.numpy()]
        if host.size and (host.min() < 0 or host.max() >= classes):
            bad = host[(host < 0) | (host >= classes)][0]
            raise ShapeError(f"{op}: target class {bad} is out of range for {classes} classes")
    safe = ember.where(keep, t, 0)
    acc = options.accumulation(input.dtype)
    row_weight = keep.to(acc) if weight is None else \
        ember.where(keep, ember.take(weight.to(acc), safe), 0.0)
    rows = options.chunk_rows(x.shape[0], x.shape[1], classes, input.dtype)
    loss = _Chunked.apply(x, linear_weight, linear_bias, safe, row_weight, rows, reduction, acc)
    return loss[0] if reduction == "none" and input.ndim == 1 else loss


class LinearCrossEntropyLoss(_Loss):
    """nn.LinearCrossEntropyLoss: a Linear (``linear.weight`` of (C prod(out_features),
    in_features), ``linear.bias`` with ``bias=True``; PyTorch's state-dict keys) whose
    outputs go into cross entropy without being kept (with ``options``)."""

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None,
                 dtype=None, reduction="mean", weight=None, ignore_index=None,
                 label_smoothing=0.0, options=None):
        if weight is not None and weight.shape != (num_classes,):
            raise ShapeError(f"LinearCrossEntropyLoss: weight must have shape "
                             f"{(num_classes,)}, got {weight.shape}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"LinearCrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        super().__init__({"weight": weight}, reduction=reduction, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, options=options)
        self.num_classes, self.out_features = num_classes, tuple(out_features)
        self.linear = Linear(in_features, math.prod(self.out_features) * num_classes,
                             bias=bias, backend=device, dtype=dtype)

    def forward(self, input, target):  # noqa: A002  (PyTorch's names)
        shape = (self.num_classes, *self.out_features)
        bias = None if self.linear.bias is None else self.linear.bias.reshape(shape)
        return linear_cross_entropy(input, self.linear.weight.reshape(
            (*shape, self.linear.in_features)), target, linear_bias=bias, **self.options,
            **self._buffers)
