"""What the decoder-only language models share: the key/value cache, generation, the
causal mask of a step that continues a cache, and reading Hugging Face's config.json."""

import dataclasses
import json
import math
import numbers
import os

import numpy as np

import ember
from ember.errors import SerializationError, ShapeError
from ember.io import atomic_write
from ember.plugins.nn import Embedding, Linear, Module, Parameter, init
from ember.plugins.nn import functional as F

from .quantized import dequantized
from .sampling import next_tokens

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
#: a checkpoint split into shards names each tensor's file here (Hugging Face's layout)
INDEX_FILE = WEIGHTS_FILE + ".index.json"


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


def normal_linear(n_in, n_out, std, bias=True, dtype=None, backend=None):
    """Hugging Face's init of a projection: weight N(0, std), bias 0."""
    layer = Linear(n_in, n_out, bias=bias, dtype=dtype, backend=backend)
    layer.weight = Parameter(init.normal((n_out, n_in), 0.0, std, dtype, backend))
    if bias:
        layer.bias = Parameter(init.zeros((n_out,), dtype, backend))
    return layer


def normal_embedding(count, width, std, dtype=None, backend=None):
    """Hugging Face's init of an embedding: N(0, std)."""
    layer = Embedding(count, width, dtype=dtype, backend=backend)
    layer.weight = Parameter(init.normal((count, width), 0.0, std, dtype, backend))
    return layer


def load_weights(model, state, weights, config_path):
    """model.load_state_dict(state), a mismatch named as the files' fault."""
    try:
        model.load_state_dict(state)
    except (ember.StateDictError, ShapeError) as exc:
        raise SerializationError(f"{weights}: does not fit {config_path}: {exc}") from None
    return model.eval()


def read_weights(directory, config, backend):
    """(state, what): a Hugging Face directory's tensors, from model.safetensors or the
    shards model.safetensors.index.json names, with quantized weights (config's
    quantization_config: fine-grained "fp8", "mxfp4") dequantized to float32."""
    index_path = os.path.join(directory, INDEX_FILE)
    if not os.path.exists(index_path) or os.path.exists(os.path.join(directory, WEIGHTS_FILE)):
        path = os.path.join(directory, WEIGHTS_FILE)
        return dequantized(ember.load(path, backend=backend), config, path), path
    index, _ = read_config(directory, INDEX_FILE)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(
            isinstance(f, str) and os.path.basename(f) == f for f in weight_map.values()):
        raise SerializationError(f"{index_path}: weight_map must name a shard file in the "
                                 f"directory for each tensor")
    state = {}
    for shard in sorted(set(weight_map.values())):
        state.update(ember.load(os.path.join(directory, shard), backend=backend))
    missing = sorted(set(weight_map) - set(state))
    if missing:
        raise SerializationError(f"{index_path}: the shards hold no tensor {missing[0]!r}"
                                 + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    return dequantized(state, config, index_path), index_path


def write_pretrained(directory, config, state):
    """config.json and model.safetensors in ``directory``, each written atomically."""
    os.makedirs(directory, exist_ok=True)
    atomic_write(os.path.join(directory, CONFIG_FILE),
                 (json.dumps(config, indent=2) + "\n").encode())
    ember.save(state, os.path.join(directory, WEIGHTS_FILE))


#: where a multimodal checkpoint keeps its language model: transformers 4's keys (which
#: transformers 5 writes too) and transformers 5's own, as a text model's
_TEXT_PREFIXES = {"language_model.model.": "model.", "language_model.lm_head.": "lm_head.",
                  "model.language_model.": "model."}


def text_config(values):
    """A config.json's values, or a multimodal one's language model's (its text_config,
    with the outer tie_word_embeddings and quantization_config, which govern it)."""
    text = values.get("text_config")
    if not isinstance(text, dict):
        return values
    return {**text, **{k: values[k] for k in ("tie_word_embeddings", "quantization_config")
                       if k in values}}


def text_weights(state):
    """A checkpoint's tensors with a multimodal one's language model keyed as a text
    model's (its vision tower and projector dropped); a text model's as they are."""
    if not any(k.startswith(tuple(_TEXT_PREFIXES)) for k in state):
        return state
    return {new + k[len(old):]: v for k, v in state.items()
            for old, new in _TEXT_PREFIXES.items() if k.startswith(old)}


def known_fields(config_class, values):
    """The entries of a Hugging Face config that are fields of ``config_class`` (a
    dataclass); the rest (token ids, versions, ...) do not change the network."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in values.items() if k in names}


def read_config(directory, name=CONFIG_FILE):
    """The JSON object of ``directory``'s config.json (or ``name``), and its path."""
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except OSError as exc:
        raise SerializationError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SerializationError(f"{path}: not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise SerializationError(f"{path}: not a JSON object")
    return values, path


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
                 use_cache=True, eos_token_id=None, pad_token_id=None):
        """Continue each row of ``ids`` (batch, time) by ``max_new_tokens`` tokens.

        Greedy at ``temperature=0``; otherwise sampled from softmax(logits / temperature),
        kept to the ``top_k`` likeliest and to the smallest set holding ``top_p`` of the
        probability. ``seed`` makes sampling repeatable. With ``use_cache`` each step feeds
        only the new token and attends to the keys and values kept from before.

        With ``eos_token_id`` (an id or a list of them, as a chat model's
        ``config.eos_token_id``), a row that emits one is finished: it continues with
        ``pad_token_id`` (default: the first eos id), and generation stops once every row
        is, as Hugging Face's generate does.
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
