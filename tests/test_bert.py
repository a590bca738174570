"""BERT, RoBERTa, XLM-RoBERTa, DistilBERT and ModernBERT encoders and their heads against Hugging Face
transformers (the oracle, where installed): outputs with padding masks and segments,
fine-tuning gradients, checkpoints both ways, and bad input."""

import json
import warnings

import numpy as np
import pytest

import ember
from ember.plugins.models import (BertConfig, BertForMaskedLM, BertForSequenceClassification,
                                  BertModel, RobertaModel, from_pretrained)

from .transformers_oracle import assert_gradients_close, rel

SMALL = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 48, "max_position_embeddings": 40, "type_vocab_size": 2}
#: DistilBERT's names for the same small network
SMALL_DISTIL = {"vocab_size": 64, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 48,
                "max_position_embeddings": 40}
#: ModernBERT's: three layers, the first global, a band of two tokens either side
SMALL_MODERN = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 3,
                "num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 40,
                "local_attention": 4, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
                "cls_token_id": 1, "sep_token_id": 2}
#: transformers' config class per model_type
CONFIGS = {"bert": "BertConfig", "roberta": "RobertaConfig", "xlm-roberta": "XLMRobertaConfig",
           "distilbert": "DistilBertConfig", "modernbert": "ModernBertConfig"}
HEADS = {"Model": {}, "ForMaskedLM": {}, "ForSequenceClassification": {"num_labels": 3},
         "ForTokenClassification": {"num_labels": 5}, "ForQuestionAnswering": {}}
NAMES = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta",
         "distilbert": "DistilBert", "modernbert": "ModernBert"}
#: no dropout anywhere, in each config's names
NO_DROPOUT = {"bert": {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
              "distilbert": {"dropout": 0.0, "attention_dropout": 0.0, "seq_classif_dropout": 0.0},
              "modernbert": {}}
CASES = [(kind, head) for kind in ("bert", "roberta", "distilbert", "modernbert")
         for head in HEADS] + [
    ("xlm-roberta", "Model"), ("xlm-roberta", "ForSequenceClassification"),
    ("distilbert", "sinusoidal"), ("modernbert", "mean")]
#: the cases that are a config variant of a head: (head, the config's extra fields)
VARIANTS = {"sinusoidal": ("Model", {"sinusoidal_pos_embds": True}),
            "mean": ("ForSequenceClassification", {"classifier_pooling": "mean",
                                                   "num_labels": 3})}


def _small(kind):
    return {"distilbert": SMALL_DISTIL, "modernbert": SMALL_MODERN}.get(kind, SMALL)


def _call(model, kind, ids, mask, types):
    """The model's outputs on a batch; DistilBERT and ModernBERT have no segments."""
    return model(ids, attention_mask=mask,
                 **({} if kind in ("distilbert", "modernbert") else {"token_type_ids": types}))



def _inputs(pad):
    """Two rows, the second padded at its end; two segments."""
    ids = np.array([[2, 14, 15, 9, 3, 6, 31, 7, 3], [2, 5, 8, 9, 60, 3, pad, pad, pad]])
    mask = (np.arange(9) < np.array([[9], [6]])).astype(np.int64)
    types = (np.arange(9) >= 5).astype(np.int64)[None].repeat(2, 0)
    return ids, mask, types


def _outputs(out):
    """A transformers output, or ember's, as a list of arrays."""
    if isinstance(out, tuple):
        return [o.numpy() for o in out]
    if isinstance(out, ember.Tensor):
        return [out.numpy()]
    for name in ("logits", "last_hidden_state"):
        if getattr(out, name, None) is not None:
            return [getattr(out, name).detach().numpy()]
    return [out.start_logits.detach().numpy(), out.end_logits.detach().numpy()]


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def hf_encoder(request, tmp_path_factory):
    """A random transformers encoder with a head, its weights spread out, saved by
    save_pretrained; its outputs on a padded two-segment batch."""
    torch = pytest.importorskip("torch", reason="transformers needs PyTorch (pip install torch)")
    transformers = pytest.importorskip("transformers", reason="transformers is the oracle "
                                                              "here (pip install transformers)")
    kind, head = request.param
    torch.manual_seed(0)
    head, extra = VARIANTS.get(head, (head, HEADS.get(head)))
    config = getattr(transformers, CONFIGS[kind])(**_small(kind), **extra)
    model = getattr(transformers, NAMES[kind] + head)(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(4.0) if p.ndim == 2 and "embeddings" not in name else p.add_(
                0.2 * torch.randn_like(p))
    directory = tmp_path_factory.mktemp(f"hf_{kind}_{head}")
    model.save_pretrained(directory, safe_serialization=True)
    ids, mask, types = _inputs(config.pad_token_id)
    with torch.no_grad():
        want = _outputs(_call(model, kind, *(torch.tensor(a) for a in (ids, mask, types))))
    return kind, head, directory, want


def test_encoders_match_transformers(backend, hf_encoder):
    """from_pretrained builds the head the config names; outputs within 1e-4 of
    transformers' (relative to the largest), padded rows and segments included."""
    kind, head, directory, want = hf_encoder
    model = from_pretrained(directory, backend=backend)
    assert model.architecture == NAMES[kind] + head and not model.training
    ids, mask, types = (ember.tensor(a, dtype=backend.default_int)
                        for a in _inputs(model.config.pad_token_id))
    got = _outputs(_call(model, kind, ids, mask, types))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.abs(w).max() > 0.05
        assert rel(g, w) < 1e-4


def test_encoders_save_what_transformers_loads(hf_encoder, tmp_path):
    import torch
    import transformers
    kind, head, directory, want = hf_encoder
    from_pretrained(directory).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == kind
    again = getattr(transformers, NAMES[kind] + head).from_pretrained(tmp_path).eval()
    ids, mask, types = (torch.tensor(a) for a in _inputs(again.config.pad_token_id))
    with torch.no_grad():
        got = _outputs(_call(again, kind, ids, mask, types))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("kind", ["bert", "roberta", "distilbert", "modernbert"])
def test_fine_tuning_gradients_match_transformers(kind, tmp_path):
    """A sequence classifier's cross-entropy gradients in train mode (dropout off), padding
    included: every parameter within 1e-4 of PyTorch's; the padding row of the word (and
    RoBERTa's position) table gets none."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    config = getattr(transformers, CONFIGS[kind])(
        **_small(kind), num_labels=3, **NO_DROPOUT.get(kind, NO_DROPOUT["bert"]))
    theirs = getattr(transformers, NAMES[kind] + "ForSequenceClassification")(config).double()
    theirs.train()
    theirs.save_pretrained(tmp_path, safe_serialization=True)
    ids, mask, types = _inputs(config.pad_token_id)
    labels = np.array([2, 0])
    loss = torch.nn.functional.cross_entropy(
        _call(theirs, kind, *(torch.tensor(a) for a in (ids, mask, types))).logits,
        torch.tensor(labels))
    loss.backward()
    ours = from_pretrained(tmp_path, dtype=ember.float64).train()
    from ember.plugins.losses import cross_entropy
    cross_entropy(_call(ours, kind, *(ember.tensor(a) for a in (ids, mask, types))),
                  ember.tensor(labels)).backward()
    want = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    assert_gradients_close({name: p.grad.numpy() for name, p in ours.named_parameters()}, want)
    tables = ours.encoder_module().embeddings
    assert not np.any(ours.embeddings_weight().grad.numpy()[config.pad_token_id])
    if kind == "roberta":
        assert not np.any(tables.position_embeddings.weight.grad.numpy()[config.pad_token_id])


def test_a_classifier_loads_from_a_bare_encoder_and_an_encoder_from_a_head(tmp_path):
    """A head the checkpoint lacks keeps fresh weights with a warning naming them (as
    transformers initializes it); the bare encoder loads out of a masked-LM checkpoint."""
    config = BertConfig(**SMALL)
    lm = BertForMaskedLM(config)
    lm.save_pretrained(tmp_path / "lm")
    with pytest.warns(UserWarning, match="classifier.weight.*train it"):
        classifier = BertForSequenceClassification.from_pretrained(tmp_path / "lm",
                                                                   num_labels=4)
    assert classifier.config.num_labels == 4
    assert classifier.config.id2label == {i: f"LABEL_{i}" for i in range(4)}
    classifier.save_pretrained(tmp_path / "four")
    with pytest.raises(ember.SerializationError, match="classifier.weight has shape"):
        BertForSequenceClassification.from_pretrained(tmp_path / "four", num_labels=2)
    with pytest.warns(UserWarning, match="holds no classifier.weight, classifier.bias;"):
        two = BertForSequenceClassification.from_pretrained(tmp_path / "four", num_labels=2,
                                                            ignore_mismatched_sizes=True)
    np.testing.assert_array_equal(two.bert.pooler.dense.weight.numpy(),
                                  classifier.bert.pooler.dense.weight.numpy())
    ids = ember.tensor(_inputs(0)[0])
    with pytest.warns(UserWarning, match="holds no pooler.dense.weight, pooler.dense.bias;"):
        BertModel.from_pretrained(tmp_path / "lm")      # the masked-LM model has no pooler
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # nothing of the encoder is missing
        encoder = BertModel.from_pretrained(tmp_path / "lm", add_pooling_layer=False)
        np.testing.assert_array_equal(encoder(ids).numpy(), lm.eval().bert(ids).numpy())
    encoder.save_pretrained(tmp_path / "bare")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = from_pretrained(tmp_path / "bare", add_pooling_layer=False)
    assert type(again) is BertModel
    np.testing.assert_array_equal(again(ids).numpy(), encoder(ids).numpy())


def test_old_checkpoints_gamma_beta_and_extra_heads_load(tmp_path):
    """Checkpoints converted from TensorFlow name LayerNorm's weight gamma and its bias
    beta, keep position-id buffers and the next-sentence head: all read as transformers
    reads them."""
    model = BertForMaskedLM(BertConfig(**SMALL)).eval()
    model.save_pretrained(tmp_path)
    state = ember.load(tmp_path / "model.safetensors")
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                    "LayerNorm.beta"): v
           for k, v in state.items()}
    old["bert.embeddings.position_ids"] = ember.arange(40)[None]
    old["cls.seq_relationship.weight"] = ember.zeros((2, 32))
    ember.save(old, tmp_path / "model.safetensors")
    ids = ember.tensor(_inputs(0)[0])
    np.testing.assert_array_equal(from_pretrained(tmp_path)(ids).numpy(), model(ids).numpy())


def test_encoders_refuse_bad_input_naming_the_fix(tmp_path):
    model = BertModel(**SMALL).eval()
    ids = ember.tensor(_inputs(0)[0])
    with pytest.raises(ember.ShapeError, match="longer than the 40 positions"):
        model(ember.zeros((1, 41), dtype=ember.int64))
    with pytest.raises(ember.ShapeError, match="ids\\[None\\]"):
        model(ids[0])
    with pytest.raises(ember.ShapeError, match="attention_mask must have the ids' shape"):
        model(ids, attention_mask=ember.ones((2, 8)))
    with pytest.raises(ember.ShapeError, match="integers"):
        model(ids.to(ember.float32))
    roberta = RobertaModel(**SMALL)
    assert roberta.config.pad_token_id == 1 and roberta.config.max_length == 38
    with pytest.raises(ember.ShapeError, match="longer than the 38 positions"):
        roberta(ember.zeros((1, 39), dtype=ember.int64))
    roberta.save_pretrained(tmp_path / "roberta")
    with pytest.raises(ember.SerializationError, match="not a Bert model"):
        BertModel.from_pretrained(tmp_path / "roberta")
    for field, value, message in (("is_decoder", True, "attend both ways"),
                                  ("position_embedding_type", "relative_key", "absolute"),
                                  ("tie_word_embeddings", False, "tied")):
        values = json.loads((tmp_path / "roberta" / "config.json").read_text())
        (tmp_path / "roberta" / "config.json").write_text(json.dumps({**values, field: value}))
        with pytest.raises(ember.SerializationError, match=message):
            from_pretrained(tmp_path / "roberta")
        (tmp_path / "roberta" / "config.json").write_text(json.dumps(values))


def test_distilbert_fixed_positions_bare_encoder_and_refusals(tmp_path):
    """sinusoidal_pos_embds gives transformers' fixed table (and no gradient to it); the
    bare encoder loads out of the masked-LM checkpoint; bad configs and input are refused
    naming both numbers."""
    from ember.plugins.models import DistilBertForMaskedLM, DistilBertModel
    model = DistilBertModel(**SMALL_DISTIL, sinusoidal_pos_embds=True)
    table = model.embeddings.position_embeddings.weight
    assert not table.requires_grad
    position, feature = np.arange(40)[:, None], np.arange(32)[None]
    angle = position / 10000.0 ** (2 * (feature // 2) / 32)
    want = np.where(feature % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)
    assert np.abs(table.numpy() - want).max() <= 2 * np.spacing(np.float32(1))
    lm = DistilBertForMaskedLM(**SMALL_DISTIL).eval()
    lm.save_pretrained(tmp_path / "lm")
    assert "vocab_projector.weight" not in ember.load(tmp_path / "lm" / "model.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder = DistilBertModel.from_pretrained(tmp_path / "lm")
    ids = ember.tensor(_inputs(0)[0])
    np.testing.assert_array_equal(encoder(ids).numpy(), lm.distilbert(ids).numpy())
    assert type(from_pretrained(tmp_path / "lm")) is DistilBertForMaskedLM
    with pytest.raises(ember.ShapeError, match="n_heads 5 does not divide dim 32"):
        DistilBertModel(**{**SMALL_DISTIL, "n_heads": 5})
    with pytest.raises(ember.ShapeError, match="41 tokens is longer than the 40 positions"):
        encoder(ember.zeros((1, 41), dtype=ember.int64))
    with pytest.raises(TypeError):
        encoder(ids, token_type_ids=ids)        # DistilBERT has no segments
    BertModel(**SMALL).save_pretrained(tmp_path / "bert")
    with pytest.raises(ember.SerializationError, match="'bert' is not one of distilbert"):
        DistilBertModel.from_pretrained(tmp_path / "bert")
