"""GPT-NeoX (Pythia's layout) against Hugging Face transformers (the oracle, where
installed): logits and greedy continuations on every backend, parallel and sequential
residuals, partial, whole and scaled rotations, tied and untied heads; training gradients;
checkpoints both ways, transformers 4's configs and older checkpoints' buffers; bad
input."""

import json

import numpy as np
import pytest

import ember
from ember.plugins.models import GPTNeoX, GPTNeoXConfig, KeyValueCache, from_pretrained

from .transformers_oracle import assert_gradients_close, rel

SMALL = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "max_position_embeddings": 32}
#: (name, config changes): Pythia's (parallel residual, a quarter of each head rotating),
#: sequential with half rotating, and tied with all rotating, linearly scaled, no biases
CASES = [("parallel", {}),
         ("sequential", {"use_parallel_residual": False, "rotary_pct": 0.5,
                         "hidden_act": "gelu_new"}),
         ("tied", {"tie_word_embeddings": True, "rotary_pct": 1.0, "attention_bias": False,
                   "rope_parameters": {"rope_type": "linear", "factor": 2.0,
                                       "rope_theta": 500.0, "partial_rotary_factor": 1.0}})]
PROMPT = np.array([[3, 14, 15, 9, 2, 6, 31], [5, 3, 5, 8, 9, 7, 60]])


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_neox(request, tmp_path_factory):
    """A random GPTNeoXForCausalLM, its weights spread out and its biases and norms moved,
    saved by save_pretrained; its logits and greedy continuation of PROMPT."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, extra = request.param
    torch.manual_seed(0)
    model = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(**SMALL, **extra)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0) if p.ndim == 2 else p.add_(0.3 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_neox_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    prompt = torch.tensor(PROMPT)
    with torch.no_grad():
        logits = model(prompt).logits.numpy()
        greedy = model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0,
                                eos_token_id=None, attention_mask=torch.ones_like(prompt))
    return directory, logits, greedy.numpy()


def test_gpt_neox_matches_transformers(backend, hf_neox):
    """Logits within 1e-4 of transformers' (relative to the largest) and the same greedy
    continuation, through the key/value cache, on every backend."""
    directory, logits, greedy = hf_neox
    model = from_pretrained(directory, backend=backend)
    assert type(model) is GPTNeoX and not model.training
    ids = ember.tensor(PROMPT, dtype=backend.default_int)
    assert np.abs(logits).max() > 1.0
    assert rel(model(ids).numpy(), logits) < 1e-4
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0).numpy(), greedy)


def test_gpt_neox_saves_what_transformers_loads(hf_neox, tmp_path):
    """ember writes the keys of transformers' own save_pretrained (embed_out), and
    transformers loads them to the same logits."""
    import torch
    import transformers
    directory, logits, _ = hf_neox
    from_pretrained(directory).save_pretrained(tmp_path)
    assert sorted(ember.load(tmp_path / "model.safetensors")) == \
        sorted(ember.load(directory / "model.safetensors"))
    again = transformers.GPTNeoXForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(PROMPT)).logits.numpy(), logits)


def test_gpt_neox_training_gradients_match_transformers(tmp_path):
    """The next-token loss's gradients in float64: every parameter within 1e-4 of
    PyTorch's (sequential residual, half of each head rotating)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    theirs = transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
        **SMALL, **CASES[1][1])).double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    ids = torch.tensor(PROMPT)
    theirs(ids, labels=ids).loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    x = ember.tensor(PROMPT)
    logits = ours(x)[:, :-1]
    cross_entropy(logits.reshape(-1, SMALL["vocab_size"]), x[:, 1:].reshape(-1)).backward()
    want = {k.replace("lm_head.", "embed_out."): p.grad.numpy()
            for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_gpt_neox_reads_transformers_4_configs_and_older_checkpoints(tmp_path):
    """A config of transformers 4 (rotary_pct, rotary_emb_base, rope_scaling; no
    rope_parameters) and a checkpoint with the causal-mask and inverse-frequency buffers
    of older ones and transformers 5's lm_head load as the same model."""
    model = GPTNeoX(**SMALL, rotary_pct=0.5, rotary_emb_base=300.0,
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
    ids = ember.tensor(PROMPT)
    np.testing.assert_array_equal(again(ids).numpy(), model(ids).numpy())


def test_gpt_neox_cache_equals_recomputing_and_bad_input_is_named(backend):
    ember.manual_seed(0)
    model = GPTNeoX(**SMALL).eval()
    ids = ember.tensor(np.random.default_rng(0).integers(0, 64, (2, 9)), dtype=backend.default_int)
    full = model(ids).numpy()
    cache = KeyValueCache()
    pieces = [model(ids[:, a:b], cache).numpy() for a, b in ((0, 4), (4, 5), (5, 9))]
    assert rel(np.concatenate(pieces, axis=1), full) < 1e-5
    with pytest.raises(ember.ShapeError, match="sequence of 33 tokens is longer than "
                                               "max_position_embeddings 32"):
        model(ember.zeros(1, 33, dtype=ember.int32))
    with pytest.raises(ember.ShapeError, match="num_attention_heads 5 does not divide "
                                               "hidden_size 32"):
        GPTNeoXConfig(**{**SMALL, "num_attention_heads": 5})
    with pytest.raises(ember.ShapeError, match="head size 8 times rotary_pct 0.1"):
        GPTNeoXConfig(**SMALL, rotary_pct=0.1)
    with pytest.raises(ember.SerializationError, match="model_type 'llama' is not gpt_neox"):
        GPTNeoXConfig.from_dict({"model_type": "llama"})
