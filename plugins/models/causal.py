"""What the decoder-only language models share: the key/value cache, generation and the
causal mask of a step that continues a cache."""

import math
import numbers

import numpy as np

import ember
from ember.errors import ShapeError
from ember.plugins.nn import Module
from ember.plugins.nn import functional as F

from .sampling import next_tokens


class KeyValueCache:
    """The keys and values of every position seen so far, per layer, for generation:
    a forward given a cache attends to them and appends its own."""

    def __init__(self):
        self.layers = {}

    def __len__(self):
        """The number of positions held."""
        return self.layers[0][0].shape[2] if self.layers else 0

    def update(self, layer, k, v):
        """Append this step's (batch, heads, time, head_dim) keys and values; return all."""
        if layer in self.layers:
            past_k, past_v = self.layers[layer]
            k, v = ember.cat([past_k, k], axis=2), ember.cat([past_v, v], axis=2)
        self.layers[layer] = (k, v)
        return k, v


def causal_attention(q, k, v, time, window=None, softcap=None, sinks=None, **kwargs):
    """scaled_dot_product_attention of ``time`` new queries against k and v, which may
    hold a cache's earlier positions first: the new rows see every one of those and the
    causal part of their own; with a sliding ``window``, only the last ``window`` keys
    up to their own position (Mistral's). ``softcap`` caps the scores to +-softcap by
    softcap tanh(s / softcap) before the mask (Gemma 2's); ``sinks``, a logit per head,
    join each row's softmax as a key with no value (gpt-oss's): both composed of ember's
    ops."""
    past = k.shape[2] - time
    mask, causal = None, past == 0 and time > 1
    composed = bool(softcap) or sinks is not None
    if window is not None and past + time <= window:
        window = None                   # every key is within every query's window
    if (past and time > 1) or window is not None or (composed and time > 1):
        ahead = np.arange(past + time)[None, :] - (past + np.arange(time)[:, None])
        allowed = (ahead <= 0) & (ahead > -window) if window is not None else ahead <= 0
        mask, causal = ember.tensor(allowed, backend=q.backend), False
    if composed:
        return _composed_attention(q, k, v, mask, softcap, sinks, **kwargs)
    return ember.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, **kwargs)


def _composed_attention(q, k, v, allowed, softcap, sinks, scale=None, enable_gqa=False,
                        dropout_p=0.0):
    """softmax(softcap tanh(q k^T scale / softcap), where allowed, beside the sinks) v:
    every row may attend to its own position at least, so none is empty."""
    if enable_gqa:
        k, v = (ember.repeat_interleave(t, q.shape[1] // t.shape[1], dim=1) for t in (k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = ember.matmul(q, k.transpose(-2, -1))
    scores = ember.tanh(scores * (scale / softcap)) * softcap if softcap else scores * scale
    if allowed is not None:
        scores = ember.where(allowed, scores, -math.inf)
    if sinks is None:
        p = ember.softmax(scores, -1)
    else:
        column = ember.broadcast_to(sinks.reshape(1, -1, 1, 1), scores.shape[:-1] + (1,))
        p = ember.softmax(ember.cat([scores, column.to(scores.dtype)], axis=-1), -1)[..., :-1]
    return ember.matmul(F.dropout(p, dropout_p), v)



class CausalLM(Module):
    """A language model whose ``self(ids, cache)`` gives (batch, time, vocab) logits,
    continuing what a KeyValueCache holds; its config's field ``positions_field`` bounds
    its sequences."""

    positions_field = None

    @property
    def max_positions(self):
        return getattr(self.config, self.positions_field)

    def _backend(self):
        return next(iter(self.parameters())).backend

    def generate(self, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=None,
                 use_cache=True, eos_token_id=None, pad_token_id=None, suppress_tokens=None,
                 begin_suppress_tokens=None):
        """Continue each row of ``ids`` (batch, time) by ``max_new_tokens`` tokens.

        Greedy at ``temperature=0``; otherwise sampled from softmax(logits / temperature),
        kept to the ``top_k`` likeliest and to the smallest set holding ``top_p`` of the
        probability. ``seed`` makes sampling repeatable. With ``use_cache`` each step feeds
        only the new token and attends to the keys and values kept from before.

        With ``eos_token_id`` (an id or a list of them, as a chat model's
        ``config.eos_token_id``), a row that emits one is finished: it continues with
        ``pad_token_id`` (default: the first eos id), and generation stops once every row
        is, as Hugging Face's generate does.

        ``suppress_tokens`` are never chosen, ``begin_suppress_tokens`` not as the first new
        token (Hugging Face's SuppressTokens processors; ids past the vocabulary are moot).
        """
        if not isinstance(ids, ember.Tensor):
            ids = ember.tensor(ids, backend=self._backend())
        if not isinstance(max_new_tokens, numbers.Integral) or max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        if ids.ndim == 2 and max_new_tokens:      # (the model itself names any other shape)
            if ids.shape[1] == 0:
                raise ShapeError(f"generate: the prompt {ids.shape} has no tokens to continue; "
                                 f"give each row at least one (a start token)")
            if ids.shape[1] + max_new_tokens > self.max_positions:
                raise ShapeError(f"generate: {ids.shape[1]} prompt tokens and {max_new_tokens} "
                                 f"new ones make {ids.shape[1] + max_new_tokens}, past "
                                 f"{self.positions_field} {self.max_positions}; ask for fewer "
                                 f"or shorten the prompt")
        rng = np.random.default_rng(seed)
        cache = KeyValueCache() if use_cache else None
        tokens, step_input = ids, ids
        stops = None if eos_token_id is None else np.atleast_1d(eos_token_id)
        if stops is not None:
            if stops.dtype.kind not in "iu" or stops.ndim != 1 or not stops.size:
                raise ValueError(f"generate: eos_token_id must be an id or a list of ids, got "
                                 f"{eos_token_id!r}")
            pad = int(stops[0]) if pad_token_id is None else pad_token_id
            finished = np.zeros(ids.shape[0], dtype=bool)
        with ember.no_grad():
            for _ in range(max_new_tokens):
                if use_cache and len(cache) and self.cache_expires(len(cache), tokens.shape[1]):
                    cache, step_input = KeyValueCache(), tokens     # computed afresh
                logits = self(step_input if use_cache else tokens, cache)
                last = logits[:, -1].numpy()
                for banned in (suppress_tokens, begin_suppress_tokens if tokens is ids else None):
                    if banned is not None:
                        banned = np.asarray(banned, dtype=np.int64).reshape(-1)
                        last[:, banned[(banned >= 0) & (banned < last.shape[-1])]] = -np.inf
                chosen = next_tokens(last, temperature, top_k, top_p, rng)
                if stops is not None:
                    chosen = np.where(finished, pad, chosen)
                    finished |= np.isin(chosen, stops)
                step_input = ember.tensor(chosen[:, None], dtype=ids.dtype, backend=ids.backend)
                tokens = ember.cat([tokens, step_input], axis=1)
                if stops is not None and finished.all():
                    break
        return tokens

    def cache_expires(self, cached, length):
        """Whether keys and values cached for ``cached`` positions are wrong for a sequence
        of ``length`` (a model whose rotation depends on the length says so)."""
        return False

    def check_ids(self, ids, cache, name):
        """ids as a (batch, time) tensor on the model's backend, short enough to fit."""
        if not isinstance(ids, ember.Tensor):
            ids = ember.tensor(ids, backend=self._backend())
        if ids.ndim != 2:
            raise ShapeError(f"{name}: ids must be (batch, time), got shape {ids.shape}; "
                             f"add a batch axis with ids[None]")
        length = (len(cache) if cache is not None else 0) + ids.shape[1]
        if length > self.max_positions:
            raise ShapeError(f"{name}: a sequence of {length} tokens is longer than "
                             f"{self.positions_field} {self.max_positions}; shorten it or crop "
                             f"the context")
        return ids


class Decoding(CausalLM):
    """An encoder-decoder's decoder over one batch of encoded input, as a causal language
    model for CausalLM.generate: ``step(ids, cache)`` gives the logits of ids that
    continue what the cache holds (the encoder's states and their cross-attention keys
    and values are computed once, before)."""

    def __init__(self, config, positions_field, backend, step):
        super().__init__()
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "positions_field", positions_field)
        object.__setattr__(self, "_step", step)
        object.__setattr__(self, "_device", backend)

    def _backend(self):
        return self._device

    def forward(self, ids, cache=None):
        return self._step(ids, cache)

