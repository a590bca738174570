"""T5 against transformers' T5ForConditionalGeneration (small random models saved by
transformers and loaded by ember) on every backend: T5's ReLU network with the tied,
scaled head and Flan's gated GELU with an untied head, padding masks, logits, every
parameter's gradient, and greedy decoding with the cache."""

import numpy as np
import pytest

import ember
from ember.plugins.models import T5ForConditionalGeneration, from_pretrained

from .transformers_oracle import assert_outputs_and_gradients_match, greedy_reference, rel

torch = pytest.importorskip("torch", reason="PyTorch runs the reference model")
transformers = pytest.importorskip("transformers", reason="transformers is the reference")

BASE = dict(vocab_size=61, d_model=32, d_kv=8, d_ff=40, num_layers=2, num_decoder_layers=3,
            num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
            dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
KINDS = {"t5": dict(BASE), "flan": dict(BASE, feed_forward_proj="gated-gelu",
                                        tie_word_embeddings=False)}


@pytest.fixture(scope="module", params=sorted(KINDS))
def checkpoint(request, tmp_path_factory):
    torch.manual_seed(0)
    reference = transformers.T5ForConditionalGeneration(
        transformers.T5Config(**KINDS[request.param])).eval()
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory)
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 61, (2, 30))          # past max_distance: the far buckets too
    mask = np.ones((2, 30), dtype=np.int64)
    mask[1, 22:] = 0
    target = rng.integers(2, 61, (2, 6))
    target[:, 0] = 0
    return reference, directory, ids, mask, target


def test_logits_and_gradients_match_transformers(backend, checkpoint):
    reference, directory, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    assert isinstance(model, T5ForConditionalGeneration)
    want = reference(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                     decoder_input_ids=torch.tensor(target)).logits
    got = model(ember.tensor(ids), ember.tensor(target), attention_mask=mask)
    grads = assert_outputs_and_gradients_match(model, reference, got, want)
    assert len(grads) == len(list(model.parameters()))


def test_greedy_decoding_matches_a_greedy_loop_in_transformers(backend, checkpoint):
    reference, directory, ids, mask, _ = checkpoint
    model = from_pretrained(directory)
    tokens = model.generate(ember.tensor(ids), max_new_tokens=7, attention_mask=mask,
                            eos_token_id=-1).numpy()
    np.testing.assert_array_equal(tokens, greedy_reference(
        reference, 0, 7, input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)))


def test_t5_round_trips_and_refuses_what_it_cannot_run(checkpoint, tmp_path):
    _, directory, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    model.save_pretrained(tmp_path)
    again = from_pretrained(tmp_path)
    np.testing.assert_array_equal(again(ember.tensor(ids), ember.tensor(target)).numpy(),
                                  model(ember.tensor(ids), ember.tensor(target)).numpy())
    with pytest.raises(ember.ShapeError, match="attention_mask must have"):
        model(ember.tensor(ids), ember.tensor(target), attention_mask=mask[:, :5])
    with pytest.raises(ember.ShapeError, match=r"\(batch, tokens\) integers"):
        model(ember.tensor(ids[0]), ember.tensor(target))
    with pytest.raises(ValueError, match="feed_forward_proj"):
        T5ForConditionalGeneration(feed_forward_proj="gated-gelu-new")


def test_an_untied_head_as_flan_checkpoints_hold_it(tmp_path):
    """Flan-T5 and T5 v1.1 on the Hub: tie_word_embeddings false and their own lm_head
    (transformers 5 writes its models tied, so this file is written here)."""
    import json

    from safetensors.numpy import save_file
    torch.manual_seed(1)
    reference = transformers.T5ForConditionalGeneration(
        transformers.T5Config(**KINDS["flan"])).eval()
    reference.lm_head.weight = torch.nn.Parameter(torch.randn_like(reference.lm_head.weight))
    save_file({k: np.ascontiguousarray(v.detach().numpy())
               for k, v in reference.state_dict().items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5", **KINDS["flan"]}))
    model = from_pretrained(tmp_path)
    assert not model.config.tie_word_embeddings and not model.config.scale_decoder_outputs
    ids, target = np.arange(2, 14).reshape(2, 6), np.array([[0, 5, 9], [0, 3, 3]])
    want = reference(input_ids=torch.tensor(ids), decoder_input_ids=torch.tensor(target)).logits
    assert rel(model(ember.tensor(ids), ember.tensor(target)).numpy(),
               want.detach().numpy()) < 2e-5
