"""Attention and transformer layers against PyTorch CPU (the oracle): the same weights,
loaded through PyTorch's state-dict keys, give the same outputs and gradients."""

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


def _load(module, torch_module):
    module.load_state_dict({k: ember.tensor(v.detach().numpy())
                            for k, v in torch_module.state_dict().items()})


def _pair(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3, "enable_gqa": True},
                                {"scale": 8.0}])     # scores may pass +-60: each row's max subtracted
def test_sdpa_matches_torch_forward_and_backward(kw):
    heads = 2 if kw.get("enable_gqa") else 4
    (q, tq), (k, tk), (v, tv) = _pair((2, 4, 6, 8), 0), _pair((2, heads, 6, 8), 1), \
        _pair((2, heads, 6, 5), 2)
    out = ember.scaled_dot_product_attention(q, k, v, **kw)
    want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kw)
    assert _rel(out.numpy(), want.detach().numpy()) < 1e-5
    w = np.linspace(-1, 1, want.numel(), dtype=np.float32).reshape(want.shape)
    (out * ember.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    for a, b in ((q, tq), (k, tk), (v, tv)):
        assert _rel(a.grad.numpy(), b.grad.numpy()) < 1e-5


def test_sdpa_fully_masked_rows_give_zeros_and_finite_gradients():
    (q, tq), (k, tk), (v, tv) = _pair((3, 4), 0), _pair((5, 4), 1), _pair((5, 2), 2)
    m = np.ones((3, 5), bool)
    m[1] = False
    out = ember.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(m))
    want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(m))
    np.testing.assert_array_equal(out.numpy()[1], 0)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=0)
    out.sum().backward()
    assert np.isfinite(q.grad.numpy()).all() and np.isfinite(k.grad.numpy()).all()


def test_sdpa_refuses_bad_shapes_naming_both_numbers():
    q = ember.zeros(2, 4, 5, 8)
    with pytest.raises(ember.ShapeError, match="query has 8 features per position but key has 6"):
        ember.scaled_dot_product_attention(q, ember.zeros(2, 4, 5, 6), ember.zeros(2, 4, 5, 6))
    with pytest.raises(ember.ShapeError, match=r"attn_mask of shape \(3, 5\) does not broadcast"):
        ember.scaled_dot_product_attention(q, q, q, attn_mask=ember.ones(3, 5, dtype=ember.bool_))
    with pytest.raises(ember.ShapeError, match="4 query heads cannot be shared among 3 key"):
        ember.scaled_dot_product_attention(q, ember.zeros(2, 3, 5, 8), ember.zeros(2, 3, 5, 8),
                                           enable_gqa=True)
    with pytest.raises(ember.ShapeError, match="embed_dim 10 is not divisible by num_heads 3"):
        nn.MultiheadAttention(10, 3)


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_matches_torch(batch_first):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    _load(mha, ref)
    assert list(mha.state_dict()) == list(ref.state_dict())
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    (x, tx), (m, tm) = _pair(shape, 0), _pair(shape[:-2] + (4, 8) if batch_first else (4, 3, 8), 1)
    pad = np.zeros((3, 4), bool)
    pad[1, 2:] = True
    causal = np.triu(np.ones((5, 4), bool), 1)
    out, weights = mha(x, m, m, key_padding_mask=ember.tensor(pad), attn_mask=ember.tensor(causal))
    want, want_w = ref(tx, tm, tm, key_padding_mask=torch.tensor(pad), attn_mask=torch.tensor(causal))
    assert _rel(out.numpy(), want.detach().numpy()) < 1e-5
    assert _rel(weights.numpy(), want_w.detach().numpy()) < 1e-5
    fast, _ = mha(x, m, m, key_padding_mask=ember.tensor(pad), need_weights=False)
    want_fast, _ = ref(tx, tm, tm, key_padding_mask=torch.tensor(pad), need_weights=False)
    assert _rel(fast.numpy(), want_fast.detach().numpy()) < 1e-5
    fast.sum().backward()
    want_fast.sum().backward()
    assert _rel(mha.in_proj_weight.grad.numpy(), ref.in_proj_weight.grad.numpy()) < 1e-4
    assert _rel(x.grad.numpy(), tx.grad.numpy()) < 1e-4


def test_multihead_attention_with_other_key_and_value_sizes():
    torch.manual_seed(1)
    ref = torch.nn.MultiheadAttention(8, 4, kdim=3, vdim=5, bias=False)
    mha = nn.MultiheadAttention(8, 4, kdim=3, vdim=5, bias=False)
    assert list(mha.state_dict()) == list(ref.state_dict())
    _load(mha, ref)
    (q, tq), (k, tk), (v, tv) = _pair((5, 2, 8), 0), _pair((6, 2, 3), 1), _pair((6, 2, 5), 2)
    out, w = mha(q, k, v, average_attn_weights=False)
    want, want_w = ref(tq, tk, tv, average_attn_weights=False)
    assert _rel(out.numpy(), want.detach().numpy()) < 1e-5
    assert w.shape == (2, 4, 5, 6) and _rel(w.numpy(), want_w.detach().numpy()) < 1e-5


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_and_decoder_match_torch(norm_first, activation):
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation=activation,
              batch_first=True, norm_first=norm_first)
    ref_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), 2,
                                          norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    ref_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(**kw), 2)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), 2, norm=nn.LayerNorm(8))
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(**kw), 2)
    for mine, ref in ((enc, ref_enc), (dec, ref_dec)):
        assert list(mine.state_dict()) == list(ref.state_dict())
        _load(mine, ref)
    (src, tsrc), (tgt, ttgt) = _pair((3, 6, 8), 0), _pair((3, 4, 8), 1)
    memory, tmemory = enc(src), ref_enc(tsrc)
    assert _rel(memory.numpy(), tmemory.detach().numpy()) < 1e-5
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4)
    out = dec(tgt, memory, tgt_mask=ember.tensor(causal.numpy()), tgt_is_causal=True)
    want = ref_dec(ttgt, tmemory, tgt_mask=causal, tgt_is_causal=True)
    assert _rel(out.numpy(), want.detach().numpy()) < 1e-5
    w = np.linspace(-1, 1, want.numel(), dtype=np.float32).reshape(want.shape)  # not a plain
    (out * ember.tensor(w)).sum().backward()             # sum: LayerNorm's output sums to 0
    (want * torch.tensor(w)).sum().backward()
    assert _rel(src.grad.numpy(), tsrc.grad.numpy()) < 1e-4


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")   # the oracle's note
@pytest.mark.parametrize("bias", [True, False])
def test_the_full_transformer_matches_torch_with_its_keys_and_masks(bias):
    """nn.Transformer: PyTorch's state-dict keys (LayerNorms without bias where
    bias=False), its weights loaded give its output and gradients with a causal target
    mask and source padding; generate_square_subsequent_mask is PyTorch's."""
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
              dim_feedforward=16, dropout=0.0, batch_first=True, bias=bias)
    ref, mine = torch.nn.Transformer(**kw), nn.Transformer(**kw)
    assert list(mine.state_dict()) == list(ref.state_dict())
    _load(mine, ref)
    (src, tsrc), (tgt, ttgt) = _pair((3, 6, 8), 0), _pair((3, 4, 8), 1)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(4)
    assert np.array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                          causal.numpy())
    padding = np.zeros((3, 6), bool)
    padding[1, 4:] = True
    out = mine(src, tgt, tgt_mask=ember.tensor(causal.numpy()),
               src_key_padding_mask=ember.tensor(padding))
    want = ref(tsrc, ttgt, tgt_mask=causal, src_key_padding_mask=torch.tensor(padding))
    assert _rel(out.numpy(), want.detach().numpy()) < 1e-5
    w = np.linspace(-1, 1, want.numel(), dtype=np.float32).reshape(want.shape)
    (out * ember.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    assert _rel(src.grad.numpy(), tsrc.grad.numpy()) < 1e-4
    assert _rel(tgt.grad.numpy(), ttgt.grad.numpy()) < 1e-4
    with pytest.raises(ember.ShapeError, match="hold batches of 3 and 2"):
        mine(src, tgt[:2])


def test_layers_are_independent_copies():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    a, b = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert a is not b
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with ember.no_grad():
        a.copy_(a * 2)
    assert not np.array_equal(a.numpy(), b.numpy())


def test_rms_norm_and_silu_match_torch():
    (x, tx) = _pair((2, 3, 6), 0)
    norm, ref = nn.RMSNorm(6), torch.nn.RMSNorm(6)
    with torch.no_grad():
        ref.weight.copy_(torch.linspace(0.5, 2, 6))
    _load(norm, ref)
    assert _rel(norm(x).numpy(), ref(tx).detach().numpy()) < 1e-6
    assert _rel(nn.SiLU()(x).numpy(), torch.nn.SiLU()(tx).detach().numpy()) < 1e-6


def test_rotary_matches_the_llama_formula():
    """Hugging Face LLaMA's rotate_half convention, computed here in float64."""
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    cos, sin = F.rotary_embedding(5, 8, dtype=ember.float64)
    got = F.apply_rotary(ember.tensor(x), cos, sin).numpy()
    inv = 1.0 / 10000 ** (np.arange(0, 8, 2) / 8)
    ang = np.outer(np.arange(5), inv)
    ang = np.concatenate([ang, ang], -1)
    rotated = np.concatenate([-x[..., 4:], x[..., :4]], -1)
    np.testing.assert_allclose(got, x * np.cos(ang) + rotated * np.sin(ang), rtol=1e-12)
    # a rotation keeps each pair's length
    np.testing.assert_allclose(np.linalg.norm(got, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)


def test_hardswish_and_hardsigmoid_are_pytorchs():
    """MobileNetV3's activations: values (the signs of zeros included) and gradients (to
    2 ULP) as PyTorch's at and between the kinks, NaN and inf; hardswish(-inf) is the
    limit -0.0 where PyTorch's -inf * 0 gives NaN."""
    x0 = np.array([-np.inf, -7.5, -3.0000002, -3.0, -2.9999998, -1.0, -0.0, 0.0, 0.4, 2.9999998,
                   3.0, 3.0000002, 9.0, np.inf, np.nan], np.float32)
    for ours, theirs in ((F.hardswish, torch.nn.functional.hardswish),
                         (F.hardsigmoid, torch.nn.functional.hardsigmoid)):
        x = ember.tensor(x0, requires_grad=True)
        tx = torch.tensor(x0, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        want = ty.detach().numpy().copy()
        if ours is F.hardswish:
            assert np.isnan(want[0]) and want[1] == 0
            want[0] = -0.0
        np.testing.assert_array_equal(y.numpy(), want)
        assert np.array_equal(np.signbit(y.numpy()), np.signbit(want))
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy()[1:-1], tx.grad.numpy()[1:-1], rtol=2.5e-7, atol=0)
    assert _rel(nn.Hardswish()(_pair((4, 6), 1)[0]).numpy(),
                torch.nn.Hardswish()(_pair((4, 6), 1)[1]).detach().numpy()) < 1e-7


def test_rms_norm_holds_rows_whose_squares_overflow(backend):
    """float32 rows of 1e20 and float16 rows of 300, whose squares overflow (PyTorch's
    rms_norm gives 0 for them): within 2 ULP of float64, and the gradient float64's; a row
    with an infinity is x / inf."""
    rows = np.array([[1e20, 2e20, -1e20, 5e19], [3.0, -4.0, 5.0, 0.5], [1e-30, 2e-30, 0.0, 0.0]])
    for dtype, x in ((ember.float32, rows), (ember.float16, rows[1:2] * 100)):
        if dtype not in backend.dtypes:
            continue
        wide = x.astype(dtype.np).astype(np.float64)
        want = wide / np.sqrt((wide * wide).mean(-1, keepdims=True) + 1e-6)
        t = ember.tensor(x, dtype=dtype, backend=backend, requires_grad=True)
        out = F.rms_norm(t, (4,), eps=1e-6)
        assert _rel(out.numpy(), want) < 2 * float(np.finfo(dtype.np).eps), dtype
        g = np.arange(1.0, 5.0)
        (out * ember.tensor(g, dtype=dtype, backend=backend)).sum().backward()
        t64 = ember.tensor(wide, backend="numpy", requires_grad=True)
        (F.rms_norm(t64, (4,), eps=1e-6) * ember.tensor(g, backend="numpy")).sum().backward()
        for got, ref in zip(t.grad.numpy().astype(np.float64), t64.grad.numpy()):
            assert _rel(got, ref) < 8 * float(np.finfo(dtype.np).eps), (dtype, got, ref)
    # an infinite element: x / inf, as PyTorch's (it was NaN throughout, x / inf first)
    row = F.rms_norm(ember.tensor([[np.inf, 1.0, -2.0]], backend=backend), (3,)).numpy()
    assert np.isnan(row[0, 0]) and row[0, 1:].tolist() == [0.0, -0.0], row
