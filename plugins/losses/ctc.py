"""The connectionist temporal classification loss (Graves et al., 2006), as
torch.nn.functional.ctc_loss: the negative log of the total probability of every
alignment of a target sequence to the input frames (blanks between and around the
labels, repeats merged).

The forward variables run as one scan over the frames in log space, in ember's ops on
the input's backend (so autograd gives the gradient and the loss compiles for fixed
lengths): a state that no alignment reaches holds -1e30, not -inf, so that it passes
a zero gradient rather than NaN. The lengths and the targets are read on the host once
per call, to lay out each sequence's states.

Gradients are the loss's true derivatives with respect to ``log_probs``. PyTorch's
kernel returns exp(log_probs) minus the alignment posteriors there instead (the
gradient with respect to logits that a log_softmax makes ``log_probs`` from); the two
agree once passed through that log_softmax, as a model's are.
"""

import numpy as np

import ember
from ember.errors import ShapeError

#: the log-probability of "no alignment reaches this state": finite in float32
NEG = -1e30


def _host_ints(op, name, values):
    host = values.numpy() if isinstance(values, ember.Tensor) else np.asarray(values)
    whole = host.dtype.kind == "f" and np.all(host == np.round(host))
    if host.dtype.kind not in "iu" and not whole:
        raise ShapeError(f"{op}: {name} must be integers, got {host.dtype}")
    return host.astype(np.int64).reshape(-1)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """-log p(target | input) per sequence, for ``log_probs`` (T, N, C) (or (T, C)) of
    log-softmax outputs, ``targets`` (N, S) padded or concatenated into one 1-D tensor,
    and each sequence's lengths. A target that no alignment fits (too long for its
    input) costs inf, or 0 with ``zero_infinity`` (its gradient 0 then). "mean" divides
    each loss by its target length (at least 1) before the mean over the batch."""
    op = "ctc_loss"
    from .losses import _check_reduction
    _check_reduction(reduction, op)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
    if log_probs.ndim != 3:
        raise ShapeError(f"{op}: log_probs must be (T, N, C) or (T, C), got {log_probs.shape}")
    frames, batch, classes = log_probs.shape
    if ember.is_compiling() and any(isinstance(v, ember.Tensor) for v in
                                    (targets, input_lengths, target_lengths)):
        raise ember.CompileError(f"{op}: the targets and lengths lay out the states on the "
                                 f"host; inside a compiled function pass them as Python lists "
                                 f"(each new value traces again)")
    if not 0 <= blank < classes:
        raise ValueError(f"{op}: blank {blank} is not one of the {classes} classes")
    in_len = _host_ints(op, "input_lengths", input_lengths)
    tg_len = _host_ints(op, "target_lengths", target_lengths)
    if len(in_len) != batch or len(tg_len) != batch:
        raise ShapeError(f"{op}: {batch} sequences need {batch} input and target lengths, got "
                         f"{len(in_len)} and {len(tg_len)}")
    if (in_len < 0).any() or (in_len > frames).any():
        raise ShapeError(f"{op}: input_lengths must lie in 0..{frames} (log_probs' frames), "
                         f"got {in_len.tolist()}")
    labels = _padded_targets(op, targets, tg_len, batch, unbatched, classes, blank)
    wide = log_probs.to(ember.float32) if log_probs.dtype in ember.dtypes.HALF else log_probs
    loss = _negative_log_likelihood(wide, labels, in_len, tg_len, blank)
    impossible = loss > -NEG / 2
    loss = ember.where(impossible, 0.0 if zero_infinity else float("inf"), loss)
    if reduction == "mean":
        loss = (loss / ember.tensor(np.maximum(tg_len, 1), dtype=loss.dtype,
                                    backend=loss.backend)).mean()
    elif reduction == "sum":
        loss = loss.sum()
    elif unbatched:
        loss = loss.reshape(())
    return loss.to(log_probs.dtype)


def _padded_targets(op, targets, tg_len, batch, unbatched, classes, blank):
    """The targets as a host (N, S) array, S the longest target, checked."""
    host = targets.numpy() if isinstance(targets, ember.Tensor) else np.asarray(targets)
    if host.dtype.kind not in "iu":
        raise ShapeError(f"{op}: targets must be class indices (integers), got {host.dtype}")
    longest = int(tg_len.max(initial=0))
    if (tg_len < 0).any():
        raise ShapeError(f"{op}: target_lengths must not be negative, got {tg_len.tolist()}")
    if host.ndim == 1 and not unbatched:        # concatenated
        if host.size != tg_len.sum():
            raise ShapeError(f"{op}: concatenated targets hold {host.size} labels, the "
                             f"target lengths {int(tg_len.sum())}")
        starts = np.concatenate([[0], np.cumsum(tg_len)[:-1]])
        padded = np.full((batch, longest), blank, dtype=np.int64)
        for n, (s, k) in enumerate(zip(starts, tg_len)):
            padded[n, :k] = host[s:s + k]
    else:
        padded = host.reshape(batch, -1).astype(np.int64)
        if padded.shape[1] < longest:
            raise ShapeError(f"{op}: targets of shape {host.shape} hold {padded.shape[1]} labels "
                             f"a sequence, target_lengths up to {longest}")
        padded = padded[:, :longest]
    used = np.arange(longest) < tg_len[:, None]
    bad = used & ((padded < 0) | (padded >= classes) | (padded == blank))
    if bad.any():
        raise ShapeError(f"{op}: target label {padded[bad][0]} is not one of the {classes} "
                         f"classes other than the blank ({blank})")
    return np.where(used, padded, blank)


def _negative_log_likelihood(log_probs, labels, in_len, tg_len, blank):
    """-log of the forward variables' total at each sequence's last frame and last two
    states: a scan over the frames, every sequence at once, each frozen past its length."""
    frames, batch, _ = log_probs.shape
    states = 2 * labels.shape[1] + 1
    extended = np.full((batch, states), blank, dtype=np.int64)
    extended[:, 1::2] = labels
    skip = np.zeros((batch, states), dtype=bool)     # s - 2 -> s: a label unlike the last one
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    be = log_probs.backend
    index = ember.tensor(np.broadcast_to(extended, (frames, batch, states)),
                         dtype=be.default_int, backend=be)
    emit = ember.take_along_axis(log_probs, index, 2)                  # (T, N, states)
    dtype = log_probs.dtype
    neg = ember.full((batch, 1), NEG, dtype=dtype, backend=be)
    can_skip = ember.tensor(skip, backend=be)
    first = ember.tensor(np.arange(states) < 2, backend=be)
    alpha = ember.where(first, emit[0], NEG)
    steps = int(in_len.max(initial=0))
    # (T, N, 1): whether frame t is inside sequence n, uploaded once
    active = ember.tensor(np.arange(steps)[:, None, None] < in_len[None, :, None], backend=be)
    for t in range(1, steps):
        one_back = ember.concatenate([neg, alpha[:, :-1]], -1)
        two_back = ember.where(can_skip, ember.concatenate([neg, neg, alpha[:, :-2]], -1), NEG)
        step = ember.logaddexp(ember.logaddexp(alpha, one_back), two_back) + emit[t]
        alpha = ember.where(active[t], step, alpha)
    last = ember.tensor(2 * tg_len[:, None], dtype=be.default_int, backend=be)
    end = ember.take_along_axis(alpha, last, 1)[:, 0]
    before = ember.take_along_axis(alpha, ember.maximum(last - 1, 0), 1)[:, 0]
    total = ember.logaddexp(end, ember.where(ember.tensor(tg_len > 0, backend=be), before, NEG))
    empty = ember.tensor(in_len == 0, backend=be)        # no frames: only an empty target fits
    total = ember.where(empty, ember.where(ember.tensor(tg_len == 0, backend=be), 0.0, NEG),
                        total)
    return -total
