"""BART, mBART and Marian against transformers (small random models saved by transformers
and loaded by ember) on every backend: BART's post-norm layers, mBART's pre-norm ones with
scaled embeddings and final norms, Marian's fixed sinusoidal positions, padding masks,
logits with final_logits_bias, every parameter's gradient, and greedy decoding with the
cache."""

import numpy as np
import pytest

import ember
from ember.plugins.models import BartForConditionalGeneration, from_pretrained

from .transformers_oracle import assert_outputs_and_gradients_match, greedy_reference

torch = pytest.importorskip("torch", reason="PyTorch runs the reference model")
transformers = pytest.importorskip("transformers", reason="transformers is the reference")

BASE = dict(vocab_size=53, max_position_embeddings=24, d_model=32, encoder_layers=2,
            encoder_attention_heads=4, encoder_ffn_dim=40, decoder_layers=2,
            decoder_attention_heads=4, decoder_ffn_dim=40, dropout=0.0, pad_token_id=1,
            bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
KINDS = {"bart": (transformers.BartConfig, transformers.BartForConditionalGeneration, BASE),
         "mbart": (transformers.MBartConfig, transformers.MBartForConditionalGeneration,
                   dict(BASE, scale_embedding=True, activation_function="relu")),
         "marian": (transformers.MarianConfig, transformers.MarianMTModel,
                    dict(BASE, scale_embedding=True, activation_function="swish"))}


@pytest.fixture(scope="module", params=sorted(KINDS))
def checkpoint(request, tmp_path_factory):
    config_class, model_class, fields = KINDS[request.param]
    torch.manual_seed(0)
    reference = model_class(config_class(**fields)).eval()
    with torch.no_grad():       # a bias to see (transformers starts it at zeros)
        reference.final_logits_bias.normal_()
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 53, (2, 12))
    mask = np.ones((2, 12), dtype=np.int64)
    mask[1, 8:] = 0
    target = rng.integers(3, 53, (2, 6))
    target[:, 0] = 2
    return reference, directory, ids, mask, target


def test_logits_and_gradients_match_transformers(backend, checkpoint):
    reference, directory, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    assert isinstance(model, BartForConditionalGeneration)
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
        reference, 2, 7, input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)))


def test_bart_round_trips_and_refuses_what_it_cannot_run(checkpoint, tmp_path):
    _, directory, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    model.save_pretrained(tmp_path)
    again = from_pretrained(tmp_path)
    np.testing.assert_array_equal(again(ember.tensor(ids), ember.tensor(target)).numpy(),
                                  model(ember.tensor(ids), ember.tensor(target)).numpy())
    with pytest.raises(ember.ShapeError, match="max_position_embeddings 24"):
        model(ember.tensor(np.ones((1, 25), dtype=np.int64)), ember.tensor(target))
    with pytest.raises(ember.ShapeError, match="attention_mask must have"):
        model(ember.tensor(ids), ember.tensor(target), attention_mask=mask[:, :3])
