"""DINOv2, with and without registers, against Hugging Face transformers (the oracle, where
installed): outputs at the configured image size and at another (positions resized,
antialiased with registers), masked patches, fine-tuning gradients, checkpoints both ways,
and bad input."""

import json

import numpy as np
import pytest

import ember
from ember.plugins.models import (Dinov2Config, Dinov2ForImageClassification, Dinov2Model,
                                  Dinov2WithRegistersModel, from_pretrained)
from ember.plugins.models.dinov2 import drop_path

from .transformers_oracle import assert_gradients_close, rel

SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "mlp_ratio": 2,
         "image_size": 16, "patch_size": 4, "layerscale_value": 0.5}
#: (name, transformers class, config changes): the classifier, the bare encoder with a
#: SwiGLU network, and the registers' classifier
CASES = [("classifier", "Dinov2ForImageClassification", {"num_labels": 5}),
         ("swiglu", "Dinov2Model", {"use_swiglu_ffn": True, "hidden_act": "gelu_new"}),
         ("registers", "Dinov2WithRegistersForImageClassification",
          {"num_labels": 3, "num_register_tokens": 2})]
#: transformers 5's in-memory names of an attention's projections -> the Hub's
V5_TO_HUB = [("attention.q_proj", "attention.attention.query"),
             ("attention.k_proj", "attention.attention.key"),
             ("attention.v_proj", "attention.attention.value"),
             ("attention.o_proj", "attention.output.dense"), ("mlp.down_proj", "mlp.weights_out")]


def _hub(named):
    """transformers' in-memory tensors (name -> array) under the Hub's names: a SwiGLU's
    gate_proj and up_proj one weights_in."""
    out = {}
    for key, value in named.items():
        for old, new in V5_TO_HUB:
            key = key.replace(old, new)
        out[key] = value
    for key in [k for k in out if ".mlp.gate_proj." in k]:
        up = key.replace(".mlp.gate_proj.", ".mlp.up_proj.")
        out[key.replace(".mlp.gate_proj.", ".mlp.weights_in.")] = np.concatenate(
            [out.pop(key), out.pop(up)])
    return out


def _config(transformers, cls, extra):
    kind = transformers.Dinov2WithRegistersConfig if "Registers" in cls else \
        transformers.Dinov2Config
    return kind(**{**SMALL, **extra})


def _pixels(height=16, width=16, seed=0):
    return np.random.default_rng(seed).standard_normal((2, 3, height, width)).astype(np.float32)


#: patches masked in the first image of the mask test (a 4 x 4 grid: 16 patches)
MASKED = np.zeros((2, 16), bool)
MASKED[0, [1, 5, 6, 15]] = True


def _theirs(torch, model, pixels, **kwargs):
    with torch.no_grad():
        out = model(torch.tensor(pixels), **{k: torch.tensor(v) for k, v in kwargs.items()})
    return (out.logits if getattr(out, "logits", None) is not None else
            out.last_hidden_state).numpy()


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def hf_dinov2(request, tmp_path_factory):
    """A random transformers DINOv2, its weights spread out, saved by save_pretrained; its
    outputs at 16 x 16 and at 20 x 12 (the positions resized), and (the bare encoder)
    with some patches masked."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    name, cls, extra = request.param
    torch.manual_seed(0)
    model = getattr(transformers, cls)(_config(transformers, cls, extra)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_dinov2_{name}")
    model.save_pretrained(directory, safe_serialization=True)
    want = [_theirs(torch, model, _pixels()), _theirs(torch, model, _pixels(20, 12, seed=1))]
    if name == "swiglu":
        want.append(_theirs(torch, model, _pixels(), bool_masked_pos=MASKED))
    return cls, directory, want


def test_dinov2_matches_transformers(backend, hf_dinov2):
    """from_pretrained builds the class the config names; outputs within 1e-4 of
    transformers' (relative to the largest) at the model's image size, at another (its
    positions resized bicubically, antialiased with registers) and with masked patches."""
    cls, directory, want = hf_dinov2
    model = from_pretrained(directory, backend=backend)
    assert model.architecture == cls and type(model).__name__ == cls and not model.training
    got = [model(ember.tensor(_pixels(), backend=backend)),
           model(ember.tensor(_pixels(20, 12, seed=1), backend=backend))]
    if len(want) == 3:
        got.append(model(_pixels(), bool_masked_pos=MASKED))
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and np.abs(w).max() > 0.05
        assert rel(g.numpy(), w) < 1e-4


def test_dinov2_saves_what_transformers_loads(hf_dinov2, tmp_path):
    """ember writes the keys of transformers' own save_pretrained (SwiGLU's weights_in),
    and transformers loads them to the same outputs."""
    import torch
    import transformers
    cls, directory, want = hf_dinov2
    from_pretrained(directory).save_pretrained(tmp_path)
    assert sorted(ember.load(tmp_path / "model.safetensors")) == \
        sorted(ember.load(directory / "model.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [cls]
    again = getattr(transformers, cls).from_pretrained(tmp_path).eval()
    np.testing.assert_array_equal(_theirs(torch, again, _pixels()), want[0])


@pytest.mark.parametrize("cls, extra", [
    ("Dinov2ForImageClassification", {"use_swiglu_ffn": True}),
    ("Dinov2WithRegistersForImageClassification", {"num_register_tokens": 3})])
def test_dinov2_fine_tuning_gradients_match_transformers(tmp_path, cls, extra):
    """The classifier's cross-entropy gradients in train mode (no dropout, no drop path)
    on a 20 x 12 image: every parameter within 1e-4 of PyTorch's, in float64."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    theirs = getattr(transformers, cls)(_config(transformers, cls, {**extra, "num_labels": 3}))
    theirs = theirs.double().train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    pixels, labels = _pixels(20, 12).astype(np.float64), np.array([2, 0])
    torch.nn.functional.cross_entropy(theirs(torch.tensor(pixels)).logits,
                                      torch.tensor(labels)).backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    cross_entropy(ours(ember.tensor(pixels)), ember.tensor(labels)).backward()
    want = _hub({k: p.grad.numpy() for k, p in theirs.named_parameters()
                 if k.split(".")[-1] != "mask_token"})      # (no gradient: not used)
    mine = {k: p.grad.numpy() for k, p in ours.named_parameters() if p.grad is not None}
    assert sorted(mine) == sorted(want)
    assert_gradients_close(mine, want)


def test_dinov2_loads_transformers_5_names(tmp_path):
    """A checkpoint in transformers 5's in-memory names (attention.q_proj; a SwiGLU's
    gate_proj, up_proj and down_proj) loads as the Hub's; a classifier built on a
    pretrained encoder keeps its fresh head with a warning."""
    encoder = Dinov2Model(**SMALL, use_swiglu_ffn=True).eval()
    encoder.save_pretrained(tmp_path)
    state = ember.load(tmp_path / "model.safetensors")
    renamed = {}
    for key, value in state.items():
        for old, new in V5_TO_HUB:
            key = key.replace(new, old)
        if ".mlp.weights_in." in key:
            gate, up = ember.chunk(value, 2, dim=0)
            renamed[key.replace("weights_in", "gate_proj")] = gate
            renamed[key.replace("weights_in", "up_proj")] = up
        else:
            renamed[key] = value
    assert "encoder.layer.1.attention.q_proj.weight" in renamed
    ember.save(renamed, tmp_path / "model.safetensors")
    again = from_pretrained(tmp_path)
    pixels = ember.tensor(_pixels())
    np.testing.assert_array_equal(again(pixels).numpy(), encoder(pixels).numpy())
    with pytest.warns(UserWarning, match="holds no classifier.weight, classifier.bias;"):
        classifier = Dinov2ForImageClassification.from_pretrained(tmp_path, num_labels=4)
    assert classifier(pixels).shape == (2, 4)


def test_drop_path_keeps_or_drops_each_sample_whole():
    """Each sample's branch is zeroed with probability p, the rest scaled by 1 / (1 - p);
    nothing changes in eval mode."""
    ember.manual_seed(0)
    x = ember.ones((4000, 3, 2))
    out = drop_path(x, 0.25, True).numpy().reshape(4000, -1)
    kept = out[:, 0] != 0
    assert (out[kept] == np.float32(1 / 0.75)).all() and (out[~kept] == 0).all()
    assert abs((~kept).mean() - 0.25) < 0.03      # 4.6 standard deviations
    assert drop_path(x, 0.25, False) is x


def test_dinov2_refuses_bad_input_naming_the_fix():
    model = Dinov2WithRegistersModel(**SMALL).eval()
    assert model(_pixels()).shape == (2, 1 + 4 + 16, 32)   # 4 registers by default
    with pytest.raises(ember.ShapeError, match="smaller than one patch"):
        model(_pixels(3, 16))
    with pytest.raises(ember.ShapeError, match="x\\[None\\], channels first"):
        model(ember.tensor(_pixels()[0]))
    with pytest.raises(ember.ShapeError, match="bool_masked_pos must be \\(batch, patches\\) "
                                               "= \\(2, 16\\) booleans"):
        model(_pixels(), bool_masked_pos=np.zeros((2, 15), bool))
    with pytest.raises(ValueError, match="num_register_tokens is a field of model_type "
                                         "dinov2_with_registers, not dinov2"):
        Dinov2Config(num_register_tokens=4)
    with pytest.raises(ValueError, match="drop_path_rate must be in \\[0, 1\\)"):
        Dinov2Config(drop_path_rate=1.0)
    with pytest.raises(ValueError, match="use_mask_token=False"):
        Dinov2Model(**SMALL, use_mask_token=False)(_pixels(), bool_masked_pos=MASKED)
    with pytest.raises(ember.ShapeError, match="does not divide hidden_size"):
        Dinov2Config(num_attention_heads=5)
