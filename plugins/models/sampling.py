"""Choosing the next token from a model's last logits, as Hugging Face's generate does:
temperature, then top-k, then top-p (nucleus); greedy at temperature 0.

It works on the host in float64: a step's logits are one row per sequence, and the
chosen ids go back to the model as its next input anyway.
"""

import numpy as np


def _check(temperature, top_k, top_p):
    if not temperature >= 0:
        raise ValueError(f"generate: temperature must be >= 0 (0 is greedy), got {temperature}")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"generate: top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"generate: top_p must be in (0, 1] or None, got {top_p!r}")


def next_tokens(logits, temperature=1.0, top_k=None, top_p=None, rng=None):
    """One id per row of ``logits`` (batch, vocab): the argmax at temperature 0 (the first
    on ties), else a draw from the kept part of softmax(logits / temperature)."""
    _check(temperature, top_k, top_p)
    logits = np.asarray(logits, dtype=np.float64)
    if np.isnan(logits).any():
        raise ValueError("generate: the model's logits hold NaN; check its weights and inputs")
    if temperature == 0:
        return logits.argmax(axis=-1)
    scores = logits / temperature
    if top_k is not None and top_k < scores.shape[-1]:
        kth = np.partition(scores, -top_k, axis=-1)[:, -top_k:].min(axis=-1, keepdims=True)
        scores = np.where(scores < kth, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1:
        order = np.argsort(-probs, axis=-1, kind="stable")
        ranked = np.take_along_axis(probs, order, axis=-1)
        before = np.cumsum(ranked, axis=-1) - ranked        # mass of the likelier tokens
        keep = np.zeros_like(probs, dtype=bool)
        np.put_along_axis(keep, order, before < top_p, axis=-1)   # the first always stays
        probs = np.where(keep, probs, 0.0)
    rng = rng if rng is not None else np.random.default_rng()
    totals = np.cumsum(probs, axis=-1)
    draws = rng.random((probs.shape[0], 1)) * totals[:, -1:]
    return np.minimum((totals <= draws).sum(axis=-1), probs.shape[-1] - 1)
