"""GPT2, the Llama family (Llama, Mistral, Qwen2, Qwen3, Gemma, Phi-3, the mixtures of
experts; their rotary scalings), GPT-NeoX and Phi against Hugging Face transformers (the
oracle, where installed), the key/value cache against recomputing, sampling, the byte
tokenizer and bad input."""

import json

import numpy as np
import pytest

import ember
from ember.plugins.models import (GPT2, ByteTokenizer, GPT2Config, GPTNeoX, GPTNeoXConfig,
                                  KeyValueCache, Llama, LlamaConfig, Phi, PhiConfig, Qwen2,
                                  from_pretrained)
from ember.plugins.models.sampling import next_tokens

from .transformers_oracle import assert_gradients_close

SMALL = {"vocab_size": 50, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 4}


def _rel(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want).max() / np.abs(want).max()


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory):
    """A random GPT-2 written by transformers' save_pretrained(safe_serialization=True),
    with its logits and greedy continuation for a fixed prompt."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        **SMALL, bos_token_id=0, eos_token_id=0)).eval()
    directory = tmp_path_factory.mktemp("hf_gpt2")
    model.save_pretrained(directory, safe_serialization=True)
    prompt = torch.tensor([[3, 14, 15, 9, 2, 6], [5, 3, 5, 8, 9, 7]])
    with torch.no_grad():
        logits = model(prompt).logits.numpy()
        greedy = model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0,
                                eos_token_id=None, attention_mask=torch.ones_like(prompt))
    return directory, prompt.numpy(), logits, greedy.numpy(), model


def test_from_pretrained_matches_transformers_logits_and_greedy_continuation(backend,
                                                                             hf_checkpoint):
    directory, prompt, logits, greedy, _ = hf_checkpoint
    model = GPT2.from_pretrained(directory, backend=backend)
    expect_eval = not any(m.training for m in model.modules())
    assert expect_eval, "from_pretrained returns the model in eval mode"
    ids = ember.tensor(prompt, dtype=backend.default_int)
    assert _rel(model(ids).numpy(), logits) < 1e-4
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0).numpy(), greedy)


def test_save_pretrained_loads_in_transformers(hf_checkpoint, tmp_path):
    import torch
    import transformers
    directory, prompt, logits, _, _ = hf_checkpoint
    GPT2.from_pretrained(directory).save_pretrained(tmp_path)
    again = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(prompt)).logits.numpy(), logits)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["n_layer"] == 2


def test_training_mode_gradients_match_transformers(hf_checkpoint):
    """One loss and backward with the dropout off: every parameter's gradient agrees."""
    import torch
    directory, prompt, _, _, hf = hf_checkpoint
    hf.train()
    for m in hf.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    hf.config.attn_pdrop = 0.0
    model = GPT2.from_pretrained(directory, attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0)
    model.train()
    ids = torch.tensor(prompt)
    hf.zero_grad()
    hf(ids, labels=ids).loss.backward()
    hf.eval()
    logits = model(ember.tensor(prompt))
    targets = ember.tensor(prompt[:, 1:].reshape(-1))
    from ember.plugins.losses import cross_entropy
    cross_entropy(logits[:, :-1].reshape(-1, SMALL["vocab_size"]), targets).backward()
    grads, conv1d = dict(model.named_parameters()), model._conv1d_names()
    for name, p in hf.named_parameters():
        if name == "lm_head.weight":
            continue                      # the same tensor as wte, already compared
        got, want = grads[name].grad.numpy(), p.grad.numpy()
        got = got.T if name in conv1d else got      # Hugging Face's Conv1D is (in, out)
        assert _rel(got, want) < 1e-4, name


def test_cached_forward_and_generation_equal_recomputing(backend):
    ember.manual_seed(0)
    model = GPT2(**SMALL).eval()
    ids = ember.tensor(np.random.default_rng(0).integers(0, 50, (2, 9)), dtype=backend.default_int)
    full = model(ids).numpy()
    cache = KeyValueCache()
    pieces = [model(ids[:, a:b], cache).numpy() for a, b in ((0, 4), (4, 5), (5, 9))]
    assert len(cache) == 9
    assert _rel(np.concatenate(pieces, axis=1), full) < 1e-5
    for kw in ({"temperature": 0}, {"temperature": 0.8, "top_k": 5, "seed": 3},
               {"temperature": 1.0, "top_p": 0.9, "seed": 4}):
        cached = model.generate(ids[:, :4], 10, **kw).numpy()
        np.testing.assert_array_equal(cached, model.generate(ids[:, :4], 10, use_cache=False,
                                                             **kw).numpy(), err_msg=str(kw))


def test_sampling_follows_softmax_and_its_filters():
    logits = np.log(np.array([[0.5, 0.2, 0.2, 0.1]]))
    draws = np.concatenate([next_tokens(logits, 1.0, rng=np.random.default_rng(s))
                            for s in range(4000)])
    freq = np.bincount(draws, minlength=4) / draws.size
    assert np.abs(freq - [0.5, 0.2, 0.2, 0.1]).max() < 0.03   # 4 standard errors at 4000
    rng = np.random.default_rng(0)
    assert set(np.concatenate([next_tokens(logits, 1.0, top_k=2, rng=rng)
                               for _ in range(300)])) <= {0, 1, 2}
    kept = {int(next_tokens(logits, 1.0, top_p=0.6, rng=rng)[0]) for _ in range(300)}
    assert kept == {0, 1}         # 0.5 < 0.6: the next likeliest joins (the first of a tie)
    assert set(next_tokens(np.repeat(logits, 3, 0), 1.0, top_p=0.4, rng=rng)) == {0}
    assert next_tokens(np.array([[1.0, 3.0, 3.0]]), 0)[0] == 1   # greedy takes the first tie
    for bad in ({"temperature": -1}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            next_tokens(logits, **{"temperature": 1.0, **bad})
    with pytest.raises(ValueError, match="NaN"):
        next_tokens(np.array([[np.nan, 0.0]]), 1.0)


def test_byte_tokenizer_round_trips_any_text():
    tok = ByteTokenizer()
    text = "def f(x):\n    return x ** 2  # ½ → ∞ 🐍"
    assert tok.decode(tok.encode(text)) == text and max(tok.encode(text)) < tok.vocab_size
    assert tok.decode(tok.encode(text)[:-1]).endswith("\ufffd")
    with pytest.raises(ValueError, match="got 256"):
        tok.decode([104, 256])


def test_gpt2_refuses_bad_input_naming_both_numbers(tmp_path):
    with pytest.raises(ember.ShapeError, match="n_head 3 does not divide n_embd 16"):
        GPT2(**{**SMALL, "n_head": 3})
    model = GPT2(**SMALL)
    with pytest.raises(ember.ShapeError, match="sequence of 33 tokens is longer than "
                                               "n_positions 32"):
        model(ember.zeros(1, 33, dtype=ember.int64))
    cache = KeyValueCache()
    model(ember.zeros(1, 30, dtype=ember.int64), cache)
    with pytest.raises(ember.ShapeError, match="sequence of 33 tokens"):
        model(ember.zeros(1, 3, dtype=ember.int64), cache)
    with pytest.raises(ember.ShapeError, match=r"\(batch, time\)"):
        model(ember.zeros(5, dtype=ember.int64))
    with pytest.raises(ember.IndexingError, match="index 50 is out of range"):
        model(ember.tensor([[1, 50]]))
    with pytest.raises(ValueError, match="activation_function 'gelu_x'"):
        GPT2Config(activation_function="gelu_x")
    with pytest.raises(ember.ShapeError, match="30 prompt tokens and 3 new ones make 33, past "
                                               "n_positions 32"):
        model.generate(ember.zeros(1, 30, dtype=ember.int64), 3)      # before any step runs
    with pytest.raises(ember.ShapeError, match=r"prompt \(1, 0\) has no tokens"):
        model.generate(ember.zeros(1, 0, dtype=ember.int64), 1)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0, got -1"):
        model.generate(ember.zeros(1, 1, dtype=ember.int64), -1)


def test_from_pretrained_refuses_broken_directories(tmp_path):
    with pytest.raises(ember.SerializationError, match="config.json: cannot read"):
        GPT2.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ember.SerializationError, match="config.json: not JSON"):
        GPT2.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ember.SerializationError, match="model_type 'llama' is not gpt2"):
        GPT2.from_pretrained(tmp_path)
    GPT2(**SMALL).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_embd": 32}))
    with pytest.raises(ember.SerializationError, match="does not fit"):
        GPT2.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(ember.SerializationError, match="too short"):
        GPT2.from_pretrained(tmp_path)


# -- Llama -------------------------------------------------------------------------------
LLAMA = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32}


@pytest.fixture(scope="module", params=[False, True], ids=["own-head", "tied-head"])
def hf_llama(request, tmp_path_factory):
    """A random LlamaForCausalLM (grouped-query attention; a head of its own, or tied to
    the embedding with as many key/value heads as query heads) written by transformers'
    save_pretrained, with its logits and greedy continuation for a fixed prompt."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    tied = request.param
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**{**LLAMA, "num_key_value_heads": 4 if tied else 2},
                                      tie_word_embeddings=tied, rope_theta=500.0,
                                      bos_token_id=0, eos_token_id=0)
    return _written(torch, transformers.LlamaForCausalLM(config).eval(),
                    tmp_path_factory.mktemp("hf_llama"))


def _written(torch, model, directory, spread_all=False):
    """A random transformers model with weights large enough that logits spread out (and
    with ``spread_all``, biases and norms moved off their initial values), saved by
    save_pretrained in ``directory``: (directory, prompt, logits, greedy continuation)."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0) if p.ndim == 2 else p.add_(0.3 * torch.randn_like(p)) if spread_all else None
    model.save_pretrained(directory, safe_serialization=True)
    prompt = torch.tensor([[3, 14, 15, 9, 2, 6, 31], [5, 3, 5, 8, 9, 7, 60]])
    with torch.no_grad():
        logits = model(prompt).logits.numpy()
        greedy = model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0,
                                eos_token_id=None, attention_mask=torch.ones_like(prompt))
    return directory, prompt.numpy(), logits, greedy.numpy()


def test_llama_from_pretrained_matches_transformers(backend, hf_llama):
    """Logits within 1e-4 of transformers' (relative to the largest) and the same greedy
    continuation, its key/value cache included, on every backend."""
    directory, prompt, logits, greedy = hf_llama
    model = Llama.from_pretrained(directory, backend=backend)
    assert not any(m.training for m in model.modules())
    ids = ember.tensor(prompt, dtype=backend.default_int)
    assert np.abs(logits).max() > 1.0
    assert _rel(model(ids).numpy(), logits) < 1e-4
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0).numpy(), greedy)


def test_generation_stops_at_eos_as_transformers(hf_llama):
    """With eos_token_id (one id, or a list), a row that emits one continues with
    pad_token_id and generation ends once every row has: transformers' generate, token
    for token."""
    import torch
    import transformers
    directory, prompt, _, greedy = hf_llama
    theirs = transformers.LlamaForCausalLM.from_pretrained(directory).eval()
    ours = Llama.from_pretrained(directory)
    new = greedy[:, prompt.shape[1]:]
    for eos in (int(new[0, 2]), [int(new[1, 5]), int(new[0, 9])]):
        with torch.no_grad():
            want = theirs.generate(torch.tensor(prompt), max_new_tokens=12, do_sample=False,
                                   eos_token_id=eos, pad_token_id=1,
                                   attention_mask=torch.ones_like(torch.tensor(prompt))).numpy()
        got = ours.generate(ember.tensor(prompt), 12, temperature=0, eos_token_id=eos,
                            pad_token_id=1).numpy()
        np.testing.assert_array_equal(got, want)
        assert (want == 1).any() or want.shape[1] < greedy.shape[1], "eos never came"
    with pytest.raises(ValueError, match="eos_token_id must be an id or a list of ids"):
        ours.generate(ember.tensor(prompt), 2, eos_token_id=[])


def test_llama_save_pretrained_loads_in_transformers(hf_llama, tmp_path):
    import torch
    import transformers
    directory, prompt, logits, _ = hf_llama
    Llama.from_pretrained(directory).save_pretrained(tmp_path)
    again = transformers.LlamaForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(prompt)).logits.numpy(), logits)


#: LLAMA's fields that GPT-NeoX has (its heads are never grouped)
NEOX = {k: v for k, v in LLAMA.items() if k != "num_key_value_heads"}


@pytest.mark.parametrize("cls", [Llama, GPTNeoX, Phi], ids=lambda c: c.__name__)
def test_cache_equals_recomputing_and_a_long_sequence_is_named(backend, cls):
    ember.manual_seed(0)
    model = cls(**(NEOX if cls is GPTNeoX else LLAMA)).eval()
    ids = ember.tensor(np.random.default_rng(0).integers(0, 64, (2, 9)), dtype=backend.default_int)
    full = model(ids).numpy()
    cache = KeyValueCache()
    pieces = [model(ids[:, a:b], cache).numpy() for a, b in ((0, 4), (4, 5), (5, 9))]
    assert _rel(np.concatenate(pieces, axis=1), full) < 1e-5
    with pytest.raises(ember.ShapeError, match="sequence of 33 tokens is longer than "
                                               "max_position_embeddings 32"):
        model(ember.zeros(1, 33, dtype=ember.int32))


@pytest.mark.parametrize("build, message", [
    (lambda: LlamaConfig(**{**LLAMA, "num_key_value_heads": 3}),
     "num_key_value_heads 3 does not divide num_attention_heads 4"),
    (lambda: PhiConfig(**{**LLAMA, "num_key_value_heads": 3}),
     "num_key_value_heads 3 does not divide num_attention_heads 4"),
    (lambda: GPTNeoXConfig(hidden_size=32, num_attention_heads=5),
     "num_attention_heads 5 does not divide hidden_size 32"),
    (lambda: GPTNeoXConfig(hidden_size=32, num_attention_heads=4, rotary_pct=0.1),
     "head_dim 8 times rotary_pct 0.1"),
    (lambda: PhiConfig(hidden_size=32, num_attention_heads=4, partial_rotary_factor=0.1),
     "head_dim 8 times partial_rotary_factor 0.1"),
    (lambda: GPTNeoXConfig.from_dict({"model_type": "llama"}),
     "model_type 'llama' is not gpt_neox"),
    (lambda: PhiConfig.from_dict({"tie_word_embeddings": True}),
     "tie_word_embeddings=true is not supported")])
def test_configs_refuse_what_does_not_fit_naming_both_numbers(build, message):
    with pytest.raises((ember.ShapeError, ember.SerializationError), match=message):
        build()


def test_a_model_built_from_fields_takes_their_head_count():
    """Without num_key_value_heads, the fields' own head count sets it (not the default
    config's 32)."""
    model = Phi(vocab_size=64, hidden_size=32, num_attention_heads=4, num_hidden_layers=1)
    assert model.config.num_key_value_heads == 4
    assert model(ember.tensor([[1, 2, 3]])).shape == (1, 3, 64)


@pytest.mark.parametrize("kind", ["gpt_neox:sequential", "phi:qk"])
def test_neox_and_phi_training_gradients_match_transformers(kind, tmp_path):
    """The next-token loss's gradients in float64: every parameter within 1e-4 of
    PyTorch's (GPT-NeoX's sequential residual, Phi's query/key norms and grouped heads)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config_name, model_name, fields = FAMILY[kind]
    torch.manual_seed(1)
    theirs = getattr(transformers, model_name)(getattr(transformers, config_name)(
        **LLAMA, **fields)).double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    prompt = np.array([[3, 14, 15, 9, 2, 6, 31], [5, 3, 5, 8, 9, 7, 60]])
    ids = torch.tensor(prompt)
    theirs(ids, labels=ids).loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    x = ember.tensor(prompt)
    cross_entropy(ours(x)[:, :-1].reshape(-1, LLAMA["vocab_size"]),
                  x[:, 1:].reshape(-1)).backward()
    head = "embed_out." if isinstance(ours, GPTNeoX) else "lm_head."   # (the Hub's name)
    want = {k.replace("lm_head.", head): p.grad.numpy() for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_gpt_neox_reads_transformers_4_configs_and_older_checkpoints(tmp_path):
    """A config of transformers 4 (rotary_pct, rotary_emb_base, rope_scaling; no
    rope_parameters) and a checkpoint with the causal-mask and inverse-frequency buffers
    of older ones and transformers 5's lm_head load as the same model."""
    model = GPTNeoX(**NEOX, rotary_pct=0.5, rotary_emb_base=300.0,
                    rope_scaling={"rope_type": "linear", "factor": 2.0}).eval()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["rope_parameters"]
    config["rope_scaling"] = {"type": "linear", "factor": 2.0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    state = ember.load(tmp_path / "model.safetensors")
    state["lm_head.weight"] = state.pop("embed_out.weight")
    state["gpt_neox.layers.0.attention.bias"] = ember.ones((1, 1, 32, 32), dtype=ember.bool_)
    state["gpt_neox.layers.0.attention.masked_bias"] = ember.tensor(-1e9)
    state["gpt_neox.layers.0.attention.rotary_emb.inv_freq"] = ember.ones(2)
    ember.save(state, tmp_path / "model.safetensors")
    again = from_pretrained(tmp_path)
    assert again.config == model.config
    ids = ember.tensor([[3, 14, 15, 9, 2, 6, 31]])
    np.testing.assert_array_equal(again(ids).numpy(), model(ids).numpy())


@pytest.mark.parametrize("softcap,sinks,window", [(3.0, False, 4), (3.0, False, None),
                                                   (None, True, 4), (None, True, None)])
def test_capped_and_sunk_attention_match_float64(backend, softcap, sinks, window):
    """Gemma 2's capped scores and gpt-oss's sinks (attention composed of ember's ops),
    causal, with and without a sliding window, grouped heads, against float64 NumPy."""
    from ember.plugins.models.causal import causal_attention
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 7, 8), (2, 2, 7, 8), (2, 2, 7, 8)))
    logits = rng.standard_normal(4)
    f32 = lambda a: ember.tensor(a, dtype=ember.float32, backend=backend)  # noqa: E731
    got = causal_attention(f32(q), f32(k), f32(v), time=7, window=window, softcap=softcap,
                           enable_gqa=True, sinks=f32(logits) if sinks else None).numpy()
    k, v = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(8)
    if softcap:
        scores = softcap * np.tanh(scores / softcap)
    ahead = np.arange(7)[None, :] - np.arange(7)[:, None]
    scores = np.where((ahead <= 0) & (ahead > -(window or 99)), scores, -np.inf)
    if sinks:
        scores = np.concatenate([scores, np.broadcast_to(logits[:, None, None], (2, 4, 7, 1))], -1)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p = (p / p.sum(-1, keepdims=True))[..., :7]
    assert _rel(got, p @ v) < 1e-5


# -- Mistral, Qwen2, Qwen3, Gemma, Phi-3, Mixtral, Qwen3-MoE: Llama's shape with sliding
# windows, biases, per-head norms, offset norms and scaled embeddings, fused projections, a
# partial rotation and sparse mixtures of experts -------------------------------------------
FAMILY = {  # model_type -> (transformers' class names, the config fields that matter)
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": 4, "head_dim": 8}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {
        "sliding_window": 3, "use_sliding_window": True, "max_window_layers": 1,
        "layer_types": ["full_attention", "sliding_attention"]}),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 12}),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", {"head_dim": 8, "tie_word_embeddings": True}),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {
        "head_dim": 8, "sliding_window": 4, "query_pre_attn_scalar": 6,
        "attn_logit_softcapping": 3.0, "final_logit_softcapping": 4.0}),
    "gemma3_text": ("Gemma3TextConfig", "Gemma3ForCausalLM", {
        "head_dim": 8, "sliding_window": 4, "query_pre_attn_scalar": 6, "layer_types":
        ["sliding_attention", "full_attention"], "final_logit_softcapping": 4.0,
        "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0,
                                               "rope_theta": 500.0},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 50.0}}}),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", {
        "sliding_window": 5, "rope_parameters": {"rope_type": "default", "rope_theta": 500.0,
                                                 "partial_rotary_factor": 0.5}}),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {"num_local_experts": 4,
                                                        "num_experts_per_tok": 2}),
    "gpt_oss": ("GptOssConfig", "GptOssForCausalLM", {
        "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 4, "head_dim": 8,
        "swiglu_limit": 3.0, "rope_parameters": {
            "rope_type": "yarn", "rope_theta": 500.0, "factor": 4.0, "beta_fast": 32.0,
            "beta_slow": 1.0, "truncate": False, "original_max_position_embeddings": 8}}),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", {}),
    "smollm3": ("SmolLM3Config", "SmolLM3ForCausalLM", {"no_rope_layers": [1, 0]}),
    "granite": ("GraniteConfig", "GraniteForCausalLM", {
        "embedding_multiplier": 3.0, "attention_multiplier": 0.2, "residual_multiplier": 0.6,
        "logits_scaling": 2.5}),
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM", {
        "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 24,
        "norm_topk_prob": False, "mlp_only_layers": [1], "head_dim": 8}),
    # GPT-NeoX and Phi, each a model of its own ("model_type:case"): Pythia's parallel
    # residual with a quarter of each head rotating; sequential with half; tied, the whole
    # head rotating, linearly scaled, no attention biases. Phi's grouped heads (LLAMA's)
    # with half rotating; with query/key norms and a quarter; a whole scaled rotation
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", {"rotary_emb_base": 500.0}),
    "gpt_neox:sequential": ("GPTNeoXConfig", "GPTNeoXForCausalLM", {
        "use_parallel_residual": False, "rotary_pct": 0.5, "hidden_act": "gelu_new"}),
    "gpt_neox:tied": ("GPTNeoXConfig", "GPTNeoXForCausalLM", {
        "tie_word_embeddings": True, "attention_bias": False, "rope_parameters": {
            "rope_type": "linear", "factor": 2.0, "rope_theta": 500.0,
            "partial_rotary_factor": 1.0}}),
    "phi": ("PhiConfig", "PhiForCausalLM", {}),
    "phi:qk": ("PhiConfig", "PhiForCausalLM", {"qk_layernorm": True, "rope_parameters": {
        "rope_type": "default", "rope_theta": 500.0, "partial_rotary_factor": 0.25}}),
    "phi:scaled": ("PhiConfig", "PhiForCausalLM", {"rope_parameters": {
        "rope_type": "linear", "factor": 2.0, "rope_theta": 300.0, "partial_rotary_factor": 1.0}}),
}


@pytest.fixture(scope="module", params=sorted(FAMILY))
def hf_family(request, tmp_path_factory):
    """A random model of each family written by transformers' save_pretrained, its
    logits and greedy continuation past the sliding window (prompt 7, 12 new tokens)."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    config_name, model_name, fields = FAMILY[request.param]
    torch.manual_seed(0)
    fields = {"rope_theta": 500.0, **fields}
    config = getattr(transformers, config_name)(**LLAMA, **fields, bos_token_id=0,
                                                eos_token_id=0, pad_token_id=0)
    model = getattr(transformers, model_name)(config).eval()
    return (request.param, *_written(torch, model, tmp_path_factory.mktemp(f"hf_{request.param}"),
                                     spread_all=True))


def test_llama_family_matches_transformers(backend, hf_family):
    """ember.plugins.models.from_pretrained picks the class by model_type; logits within
    1e-4 of transformers' and the same greedy continuation (the window slides past the
    prompt), on every backend; save_pretrained writes what transformers reads back."""
    kind, directory, prompt, logits, greedy = hf_family
    model = from_pretrained(directory, backend=backend)
    assert type(model).family == kind.split(":")[0] and not model.training
    ids = ember.tensor(prompt, dtype=backend.default_int)
    assert _rel(model(ids).numpy(), logits) < 1e-4
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0).numpy(), greedy)
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0, use_cache=False).numpy(),
                                  greedy)


def test_llama_family_save_pretrained_loads_in_transformers(hf_family, tmp_path):
    import torch
    import transformers
    kind, directory, prompt, logits, _ = hf_family
    from_pretrained(directory).save_pretrained(tmp_path)
    again = getattr(transformers, FAMILY[kind][1]).from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(prompt)).logits.numpy(), logits)


ROPE = {  # rope_type -> (transformers' class names, the config fields: every band of each)
    "linear": ("LlamaConfig", "LlamaForCausalLM", {"rope_parameters": {
        "rope_type": "linear", "rope_theta": 500.0, "factor": 2.5}}),
    # wavelengths 6.3, 30, 140, 660 of an original 32: kept, blended, slowed, slowed
    "llama3": ("LlamaConfig", "LlamaForCausalLM", {"rope_parameters": {
        "rope_type": "llama3", "rope_theta": 500.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 32}}),
    # 16 features: the ramp runs over frequencies 0 to 2; cos and sin scaled by 1.139
    "yarn": ("Qwen2Config", "Qwen2ForCausalLM", {"num_attention_heads": 2, "rope_parameters": {
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
        "original_max_position_embeddings": 64}}),
    # short table up to 8 positions, long past them (the prompt crosses over in generation)
    "longrope": ("Phi3Config", "Phi3ForCausalLM", {
        "original_max_position_embeddings": 8, "rope_parameters": {
            "rope_type": "longrope", "rope_theta": 500.0, "short_factor": [1.0, 1.2, 1.5, 2.0],
            "long_factor": [1.0, 3.0, 6.0, 11.0]}}),
}


@pytest.fixture(scope="module", params=sorted(ROPE))
def hf_rope(request, tmp_path_factory):
    """A random model of each rotary scaling written by transformers, its logits for a
    prompt of 7 and of 14 tokens and its greedy continuation of the first by 12."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle")
    config_name, model_name, fields = ROPE[request.param]
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**{**LLAMA, **fields}, bos_token_id=0,
                                                eos_token_id=0, pad_token_id=0)
    model = getattr(transformers, model_name)(config).eval()
    written = _written(torch, model, tmp_path_factory.mktemp(f"hf_{request.param}"))
    long_prompt = torch.tensor(np.arange(28).reshape(2, 14) * 5 % 64)
    with torch.no_grad():
        long_logits = model(long_prompt).logits.numpy()
    return (request.param, *written, long_prompt.numpy(), long_logits)


@pytest.mark.parametrize("hf_family", ["gemma2", "gemma3_text"], indirect=True)
def test_gemma_reads_the_hubs_older_configs(hf_family, tmp_path):
    """The Hub's Gemma 2 and 3 configs (transformers 4's) have no layer_types (a pattern
    of sliding layers instead), Gemma 3's rope_local_base_freq and rope_scaling: the
    same model as transformers 5's config.json."""
    import shutil
    kind, directory, prompt, logits, _ = hf_family
    values = json.loads((directory / "config.json").read_text())
    del values["layer_types"]
    rotation = values.pop("rope_parameters")
    values["rope_theta"] = 500.0
    if kind == "gemma3_text":
        values.update(sliding_window_pattern=2, rope_local_base_freq=50.0,
                      rope_scaling={"rope_type": "linear", "factor": 2.0})
        assert rotation["sliding_attention"]["rope_theta"] == 50.0
    (tmp_path / "config.json").write_text(json.dumps(values))
    shutil.copy(directory / "model.safetensors", tmp_path)
    got = from_pretrained(tmp_path)(ember.tensor(prompt)).numpy()
    assert _rel(got, logits) < 1e-4


def test_a_multimodal_checkpoint_loads_as_its_language_model(tmp_path):
    """Gemma 3's image-text checkpoints (Gemma3ForConditionalGeneration: a text_config,
    the language model under language_model.*, a vision tower beside it) load as
    Gemma3 with transformers' logits for a text prompt."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle")
    torch.manual_seed(0)
    vision = transformers.SiglipVisionConfig(hidden_size=16, intermediate_size=32, image_size=28,
                                             num_hidden_layers=1, num_attention_heads=2,
                                             patch_size=14)
    config = transformers.Gemma3Config(text_config={**LLAMA, "head_dim": 8, "sliding_window": 4},
                                       vision_config=vision.to_dict(), mm_tokens_per_image=4)
    model = transformers.Gemma3ForConditionalGeneration(config).eval()
    _, prompt, logits, _ = _written(torch, model, tmp_path)
    loaded = from_pretrained(tmp_path)
    assert type(loaded).family == "gemma3_text"
    assert _rel(loaded(ember.tensor(prompt)).numpy(), logits) < 1e-4


def test_rotary_scalings_match_transformers(backend, hf_rope):
    """Llama 3's, linear, YaRN and Phi-3's longrope rotations: logits within 1e-4 of
    transformers' before and past the original context, the same greedy continuation
    with and without the cache (longrope's recomputed where its table switches), on
    every backend; save_pretrained writes what transformers reads back."""
    kind, directory, prompt, logits, greedy, long_prompt, long_logits = hf_rope
    model = from_pretrained(directory, backend=backend)
    assert model.config.rope_scaling["rope_type"] == kind
    ids = ember.tensor(prompt, dtype=backend.default_int)
    assert _rel(model(ids).numpy(), logits) < 1e-4
    assert _rel(model(ember.tensor(long_prompt, dtype=ids.dtype)).numpy(), long_logits) < 1e-4
    for use_cache in (True, False):
        np.testing.assert_array_equal(
            model.generate(ids, 12, temperature=0, use_cache=use_cache).numpy(), greedy)


def test_rotary_scalings_save_what_transformers_reads(hf_rope, tmp_path):
    import torch
    import transformers
    kind, directory, prompt, logits = hf_rope[:4]
    from_pretrained(directory).save_pretrained(tmp_path)
    again = getattr(transformers, ROPE[kind][1]).from_pretrained(tmp_path).eval()
    assert again.config.rope_parameters["rope_type"] == kind
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(prompt)).logits.numpy(), logits)


def test_rotary_scalings_refuse_what_they_cannot_read(tmp_path):
    for rope, message in (({"rope_type": "dynamic", "factor": 2.0}, "rotary scaling 'dynamic' "
                           "is not supported; .* has default, linear, llama3, yarn, longrope"),
                          ({"type": "llama3", "factor": 8.0}, "rotary scaling 'llama3' needs "
                           "low_freq_factor, high_freq_factor in rope_parameters")):
        (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "model_type": "llama",
                                                          "rope_scaling": rope}))
        with pytest.raises(ember.SerializationError, match=message):
            from_pretrained(tmp_path)
    with pytest.raises(ember.ShapeError, match="rope short_factor has 2 entries but the "
                                               "rotation has 4 frequencies"):
        LlamaConfig(**LLAMA, rope_scaling={"rope_type": "longrope", "short_factor": [1, 2],
                                           "long_factor": [1, 2, 3, 4]})


def test_family_members_refuse_each_others_directories(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "model_type": "mistral"}))
    with pytest.raises(ember.SerializationError, match="model_type 'mistral' is not qwen2"):
        Qwen2.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "model_type": "falcon"}))
    with pytest.raises(ember.SerializationError, match="model_type 'falcon' is not a model "
                                                       "ember can load; registered ones: .*gpt2"):
        from_pretrained(tmp_path)
    with pytest.raises(ember.ShapeError, match="layer_types names 1 layers but "
                                               "num_hidden_layers is 2"):
        LlamaConfig(**LLAMA, model_type="qwen2", layer_types=["full_attention"])


def test_fp8_checkpoints_in_shards_load_dequantized(tmp_path):
    """Hugging Face's fine-grained FP8 layout (float8_e4m3fn weights, a float32
    weight_scale_inv per block of weight_block_size, partial blocks at the edges), split
    into two shards with model.safetensors.index.json, all written by PyTorch and the
    safetensors library: the logits are transformers' on the dequantized weights."""
    torch = pytest.importorskip("torch", reason="PyTorch writes the checkpoint here")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle")
    st = pytest.importorskip("safetensors.torch", reason="safetensors writes the shards")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**LLAMA, bos_token_id=0, eos_token_id=0)
    model = transformers.LlamaForCausalLM(config).eval()
    block, state, plain = [16, 32], {}, {}
    for key, w in model.state_dict().items():
        w = w * 8.0 if w.ndim == 2 else w
        if key.endswith("proj.weight"):
            rows, cols = w.shape
            r, c = -(-rows // block[0]), -(-cols // block[1])
            pad = torch.zeros(r * block[0], c * block[1])
            pad[:rows, :cols] = w
            amax = pad.reshape(r, block[0], c, block[1]).abs().amax(dim=(1, 3))
            scale = amax / 448.0
            full = scale.repeat_interleave(block[0], 0).repeat_interleave(block[1], 1)[:rows, :cols]
            q = (w / full).to(torch.float8_e4m3fn)
            state[key], state[key + "_scale_inv"] = q, scale
            w = q.to(torch.float32) * full
        else:
            state[key] = w.clone()
        plain[key] = w
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, part in shards.items():
        st.save_file({k: state[k].contiguous() for k in part}, tmp_path / name)
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: n for n, part in shards.items() for k in part}}))
    values = config.to_dict()
    values["quantization_config"] = {"quant_method": "fp8", "weight_block_size": block,
                                     "activation_scheme": "dynamic", "fmt": "e4m3"}
    (tmp_path / "config.json").write_text(json.dumps(values))
    model.load_state_dict(plain)
    prompt = torch.tensor([[3, 14, 15, 9, 2, 6, 31]])
    with torch.no_grad():
        want = model(prompt).logits.numpy()
    got = from_pretrained(tmp_path)(ember.tensor(prompt.numpy())).numpy()
    assert _rel(got, want) < 1e-5
    values["quantization_config"] = {"quant_method": "awq"}
    (tmp_path / "config.json").write_text(json.dumps(values))
    with pytest.raises(ember.SerializationError, match="quantization 'awq' is not supported"):
        from_pretrained(tmp_path)


def test_mxfp4_experts_load_dequantized(backend, tmp_path):
    """gpt-oss's MXFP4 layout (experts' weights as uint8 blocks of 32 e2m1 codes and an
    e8m0 scale each): the weights transformers' own convert_moe_packed_tensors makes of
    them give transformers' logits, on every backend; a block without its scales is
    named."""
    torch = pytest.importorskip("torch", reason="PyTorch writes the checkpoint here")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle")
    st = pytest.importorskip("safetensors.torch", reason="safetensors writes the checkpoint")
    from transformers.integrations.mxfp4 import convert_moe_packed_tensors
    torch.manual_seed(0)
    config = transformers.GptOssConfig(**{**LLAMA, "intermediate_size": 64}, num_local_experts=4,
                                       num_experts_per_tok=2, head_dim=8, bos_token_id=0,
                                       eos_token_id=0, pad_token_id=0)
    model = transformers.GptOssForCausalLM(config).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    for key in [k for k in state if k.endswith(("gate_up_proj", "down_proj"))]:
        experts, columns, rows = state[key].shape      # stored (experts, rows, columns / 32, 16)
        blocks = torch.tensor(rng.integers(0, 256, (experts, rows, columns // 32, 16)),
                              dtype=torch.uint8)
        scales = torch.tensor(rng.integers(122, 129, (experts, rows, columns // 32)),
                              dtype=torch.uint8)
        del state[key]
        state[key + "_blocks"], state[key + "_scales"] = blocks, scales
        model.state_dict()[key].copy_(convert_moe_packed_tensors(blocks, scales,
                                                                 dtype=torch.float32))
    st.save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "model.safetensors")
    values = {**config.to_dict(), "quantization_config": {"quant_method": "mxfp4"}}
    (tmp_path / "config.json").write_text(json.dumps(values))
    prompt = torch.tensor([[3, 14, 15, 9, 2, 6, 31]])
    with torch.no_grad():
        want = model(prompt).logits.numpy()
    got = from_pretrained(tmp_path, backend=backend)(
        ember.tensor(prompt.numpy(), dtype=backend.default_int)).numpy()
    assert _rel(got, want) < 1e-5
    del state["model.layers.0.mlp.experts.down_proj_scales"]
    st.save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "model.safetensors")
    with pytest.raises(ember.SerializationError,
                       match="down_proj_blocks uint8.* needs model.layers.0.mlp.experts.down_"):
        from_pretrained(tmp_path, backend=backend)


def test_mixture_of_experts_dispatch_equals_the_compiled_dense_sum(backend):
    """Eagerly each expert computes only its tokens; compiled, every expert runs on every
    token weighted 0 where unchosen: the same logits, and the same gradients eagerly."""
    from ember.plugins.models import Mixtral
    ember.manual_seed(0)
    model = Mixtral(**{**LLAMA, "num_local_experts": 4, "num_experts_per_tok": 2})
    model.eval()
    ids = ember.tensor(np.random.default_rng(1).integers(0, 64, (2, 7)), dtype=backend.default_int)
    eager = model(ids).numpy()
    compiled = ember.compile(lambda t: model(t))
    compiled(ids)
    assert _rel(compiled(ids).numpy(), eager) < 1e-6
