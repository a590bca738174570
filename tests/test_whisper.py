"""Whisper against transformers' WhisperForConditionalGeneration (a small random model
saved by transformers and loaded by ember) on every backend: logits, every parameter's
gradient, greedy decoding with the cache, and the log-mel features against
transformers' WhisperFeatureExtractor."""

import numpy as np
import pytest

import ember
from ember.plugins.models import (WhisperFeatureExtractor, WhisperForConditionalGeneration,
                                  from_pretrained)

from .transformers_oracle import assert_outputs_and_gradients_match, greedy_reference, rel

torch = pytest.importorskip("torch", reason="PyTorch runs the reference model")
transformers = pytest.importorskip("transformers", reason="transformers is the reference")

CONFIG = dict(vocab_size=97, num_mel_bins=16, d_model=32, encoder_layers=2,
              encoder_attention_heads=4, encoder_ffn_dim=48, decoder_layers=2,
              decoder_attention_heads=4, decoder_ffn_dim=48, max_source_positions=12,
              max_target_positions=20, pad_token_id=0, bos_token_id=1, eos_token_id=2,
              decoder_start_token_id=1, attention_dropout=0.0, dropout=0.0)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A random transformers Whisper, saved as transformers saves it, and inputs."""
    torch.manual_seed(0)
    reference = transformers.WhisperForConditionalGeneration(
        transformers.WhisperConfig(**CONFIG)).eval()
    directory = tmp_path_factory.mktemp("whisper")
    reference.save_pretrained(directory)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2, 16, 24)).astype(np.float32)
    ids = rng.integers(3, 97, (2, 5))
    ids[:, 0] = 1
    return reference, directory, features, ids


def test_logits_and_gradients_match_transformers(backend, checkpoint):
    reference, directory, features, ids = checkpoint
    model = from_pretrained(directory)
    assert isinstance(model, WhisperForConditionalGeneration)
    want = reference(input_features=torch.tensor(features),
                     decoder_input_ids=torch.tensor(ids)).logits
    got = model(ember.tensor(features), ember.tensor(ids))
    grads = assert_outputs_and_gradients_match(model, reference, got, want)
    assert len(grads) == len(list(model.parameters()))
    assert "proj_out.weight" not in grads                  # tied to the token embedding


def test_greedy_decoding_matches_a_greedy_loop_in_transformers(backend, checkpoint):
    reference, directory, features, _ = checkpoint
    model = from_pretrained(directory)
    tokens = model.generate(ember.tensor(features), max_new_tokens=8, eos_token_id=-1).numpy()
    np.testing.assert_array_equal(tokens, greedy_reference(
        reference, 1, 8, input_features=torch.tensor(features)))


def test_features_match_transformers_feature_extractor(backend):
    rng = np.random.default_rng(3)
    waves = [rng.standard_normal(8000).astype(np.float32) * 0.1,
             np.sin(np.arange(12000) * 0.05).astype(np.float32)]
    args = dict(feature_size=16, chunk_length=1)
    got = WhisperFeatureExtractor(**args)(waves)["input_features"]
    want = transformers.WhisperFeatureExtractor(**args)(waves, sampling_rate=16000,
                                                         return_tensors="np")["input_features"]
    assert got.shape == want.shape == (2, 16, 100)
    assert rel(got.numpy(), want) < 5e-5     # float32 here, float64 there (as torch vs numpy)


def test_whisper_refuses_what_it_cannot_run(checkpoint, tmp_path):
    _, directory, features, ids = checkpoint
    model = from_pretrained(directory)
    with pytest.raises(ember.ShapeError, match=r"input_features must be \(batch, 16, 24\)"):
        model(ember.tensor(features[..., :20]), ember.tensor(ids))
    with pytest.raises(ember.ShapeError, match="max_target_positions"):
        model(ember.tensor(features), ember.tensor(np.ones((1, 21), dtype=np.int64)))
    with pytest.raises(ValueError, match="resample it first"):
        WhisperFeatureExtractor()(np.zeros(100), sampling_rate=8000)
    model.save_pretrained(tmp_path)
    again = from_pretrained(tmp_path)
    np.testing.assert_array_equal(again(ember.tensor(features), ember.tensor(ids)).numpy(),
                                  model(ember.tensor(features), ember.tensor(ids)).numpy())


def test_suppressed_tokens_are_never_chosen(checkpoint):
    """generate's suppress_tokens (never) and begin_suppress_tokens (not first), as the
    config or generation_config.json of a Whisper checkpoint lists them."""
    _, directory, features, _ = checkpoint
    model = from_pretrained(directory)
    audio = ember.tensor(features)
    free = model.generate(audio, max_new_tokens=4, eos_token_id=-1).numpy()
    firsts = sorted(set(free[:, 1].tolist()))
    late = model.generate(audio, max_new_tokens=4, eos_token_id=-1,
                          begin_suppress_tokens=firsts).numpy()
    assert not np.isin(late[:, 1], firsts).any()
    chosen = sorted(set(free[:, 1:].ravel().tolist()))
    never = model.generate(audio, max_new_tokens=4, eos_token_id=-1,
                           suppress_tokens=chosen).numpy()
    assert not np.isin(never[:, 1:], chosen).any()
