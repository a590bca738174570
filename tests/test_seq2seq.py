"""The text encoder-decoders against transformers (small random models saved by
transformers and loaded by ember) on every backend: T5 (ReLU, tied and scaled head) and
Flan-T5 (gated GELU, unscaled), BART (post-norm), mBART (pre-norm, scaled embeddings,
final norms) and Marian (fixed sinusoidal positions); padding masks, logits (BART's with
final_logits_bias), every parameter's gradient, greedy decoding with the cache, save and
load, and what each refuses. T5's inputs run past relative_attention_max_distance, so
its far buckets are used too."""

import json

import numpy as np
import pytest

import ember
from ember.plugins.models import (BartForConditionalGeneration, T5ForConditionalGeneration,
                                  from_pretrained)

from .transformers_oracle import assert_outputs_and_gradients_match, greedy_reference, rel

torch = pytest.importorskip("torch", reason="PyTorch runs the reference model")
transformers = pytest.importorskip("transformers", reason="transformers is the reference")

T5 = dict(vocab_size=61, d_model=32, d_kv=8, d_ff=40, num_layers=2, num_decoder_layers=3,
          num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
          dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
BART = dict(vocab_size=61, max_position_embeddings=32, d_model=32, encoder_layers=2,
            encoder_attention_heads=4, encoder_ffn_dim=40, decoder_layers=2,
            decoder_attention_heads=4, decoder_ffn_dim=40, dropout=0.0, pad_token_id=1,
            bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
#: name -> (transformers' config and model classes, fields, ember's class)
KINDS = {
    "t5": ("T5Config", "T5ForConditionalGeneration", T5, T5ForConditionalGeneration),
    "flan": ("T5Config", "T5ForConditionalGeneration",
             dict(T5, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
             T5ForConditionalGeneration),
    "bart": ("BartConfig", "BartForConditionalGeneration", BART, BartForConditionalGeneration),
    "mbart": ("MBartConfig", "MBartForConditionalGeneration",
              dict(BART, scale_embedding=True, activation_function="relu"),
              BartForConditionalGeneration),
    "marian": ("MarianConfig", "MarianMTModel",
               dict(BART, scale_embedding=True, activation_function="swish"),
               BartForConditionalGeneration),
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def checkpoint(request, tmp_path_factory):
    config_name, model_name, fields, ours = KINDS[request.param]
    torch.manual_seed(0)
    reference = getattr(transformers, model_name)(getattr(transformers, config_name)(**fields))
    reference.eval()
    if hasattr(reference, "final_logits_bias"):
        with torch.no_grad():       # a bias to see (transformers starts it at zeros)
            reference.final_logits_bias.normal_()
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 61, (2, 30))
    mask = np.ones((2, 30), dtype=np.int64)
    mask[1, 22:] = 0
    start = fields["decoder_start_token_id"]
    target = rng.integers(3, 61, (2, 6))
    target[:, 0] = start
    return reference, directory, ours, start, ids, mask, target


def test_logits_and_gradients_match_transformers(backend, checkpoint):
    reference, directory, ours, _, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    assert isinstance(model, ours)
    want = reference(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                     decoder_input_ids=torch.tensor(target)).logits
    got = model(ember.tensor(ids), ember.tensor(target), attention_mask=mask)
    grads = assert_outputs_and_gradients_match(model, reference, got, want)
    assert len(grads) == len(list(model.parameters()))


def test_greedy_decoding_matches_a_greedy_loop_in_transformers(backend, checkpoint):
    reference, directory, _, start, ids, mask, _ = checkpoint
    model = from_pretrained(directory)
    tokens = model.generate(ember.tensor(ids), max_new_tokens=7, attention_mask=mask,
                            eos_token_id=-1).numpy()
    np.testing.assert_array_equal(tokens, greedy_reference(
        reference, start, 7, input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)))


def test_round_trips_and_refusals(checkpoint, tmp_path):
    _, directory, ours, _, ids, mask, target = checkpoint
    model = from_pretrained(directory)
    model.save_pretrained(tmp_path)
    again = from_pretrained(tmp_path)
    np.testing.assert_array_equal(again(ember.tensor(ids), ember.tensor(target)).numpy(),
                                  model(ember.tensor(ids), ember.tensor(target)).numpy())
    with pytest.raises(ember.ShapeError, match="attention_mask must have"):
        model(ember.tensor(ids), ember.tensor(target), attention_mask=mask[:, :5])
    with pytest.raises(ember.ShapeError, match=r"\(batch, tokens\) integers"):
        model(ember.tensor(ids[0]), ember.tensor(target))
    if ours is BartForConditionalGeneration:
        with pytest.raises(ember.ShapeError, match="max_position_embeddings 32"):
            model(ember.tensor(np.ones((1, 33), dtype=np.int64)), ember.tensor(target))
    else:
        with pytest.raises(ValueError, match="feed_forward_proj"):
            T5ForConditionalGeneration(feed_forward_proj="gated-gelu-new")


def test_an_untied_t5_head_as_flan_checkpoints_hold_it(tmp_path):
    """Flan-T5 and T5 v1.1 on the Hub: tie_word_embeddings false and their own lm_head
    (transformers 5 writes its models tied, so this file is written here)."""
    from safetensors.numpy import save_file
    torch.manual_seed(1)
    fields = KINDS["flan"][2]
    reference = transformers.T5ForConditionalGeneration(transformers.T5Config(**fields)).eval()
    reference.lm_head.weight = torch.nn.Parameter(torch.randn_like(reference.lm_head.weight))
    save_file({k: np.ascontiguousarray(v.detach().numpy())
               for k, v in reference.state_dict().items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5", **fields}))
    model = from_pretrained(tmp_path)
    assert not model.config.tie_word_embeddings and not model.config.scale_decoder_outputs
    ids, target = np.arange(2, 14).reshape(2, 6), np.array([[0, 5, 9], [0, 3, 3]])
    want = reference(input_ids=torch.tensor(ids), decoder_input_ids=torch.tensor(target)).logits
    assert rel(model(ember.tensor(ids), ember.tensor(target)).numpy(),
               want.detach().numpy()) < 2e-5
