"""CLIP (both towers, their projections, the image-text logits) against Hugging Face
transformers (the oracle, where installed): outputs with padding, the end-of-text
summary (both of transformers' rules), resized position tables, checkpoints both ways,
fine-tuning gradients and bad input."""

import json

import numpy as np
import pytest

import ember
from ember.plugins.models import (CLIPModel, CLIPTextModel, CLIPVisionModel, ImageProcessor,
                                  from_pretrained)

from .transformers_oracle import assert_gradients_close, rel

TEXT = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 12, "bos_token_id": 62,
        "eos_token_id": 63, "projection_dim": 16}
VISION = {"hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
          "num_attention_heads": 4, "image_size": 16, "patch_size": 4, "projection_dim": 16}
#: (name, transformers class): the whole model, each tower with its projection (the text
#: one with the summary at the largest id, as checkpoints before transformers 4.31), and
#: a bare tower
CASES = [("clip", "CLIPModel"), ("text", "CLIPTextModelWithProjection"),
         ("vision", "CLIPVisionModelWithProjection"), ("bare-text", "CLIPTextModel")]
HF_HIDDEN = ("last_hidden_state", "pooler_output", "text_embeds", "image_embeds")



def _inputs():
    """Two texts padded with the end-of-text token (as CLIP's tokenizer pads), their mask,
    and two images."""
    ids = np.array([[62, 5, 9, 14, 7, 63, 63, 63], [62, 20, 63, 63, 63, 63, 63, 63]])
    mask = (np.arange(8) < np.array([[6], [3]])).astype(np.int64)
    pixels = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    return ids, mask, pixels


def _pixels(interpolate=False):
    """_inputs' two images, or (resized positions) two of 20 x 24."""
    if not interpolate:
        return _inputs()[2]
    return np.random.default_rng(1).standard_normal((2, 3, 20, 24)).astype(np.float32)


def _theirs(torch, model, name, interpolate=False):
    ids, mask, _ = _inputs()
    ids, mask, pixels = torch.tensor(ids), torch.tensor(mask), torch.tensor(_pixels(interpolate))
    with torch.no_grad():
        if name == "clip":
            out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask,
                        interpolate_pos_encoding=interpolate)
            return [out.logits_per_image, out.logits_per_text, out.text_embeds, out.image_embeds]
        out = model(pixel_values=pixels, interpolate_pos_encoding=interpolate) \
            if name == "vision" else model(input_ids=ids, attention_mask=mask)
    return [getattr(out, k) for k in ("text_embeds", "image_embeds", "pooler_output",
                                      "last_hidden_state") if getattr(out, k, None) is not None]


def _ours(model, name, interpolate=False):
    ids, mask, _ = _inputs()
    pixels = _pixels(interpolate)
    backend = next(model.parameters()).backend
    ids, mask = (ember.tensor(a, dtype=backend.default_int, backend=backend) for a in (ids, mask))
    pixels = ember.tensor(pixels, backend=backend)
    if name == "clip":
        return model(ids, pixels, attention_mask=mask, interpolate_pos_encoding=interpolate)
    if name == "vision":
        return model(pixels, interpolate_pos_encoding=interpolate)
    out = model(ids, attention_mask=mask)
    return out[::-1] if name == "bare-text" else out   # (pooled, hidden) as transformers'


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_clip(request, tmp_path_factory):
    """A random transformers CLIP model, its weights spread out, saved by save_pretrained;
    its outputs, and (where it has an image tower) at 20 x 24 with resized positions."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, cls = request.param
    torch.manual_seed(0)
    text = transformers.CLIPTextConfig(**{**TEXT, "eos_token_id": 2} if name == "text" else TEXT)
    vision = transformers.CLIPVisionConfig(**VISION)
    config = {"clip": lambda: transformers.CLIPConfig(text_config=text.to_dict(),
                                                      vision_config=vision.to_dict(),
                                                      projection_dim=16),
              "vision": lambda: vision}.get(name, lambda: text)()
    model = getattr(transformers, cls)(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0) if p.ndim >= 2 and p.shape[0] > 1 else p.add_(0.2 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_clip_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    want = [t.numpy() for t in _theirs(torch, model, name)]
    resized = [t.numpy() for t in _theirs(torch, model, name, interpolate=True)] \
        if name in ("clip", "vision") else None
    return name, cls, directory, want, resized


def test_clip_matches_transformers(backend, hf_clip):
    """from_pretrained builds the class the config names; every output within 1e-4 of
    transformers' (relative to the largest), padded texts and resized positions
    included."""
    name, cls, directory, want, resized = hf_clip
    model = from_pretrained(directory, backend=backend)
    assert type(model).__name__ == cls and not model.training
    for got, expected, interpolate in ((_ours(model, name), want, False),
                                       (resized and _ours(model, name, True), resized, True)):
        if expected is None:
            continue
        assert len(got) == len(expected)
        for g, w in zip(got, expected):
            assert g.shape == w.shape and np.abs(w).max() > 0.05
            assert rel(g.numpy(), w) < 1e-4, (name, interpolate)


def test_clip_saves_what_transformers_loads(hf_clip, tmp_path):
    """ember writes the keys transformers' save_pretrained writes, and transformers loads
    them to the same outputs."""
    import torch
    import transformers
    name, cls, directory, want, _ = hf_clip
    from_pretrained(directory).save_pretrained(tmp_path)
    assert sorted(ember.load(tmp_path / "model.safetensors")) == \
        sorted(ember.load(directory / "model.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [cls]
    again = getattr(transformers, cls).from_pretrained(tmp_path).eval()
    for g, w in zip(_theirs(torch, again, name), want):
        np.testing.assert_array_equal(g.numpy(), w)


def test_clip_towers_load_out_of_a_whole_checkpoint(tmp_path):
    """Each tower (bare or projected) reads its part of a CLIPModel checkpoint and gives
    what the whole model gives for it."""
    from ember.plugins.models import CLIPTextModelWithProjection, CLIPVisionModelWithProjection
    whole = CLIPModel(text_config=TEXT, vision_config=VISION, projection_dim=16).eval()
    whole.save_pretrained(tmp_path)
    ids, mask, pixels = (ember.tensor(a) for a in _inputs())
    text = CLIPTextModelWithProjection.from_pretrained(tmp_path)
    np.testing.assert_array_equal(text(ids, mask)[0].numpy(),
                                  whole.get_text_features(ids, mask).numpy())
    vision = CLIPVisionModelWithProjection.from_pretrained(tmp_path)
    np.testing.assert_array_equal(vision(pixels)[0].numpy(),
                                  whole.get_image_features(pixels).numpy())
    np.testing.assert_array_equal(CLIPVisionModel.from_pretrained(tmp_path)(pixels)[1].numpy(),
                                  whole.vision_model(pixels)[1].numpy())


def test_clip_fine_tuning_gradients_match_transformers(tmp_path):
    """The contrastive loss's gradients (cross-entropy both ways over the image-text
    logits, as transformers' return_loss), every parameter within 1e-4 of PyTorch's, in
    float64."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(2)
    theirs = transformers.CLIPModel(transformers.CLIPConfig(
        text_config=TEXT, vision_config=VISION, projection_dim=16)).double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    ids, mask, pixels = _inputs()
    out = theirs(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                 pixel_values=torch.tensor(pixels, dtype=torch.float64), return_loss=True)
    out.loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    per_image, per_text, _, _ = ours(ember.tensor(ids), ember.tensor(pixels, dtype=ember.float64),
                                     attention_mask=ember.tensor(mask))
    labels = ember.arange(2)
    ((cross_entropy(per_text, labels) + cross_entropy(per_image, labels)) / 2).backward()
    want = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_clip_zero_shot_reads_processed_images_and_refuses_bad_input():
    model = CLIPModel(text_config=TEXT, vision_config=VISION, projection_dim=16).eval()
    processor = ImageProcessor(size={"shortest_edge": 16}, do_center_crop=True, resample=3,
                               crop_size={"height": 16, "width": 16})
    images = [np.full((20, 30, 3), 200, np.uint8), np.zeros((18, 16, 3), np.uint8)]
    ids, mask, _ = (ember.tensor(a) for a in _inputs())
    per_image = model(ids, processor(images), attention_mask=mask)[0]
    assert per_image.shape == (2, 2)
    with pytest.raises(ember.ShapeError, match="13 tokens is longer than the 12 positions"):
        model.text_model(ember.zeros((1, 13), dtype=ember.int64))
    with pytest.raises(ember.ShapeError, match="attention_mask must have the ids' shape"):
        model.text_model(ids, attention_mask=ember.ones((2, 7)))
    with pytest.raises(ember.ShapeError, match="the model's 16 x 16"):
        model.vision_model(ember.zeros((1, 3, 20, 16)))
    with pytest.raises(ember.ShapeError, match="num_attention_heads 5 does not divide"):
        CLIPTextModel(**{**TEXT, "num_attention_heads": 5})
    with pytest.raises(ValueError, match="hidden_act 'mish' is not one of"):
        CLIPVisionModel(**{**VISION, "hidden_act": "mish"})
