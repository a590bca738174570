"""The Vision Transformer (ViT), DeiT and their image classifiers against Hugging Face
transformers (the oracle, where installed): outputs, resized position tables, fine-tuning
gradients, checkpoints both ways, and bad input."""

import json
import warnings

import numpy as np
import pytest

import ember
from ember.plugins.models import (ImageProcessor, ViTConfig, ViTForImageClassification, ViTModel,
                                  from_pretrained)

from .transformers_oracle import assert_gradients_close, rel

SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 48, "image_size": 16, "patch_size": 4, "num_channels": 3}
#: (name, transformers class, config changes): the classifier, the bare encoder with its
#: pooler, a non-square image in non-square patches without query/key/value biases, and
#: DeiT's encoder (a distillation token) and its distilled classifier
CASES = [("classifier", "ViTForImageClassification", {"num_labels": 5}),
         ("encoder", "ViTModel", {"pooler_output_size": 24, "hidden_act": "gelu_new"}),
         ("oblong", "ViTModel", {"image_size": [16, 12], "patch_size": [4, 3],
                                 "qkv_bias": False}),
         ("deit", "DeiTModel", {}),
         ("deit-teacher", "DeiTForImageClassificationWithTeacher", {"num_labels": 4})]
#: the Hub checkpoints' names of a block's parts -> transformers 5's in-memory names
HUB_TO_V5 = [("encoder.layer.", "layers."), ("attention.attention.query", "attention.q_proj"),
             ("attention.attention.key", "attention.k_proj"),
             ("attention.attention.value", "attention.v_proj"),
             ("attention.output.dense", "attention.o_proj"),
             ("intermediate.dense", "mlp.fc1"), ("output.dense", "mlp.fc2")]


def _renamed(key, pairs):
    for old, new in pairs:
        key = key.replace(old, new)
    return key



def _pixels(height=16, width=16, seed=0):
    return np.random.default_rng(seed).standard_normal((2, 3, height, width)).astype(np.float32)


def _theirs(torch, model, pixels, **kwargs):
    """transformers' outputs (logits, or last hidden state and pooler output)."""
    with torch.no_grad():
        out = model(torch.tensor(pixels), **kwargs)
    if getattr(out, "logits", None) is not None:
        return [out.logits.numpy()]
    return [t.numpy() for t in (out.last_hidden_state, out.pooler_output) if t is not None]


def _ours(model, pixels, **kwargs):
    out = model(ember.tensor(pixels, backend=model.embeddings_weight().backend), **kwargs)
    if isinstance(model, ViTModel) and model.pooler is not None:
        return [out.numpy(), model.pooler(out).numpy()]
    return [out.numpy()]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_vit(request, tmp_path_factory):
    """A random transformers ViT, its weights spread out, saved by save_pretrained; its
    outputs at the configured size and, with interpolate_pos_encoding, at 20 x 24."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, cls, extra = request.param
    torch.manual_seed(0)
    kind = transformers.DeiTConfig if cls.startswith("DeiT") else transformers.ViTConfig
    config = kind(**{**SMALL, **extra})
    model = getattr(transformers, cls)(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0) if p.ndim >= 2 and p.shape[0] > 1 else p.add_(0.2 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_vit_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    height, width = (16, 12) if name == "oblong" else (16, 16)
    want = _theirs(torch, model, _pixels(height, width))
    resized = None if name == "oblong" else _theirs(   # (transformers resizes only squares)
        torch, model, _pixels(20, 24, seed=1), interpolate_pos_encoding=True)
    return name, cls, directory, (height, width), want, resized


def test_vit_matches_transformers(backend, hf_vit):
    """from_pretrained builds the class the config names; outputs within 1e-4 of
    transformers' (relative to the largest), at the model's image size and at another
    with the position table resized bicubically."""
    name, cls, directory, size, want, resized = hf_vit
    model = from_pretrained(directory, backend=backend)
    assert model.architecture == cls and type(model).__name__ == cls and not model.training
    for got, expected in ((_ours(model, _pixels(*size)), want),
                          (_ours(model, _pixels(20, 24, seed=1), interpolate_pos_encoding=True),
                           resized)):
        if expected is None:
            continue
        assert len(got) == len(expected)
        for g, w in zip(got, expected):
            assert g.shape == w.shape and np.abs(w).max() > 0.05
            assert rel(g, w) < 1e-4


def test_vit_saves_what_transformers_loads(hf_vit, tmp_path):
    """ember writes the Hub's key names (those of transformers' own save_pretrained), and
    transformers loads them to the same outputs."""
    import torch
    import transformers
    name, cls, directory, size, want, _ = hf_vit
    from_pretrained(directory).save_pretrained(tmp_path)
    written = ember.load(tmp_path / "model.safetensors")
    assert sorted(written) == sorted(ember.load(directory / "model.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [cls]
    again = getattr(transformers, cls).from_pretrained(tmp_path).eval()
    for g, w in zip(_theirs(torch, again, _pixels(*size)), want):
        np.testing.assert_array_equal(g, w)


def test_vit_fine_tuning_gradients_match_transformers(tmp_path):
    """The classifier's cross-entropy gradients in train mode (dropout off): every
    parameter within 1e-4 of PyTorch's, in float64."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    theirs = transformers.ViTForImageClassification(
        transformers.ViTConfig(**SMALL, num_labels=3)).double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    pixels, labels = _pixels().astype(np.float64), np.array([2, 0])
    torch.nn.functional.cross_entropy(theirs(torch.tensor(pixels)).logits,
                                      torch.tensor(labels)).backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    cross_entropy(ours(ember.tensor(pixels)), ember.tensor(labels)).backward()
    hub = [(new, old) for old, new in reversed(HUB_TO_V5)]
    want = {_renamed(k, hub): p.grad.numpy() for k, p in theirs.named_parameters()}
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_vit_classifier_from_an_encoder_and_transformers_5_names(tmp_path):
    """A classifier built on a pretrained encoder keeps its fresh head with a warning;
    a checkpoint in transformers 5's in-memory names (layers.0.attention.q_proj) loads as
    the Hub's; id2label names the outputs."""
    encoder = ViTModel(**SMALL).eval()
    encoder.save_pretrained(tmp_path / "bare")
    with pytest.warns(UserWarning, match="holds no classifier.weight, classifier.bias;"):
        classifier = ViTForImageClassification.from_pretrained(
            tmp_path / "bare", id2label={0: "cat", 1: "dog", 2: "bird"})
    assert classifier.config.id2label[2] == "bird" and classifier.config.num_labels == 3
    pixels = ember.tensor(_pixels())
    np.testing.assert_array_equal(classifier.vit(pixels).numpy(), encoder(pixels).numpy())
    state = ember.load(tmp_path / "bare" / "model.safetensors")
    new = {_renamed(k, HUB_TO_V5): v for k, v in state.items()}
    assert "layers.1.mlp.fc2.weight" in new
    ember.save(new, tmp_path / "bare" / "model.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = from_pretrained(tmp_path / "bare")
    assert type(again) is ViTModel
    np.testing.assert_array_equal(again(pixels).numpy(), encoder(pixels).numpy())


def test_vit_refuses_bad_input_naming_the_fix():
    model = ViTForImageClassification(**SMALL).eval()
    with pytest.raises(ember.ShapeError, match="the model's 16 x 16; resize it, or pass "
                                               "interpolate_pos_encoding=True"):
        model(ember.tensor(_pixels(20, 16)))
    with pytest.raises(ember.ShapeError, match="x\\[None\\], channels first"):
        model(ember.tensor(_pixels()[0]))
    with pytest.raises(ember.ShapeError, match="channels first"):
        model(ember.tensor(_pixels().transpose(0, 2, 3, 1)))
    with pytest.raises(ember.ShapeError, match="floats"):
        model(ember.zeros((2, 3, 16, 16), dtype=ember.int32))
    with pytest.raises(ember.ShapeError, match="smaller than one patch"):
        model(ember.tensor(_pixels(3, 16)), interpolate_pos_encoding=True)
    with pytest.raises(ember.ShapeError, match="patch width 20 must be in 1 .. the image width"):
        ViTConfig(**{**SMALL, "patch_size": [4, 20]})
    with pytest.raises(ValueError, match="pooler_act 'mish' is not one of"):
        ViTConfig(pooler_act="mish")
    assert model(_pixels()).shape == (2, 2)     # a NumPy array is taken as pixel values


#: image processors and their settings: ViT's (squares, bilinear), DeiT's and ConvNeXt's
#: (the shorter side resized, bicubic, the centre cropped; ImageNet's statistics), a crop
#: larger than the resized image (padded with zeros), and DINOv2's (BitImageProcessor)
PROCESSORS = [("ViTImageProcessorPil", {"size": {"height": 16, "width": 16}}),
              ("ViTImageProcessorPil", {
                  "size": {"shortest_edge": 20}, "do_center_crop": True, "resample": 3,
                  "crop_size": {"height": 16, "width": 18}, "image_mean": [0.485, 0.456, 0.406],
                  "image_std": [0.229, 0.224, 0.225]}),
              ("ViTImageProcessorPil", {"size": {"shortest_edge": 10}, "do_center_crop": True,
                                        "crop_size": {"height": 16, "width": 18}}),
              ("BitImageProcessorPil", {"size": {"shortest_edge": 20},
                                        "crop_size": {"height": 14, "width": 14}})]


@pytest.mark.parametrize("kind, settings", PROCESSORS, ids=["vit", "deit", "padded", "dinov2"])
def test_image_processor_gives_transformers_pixels(kind, settings, tmp_path):
    """The pixel values of transformers' Pillow processor, to the bit, for an image, a
    grey one (converted to RGB) and a path; its preprocessor_config.json both ways."""
    transformers = pytest.importorskip("transformers")
    from PIL import Image
    rng = np.random.default_rng(0)
    grey = Image.fromarray(rng.integers(0, 256, (41, 29), dtype=np.uint8))
    images = [Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)),
              grey.convert("RGB")]
    theirs = getattr(transformers, kind)(**settings)
    want = theirs(images, return_tensors="np")["pixel_values"]
    theirs.save_pretrained(tmp_path / "theirs")
    ours = ImageProcessor.from_pretrained(tmp_path / "theirs")
    np.testing.assert_array_equal(ours(images).numpy(), want)
    grey.save(tmp_path / "grey.png")
    np.testing.assert_array_equal(ours(tmp_path / "grey.png").numpy(), want[1:])
    np.testing.assert_array_equal(ours(np.asarray(images[0])).numpy(), want[:1])
    ours.save_pretrained(tmp_path / "ours")
    again = getattr(transformers, kind).from_pretrained(tmp_path / "ours")
    np.testing.assert_array_equal(again(images, return_tensors="np")["pixel_values"], want)


def test_image_processor_refuses_what_it_cannot_read(tmp_path):
    processor = ImageProcessor(size={"shortest_edge": 8})
    with pytest.raises(ember.ShapeError, match="uint8 pixels.*astype\\(np.uint8\\)"):
        processor(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ember.ShapeError, match="different sizes.*do_center_crop"):
        processor([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 16, 3), np.uint8)])
    with pytest.raises(ember.DataError, match="cannot read"):
        processor(tmp_path / "missing.png")
    with pytest.raises(TypeError, match="Pillow images, paths or uint8 arrays"):
        processor(ember.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="size must be"):
        ImageProcessor(size={"longest_edge": 8})
    (tmp_path / "preprocessor_config.json").write_text('{"image_std": [0.5, 0, 0.5]}')
    with pytest.raises(ember.SerializationError, match="image_std must be positive"):
        ImageProcessor.from_pretrained(tmp_path)
    assert processor(np.zeros((8, 12), np.uint8)).shape == (1, 3, 8, 12)
