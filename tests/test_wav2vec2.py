"""Wav2Vec2ForCTC against transformers (small random models saved by transformers and
loaded by ember) on every backend: the base layout (GroupNorm, post-norm) and the large
one (LayerNorm convolutions, stable pre-norm), logits (of padded batches too), every
parameter's gradient, the positional convolution's weight norm in both key layouts,
SpecAugment, and greedy CTC decoding."""

import numpy as np
import pytest

import ember
from ember.plugins.models import Wav2Vec2ForCTC, decode_ctc, from_pretrained, normalize_audio

from .transformers_oracle import assert_outputs_and_gradients_match, rel

torch = pytest.importorskip("torch", reason="PyTorch runs the reference model")
transformers = pytest.importorskip("transformers", reason="transformers is the reference")

BASE = dict(vocab_size=12, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=48, conv_dim=(16, 16, 16), conv_stride=(5, 2, 2),
            conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4, hidden_dropout=0.0, activation_dropout=0.0,
            attention_dropout=0.0, final_dropout=0.0, feat_proj_dropout=0.0)
KINDS = {"base": BASE, "large": dict(BASE, feat_extract_norm="layer", do_stable_layer_norm=True,
                                     conv_bias=True, num_conv_pos_embeddings=15)}


@pytest.fixture(scope="module", params=sorted(KINDS))
def checkpoint(request, tmp_path_factory):
    torch.manual_seed(0)
    reference = transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config(**KINDS[request.param]))
    reference.eval()
    directory = tmp_path_factory.mktemp(request.param)
    reference.save_pretrained(directory)
    audio = normalize_audio(np.random.default_rng(0).standard_normal((2, 800)))
    return reference, directory, audio


def test_logits_and_gradients_match_transformers(backend, checkpoint):
    reference, directory, audio = checkpoint
    model = from_pretrained(directory)
    assert isinstance(model, Wav2Vec2ForCTC)
    want = reference(torch.tensor(audio)).logits
    got = model(ember.tensor(audio))
    grads = assert_outputs_and_gradients_match(model, reference, got, want)
    assert "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0" in grads
    assert len(grads) == len(list(model.parameters())) - 1     # all but masked_spec_embed
    assert decode_ctc(got) == decode_ctc(want.detach().numpy())


def test_older_weight_norm_keys_load(checkpoint, tmp_path):
    """Checkpoints written before parametrizations keep weight_g and weight_v."""
    import json

    from safetensors.numpy import save_file
    reference, directory, audio = checkpoint
    state = {k.replace("parametrizations.weight.original0", "weight_g")
              .replace("parametrizations.weight.original1", "weight_v"):
             np.ascontiguousarray(v.detach().numpy()) for k, v in reference.state_dict().items()}
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    got = from_pretrained(tmp_path)(ember.tensor(audio))
    want = reference(torch.tensor(audio)).logits
    assert rel(got.numpy(), want.detach().numpy()) < 2e-5
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "wav2vec2"


def test_wav2vec2_refuses_what_it_cannot_run(checkpoint):
    _, directory, _ = checkpoint
    model = from_pretrained(directory)
    with pytest.raises(ember.ShapeError, match=r"\(batch, samples\)"):
        model(ember.zeros((2, 10)))
    with pytest.raises(ember.ShapeError, match=r"\(batch, samples\)"):
        model(ember.zeros(800))
    assert decode_ctc(np.array([[[0, 1], [0, 1], [1, 0], [0, 1]]])) == [[1, 1]]


def test_spec_augment_masks_about_the_share_it_asks_for_in_training_only():
    model = Wav2Vec2ForCTC(**dict(BASE, mask_time_prob=0.05, mask_time_length=10,
                                  mask_feature_prob=0.2, mask_feature_length=4)).wav2vec2
    x = ember.ones((4, 2000, 32))
    assert model.eval()._spec_augment(x) is x
    ember.manual_seed(0)
    out = model.train()._spec_augment(x).numpy()
    embed = model.masked_spec_embed.numpy()
    zeros = (out == 0).all(axis=1)                          # (batch, channels) masked
    frames = np.isclose(out, np.where(zeros[:, None, :], 0.0, embed)).all(axis=-1)
    share, want = frames.mean(), 1 - (1 - 0.05 / 10) ** 10
    assert abs(share - want) < 5 * np.sqrt(want * 10 / frames.size)
    assert 0 < zeros.mean() < 0.6


def test_padded_batches_match_transformers(backend, checkpoint):
    """An attention_mask over the samples: each example's padding frames are zeroed and
    kept out of attention, as in transformers."""
    reference, directory, audio = checkpoint
    model = from_pretrained(directory)
    mask = np.ones(audio.shape, dtype=np.int64)
    mask[1, 500:] = 0
    padded = np.where(mask == 1, audio, 0.0).astype(np.float32)
    want = reference(torch.tensor(padded), attention_mask=torch.tensor(mask)).logits
    got = model(ember.tensor(padded), attention_mask=mask)
    assert rel(got.numpy(), want.detach().numpy()) < 2e-5
    with pytest.raises(ember.ShapeError, match="attention_mask must have"):
        model(ember.tensor(padded), attention_mask=mask[:, :10])
