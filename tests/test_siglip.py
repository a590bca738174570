"""SigLIP (both towers, attention pooling, the sigmoid logits) against Hugging Face
transformers (the oracle, where installed): outputs, resized positions, checkpoints both
ways and the sigmoid loss's gradients."""

import numpy as np
import pytest

import ember
from ember.plugins.models import SiglipModel, SiglipVisionModel, from_pretrained

from .test_clip import _inputs, _pixels
from .transformers_oracle import assert_gradients_close, rel

TEXT = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 12, "projection_size": 24,
        "bos_token_id": 62, "eos_token_id": 63}
VISION = {"hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
          "num_attention_heads": 4, "image_size": 16, "patch_size": 4}
CASES = [("siglip", "SiglipModel"), ("vision", "SiglipVisionModel"), ("text", "SiglipTextModel")]


def _theirs(torch, model, name, interpolate=False):
    ids, mask, _ = (torch.tensor(a) for a in _inputs())
    pixels = torch.tensor(_pixels(interpolate))
    with torch.no_grad():
        if name == "siglip":
            out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                        interpolate_pos_encoding=interpolate)
            return [out.logits_per_image, out.logits_per_text, out.text_embeds, out.image_embeds]
        out = model(pixel_values=pixels, interpolate_pos_encoding=interpolate) \
            if name == "vision" else model(input_ids=ids, attention_mask=mask)
    return [out.last_hidden_state, out.pooler_output]


def _ours(model, name, interpolate=False):
    ids, mask, _ = _inputs()
    backend = next(model.parameters()).backend
    ids, mask = (ember.tensor(a, dtype=backend.default_int, backend=backend) for a in (ids, mask))
    pixels = ember.tensor(_pixels(interpolate), backend=backend)
    if name == "siglip":
        return model(ids, pixels, attention_mask=mask, interpolate_pos_encoding=interpolate)
    if name == "vision":
        return model(pixels, interpolate_pos_encoding=interpolate)
    return model(ids, attention_mask=mask)


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_siglip(request, tmp_path_factory):
    """A random transformers SigLIP model, its weights spread out, saved by
    save_pretrained; its outputs, and at 20 x 24 with resized positions."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, cls = request.param
    torch.manual_seed(0)
    text, vision = transformers.SiglipTextConfig(**TEXT), transformers.SiglipVisionConfig(**VISION)
    config = {"siglip": transformers.SiglipConfig(text_config=text.to_dict(),
                                                  vision_config=vision.to_dict()),
              "vision": vision, "text": text}[name]
    model = getattr(transformers, cls)(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0) if p.ndim >= 2 and p.shape[0] > 1 else p.add_(0.2 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_siglip_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    want = [t.numpy() for t in _theirs(torch, model, name)]
    resized = None if name == "text" else [t.numpy() for t in _theirs(torch, model, name, True)]
    return name, cls, directory, want, resized


def test_siglip_matches_transformers(backend, hf_siglip):
    name, cls, directory, want, resized = hf_siglip
    model = from_pretrained(directory, backend=backend)
    assert type(model).__name__ == cls and not model.training
    for got, expected in ((_ours(model, name), want),
                          (resized and _ours(model, name, True), resized)):
        if expected is None:
            continue
        for g, w in zip(got, expected):
            assert g.shape == w.shape and np.abs(w).max() > 0.05
            assert rel(g.numpy(), w) < 1e-4, name


def test_siglip_saves_what_transformers_loads(hf_siglip, tmp_path):
    import torch
    import transformers
    name, cls, directory, want, _ = hf_siglip
    from_pretrained(directory).save_pretrained(tmp_path)
    assert sorted(ember.load(tmp_path / "model.safetensors")) == \
        sorted(ember.load(directory / "model.safetensors"))
    again = getattr(transformers, cls).from_pretrained(tmp_path).eval()
    for g, w in zip(_theirs(torch, again, name), want):
        np.testing.assert_array_equal(g.numpy(), w)


def test_siglip_sigmoid_loss_gradients_match_transformers(tmp_path):
    """transformers' return_loss (-log sigmoid of the logits, +1 on the diagonal and -1
    off it, summed over texts, averaged over images): every parameter's gradient within
    1e-4 of PyTorch's, in float64."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    theirs = transformers.SiglipModel(transformers.SiglipConfig(
        text_config=TEXT, vision_config=VISION)).double().train()
    with torch.no_grad():
        theirs.logit_scale.fill_(1.5)
        theirs.logit_bias.fill_(-0.5)
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    ids, mask, _ = _inputs()
    pixels = _pixels().astype(np.float64)
    theirs(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
           pixel_values=torch.tensor(pixels), return_loss=True).loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    per_text = ours(ember.tensor(ids), ember.tensor(pixels), attention_mask=ember.tensor(mask))[1]
    labels = 2 * ember.eye(2, dtype=ember.float64) - 1
    (-ember.log_sigmoid(labels * per_text).sum() / 2).backward()
    want = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_siglip_towers_load_alone_and_refuse_bad_input(tmp_path):
    whole = SiglipModel(text_config=TEXT, vision_config=VISION).eval()
    whole.save_pretrained(tmp_path)
    pixels = ember.tensor(_pixels())
    vision = SiglipVisionModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(vision(pixels)[1].numpy(),
                                  whole.get_image_features(pixels).numpy())
    assert SiglipVisionModel(**VISION, vision_use_head=False)(pixels)[1] is None
    with pytest.raises(ember.ShapeError, match="the model's 16 x 16"):
        vision(ember.zeros((1, 3, 16, 20)))
    with pytest.raises(ember.ShapeError, match="longer than the 12 positions"):
        whole.text_model(ember.zeros((1, 13), dtype=ember.int64))
