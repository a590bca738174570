"""Phi (phi-1 to phi-2) against Hugging Face transformers (the oracle, where installed):
logits and greedy continuations on every backend, with grouped key/value heads, per-head
query and key LayerNorms and partial, whole and scaled rotations; training gradients;
checkpoints both ways; bad input."""

import numpy as np
import pytest

import ember
from ember.plugins.models import KeyValueCache, Phi, PhiConfig, from_pretrained

from .transformers_oracle import assert_gradients_close, rel

SMALL = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "max_position_embeddings": 32}
#: (name, config changes): phi-2's shape (half of each head rotating), grouped heads with
#: query/key LayerNorms and a quarter rotating, and a whole, linearly scaled rotation
CASES = [("phi-2", {}),
         ("grouped", {"num_key_value_heads": 2, "qk_layernorm": True,
                      "partial_rotary_factor": 0.25}),
         ("scaled", {"rope_parameters": {"rope_type": "linear", "factor": 2.0,
                                         "rope_theta": 300.0, "partial_rotary_factor": 1.0}})]
PROMPT = np.array([[3, 14, 15, 9, 2, 6, 31], [5, 3, 5, 8, 9, 7, 60]])


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_phi(request, tmp_path_factory):
    """A random PhiForCausalLM, its weights spread out and its biases and norms moved,
    saved by save_pretrained; its logits and greedy continuation of PROMPT."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, extra = request.param
    torch.manual_seed(0)
    model = transformers.PhiForCausalLM(transformers.PhiConfig(**SMALL, **extra)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0) if p.ndim == 2 else p.add_(0.3 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_phi_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    prompt = torch.tensor(PROMPT)
    with torch.no_grad():
        logits = model(prompt).logits.numpy()
        greedy = model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0,
                                eos_token_id=None, attention_mask=torch.ones_like(prompt))
    return directory, logits, greedy.numpy()


def test_phi_matches_transformers(backend, hf_phi):
    """Logits within 1e-4 of transformers' (relative to the largest) and the same greedy
    continuation, through the key/value cache, on every backend."""
    directory, logits, greedy = hf_phi
    model = from_pretrained(directory, backend=backend)
    assert type(model) is Phi and not model.training
    ids = ember.tensor(PROMPT, dtype=backend.default_int)
    assert np.abs(logits).max() > 1.0
    assert rel(model(ids).numpy(), logits) < 1e-4
    np.testing.assert_array_equal(model.generate(ids, 12, temperature=0).numpy(), greedy)


def test_phi_saves_what_transformers_loads(hf_phi, tmp_path):
    import torch
    import transformers
    directory, logits, _ = hf_phi
    from_pretrained(directory).save_pretrained(tmp_path)
    assert sorted(ember.load(tmp_path / "model.safetensors")) == \
        sorted(ember.load(directory / "model.safetensors"))
    again = transformers.PhiForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        np.testing.assert_array_equal(again(torch.tensor(PROMPT)).logits.numpy(), logits)


def test_phi_training_gradients_match_transformers(tmp_path):
    """The next-token loss's gradients in float64, grouped heads with query/key norms:
    every parameter within 1e-4 of PyTorch's."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    theirs = transformers.PhiForCausalLM(transformers.PhiConfig(**SMALL, **CASES[1][1]))
    theirs = theirs.double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    ids = torch.tensor(PROMPT)
    theirs(ids, labels=ids).loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    x = ember.tensor(PROMPT)
    logits = ours(x)[:, :-1]
    cross_entropy(logits.reshape(-1, SMALL["vocab_size"]), x[:, 1:].reshape(-1)).backward()
    want = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_phi_cache_equals_recomputing_and_bad_input_is_named(backend, tmp_path):
    ember.manual_seed(0)
    model = Phi(**SMALL, num_key_value_heads=2).eval()
    ids = ember.tensor(np.random.default_rng(0).integers(0, 64, (2, 9)), dtype=backend.default_int)
    full = model(ids).numpy()
    cache = KeyValueCache()
    pieces = [model(ids[:, a:b], cache).numpy() for a, b in ((0, 4), (4, 5), (5, 9))]
    assert rel(np.concatenate(pieces, axis=1), full) < 1e-5
    with pytest.raises(ember.ShapeError, match="sequence of 33 tokens is longer than "
                                               "max_position_embeddings 32"):
        model(ember.zeros(1, 33, dtype=ember.int32))
    with pytest.raises(ember.ShapeError, match="num_key_value_heads 3 does not divide "
                                               "num_attention_heads 4"):
        PhiConfig(**SMALL, num_key_value_heads=3)
    with pytest.raises(ember.ShapeError, match="head_dim 8 times partial_rotary_factor 0.1"):
        PhiConfig(**SMALL, partial_rotary_factor=0.1)
    with pytest.raises(ember.SerializationError, match="tie_word_embeddings=true is not "
                                                       "supported"):
        PhiConfig.from_dict({**SMALL, "tie_word_embeddings": True})
